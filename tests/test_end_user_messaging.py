"""AWS End User Messaging two-way SMS: SNS in, SendTextMessage out (botocore Stubber: moto lacks it)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from chalicelib.channels import ReplyFailed
from chalicelib.channels.eum import EndUserMessagingSender
from chalicelib.clock import parse_time
from tests.conftest import auth, drain, sent_sms, table_items


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


def opted_out(stub):
    stub.add_client_error("send_text_message", "ConflictException", http_status_code=400,
                          service_message="The destination phone number is opted out",
                          response_meta=None, modeled_fields={"Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT",
                                                              "Message": "opted out"})


def test_a_stop_the_carrier_answered_is_recorded_and_the_refused_confirmation_is_not_retried(client, stubbed_sender):
    opted_out(stubbed_sender)  # End User Messaging's managed opt-out answered STOP itself
    invoke(client, eum_payload(body="STOP", message_id="6d4d5a3e-0a25-4b9f-9c47-8cbf1d3a0004"))  # no exception
    assert [c["status"] for c in table_items("CONSENT#")] == ["opted_out"]


def test_feedback_from_an_opted_out_number_is_kept_and_not_answered_again(client, stubbed_sender):
    opted_out(stubbed_sender)
    invoke(client, eum_payload(message_id="6d4d5a3e-0a25-4b9f-9c47-8cbf1d3a0005"))
    invoke(client, eum_payload(message_id="6d4d5a3e-0a25-4b9f-9c47-8cbf1d3a0005"))  # a redelivery sends nothing
    [message] = table_items("MSG#")
    assert message["reply_status"] == "opted_out"


def test_a_survey_to_a_number_opted_out_at_the_carrier_is_skipped_and_awaits_no_answer(client, svc, monkeypatch):
    from chalicelib.channels import RecipientOptedOut
    from tests.test_surveys import SURVEY, create

    class Refusing:
        def send(self, **kwargs):
            raise RecipientOptedOut("opted out")

    import chalicelib.surveys as surveys_module

    monkeypatch.setattr(svc.surveys, "_sender", Refusing())
    monkeypatch.setattr(surveys_module, "quiet_delay", lambda *args: 0)
    survey = create(client, {**SURVEY, "numbers": ["+447700900601"], "numbers_csv": None}).json_body
    drain()
    report = client.http.get(f"/api/surveys/{survey['id']}", headers=auth())
    assert report.json_body["skipped"]["opted_out"] == 1 and report.json_body["sent"] == 0
    assert all(parse_time(c["expires_at"]).year == 1970 for c in table_items("SURVEYCUST#"))


def test_two_overlapping_deliveries_of_one_sms_answer_it_once(client, stubbed_sender, monkeypatch):
    """Review of issue 24: SNS delivers the message again while the first delivery is still sending its reply;
    the first claimed the reply, so the second sends nothing (no second response is queued)."""
    stubbed_sender.add_response("send_text_message", {"MessageId": "reply-1"})
    payload = eum_payload(message_id="6d4d5a3e-0a25-4b9f-9c47-8cbf1d3a0009")
    real, calls = EndUserMessagingSender.send, []

    def send(self, **kw):
        calls.append(1)
        if len(calls) == 1:
            invoke(client, payload)
        return real(self, **kw)

    monkeypatch.setattr(EndUserMessagingSender, "send", send)
    invoke(client, payload)
    [message] = table_items("MSG#")
    assert message["reply_status"] == "sent" and len(calls) == 1
