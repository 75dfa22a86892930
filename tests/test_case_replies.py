"""Staff reply from the case (issue 21) on moto through the Chalice test client: ``POST /api/cases/{id}/reply``,
the worker's one send through Twilio's Messages API (the local stand-in, over HTTP), and the signed status
callbacks on ``POST /sms/twilio/status``."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import pytest

from chalicelib import access
from chalicelib.clock import utcnow
from infra.twilio_standin import TwilioStandIn
from tests.conftest import TWILIO_ACCOUNT, TWILIO_TOKEN, WEBHOOK_URL, auth, drain, post_sms, sign, twilio_params

CUSTOMER, LINE_8 = "+447700900642", "+447700900008"
STATUS_URL = WEBHOOK_URL + "/status"


@pytest.fixture()
def standin(monkeypatch):
    api = TwilioStandIn(TWILIO_ACCOUNT, TWILIO_TOKEN, callbacks=False)
    monkeypatch.setenv("TWILIO_API_URL", api.start())
    yield api
    api.stop()


@pytest.fixture()
def case(client, standin):
    assert post_sms(client, twilio_params(body="L8 the driver is drunk and dangerous", sid="SM" + "c5" * 16,
                                          frm=CUSTOMER, to=LINE_8)).status_code == 200
    drain()
    [case] = client.http.get("/api/cases", headers=auth()).json_body["items"]
    return case


def reply(client, case_id, text="Sorry, a manager is on the way", by="Sam Okafor", headers=None):
    return client.http.post(f"/api/cases/{case_id}/reply", headers={**auth(), "Content-Type": "application/json",
                                                                       **(headers or {})},
                            body=json.dumps({"text": text, "by": by}))


def queued_jobs():
    import boto3

    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="voix-dev-jobs")["QueueUrl"]
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    return [json.loads(m["Body"]) for m in found]


def callback(client, sent, status, ref=None, token=TWILIO_TOKEN, **extra):
    ref = ref or dict(p.split("=") for p in urlsplit(sent["StatusCallback"]).query.split("&"))["ref"]
    params = {"AccountSid": TWILIO_ACCOUNT, "ApiVersion": "2010-04-01", "From": LINE_8, "MessageSid": sent["sid"],
              "MessageStatus": status, "SmsSid": sent["sid"], "SmsStatus": status, "To": CUSTOMER, **extra}
    return client.http.post(f"/sms/twilio/status?ref={ref}", body=urlencode(params), headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": sign(params, f"{STATUS_URL}?ref={ref}", token)})


def test_a_reply_is_queued_by_ids_sent_once_by_the_worker_and_shown_in_the_conversation(client, case, standin):
    response = reply(client, case["id"])
    assert response.status_code == 202
    body = response.json_body
    assert {k: body[k] for k in ("status", "segments", "encoding", "scheduled_for")} == {
        "status": "queued", "segments": 1, "encoding": "GSM-7", "scheduled_for": None}  # urgent: any hour
    assert queued_jobs() == [{"type": "reply", "case_id": case["id"], "reply_id": body["id"]}]  # no number
    drain()
    drain()  # nothing more to send
    [sent] = standin.sent
    assert (sent["To"], sent["From"], sent["Body"]) == (CUSTOMER, LINE_8, "Sorry, a manager is on the way")
    assert sent["StatusCallback"] == f"{STATUS_URL}?ref={case['id']}.{body['id']}"
    shown = client.http.get(f"/api/cases/{case['id']}", headers=auth())
    out = shown.json_body["conversation"][-1]
    assert (out["direction"], out["author"], out["status"], out["id"]) == ("out", "Sam Okafor", "queued", body["id"])
    assert CUSTOMER not in shown.body.decode() and CUSTOMER[1:] not in shown.body.decode()


def test_signed_status_callbacks_move_the_status_forward_only(client, case, standin):
    reply_id = reply(client, case["id"]).json_body["id"]
    drain()
    [sent] = standin.sent
    for status in ("sent", "delivered", "sent", "delivered"):  # late and repeated reports change nothing
        assert callback(client, sent, status).status_code == 204
    out = client.http.get(f"/api/cases/{case['id']}", headers=auth()).json_body["conversation"][-1]
    assert (out["id"], out["status"], out["error"]) == (reply_id, "delivered", None)
    assert callback(client, sent, "delivered", token="forged").status_code == 403
    assert callback(client, sent, "delivered", ref="NOTACASE").status_code == 403
    assert callback(client, sent, "receiving").status_code == 204  # a status the conversation does not track
    other = reply(client, case["id"], "Are you safe now?").json_body["id"]
    drain()
    assert callback(client, standin.sent[-1], "undelivered", ErrorCode="30003").status_code == 204
    failed = client.http.get(f"/api/cases/{case['id']}", headers=auth()).json_body["conversation"][-1]
    assert (failed["id"], failed["status"], failed["error"]) == (other, "undelivered",
                                                                  "30003 Unreachable destination handset")


def test_a_reply_after_a_stop_is_refused_and_one_queued_before_it_is_never_sent(client, case, standin):
    queued = reply(client, case["id"]).json_body["id"]
    stop = post_sms(client, twilio_params(body="STOP", sid="SM" + "d6" * 16, frm=CUSTOMER, to=LINE_8))
    assert stop.status_code == 200
    refused = reply(client, case["id"], "Sorry again")
    assert refused.status_code == 409 and refused.json_body == {
        "error": "the customer opted out (STOP): no reply is sent"}
    drain()
    assert standin.sent == []
    out = client.http.get(f"/api/cases/{case['id']}", headers=auth()).json_body["conversation"][-1]
    assert (out["id"], out["status"]) == (queued, "failed") and "opted out" in out["error"]


def test_who_may_reply_and_what_a_bad_request_gets(client, case):
    viewer = access.mint(b"test-link-signing-key", "viewer", timedelta(hours=1), utcnow())[0]
    assert reply(client, case["id"], headers={"Authorization": f"Bearer {viewer}"}).status_code == 403
    assert reply(client, "ZZZZZZZZ").status_code == 404
    assert reply(client, case["id"], text="  ").json_body == {"error": "the reply is empty"}
    too_long = reply(client, case["id"], text="ł" * 300)
    assert too_long.status_code == 400 and "5 SMS (UCS-2)" in too_long.json_body["error"]
    missing = client.http.post(f"/api/cases/{case['id']}/reply", headers={**auth(), "Content-Type": "application/json"},
                               body=json.dumps({"text": "hello"}))
    assert missing.status_code == 400 and "by" in missing.json_body["error"]


def test_a_status_callback_not_of_twilio_s_shape_or_account_is_refused(client, case, standin):
    reply(client, case["id"])
    drain()
    [sent] = standin.sent
    ref = sent["StatusCallback"].split("?ref=")[1]

    def raw(params, content_type="application/x-www-form-urlencoded", query=f"ref={ref}"):
        body = urlencode(params)
        return client.http.post(f"/sms/twilio/status?{query}", body=body, headers={
            "Content-Type": content_type, "X-Twilio-Signature": sign(dict(params), f"{STATUS_URL}?ref={ref}")})

    good = {"AccountSid": TWILIO_ACCOUNT, "MessageSid": sent["sid"], "MessageStatus": "delivered"}
    assert raw(good, content_type="application/json").status_code == 415
    assert raw(good, query=f"ref={ref}&x=1").status_code == 403  # only the ref Voix gave
    assert raw({**good, "AccountSid": "AC" + "2" * 32}).status_code == 403
    assert raw({**good, "MessageSid": "SMnot-a-sid"}).status_code == 403
    assert raw([*good.items(), ("MessageStatus", "sent")]).status_code == 403  # a parameter twice
    assert client.http.post(f"/sms/twilio/status?ref={ref}", body="%zz", headers={
        "Content-Type": "application/x-www-form-urlencoded"}).status_code == 400
    assert client.http.post(f"/sms/twilio/status?ref={ref}", body="a=" + "x" * 17_000, headers={
        "Content-Type": "application/x-www-form-urlencoded"}).status_code == 413
    other_sid = {**good, "MessageSid": "SM" + "e" * 32, "SmsSid": "SM" + "e" * 32}
    assert raw(other_sid).status_code == 204  # signed, but of another message: changes nothing
    out = client.http.get(f"/api/cases/{case['id']}", headers=auth()).json_body["conversation"][-1]
    assert out["status"] == "queued"
