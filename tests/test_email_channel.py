"""The e-mail channel (issue 24): SES receiving's notification on SNS in, SES v2 raw mail out, in the thread.

Through the ``inbound_email`` Lambda (Chalice's test client) on moto: the notification has the exact shape SES
receiving publishes (``infra.simulate.ses_notification``), and moto's SES keeps the raw mails sent.
"""

from __future__ import annotations

import json
from email import message_from_string, policy

import boto3
import pytest

from chalicelib.channels import BadRequest, InvalidRecipient, RecipientOptedOut, Throttled
from infra.simulate import raw_mail, ses_notification
from tests.conftest import auth, drain, sent_emails, table_items

ANN, LEEDS, CENTRAL = "ann.smith@gmail.com", "leeds@feedback.voix.example", "feedback@feedback.voix.example"
COMPLAINT = "The shop was filthy and the staff were rude, I will not come back"


def stored_mail(bucket, key, raw):
    """SES receiving's S3 action: the raw mail in the inbound bucket."""
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=raw)


@pytest.fixture
def mail_client(client):
    boto3.client("sesv2").create_email_identity(EmailIdentity="feedback.voix.example")
    return client


def receive(client, text=COMPLAINT, *, subject="Visit today", sender="Ann Smith <Ann.Smith@Gmail.com>", to=LEEDS,
            ses_id="ses0001", message_id="<m1@mail.gmail.com>", verdicts=None, headers=None, in_reply_to=None, s3=None):
    raw = raw_mail(sender, to, subject, text, message_id=message_id, headers=headers, in_reply_to=in_reply_to)
    if s3:
        stored_mail(s3[0], s3[1], raw)
    note = ses_notification(raw, sender=ANN, to=to, ses_id=ses_id, verdicts=verdicts, s3=s3)
    client.lambda_.invoke("inbound_email", client.events.generate_sns_event(message=note, subject=""))


def replies_to(address=ANN):
    """The mails moto's SES took for ``address``, parsed."""
    return [message_from_string(m.raw_data, policy=policy.default) for m in sent_emails()
            if hasattr(m, "raw_data") and any(address in d for d in m.destinations)]


def messages():
    return table_items("MSG#")


def test_a_mail_to_a_sites_address_is_classified_answered_in_its_thread_and_alerted(mail_client):
    receive(mail_client)
    [message] = messages()
    assert message["channel"] == "email" and message["id"] == "email-ses0001" and message["site"] == "store-leeds"
    assert message["from_masked"] == "a•••@gmail.com" and message["nature"] == "complaint"
    assert message["reply_status"] == "sent"
    [reply] = replies_to()
    assert reply["In-Reply-To"] == "<m1@mail.gmail.com>" and "<m1@mail.gmail.com>" in reply["References"]
    assert reply["Subject"] == "Re: Visit today" and reply["From"] == LEEDS
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" and "/unsubscribe/" in \
        reply["List-Unsubscribe"]
    drain()
    [case] = table_items("CASE#")
    assert case["site"] == "store-leeds" and case["recipients"]
    listed = mail_client.http.get("/api/feedback?site=store-leeds", headers=auth()).json_body
    assert [(m["channel"], m["from"]) for m in listed["items"]] == [("email", "a•••@gmail.com")]
    assert ANN not in mail_client.http.get("/api/feedback?site=store-leeds", headers=auth()).body.decode()


def test_a_redelivered_notification_stores_and_sends_nothing_new(mail_client):
    receive(mail_client)
    receive(mail_client)
    assert len(messages()) == 1 and len(replies_to()) == 1


def test_the_central_address_takes_the_site_from_the_code_leading_the_first_line(mail_client):
    receive(mail_client, "LEEDS the fitting rooms were dirty", subject="Complaint", to=CENTRAL)
    [message] = messages()
    assert message["site"] == "store-leeds" and message["to_number"] == CENTRAL


@pytest.mark.parametrize("verdict", ["dmarc", "spam", "virus"])
def test_a_suspect_mail_is_stored_never_answered_cased_nor_counted(mail_client, verdict):
    receive(mail_client, verdicts={verdict: "FAIL"})
    [message] = messages()
    assert message["withheld"] == f"suspect:{verdict}" and message["reply_status"] == "withheld"
    drain()
    assert replies_to() == [] and table_items("CASE#") == []
    assert "processed_at" in messages()[0] and "from_number" not in messages()[0]


