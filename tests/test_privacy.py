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
    stored = [i for i in everything() if BOB in i and not json.loads(i)["pk"].startswith("CASE#")]
    assert stored == []
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

    from chalicelib import storage

    monkeypatch.setattr(storage.time, "sleep", lambda seconds: None)
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
        assert storage.FeedbackStore(db, "t").erase_customer("abc") == {"msg": 2}
        stub.assert_no_pending_responses()
