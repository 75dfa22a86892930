"""AWS End User Messaging two-way SMS: SNS in, SendTextMessage out (botocore Stubber: moto lacks it)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from chalicelib.channels.eum import EndUserMessagingSender, ReplyFailed
from tests.conftest import drain, sent_sms, table_items


def eum_payload(body="L12 il fait tres froid dans le car", message_id="6d4d5a3e-0a25-4b9f-9c47-8cbf1d3a0001",
                origination="+33612345678", destination="+33639980012"):
    return json.dumps({
        "originationNumber": origination, "destinationNumber": destination, "messageKeyword": "L12",
        "messageBody": body, "inboundMessageId": message_id, "previousPublishedMessageId": "prev-1",
    })


@pytest.fixture
def stubbed_sender(svc):
    client = boto3.client("pinpoint-sms-voice-v2")
    stubber = Stubber(client)
    svc.reply_sender = EndUserMessagingSender(client)
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


def invoke(client, payload):
    event = client.events.generate_sns_event(message=payload, subject="")
    return client.lambda_.invoke("inbound_sms", event)


def test_an_inbound_sms_from_sns_is_answered_through_send_text_message_and_stored(client, stubbed_sender):
    stubbed_sender.add_response("send_text_message", {"MessageId": "reply-1"}, {
        "DestinationPhoneNumber": "+33612345678", "OriginationIdentity": "+33639980012",
        "MessageBody": ANY, "MessageType": "TRANSACTIONAL", "Context": {"voix_message": ANY},
    })
    invoke(client, eum_payload())
    [message] = table_items("MSG#")
    assert message["channel"] == "eum" and message["site"] == "line-12" and message["language"] == "fr"
    assert message["reply_status"] == "sent"
    drain()
    assert [to for to, _ in sent_sms()] == ["+33639980801"]


def test_a_redelivered_sns_message_is_not_answered_twice(client, stubbed_sender):
    stubbed_sender.add_response("send_text_message", {"MessageId": "reply-1"})
    invoke(client, eum_payload(message_id="6d4d5a3e-0a25-4b9f-9c47-8cbf1d3a0002"))
    invoke(client, eum_payload(message_id="6d4d5a3e-0a25-4b9f-9c47-8cbf1d3a0002"))  # no second response queued
    assert len(table_items("MSG#")) == 1


def test_a_failed_reply_is_retried_by_the_redelivery(client, stubbed_sender):
    stubbed_sender.add_client_error("send_text_message", "ThrottlingException", http_status_code=400)
    stubbed_sender.add_response("send_text_message", {"MessageId": "reply-2"})
    with pytest.raises(ReplyFailed):
        invoke(client, eum_payload(message_id="6d4d5a3e-0a25-4b9f-9c47-8cbf1d3a0003"))
    invoke(client, eum_payload(message_id="6d4d5a3e-0a25-4b9f-9c47-8cbf1d3a0003"))  # SNS retries the Lambda
    [message] = table_items("MSG#")
    assert message["reply_status"] == "sent"


@pytest.mark.parametrize("payload", ["not json", "[]", json.dumps({"messageBody": "hi"}),
                                     eum_payload(origination="garbage")])
def test_unreadable_sns_messages_are_dropped_without_storing_anything(client, stubbed_sender, payload):
    invoke(client, payload)
    assert table_items() == []


def test_the_sender_passes_the_configuration_set():
    client = boto3.client("pinpoint-sms-voice-v2", region_name="eu-west-2")
    with Stubber(client) as stub:
        stub.add_response("send_text_message", {"MessageId": "m-1"}, {
            "DestinationPhoneNumber": "+447700900123", "OriginationIdentity": "+447700900008",
            "MessageBody": "hello", "MessageType": "TRANSACTIONAL", "Context": {"voix_message": "x"},
            "ConfigurationSetName": "voix",
        })
        assert EndUserMessagingSender(client, "voix").send(
            to="+447700900123", origin="+447700900008", text="hello", reference="x") == "m-1"
