"""A failing downstream service loses nothing: retries, dead-letter queue, parking, replay."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib.ingest import replay_pending
from tests.conftest import auth, drain, hour_counters, post_sms, sent_emails, sent_sms, table_items, twilio_params


class Outage:
    """Makes one API of a real (moto) client fail, through botocore's event hooks."""

    def __init__(self, client, operation: str, times: int = 10**9, code: str = "ServiceUnavailable"):
        self.remaining = times
        self.code = code
        self.operation = operation
        client.meta.events.register(f"before-call.*.{operation}", self)

    def __call__(self, **kwargs):
        if self.remaining > 0:
            self.remaining -= 1
            raise ClientError({"Error": {"Code": self.code, "Message": "injected outage"}}, self.operation)


def dlq_bodies():
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="voix-dev-jobs-dlq")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_sns_failing_a_while_then_recovering_delivers_the_alert_once(client, svc):
    outage = Outage(svc.worker._sms._sns, "Publish", times=2)
    response = post_sms(client, twilio_params(body="L8 heating broken, freezing", sid="SM" + "a1" * 16))
    assert response.status_code == 200  # the customer is answered whatever SNS does
    drain()
    assert outage.remaining == 0
    assert len(sent_sms()) == 1
    [case] = table_items("CASE#")
    [recipient] = case["recipients"].values()
    assert recipient["status"] == "sent"
    assert [a["ok"] for a in recipient["attempts"]] == [False, False, True]


def test_sns_down_for_good_parks_the_alert_in_the_dlq_and_the_case_shows_it(client, svc):
    Outage(svc.worker._sms._sns, "Publish")
    response = post_sms(client, twilio_params(body="L8 heating broken, freezing", sid="SM" + "b2" * 16))
    assert response.status_code == 200 and b"<Message>" in response.body
    drain()  # five tries (maxReceiveCount in infra/template.yaml), then SQS moves it to the DLQ
    [parked] = dlq_bodies()
    assert parked["type"] == "alert"
    cases = client.http.get("/api/cases", headers=auth()).json_body["items"]
    [alert] = cases[0]["alerts"]
    assert alert["status"] == "failed" and alert["attempts"] == 5
    assert "injected outage" in alert["last_error"]
    status = client.http.get("/api/status", headers=auth()).json_body
    assert sum(status["queues"]["dead_letter"].values()) == 1  # (just read above, so in flight)
    # the message itself was stored and counted
    assert len(table_items("MSG#")) == 1 and hour_counters()[0]["n"] == 1


def test_ses_failure_does_not_resend_the_sms_that_went_out(client, svc):
    Outage(svc.worker._email._ses, "SendEmail", times=1)
    # (a safety alert not about the driver: one about him would not be sent to him)
    post_sms(client, twilio_params(body="L8 a passenger is drunk and threatening people", sid="SM" + "c3" * 16))
    drain()
    assert len(sent_sms()) == 1
    assert sorted(m.destinations["ToAddresses"][0] for m in sent_emails()) == ["care@example.com",
                                                                              "line8@example.com"]


def test_sqs_down_at_the_webhook_leaves_the_message_pending_and_the_sweeper_replays_it(client, svc):
    outage = Outage(svc.jobs._sqs, "SendMessage")
    response = post_sms(client, twilio_params(body="L8 toilets filthy", sid="SM" + "d4" * 16))
    assert response.status_code == 200
    [message] = table_items("MSG#")
    assert message["gsi3pk"] == "PENDING" and hour_counters() == []
    outage.remaining = 0  # SQS is back
    assert replay_pending(svc.store.messages, svc.jobs, older_than=timedelta(0)) == 1
    drain()
    [message] = table_items("MSG#")
    assert "gsi3pk" not in message and hour_counters()[0]["n"] == 1
    assert len(sent_sms()) == 1


def test_dynamodb_down_parks_the_message_on_the_queue_and_the_worker_stores_it(client, svc):
    outage = Outage(svc.store.messages._db, "PutItem", times=1, code="ProvisionedThroughputExceededException")
    response = post_sms(client, twilio_params(body="L12 le chauffeur etait tres aimable", to="+33639980012",
                                              sid="SM" + "e5" * 16))
    assert response.status_code == 200 and "Merci" in response.body.decode()
    assert outage.remaining == 0 and table_items("MSG#") == []
    drain()
    [message] = table_items("MSG#")
    assert message["nature"] == "compliment" and "gsi3pk" not in message
    assert hour_counters()[0]["n"] == 1


def test_dynamodb_down_for_a_bare_number_or_a_staff_command_is_an_answer_not_an_error(client, svc):
    Outage(svc.store.messages._db, "GetItem", times=1)
    Outage(svc.store.messages._db, "PutItem", times=1)
    response = post_sms(client, twilio_params(body="9", sid="SM" + "d7" * 16))  # a survey answer? cannot tell
    assert response.status_code == 200
    drain()  # kept as feedback, not lost
    assert [m["text"] for m in table_items("MSG#")] == ["9"]
    Outage(svc.store.messages._db, "GetItem", times=1)
    response = post_sms(client, twilio_params(body="OK 1234", sid="SM" + "d8" * 16, frm="+447700900801"))
    assert response.status_code == 200 and b"send it again" in response.body


