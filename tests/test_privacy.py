"""Privacy: masked numbers everywhere but in the alert, keyed HMAC links, retention TTL, erasure on request."""

from __future__ import annotations

import json
import time
from xml.etree import ElementTree

import pytest

from chalicelib import surveys
from chalicelib.phone import customer_key, mask
from tests.conftest import auth, drain, post_sms, sent_emails, sent_sms, table_items, twilio_params

ALICE, BOB = "+447700900601", "+447700900777"
SECRET = b"test-customer-key-secret"
_sid = iter(range(10**6))


def say(client, number, text, to="+447700900008"):
    response = post_sms(client, twilio_params(text, sid=f"SM{next(_sid):032d}", frm=number, to=to))
    assert response.status_code == 200
    message = ElementTree.fromstring(response.body).find("Message")
    return message.text if message is not None else ""


@pytest.fixture()
def history(client, svc, monkeypatch):
    """Alice and Bob leave every kind of trace: feedback, an alerting case, a survey, an offer, a STOP."""
    monkeypatch.setattr(surveys, "quiet_delay", lambda *args: 0)
    survey = {"site": "line-8", "name": "Today", "numbers": [ALICE, BOB],
              "questions": [{"kind": "nps", "text": {"en": "Recommend us? 0 to 10", "fr": "0 a 10"}}]}
    created = client.http.post("/api/surveys", headers={**auth(), "Content-Type": "application/json"},
                               body=json.dumps(survey))
    assert created.status_code == 202
    drain()
    for who in (ALICE, BOB):
        say(client, who, "3")  # a survey answer
        say(client, who, "L8 the driver is drunk and dangerous")  # an alerting case with a code
        say(client, who, "je vais voir ailleurs, jamais de vendeur dispo", to="+33639980101")  # an offer
    say(client, ALICE, "STOP")
    drain()
    return svc


def everything():
    return [json.dumps(item, default=str) for item in table_items()]


def everything_but_the_way_back():
    """Every item but ``REPLYTO#<case>``, where the number to answer the customer from their case is kept, on
    purpose, until ``contact_days`` after their last message (issue 21; checked below)."""
    return [i for i in everything() if not json.loads(i)["pk"].startswith("REPLYTO#")]


def test_erasure_leaves_nothing_of_the_customer_in_any_table(client, history):
    alice_key = customer_key(ALICE, SECRET)
    before = [i for i in everything() if alice_key in i]
    kinds = {json.loads(i)["pk"].split("#")[0] for i in before}
    assert {"MSG", "CASE", "CONSENT", "SURVEYCUST", "SURVEYSENT", "QUOTA", "OFFER"} <= kinds
    codes = [c["code"] for c in table_items("CASE#") if c["customer_key"] == alice_key]
    response = client.http.delete("/api/customers/%2B447700900601", headers=auth())
    assert response.status_code == 200
    body = response.json_body
    assert body["customer"] == mask(ALICE) and body["items"] == len(before)
    by_kind = {}
    for item in before:
        kind = json.loads(item)["pk"].split("#")[0].lower()
        by_kind[kind] = by_kind.get(kind, 0) + 1
    assert body["erased"] == by_kind and by_kind["msg"] == 2 and by_kind["case"] == 2 and by_kind["consent"] == 1

    remaining = everything()
    for trace in (alice_key, ALICE, mask(ALICE), "447700900601", f'"CODE#{codes[0]}"'):
        assert not [i for i in remaining if trace in i], trace
    # Bob is untouched, and so are the counts (aggregates hold no personal data)
    bob_key = customer_key(BOB, SECRET)
    assert len([i for i in remaining if bob_key in i]) >= 6
    metrics = client.http.get("/api/metrics", headers=auth()).json_body
    assert metrics["totals"]["messages"] == 4
    # erasing again finds nothing, and the API still works
    again = client.http.delete("/api/customers/+447700900601", headers=auth())
    assert again.status_code == 200 and again.json_body["items"] == 0
    assert client.http.get("/api/cases", headers=auth()).status_code == 200


