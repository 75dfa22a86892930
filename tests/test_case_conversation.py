"""A case with its conversation (issue 21, first part): ``GET /api/cases/{id}`` on moto through the Chalice test
client. The opening message, then what the conversation store holds, oldest first; masked, no number anywhere."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib import access
from chalicelib.clock import utcnow
from chalicelib.conversations import ConversationMessage
from tests.conftest import auth, drain, post_sms, twilio_params

CUSTOMER = "+447700900642"


@pytest.fixture()
def urgent_case(client, svc):
    response = post_sms(client, twilio_params(body="L8 the driver is drunk and dangerous", sid="SM" + "c4" * 16,
                                              frm=CUSTOMER))
    assert response.status_code == 200
    drain()
    [case] = client.http.get("/api/cases", headers=auth()).json_body["items"]
    return case


def test_a_case_reads_with_its_opening_message_and_no_number(client, urgent_case):
    response = client.http.get(f"/api/cases/{urgent_case['id']}", headers=auth())
    assert response.status_code == 200
    body = response.json_body
    assert body["id"] == urgent_case["id"] and body["urgency"] == "high" and body["code"] == urgent_case["code"]
    [opening] = body["conversation"]
    assert opening == {"id": urgent_case["message_id"], "direction": "in", "at": urgent_case["received_at"],
                       "text": "L8 the driver is drunk and dangerous", "channel": "twilio", "status": "received",
                       "author": None, "segments": 1, "encoding": "GSM-7", "status_at": None, "error": None,
                       "scheduled_for": None}
    assert CUSTOMER not in response.body.decode() and CUSTOMER[1:] not in response.body.decode()


def test_the_conversation_follows_in_order_with_its_delivery_status(client, svc, urgent_case):
    case_id, key = urgent_case["id"], "k"
    reply = ConversationMessage(case_id=case_id, id="r1", direction="out", at="2099-01-01T10:00:00Z",
                                text="Sorry, a manager is on the way", channel="twilio", status="queued",
                                customer_key=key, author="Sam", segments=1)
    answer = ConversationMessage(case_id=case_id, id="twilio-SM2", direction="in", at="2099-01-01T10:02:00Z",
                                 text="thanks, he stopped the coach", channel="twilio", status="received",
                                 customer_key=key)
    svc.store.conversations.add_message(answer)
    svc.store.conversations.add_message(reply)
    svc.store.conversations.set_status(reply, "delivered", at="2099-01-01T10:00:04Z")
    conversation = client.http.get(f"/api/cases/{case_id}", headers=auth()).json_body["conversation"]
    assert [(m["direction"], m["id"], m["status"]) for m in conversation] == [
        ("in", urgent_case["message_id"], "received"), ("out", "r1", "delivered"), ("in", "twilio-SM2", "received")]
    assert conversation[1]["author"] == "Sam" and conversation[1]["status_at"] == "2099-01-01T10:00:04Z"
    assert "customer_key" not in conversation[1] and "provider_id" not in conversation[1]


def test_a_viewer_may_read_a_case_and_nobody_reads_one_that_is_not_there(client, urgent_case):
    viewer = access.mint(b"test-link-signing-key", "viewer", timedelta(hours=1), utcnow())[0]
    path = f"/api/cases/{urgent_case['id']}"
    assert client.http.get(path, headers={"Authorization": f"Bearer {viewer}"}).status_code == 200
    assert client.http.get(path).status_code == 401
    for missing in ("ZZZZZZZZ", "not-a-case", "a" * 300):
        response = client.http.get(f"/api/cases/{missing}", headers=auth())
        assert response.status_code == 404 and response.json_body == {"error": "no such case"}


def test_an_erased_customer_s_case_and_conversation_are_gone(client, svc, urgent_case):
    svc.store.conversations.add_message(ConversationMessage(
        case_id=urgent_case["id"], id="twilio-SM3", direction="in", at="2099-01-01T10:02:00Z", text="hello?",
        channel="twilio", status="received", customer_key=svc.store.cases.get_case(urgent_case["id"])["customer_key"]))
    assert client.http.delete(f"/api/customers/{CUSTOMER.replace('+', '%2B')}", headers=auth()).status_code == 200
    assert client.http.get(f"/api/cases/{urgent_case['id']}", headers=auth()).status_code == 404
    assert svc.store.conversations.conversation(urgent_case["id"]) == []
