"""Receiving one customer SMS: classify, answer, store once, hand over to the worker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib import channels
from chalicelib.cases import CaseService, promises_call_back
from chalicelib.classification import Classifier, media_only
from chalicelib.clock import day_key, hour_key, iso, parse_time, utcnow
from chalicelib.configuration import Config, Localised
from chalicelib.conversations import MailThread
from chalicelib.erasure import mark
from chalicelib.errors import Unavailable
from chalicelib.jobs import JobQueue, QueueError
from chalicelib.keywords import keyword, staff_command
from chalicelib.limits import SenderWindow
from chalicelib.models import InboundMessage
from chalicelib.observability import logger as log  # JSON, with the correlation id
from chalicelib.observability import record_message
from chalicelib.offers import OfferRefused, OfferService
from chalicelib.phone import customer_key, mask
from chalicelib.ports import Messages, Stores
from chalicelib.replies import Reply, build_reply, reply_language, without_offer


@dataclass(frozen=True)
class IngestResult:
    message_id: str
    reply: str
    duplicate: bool
    record: dict[str, Any]
    parked: bool = False
    kind: str = "feedback"  # feedback | keyword | staff | survey | dropped | erased: only feedback is stored, counted


CONSENT_REPLIES = {
    "opt_out": Localised(
        en="You are unsubscribed: no more surveys or offers from us. Reply START to subscribe again.",
        fr="Vous etes desinscrit : plus d'enquetes ni d'offres de notre part. Repondez START pour vous reinscrire."),
    "opt_in": Localised(
        en="You are subscribed again to our surveys and offers. Reply STOP to opt out.",
        fr="Vous etes de nouveau inscrit a nos enquetes et offres. Repondez STOP pour vous desinscrire."),
}
REPLY_CLAIM_SECONDS = 30  # the longest timeout of a function sending replies (inbound_email, .chalice/config.json)
RETRY_AFTER_SECONDS = 15  # Twilio's webhook timeout: a redelivery before it is a concurrent duplicate
STAFF_RETRY = "Voix: that could not be recorded just now. Please send it again in a minute."
STAFF_HELP = ("Voix: to acknowledge a case, reply OK and its code, e.g. OK 4821 (RESOLU 4821 to close it); "
              "to answer its customer, R 4821 and your text.")
STAFF_NO_RELAY = "Voix: answering customers by SMS is not set up here: use the dashboard."


def message_record(message: InboundMessage, classification: Any, reply: Any, *,
                   secret: bytes, retention_days: int, reply_status: str) -> dict[str, Any]:
    """The stored form of a message. Holds the full number only until the worker is done."""
    received = message.received_at
    stamp = iso(received)
    return {
        "id": message.id,
        "channel": message.channel,
        "channel_message_id": message.channel_message_id,
        "counted_by_channel": True,  # its count carries ch_<channel> fields (its corrections move them)
        "received_at": stamp,
        "hour": hour_key(received),
        "day": day_key(received),
        "from_number": message.from_number,
        "from_masked": mask(message.from_number),
        "customer_key": customer_key(message.from_number, secret),
        "to_number": message.to_number,
        "text": message.body,
        "num_media": message.num_media,
        "site": classification.site,
        "topic": classification.topic,
        "nature": classification.nature,
        "urgency": classification.urgency,
        "urgency_reason": classification.urgency_reason,
        "about_staff": classification.about_staff,
        "language": classification.language,
        "rules": classification.rules,
        "reply": reply.text,
        "reply_rule": reply.rule,
        "reply_status": reply_status,
        "offer_code": reply.offer_code,
        "ttl": int((received + timedelta(days=retention_days)).timestamp()),
        **({"withheld": message.withheld} if message.withheld else {}),
        **({"thread": message.thread.model_dump(mode="json")} if message.thread else {}),
    }


class IngestService:
    """Receiving one inbound message, whatever its channel: staff commands, keywords (STOP, HELP),
    survey answers and feedback; feedback is classified, answered and stored exactly once."""

    def __init__(self, *, config: Config, classifier: Classifier, store: Stores, jobs: JobQueue,
                 customer_secret: bytes, retention_days: int, now: Callable[[], datetime] = utcnow,
                 cases: CaseService | None = None, offers: OfferService | None = None, surveys: Any = None,
                 senders: Callable[[str], channels.ReplySender] | None = None, relay: Any = None):
        self._config = config
        self._classifier = classifier
        self._store = store
        self._jobs = jobs
        self._secret = customer_secret
        self._retention_days = retention_days
        self._now = now
        self._cases = cases or CaseService(config=config, cases=store.cases, counters=store.counters, jobs=jobs,
                                                now=now)
        self._offers = offers or OfferService(config=config, offers=store.offers, now=now)
        self._surveys = surveys
        self._relay = relay  # "R <code> <text>" from staff: chalicelib.relay.StaffRelay
        self._senders = senders
        self._window = SenderWindow(config.deployment.sender_messages_per_minute)

    def receive(self, message: InboundMessage) -> IngestResult:
        """Ingest ``message`` and answer it the way its channel does.

        A channel replying in the webhook's answer (Twilio's TwiML) gets the reply in the result;
        any other is sent the reply by its API here, once: a redelivered message whose reply went
        out already (or was refused for an opt-out) is not answered again. A send that fails for
        another reason raises :class:`~chalicelib.channels.ReplyFailed`, so that the trigger's
        redelivery tries again.
        """
        channel = channels.get(message.channel)
        result = self.ingest(message, reply_status="twiml" if channel.replies_in_answer else "pending")
        if result.kind == "feedback":
            record_message(result.record, result.duplicate)
        log.info("sms received", extra={"channel": channel.name, "kind": result.kind, "duplicate": result.duplicate,
                                        "site": result.record.get("site"), "topic": result.record.get("topic"),
                                        "nature": result.record.get("nature")})
        if not channel.replies_in_answer:
            self._send_reply(message, result)
        return result

    def _send_reply(self, message: InboundMessage, result: IngestResult) -> None:
        """The reply by the channel's API; a feedback's ``reply_status`` says whether it went out."""
        if result.kind != "feedback":
            if result.reply:
                try:
                    self._send(message, result.reply)
                except channels.RecipientOptedOut:  # a STOP the carrier answered already: recorded, nothing to add
                    log.info("reply not sent: the number opted out at the carrier")
            return
        if result.record.get("reply_status") in ("sent", "opted_out", "withheld"):
            return
        if not result.parked and not self._claim_reply(message.id):
            log.info("reply to message %s is being sent by another delivery", message.id)
            return
        status = "sent"
        try:
            self._send(message, result.reply, result.record.get("thread"))
        except channels.RecipientOptedOut:  # the feedback is kept; the carrier will not deliver an answer
            status = "opted_out"
        except channels.ReplyFailed:  # released: the redelivery tries again
            if not result.parked:
                self._store.messages.set_reply_status(message.id, "pending")
            raise
        if not result.parked:
            self._store.messages.set_reply_status(message.id, status)

    def _claim_reply(self, message_id: str) -> bool:
        """One delivery sends the reply: two overlapping deliveries of one message (SNS's at-least-once) race
        for a conditional claim; a claim older than a function's timeout is a dead one's, and taken over."""
        now = self._now()
        return self._store.messages.claim_reply(message_id, at=iso(now),
                                                stale_before=iso(now - timedelta(seconds=REPLY_CLAIM_SECONDS)))

    def _send(self, message: InboundMessage, text: str, thread: dict[str, Any] | None = None) -> None:
        if self._senders is None:
            raise RuntimeError(f"no sender for channel {message.channel}")
        found = MailThread.model_validate(thread) if thread else message.thread
        self._senders(message.channel).send(to=message.from_number, origin=message.to_number, text=text,
                                            reference=message.id, **({"thread": found} if found else {}))

    def ingest(self, message: InboundMessage, *, reply_status: str = "twiml") -> IngestResult:
        """Store ``message`` once and return the reply to send.

        A duplicate delivery gets the reply given the first time. If DynamoDB is
        down the message is parked on the queue (the worker stores it later); if
        the queue is down too, :class:`Unavailable` is raised and nothing is kept.
        """
        if self._config.is_staff(message.from_number):
            return self._staff(message)
        if self._erased(message):  # a replay of an erased customer's message: answered with nothing, nothing kept
            log.warning("message %s was erased: not stored again", message.id)
            return IngestResult(message.id, "", duplicate=True, record={"id": message.id}, kind="erased")
        # a suspect or automatic e-mail is stored, never answered: no keyword in it is acted on
        found = None if message.withheld else message.carrier_keyword or keyword(message.body)
        if found:  # before the flood window: a STOP is always heard
            return self._keyword(message, found)
        if not self._window.allow(message.from_number, message.received_at.timestamp(), message.id):
            log.warning("flood from %s: message %s dropped", mask(message.from_number), message.id)
            return IngestResult(message.id, "", duplicate=False, record={"id": message.id}, kind="dropped")
        if self._surveys is not None and not message.withheld:
            try:
                answer = self._surveys.answer(message.from_number, message.body, message.id)
            except Unavailable as exc:  # kept as feedback (parked if DynamoDB stays down): never lost
                log.warning("survey answer not recorded (storage unavailable) for message %s: %s", message.id, exc)
                answer = None
            if answer is not None:
                return IngestResult(message.id, answer.reply, duplicate=False, record={"id": message.id},
                                    kind="survey")
        classification = media_only(self._classifier.classify(message.body, message.to_number), message.body,
                                    message.num_media)
        reply = build_reply(self._config, classification, message.id, self._secret,
                            can_call=channels.get(message.channel).can_call)
        if message.withheld:
            reply, reply_status = Reply(text="", rule="withheld"), "withheld"
        elif message.answers_our_reply:  # joins its case as any answer does; answering it could loop
            reply, reply_status = Reply(text="", rule="answers our automatic reply"), "withheld"
        elif reply.offer_code:
            reply = self._with_offer(message, classification, reply)
        if message.thread:  # the reply's subject is in the customer's language when theirs has none
            message = message.model_copy(update={"thread": message.thread.model_copy(
                update={"language": reply_language(self._config, classification)})})
        record = message_record(message, classification, reply, secret=self._secret,
                                retention_days=self._retention_days, reply_status=reply_status)
        try:
            existing = self._store.messages.put_message(record)
        except Unavailable as exc:
            self._park({"type": "store", "message": parked_record(record)}, exc)
            return IngestResult(message.id, reply.text, duplicate=False, record=record, parked=True)

        if existing is not None:
            if "processed_at" not in existing and self._stale(existing):
                # a retry after the first delivery died between its put and its enqueue (the
                # sweeper would catch it too, minutes later); a concurrent duplicate is not that
                self._enqueue(existing)
            return IngestResult(message.id, existing.get("reply") or reply.text, duplicate=True, record=existing)

        self._enqueue(record)
        return IngestResult(message.id, reply.text, duplicate=False, record=record)

    def _staff(self, message: InboundMessage) -> IngestResult:
        """A staff number: "OK 4821" and the like act on a case; anything else gets the how-to."""
        command = staff_command(message.body)
        try:
            if command and command.action == "reply":
                reply = self._relay.relay(message.from_number, command, message.id) if self._relay \
                    else STAFF_NO_RELAY
            else:
                reply = self._cases.staff_reply(message.from_number, command) if command else STAFF_HELP
        except Unavailable as exc:
            log.warning("staff command %s not carried out (storage unavailable): %s", message.id, exc)
            reply = STAFF_RETRY
        return IngestResult(message.id, reply, duplicate=False, record={"id": message.id}, kind="staff")

    def _erased(self, message: InboundMessage) -> bool:
        """Whether this message id was erased with its sender (a keyed tombstone, kept for the retention period)."""
        try:
            return self._store.customers.tombstone(mark(self._secret, "message", message.id)) is not None
        except Unavailable as exc:  # DynamoDB down: the message is parked, and the worker checks again
            log.warning("erasure tombstone of message %s not checked: %s", message.id, exc)
            return False

    def _stale(self, existing: dict[str, Any]) -> bool:
        try:
            return (self._now() - parse_time(existing["received_at"])).total_seconds() >= RETRY_AFTER_SECONDS
        except (KeyError, ValueError):
            return True

    def _with_offer(self, message: InboundMessage, classification: Any, reply: Any) -> Any:
        """Issue the reply's offer within the budgets, or give the reply without one: never a dead code."""
        try:
            self._offers.issue(
                site=classification.site, customer_key=customer_key(message.from_number, self._secret),
                code=reply.offer_code, message_id=message.id,
                expires_at=int((message.received_at + timedelta(days=self._retention_days)).timestamp()))
            return reply
        except OfferRefused as exc:
            log.info("no offer for message %s: %s", message.id, exc.args[0])
        except Unavailable as exc:
            log.warning("offer not issued (storage unavailable) for message %s: %s", message.id, exc)
        return without_offer(self._config, classification, reply.rule)

    def _keyword(self, message: InboundMessage, found: str) -> IngestResult:
        """STOP, START, HELP and their kin: consent recorded with its time and source, one answer.

        Where the carrier answered already (Twilio Advanced Opt-Out, End User Messaging managed
        opt-outs), Voix records the change and stays silent. A repeated STOP is not answered again.
        """
        carrier = message.carrier_keyword is not None or channels.get(message.channel).carrier_handles_stop(
            self._config)
        site = self._config.site_by_number(message.to_number)
        language = site.language if site else self._config.deployment.default_language
        record = {"id": message.id, "keyword": found}
        if found == "help":
            return IngestResult(message.id, "" if carrier else self._config.deployment.help_text.get(language),
                                duplicate=False, record=record, kind="keyword")
        change = {
            "customer_key": customer_key(message.from_number, self._secret),
            "status": "opted_out" if found == "opt_out" else "opted_in",
            "at": iso(message.received_at), "source": f"{message.channel}:{'carrier' if carrier else 'keyword'}",
            "message_id": message.id,
            "expires_at": int((message.received_at + timedelta(days=self._retention_days)).timestamp()),
        }
        try:
            previous = self._store.customers.set_consent(**change)
            if found == "opt_out":  # in the middle of a survey: no further question, ever
                self._store.surveys.end_conversation(change["customer_key"])
            else:  # an opt-out kept through an erasure is lifted too
                self._store.customers.lift_suppression(mark(self._secret, "opt-out", change["customer_key"]))
        except Unavailable as exc:
            self._park({"type": "consent", "change": change}, exc)
            previous = None
        changed = previous != change["status"]
        reply = "" if carrier or not changed else CONSENT_REPLIES[found].get(language)
        return IngestResult(message.id, reply, duplicate=not changed, record=record, kind="keyword")

    def _park(self, job: dict[str, Any], cause: Unavailable) -> None:
        """DynamoDB refused: hand the write to the worker through the queue, or refuse the request."""
        log.warning("DynamoDB unavailable, parking a %s job on the queue: %s", job["type"], cause)
        try:
            self._jobs.send(job)
        except QueueError as queue_exc:
            raise Unavailable(f"{job['type']} could not be stored or queued") from queue_exc

    def _enqueue(self, record: dict[str, Any]) -> None:
        try:
            self._jobs.send(process_job(record["id"]))
        except QueueError as exc:
            # Stored and pending: the scheduled sweeper hands it to the worker later.
            log.warning("queue unavailable, message %s left pending: %s", record["id"], exc)


def process_job(message_id: str) -> dict[str, Any]:
    """A stored message for the worker: its id only. The worker reads the message (and the customer's full
    number, kept on it until the worker is done) from the table, so no queue, dead-letter queue included,
    holds a number that an erasure cannot reach."""
    return {"type": "process", "message_id": message_id}


def parked_record(record: dict[str, Any]) -> dict[str, Any]:
    """A message parked on the queue while DynamoDB refused it: it cannot be re-read, so the job carries it,
    but the customer's full number only where its case promises a call-back (staff need it to call)."""
    kept = {k: v for k, v in record.items() if k not in ("pk", "sk", "type")}
    if not promises_call_back(str(record.get("urgency"))):
        kept.pop("from_number", None)
    return kept


def replay_pending(messages: Messages, jobs: JobQueue, *, older_than: timedelta,
                   now: Callable[[], datetime] = utcnow, limit: int = 100) -> int:
    """Hand to the worker again the messages stored but never processed (queue was down)."""
    replayed = 0
    for item in messages.pending_messages(iso(now() - older_than), limit=limit):
        jobs.send(process_job(item["id"]))
        replayed += 1
    return replayed