@pytest.mark.parametrize("number", ["07700900601", "not-a-number", "%2B44", "+" + "1" * 40, "..%2F..%2Fetc"])
def test_erasure_needs_a_full_international_number(client, number):
    response = client.http.delete(f"/api/customers/{number}", headers=auth())
    assert response.status_code in (400, 404)
    assert "error" in response.json_body


def test_erasure_needs_the_operator_token(client):
    assert client.http.delete("/api/customers/%2B447700900601").status_code == 401


def test_every_item_carries_a_retention_ttl_of_at_most_13_months(client, history):
    now = time.time()
    items = table_items()
    assert len(items) > 25
    missing = [i["pk"] for i in items if not isinstance(i.get("ttl"), int)]
    assert missing == []
    assert all(now < i["ttl"] <= now + 400 * 86_400 for i in items), sorted(
        (i["ttl"] - now) / 86_400 for i in items)
    [message, *_] = table_items("MSG#")
    assert 395 <= (message["ttl"] - now) / 86_400 <= 397  # default 13 months (396 days)


def test_a_customer_s_messages_are_linked_by_a_keyed_hmac_not_a_bare_hash(client, history):
    import hashlib

    keys = {m["customer_key"] for m in table_items("MSG#")}
    assert keys == {customer_key(ALICE, SECRET), customer_key(BOB, SECRET)}
    assert customer_key(ALICE, b"another deployment") not in keys
    assert hashlib.sha256(ALICE.encode()).hexdigest()[:32] not in keys  # cannot be recomputed from the number


def test_full_numbers_appear_only_in_the_alerts_to_staff(client, history, capsys):
    say(client, BOB, "L8 heating broken, freezing")
    drain()
    # the alert to the person who must call back has the number
    assert any(BOB in text for _, text in sent_sms())
    assert any(BOB in (m.body or "") for m in sent_emails())
    # nothing else does: stored items, every API answer, the CSV, the logs
    stored = [i for i in everything_but_the_way_back() if BOB in i and not json.loads(i)["pk"].startswith("CASE#")]
    assert stored == []
    # the way back to the customer, to answer them from the case: one item, expiring contact_days after their message
    way_back = [json.loads(i) for i in everything() if BOB in i and json.loads(i)["pk"].startswith("REPLYTO#")]
    assert way_back and all(item["ttl"] <= time.time() + 30 * 86_400 + 60 for item in way_back)
    for path in ("/api/feedback", "/api/cases", "/api/cases?status=acknowledged", "/api/metrics",
                 "/api/export.csv", "/api/config", "/api/scorecards", "/api/surveys?site=line-8", "/api/status"):
        response = client.http.get(path, headers=auth())
        assert response.status_code == 200, path
        text = response.body.decode() if isinstance(response.body, bytes) else str(response.body)
        assert BOB not in text and "447700900777" not in text, path
    out = capsys.readouterr()
    assert BOB not in out.out + out.err and "447700900777" not in out.out + out.err


def test_erasure_sends_again_what_dynamodb_left_unprocessed(monkeypatch):
    """DynamoDB may throttle part of a batch (moto never does): botocore's Stubber plays it."""
    import boto3
    from botocore.stub import Stubber

    from chalicelib.storage import customers, dynamo

    monkeypatch.setattr(dynamo.time, "sleep", lambda seconds: None)
    db = boto3.client("dynamodb", region_name="eu-west-2")
    keys = [{"pk": {"S": f"MSG#m{i}"}, "sk": {"S": "MSG"}} for i in range(2)]
    with Stubber(db) as stub:
        stub.add_response("query", {"Items": keys}, {
            "TableName": "t", "IndexName": "gsi4", "KeyConditionExpression": "customer_key = :k",
            "ExpressionAttributeValues": {":k": {"S": "abc"}}})
        deletes = [{"DeleteRequest": {"Key": k}} for k in keys]
        stub.add_response("batch_write_item", {"UnprocessedItems": {"t": deletes[1:]}},
                          {"RequestItems": {"t": deletes}})
        stub.add_response("batch_write_item", {"UnprocessedItems": {}}, {"RequestItems": {"t": deletes[1:]}})
        assert customers.CustomerStore(db, "t").erase_customer("abc") == {"msg": 2}
        stub.assert_no_pending_responses()


