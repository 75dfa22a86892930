"""Staff answer the customer from the case (issue 21): the checks, the queue, the send, the delivery status.

``ConversationService.reply`` refuses with a clear 4xx, and sends nothing, when the case is unknown or erased,
the customer opted out, the text is empty, longer than ``max_reply_segments``, holds a forbidden word, or the
case had ``replies_per_case_per_hour`` replies in the last hour; a complaint about the one replying is not
theirs to answer. Otherwise the reply is stored (``queued``, or ``scheduled`` until the site's quiet hours end
when the case is not urgent) and ONE job names it (``{"type": "reply", "case_id", "reply_id"}``: ids only, no
number). The worker's ``send`` checks again (an opt-out or an erasure since), claims the send (one worker, one
SMS: the reply id is the idempotency key) and sends it through the channel the customer used, from the number
they wrote to. Delivery reports (Twilio's status callbacks) only move a status forward.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib import channels
from chalicelib.cases import OwnCase, count_first_reply, is_about
from chalicelib.clock import iso, parse_time, utcnow
from chalicelib.configuration import Config
from chalicelib.conversations import ConversationMessage, new_reply_id, reply_at
from chalicelib.erasure import mark
from chalicelib.errors import ApiError, Unavailable
from chalicelib.jobs import JobQueue, QueueError
from chalicelib.moderation import mask
from chalicelib.observability import logger as log
from chalicelib.ports import Stores
from chalicelib.reply_window import Templated, WindowClosed, template_for
from chalicelib.sms_segments import is_gsm7, segments
from chalicelib.surveys import quiet_delay

CASE_ID = re.compile(r"^[A-Z0-9]{8}$")
SEND_CLAIM_SECONDS = 60  # as an alert's: longer than the worker's timeout, shorter than the queue's visibility
MAX_DELAY = 900  # SQS holds a job back 15 minutes at most: a reply held longer is queued again when it comes up
# Twilio's delivery error codes staff may meet, in words (the code alone otherwise)
CARRIER_ERRORS = {"30003": "Unreachable destination handset", "30005": "Unknown destination handset",
                  "30006": "Landline or unreachable carrier", "30007": "Message filtered by the carrier",
                  "30008": "Unknown error", "21610": "The customer opted out (STOP)",
                  "21211": "Not a valid phone number", "21614": "Not a mobile number",
                  "63016": "Outside WhatsApp's 24-hour window: only a template may be sent",
                  "63024": "Not a WhatsApp user"}


class ReplyRefused(ApiError):
    """A reply that is not sent, and why (a 4xx: nothing is stored, nothing queued)."""


class ReplyBusy(Exception):
    """Another worker is sending this reply right now: the job is retried, and then finds it sent."""


def encoding(text: str) -> str:
    return "GSM-7" if is_gsm7(text) else "UCS-2"


_NUMBER = re.compile(r"\+?\d[\d ().-]{5,}\d")


def without_numbers(text: str) -> str:
    """A carrier's words as the case shows them: a phone number in them masked (Twilio's 21211 names the
    customer's number), so no API answer carries it."""
    from chalicelib.phone import mask as mask_number

    return _NUMBER.sub(lambda m: mask_number(re.sub(r"[^\d+]", "", m.group())) or "•••", text)


def carrier_error(code: str | None, message: str | None = None) -> str | None:
    if not code and not message:
        return None
    words = CARRIER_ERRORS.get(code or "") or message or ""
    return without_numbers(f"{code} {words}".strip() if code else words)[:200]


