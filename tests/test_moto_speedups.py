"""The local stack's moto patch changes how fast queries are, never what they return."""

from __future__ import annotations

import contextlib
import random

import boto3
import pytest
from moto import mock_aws

from infra import moto_speedups

QUERIES = [
    dict(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "P#3"}}),
    dict(KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
         ExpressionAttributeValues={":p": {"S": "P#1"}, ":a": {"S": "S#010"}, ":b": {"S": "S#030"}}),
    dict(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "P#missing"}}),
    dict(IndexName="gsi", KeyConditionExpression="gpk = :p", ExpressionAttributeValues={":p": {"S": "G#2"}}),
    dict(IndexName="gsi", KeyConditionExpression="gpk = :p AND begins_with(gsk, :b)",
         ExpressionAttributeValues={":p": {"S": "G#0"}, ":b": {"S": "T#01"}}),
    dict(IndexName="gsi", KeyConditionExpression="gpk = :p", ExpressionAttributeValues={":p": {"S": "G#none"}}),
    dict(IndexName="gsi", KeyConditionExpression="gpk = :p AND gsk BETWEEN :a AND :b",
         ExpressionAttributeValues={":p": {"S": "G#1"}, ":a": {"S": "T#005"}, ":b": {"S": "T#020"}}),
    dict(IndexName="gsi", KeyConditionExpression="gpk = :p AND gsk BETWEEN :a AND :b",  # bounds held by no item
         ExpressionAttributeValues={":p": {"S": "G#3"}, ":a": {"S": "T#0055"}, ":b": {"S": "T#017x"}}),
    dict(IndexName="gsi", KeyConditionExpression="gpk = :p AND gsk BETWEEN :a AND :b",  # "T#010" > "T#01"
         ExpressionAttributeValues={":p": {"S": "G#0"}, ":a": {"S": "T#00"}, ":b": {"S": "T#01"}}),
]


def _run_all(client) -> list:
    """Every query, both directions, paged by 7 and with a filter: the full sequence of pages."""
    pages = []
    for query in QUERIES:
        for forward in (True, False):
            for extra in ({}, {"FilterExpression": "v > :v", "ExpressionAttributeValues": {
                    **query["ExpressionAttributeValues"], ":v": {"N": "50"}}}):
                kwargs = {**query, **extra, "TableName": "t", "ScanIndexForward": forward, "Limit": 7}
                while True:
                    page = client.query(**kwargs)
                    pages.append((page["Items"], page.get("LastEvaluatedKey"), page["Count"]))
                    if "LastEvaluatedKey" not in page:
                        break
                    kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    pages.append(client.scan(TableName="t", Limit=50)["Items"])
    return pages


@pytest.fixture()
def table():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-2")
        client.create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gpk", "gsk")],
            GlobalSecondaryIndexes=[{"IndexName": "gsi", "Projection": {"ProjectionType": "ALL"}, "KeySchema": [
                {"AttributeName": "gpk", "KeyType": "HASH"}, {"AttributeName": "gsk", "KeyType": "RANGE"}]}],
        )
        rng = random.Random(7)
        for _ in range(400):
            item = {"pk": {"S": f"P#{rng.randrange(6)}"}, "sk": {"S": f"S#{rng.randrange(100):03d}"},
                    "v": {"N": str(rng.randrange(100))}}
            if rng.random() < 0.8:  # some items are not in the index
                item["gpk"] = {"S": f"G#{rng.randrange(4)}"}
                item["gsk"] = {"S": f"T#{rng.randrange(30):03d}"}  # ties: the table keys break them
            client.put_item(TableName="t", Item=item)
        yield client


