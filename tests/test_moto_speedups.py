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
        _create(client)
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
    from moto.dynamodb import models as backend_module
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    for name in ("query", "all_items", "put_item", "delete_item"):
        monkeypatch.setattr(Table, name, Table.__dict__[name])
    monkeypatch.setattr(Table, "_voix_unsorted_query", Table.__dict__.get("_voix_unsorted_query", False),
                        raising=False)
    for name in ("update_item", "transact_write_items"):
        monkeypatch.setattr(DynamoDBBackend, name, DynamoDBBackend.__dict__[name])
    monkeypatch.setattr(backend_module, "copy", backend_module.copy)


def _unpatched(monkeypatch) -> None:
    """moto's DynamoDB as it comes (whether or not another test patched it before this one)."""
    import copy

    from moto.dynamodb import models as backend_module
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    assert moto_speedups._patch_dynamodb() is True  # so that ORIGINALS holds moto's own functions
    for name in ("query", "all_items", "put_item", "delete_item"):
        monkeypatch.setattr(Table, name, moto_speedups.ORIGINALS[name])
    for name in ("update_item", "transact_write_items"):
        monkeypatch.setattr(DynamoDBBackend, name, moto_speedups.ORIGINALS[name])
    monkeypatch.setattr(backend_module, "copy", copy)


def test_patched_queries_return_the_same_pages_in_the_same_order(table, monkeypatch):
    from moto.dynamodb.models.table import Table

    _restored_after(monkeypatch)
    with monkeypatch.context() as m:
        _unpatched(m)
        before = _run_all(table)
    assert Table._voix_unsorted_query is True
    after = _run_all(table)
    assert sum(len(p[0]) for p in before[:-1]) > 200  # the queries found something to compare
    assert after == before


def test_patched_sqs_messages_answer_visible_and_delayed_as_moto_does(monkeypatch):
    from moto.sqs.models import Message

    for name in ("visible", "delayed"):  # restored after the test
        monkeypatch.setattr(Message, name, Message.__dict__[name])
    monkeypatch.setattr(Message, "_voix_fast_clock", Message.__dict__.get("_voix_fast_clock", False), raising=False)
    assert moto_speedups._patch_sqs() is True  # (again, if another test did): ORIGINALS holds moto's own
    original = {name: moto_speedups.ORIGINALS[name].fget for name in ("visible", "delayed")}
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


def _unpatched_transactions(monkeypatch) -> None:
    """moto's own transact_write_items (deep copies of the tables), the rest patched as in the stack."""
    import copy

    from moto.dynamodb import models as backend_module
    from moto.dynamodb.models import DynamoDBBackend

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", moto_speedups.ORIGINALS["transact_write_items"])
    monkeypatch.setattr(backend_module, "copy", copy)


def _transactions(client, seed: int) -> list:
    """200 random transactions of 1 to 4 operations (puts, updates that move items between index
    partitions or create them, deletes, condition checks), a third of them cancelled by a condition
    and some refused for naming one item twice; returns every outcome, then the tables as queries see them."""
    rng = random.Random(seed)
    outcomes = []

    def key():
        return {"pk": {"S": f"P#{rng.randrange(6)}"}, "sk": {"S": f"S#{rng.randrange(40):03d}"}}

    for i in range(200):
        ops = []
        for _ in range(rng.randrange(1, 5)):
            k, kind = key(), rng.randrange(4)
            condition = rng.choice([None, "attribute_exists(pk)", "attribute_not_exists(pk)", "v < :n"])
            values = {":n": {"N": "50"}} if condition == "v < :n" else {}
            if kind == 0:
                op = {"Put": {"TableName": "t", "Item": {**k, "v": {"N": str(i)}, "gpk": {"S": f"G#{i % 4}"},
                                                          "gsk": {"S": f"T#{i:03d}"}}}}
            elif kind == 1:
                op = {"Update": {"TableName": "t", "Key": k, "UpdateExpression": "SET gpk = :g, gsk = :s ADD v :one",
                                 "ExpressionAttributeValues": {":g": {"S": f"G#{rng.randrange(4)}"},
                                                               ":s": {"S": f"T#{i:03d}"}, ":one": {"N": "1"}}}}
                values = {**values, **op["Update"]["ExpressionAttributeValues"]}
            elif kind == 2:
                op = {"Delete": {"TableName": "t", "Key": k}}
            else:
                op = {"ConditionCheck": {"TableName": "t", "Key": k,
                                         "ConditionExpression": condition or "attribute_exists(pk)"}}
            body = next(iter(op.values()))
            if condition and kind != 3:
                body["ConditionExpression"] = condition
            if values and ("ConditionExpression" in body and ":n" in body["ConditionExpression"] or kind == 1):
                body["ExpressionAttributeValues"] = values
            elif kind == 3 and ":n" in body["ConditionExpression"]:
                body["ExpressionAttributeValues"] = {":n": {"N": "50"}}
            ops.append(op)
        try:
            client.transact_write_items(TransactItems=ops)
            outcomes.append("ok")
        except client.exceptions.TransactionCanceledException as e:
            outcomes.append([r["Code"] for r in e.response["CancellationReasons"]])
        except client.exceptions.ClientError as e:
            outcomes.append(e.response["Error"]["Code"])
    return outcomes + _run_all(client)