# -- erasure sticks: replays, queued jobs and sends, opt-outs (issue 14, findings 2 and 3) -------------------
URGENT = "L8 a passenger is drunk and threatening people"


def erase(client, number):
    response = client.http.delete(f"/api/customers/{number.replace('+', '%2B')}", headers=auth())
    assert response.status_code == 200
    return response.json_body


def traces_of(number):
    key = customer_key(number, SECRET)
    return [i for i in everything() if key in i or number in i or number[1:] in i or mask(number) in i]


def test_a_replayed_message_of_an_erased_customer_is_answered_with_nothing_and_nothing_comes_back(client, svc):
    from chalicelib.erasure import mark

    original = twilio_params(URGENT, sid="SM" + "a" * 32, frm=ALICE)
    stop = twilio_params("STOP", sid="SM" + "b" * 32, frm=ALICE)
    start = twilio_params("START", sid="SM" + "c" * 32, frm=ALICE)
    for params in (stop, start, original):
        assert post_sms(client, params).status_code == 200
    drain()
    sms, emails = len(sent_sms()), len(sent_emails())
    assert sms >= 1 and emails >= 1 and traces_of(ALICE)

    erase(client, ALICE)
    assert traces_of(ALICE) == []

    for params in (original, stop, start):  # the same signed requests, replayed
        response = post_sms(client, params)
        assert response.status_code == 200
        assert ElementTree.fromstring(response.body).find("Message") is None  # no reply, so no promise
    drain()
    assert traces_of(ALICE) == [] and table_items("MSG#") == [] and table_items("CASE#") == []
    assert table_items("CONSENT#") == []
    assert (len(sent_sms()), len(sent_emails())) == (sms, emails)
    assert client.http.get("/api/metrics", headers=auth()).json_body["totals"]["messages"] == 1  # the first only
    # what refused them: keyed tombstones, no number, key or text
    tombstones = [json.loads(i) for i in everything() if json.loads(i)["pk"].startswith("ERASED#")]
    # one per message id (the feedback, the STOP, the START), per case, and one for the customer
    assert len(tombstones) == 5 and all(set(t) <= {"pk", "sk", "ttl", "erased_at"} for t in tombstones)
    assert f"ERASED#{mark(SECRET, 'message', 'twilio-' + original['MessageSid'])}" in {t["pk"] for t in tombstones}
    assert all(395 * 86_400 < t["ttl"] - time.time() <= 396 * 86_400 for t in tombstones)

    # a new message from the same number after the erasure is a new customer's, and is heard
    assert say(client, ALICE, "L8 the heating is broken, freezing")
    drain()
    assert len(table_items("MSG#")) == 1


def test_jobs_still_queued_at_the_erasure_store_case_and_send_nothing(client, svc, monkeypatch):
    import boto3

    from app import worker
    from chalicelib.errors import Unavailable
    from infra.local_worker import drain_jobs

    sqs = boto3.client("sqs")
    queue = sqs.get_queue_url(QueueName="voix-dev-jobs")["QueueUrl"]
    # 1. a message whose job has not run yet; 2. one whose case is open but alerts not sent yet
    say(client, ALICE, URGENT)
    drain_jobs(sqs, queue, worker, max_batches=1)  # the case opens and its alert jobs are queued
    assert table_items("CASE#") and not sent_sms()
    say(client, ALICE, "L8 the toilet is flooded and smells, disgusting")
    # 3. one parked on the queue while DynamoDB refused it at the webhook
    real_put = svc.store.messages.put_message
    monkeypatch.setattr(svc.store.messages, "put_message", lambda record: (_ for _ in ()).throw(Unavailable("down")))
    say(client, ALICE, "L8 a man is smoking at the back, dangerous")
    monkeypatch.setattr(svc.store.messages, "put_message", real_put)
    # 4. a STOP parked the same way (its opt-out must survive)
    monkeypatch.setattr(svc.store.customers, "set_consent", lambda **change: (_ for _ in ()).throw(Unavailable("down")))
    say(client, ALICE, "STOP")
    monkeypatch.undo()

    erase(client, ALICE)
    stats = drain()
    assert stats["failed"] == 0  # no job fails (and none ends in the dead-letter queue)
    assert traces_of(ALICE) == [] and table_items("MSG#") == [] and table_items("CASE#") == []
    assert sent_sms() == [] and sent_emails() == []
    metrics = client.http.get("/api/metrics", headers=auth()).json_body
    assert metrics["totals"]["messages"] == 1  # counted before the erasure: aggregates stay
    assert len(table_items("SUPPRESS#")) == 1