class ConversationService:
    """The staff side of a case's conversation: replies checked, queued, sent once, their delivery tracked."""

    def __init__(self, *, config: Config, store: Stores, jobs: JobQueue, secret: bytes,
                 senders: Callable[[str], Any] | None = None, now: Callable[[], datetime] = utcnow):
        self._config = config
        self._store = store
        self._jobs = jobs
        self._secret = secret
        self._senders = senders
        self._now = now
        self._settings = config.deployment.conversation

    # -- the API (and the SMS relay) -----------------------------------------------------------------
    def reply(self, case_id: str, text: str, by: str, *, via: str = "api") -> ConversationMessage:
        """Check, store and queue one staff reply; :class:`ReplyRefused` (4xx) says why one is not sent."""
        case = self._case(case_id)
        text = (text or "").strip()
        by = " ".join((by or "").split())
        if not by or re.search(r"\d{5}", by):
            raise ReplyRefused(400, "by: the name of the person replying (never a phone number)")
        if is_about(case, by):
            raise OwnCase(case_id)
        if not text:
            raise ReplyRefused(400, "the reply is empty")
        count, code = segments(text), encoding(text)
        if count > self._settings.max_reply_segments:
            raise ReplyRefused(400, f"the reply is {count} SMS ({code}); at most "
                                    f"{self._settings.max_reply_segments} may be sent: shorten it")
        if mask(text, tuple(self._config.deployment.forbidden_words)) != text:
            raise ReplyRefused(400, "the reply contains a forbidden word: rephrase it")
        now = self._now()
        refusal = self._unreachable(case, iso(now))
        if refusal:
            raise ReplyRefused(*refusal)
        contact = self._store.conversations.contact(case_id, int(now.timestamp()))
        if contact is None:
            raise ReplyRefused(409, f"the customer's number is no longer kept ({self._settings.contact_days} days "
                                    "after their last message): they cannot be texted from this case")
        self._window(case, contact.channel, text, now)  # outside WhatsApp's window: a template, else 409
        limit = self._settings.replies_per_case_per_hour
        if self._store.conversations.sent_since(case_id, iso(now - timedelta(hours=1))) >= limit:
            raise ReplyRefused(429, f"this case had {limit} replies in the last hour, the most allowed: "
                                    "wait before texting the customer again")
        delay = 0
        if case.get("urgency") != "high" and _rings(contact.channel):  # urgent, or a mail: at any hour
            site = self._config.site(case.get("site"))
            deployment = self._config.deployment
            delay = quiet_delay(now, site.timezone if site else "UTC", deployment.quiet_hours_start,
                                deployment.quiet_hours_end)
        ready = now + timedelta(seconds=delay)
        if delay and ready.microsecond:  # the quiet hours end on a whole second
            ready = ready.replace(microsecond=0) + timedelta(seconds=1)
        at = iso(now)
        message = ConversationMessage(
            case_id=case_id, id=new_reply_id(at), direction="out", at=at, text=text, channel=contact.channel,
            status="scheduled" if delay else "queued", customer_key=contact.customer_key, author=by[:80],
            segments=count, encoding=code, scheduled_for=iso(ready) if delay else None,
            expires_at=int(case.get("ttl") or 0))
        self._store.conversations.add_message(message)
        try:
            self._jobs.send(reply_job(message), delay_seconds=min(delay, MAX_DELAY))
        except QueueError as exc:
            self._store.conversations.set_status(message, "failed", at=iso(self._now()), error="not queued: retry")
            raise Unavailable(f"reply {message.id} could not be queued") from exc
        log.info("staff reply queued", extra={"case_id": case_id, "reply_id": message.id, "author": message.author,
                                              "via": via, "segments": count, "encoding": code,
                                              "scheduled_for": message.scheduled_for})
        return message

    def _case(self, case_id: str) -> dict[str, Any]:
        case = self._store.cases.get_case(case_id) if CASE_ID.match(case_id or "") else None
        if case is None and CASE_ID.match(case_id or "") and self._store.customers.tombstone(
                mark(self._secret, "case", case_id)):
            raise ReplyRefused(410, "this case was erased with its customer: nothing is sent")
        if case is None:
            raise ReplyRefused(404, "no such case")
        return case

    def _unreachable(self, case: dict[str, Any], since: str) -> tuple[int, str] | None:
        """Why the case's customer may not be texted now (opted out, erased), or None."""
        key = case.get("customer_key")
        if not key:
            return 409, "this case has no customer to answer"
        erased = self._store.customers.tombstone(mark(self._secret, "customer", key))
        if erased and str(erased.get("erased_at") or "") >= str(case.get("received_at") or ""):
            return 410, "the customer was erased: nothing is sent"
        if (self._store.customers.consent(key) or {}).get("status") == "opted_out":
            return 409, "the customer opted out (STOP): no reply is sent"
        return None

    def _window(self, case: dict[str, Any], channel: str, text: str, now: datetime) -> Any:
        """The template a reply goes out as outside the channel's customer-service window (None: the text as it
        is); :class:`ReplyRefused` (409) when the window closed and no template fits (chalicelib/reply_window.py)."""
        sender = self._senders(channel) if self._senders else None
        if not getattr(sender, "window_hours", 0):
            return None
        try:
            return template_for(sender, self._config, case, self._store.conversations.conversation(case["id"]), now,
                                text)
        except WindowClosed as exc:
            raise ReplyRefused(409, str(exc)) from exc

    # -- the worker ----------------------------------------------------------------------------------
    def send(self, case_id: str, reply_id: str, *, final: bool = False) -> str:
        """Send one queued reply, once; what became of it (for the log and the tests)."""
        message = self._store.conversations.get_message(case_id, reply_at(reply_id), reply_id)
        if message is None:
            log.warning("reply %s of case %s is no longer stored (erased): not sent", reply_id, case_id)
            return "gone"
        if message.provider_id or message.status not in ("scheduled", "queued"):
            return "done"  # sent, or refused, already: a retry sends nothing
        now = self._now()
        if message.scheduled_for and iso(now) < message.scheduled_for:
            wait = (parse_time(message.scheduled_for) - now).total_seconds()
            self._jobs.send(reply_job(message), delay_seconds=min(MAX_DELAY, max(1, int(wait) + 1)))
            return "held"
        case = self._store.cases.get_case(case_id)
        refusal = self._unreachable(case, message.at) if case else None  # an opt-out or erasure since it was queued
        contact = self._store.conversations.contact(case_id, int(now.timestamp())) if case else None
        if case is None or refusal or contact is None:
            error = refusal[1] if refusal else "the customer can no longer be reached from this case"
            self._store.conversations.set_status(message, "failed", at=iso(now), error=error)
            log.warning("reply %s of case %s not sent: %s", reply_id, case_id, error)
            return "refused"
        stamp = int(now.timestamp())
        if not self._store.conversations.claim_send(message, now=stamp, until=stamp + SEND_CLAIM_SECONDS):
            fresh = self._store.conversations.get_message(case_id, message.at, reply_id)
            if fresh is None or fresh.provider_id or fresh.status not in ("scheduled", "queued"):
                return "done"
            raise ReplyBusy(f"reply {reply_id} is being sent by another worker: retry later")
        if message.status == "scheduled":
            self._store.conversations.set_status(message, "queued", at=iso(now))
        sender = self._senders(contact.channel) if self._senders else None
        try:  # WhatsApp's window may have closed since the reply was written (held by quiet hours)
            template = self._window(case, contact.channel, message.text, now)
        except ReplyRefused as exc:
            self._store.conversations.release_send(message)
            self._store.conversations.set_status(message, "failed", at=iso(now), error=exc.message[:200])
            return "refused"
        sender = Templated(sender, template) if template else sender

        try:
            if sender is None:
                raise channels.ReplyFailed(f"no sender for channel {contact.channel}")
            provider_id = sender.send(to=contact.number, origin=contact.origin, text=message.text,
                                      reference=f"{case_id}.{reply_id}",
                                      **({"thread": contact.thread} if contact.thread else {}))
        except (channels.RecipientOptedOut, channels.InvalidRecipient) as exc:
            self._store.conversations.release_send(message)
            self._store.conversations.set_status(message, "failed", at=iso(self._now()),
                                                 error=without_numbers(str(exc))[:200])
            return "refused"
        except channels.ReplyFailed as exc:
            self._store.conversations.release_send(message)
            if final:
                self._store.conversations.set_status(message, "failed", at=iso(self._now()),
                                                     error=without_numbers(str(exc))[:200])
            raise
        except Exception:
            self._store.conversations.release_send(message)
            raise
        self._store.conversations.record_sent(message, provider_id or f"{contact.channel}-{reply_id}")
        if not getattr(sender, "reports_delivery", False):  # no status callbacks will follow: taken is sent
            self._store.conversations.set_status(message, "sent", at=iso(self._now()))
        at = iso(self._now())
        if self._store.cases.set_first_reply(case_id, at):  # the first reply sent: counted once, here
            try:
                count_first_reply(self._store.cases, self._store.counters, case, at)
            except Unavailable:
                log.warning("could not count the first reply of case %s", case_id)
        log.info("staff reply sent", extra={"case_id": case_id, "reply_id": reply_id, "channel": contact.channel})
        return "sent"

    # -- delivery reports ----------------------------------------------------------------------------
    def delivered(self, case_id: str, reply_id: str, status: str, *, provider_id: str | None = None,
                  error: str | None = None) -> bool:
        """A carrier's report on a reply: applied if it moves the status forward (a late, repeated or
        out-of-order report changes nothing); False otherwise, or for a reply not (or no longer) stored."""
        try:
            message = self._store.conversations.get_message(case_id, reply_at(reply_id), reply_id)
        except ValueError:
            return False
        if message is None or message.direction != "out":
            return False
        if provider_id and message.provider_id and provider_id != message.provider_id:
            log.warning("status report for reply %s names another carrier message: ignored", reply_id)
            return False
        return self._store.conversations.set_status(
            message, status, at=iso(self._now()),
            error=without_numbers(error)[:200] if error and status in ("failed", "undelivered") else None)


def reply_job(message: ConversationMessage) -> dict[str, Any]:
    """The worker's job for a reply: ids only (the number is read from the case's contact when it is sent)."""
    return {"type": "reply", "case_id": message.case_id, "reply_id": message.id}


def _rings(channel: str | None) -> bool:
    """Whether a reply by ``channel`` makes the customer's phone ring (held for quiet hours): yes unless the
    channel says otherwise (e-mail waits in the inbox)."""
    try:
        return channels.get(channel or "").rings
    except KeyError:
        return True
