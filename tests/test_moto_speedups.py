"""The local stack's moto patch changes how fast queries are, never what they return."""

from __future__ import annotations

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


def test_patched_queries_return_the_same_pages_in_the_same_order(table, monkeypatch):
    from moto.dynamodb.models.table import Table

    # undo any earlier application so that both runs happen in this test
    for name in ("query", "all_items", "_voix_unsorted_query"):
        if name in Table.__dict__:
            monkeypatch.setattr(Table, name, Table.__dict__[name])
    if getattr(Table, "_voix_unsorted_query", False):
        pytest.skip("moto was patched before this test could record the unpatched results")
    before = _run_all(table)
    assert moto_speedups.apply() is True
    assert Table._voix_unsorted_query is True
    after = _run_all(table)
    assert sum(len(p[0]) for p in before[:-1]) > 200  # the queries found something to compare
    assert after == before