def test_patched_transactions_write_and_roll_back_as_moto_does(monkeypatch):
    """Keeping copies of the items a transaction names, not of its tables, changes its cost only:
    the same transactions give the same outcomes and leave the same tables and index answers."""
    from moto.dynamodb.models import DynamoDBBackend

    assert moto_speedups._patch_dynamodb() is True
    assert moto_speedups.ORIGINALS["transact_write_items"] is not DynamoDBBackend.transact_write_items
    results = []
    for patched in (False, True):
        with monkeypatch.context() as m:
            if not patched:
                _unpatched_transactions(m)
            with mock_aws():
                client = boto3.client("dynamodb", region_name="eu-west-2")
                _create(client)
                for n in range(60):
                    client.put_item(TableName="t", Item={"pk": {"S": f"P#{n % 6}"}, "sk": {"S": f"S#{n:03d}"},
                                                         "v": {"N": str(n)}, "gpk": {"S": f"G#{n % 4}"},
                                                         "gsk": {"S": f"T#{n:03d}"}})
                results.append(_transactions(client, seed=5))
    unpatched, patched = results
    outcomes = unpatched[:200]
    assert outcomes.count("ok") > 30 and sum(isinstance(o, list) for o in outcomes) > 40  # both kinds compared
    assert "ValidationException" in outcomes  # an item named twice is refused, as by moto itself
    assert patched == unpatched


def _create(client) -> None:
    client.create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gpk", "gsk")],
        GlobalSecondaryIndexes=[{"IndexName": "gsi", "Projection": {"ProjectionType": "ALL"}, "KeySchema": [
            {"AttributeName": "gpk", "KeyType": "HASH"}, {"AttributeName": "gsk", "KeyType": "RANGE"}]}],
    )


def test_an_update_past_400_kb_is_refused_whole_as_dynamodb_does(table):
    """moto checks the size of an item on a put and a SET, never on an ADD to a set, and keeps what
    an update wrote before it was refused. Patched: every update past the limit is refused, and
    the item stays as it was (a retry of the update then sees nothing of it)."""
    assert moto_speedups._patch_dynamodb() is True
    key = {"pk": {"S": "BIG"}, "sk": {"S": "1"}}
    table.put_item(TableName="t", Item={**key, "n": {"N": "0"}})
    ids = [f"message-{i:09d}" for i in range(20_000)]  # about 17 bytes each: 340 KB of ids
    for start in range(0, len(ids), 2_000):
        table.update_item(TableName="t", Key=key, UpdateExpression="ADD seen :ids, n :one",
                          ExpressionAttributeValues={":ids": {"SS": ids[start:start + 2_000]}, ":one": {"N": "1"}})
    before = table.get_item(TableName="t", Key=key)["Item"]
    assert len(before["seen"]["SS"]) == 20_000 and before["n"] == {"N": "10"}

    more = [f"message-{i:09d}" for i in range(20_000, 26_000)]  # past 405,000 bytes with an ADD alone
    with pytest.raises(table.exceptions.ClientError) as refused:
        table.update_item(TableName="t", Key=key, UpdateExpression="ADD n :one, seen :ids",
                          ExpressionAttributeValues={":ids": {"SS": more}, ":one": {"N": "1"}})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "Item size to update has exceeded the maximum allowed size" in str(refused.value)
    assert table.get_item(TableName="t", Key=key)["Item"] == before  # n not counted, no id kept

    with pytest.raises(table.exceptions.ClientError):  # SET of a big value, then a small one: neither
        table.update_item(TableName="t", Key=key, UpdateExpression="SET n = :n, blob = :big",
                          ExpressionAttributeValues={":n": {"N": "99"}, ":big": {"S": "x" * 80_000}})
    assert table.get_item(TableName="t", Key=key)["Item"] == before

    new = {"pk": {"S": "BIG"}, "sk": {"S": "2"}}
    with pytest.raises(table.exceptions.ClientError):  # an update that would create a too-big item
        table.update_item(TableName="t", Key=new, UpdateExpression="ADD seen :ids",
                          ExpressionAttributeValues={":ids": {"SS": ids + more}})
    assert "Item" not in table.get_item(TableName="t", Key=new)

    with pytest.raises(table.exceptions.TransactionCanceledException) as cancelled:  # in a transaction: all undone
        table.transact_write_items(TransactItems=[
            {"Put": {"TableName": "t", "Item": {**new, "n": {"N": "1"}}}},
            {"Update": {"TableName": "t", "Key": key, "UpdateExpression": "ADD seen :ids",
                        "ExpressionAttributeValues": {":ids": {"SS": more}}}}])
    assert "Item" not in table.get_item(TableName="t", Key=new)
    assert table.get_item(TableName="t", Key=key)["Item"] == before
    assert [r["Code"] for r in cancelled.value.response["CancellationReasons"]] == ["None", "ValidationError"]