def test_an_auto_reply_is_stored_and_never_answered(mail_client):
    receive(mail_client, "I am out of the office until Monday.", subject="Automatic reply: Visit today",
            headers={"Auto-Submitted": "auto-replied"})
    [message] = messages()
    assert message["withheld"].startswith("automatic:") and replies_to() == []


def test_stop_by_mail_opts_out_silently_and_no_mail_follows(mail_client):
    receive(mail_client, "STOP", subject="Re: Visit today", ses_id="ses0002")
    assert replies_to() == [] and messages() == []
    receive(mail_client, ses_id="ses0003")  # feedback after the opt-out: stored, not answered
    [message] = messages()
    assert message["reply_status"] == "opted_out" and replies_to() == []


def test_one_click_unsubscribe_opts_the_customer_out_and_a_fetch_changes_nothing(mail_client):
    receive(mail_client)
    [reply] = replies_to()
    path = "/unsubscribe/" + reply["List-Unsubscribe"].split("/unsubscribe/")[1].split(">")[0]
    shown = mail_client.http.get(path)
    assert shown.status_code == 200 and b"Unsubscribe" in shown.body
    assert table_items("CONSENT#") == []
    posted = mail_client.http.post(path, headers={"Content-Type": "application/x-www-form-urlencoded"},
                                   body="List-Unsubscribe=One-Click")
    assert posted.status_code == 200 and b"unsubscribed" in posted.body
    [consent] = table_items("CONSENT#")
    assert consent["status"] == "opted_out"
    assert mail_client.http.post(path[:-3] + "xyz").status_code == 403
    receive(mail_client, ses_id="ses0004")
    assert len(replies_to()) == 1  # nothing more sent


def test_a_staff_reply_goes_by_mail_in_the_customers_thread(mail_client):
    receive(mail_client)
    drain()
    [case] = table_items("CASE#")
    answer = mail_client.http.post(f"/api/cases/{case['id']}/reply", headers={**auth(), "Content-Type":
                                   "application/json"}, body='{"text": "We are sorry, we will clean it.", "by": "Sam"}')
    assert answer.status_code == 202, answer.body
    drain()
    first, staff = replies_to()
    assert staff["In-Reply-To"] == "<m1@mail.gmail.com>" and staff["Subject"] == "Re: Visit today"
    assert staff["Auto-Submitted"] is None and "clean it" in staff.get_body(("plain",)).get_content()


def test_a_large_mail_is_read_from_the_inbound_bucket_under_its_prefix_only(mail_client, monkeypatch, aws):
    bucket = aws["InboundEmailBucketName"]
    monkeypatch.setenv("INBOUND_EMAIL_BUCKET", bucket)
    receive(mail_client, s3=(bucket, "inbound/ses0005"), ses_id="ses0005")
    assert [m["site"] for m in messages()] == ["store-leeds"]
    receive(mail_client, s3=(bucket, "elsewhere/ses0006"), ses_id="ses0006")
    assert len(messages()) == 1


def test_erasure_by_address_removes_the_customer_and_answers_masked(mail_client):
    receive(mail_client)
    drain()
    for refused in ("Ann%20%3Cann.smith%40gmail.com%3E", "ann.smith%40", "%40gmail.com"):  # exactly an address
        assert mail_client.http.delete(f"/api/customers/{refused}", headers=auth()).status_code == 400
    assert messages()
    erased = mail_client.http.delete("/api/customers/Ann.Smith%40gmail.com", headers=auth())  # any case
    assert erased.status_code == 200 and erased.json_body["customer"] == "a•••@gmail.com"
    assert messages() == [] and table_items("CASE#") == []
    receive(mail_client)  # the erased message delivered again: nothing kept
    assert messages() == []


def test_unreadable_notifications_are_dropped(mail_client):
    for body in ("not json", "{}", '{"notificationType": "Received", "mail": {"messageId": "../x"}}'):
        mail_client.lambda_.invoke("inbound_email", mail_client.events.generate_sns_event(message=body, subject=""))
    assert messages() == []


