"""The channel registry: each channel is one module, and adding one is that module plus its route.

The two channels of ``tests/`` (a web chat answered by its API, a kiosk answered in the webhook's answer)
go through the same route helper, ingest service and worker as Twilio and End User Messaging, with no
other change to Voix.
"""

from __future__ import annotations

import collections
import importlib
import json
import sys

import pytest

from chalicelib import channels
from tests.conftest import auth, drain, sent_sms, table_items

CUSTOMER, LINE_8 = "+447700900123", "+447700900008"  # L8's number: its driver is alerted by SMS


def _add_channel(monkeypatch, module_name, path):
    """Import a channel module into a registry of this test only, and give it its route (as app.py would)."""
    import app as voix

    channels.names()  # Voix's own channels are in the copy
    monkeypatch.setattr(channels, "_registry", dict(channels._registry))
    monkeypatch.delitem(sys.modules, module_name, raising=False)
    module = importlib.import_module(module_name)
    name = module.CHANNEL.name
    monkeypatch.setattr(voix.app, "routes", collections.defaultdict(dict, {
        route: dict(methods) for route, methods in voix.app.routes.items()}))

    def webhook():
        return voix._webhook(name)

    webhook.__name__ = f"{name}_webhook"
    voix.app.route(path, methods=["POST"], content_types=["application/json"])(voix.json_errors(webhook))
    return module


@pytest.fixture
def webchat(monkeypatch, aws):
    monkeypatch.setenv("REPLY_SENDER", "eum")  # the chat's own sender, not the local log
    module = _add_channel(monkeypatch, "tests.webchat_channel", "/sms/webchat")
    module.OUTBOX.sent.clear()
    return module


@pytest.fixture
def kiosk(monkeypatch, aws):
    return _add_channel(monkeypatch, "tests.kiosk_channel", "/sms/kiosk")


def chat(client, text="L8 it's far too hot on this bus", message_id="c-0001", key="webchat-test-key"):
    return client.http.post("/sms/webchat", headers={"Content-Type": "application/json", "X-Webchat-Key": key},
                            body=json.dumps({"id": message_id, "from": CUSTOMER, "to": LINE_8, "text": text}))


def test_a_new_channel_module_and_its_route_take_a_message_through_parse_ingest_and_reply(webchat, client):
    response = chat(client)
    assert response.status_code == 200 and response.body in (b"", "")  # the reply went out by the chat's API
    [message] = table_items("MSG#")
    assert message["id"] == "webchat-c-0001" and message["channel"] == "webchat" and message["site"] == "line-8"
    assert message["reply_status"] == "sent"
    assert webchat.OUTBOX.sent == [{"to": CUSTOMER, "origin": LINE_8, "text": message["reply"],
                                    "reference": "webchat-c-0001"}]
    drain()
    assert [to for to, _ in sent_sms()] == ["+447700900801"]  # the driver, as for an SMS
    [case] = client.http.get("/api/cases", headers=auth()).json_body["items"]
    assert case["topic"] == message["topic"]
    audited = client.http.get("/api/audit/messages/webchat-c-0001",
                              headers={**auth(), "X-Audit-Token": "test-audit"})
    assert audited.status_code == 200 and audited.json_body["text"] == "L8 it's far too hot on this bus"


def test_a_new_channel_answers_a_redelivery_once(webchat, client):
    chat(client, message_id="c-0002")
    chat(client, message_id="c-0002")
    assert len(table_items("MSG#")) == 1 and len(webchat.OUTBOX.sent) == 1


def test_a_new_channel_refuses_what_its_verify_refuses_and_stores_nothing(webchat, client):
    response = chat(client, key="wrong")
    assert response.status_code == 403 and response.json_body == {"error": "not from the web chat"}
    response = client.http.post("/sms/webchat", headers={"Content-Type": "application/json",
                                                         "X-Webchat-Key": "webchat-test-key"}, body="{}")
    assert response.status_code == 400 and "unreadable chat message" in response.json_body["error"]
    assert table_items("MSG#") == [] and webchat.OUTBOX.sent == []


