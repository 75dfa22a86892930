"""Counting never holds back a case or an alert, counts each message exactly once, and a refused count
leaves nothing half-written: in process on moto (patched as the local stack is: the 400 KB limit on
every update, transactions rolled back), and on the running local stack with a real refusal."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from chalicelib.errors import Unavailable
from chalicelib.ingest import replay_pending
from chalicelib.storage.counters import SHARDS, CounterStore, counted_key, counter_key, network_key
from chalicelib.storage.dynamo import to_item
from infra.moto_speedups import ITEM_LIMIT
from tests.conftest import drain, hour_counters, post_sms, running_stack, sent_sms, table_items, twilio_params

COUNTERS = "voix-dev-counters"
COMPLAINT = "L8 it's far too hot on this bus"


def moto_size(item: dict) -> int:
    """An item's size as moto measures it against its limit (names, strings' bytes, numbers' digits)."""
    size = 0
    for name, value in item.items():
        (kind, v), = value.items()
        size += len(name.encode()) + (len(str(v)) if kind == "N" else len(v.encode()))
    return size


def pad_to_the_limit(db, key: dict, room: int = 8) -> None:
    """Grow a counter item to ``room`` bytes under the item limit, with one string attribute: a count that
    adds a new field to it takes it over, and DynamoDB (and the patched moto) refuses that update."""
    item = db.get_item(TableName=COUNTERS, Key=to_item(key), ConsistentRead=True).get("Item") or to_item(key)
    pad = ITEM_LIMIT - room - moto_size(item) - len("padding")
    db.update_item(TableName=COUNTERS, Key=to_item(key), UpdateExpression="SET padding = :p",
                   ExpressionAttributeValues={":p": {"S": "x" * pad}})


def trim(db, key: dict) -> None:
    db.update_item(TableName=COUNTERS, Key=to_item(key), UpdateExpression="REMOVE padding")


def raw(db, key: dict) -> dict | None:
    return db.get_item(TableName=COUNTERS, Key=to_item(key), ConsistentRead=True).get("Item")


def fields_of(item: dict | None) -> dict:
    return {k: int(v["N"]) for k, v in (item or {}).items() if "N" in v and k != "ttl"}


# -- the worker: cases and alerts first ----------------------------------------------------------------------
def test_a_complaint_opens_its_case_and_alerts_while_counting_fails_and_a_retry_counts_it_once(
        client, svc, monkeypatch):
    original = CounterStore.count_message

    def refused(self, **kwargs):
        raise Unavailable("DynamoDB transact_write_items failed: injected")

    monkeypatch.setattr(CounterStore, "count_message", refused)
    assert post_sms(client, twilio_params(COMPLAINT, sid="SM" + "c1" * 16)).status_code == 200
    drain(max_batches=1)  # the process job's first try: counting fails after the case is open
    [case] = table_items("CASE#")
    assert case["status"] == "open" and case["code"]
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="voix-dev-jobs")["QueueUrl"]
    queued = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
    assert sorted(json.loads(m["Body"])["type"] for m in queued).count("alert") == len(case["recipients"])
    drain()  # the alerts go out; the process job keeps failing until it ends in the dead-letter queue
    [(_, alert)] = sent_sms()
    assert "too hot" in alert
    assert hour_counters() == [] and table_items("CNT#") == []
    [message] = table_items("MSG#")
    assert "processed_at" not in message  # still pending: the sweep hands it back

    monkeypatch.setattr(CounterStore, "count_message", original)
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert replay_pending(svc.store.messages, svc.jobs, older_than=timedelta(minutes=2), now=lambda: later) == 1
    drain()
    [counter] = hour_counters()
    assert counter["n"] == 1 and counter["topic_comfort"] == 1
    assert len(table_items("CNT#")) == 1
    assert len(table_items("CASE#")) == 1 and len(sent_sms()) == 1  # the case found again, nothing resent
    [message] = table_items("MSG#")
    assert message["processed_at"] and message["case_id"] == case["id"]
    assert replay_pending(svc.store.messages, svc.jobs, older_than=timedelta(0), now=lambda: later) == 0


def test_a_count_refused_by_dynamodb_fails_the_job_after_the_alert_and_the_sqs_retry_counts_it_once(client, svc):
    """A real refusal (the site's day item at the size limit), not a stand-in: the alert still goes out."""
    db = boto3.client("dynamodb")
    assert post_sms(client, twilio_params(COMPLAINT, sid="SM" + "c2" * 16)).status_code == 200
    [message] = table_items("MSG#")
    day = counter_key(message["site"], f"D#{message['hour'][:10]}")
    pad_to_the_limit(db, day)
    drain(max_batches=1)  # counting refused: the job fails, its case and alert jobs are queued
    drain(max_batches=1)  # the alert jobs (and the process job's second try, refused again)
    assert len(sent_sms()) == 1
    assert hour_counters() == [] and table_items("CNT#") == []
    trim(db, day)
    drain()  # SQS hands the process job back: counted once
    [counter] = hour_counters()
    assert counter["n"] == 1 and fields_of(raw(db, day))["n"] == 1
    assert len(table_items("CASE#")) == 1 and len(sent_sms()) == 1
    assert table_items("MSG#")[0]["processed_at"]


