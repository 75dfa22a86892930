"""Two-way conversations on the in-memory fakes (issue 21): a staff reply's checks, its one send, its delivery
status only moving forward, and the customer's answer joining (reopening, raising) their case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import channels
from chalicelib.cases import OwnCase
from chalicelib.clock import iso
from chalicelib.conversations import Contact
from chalicelib.erasure import mark
from chalicelib.errors import ApiError
from chalicelib.replying import ConversationService, ReplyBusy
from chalicelib.threads import Threads

SECRET = b"test-customer-key-secret"
CUSTOMER, LINE_8 = "+447700900642", "+447700900008"
NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # London: not quiet hours


class Jobs:
    def __init__(self):
        self.sent: list[tuple[dict, int]] = []

    def send(self, job, delay_seconds=0):
        self.sent.append((job, delay_seconds))

    def send_many(self, jobs):
        self.sent += [(job, 0) for job in jobs]


class Sender:
    reports_delivery = True

    def __init__(self, fail: Exception | None = None):
        self.sent: list[dict] = []
        self.fail = fail

    def send(self, *, to, origin, text, reference):
        if self.fail:
            raise self.fail
        self.sent.append({"to": to, "origin": origin, "text": text, "reference": reference})
        return f"SM{len(self.sent):032d}"


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def world(domain):
    clock, jobs, sender = Clock(NOON), Jobs(), Sender()
    service = ConversationService(config=domain.config, store=domain.store, jobs=jobs, secret=SECRET,
                                  senders=lambda channel: sender, now=clock)
    threads = Threads(config=domain.config, store=domain.store, jobs=jobs, now=clock)
    domain.store.cases.put_case(a_case("CASE0001"))
    threads.opened("CASE0001", record("twilio-SM1", at=NOON - timedelta(minutes=5)))
    domain.__dict__.update(clock=clock, jobs=jobs, sender=sender, service=service, threads=threads)
    return domain


def a_case(case_id, **extra):
    return {"id": case_id, "message_id": "twilio-SM1", "site": "line-8", "status": "open", "urgency": "normal",
            "topic": "comfort", "nature": "complaint", "text": "too hot", "customer_key": "cust-1",
            "received_at": iso(NOON - timedelta(minutes=5)), "created_at": iso(NOON - timedelta(minutes=5)),
            "recipients": {}, "ttl": 2_000_000_000, **extra}


def record(message_id, *, at=NOON, text="too hot on this coach", urgency="normal", site="line-8", **extra):
    return {"id": message_id, "channel": "twilio", "received_at": iso(at), "from_number": CUSTOMER,
            "to_number": LINE_8, "customer_key": "cust-1", "text": text, "site": site, "topic": "comfort",
            "nature": "complaint", "urgency": urgency, "urgency_reason": "safety" if urgency == "high" else None,
            "language": "en", "rules": [], "ttl": 2_000_000_000, **extra}


def refusal(world, text="Sorry, coming now", by="Sam", case_id="CASE0001"):
    with pytest.raises(ApiError) as caught:
        world.service.reply(case_id, text, by)
    return caught.value.status, caught.value.message


# -- the reply's checks -------------------------------------------------------------------------------------
def test_a_reply_is_stored_queued_once_and_says_its_cost(world):
    reply = world.service.reply("CASE0001", "Sorry, I'm coming to your seat", "Sam")
    assert (reply.status, reply.segments, reply.encoding, reply.author, reply.scheduled_for) == (
        "queued", 1, "GSM-7", "Sam", None)
    assert world.jobs.sent == [({"type": "reply", "case_id": "CASE0001", "reply_id": reply.id}, 0)]
    assert CUSTOMER not in str(world.jobs.sent)  # the job names ids, never the number
    assert world.store.conversations.conversation("CASE0001") == [reply]
    assert world.service.reply("CASE0001", "Désolé 🙏", "Sam").encoding == "UCS-2"


@pytest.mark.parametrize(("text", "by", "status", "says"), [
    ("   ", "Sam", 400, "empty"),
    ("x" * 460, "Sam", 400, "at most 3"),
    ("Sorry you idiot", "Sam", 400, "forbidden word"),
    ("Sorry", "+44 7700 900123", 400, "never a phone number"),
    ("Sorry", "", 400, "name"),
])
def test_a_reply_that_breaks_a_rule_is_refused_and_nothing_is_queued(world, text, by, status, says):
    got, message = refusal(world, text, by)
    assert got == status and says in message
    assert world.jobs.sent == [] and world.store.conversations.conversation("CASE0001") == []


def test_nobody_answers_an_unknown_an_erased_or_an_opted_out_customer(world):
    assert refusal(world, case_id="NOCASE99")[0] == 404
    world.store.customers.set_consent("cust-1", "opted_out", at=iso(NOON), source="twilio:keyword",
                                      message_id="twilio-SMstop", expires_at=2_000_000_000)
    assert refusal(world) == (409, "the customer opted out (STOP): no reply is sent")
    world.store.customers.erase_customer("cust-1", mark=lambda kind, value: mark(SECRET, kind, value), at=iso(NOON),
                                         expires_at=2_000_000_000)
    assert refusal(world)[0] == 410  # the case's tombstone
    assert world.jobs.sent == []


def test_a_customer_whose_number_is_no_longer_kept_cannot_be_texted(world):
    world.clock.now = NOON + timedelta(days=31)  # contact_days (30) after their last message
    status, message = refusal(world)
    assert status == 409 and "no longer kept" in message


def test_a_complaint_about_the_one_replying_is_not_theirs_to_answer(world):
    world.store.cases.put_case(a_case("CASE0002", about={"names": ["Sam Okafor"], "numbers": []}))
    with pytest.raises(OwnCase):
        world.service.reply("CASE0002", "Sorry", "Sam")


def test_replies_per_case_per_hour_are_capped(world):
    for n in range(5):
        world.clock.now = NOON + timedelta(minutes=n)
        world.service.reply("CASE0001", f"reply {n}", "Sam")
    status, message = refusal(world)
    assert status == 429 and "5 replies in the last hour" in message
    world.clock.now = NOON + timedelta(minutes=61)  # the first has left the rolling hour
    assert world.service.reply("CASE0001", "one more", "Sam").status == "queued"


def test_a_reply_in_quiet_hours_is_held_until_they_end_unless_the_case_is_urgent(world):
    world.clock.now = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)  # 22:30 in London: quiet until 09:00
    held = world.service.reply("CASE0001", "We will look into it tomorrow", "Sam")
    assert held.status == "scheduled" and held.scheduled_for == "2026-12-02T09:00:00.000Z"
    assert world.jobs.sent[-1][1] == 900  # SQS's longest delay; the worker holds it again when it comes up
    assert world.service.send("CASE0001", held.id) == "held" and world.sender.sent == []
    world.clock.now = datetime(2026, 12, 2, 9, 0, 1, tzinfo=UTC)
    assert world.service.send("CASE0001", held.id) == "sent" and len(world.sender.sent) == 1
    world.store.cases.put_case(a_case("CASE0003", urgency="high"))
    world.threads.opened("CASE0003", record("twilio-SM3"))
    world.clock.now = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    assert world.service.reply("CASE0003", "Calling you now", "Sam").status == "queued"


# -- the send ----------------------------------------------------------------------------------------------
def test_a_reply_is_sent_once_from_the_number_written_to_and_the_case_gets_its_first_reply(world):
    reply = world.service.reply("CASE0001", "Sorry, coming now", "Sam")
    assert world.service.send("CASE0001", reply.id) == "sent"
    assert world.service.send("CASE0001", reply.id) == "done"  # a retry of the job sends nothing more
    assert world.sender.sent == [{"to": CUSTOMER, "origin": LINE_8, "text": "Sorry, coming now",
                                  "reference": f"CASE0001.{reply.id}"}]
    [stored] = world.store.conversations.conversation("CASE0001")
    assert stored.status == "queued" and stored.provider_id == "SM" + "0" * 31 + "1"  # callbacks say the rest
    assert world.store.cases.get_case("CASE0001")["first_reply_at"] == iso(NOON)


def test_a_reply_queued_before_a_stop_or_an_erasure_is_never_sent(world):
    before_stop = world.service.reply("CASE0001", "Sorry", "Sam")
    world.store.customers.set_consent("cust-1", "opted_out", at=iso(NOON), source="twilio:keyword",
                                      message_id="twilio-SMstop", expires_at=2_000_000_000)
    assert world.service.send("CASE0001", before_stop.id) == "refused" and world.sender.sent == []
    [stored] = world.store.conversations.conversation("CASE0001")
    assert stored.status == "failed" and "opted out" in stored.error
    world.store.customers.set_consent("cust-1", "opted_in", at=iso(NOON + timedelta(seconds=1)),
                                      source="twilio:keyword", message_id="twilio-SMstart", expires_at=2_000_000_000)
    before_erasure = world.service.reply("CASE0001", "Sorry again", "Sam")
    world.store.customers.erase_customer("cust-1")
    assert world.service.send("CASE0001", before_erasure.id) == "gone" and world.sender.sent == []


def test_a_send_claimed_by_another_worker_is_retried_and_a_carrier_refusal_is_final(world):
    reply = world.service.reply("CASE0001", "Sorry", "Sam")
    now = int(NOON.timestamp())
    assert world.store.conversations.claim_send(reply, now=now, until=now + 60)
    with pytest.raises(ReplyBusy):
        world.service.send("CASE0001", reply.id)
    world.store.conversations.release_send(reply)
    world.sender.fail = channels.Throttled("slow down")
    with pytest.raises(channels.ReplyFailed):
        world.service.send("CASE0001", reply.id)  # the job is retried
    world.sender.fail = channels.RecipientOptedOut("21610 The customer opted out (STOP)")
    assert world.service.send("CASE0001", reply.id) == "refused"
    [stored] = world.store.conversations.conversation("CASE0001")
    assert (stored.status, stored.error) == ("failed", "21610 The customer opted out (STOP)")
    assert "first_reply_at" not in world.store.cases.get_case("CASE0001")


def test_delivery_reports_only_move_a_status_forward(world):
    reply = world.service.reply("CASE0001", "Sorry", "Sam")
    world.service.send("CASE0001", reply.id)
    sid = world.store.conversations.conversation("CASE0001")[0].provider_id
    assert world.service.delivered("CASE0001", reply.id, "delivered", provider_id=sid) is True
    assert world.service.delivered("CASE0001", reply.id, "sent", provider_id=sid) is False  # late
    assert world.service.delivered("CASE0001", reply.id, "delivered", provider_id=sid) is False  # twice
    assert world.service.delivered("CASE0001", reply.id, "undelivered", provider_id=sid, error="30003") is False
    assert world.service.delivered("CASE0001", reply.id, "delivered", provider_id="SM" + "f" * 32) is False
    assert world.service.delivered("CASE0001", "not-a-reply", "delivered") is False
    assert world.store.conversations.conversation("CASE0001")[0].status == "delivered"


# -- the customer's answer ---------------------------------------------------------------------------------
def test_the_customer_s_answer_joins_their_open_case_and_keeps_the_way_back(world):
    answer = record("twilio-SM2", at=NOON + timedelta(minutes=3), text="row 12, thanks", urgency="normal",
                    site=None, from_number="+447700900642")
    assert world.threads.join(answer) == "CASE0001"
    assert world.threads.join(answer) == "CASE0001"  # a retry adds nothing
    [joined] = world.store.conversations.conversation("CASE0001")
    assert (joined.direction, joined.text, joined.author, joined.status) == ("in", "row 12, thanks", None, "received")
    assert world.store.conversations.contact("CASE0001", int(NOON.timestamp())) == Contact(
        case_id="CASE0001", number=CUSTOMER, origin=LINE_8, channel="twilio", customer_key="cust-1",
        expires_at=int((NOON + timedelta(minutes=3, days=30)).timestamp()))
    assert world.threads.join(record("twilio-SM1")) is None  # the message that opened it opens it
    assert world.threads.join(record("twilio-SM4", site="line-12")) is None  # about another site
    assert world.threads.join(record("twilio-SM5", to_number="+447700900000")) is None  # to another number


def test_an_answer_within_the_window_reopens_a_resolved_case_once_and_later_opens_a_new_one(world):
    world.store.cases.transition_case("CASE0001", allowed_from=["open"], to_status="resolved",
                                      at=iso(NOON - timedelta(days=6)), by="Sam", note=None)
    assert world.threads.join(record("twilio-SM2")) == "CASE0001"
    case = world.store.cases.get_case("CASE0001")
    assert (case["status"], case["reopened_at"], case["reopen_count"]) == ("open", iso(NOON), 1)
    assert world.threads.join(record("twilio-SM3")) == "CASE0001"  # open now: joins, no second reopening
    [row] = world.store.counters.site_counts("line-8", ["H#2026-12-01T12"], ["reopened"]).values()
    assert row["reopened"] == 1
    world.store.cases.transition_case("CASE0001", allowed_from=["open"], to_status="resolved",
                                      at=iso(NOON - timedelta(days=8)), by="Sam", note=None)
    assert world.threads.join(record("twilio-SM6")) is None  # resolved 8 days ago: past the 7-day window


def test_an_urgent_answer_raises_the_case_and_alerts_once(world):
    urgent = record("twilio-SM2", text="the driver is drunk, he is swerving", urgency="high")
    assert world.threads.join(urgent) == "CASE0001"
    case = world.store.cases.get_case("CASE0001")
    assert (case["urgency"], case["alert_text"], case["customer_number"]) == (
        "high", "the driver is drunk, he is swerving", CUSTOMER)
    alerts = [job for job, _ in world.jobs.sent if job["type"] == "alert"]
    assert alerts and {job["recipient"] for job in alerts} == set(case["recipients"])
    world.jobs.sent.clear()
    world.threads.join(urgent)  # a retry: the alerts not yet sent are queued again, none added
    assert {job["recipient"] for job, _ in world.jobs.sent} == set(case["recipients"])
    world.jobs.sent.clear()
    world.threads.join(record("twilio-SM3", text="he is still swerving", urgency="high"))
    assert world.jobs.sent == []  # urgent already: no second round of alerts


def test_a_reply_to_an_end_user_messaging_customer_goes_by_send_text_message(world):
    """moto has no SendTextMessage: botocore's Stubber checks the exact call, and a managed opt-out's refusal."""
    import boto3
    from botocore.stub import Stubber

    from chalicelib.channels.eum import EndUserMessagingSender

    client = boto3.client("pinpoint-sms-voice-v2", region_name="eu-west-2")
    world.store.cases.put_case(a_case("CASE0004", message_id="eum-abc"))
    world.threads.opened("CASE0004", record("eum-abc", channel="eum", to_number="+33639980012"))
    eum = ConversationService(config=world.config, store=world.store, jobs=world.jobs, secret=SECRET,
                              senders=lambda channel: EndUserMessagingSender(client), now=world.clock)
    first, second = eum.reply("CASE0004", "Désolé, on arrive", "Aline"), eum.reply("CASE0004", "Encore", "Aline")
    assert first.channel == "eum"
    with Stubber(client) as stub:
        stub.add_response("send_text_message", {"MessageId": "eum-out-1"}, {
            "DestinationPhoneNumber": CUSTOMER, "OriginationIdentity": "+33639980012",
            "MessageBody": "Désolé, on arrive",
            "MessageType": "TRANSACTIONAL", "Context": {"voix_message": f"CASE0004.{first.id}"}})
        stub.add_client_error("send_text_message", "ValidationException", http_status_code=400, modeled_fields={
            "Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT", "Message": "opted out"})
        assert eum.send("CASE0004", first.id) == "sent"
        assert eum.send("CASE0004", second.id) == "refused"
        stub.assert_no_pending_responses()
    stored = {m.id: m for m in world.store.conversations.conversation("CASE0004")}
    sent, refused = stored[first.id], stored[second.id]
    assert (sent.status, sent.provider_id) == ("sent", "eum-out-1")  # no status callbacks follow on this channel
    assert refused.status == "failed"


@pytest.mark.parametrize(("language", "says"), [("en", "will answer you here, by text, within 2 hours"),
                                                 ("fr", "vous répond ici, par SMS, sous 2 h")])
def test_the_answer_to_a_question_promises_a_reply_by_text_and_no_longer_says_there_can_be_none(domain, language,
                                                                                                   says):
    from chalicelib.classification import Classification
    from chalicelib.replies import build_reply

    question = Classification(site=None, topic="other", nature="question", urgency="normal", language=language,
                              rules=[])
    text = build_reply(domain.config, question, "twilio-SMq", SECRET).text
    assert says in text and "cannot" not in text and "pas encore" not in text


# -- the remaining refusals and failures ---------------------------------------------------------------------
def test_a_reply_not_queued_is_failed_and_a_case_without_a_customer_or_erased_is_refused(world):
    from chalicelib.errors import Unavailable
    from chalicelib.jobs import QueueError

    def down(job, delay_seconds=0):
        raise QueueError("SQS down")

    world.jobs.send = down
    with pytest.raises(Unavailable):
        world.service.reply("CASE0001", "Sorry", "Sam")
    [stored] = world.store.conversations.conversation("CASE0001")
    assert (stored.status, stored.error) == ("failed", "not queued: retry")
    world.store.cases.put_case(a_case("CASE0005", customer_key=None))
    assert refusal(world, case_id="CASE0005") == (409, "this case has no customer to answer")
    world.store.customers.erase_customer("nobody", mark=lambda kind, value: mark(SECRET, kind, value), at=iso(NOON))
    world.store.cases.put_case(a_case("CASE0006", customer_key="nobody"))
    assert refusal(world, case_id="CASE0006") == (410, "the customer was erased: nothing is sent")


def test_a_final_failure_is_recorded_and_a_channel_without_a_sender_is_a_failure(world):
    reply = world.service.reply("CASE0001", "Sorry", "Sam")
    world.sender.fail = channels.ReplyFailed("Twilio did not answer")
    with pytest.raises(channels.ReplyFailed):
        world.service.send("CASE0001", reply.id, final=True)
    [stored] = world.store.conversations.conversation("CASE0001")
    assert (stored.status, stored.error) == ("failed", "Twilio did not answer")
    assert world.service.send("CASE0001", reply.id) == "done"  # failed for good: a redrive sends nothing
    silent = ConversationService(config=world.config, store=world.store, jobs=world.jobs, secret=SECRET,
                                 now=world.clock)
    other = silent.reply("CASE0001", "Sorry again", "Sam")
    with pytest.raises(channels.ReplyFailed):
        silent.send("CASE0001", other.id)
    world.sender.fail = RuntimeError("a bug")
    with pytest.raises(RuntimeError):
        world.service.send("CASE0001", other.id)
    assert world.store.conversations.claim_send(other, now=int(NOON.timestamp()), until=0)  # released each time


def test_a_reply_sent_by_another_worker_meanwhile_is_not_sent_again(world, monkeypatch):
    reply = world.service.reply("CASE0001", "Sorry", "Sam")
    monkeypatch.setattr(world.store.conversations, "claim_send", lambda *a, **k: False)
    world.store.conversations.record_sent(reply, "SMother")
    real = world.store.conversations.get_message
    calls = []

    def first_unsent(case_id, at, message_id):  # read before the other worker recorded its send, then after
        calls.append(message_id)
        found = real(case_id, at, message_id)
        return type(found)(**{**found.as_dict(), "provider_id": None}) if len(calls) == 1 else found

    monkeypatch.setattr(world.store.conversations, "get_message", first_unsent)
    assert world.service.send("CASE0001", reply.id) == "done" and world.sender.sent == []


def test_the_thread_ignores_messages_without_a_customer_and_a_reopening_counted_once(world, monkeypatch):
    from chalicelib.errors import Unavailable

    world.threads.opened("CASE0001", record("twilio-SM7", customer_key=None))
    assert world.threads.join(record("twilio-SM8", customer_key=None)) is None
    world.threads.opened("CASE0001", record("twilio-SM9", from_number=None))  # parked without the number: none kept
    world.store.cases.transition_case("CASE0001", allowed_from=["open"], to_status="resolved", at=iso(NOON),
                                      by="Sam", note=None)

    def counters_down(**kwargs):
        raise Unavailable("counters down")

    monkeypatch.setattr(world.store.counters, "add_counts", counters_down)
    assert world.threads.join(record("twilio-SM10")) == "CASE0001"  # the reopening stands, uncounted (logged)
    assert world.store.cases.get_case("CASE0001")["status"] == "open"
    monkeypatch.setattr(world.store.cases, "reopen_case", lambda *a, **k: None)  # reopened meanwhile
    world.threads._reopen(world.store.cases.get_case("CASE0001"), NOON)


def test_the_twilio_sender_reads_twilio_s_refusals_through_the_channel_s_meanings():
    """Twilio's Messages API answers as documented: 201 with the message, 4xx with a code (21610: opted out)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from chalicelib.channels.twilio import TwilioMessagesSender

    answers = [(201, b'{"sid": "SM' + b"a" * 32 + b'"}'), (400, b'{"code": 21610, "message": "unsubscribed"}'),
               (429, b'{"code": 20429}'), (500, b"oops"), (201, b"{}")]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            status, body = answers.pop(0)
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sender = TwilioMessagesSender(account_sid=lambda: "AC" + "1" * 32, auth_token=lambda: "t",
                                  api_url=f"http://127.0.0.1:{server.server_address[1]}",
                                  status_url="https://voix.example.com/sms/twilio/status")
    send = {"to": CUSTOMER, "origin": LINE_8, "text": "hi", "reference": "CASE0001.r1"}
    try:
        assert sender.send(**send) == "SM" + "a" * 32
        with pytest.raises(channels.RecipientOptedOut, match="21610 unsubscribed"):
            sender.send(**send)
        with pytest.raises(channels.Throttled):
            sender.send(**send)
        with pytest.raises(channels.ReplyFailed):
            sender.send(**send)
        with pytest.raises(channels.ReplyFailed, match="no message sid"):
            sender.send(**send)
        with pytest.raises(ValueError):
            sender.send(**{**send, "reference": "a b&c=d"})
    finally:
        server.shutdown()
    down = TwilioMessagesSender(account_sid=lambda: "AC" + "1" * 32, auth_token=lambda: "t",
                                api_url="http://127.0.0.1:9", status_url="https://x/status", timeout=2)
    with pytest.raises(channels.ReplyFailed, match="did not answer"):
        down.send(**send)