@pytest.fixture()
def quiet(monkeypatch):
    """Quiet hours at the site until ``quiet["on"]`` is False (then the held sends go out within a second)."""
    state = {"on": True}
    monkeypatch.setattr(surveys, "quiet_delay", lambda *args: 1 if state["on"] else 0)
    return state


def test_a_survey_held_for_quiet_hours_never_reaches_a_customer_erased_meanwhile(client, svc, quiet):
    from tests.conftest import wait_until

    body = {"site": "line-8", "name": "Evening", "numbers": [ALICE, BOB],
            "questions": [{"kind": "nps", "text": {"en": "Recommend us? 0 to 10", "fr": "0 a 10"}}]}
    created = client.http.post("/api/surveys", headers={**auth(), "Content-Type": "application/json"},
                               body=json.dumps(body)).json_body
    drain()
    assert svc.reply_sender.outbox == []  # both held on the queue until the quiet hours end
    erase(client, ALICE)
    quiet["on"] = False

    def bob_surveyed():
        drain()
        return svc.reply_sender.outbox

    assert [m["to"] for m in wait_until(bob_surveyed, 10)] == [BOB]
    drain()
    assert [m["to"] for m in svc.reply_sender.outbox] == [BOB]
    survey = svc.store.surveys.get_survey(created["id"])
    assert survey["stats"] == {"sent": 1, "skipped_erased": 1}
    assert traces_of(ALICE) == []
    # a survey the operator creates after the erasure is a new decision, and goes out
    again = client.http.post("/api/surveys", headers={**auth(), "Content-Type": "application/json"},
                             body=json.dumps({**body, "numbers": [ALICE]}))
    assert again.status_code == 202
    drain()
    assert [m["to"] for m in svc.reply_sender.outbox] == [BOB, ALICE]


def test_an_opt_out_outlives_the_erasure_as_a_keyed_suppression_entry(client, svc, monkeypatch):
    monkeypatch.setattr(surveys, "quiet_delay", lambda *args: 0)
    say(client, ALICE, "L8 lovely driver")
    say(client, ALICE, "STOP")
    body = erase(client, ALICE)
    assert body["erased"]["consent"] == 1
    [entry] = table_items("SUPPRESS#")
    assert set(entry) == {"pk", "sk", "since", "ttl"} and traces_of(ALICE) == []  # no number, key or history
    assert time.time() < entry["ttl"] <= time.time() + 400 * 86_400

    survey = {"site": "line-8", "name": "Later", "numbers": [ALICE, BOB],
              "questions": [{"kind": "nps", "text": {"en": "Recommend us? 0 to 10", "fr": "0 a 10"}}]}
    created = client.http.post("/api/surveys", headers={**auth(), "Content-Type": "application/json"},
                               body=json.dumps(survey)).json_body
    drain()
    assert [m["to"] for m in svc.reply_sender.outbox] == [BOB]
    assert client.http.get(f"/api/surveys/{created['id']}", headers=auth()).json_body["skipped"]["opted_out"] == 1
    # erasing again keeps it; START lifts it
    assert erase(client, ALICE)["items"] == 0 and len(table_items("SUPPRESS#")) == 1
    assert "subscribed again" in say(client, ALICE, "START")
    assert table_items("SUPPRESS#") == []
    client.http.post("/api/surveys", headers={**auth(), "Content-Type": "application/json"},
                     body=json.dumps({**survey, "numbers": [ALICE]}))
    drain()
    assert [m["to"] for m in svc.reply_sender.outbox] == [BOB, ALICE]


