"""Abuse (OWASP API4): a flooding number, alert storms, oversized bodies."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.limits import SenderWindow
from tests.conftest import drain, post_sms, sent_emails, sent_sms, table_items, twilio_params

START = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
CENTRAL = "+447700900000"


def storm(i, **extra):
    """One urgent message of an alert storm from one sender, to the central number, about line 8 then line 12 in
    turn: each opens a case (a customer's next message about the same site joins their open case: issue 21)."""
    code = ("L8", "L12")[i % 2]
    return twilio_params(body=f"{code} the driver is drunk and dangerous ({i})", sid=f"SM{i:032d}", to=CENTRAL,
                         **extra)


class Clock:
    def __init__(self, start=START):
        self.now = start

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    from chalicelib import clock as clock_module

    clock = Clock()
    monkeypatch.setattr(clock_module, "source", clock)  # the webhook, the worker and the cases alike
    return clock


def test_one_number_sending_500_messages_in_a_minute_is_stored_and_answered_at_most_six_times(client, clock):
    answered = 0
    for i in range(500):
        clock.now = START + timedelta(seconds=i * 0.1)  # 500 messages in 50 seconds
        response = post_sms(client, twilio_params(body=f"L8 spam {i}", sid=f"SM{i:032d}"))
        assert response.status_code == 200  # Twilio gets an answer, never an error to retry
        answered += b"<Message>" in response.body
    assert answered == 6
    assert len(table_items("MSG#")) == 6
    # another customer is not held back by the flood
    response = post_sms(client, twilio_params(body="L8 far too hot", sid="SM" + "f" * 32, frm="+447700900999"))
    assert b"<Message>" in response.body
    # a minute later the flooding number is heard again
    clock.now = START + timedelta(seconds=111)
    response = post_sms(client, twilio_params(body="L8 still cold", sid="SM" + "e" * 32))
    assert b"<Message>" in response.body
    assert len(table_items("MSG#")) == 8


def test_a_retried_delivery_of_an_accepted_message_gets_the_same_answer_and_is_not_counted_against_the_sender(
        client, clock):
    for i in range(6):
        params = twilio_params(body=f"L8 cold {i}", sid=f"SM{i:032d}")
        first = post_sms(client, params)
        again = post_sms(client, params)  # Twilio retries: same MessageSid
        assert first.body == again.body and b"<Message>" in again.body
    assert len(table_items("MSG#")) == 6


def test_staff_get_at_most_three_alerts_an_hour_about_one_sender(client, clock):
    for i in range(8):  # eight urgent complaints, five minutes apart: no flood, but an alert storm
        clock.now = START + timedelta(minutes=5 * i)
        post_sms(client, storm(i))
    drain()
    cases = table_items("CASE#")
    assert len(cases) == 8  # every message is kept and every case opened: nothing lost
    alerted = [c for c in cases if not c.get("alerts_suppressed")]
    assert len(alerted) == 3
    per_case = len(alerted[0]["recipients"])
    assert per_case >= 1 and len(sent_sms()) == 3 * sum(
        1 for r in alerted[0]["recipients"].values() if r["channel"] == "sms")
    assert all(c["recipients"] == {} for c in cases if c.get("alerts_suppressed"))
    # the next hour, the same sender alerts again; another sender was never held back
    clock.now = START + timedelta(hours=1, minutes=1)
    post_sms(client, storm(8))
    post_sms(client, twilio_params(body="L8 the driver is drunk and dangerous", sid="SM" + "8" * 32,
                                   frm="+447700900555"))
    drain()
    assert len([c for c in table_items("CASE#") if not c.get("alerts_suppressed")]) == 5


def test_suppressed_cases_say_so_on_the_dashboard(client, clock):
    from tests.conftest import auth

    for i in range(4):
        clock.now = START + timedelta(minutes=5 * i)
        post_sms(client, storm(i))
    drain()
    cases = client.http.get("/api/cases", headers=auth()).json_body["items"]
    assert sorted(c["alerts_suppressed"] for c in cases) == [False, False, False, True]


def test_request_bodies_are_size_limited(client):
    from urllib.parse import urlencode

    body = urlencode(twilio_params(body="x" * 17_000))
    response = client.http.post("/sms/twilio", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "x"})
    assert response.status_code == 413 and table_items() == []


