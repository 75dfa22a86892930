"""End User Messaging delivery events of staff replies (issue 21): read from the inbound topic as AWS documents
them, a reply's status only moves forward; on the fakes, then through the InboundSms handler on moto."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from chalicelib.channels import eum as eum_events
from chalicelib.channels.eum import EndUserMessagingSender
from chalicelib.inbound import delivery_event
from chalicelib.replying import ConversationService
from tests.test_conversation_rules import SECRET, a_case, record, world  # noqa: F401  (the fixture)


def sample(event_type="TEXT_DELIVERED", status="DELIVERED", reference="CASE0004.r20261201T120000000Zabcdef12",
           **extra):
    """The documented SMS event (AWS End User Messaging SMS user guide, "SMS example log"), with our context."""
    return json.dumps({
        "eventType": event_type, "eventVersion": "1.0", "eventTimestamp": 1686975103470, "isFinal": True,
        "originationPhoneNumber": "+12065550152", "destinationPhoneNumber": "+14255550156",
        "isInternationalSend": False, "mcc": "310", "mnc": "800", "messageId": "862a8790-60c0-4430-9b2b-658bdexample",
        "messageRequestTimestamp": 1686975103170, "messageEncoding": "GSM", "messageType": "TRANSACTIONAL",
        "messageStatus": status, "messageStatusDescription": "Message has been accepted by phone",
        "totalMessageParts": 1, "totalMessagePrice": 0.00581, "totalCarrierFee": 0.00767,
        **({"context": {"voix_message": reference}} if reference else {}), **extra})


@pytest.mark.parametrize("event_type, status", [("TEXT_PENDING", "queued"), ("TEXT_QUEUED", "queued"),
                                                ("TEXT_SUCCESSFUL", "sent"), ("TEXT_DELIVERED", "delivered"),
                                                ("TEXT_UNREACHABLE", "undelivered"), ("TEXT_OPTED_OUT", "undelivered"),
                                                ("TEXT_CARRIER_BLOCKED", "undelivered")])
def test_each_event_type_is_a_reply_status(event_type, status):
    is_event, found = eum_events.delivery_event(sample(event_type, "X"))
    assert is_event and (found.case_id, found.reply_id, found.status) == (
        "CASE0004", "r20261201T120000000Zabcdef12", status)
    assert found.provider_id == "862a8790-60c0-4430-9b2b-658bdexample"
    assert (found.error is not None) == (status == "undelivered")


@pytest.mark.parametrize("body, is_event", [
    (sample("TEXT_UNKNOWN", "UNKNOWN"), True), (sample(reference=None), True),
    (sample(reference="an alert of case X"), True), (sample(context="not a map"), True),
    (json.dumps({"originationNumber": "+447700900123", "messageBody": "hello"}), False),  # an inbound SMS
    ("[" * 5000, False), ("not json", False), (b"\xff\xfe", False), ('{"eventType": 7}', False),
])
def test_an_event_about_no_reply_or_not_an_event_changes_nothing(body, is_event):
    assert eum_events.delivery_event(body) == (is_event, None)


def test_delivery_events_move_a_reply_forward_only(world):  # noqa: F811
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("pinpoint-sms-voice-v2", region_name="eu-west-2")
    sender = EndUserMessagingSender(client, configuration_set="voix-replies")
    assert sender.reports_delivery and not EndUserMessagingSender(client).reports_delivery
    world.store.cases.put_case(a_case("CASE0004", message_id="eum-abc"))
    world.threads.opened("CASE0004", record("eum-abc", channel="eum", to_number="+33639980012"))
    service = ConversationService(config=world.config, store=world.store, jobs=world.jobs, secret=SECRET,
                                  senders=lambda channel: sender, now=world.clock)
    reply = service.reply("CASE0004", "Désolé, on arrive", "Aline")
    with Stubber(client) as stub:
        stub.add_response("send_text_message", {"MessageId": "862a8790-60c0-4430-9b2b-658bdexample"})
        assert service.send("CASE0004", reply.id) == "sent"
    svc = SimpleNamespace(conversations=service)

    def status():
        return {m.id: m for m in world.store.conversations.conversation("CASE0004")}[reply.id]

    assert status().status == "queued"  # the events will say
    ref = f"CASE0004.{reply.id}"
    assert delivery_event(sample("TEXT_SUCCESSFUL", "SUCCESSFUL", ref), svc) is True
    assert status().status == "sent"
    assert delivery_event(sample("TEXT_DELIVERED", "DELIVERED", ref), svc) is True
    assert delivery_event(sample("TEXT_SUCCESSFUL", "SUCCESSFUL", ref), svc) is True  # late: nothing changes
    assert delivery_event(sample("TEXT_DELIVERED", "DELIVERED", ref), svc) is True  # twice: nothing changes
    assert status().status == "delivered"
    assert delivery_event(sample("TEXT_DELIVERED", "DELIVERED", ref, messageId="another"), svc) is True
    assert delivery_event(json.dumps({"messageBody": "hello"}), svc) is False


def test_an_undelivered_reply_says_the_carrier_s_words(world):  # noqa: F811
    world.store.cases.put_case(a_case("CASE0005", message_id="eum-def"))
    world.threads.opened("CASE0005", record("eum-def", channel="eum", to_number="+33639980012"))
    service = ConversationService(config=world.config, store=world.store, jobs=world.jobs, secret=SECRET,
                                  senders=lambda channel: SimpleNamespace(reports_delivery=True,
                                                                         send=lambda **_: "eum-out-9"),
                                  now=world.clock)
    reply = service.reply("CASE0005", "On arrive", "Aline")
    service.send("CASE0005", reply.id)
    event = sample("TEXT_UNREACHABLE", "UNREACHABLE", f"CASE0005.{reply.id}", messageId="eum-out-9",
                   messageStatusDescription="The destination phone is unreachable")
    delivery_event(event, SimpleNamespace(conversations=service))
    [stored] = world.store.conversations.conversation("CASE0005")
    assert (stored.status, stored.error) == ("undelivered", "UNREACHABLE The destination phone is unreachable")


def test_the_inbound_sms_function_reads_an_event_from_its_topic(client):
    """The event as SNS delivers it to the InboundSms function (Chalice's SNS event), on moto: the reply it names
    is delivered; an inbound SMS on the same topic is still a message."""
    from tests.conftest import auth, drain, post_sms, twilio_params

    post_sms(client, twilio_params(body="L8 the driver is drunk and swerving", sid="SM" + "e1" * 16))
    drain()
    [case] = client.http.get("/api/cases", headers=auth()).json_body["items"]
    reply = client.http.post(f"/api/cases/{case['id']}/reply", headers={**auth(), "Content-Type": "application/json"},
                             body=json.dumps({"text": "Stopping now", "by": "Sam"})).json_body
    event = sample("TEXT_DELIVERED", "DELIVERED", f"{case['id']}.{reply['id']}")
    client.lambda_.invoke("inbound_sms", client.events.generate_sns_event(message=event, subject=""))
    [out] = [m for m in client.http.get(f"/api/cases/{case['id']}", headers=auth()).json_body["conversation"]
             if m["direction"] == "out"]
    assert out["status"] == "delivered"