def test_an_urgent_answer_about_the_driver_pages_his_managers_and_he_may_not_act_on_the_case(world):
    answer = record("twilio-SM2", text="the driver is drunk, he is swerving", urgency="high", about_staff=True)
    world.threads.join(answer)
    case = world.store.cases.get_case("CASE0001")
    assert case["about_staff"] and case["about"]["numbers"] == ["+447700900801"]
    assert {r["role"] for r in case["recipients"].values()} == {"site_manager", "care"}  # never the driver
    with pytest.raises(OwnCase):
        world.cases.act("CASE0001", "acknowledged", by="SMS +447700900801")


def test_the_status_url_is_the_webhook_s_unless_configured_and_no_reply_without_the_service(domain, monkeypatch):
    from chalicelib import webhook_url
    from chalicelib.api import OperatorApi

    monkeypatch.setenv("TWILIO_WEBHOOK_URL", "https://voix.example.com/sms/twilio")
    assert webhook_url.status_url() == "https://voix.example.com/sms/twilio/status"
    monkeypatch.setenv("TWILIO_STATUS_URL", "https://status.example.com/cb")
    assert webhook_url.status_url() == "https://status.example.com/cb"
    api = OperatorApi(config=domain.config, store=domain.store, cases=domain.cases, offers=domain.offers)
    with pytest.raises(ApiError) as caught:
        api.reply("CASE0001", {"text": "hello", "by": "Sam"})
    assert caught.value.status == 503


