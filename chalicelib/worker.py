"""The asynchronous side: cases and alert delivery, then counters, each step idempotent."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from functools import partial
from typing import Any

from chalicelib import channels
from chalicelib.alert_texts import MAX_ALERT_SEGMENTS as MAX_ALERT_SEGMENTS
from chalicelib.alert_texts import alert_email as alert_email
from chalicelib.alert_texts import alert_sms as alert_sms
from chalicelib.cases import CaseService, call_back_until, promised_at, promises_call_back
from chalicelib.classification import Classification
from chalicelib.clock import iso, parse_time, utcnow
from chalicelib.configuration import Config
from chalicelib.conversations import is_reply_id
from chalicelib.erasure import mark
from chalicelib.errors import NotFound, Unavailable
from chalicelib.jobs import JobQueue
from chalicelib.notify import DeliveryFailed, EmailAlerts, SmsAlerts
from chalicelib.observability import logger as log  # JSON, with the correlation id
from chalicelib.observability import record_alert
from chalicelib.phone import mask
from chalicelib.ports import Stores
from chalicelib.recipients import AlertRecipient, about_whom, recipients_for
from chalicelib.threads import Threads

# how long a worker may hold the right to send one alert: longer than the worker Lambda's
# timeout (30 s), so a claim still held belongs to a live invocation; shorter than the jobs
# queue's visibility timeout (180 s), so the retry of a dead invocation finds it expired
SEND_CLAIM_SECONDS = 60


class AlertBusy(Exception):
    """Another worker is sending this alert right now: the job is retried, and then finds it sent."""


class BadJob(ValueError):
    """A job that can never succeed (malformed): it fails each try and ends in the dead-letter
    queue, where ``/api/status`` shows it to the operator."""


def case_id_for(message_id: str) -> str:
    """Short, stable case reference derived from the message (a retry finds the same case)."""
    digest = hashlib.sha256(f"case:{message_id}".encode()).digest()
    return base64.b32encode(digest).decode()[:8].replace("O", "8").replace("I", "9")


def classification_of(record: dict[str, Any]) -> Classification:
    return Classification(
        site=record.get("site"), topic=record["topic"], nature=record["nature"],
        urgency=record["urgency"], language=record["language"], rules=list(record.get("rules") or []),
        urgency_reason=record.get("urgency_reason"), about_staff=bool(record.get("about_staff")),
    )


class Worker:
    """The jobs of the SQS queue: storing parked messages, counters, cases and their alerts, consent
    changes parked while DynamoDB was down, survey sends; a job that keeps failing goes to the DLQ."""

    def __init__(self, *, config: Config, store: Stores, jobs: JobQueue, sms: SmsAlerts,
                 email: EmailAlerts, max_receives: int, now: Callable[[], datetime] = utcnow,
                 ack_url: Callable[[str, str], str | None] | None = None, surveys: Any = None,
                 secret: bytes = b"", replies: Any = None, incident_alerts: Any = None):
        self._config = config
        self._store = store
        self._jobs = jobs
        self._sms = sms
        self._email = email
        self._max_receives = max_receives
        self._now = now
        self._ack_url = ack_url or (lambda case_id, recipient_id: None)
        self._cases = CaseService(config=config, cases=store.cases, counters=store.counters, jobs=jobs, now=now)
        self._surveys = surveys
        self._secret = secret  # the customer key secret: erasure tombstones are keyed with it
        self._replies = replies  # staff replies to customers (chalicelib.replying)
        self._threads = Threads(config=config, store=store, jobs=jobs, now=now)
        self._incident_alerts = incident_alerts  # an emerging issue's alerts (chalicelib.incident_alerts)

    def _tombstone(self, kind: str, value: str) -> dict[str, Any] | None:
        return self._store.customers.tombstone(mark(self._secret, kind, value))

    def _erased_before(self, customer: str | None, at: str) -> bool:
        """Whether the customer was erased at or after ``at`` (what was sent or parked before goes too)."""
        erased = self._tombstone("customer", customer) if customer else None
        return bool(erased and str(erased.get("erased_at") or "") >= at)

    def handle(self, job: dict[str, Any], receive_count: int = 1) -> None:
        job_type = job.get("type") if isinstance(job, dict) else None
        if job_type == "store":
            record = self._record(job)
            if self._tombstone("message", record["id"]) or self._erased_before(record.get("customer_key"),
                                                                                record["received_at"]):
                log.warning("parked message %s belongs to an erased customer: not stored", record["id"])
                return
            # conditional: a retry of the webhook may have stored it
            existing = self._store.messages.put_message(record)
            # the stored one is the message (its hour, its reply): counting this copy could count it twice
            self.process({**existing, "from_number": record.get("from_number")} if existing else record)
        elif job_type == "process":
            record = self._stored(job) if "message_id" in job else self._record(job)  # "message": queued before
            if record is not None:
                self.process(record)
        elif job_type == "consent":  # parked by the webhook while DynamoDB was down
            change = job.get("change")
            if not isinstance(change, dict) or set(change) != {
                    "customer_key", "status", "at", "source", "message_id", "expires_at"}:
                raise BadJob("consent job without a complete change")
            suppression = mark(self._secret, "opt-out", change["customer_key"])
            if self._tombstone("message", change["message_id"]):  # a replay of an erased STOP or START
                return
            if self._erased_before(change["customer_key"], change["at"]):  # the customer was erased since
                if change["status"] == "opted_out":  # an opt-out still holds: on the suppression list
                    self._store.customers.suppress(suppression, since=change["at"], expires_at=change["expires_at"])
                return
            self._store.customers.set_consent(**change)
            if change["status"] == "opted_out":
                self._store.surveys.end_conversation(change["customer_key"])
            else:
                self._store.customers.lift_suppression(suppression)
        elif job_type == "survey_send":  # names its recipient by customer key ("to", a number: queued before)
            recipient = job.get("recipient", job.get("to"))
            if not isinstance(job.get("survey_id"), str) or not isinstance(recipient, str):
                raise BadJob("survey job without survey_id or recipient")
            if self._surveys is None:
                raise BadJob("surveys are not set up in this worker")
            self._surveys.send_one(job["survey_id"], recipient)
        elif job_type == "alert":
            if not isinstance(job.get("case_id"), str) or not isinstance(job.get("recipient"), str):
                raise BadJob("alert job without case_id or recipient")
            self.deliver(job["case_id"], job["recipient"], receive_count)
        elif job_type == "reply":  # names the case and the reply: the number is read when it is sent
            if not isinstance(job.get("case_id"), str) or not is_reply_id(job.get("reply_id")) or not self._replies:
                raise BadJob("reply job without case_id or reply_id (or no reply service)")
            self._replies.send(job["case_id"], job["reply_id"], final=receive_count >= self._max_receives)
        elif job_type == "incident_alert" and self._incident_alerts is not None:
            self._incident_alerts.deliver(job.get("incident_id"), job.get("recipient"))
        else:
            raise BadJob(f"unknown job type {job_type!r}")

    def _stored(self, job: dict[str, Any]) -> dict[str, Any] | None:
        """The message a job names, read from the table (with the customer's number while the worker needs
        it); None if it is no longer there (erased while the job waited: nothing to do)."""
        if not isinstance(job.get("message_id"), str) or not job["message_id"]:
            raise BadJob("process job without a message_id")
        record = self._store.messages.get_message(job["message_id"])
        if record is None:
            log.warning("message %s is no longer stored (erased or expired): nothing to process", job["message_id"])
        return record

    @staticmethod
    def _record(job: dict[str, Any]) -> dict[str, Any]:
        record = job.get("message")
        required = ("id", "received_at", "hour", "topic", "nature", "urgency", "language", "text")
        if not isinstance(record, dict) or any(k not in record for k in required):
            raise BadJob("job without a complete message")
        return record

    def process(self, record: dict[str, Any]) -> str | None:
        """Open a case and queue its alerts, note the words in a survey conversation, then count the
        message. Safe to run twice.

        Counting comes last: a case and its alerts never wait on it. If counting fails the job fails
        after them (the customer was told someone acts), and its retry finds the case and counts once;
        the message stays pending until it is counted, so the sweep retries it too.
        """
        if self._tombstone("message", record["id"]):  # erased while this job waited on the queue
            log.warning("message %s was erased: not counted, cased or alerted", record["id"])
            return None
        if record.get("withheld"):  # a suspect or automatic e-mail: kept, never cased, alerted nor counted
            with suppress(NotFound):  # erased meanwhile: nothing left to do
                self._store.messages.mark_processed(record["id"], iso(self._now()), None)
            log.info("message %s withheld (%s): not cased nor counted", record["id"], record["withheld"])
            return None
        # the customer's answer to a live case joins its conversation; anything else may open a case
        case_id = self._threads.join(record) or self._open_case(record)
        if self._surveys is not None and record.get("customer_key"):
            # words from a customer in a survey conversation: the follow-up's answer, or a comment
            # (kept once per message id: a retry notes nothing more)
            self._surveys.note_text(record["customer_key"], record["id"], record["text"], record["received_at"])
        fields = [f"nature_{record['nature']}", f"topic_{record['topic']}", f"urgency_{record['urgency']}",
                  f"language_{record['language']}", f"x_{record['topic']}_{record['nature']}_{record['urgency']}"]
        if record.get("counted_by_channel") and record.get("channel"):
            fields += [f"ch_{record['channel']}", f"ch_{record['channel']}_{record['nature']}_{record['urgency']}"]
        try:
            counted = self._store.counters.count_message(site=record.get("site"), bucket=f"H#{record['hour']}",
                                                         message_id=record["id"], fields=fields,
                                                         expires_at=int(record.get("ttl") or 0))
        except Unavailable as exc:
            log.error("message %s not counted (its case %s and alerts are queued): the job is retried: %s",
                      record["id"], case_id, exc)
            raise
        if not counted:
            log.info("message %s was already counted", record["id"])
        try:
            self._store.messages.mark_processed(record["id"], iso(self._now()), case_id)
        except NotFound:
            if not record.get("customer_key") or not self._tombstone("message", record["id"]):
                raise
            # erased while this job ran: what it opened goes the same way, tombstoned first
            log.warning("message %s was erased while it was processed: its case goes too", record["id"])
            self._store.customers.erase_customer(record["customer_key"], mark=partial(mark, self._secret),
                                                 at=iso(self._now()), expires_at=int(record.get("ttl") or 0))
            return None
        return case_id

    def _open_case(self, record: dict[str, Any]) -> str | None:
        """The message's case and its alert jobs, if it alerts anyone (a retry finds the case, sends
        only what was not sent); its id, or None."""
        recipients = recipients_for(self._config, classification_of(record))
        if not recipients:
            return None
        case_id = case_id_for(record["id"])
        number, existing = record.get("from_number"), None
        if not number:
            existing = self._store.cases.get_case(case_id)
            number = existing.get("customer_number") if existing else None
        case = self._case(case_id, record, number, recipients)
        case["code"] = self._cases.claim_code(case_id, self._now())  # the same code on a retry
        created = self._store.cases.put_case(case)
        # a retry finds the case: what was sent, and whether alerts were held back, stand
        case = case if created else self._store.cases.get_case(case_id) or {"erased": True}
        if not case.get("erased"):
            self._threads.opened(case_id, record)
        pending = [r for r in recipients if case.get("recipients", {}).get(r.id, {}).get("status") != "sent"]
        if case.get("alerts_suppressed") or case.get("erased"):
            pending = []
        elif pending and case.get("alert_decision") == "pending":
            # decided once, after the case exists: a retry (a crash in between) decides again,
            # which may only hold back one more alert, never send one over the limit
            if self._alerts_allowed(record):
                self._store.cases.decide_alerts(case_id, allowed=True)
            else:
                self._store.cases.decide_alerts(case_id, allowed=False)
                pending = []
        if pending:
            self._jobs.send_many([{"type": "alert", "case_id": case_id, "recipient": r.id} for r in pending])
        return case_id

    def _alerts_allowed(self, record: dict[str, Any]) -> bool:
        """At most ``alerts_per_sender_per_hour`` cases alert staff for one sender (a durable, atomic count)."""
        limit = self._config.deployment.alerts_per_sender_per_hour
        if limit <= 0 or not record.get("customer_key"):
            return True
        hour = record["hour"]
        expires = int(self._now().timestamp()) + 7 * 86_400
        if self._store.offers.take_quota(f"alerts#{record['customer_key']}#{hour}", limit, expires,
                                         customer_key=record["customer_key"]):
            return True
        log.warning("alert storm: case for message %s opened without alerts", record["id"])
        return False

    def _case(self, case_id: str, record: dict[str, Any], number: str | None,
              recipients: list[AlertRecipient]) -> dict[str, Any]:
        now = self._now()  # one instant: the promise is exactly its minutes after the opening
        about = about_whom(self._config, classification_of(record), parse_time(record["received_at"]))
        # the full number only where someone must call back, and only until that lapses
        call_back = promises_call_back(record["urgency"]) and number is not None and _can_call(record)
        until = call_back_until(self._config, record.get("site"), record["urgency"], now) if call_back else None
        return {
            "id": case_id,
            "message_id": record["id"],
            "site": record.get("site"),
            "topic": record["topic"],
            "nature": record["nature"],
            "urgency": record["urgency"],
            "urgency_reason": record.get("urgency_reason"),
            "language": record["language"],
            "text": record["text"],
            "reply": record.get("reply"),
            "customer_number": number if call_back else None,
            "customer_masked": record.get("from_masked") or mask(number),
            "call_back_until": until,  # the adapter lists the case among the call-backs to forget then
            "customer_key": record.get("customer_key"),
            "received_at": record["received_at"],
            "created_at": iso(now),
            "promised_at": promised_at(self._config, record.get("site"), record["urgency"], now),
            "promise": next((r.promise for r in self._config.replies.replies if r.name == record.get("reply_rule")),
                            "acknowledge"),  # what keeps it: an acknowledgement, or a reply sent (a question)
            "escalation_level": 0,
            "status": "open",
            "alert_decision": "pending",  # the per-sender alert limit is applied once the case exists
            "recipients": {
                r.id: {"channel": r.channel, "to": r.to, "role": r.role, "status": "pending", "attempts": []}
                for r in recipients
            },
            "ttl": int(record.get("ttl") or 0),
            **({"about_staff": True, "about": about} if about else {}),
        }

    def deliver(self, case_id: str, recipient_id: str, receive_count: int) -> None:
        """Send one alert; on failure record the attempt and raise so that SQS retries."""
        case = self._store.cases.get_case(case_id)
        if case is None and self._tombstone("case", case_id):
            log.warning("case %s was erased: alert %s not sent", case_id, recipient_id)
            return
        if case is None or recipient_id not in case.get("recipients", {}):
            raise BadJob(f"no recipient {recipient_id} in case {case_id}")
        recipient = case["recipients"][recipient_id]
        if recipient.get("status") == "sent":
            return
        now = int(self._now().timestamp())
        if not self._store.cases.claim_delivery(case_id, recipient_id, now=now, until=now + SEND_CLAIM_SECONDS):
            fresh = self._store.cases.get_case(case_id) or {}
            if fresh.get("recipients", {}).get(recipient_id, {}).get("status") == "sent":
                return  # another copy of this job sent it
            raise AlertBusy(f"alert {case_id}/{recipient_id} is being sent by another worker: retry later")
        try:
            if recipient["channel"] == "sms":
                provider_id = self._sms.send(recipient["to"], alert_sms(self._config, case, recipient["to"]))
            else:
                subject, body = alert_email(self._config, case, self._ack_url(case_id, recipient_id), recipient["to"])
                provider_id = self._email.send(recipient["to"], subject, body)
        except DeliveryFailed as exc:
            final = receive_count >= self._max_receives
            self._store.cases.record_delivery(case_id, recipient_id, "failed" if final else "retrying", {
                "at": iso(self._now()), "ok": False, "error": str(exc)[:300], "try": receive_count,
            })
            log.warning("alert %s/%s failed (try %s): %s", case_id, recipient_id, receive_count, exc)
            record_alert(recipient["channel"], ok=False)
            raise
        except Exception:
            self._store.cases.release_delivery(case_id, recipient_id)  # not sent: a retry may claim it at once
            raise
        self._store.cases.record_delivery(case_id, recipient_id, "sent", {
            "at": iso(self._now()), "ok": True, "id": provider_id, "try": receive_count,
        })
        record_alert(recipient["channel"], ok=True)


def _can_call(record: dict[str, Any]) -> bool:
    """Whether staff can call the customer back: a number's channel, not an address's (e-mail is written to)."""
    return channels.get(record["channel"]).can_call if record.get("channel") else True
