"""End to end, in process: Twilio webhook -> stored message, TwiML reply, queued job,
worker -> counters, case, SMS and e-mail alerts delivered (moto)."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest

from tests.conftest import (
    auth,
    drain,
    hour_counters,
    post_sms,
    sent_emails,
    sent_sms,
    table_items,
    twilio_params,
)


def reply_text(response):
    root = ElementTree.fromstring(response.body)
    assert root.tag == "Response"
    return root.find("Message").text


def test_a_signed_sms_is_answered_stored_counted_and_alerts_the_driver(client):
    # GIVEN a customer on line 8 texting that the coach is far too hot
    response = post_sms(client, twilio_params(body="L8 it's far too hot on this bus", sid="SM" + "a" * 32))

    # THEN they get an immediate answer in TwiML, in English, naming who acts
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml"
    assert "driver" in reply_text(response)

    # AND the message is stored once, classified, with a masked number only
    [message] = table_items("MSG#")
    assert message["site"] == "line-8"
    assert message["topic"] == "comfort"
    assert message["nature"] == "complaint"
    assert message["language"] == "en"
    assert message["from_masked"] == "+44 77•• •••123"
    assert message["gsi3pk"] == "PENDING"

    # WHEN the worker runs
    stats = drain()
    assert stats["failed"] == 0

    # THEN the counters, the case and the driver's SMS exist, and the full number is gone
    [message] = table_items("MSG#")
    assert "from_number" not in message and "gsi3pk" not in message
    [counter] = hour_counters()
    assert counter["pk"].startswith("MET#line-8#") and counter["n"] == 1 and counter["topic_comfort"] == 1
    [case] = table_items("CASE#")
    assert case["status"] == "open" and case["site"] == "line-8"
    assert [to for to, _ in sent_sms()] == ["+447700900801"]
    assert case["code"].isdigit() and f"Reply OK {case['code']} to acknowledge" in sent_sms()[0][1]
    assert sent_emails() == []  # a normal complaint only goes to the driver


def test_high_urgency_alerts_staff_with_the_call_back_number_and_emails_manager_and_care(client):
    post_sms(client, twilio_params(body="LEEDS queued 20 minutes, nobody at the tills, I'm leaving",
                                   to="+447700900000", sid="SM" + "b" * 32))
    drain()
    [case] = table_items("CASE#")
    assert case["urgency"] == "high" and case["site"] == "store-leeds"
    [(to, text)] = sent_sms()
    assert to == "+447700900901"
    assert "+447700900123" in text  # the one place the full number appears: the call-back
    recipients = sorted(m.destinations["ToAddresses"][0] for m in sent_emails())
    assert recipients == ["care@example.com", "leeds@example.com"]
    statuses = {r["to"]: r["status"] for r in case["recipients"].values()}
    assert set(statuses.values()) == {"sent"}


def test_churn_risk_at_a_store_gets_a_call_back_promise_and_an_offer_code(client):
    response = post_sms(client, twilio_params(body="je vais voir ailleurs, jamais de vendeur dispo",
                                              to="+33639980101", sid="SM" + "c" * 32, From="+33612345678"))
    reply = reply_text(response)
    assert "10 min" in reply
    code = re.search(r"code (V[A-Z2-9]{6})", reply).group(1)
    [message] = table_items("MSG#")
    assert message["offer_code"] == code and message["language"] == "fr"


def test_a_duplicate_delivery_is_stored_once_counted_once_and_alerts_once(client):
    params = twilio_params(body="L8 smoke coming from the engine on the motorway", sid="SM" + "d" * 32)
    first = post_sms(client, params)
    drain()
    second = post_sms(client, params)
    drain()
    assert first.body == second.body
    assert len(table_items("MSG#")) == 1
    [counter] = hour_counters()
    assert counter["n"] == 1 and counter["urgency_high"] == 1
    assert len(table_items("CASE#")) == 1
    assert len(sent_sms()) == 1
    assert len(sent_emails()) == 2


def test_a_retried_worker_job_counts_and_alerts_once(client, svc):
    post_sms(client, twilio_params(body="L12 le car est sale", to="+33639980012", sid="SM" + "e" * 32))
    import boto3

    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="voix-dev-jobs")["QueueUrl"]
    [job] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
    import json

    svc.worker.handle(json.loads(job["Body"]))  # a first run whose SQS delete got lost
    drain()
    [counter] = hour_counters()
    assert counter["n"] == 1
    assert len(sent_sms()) == 1


def test_unknown_site_goes_to_central_care(client):
    response = post_sms(client, twilio_params(body="the toilets were filthy", to="+447700900000", sid="SM" + "f" * 32))
    assert "code" in reply_text(response).lower()
    drain()
    [case] = table_items("CASE#")
    assert case.get("site") is None
    assert [m.destinations["ToAddresses"][0] for m in sent_emails()] == ["care@example.com"]
    assert sent_sms() == []


def test_compliments_are_stored_and_answered_but_alert_nobody(client):
    response = post_sms(client, twilio_params(body="L8 lovely driver, thank you!", sid="SM" + "1" * 32))
    assert "Thank you" in reply_text(response)
    drain()
    assert table_items("CASE#") == []
    assert sent_sms() == [] and sent_emails() == []
    data = client.http.get("/api/metrics?bucket=hour", headers=auth()).json_body
    assert data["totals"]["messages"] == 1
    assert data["totals"]["nature"]["compliment"] == 1


@pytest.fixture
def info_logs():
    from chalicelib.observability import logger

    before = logger.log_level
    logger.setLevel("INFO")
    yield
    logger.setLevel(before)


def test_logs_never_carry_the_customers_full_number(client, capsys, caplog, info_logs):
    post_sms(client, twilio_params(body="L8 the driver is drunk, I'm scared", sid="SM" + "2" * 32))
    post_sms(client, twilio_params(body="", sid="SM" + "3" * 32, frm="+447700900123"))
    drain()
    out = capsys.readouterr()
    from chalicelib.observability import logger

    formatter = logger.registered_formatter
    logged = out.out + out.err + "".join(formatter.format(r) for r in caplog.records)
    assert logged.count('"message":"sms received"') == 2
    assert "7700900123" not in logged


def test_a_charset_in_the_content_type_is_accepted(client):
    from urllib.parse import urlencode

    from tests.conftest import sign

    params = twilio_params(sid="SM" + "4" * 32)
    response = client.http.post("/sms/twilio", body=urlencode(params), headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8", "X-Twilio-Signature": sign(params)})
    assert response.status_code == 200