def test_the_sender_maps_ses_refusals():
    from botocore.stub import Stubber

    from chalicelib.channels.email import EmailSender

    ses = boto3.client("sesv2", region_name="eu-west-2")
    sender = EmailSender(ses)
    with Stubber(ses) as stub:
        for code, error in (("MessageRejected", InvalidRecipient), ("TooManyRequestsException", Throttled)):
            stub.add_client_error("send_email", code)
            with pytest.raises(error):
                sender.send(to=ANN, origin=LEEDS, text="hi", reference="email-x")
    with Stubber(ses) as stub:  # the SES sandbox names the address it refused: the error keeps it masked
        stub.add_client_error("send_email", "MessageRejected", service_message="Email address is not verified. The "
                              "following identities failed the check in region EU-WEST-2: Ann.Smith@gmail.com")
        with pytest.raises(InvalidRecipient) as refused:
            sender.send(to=ANN, origin=LEEDS, text="hi", reference="email-x")
    assert "a•••@gmail.com" in str(refused.value) and "ann.smith" not in str(refused.value).lower()
    with pytest.raises(RecipientOptedOut):
        EmailSender(ses, opted_out=lambda a: True).send(to=ANN, origin=LEEDS, text="hi", reference="email-x")


def test_an_address_is_a_customer_on_the_email_channel_only():
    from datetime import UTC, datetime

    from chalicelib.models import InboundMessage

    now = datetime.now(UTC)
    with pytest.raises(ValueError):
        InboundMessage(channel="twilio", channel_message_id="SM1", from_number=ANN, to_number=LEEDS, body="x",
                       received_at=now)
    with pytest.raises(ValueError):
        InboundMessage(channel="email", channel_message_id="e1", from_number="+447700900123", to_number=LEEDS,
                       body="x", received_at=now)
    assert BadRequest  # the channel turns these into BadRequest (dropped, logged)


def _publish(client, raw, ses_id, *, s3=None, sender=ANN):
    if s3:
        stored_mail(s3[0], s3[1], raw)
    note = ses_notification(raw, sender=sender, to=LEEDS, ses_id=ses_id, s3=s3)
    for _ in range(2):  # delivered twice, as SNS may
        client.lambda_.invoke("inbound_email", client.events.generate_sns_event(message=note, subject=""))


HEAD = f"From: {ANN}\r\nTo: {LEEDS}\r\nSubject: Visit\r\nMessage-ID: <bad@mail.gmail.com>\r\n".encode()
BAD_MAILS = {
    "malformed MIME": HEAD + b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nno end: the staff were rude",
    "wrong charset": HEAD + b"Content-Type: text/plain; charset=klingon\r\n\r\nle personnel \xe9tait d\xe9sagr\xe9able",
    "no charset, 8-bit": HEAD + b"Content-Type: text/plain\r\n\r\nthe caf\xc3\xa9 was dirty",
    "HTML only": HEAD + b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>The <b>toilets</b> were dirty</p>",
    "empty": HEAD + b"\r\n",
}


@pytest.mark.parametrize("kind", sorted(BAD_MAILS))
def test_a_bad_mail_is_stored_once_and_answered_once(mail_client, kind):
    _publish(mail_client, BAD_MAILS[kind], "bad0001")
    assert len(messages()) == 1 and len(replies_to()) == 1


def test_a_10_mb_mail_from_the_bucket_is_stored_once_and_answered_once(mail_client, monkeypatch, aws):
    monkeypatch.setenv("INBOUND_EMAIL_BUCKET", aws["InboundEmailBucketName"])
    raw = HEAD + b"Content-Type: text/plain; charset=utf-8\r\n\r\nThe shop was dirty. " + b"x" * (10 * 1024 * 1024)
    _publish(mail_client, raw, "big0001", s3=(aws["InboundEmailBucketName"], "inbound/big0001"))
    [message] = messages()
    assert message["text"].startswith("Visit\nThe shop was dirty") and len(replies_to()) == 1


def test_a_mail_from_our_own_address_is_never_answered(mail_client):
    _publish(mail_client, raw_mail(LEEDS, LEEDS, "Visit", "A loop of our own"), "own0001", sender=LEEDS)
    [message] = messages()
    assert message["withheld"] == "automatic:own-address" and replies_to(LEEDS) == []