# -- the full number only where a call-back is promised, and only until it is resolved or lapses (finding 6) ---
def cases_with_full_numbers():
    return {c["id"]: c["urgency"] for c in table_items("CASE#") if c.get("customer_number")}


def test_only_a_case_that_promises_a_call_back_keeps_the_full_number_and_only_until_it_is_resolved(client, svc):
    say(client, ALICE, "L8 it's far too hot on this bus")  # a complaint: a case, no call-back
    say(client, BOB, URGENT)  # urgent: the driver is asked to call back
    drain()
    cases = {c["urgency"]: c for c in table_items("CASE#")}
    assert set(cases) == {"normal", "high"}
    assert cases_with_full_numbers() == {cases["high"]["id"]: "high"}
    assert cases["normal"]["customer_masked"] == mask(ALICE) and not [
        i for i in everything_but_the_way_back() if ALICE in i]
    assert any(BOB in text for _, text in sent_sms())  # the call-back alert has it
    # the case resolved, nobody calls back any more: the number goes, the masked one stays
    resolved = client.http.post(f"/api/cases/{cases['high']['id']}/resolve", headers=auth())
    assert resolved.status_code == 200
    assert cases_with_full_numbers() == {} and not [i for i in everything_but_the_way_back() if BOB in i]
    assert table_items("CASE#" + cases["high"]["id"])[0]["customer_masked"] == mask(BOB)


def test_a_lapsed_call_back_forgets_the_number_after_the_last_escalation(client, svc):
    from datetime import timedelta

    from chalicelib.cases import CaseService
    from chalicelib.clock import utcnow

    say(client, BOB, URGENT)
    drain()
    [case] = table_items("CASE#")
    start = utcnow()

    def escalate(minutes):
        return CaseService(config=svc.config, cases=svc.store.cases, counters=svc.store.counters, jobs=svc.jobs,
                           now=lambda: start + timedelta(minutes=minutes)).escalate_due()

    assert escalate(11) == 1 and escalate(22) == 1  # manager, then central care: both still need the number
    drain()
    escalated = [m.body for m in sent_emails() if "ESCALATED" in m.subject]
    assert len(escalated) == 2 and all(f"Customer: {BOB}" in text for text in escalated)
    assert cases_with_full_numbers() == {case["id"]: "high"}
    escalate(30)  # before the last deadline: kept
    assert cases_with_full_numbers() == {case["id"]: "high"}
    escalate(34)  # past it (3 levels of 10 minutes, a minute each for the scheduler): the promise has lapsed
    assert cases_with_full_numbers() == {}
    assert not [i for i in everything_but_the_way_back() if BOB in i]
    assert table_items("CASE#")[0]["escalation_level"] == 2


def test_an_acknowledged_call_back_never_resolved_forgets_the_number_when_it_lapses(client, svc):
    from datetime import timedelta

    from chalicelib.cases import CaseService
    from chalicelib.clock import utcnow

    say(client, BOB, URGENT)
    drain()
    [case] = table_items("CASE#")
    assert client.http.post(f"/api/cases/{case['id']}/ack", headers=auth()).status_code == 200
    later = CaseService(config=svc.config, cases=svc.store.cases, counters=svc.store.counters, jobs=svc.jobs,
                        now=lambda: utcnow() + timedelta(hours=1))
    assert later.escalate_due() == 0 and cases_with_full_numbers() == {}