def _restored_after(monkeypatch) -> None:
    """Whatever the patch changes is put back as it was after the test."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    for name in ("query", "all_items", "put_item", "delete_item"):
        monkeypatch.setattr(Table, name, Table.__dict__[name])
    monkeypatch.setattr(Table, "_voix_unsorted_query", Table.__dict__.get("_voix_unsorted_query", False),
                        raising=False)
    monkeypatch.setattr(DynamoDBBackend, "update_item", DynamoDBBackend.__dict__["update_item"])


def test_patched_queries_return_the_same_pages_in_the_same_order(table, monkeypatch):
    from moto.dynamodb.models.table import Table

    _restored_after(monkeypatch)
    if getattr(Table, "_voix_unsorted_query", False):
        pytest.skip("moto was patched before this test could record the unpatched results")
    before = _run_all(table)
    assert moto_speedups._patch_dynamodb() is True
    assert Table._voix_unsorted_query is True
    after = _run_all(table)
    assert sum(len(p[0]) for p in before[:-1]) > 200  # the queries found something to compare
    assert after == before


def test_patched_sqs_messages_answer_visible_and_delayed_as_moto_does(monkeypatch):
    from moto.sqs.models import Message

    if getattr(Message, "_voix_fast_clock", False):
        pytest.skip("moto was patched before this test could record the unpatched answers")
    for name in ("visible", "delayed"):  # restored after the test
        monkeypatch.setattr(Message, name, Message.__dict__[name])
    monkeypatch.setattr(Message, "_voix_fast_clock", False, raising=False)
    original = {name: Message.__dict__[name].fget for name in ("visible", "delayed")}
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-2")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        for i in range(6):
            sqs.send_message(QueueUrl=url, MessageBody=str(i), DelaySeconds=0 if i % 2 else 30)
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=60)
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=0)
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sqs.models import sqs_backends

        messages = sqs_backends[DEFAULT_ACCOUNT_ID]["eu-west-2"].queues["q"]._messages
        before = [(original["visible"](m), original["delayed"](m)) for m in messages]
        assert moto_speedups._patch_sqs() is True
        after = [(m.visible, m.delayed) for m in messages]
        assert after == before
        assert sorted(set(before)) == [(False, False), (True, False), (True, True)]  # every state compared
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert sorted(m["Body"] for m in received) == ["3", "5"]  # visible, not delayed, not in flight


def test_index_partitions_stay_true_through_puts_updates_deletes_and_transactions(table, monkeypatch):
    """The partition map behind index queries, kept up to date by every write, answers as one rebuilt
    from the items (which the test above proves answers as moto itself)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    _restored_after(monkeypatch)

    assert moto_speedups._patch_dynamodb() is True
    _run_all(table)  # builds the map
    moto_table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["eu-west-2"].tables["t"]
    assert "_voix_parts" in moto_table.__dict__
    rng = random.Random(11)
    for i in range(300):
        key = {"pk": {"S": f"P#{rng.randrange(6)}"}, "sk": {"S": f"S#{rng.randrange(100):03d}"}}
        action = rng.randrange(5)
        if action == 0:
            table.put_item(TableName="t", Item={**key, "v": {"N": "1"}, "gpk": {"S": f"G#{rng.randrange(4)}"},
                                                "gsk": {"S": f"T#{i:03d}"}})
        elif action == 1:
            table.delete_item(TableName="t", Key=key)
        elif action == 2:  # moves an item to another partition of the index, or creates it
            table.update_item(TableName="t", Key=key, UpdateExpression="SET gpk = :g, gsk = :s",
                              ExpressionAttributeValues={":g": {"S": f"G#{rng.randrange(4)}"}, ":s": {"S": "T#999"}})
        elif action == 3:  # takes it out of the index
            table.update_item(TableName="t", Key=key, UpdateExpression="REMOVE gpk")
        else:
            with contextlib.suppress(table.exceptions.TransactionCanceledException):  # half fail: rolled back
                table.transact_write_items(TransactItems=[
                    {"Update": {"TableName": "t", "Key": key, "UpdateExpression": "SET gpk = :g, gsk = :s",
                                "ExpressionAttributeValues": {":g": {"S": "G#1"}, ":s": {"S": "T#500"}}}},
                    {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "P#0"}, "sk": {"S": "S#000"}},
                                        "ConditionExpression": "attribute_exists(pk)" if i % 2 else
                                        "attribute_not_exists(pk) AND attribute_exists(pk)"}}])
    kept = _run_all(table)
    moto_table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["eu-west-2"].tables["t"]
    del moto_table._voix_parts  # rebuilt from the items on the next index query
    assert _run_all(table) == kept
    assert sum(len(p[0]) for p in kept[:-1]) > 200