def test_a_job_run_again_and_again_counts_the_message_once_in_every_item(client, svc):
    assert post_sms(client, twilio_params(COMPLAINT, sid="SM" + "c3" * 16)).status_code == 200
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="voix-dev-jobs")["QueueUrl"]
    [job] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
    for _ in range(3):  # redeliveries of a job whose delete got lost
        svc.worker.handle(json.loads(job["Body"]))
    drain()
    [message] = table_items("MSG#")
    hour, day = f"H#{message['hour']}", f"D#{message['hour'][:10]}"
    site = svc.store.counters.site_counts(message["site"], [hour, day], ["n"])
    network = svc.store.counters.network_counts([hour, day], ["n"])
    assert site == network == {hour: {"n": 1}, day: {"n": 1}}
    assert len(table_items("CASE#")) == 1 and len(sent_sms()) == 1


# -- the adapter: all or nothing -------------------------------------------------------------------------------
def test_a_counter_item_that_refuses_leaves_nothing_half_written_and_the_retry_counts_once(svc):
    db = boto3.client("dynamodb")
    counters = svc.store.counters
    hour, day = "H#2026-11-20T09", "D#2026-11-20"
    assert counters.count_message(site="line-8", bucket=hour, message_id="m-1", fields=["nature_complaint"],
                                  expires_at=0)
    site_day = counter_key("line-8", day)
    pad_to_the_limit(db, site_day)
    watched = [counter_key("line-8", hour)] + [network_key(s, b) for s in range(SHARDS) for b in (hour, day)]
    before = {json.dumps(k): raw(db, k) for k in watched}
    with pytest.raises(Unavailable):  # a new field on the full day item: over the limit, the whole count refused
        counters.count_message(site="line-8", bucket=hour, message_id="m-2", fields=["topic_comfort"], expires_at=0)
    assert raw(db, counted_key("m-2", hour)) is None
    assert {json.dumps(k): raw(db, k) for k in watched} == before
    assert "topic_comfort" not in raw(db, site_day)

    trim(db, site_day)
    assert counters.count_message(site="line-8", bucket=hour, message_id="m-2", fields=["topic_comfort"],
                                  expires_at=0)
    assert not counters.count_message(site="line-8", bucket=hour, message_id="m-2", fields=["topic_comfort"],
                                      expires_at=0)
    for bucket in (hour, day):
        assert counters.site_counts("line-8", [bucket], ["n", "topic_comfort"]) == {
            bucket: {"n": 2, "topic_comfort": 1}}
        assert counters.network_counts([bucket], ["n", "topic_comfort"]) == {bucket: {"n": 2, "topic_comfort": 1}}


# -- the running stack ---------------------------------------------------------------------------------------
def stack_db(state):
    return boto3.client("dynamodb", endpoint_url=state["moto_endpoint"], region_name="eu-west-2",
                        aws_access_key_id="local", aws_secret_access_key="local")


def outbox(state):
    with urllib.request.urlopen(state["dashboard_url"] + "/outbox.json", timeout=30) as res:
        return json.loads(res.read())["items"]


@pytest.mark.stack
@pytest.mark.timeout(400)
def test_on_the_stack_a_full_counter_item_holds_back_the_count_not_the_alert_and_the_retry_counts_once(tmp_path):
    from infra.simulate import send_twilio
    from tests.conftest import wait_until

    with running_stack(tmp_path) as (state, _):
        db = stack_db(state)
        today = datetime.now(UTC).date()
        days = [counter_key("line-8", f"D#{today + timedelta(days=d)}") for d in (-1, 0, 1)]
        for key in days:  # the site's day item, whichever day the message lands in, at the item limit
            pad_to_the_limit(db, key)
        status, _ = send_twilio(state, "+447700900008", COMPLAINT, "+447700900555", sid="SM" + "c4" * 16)
        assert status == 200
        alert = wait_until(lambda: [i for i in outbox(state) if i["channel"] == "sms" and "too hot" in i["text"]])
        assert len(alert) == 1
        # the alert job was queued by the process job's first try, which then failed to count
        counts = [fields_of(raw(db, key)).get("n", 0) for key in days]
        assert counts == [0, 0, 0]  # the alert went out, the count is missing

        for key in days:
            trim(db, key)
        # SQS hands the job back (after 2, 4, 8, 16 s), or the sweep replays the pending message
        wait_until(lambda: sum(fields_of(raw(db, key)).get("n", 0) for key in days) == 1, seconds=200)
        assert sum(fields_of(raw(db, key)).get("n", 0) for key in days) == 1
        assert len([i for i in outbox(state) if i["channel"] == "sms" and "too hot" in i["text"]]) == 1