def test_a_carrier_s_words_keep_no_phone_number(world):
    from chalicelib.replying import carrier_error, without_numbers

    said = "The 'To' number +447700900642 is not a valid phone number."
    assert "+447700900642" not in without_numbers(said) and "642" in without_numbers(said)
    assert "0642" not in carrier_error("21999", said)
    failing = ConversationService(config=world.config, store=world.store, jobs=world.jobs, secret=SECRET,
                                  senders=lambda channel: Sender(channels.InvalidRecipient(said)), now=world.clock)
    reply = failing.reply("CASE0001", "Sorry", "Sam")
    assert failing.send("CASE0001", reply.id) == "refused"
    [stored] = world.store.conversations.conversation("CASE0001")
    assert stored.status == "failed" and "7700900642" not in stored.error and "900642" not in stored.error


def test_a_reply_by_mail_is_not_held_for_quiet_hours_a_mail_waits_in_the_inbox(world):
    world.store.cases.put_case(a_case("CASE0009", message_id="email-m9"))
    world.threads.opened("CASE0009", record("email-m9", channel="email", from_number="ann@mail.example.net",
                                            to_number="leeds@feedback.voix.example", site="store-leeds"))
    world.clock.now = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)  # 22:30 in London: an SMS would wait until 09:00
    reply = world.service.reply("CASE0009", "We are sorry: the fitting rooms are being cleaned now", "Sam")
    assert (reply.status, reply.scheduled_for) == ("queued", None)
    assert channels.get("email").rings is False and channels.get("twilio").rings is True
