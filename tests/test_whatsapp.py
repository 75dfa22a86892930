"""WhatsApp through Twilio (issue 24): its messages on the signed Twilio webhook as their own channel, and the
24-hour customer-service window on staff replies (free text inside, an approved template outside, a clear 409
when no template fits the customer's language). Rules on the in-memory fakes; the webhook on moto; the sender
against the local Twilio stand-in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest

from chalicelib.channels import Refused, whatsapp
from chalicelib.clock import iso
from chalicelib.conversations import ConversationMessage
from chalicelib.errors import ApiError
from chalicelib.replying import ConversationService
from chalicelib.threads import Threads
from tests.conftest import TWILIO_ACCOUNT, TWILIO_TOKEN, drain, post_sms, table_items, twilio_params
from tests.test_conversation_rules import Clock, Jobs  # the same doubles: a queue and a clock

SECRET = b"test-customer-key-secret"
CUSTOMER, LINE_8, LINE_12 = "+447700900642", "+447700900008", "+33639980012"
NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # London and Paris: not quiet hours
EN = whatsapp.Template(content_sid="HX" + "a" * 32, variables={"1": "{site}", "2": "{text}"})


def wa(body="L8 it's far too hot on this bus", sid="SM" + "0" * 32, frm=CUSTOMER, to=LINE_8, **extra):
    """The form Twilio posts for a WhatsApp message (its WhatsApp parameters included)."""
    return twilio_params(body=body, sid=sid, frm=f"whatsapp:{frm}", to=f"whatsapp:{to}", **{
        "ProfileName": "Ann Smith", "WaId": frm.lstrip("+"), "MessageType": "text", "SmsSid": sid,
        "SmsMessageSid": sid, "NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01", **extra})


# -- reading the webhook ---------------------------------------------------------------------------------------
def test_a_whatsapp_message_is_its_own_channel_with_the_customer_s_number_and_no_profile_name():
    message = whatsapp.to_inbound(list(wa(OptOutType="STOP").items()), NOON)
    assert (message.channel, message.id, message.from_number, message.to_number) == (
        "whatsapp", "whatsapp-SM" + "0" * 32, CUSTOMER, LINE_8)
    assert message.carrier_keyword is None  # Twilio's Advanced Opt-Out is SMS only: Voix answers a STOP here
    assert "Ann" not in message.model_dump_json()


@pytest.mark.parametrize(("change", "says"), [
    ({"To": LINE_8}, "both whatsapp:"),  # one side only: not what Twilio sends
    ({"WaId": "not-an-id"}, "WaId"),
    ({"MessageType": "<img>"}, "MessageType"),
])
def test_a_signed_request_not_of_whatsapp_s_shape_is_refused(change, says):
    with pytest.raises(Refused) as refused:
        whatsapp.to_inbound(list({**wa(), **change}.items()), NOON)
    assert refused.value.status == 403 and says in refused.value.message


def reply_text(response):
    found = ElementTree.fromstring(response.body).find("Message")
    return None if found is None else found.text


def test_on_the_webhook_a_whatsapp_message_is_answered_in_twiml_stored_and_cased_as_whatsapp(client):
    response = post_sms(client, wa())
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/xml"
    assert "driver" in reply_text(response)
    [message] = table_items("MSG#")
    assert (message["channel"], message["id"], message["site"]) == ("whatsapp", "whatsapp-SM" + "0" * 32, "line-8")
    assert "Ann Smith" not in json.dumps(table_items(), default=str)  # the profile name is never kept
    assert drain()["failed"] == 0
    [case] = table_items("CASE#")
    assert case["message_id"] == "whatsapp-SM" + "0" * 32
    [contact] = table_items("REPLYTO#")
    assert contact["channel"] == "whatsapp" and contact["number"] == CUSTOMER  # staff replies go back on WhatsApp


def test_erasing_the_number_erases_its_whatsapp_messages_and_sms_alike(client):
    from tests.conftest import auth

    post_sms(client, wa())
    post_sms(client, twilio_params(frm=CUSTOMER, body="L8 still far too hot", sid="SM" + "7" * 32))
    assert drain()["failed"] == 0
    assert len(table_items("MSG#")) == 2 and len({m["customer_key"] for m in table_items("MSG#")}) == 1
    erased = client.http.delete(f"/api/customers/%2B{CUSTOMER[1:]}", headers=auth()).json_body
    assert erased["erased"]["msg"] == 2 and table_items("MSG#") == []
    replayed = post_sms(client, wa())  # Twilio replays the erased WhatsApp message: nothing kept
    assert reply_text(replayed) is None and table_items("MSG#") == []


def test_an_unknown_channel_on_the_twilio_webhook_is_refused_and_nothing_stored(client):
    params = twilio_params(frm="messenger:1234567890", to="messenger:1234567891")
    response = post_sms(client, params)
    assert response.status_code == 400 and "messenger" in response.json_body["error"]
    assert table_items("MSG#") == []


def test_a_media_only_message_is_stored_asked_for_words_no_case_and_answered_the_same_on_redelivery(client):
    params = wa(body="", sid="MM" + "1" * 32, NumMedia="1", MessageType="image", MediaContentType0="image/jpeg",
                MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1")
    first = post_sms(client, params)
    assert first.status_code == 200 and "in words" in reply_text(first)
    again = post_sms(client, params)  # Twilio's retry
    assert again.body == first.body
    [message] = table_items("MSG#")
    assert (message["num_media"], message["text"], message["reply_rule"]) == (1, "", "media only")
    assert "MediaUrl0" not in json.dumps(message) and "api.twilio.com" not in json.dumps(message)  # never fetched
    assert drain()["failed"] == 0
    assert table_items("CASE#") == []


def test_an_mms_alone_is_asked_for_words_too(client):
    response = post_sms(client, twilio_params(body="", sid="MM" + "8" * 32, NumMedia="2"))
    assert response.status_code == 200 and "in words" in reply_text(response)
    [message] = table_items("MSG#")
    assert (message["channel"], message["num_media"], message["reply_rule"]) == ("twilio", 2, "media only")


def test_the_invitation_to_write_fits_one_sms_in_each_language():
    from chalicelib.replies import MEDIA_ONLY
    from chalicelib.sms_segments import is_gsm7, segments

    assert all(is_gsm7(text) and segments(text) == 1 for text in (MEDIA_ONLY.en, MEDIA_ONLY.fr))


def test_stop_on_whatsapp_opts_out_as_an_sms_stop_voix_handles(client):
    response = post_sms(client, wa(body="STOP", sid="SM" + "2" * 32))
    assert "unsubscribed" in reply_text(response)
    [consent] = table_items("CONSENT#")
    assert consent["status"] == "opted_out" and consent["history"][-1]["source"] == "whatsapp:keyword"
    assert reply_text(post_sms(client, wa(body="STOP", sid="SM" + "3" * 32))) is None  # confirmed once


# -- the 24-hour window on staff replies (fakes) ---------------------------------------------------------------
class Sender:
    """A WhatsApp staff sender: its window, its templates (English only), what it sent."""

    reports_delivery = True
    window_hours = 24
    window_service = "WhatsApp"

    def __init__(self):
        self.sent = []

    def template(self, language):
        return {"en": EN}.get(language)

    def send(self, *, to, origin, text, reference, template=None):
        self.sent.append({"to": to, "text": text, "template": template})
        return f"SM{len(self.sent):032d}"


@pytest.fixture
def world(domain):
    clock, jobs, sender = Clock(NOON), Jobs(), Sender()
    domain.__dict__.update(clock=clock, jobs=jobs, sender=sender, service=ConversationService(
        config=domain.config, store=domain.store, jobs=jobs, secret=SECRET, senders=lambda channel: sender, now=clock))
    threads = Threads(config=domain.config, store=domain.store, jobs=jobs, now=clock)
    for case_id, site, number, language in (("CASEEN01", "line-8", LINE_8, "en"), ("CASEFR01", "line-12", LINE_12,
                                                                                    "fr")):
        at = iso(NOON - timedelta(hours=1))
        domain.store.cases.put_case({
            "id": case_id, "message_id": f"whatsapp-SM{case_id}", "site": site, "status": "open", "urgency": "normal",
            "topic": "comfort", "nature": "complaint", "language": language, "text": "trop chaud",
            "customer_key": f"key-{case_id}", "received_at": at, "created_at": at, "recipients": {},
            "ttl": 2_000_000_000})
        threads.opened(case_id, {
            "id": f"whatsapp-SM{case_id}", "channel": "whatsapp", "received_at": at, "from_number": CUSTOMER,
            "to_number": number, "customer_key": f"key-{case_id}", "ttl": 2_000_000_000})
    return domain


def send_reply(world, case_id, text):
    reply = world.service.reply(case_id, text, "Sam")
    return world.service.send(case_id, reply.id), reply


def test_inside_the_window_a_staff_reply_is_free_text(world):
    world.clock.now = NOON + timedelta(hours=22)  # 23 hours after the customer wrote
    assert send_reply(world, "CASEFR01", "Désolé, on regarde")[0] == "sent"
    assert world.sender.sent == [{"to": CUSTOMER, "text": "Désolé, on regarde", "template": None}]


def test_outside_the_window_the_reply_goes_as_the_language_s_template_filled_on_one_line(world):
    world.clock.now = NOON + timedelta(hours=30)
    outcome, reply = send_reply(world, "CASEEN01", "Sorry for the wait.\nThe air conditioning is fixed")
    assert outcome == "sent"
    [sent] = world.sender.sent
    assert sent["template"] == whatsapp.TemplateSend("HX" + "a" * 32, {
        "1": "line 8", "2": "Sorry for the wait. The air conditioning is fixed"})
    [stored] = world.store.conversations.conversation("CASEEN01")
    assert stored.text == reply.text  # the conversation keeps what staff wrote


def test_outside_the_window_with_no_template_for_the_language_the_reply_is_refused_with_a_clear_409(world):
    world.clock.now = NOON + timedelta(days=2)
    with pytest.raises(ApiError) as refused:
        world.service.reply("CASEFR01", "Désolé", "Sam")
    assert refused.value.status == 409
    assert refused.value.message == ("WhatsApp's 24-hour window closed (the customer last wrote 2 days ago) and no "
                                     "approved template exists for fr: nothing can be sent until they write again")
    assert world.jobs.sent == [] and world.store.conversations.conversation("CASEFR01") == []


def test_the_customer_s_answer_opens_the_window_again(world):
    world.clock.now = NOON + timedelta(days=2)
    world.store.conversations.add_message(ConversationMessage(
        case_id="CASEFR01", id="whatsapp-SManswer", direction="in", at=iso(NOON + timedelta(days=1, hours=12)),
        text="Toujours trop chaud", channel="whatsapp", status="received", customer_key="key-CASEFR01"))
    assert send_reply(world, "CASEFR01", "On arrive")[0] == "sent"
    assert world.sender.sent[0]["template"] is None


def test_a_reply_held_past_the_window_is_sent_as_a_template_or_fails_saying_why(world):
    world.clock.now = NOON + timedelta(hours=22)
    english = world.service.reply("CASEEN01", "We are on it", "Sam")
    french = world.service.reply("CASEFR01", "On s'en occupe", "Sam")
    world.clock.now = NOON + timedelta(hours=26)  # the worker sends them late (a queue backlog, quiet hours)
    assert world.service.send("CASEEN01", english.id) == "sent"
    assert world.sender.sent[0]["template"].content_sid == EN.content_sid
    assert world.service.send("CASEFR01", french.id) == "refused"
    [failed] = world.store.conversations.conversation("CASEFR01")
    assert failed.status == "failed" and "no approved template exists for fr" in failed.error
    assert len(world.sender.sent) == 1


def test_other_channels_have_no_window(world, domain):
    class Sms(Sender):
        window_hours = 0

    sms = Sms()
    service = ConversationService(config=domain.config, store=domain.store, jobs=world.jobs, secret=SECRET,
                                  senders=lambda channel: sms, now=world.clock)
    world.clock.now = NOON + timedelta(days=5)
    reply = service.reply("CASEFR01", "Bonjour", "Sam")
    assert service.send("CASEFR01", reply.id) == "sent" and sms.sent[0]["template"] is None


# -- templates' configuration, and the sender against the Twilio stand-in ---------------------------------------
def test_the_shipped_templates_are_valid_and_a_folder_without_the_file_has_none(tmp_path):
    assert set(whatsapp.load_settings().templates) == {"en"}
    assert whatsapp.load_settings(tmp_path).templates == {}


@pytest.mark.parametrize(("text", "says"), [
    ('[templates.en]\ncontent_sid = "SM123"', "content_sid"),
    ('[templates.en]\ncontent_sid = "HX' + "0" * 32 + '"\nvariables = { "1" = "{name}" }', "unknown placeholder"),
    ('[templates.en]\ncontent_sid = "HX' + "0" * 32 + '"\nvariables = { "x" = "{text}" }', "1, 2, 3"),
    ('[templates.de]\ncontent_sid = "HX' + "0" * 32 + '"', "templates.de"),
    ("templates = [", "whatsapp.toml"),
])
def test_a_bad_template_configuration_fails_naming_the_file_and_the_problem(tmp_path, text, says):
    (tmp_path / "whatsapp.toml").write_text(text)
    with pytest.raises(ValueError, match="whatsapp.toml") as failed:
        whatsapp.load_settings(tmp_path)
    assert says in str(failed.value)


@pytest.fixture
def standin():
    from infra.twilio_standin import TwilioStandIn

    fake = TwilioStandIn(TWILIO_ACCOUNT, TWILIO_TOKEN, callbacks=False)
    url = fake.start()
    yield fake, url
    fake.stop()


def test_the_sender_posts_free_text_and_templates_with_whatsapp_addresses(standin):
    fake, url = standin
    sender = whatsapp.WhatsAppSender(account_sid=lambda: TWILIO_ACCOUNT, auth_token=lambda: TWILIO_TOKEN,
                                     api_url=url, status_url="https://voix.example.com/api/sms/twilio/status",
                                     templates=lambda: whatsapp.WhatsAppSettings(templates={"en": EN}))
    assert sender.template("en") == EN and sender.template("fr") is None
    sender.send(to=CUSTOMER, origin=LINE_8, text="Sorry", reference="CASEEN01.r1")
    sender.send(to=CUSTOMER, origin=LINE_8, text="Sorry", reference="CASEEN01.r2",
                template=EN.fill(text="Sorry", site="line 8"))
    free, templated = fake.sent
    assert (free["To"], free["From"], free["Body"]) == (f"whatsapp:{CUSTOMER}", f"whatsapp:{LINE_8}", "Sorry")
    assert "Body" not in templated and templated["ContentSid"] == EN.content_sid
    assert json.loads(templated["ContentVariables"]) == {"1": "line 8", "2": "Sorry"}


def test_twilio_s_refusal_of_a_whatsapp_send_means_what_whatsapp_s_codes_say(standin):
    from chalicelib.channels import InvalidRecipient, ReplyFailed

    assert isinstance(whatsapp.CHANNEL.failure("63016", "outside the window"), InvalidRecipient)
    fake, url = standin
    sender = whatsapp.WhatsAppSender(account_sid=lambda: TWILIO_ACCOUNT, auth_token=lambda: "wrong", api_url=url,
                                     status_url="https://voix.example.com/api/sms/twilio/status")
    with pytest.raises(ReplyFailed, match="20003"):
        sender.send(to=CUSTOMER, origin=LINE_8, text="Sorry", reference="CASEEN01.r1")


def test_the_channel_s_staff_sender_reads_the_configured_templates(monkeypatch):
    monkeypatch.setenv("TWILIO_API_URL", "http://127.0.0.1:9")
    sender = whatsapp.outbound(lambda name: None)
    assert sender.window_hours == 24 and sender.template("en").content_sid == "HX" + "0" * 31 + "1"
    assert sender.template("fr") is None and whatsapp.settings() is whatsapp.settings()  # read once


@pytest.mark.parametrize(("case", "language"), [
    ({"language": "fr", "site": "line-8"}, "fr"),
    ({"language": "other", "site": "line-12"}, "fr"),  # Spanish, say: their site's language, as Voix answers them
    ({"language": "other", "site": None}, "en"),  # no site: the deployment's
])
def test_a_template_is_chosen_in_the_language_voix_writes_to_the_customer_in(domain, case, language):
    from chalicelib.reply_window import language_of, template_for

    assert language_of(domain.config, case) == language
    assert template_for(object(), domain.config, case, [], NOON, "text") is None  # a channel with no window


# -- on moto: a staff reply on WhatsApp through the stand-in, and its signed status callbacks -------------------
@pytest.fixture
def twilio_api(monkeypatch, standin):
    fake, url = standin
    monkeypatch.setenv("TWILIO_API_URL", url)
    return fake


def test_a_staff_reply_goes_on_whatsapp_and_its_status_moves_forward_only_read_included(client, twilio_api):
    from urllib.parse import urlencode

    from tests.conftest import WEBHOOK_URL, auth, sign

    post_sms(client, wa(body="L8 the driver is drunk and dangerous"))
    drain()
    [case] = client.http.get("/api/cases", headers=auth()).json_body["items"]

    def reply(text):
        response = client.http.post(f"/api/cases/{case['id']}/reply", body=json.dumps({"text": text, "by": "Sam"}),
                                    headers={**auth(), "Content-Type": "application/json"})
        assert response.status_code == 202
        drain()
        return response.json_body["id"], twilio_api.sent[-1]

    def callback(sent, status, **extra):
        ref = sent["StatusCallback"].partition("?ref=")[2]
        params = {"AccountSid": TWILIO_ACCOUNT, "ApiVersion": "2010-04-01", "From": sent["From"], "To": sent["To"],
                  "MessageSid": sent["sid"], "MessageStatus": status, "SmsSid": sent["sid"], "SmsStatus": status,
                  "ChannelPrefix": "whatsapp", **extra}
        return client.http.post(f"/sms/twilio/status?ref={ref}", body=urlencode(params), headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(params, f"{WEBHOOK_URL}/status?ref={ref}")}).status_code

    def shown(reply_id):
        conversation = client.http.get(f"/api/cases/{case['id']}", headers=auth()).json_body["conversation"]
        return next((m["status"], m["error"]) for m in conversation if m["id"] == reply_id)

    first, sent = reply("Sorry, a manager is on the way")
    assert (sent["To"], sent["From"], sent["Body"]) == (f"whatsapp:{CUSTOMER}", f"whatsapp:{LINE_8}",
                                                        "Sorry, a manager is on the way")
    assert [callback(sent, s) for s in ("sent", "read", "delivered", "sent")] == [204] * 4  # out of order, repeated
    assert shown(first) == ("delivered", None)  # read is delivered; nothing moves it back
    second, sent = reply("Are you safe now?")
    assert callback(sent, "failed", ErrorCode="63016") == 204
    assert shown(second) == ("failed", "63016 Outside WhatsApp's 24-hour window: only a template may be sent")