def test_the_sender_window_slides_and_forgets_the_oldest_senders():
    window = SenderWindow(limit=2, seconds=60, max_senders=3)
    assert [window.allow("a", t, f"m{t}") for t in (0, 1, 2)] == [True, True, False]
    assert window.allow("a", 60.5, "m60")  # the first one left the window
    assert window.allow("a", 1, "m1")  # a redelivery of an accepted message
    for sender in "bcd":
        window.allow(sender, 61, sender)
    assert window.allow("a", 62, "new") and window.allow("a", 62, "new2")  # "a" was forgotten (bounded memory)
    assert SenderWindow(limit=0).allow("x", 0, "y")


def test_a_stop_in_a_flood_is_heard_and_recorded(client, clock):
    for i in range(10):  # over the six a minute: the last four are dropped
        clock.now = START + timedelta(seconds=i)
        post_sms(client, twilio_params(body=f"L8 spam {i}", sid=f"SM{i:032d}"))
    clock.now = START + timedelta(seconds=11)
    response = post_sms(client, twilio_params(body="STOP", sid="SM" + "5" * 32))
    assert b"unsubscribed" in response.body
    assert [item["status"] for item in table_items("CONSENT#")] == ["opted_out"]


def test_a_held_back_case_pages_nobody_when_replayed_or_escalated(client, clock, svc):
    from chalicelib.cases import CaseService
    from tests.test_failures import dlq_bodies

    for i in range(4):
        clock.now = START + timedelta(minutes=5 * i)
        post_sms(client, storm(i))
    drain()
    [held] = [c for c in table_items("CASE#") if c.get("alerts_suppressed")]
    sms, mails = len(sent_sms()), len(sent_emails())
    [message] = [m for m in table_items("MSG#") if m["id"] == held["message_id"]]
    svc.worker.handle({"type": "process", "message": message})  # a replay (sweeper, redelivery)
    drain()
    assert (len(sent_sms()), len(sent_emails())) == (sms, mails) and dlq_bodies() == []
    late = START + timedelta(days=2)
    assert CaseService(config=svc.config, cases=svc.store.cases, counters=svc.store.counters, jobs=svc.jobs,
                       now=lambda: late).escalate_due() == 4
    drain()
    [held] = [c for c in table_items("CASE#") if c.get("alerts_suppressed")]
    assert held["escalation_level"] == 1 and held["recipients"] == {}  # moved up, nobody paged for it
    escalated = [m for m in sent_emails()[mails:] if "ESCALATED" in m.subject]
    assert escalated and all(held["code"] not in m.subject + m.body for m in escalated)


def test_the_alert_limit_holds_when_the_worker_dies_between_the_case_and_the_decision(client, clock, svc, monkeypatch):
    for i in range(3):
        clock.now = START + timedelta(minutes=5 * i)
        post_sms(client, storm(i))
    drain()
    sms = len(sent_sms())

    def dies(*args, **kwargs):
        raise RuntimeError("Lambda timed out")

    monkeypatch.setattr(svc.worker, "_alerts_allowed", dies)
    clock.now = START + timedelta(minutes=20)
    post_sms(client, storm(3))
    drain(max_batches=1)  # the case is stored, then the worker dies: the job will come back
    fourth = f"twilio-SM{3:032d}"
    assert [c["alert_decision"] for c in table_items("CASE#") if c["message_id"] == fourth] == ["pending"]
    monkeypatch.undo()
    import boto3

    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="voix-dev-jobs")["QueueUrl"]
    sqs.purge_queue(QueueUrl=url)
    [message] = [m for m in table_items("MSG#") if m["id"] == fourth]
    svc.worker.handle({"type": "process", "message": message})  # the retry
    drain()
    [case] = [c for c in table_items("CASE#") if c["message_id"] == fourth]
    assert case["alerts_suppressed"] and case["alert_decision"] == "held" and len(sent_sms()) == sms