def _counter_updates(client, seed: int) -> list:
    """400 random updates in the counters' shape (ADD of whole numbers, some negative, an expiry set or not),
    alone or in transactions, with odd ones mixed in that must go to moto's own update (a decimal operand, an
    attribute of another type, an unused name, a condition, a key attribute): every outcome, then the items."""
    from infra import moto_counter_adds

    rng = random.Random(seed)
    outcomes, fast = [], 0
    fields = ["n", "topic_comfort", "nature_complaint", "ch_twilio", "s", "ack_n"]
    for i in range(400):
        key = {"pk": {"S": f"P#{rng.randrange(4)}"}, "sk": {"S": f"H#{rng.randrange(6)}"}}
        chosen = rng.sample(fields, rng.randrange(1, 5))
        names = {f"#c{j}": f for j, f in enumerate(chosen)}
        values = {f":v{j}": {"N": str(rng.randrange(-3, 9))} for j in range(len(chosen))}
        expression = "ADD " + ", ".join(f"#c{j} :v{j}" for j in range(len(chosen)))
        if rng.random() < 0.5:
            expression += " SET #ttl = :ttl"
            names["#ttl"], values[":ttl"] = "ttl", {"N": str(1_800_000_000 + i)}
        odd = rng.randrange(12)
        extra = {}
        if odd == 0:
            values[":v0"] = {"N": "1.5"}
        elif odd == 1:
            names["#unused"] = "x"
        elif odd == 2:
            extra["ConditionExpression"] = "attribute_not_exists(zz)"
        elif odd == 3:
            names["#c0"] = "sk"
        elif odd == 4 and i % 3 == 0:
            client.put_item(TableName="t", Item={**key, "s": {"S": "text"}})
        update = dict(TableName="t", Key=key, UpdateExpression=expression, ExpressionAttributeNames=names,
                      ExpressionAttributeValues=values, **extra)
        fast += moto_counter_adds.SIMPLE.fullmatch(expression) is not None and odd > 4
        try:
            if rng.random() < 0.3:
                client.transact_write_items(TransactItems=[{"Update": update}])
            else:
                client.update_item(**update)
            outcomes.append("ok")
        except client.exceptions.ClientError as e:
            outcomes.append(e.response["Error"]["Code"])
    assert fast > 200  # most updates took the fast path when patched
    items = sorted((i for page in client.get_paginator("scan").paginate(TableName="t") for i in page["Items"]),
                   key=lambda i: (i["pk"]["S"], i["sk"]["S"]))
    return outcomes + items


def test_counter_updates_by_the_fast_path_leave_what_moto_leaves(monkeypatch):
    """``infra/moto_counter_adds.py`` changes the cost of a counter update only: the same updates, alone or in a
    transaction, give the same outcomes (errors included) and leave the same items as moto's own parser."""
    from infra import moto_counter_adds

    assert moto_speedups._patch_dynamodb() is True
    results = []
    for patched in (False, True):
        with monkeypatch.context() as m:
            if not patched:
                m.setattr(moto_counter_adds, "counter_add", lambda *a: None)
                m.setattr(moto_speedups, "counter_add", lambda *a: None)
            with mock_aws():
                client = boto3.client("dynamodb", region_name="eu-west-2")
                _create(client)
                results.append(_counter_updates(client, seed=11))
    unpatched, patched = results
    assert unpatched[:400].count("ok") > 250 and "ValidationException" in unpatched[:400]
    assert patched == unpatched


def test_a_copy_of_an_items_attributes_is_the_copy_moto_made():
    import copy

    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

    assert moto_speedups._patch_dynamodb() is True
    attrs = LimitedSizeDict({"n": DynamoType({"N": "3"}), "m": DynamoType({"M": {"a": {"L": [{"S": "x"}]}}}),
                             "s": DynamoType({"SS": ["a", "b"]})})
    copied = copy.deepcopy(attrs)
    assert type(copied) is LimitedSizeDict and copied == attrs and copied is not attrs
    assert all(copied[k] is not attrs[k] for k in attrs)
    copied["m"].value["a"].value.append(DynamoType({"S": "y"}))  # deep: the original is untouched
    assert len(attrs["m"].value["a"].value) == 1 and len(copied["m"].value["a"].value) == 2