class _Failing:
    """An S3 client whose GetObject fails with ``code``."""

    def __init__(self, code):
        self.code = code

    def get_object(self, **kwargs):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, "GetObject")


def _inbound(raw=None, *, sender=ANN, to=LEEDS, s3=None, client=None):
    from datetime import UTC, datetime

    from chalicelib.channels.email import to_inbound
    from chalicelib.config_loader import get_config

    note = ses_notification(raw if raw is not None else raw_mail(sender, to, "Visit", COMPLAINT), sender=sender,
                            to=to, s3=s3)
    return to_inbound(note, datetime.now(UTC), config=get_config(), client=client or (lambda name: None))


def test_a_stored_mail_that_is_gone_is_dropped_and_a_passing_s3_error_is_retried(monkeypatch):
    from botocore.exceptions import ClientError

    monkeypatch.setenv("INBOUND_EMAIL_BUCKET", "inbound")
    with pytest.raises(BadRequest):
        _inbound(b"", s3=("inbound", "inbound/gone"), client=lambda name: _Failing("NoSuchKey"))
    for code in ("InternalError", "AccessDenied"):  # not BadRequest: the Lambda fails, SNS delivers it again
        with pytest.raises(ClientError):  # (a policy denying the read is fixed, then the failure queue replayed)
            _inbound(b"", s3=("inbound", "inbound/later"), client=lambda name, code=code: _Failing(code))


def test_a_mail_without_a_sender_or_with_an_impossible_recipient_is_refused():
    with pytest.raises(BadRequest):
        _inbound(b"Subject: hi\r\n\r\nno sender anywhere", sender="nobody")
    # a bounce: a null envelope sender and no From is stored as automatic, never answered (review of issue 24)
    bounce = _inbound(b"Subject: Undeliverable\r\n\r\nno sender anywhere", sender="")
    assert bounce.withheld == "automatic:null-sender" and bounce.from_number.endswith(".invalid")
    with pytest.raises(BadRequest):
        _inbound(to="x" * 300 + "@feedback.voix.example")


def test_a_code_leading_the_subject_at_the_central_address_is_not_repeated():
    message = _inbound(raw_mail(ANN, CENTRAL, "LEEDS dirty floor", "and no staff"), to=CENTRAL)
    assert message.body == "LEEDS dirty floor\nand no staff"


def test_a_connection_error_to_ses_is_a_failure_to_retry():
    from botocore.exceptions import EndpointConnectionError

    from chalicelib.channels import ReplyFailed
    from chalicelib.channels.email import EmailSender

    class Down:
        def send_email(self, **kwargs):
            raise EndpointConnectionError(endpoint_url="https://email.eu-west-2.amazonaws.com")

    with pytest.raises(ReplyFailed):
        EmailSender(Down()).send(to=ANN, origin=LEEDS, text="hi", reference="email-x")


def test_without_a_public_url_the_reply_has_only_the_mailto_unsubscribe(monkeypatch):
    from chalicelib.channels import email as channel

    monkeypatch.setattr(channel, "_services", lambda: (_ for _ in ()).throw(RuntimeError("no URL here")))
    assert channel._unsubscribe_url(ANN) is None


def test_an_opt_out_kept_through_an_erasure_still_stops_mail():
    from chalicelib.erasure import mark
    from chalicelib.phone import customer_key
    from chalicelib.unsubscribe import opted_out
    from tests.fakes import fake_stores

    customers = fake_stores().customers
    assert not opted_out(customers, b"s", ANN)
    customers.suppress(mark(b"s", "opt-out", customer_key(ANN, b"s")), since="2026-01-01T00:00:00Z",
                       expires_at=2_000_000_000)
    assert opted_out(customers, b"s", ANN)


SAMPLES = __import__("pathlib").Path(__file__).with_name("data") / "ses"


def _sample(name):
    """One of SES receiving's sample notifications (tests/data/ses), to this deployment's addresses."""
    return (SAMPLES / name).read_text(encoding="utf-8").replace("feedback.example.com", "feedback.voix.example")