def test_a_job_running_at_the_instant_of_the_erasure_leaves_nothing_and_pages_nobody(client, svc, monkeypatch):
    say(client, ALICE, URGENT)
    counting = svc.store.counters.count_message

    def erased_meanwhile(**kwargs):  # the operator erases Alice while the worker is counting her message
        erase(client, ALICE)
        return counting(**kwargs)

    monkeypatch.setattr(svc.store.counters, "count_message", erased_meanwhile)
    first = drain(max_batches=1)
    monkeypatch.undo()
    assert first["failed"] == 0
    assert drain()["failed"] == 0  # its alert jobs find the case erased: nothing to send, nothing failed
    assert traces_of(ALICE) == [] and table_items("CASE#") == [] and table_items("CODE#") == []
    assert sent_sms() == [] and sent_emails() == []


def test_a_redelivered_end_user_messaging_sms_of_an_erased_customer_is_not_answered_nor_kept(client, svc):
    payload = json.dumps({"originationNumber": "+33612345678", "destinationNumber": "+33639980012",
                          "messageKeyword": "L12", "messageBody": "L12 un passager est ivre et menace les gens",
                          "inboundMessageId": "6d4d5a3e-0a25-4b9f-9c47-8cbf1d3a0e01"})
    event = client.events.generate_sns_event(message=payload, subject="")
    client.lambda_.invoke("inbound_sms", event)
    drain()
    alerts = len(sent_sms())
    assert len(svc.reply_sender.outbox) == 1 and alerts >= 1
    erase(client, "+33612345678")
    client.lambda_.invoke("inbound_sms", event)  # SNS delivers it again (or someone publishes it again)
    drain()
    assert len(svc.reply_sender.outbox) == 1 and len(sent_sms()) == alerts
    assert traces_of("+33612345678") == [] and table_items("MSG#") == []


def test_a_replay_parked_while_dynamodb_was_down_is_refused_by_the_worker(client, svc, monkeypatch):
    from chalicelib.errors import Unavailable

    original = twilio_params(URGENT, sid="SM" + "d" * 32, frm=ALICE)
    start = twilio_params("START", sid="SM" + "f" * 32, frm=ALICE)
    for params in (twilio_params("STOP", sid="SM" + "e" * 32, frm=ALICE), start, original):
        post_sms(client, params)
    drain()
    erase(client, ALICE)
    sms = len(sent_sms())

    def down(*args, **kwargs):
        raise Unavailable("DynamoDB unavailable")

    for port, name in (("customers", "tombstone"), ("messages", "put_message"), ("customers", "set_consent")):
        monkeypatch.setattr(getattr(svc.store, port), name, down)  # DynamoDB down at the webhook
    for params in (original, start):
        assert post_sms(client, params).status_code == 200  # parked on the queue
    monkeypatch.undo()
    assert drain()["failed"] == 0
    assert traces_of(ALICE) == [] and table_items("MSG#") == [] and table_items("CONSENT#") == []
    assert len(sent_sms()) == sms


def _spellings(number):
    national = "0" + number[3:] if number.startswith("+44") else number
    return (number, number[1:], national, number[3:])