def test_dynamodb_and_sqs_both_down_is_a_503_and_nothing_is_half_written(client, svc):
    Outage(svc.store.messages._db, "PutItem")
    Outage(svc.jobs._sqs, "SendMessage")
    response = post_sms(client, twilio_params(body="L8 cold", sid="SM" + "f6" * 16))
    assert response.status_code == 503
    assert "error" in response.json_body
    assert table_items() == []


def test_a_malformed_job_ends_in_the_dlq_without_blocking_the_others(client, svc):
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="voix-dev-jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="{not json")
    post_sms(client, twilio_params(body="L8 far too hot", sid="SM" + "a7" * 16))
    drain()
    assert len(sent_sms()) == 1
    assert len(hour_counters()) == 1
    raw = sqs.receive_message(QueueUrl=sqs.get_queue_url(QueueName="voix-dev-jobs-dlq")["QueueUrl"])
    assert [m["Body"] for m in raw.get("Messages", [])] == ["{not json"]


def queued_messages(sqs, url):
    res = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
    return res.get("Messages", [])


def test_one_failing_record_is_reported_alone_and_the_batch_is_not_replayed(client, svc, monkeypatch):
    from app import worker
    from infra.local_worker import FakeLambdaContext, sqs_event

    monkeypatch.setenv("SQS_PARTIAL_BATCH", "true")
    for i, body in enumerate(["L8 far too hot", "L12 le chauffeur etait tres aimable", "L8 toilets filthy"]):
        post_sms(client, twilio_params(body=body, sid=f"SM{i:032d}", to="+33639980012" if "L12" in body else
                                       "+447700900008"))
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="voix-dev-jobs")["QueueUrl"]
    batch = queued_messages(sqs, url)
    assert len(batch) == 3
    broken = batch[1]["MessageId"]
    batch[1]["Body"] = json.dumps({"type": "process", "id": "twilio-SM-missing"})  # fails: no such message
    result = worker(sqs_event(batch, "arn:aws:sqs:eu-west-2:123456789012:voix-dev-jobs", "eu-west-2"),
                    FakeLambdaContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": broken}]}
    assert sum(c["n"] for c in hour_counters()) == 2  # the two good records are done, once


def test_without_partial_reports_a_failed_record_fails_the_batch_and_the_replay_counts_nothing_twice(
        client, svc, monkeypatch):
    monkeypatch.delenv("SQS_PARTIAL_BATCH", raising=False)
    outage = Outage(svc.store.messages._db, "UpdateItem", times=1, code="ProvisionedThroughputExceededException")
    for i in range(3):
        post_sms(client, twilio_params(body=f"L8 heating broken, freezing ({i})", sid=f"SM{i:032d}",
                                       frm=f"+44770090051{i}"))  # three passengers: three cases
    drain()  # the first batch fails whole (one throttled write), is received again, and succeeds
    assert outage.remaining == 0
    assert sum(c["n"] for c in hour_counters()) == 3
    assert len(table_items("CASE#")) == 3 and len(sent_sms()) == 3  # one alert per case, none twice


class Crash(BaseException):
    """The Lambda runtime dying mid-batch (out of memory, timeout): no per-record answer at all."""


def test_a_worker_crashing_mid_batch_loses_nothing_and_counts_nothing_twice(client, svc, monkeypatch):
    from app import worker
    from infra.local_worker import FakeLambdaContext, sqs_event

    for i in range(4):
        post_sms(client, twilio_params(body=f"L8 the driver is drunk and dangerous ({i})", sid=f"SM{i:032d}",
                                       frm=f"+44770090050{i}"))
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="voix-dev-jobs")["QueueUrl"]
    batch = queued_messages(sqs, url)
    calls = {"n": 0}
    original = svc.worker.handle

    def dies_on_the_third(job, receive_count):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Crash()
        return original(job, receive_count)

    monkeypatch.setattr(svc.worker, "handle", dies_on_the_third)
    with pytest.raises(Crash):
        worker(sqs_event(batch, "arn:aws:sqs:eu-west-2:123456789012:voix-dev-jobs", "eu-west-2"),
               FakeLambdaContext())
    monkeypatch.setattr(svc.worker, "handle", original)
    # nothing was deleted: after the visibility timeout SQS delivers the whole batch again
    sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(batch)])
    drain()
    assert sum(c["n"] for c in hour_counters()) == 4
    cases = table_items("CASE#")
    assert len(cases) == 4
    sms_per_case = sum(1 for r in cases[0]["recipients"].values() if r["channel"] == "sms")
    assert len(sent_sms()) == 4 * sms_per_case  # each alert exactly once
    assert all(r["status"] == "sent" for c in cases for r in c["recipients"].values())