def test_ses_s_own_notification_of_a_mail_to_a_site_is_answered_in_its_thread(mail_client):
    mail_client.lambda_.invoke("inbound_email", mail_client.events.generate_sns_event(
        message=_sample("received_sns_action.json"), subject="Amazon SES Email Receipt Notification"))
    [message] = messages()
    assert message["site"] == "line-8" and message["from_masked"] == "a•••@gmail.com"
    [reply] = replies_to()
    assert reply["In-Reply-To"] == "<CAKx9f2bq7TnN1d0mQ3X8u=Zk4e@mail.gmail.com>"
    assert reply["Subject"] == "Re: Coach this morning" and reply["From"] == "line8@feedback.voix.example"


def test_ses_s_own_notification_of_a_stored_mail_to_the_central_address_finds_the_site_by_its_code(mail_client,
                                                                                                  aws, monkeypatch):
    bucket = aws["InboundEmailBucketName"]
    monkeypatch.setenv("INBOUND_EMAIL_BUCKET", bucket)
    note = json.loads(_sample("received_s3_action.json"))
    note["receipt"]["action"]["bucketName"] = bucket  # the stack's bucket (the sample names its own account's)
    stored_mail(bucket, note["receipt"]["action"]["objectKey"], (SAMPLES / "received_s3_action.eml").read_bytes())
    mail_client.lambda_.invoke("inbound_email", mail_client.events.generate_sns_event(message=json.dumps(note),
                                                                                      subject=""))
    [message] = messages()
    assert message["site"] == "line-12" and message["language"] == "fr" and message["num_media"] >= 1
    [reply] = replies_to("claire.martin@orange.fr")
    assert reply["In-Reply-To"] == "<1796288549812.41027@orange.fr>" and reply["From"] == CENTRAL


def test_replies_come_from_reply_from_email_when_configured_and_thread_an_empty_subject_in_the_language():
    from chalicelib.channels.email import EmailSender
    from chalicelib.conversations import MailThread

    class Ses:
        def send_email(self, **kwargs):
            self.sent = kwargs
            return {"MessageId": "ses-1"}

    ses = Ses()
    sender = EmailSender(ses, reply_from=lambda: "avis@feedback.voix.example",
                         unsubscribe_url=lambda address: "https://voix.example/unsubscribe/t0ken")
    assert sender.send(to=ANN, origin=LEEDS, text="Merci", reference="email-x",
                       thread=MailThread(subject="", message_id="<m@x.example>", language="fr")) == "ses-1"
    mail = message_from_string(ses.sent["Content"]["Raw"]["Data"].decode(), policy=policy.default)
    assert ses.sent["FromEmailAddress"] == "avis@feedback.voix.example" == mail["From"]
    assert mail["Subject"] == "Re: Votre avis" and mail["In-Reply-To"] == "<m@x.example>"
    assert "<https://voix.example/unsubscribe/t0ken>" in mail["List-Unsubscribe"] and LEEDS in mail["List-Unsubscribe"]
    assert mail["Reply-To"] == LEEDS  # the customer's answer reaches an address our receipt rules accept
    sender = EmailSender(ses)
    sender.send(to=ANN, origin=LEEDS, text="Thanks", reference="email-y")
    assert message_from_string(ses.sent["Content"]["Raw"]["Data"].decode(), policy=policy.default)["Reply-To"] is None


def test_a_mail_is_promised_a_written_answer_never_a_call_and_staff_are_told_to_write_back(mail_client):
    """Review of issue 24: an e-mail customer has no number to call back; the promise is of a written reply."""
    from tests.conftest import sent_sms

    receive(mail_client)
    [reply] = replies_to()
    body = reply.get_body(("plain",)).get_content()
    assert "write back to you within" in body and "call" not in body
    drain()
    [case] = table_items("CASE#")
    assert case["urgency"] == "high" and case["promise"] == "reply" and not case.get("customer_number")
    alerts = [m.body for m in sent_emails() if hasattr(m, "body")] + [m[1] for m in sent_sms()]
    assert alerts and not any("Call the customer" in a or ANN in a for a in alerts)
    assert any("written answer" in a for a in alerts)