def test_no_queued_job_carries_a_customer_s_number(client, svc, monkeypatch):
    """Issue 20, item 5: the jobs queue (and its DLQ, 14 days) holds ids, never a number an erasure cannot reach.
    Every job type is made through its real path: process and alert jobs, a survey's sends, a message and a
    STOP parked while DynamoDB refused them. Only a parked urgent message keeps the number (its case promises a
    call-back, and it cannot be re-read); see the README's Privacy section."""
    from chalicelib.jobs import JobQueue
    from tests.test_failures import Outage

    bodies = []
    send, send_many = JobQueue.send, JobQueue.send_many

    def record_one(self, job, delay_seconds=0):
        bodies.append(json.dumps(job))
        return send(self, job, delay_seconds)

    def record_many(self, jobs):
        bodies.extend(json.dumps(job) for job in jobs)
        return send_many(self, jobs)

    monkeypatch.setattr(JobQueue, "send", record_one)
    monkeypatch.setattr(JobQueue, "send_many", record_many)
    monkeypatch.setattr(surveys, "quiet_delay", lambda *args: 0)
    survey = {"site": "line-8", "name": "Today", "numbers": [ALICE, BOB],
              "questions": [{"kind": "nps", "text": {"en": "Recommend us? 0 to 10", "fr": "0 a 10"}}]}
    assert client.http.post("/api/surveys", headers={**auth(), "Content-Type": "application/json"},
                            body=json.dumps(survey)).status_code == 202
    say(client, ALICE, "L8 the heating is broken on this coach")  # a case, alerts
    drain()
    [case] = client.http.get("/api/cases", headers=auth()).json_body["items"]
    assert client.http.post(f"/api/cases/{case['id']}/reply", headers={**auth(), "Content-Type": "application/json"},
                            body='{"text": "Sorry, we are on it", "by": "Sam"}').status_code == 202  # a reply job
    Outage(svc.store.messages._db, "PutItem", times=1, code="ProvisionedThroughputExceededException")
    say(client, ALICE, "L8 the seats were dirty")  # parked: a store job (then it joins her case)
    Outage(svc.store.customers._db, "TransactWriteItems", times=1, code="ProvisionedThroughputExceededException")
    say(client, ALICE, "STOP")  # parked: a consent job
    drain()
    kinds = {json.loads(b)["type"] for b in bodies}
    assert {"survey_send", "process", "alert", "store", "consent", "reply"} <= kinds, kinds
    assert not [b for b in bodies for s in _spellings(ALICE) + _spellings(BOB) if s in b]
    assert len(sent_sms()) >= 1  # the alert went out (read from the case)
    assert [m for m in table_items("MSG#") if m["text"] == "L8 the seats were dirty"]  # the parked one was stored


def test_a_message_erased_while_its_job_waits_is_not_processed_and_the_job_ends(client, svc):
    say(client, BOB, "L8 the driver is drunk and dangerous")  # urgent: a case and alerts, once processed
    assert client.http.delete("/api/customers/%2B447700900777", headers=auth()).status_code == 200
    drain()
    assert table_items("MSG#") == [] and table_items("CASE#") == []
    assert sent_sms() == [] and sent_emails() == []


def test_an_e_mail_customer_s_address_appears_only_in_alerts_and_the_way_back_and_erasure_takes_it(client, capsys):
    """Issue 24: the e-mail channel's customer is their address, keyed, masked and erased as a number is."""
    import boto3

    from infra.simulate import raw_mail, ses_notification

    carol, leeds = "carol.jones@mail.example.net", "leeds@feedback.voix.example"
    boto3.client("sesv2").create_email_identity(EmailIdentity="feedback.voix.example")
    for n, text in enumerate(("The staff were rude and the floor was filthy, I am never coming back", "STOP")):
        subject = "Re: Visit" if text == "STOP" else "Visit"  # the whole mail asks to unsubscribe (a reply's subject)
        note = ses_notification(raw_mail(f"Carol <{carol}>", leeds, subject, text), sender=carol, to=leeds,
                                ses_id=f"carol{n}")
        client.lambda_.invoke("inbound_email", client.events.generate_sns_event(message=note, subject=""))
    drain()
    key = customer_key(carol, SECRET)
    assert {m["customer_key"] for m in table_items("MSG#")} == {key}
    stored = [i for i in everything_but_the_way_back() if carol in i and not json.loads(i)["pk"].startswith("CASE#")]
    assert stored == []
    for path in ("/api/feedback", "/api/cases", "/api/metrics", "/api/export.csv", "/api/scorecards"):
        response = client.http.get(path, headers=auth())
        text = response.body.decode() if isinstance(response.body, bytes) else str(response.body)
        assert response.status_code == 200 and carol not in text, path
    assert [m["from"] for m in client.http.get("/api/feedback", headers=auth()).json_body["items"]] == [
        "c•••@mail.example.net"]
    out = capsys.readouterr()
    assert carol not in out.out + out.err
    erased = client.http.delete("/api/customers/carol.jones%40mail.example.net", headers=auth())
    assert erased.status_code == 200 and erased.json_body["customer"] == "c•••@mail.example.net"
    assert not [i for i in everything() if key in i or carol in i]
    assert table_items("SUPPRESS#")  # her STOP outlives the erasure