def test_a_stop_on_a_channel_whose_carrier_handles_stop_is_recorded_in_silence(webchat, client):
    chat(client, text="STOP", message_id="c-0003")
    [consent] = table_items("CONSENT#")
    assert consent["status"] == "opted_out" and consent["source"] == "webchat:carrier"
    assert webchat.OUTBOX.sent == []


def test_a_new_channel_replying_in_its_answer_gets_the_reply_there(kiosk, client):
    response = client.http.post("/sms/kiosk", headers={"Content-Type": "application/json"}, body=json.dumps(
        {"id": "k-1", "from": CUSTOMER, "to": LINE_8, "text": "L8 it's far too hot on this bus"}))
    [message] = table_items("MSG#")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    assert json.loads(response.body) == {"reply": message["reply"]} and message["reply"]
    assert message["channel"] == "kiosk" and message["reply_status"] == "twiml"  # answered in the webhook


def test_the_registry_finds_each_channel_module_and_knows_their_message_ids():
    assert {"twilio", "eum"} <= set(channels.names())
    assert channels.get("twilio").replies_in_answer and not channels.get("eum").replies_in_answer
    assert channels.is_message_id("twilio-SM" + "0" * 32) and channels.is_message_id("eum-6d4d5a3e-0a25")
    assert not channels.is_message_id("sms-123") and not channels.is_message_id("twilio-")
    with pytest.raises(KeyError):
        channels.get("carrier-pigeon")


def test_a_message_names_a_registered_channel():
    from datetime import UTC, datetime

    from pydantic import ValidationError

    from chalicelib.models import InboundMessage

    fields = dict(channel_message_id="x1", from_number=CUSTOMER, to_number=LINE_8, body="hi",
                  received_at=datetime(2026, 11, 28, tzinfo=UTC))
    assert InboundMessage(channel="eum", **fields).id == "eum-x1"
    with pytest.raises(ValidationError, match="unknown channel"):
        InboundMessage(channel="fax", **fields)


@pytest.mark.parametrize("declaration", [dict(name="Bad Name", answer=print), dict(name="both", answer=print,
                                                                                    sender=print),
                                         dict(name="neither")])
def test_a_channel_is_declared_with_a_plain_name_and_one_way_to_reply(declaration):
    with pytest.raises(ValueError):
        channels.Channel(parse=lambda request, at: None, **declaration)


@pytest.mark.parametrize(("channel", "code", "meaning"), [
    ("twilio", "21610", channels.RecipientOptedOut), ("twilio", "21211", channels.InvalidRecipient),
    ("twilio", "20429", channels.Throttled), ("twilio", "30008", channels.ReplyFailed),
    ("eum", "DESTINATION_PHONE_NUMBER_OPTED_OUT", channels.RecipientOptedOut),
    ("eum", "DESTINATION_COUNTRY_BLOCKED", channels.InvalidRecipient),
    ("eum", "ThrottlingException", channels.Throttled), ("eum", None, channels.ReplyFailed),
])
def test_each_channel_says_what_its_send_errors_mean(channel, code, meaning):
    assert type(channels.get(channel).failure(code, "refused")) is meaning


def test_end_user_messaging_refusals_are_read_through_its_declared_meanings():
    import boto3
    from botocore.stub import Stubber

    from chalicelib.channels.eum import EndUserMessagingSender

    client = boto3.client("pinpoint-sms-voice-v2", region_name="eu-west-2")
    with Stubber(client) as stub:
        stub.add_client_error("send_text_message", "ValidationException", http_status_code=400,
                              modeled_fields={"Reason": "DESTINATION_COUNTRY_BLOCKED", "Message": "blocked"})
        stub.add_client_error("send_text_message", "ThrottlingException", http_status_code=400)
        sender = EndUserMessagingSender(client)
        with pytest.raises(channels.InvalidRecipient):
            sender.send(to=CUSTOMER, origin=LINE_8, text="hello", reference="x")
        with pytest.raises(channels.Throttled):
            sender.send(to=CUSTOMER, origin=LINE_8, text="hello", reference="x")