def test_two_overlapping_deliveries_of_one_mail_answer_it_once(mail_client, monkeypatch):
    """Review of issue 24: SNS delivers a notification again while the first delivery is still sending."""
    import chalicelib.channels.email as email_channel

    real, calls = email_channel.EmailSender.send, []

    def send(self, **kw):
        calls.append(1)
        if len(calls) == 1:  # the second delivery arrives while the first is sending
            receive(mail_client)
        return real(self, **kw)

    monkeypatch.setattr(email_channel.EmailSender, "send", send)
    receive(mail_client)
    assert len(replies_to()) == 1 and len(messages()) == 1 and messages()[0]["reply_status"] == "sent"


def test_a_failed_send_releases_its_claim_so_the_redelivery_answers(mail_client, monkeypatch):
    import chalicelib.channels.email as email_channel
    from chalicelib.channels import ReplyFailed

    real = email_channel.EmailSender.send
    monkeypatch.setattr(email_channel.EmailSender, "send", lambda self, **kw: (_ for _ in ()).throw(ReplyFailed("x")))
    with pytest.raises(ReplyFailed):
        receive(mail_client)
    assert messages()[0]["reply_status"] == "pending"
    monkeypatch.setattr(email_channel.EmailSender, "send", real)
    receive(mail_client)
    assert len(replies_to()) == 1 and messages()[0]["reply_status"] == "sent"


def test_a_reply_claim_outlives_every_function_that_sends_replies():
    from pathlib import Path

    from chalicelib.ingest import REPLY_CLAIM_SECONDS

    config = json.loads((Path(__file__).parents[1] / ".chalice" / "config.json").read_text())
    timeouts = [f.get("lambda_timeout", config.get("lambda_timeout", 60)) for stage in config["stages"].values()
                for name, f in stage.get("lambda_functions", {}).items() if name.startswith("inbound")]
    assert timeouts and max(timeouts) <= REPLY_CLAIM_SECONDS


def test_a_complaint_whose_subject_is_cancel_is_feedback_and_opts_nobody_out(mail_client):
    """Review of issue 24: a subject or first line "Cancel" no longer loses the complaint."""
    receive(mail_client, "My coach to London was cancelled and nobody told us. I want a refund.", subject="Cancel")
    [message] = messages()
    assert message["reply_status"] == "sent" and table_items("CONSENT#") == [] and len(replies_to()) == 1


def test_a_loop_of_header_less_auto_responders_stops_after_one_reply(mail_client):
    """Review of issue 24: an auto-responder with no telltale header answering our automatic reply (its
    In-Reply-To names our ``<auto-…@our domain>`` id) is stored and joins its case, and is never answered."""
    receive(mail_client, "When do you open on Sundays?", subject="Opening hours", ses_id="q1")
    drain()
    [ours] = replies_to()
    assert ours["Message-ID"].startswith("<auto-") and ours["Message-ID"].endswith("@feedback.voix.example>")
    for i in range(3):  # the customer's auto-responder answers our reply; ours would answer it, and so on
        receive(mail_client, "Thank you for your message, we will get back to you.", subject=f"Re: {ours['Subject']}",
                ses_id=f"loop{i}", message_id=f"<loop{i}@corp>", in_reply_to=replies_to()[-1]["Message-ID"])
    drain()
    assert len(replies_to()) == 1
    stored = messages()
    assert len(stored) == 4 and all(m["reply_status"] == "withheld" and not m.get("withheld")
                                    for m in stored if m["id"].startswith("email-loop"))
    [case] = table_items("CASE#")  # each answer joined the question's case, as a customer's answer does
    assert {m.get("case_id") for m in stored} == {case["id"]}


def test_one_click_unsubscribe_posted_as_multipart_form_data_opts_out(mail_client):
    """Review of issue 24: RFC 8058 lets the mail client post multipart/form-data; the body is not read."""
    receive(mail_client)
    [reply] = replies_to()
    path = "/unsubscribe/" + reply["List-Unsubscribe"].split("/unsubscribe/")[1].split(">")[0]
    posted = mail_client.http.post(path, headers={"Content-Type": "multipart/form-data; boundary=b"},
                                   body=b'--b\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
                                        b'One-Click\r\n--b--\r\n')
    assert posted.status_code == 200 and b"unsubscribed" in posted.body
    [consent] = table_items("CONSENT#")
    assert consent["status"] == "opted_out"