def test_dynamodb_throttled_on_the_worker_write_path_is_retried_and_counted_once(client, svc):
    outage = Outage(svc.store.messages._db, "PutItem", times=3, code="ThrottlingException")
    post_sms(client, twilio_params(body="L8 heating broken, freezing", sid="SM" + "ab" * 16))
    # the webhook's own put was throttled: the message was parked on the queue, the customer answered
    drain()
    assert outage.remaining == 0
    [message] = table_items("MSG#")
    assert sum(c["n"] for c in hour_counters()) == 1 and len(table_items("CASE#")) == 1
    assert len(sent_sms()) == 1


def test_a_late_retry_of_a_pending_message_requeues_it_but_a_concurrent_duplicate_does_not(client, svc, monkeypatch):
    from datetime import UTC, datetime

    from chalicelib import inbound  # the clock that stamps what a channel brings in

    now = {"t": datetime(2026, 11, 23, 9, 0, tzinfo=UTC)}
    monkeypatch.setattr(inbound, "utcnow", lambda: now["t"])
    monkeypatch.setattr(svc.ingest, "_now", lambda: now["t"])
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="voix-dev-jobs")["QueueUrl"]

    def queued():
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    outage = Outage(svc.jobs._sqs, "SendMessage")
    params = twilio_params(body="L8 heating broken, freezing", sid="SM" + "cd" * 16)
    assert post_sms(client, params).status_code == 200  # stored, pending: the enqueue failed
    outage.remaining = 0
    now["t"] += timedelta(seconds=2)
    post_sms(client, params)  # a concurrent duplicate: the first delivery may still be enqueueing
    assert queued() == 0
    now["t"] += timedelta(seconds=20)
    post_sms(client, params)  # Twilio's retry after its timeout: the first delivery died
    assert queued() == 1
    drain()
    assert sum(c["n"] for c in hour_counters()) == 1 and len(sent_sms()) == 1


def test_two_copies_of_an_alert_job_at_once_send_one_sms(client, svc, monkeypatch):
    import threading
    import time

    from chalicelib.worker import AlertBusy

    post_sms(client, twilio_params(body="L8 a passenger is drunk and threatening people", sid="SM" + "a9" * 16))
    drain()
    [case] = table_items("CASE#")
    rid = next(r for r, v in case["recipients"].items() if v["channel"] == "sms")
    svc.store.cases.record_delivery(case["id"], rid, "retrying", {"at": "x", "ok": False})  # as after a failed try
    sends = []

    def slow_send(to, text):
        sends.append(to)
        time.sleep(0.3)  # the SMS API takes its time: the other copy runs meanwhile
        return f"id-{len(sends)}"

    monkeypatch.setattr(svc.worker._sms, "send", slow_send)
    # DynamoDB applies a conditional write atomically; moto's in-process backend checks the condition and
    # writes without a lock, so two threads could both pass it. Serialise moto's writes as DynamoDB would.
    atomic, call = threading.Lock(), svc.store.cases._call

    def atomic_call(operation, *args, **kwargs):
        if operation != "update_item":
            return call(operation, *args, **kwargs)
        with atomic:
            return call(operation, *args, **kwargs)

    monkeypatch.setattr(svc.store.cases, "_call", atomic_call)
    assert svc.worker._store.cases is svc.store.cases
    outcomes = []

    def run():
        try:
            svc.worker.deliver(case["id"], rid, 2)
            outcomes.append("done")
        except AlertBusy:
            outcomes.append("busy")

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sends) == 1 and sorted(outcomes) == ["busy", "done"]
    svc.worker.deliver(case["id"], rid, 3)  # the busy copy's retry finds it sent
    assert len(sends) == 1
    [case] = table_items("CASE#")
    assert case["recipients"][rid]["status"] == "sent"


def test_a_parked_message_stored_meanwhile_by_a_retry_is_counted_once(client, svc, monkeypatch):
    from datetime import UTC, datetime

    from chalicelib import inbound  # the clock that stamps what a channel brings in

    moments = iter([datetime(2026, 11, 23, 10, 59, 59, tzinfo=UTC), datetime(2026, 11, 23, 11, 0, 5, tzinfo=UTC)])
    monkeypatch.setattr(inbound, "utcnow", lambda: next(moments))
    Outage(svc.store.messages._db, "PutItem", times=1)
    params = twilio_params(body="L8 far too cold on this bus", sid="SM" + "c4" * 16)
    assert post_sms(client, params).status_code == 200  # DynamoDB refused: parked, hour 10
    assert post_sms(client, params).status_code == 200  # Twilio's retry, stored: hour 11
    drain()
    assert [m["hour"] for m in table_items("MSG#")] == ["2026-11-23T11"]
    assert sum(int(c.get("n", 0)) for c in hour_counters()) == 1  # not once in each hour
