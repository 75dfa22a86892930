"""The customer's side of a case's conversation (issue 21): the way back to them, and their answers joining it.

When a message opens a case, the worker remembers the case the customer's next message to the same number
joins (``THREAD#<customer key>#<number written to>``) and how to text them back (their number, on its own
item, until ``contact_days`` after their latest message). A later message of the same customer to that number
(and the same site, when it names one) joins the case while it is open, or resolved less than ``window_days``
ago, which reopens it (``reopened_at``, counted ``reopened``): it is added to the conversation instead of
opening a case, and is still classified, stored and counted once as every message is. An answer that is
itself urgent (safety, "I'm leaving") raises the case to urgent and alerts as an urgent message would.
Every step is safe to run twice (the worker's job may be retried).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.cases import call_back_until, promised_at
from chalicelib.classification import Classification
from chalicelib.clock import hour_key, iso, parse_time, utcnow
from chalicelib.configuration import Config
from chalicelib.conversations import Contact, ConversationMessage, MailThread
from chalicelib.errors import Unavailable
from chalicelib.jobs import JobQueue
from chalicelib.observability import logger as log
from chalicelib.ports import Stores
from chalicelib.recipients import about_whom, recipients_for
from chalicelib.sms_segments import is_gsm7, segments

LIVE = ("open", "acknowledged")


class Threads:
    """Where a customer's messages go once a case is open for them."""

    def __init__(self, *, config: Config, store: Stores, jobs: JobQueue, now: Callable[[], datetime] = utcnow):
        self._config = config
        self._store = store
        self._jobs = jobs
        self._now = now
        self._settings = config.deployment.conversation

    def opened(self, case_id: str, record: dict[str, Any]) -> None:
        """``record`` opened case ``case_id``: the customer's next message to that number joins it, and staff
        may text them back (while their number is on the message, before the worker is done with it)."""
        key, origin = record.get("customer_key"), record.get("to_number")
        if not key or not origin:
            return
        expires = int(record.get("ttl") or 0) or int((self._now() + timedelta(days=396)).timestamp())
        self._store.conversations.set_thread(key, origin, case_id, expires_at=expires)
        self._keep_contact(case_id, record)

    def _keep_contact(self, case_id: str, record: dict[str, Any]) -> None:
        if not record.get("from_number"):  # parked without it (not urgent) or processed already
            return
        until = parse_time(record["received_at"]) + timedelta(days=self._settings.contact_days)
        thread = MailThread.model_validate(record["thread"]) if record.get("thread") else None
        self._store.conversations.set_contact(Contact(
            case_id=case_id, number=record["from_number"], origin=record["to_number"], channel=record["channel"],
            customer_key=record["customer_key"], expires_at=int(until.timestamp()), thread=thread))

    def join(self, record: dict[str, Any]) -> str | None:
        """Add ``record`` to the conversation of its customer's live case and return that case's id, or None
        when it opens no conversation of an earlier case (then it may open a case of its own)."""
        key, origin = record.get("customer_key"), record.get("to_number")
        if not key or not origin:
            return None
        now = self._now()
        case_id = self._store.conversations.thread(key, origin, int(now.timestamp()))
        case = self._store.cases.get_case(case_id) if case_id else None
        if case is None or case.get("message_id") == record["id"]:  # none, or the message that opened it
            return None
        if record.get("site") and case.get("site") and record["site"] != case["site"]:
            return None  # the customer writes about another site: a case of its own
        window = iso(now - timedelta(days=self._settings.window_days))
        if case.get("status") not in LIVE and not (
                case.get("status") == "resolved" and str(case.get("resolved_at") or "") >= window):
            return None
        text = record["text"]
        self._store.conversations.add_message(ConversationMessage(
            case_id=case["id"], id=record["id"], direction="in", at=record["received_at"], text=text,
            channel=record["channel"], status="received", customer_key=key, segments=segments(text),
            encoding="GSM-7" if is_gsm7(text) else "UCS-2", expires_at=int(record.get("ttl") or 0)))
        self._keep_contact(case["id"], record)
        if case.get("status") == "resolved":
            self._reopen(case, now)
        if record.get("urgency") == "high":
            self._raise(case, record, now)
        log.info("customer's answer joined case %s", case["id"], extra={"message_id": record["id"]})
        return case["id"]

    def _reopen(self, case: dict[str, Any], now: datetime) -> None:
        promise = promised_at(self._config, case.get("site"), str(case.get("urgency")), now)
        if self._store.cases.reopen_case(case["id"], at=iso(now), promised_at=promise) is None:
            return  # reopened already (a retry)
        try:
            self._store.counters.add_counts(site=case.get("site"), bucket=f"H#{hour_key(now)}",
                                            counts={"reopened": 1}, expires_at=int(case.get("ttl") or 0))
        except Unavailable:
            log.warning("could not count the reopening of case %s", case["id"])

    def _raise(self, case: dict[str, Any], record: dict[str, Any], now: datetime) -> None:
        """An urgent answer: the case becomes urgent and alerts as an urgent message would (its own recipients,
        keyed by the message: a retry finds them and sends only what was not sent)."""
        suffix = "-" + hashlib.sha256(record["id"].encode()).hexdigest()[:6]
        classification = Classification(
            site=case.get("site"), topic=record["topic"], nature=record["nature"], urgency="high",
            language=record["language"], rules=list(record.get("rules") or []),
            urgency_reason=record.get("urgency_reason"), about_staff=bool(record.get("about_staff")))
        new = {} if case.get("alerts_suppressed") else {
            r.id + suffix: {"channel": r.channel, "to": r.to, "role": r.role, "status": "pending", "attempts": []}
            for r in recipients_for(self._config, classification)}
        number = record.get("from_number")
        until = call_back_until(self._config, case.get("site"), "high", now) if number else None
        about = about_whom(self._config, classification, parse_time(record["received_at"]))  # never theirs to act on
        raised = self._store.cases.raise_urgency(
            case["id"], at=iso(now), reason=record.get("urgency_reason"), text=record["text"],
            promised_at=promised_at(self._config, case.get("site"), "high", now), recipients=new, number=number,
            call_back_until=until, about=about)
        current = raised or self._store.cases.get_case(case["id"]) or {}
        pending = [rid for rid, r in (current.get("recipients") or {}).items()
                   if rid.endswith(suffix) and r.get("status") != "sent"]
        if pending:
            self._jobs.send_many([{"type": "alert", "case_id": case["id"], "recipient": rid} for rid in pending])
