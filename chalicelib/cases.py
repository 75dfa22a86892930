"""Cases after they open: acknowledgement (dashboard, staff SMS, e-mail link), promises, escalation.

Every case carries a promise: acknowledged within its site's ``callback_minutes`` if
urgent, ``ack_minutes`` otherwise (``promised_at``). It is kept if acknowledged by
then; missed otherwise, counted once either way in the hour the case opened. A case
still open at its deadline is escalated by the scheduled ``escalate_cases``: level 1,
the site manager; level 2, central care; each level with a new deadline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.clock import hour_key, iso, parse_time, utcnow
from chalicelib.configuration import ACK_BOUNDS, Config
from chalicelib.errors import ApiError, Conflict, NotFound, Unavailable
from chalicelib.i18n import label, reader_language, t
from chalicelib.jobs import JobQueue
from chalicelib.keywords import StaffCommand
from chalicelib.observability import logger as log  # JSON, with the correlation id
from chalicelib.ports import Cases, Counters
from chalicelib.recipients import AlertRecipient
from chalicelib.replies import promise_minutes

CODE_DAYS = 7
MAX_LEVEL = 2


class OwnCase(ApiError):
    """The case is a complaint about the one trying to acknowledge or resolve it (a 403 on the API)."""

    def __init__(self, case_id: str):
        super().__init__(403, f"case {case_id} is a complaint about you: the site manager and customer care "
                              "acknowledge and resolve it")


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def is_about(case: dict[str, Any], actor: str | None) -> bool:
    """Is ``actor`` (a phone number, "SMS +44...", an e-mail link's recipient, a name typed on the
    dashboard) one of those the case is a complaint about (``about``: their numbers, roster names)?"""
    about = case.get("about")
    if not about or not actor:
        return False
    digits = _digits(actor)
    if digits and any(_digits(n) and _digits(n) in digits for n in about.get("numbers") or []):
        return True
    said = actor.strip().casefold()
    return any(said in (name.casefold(), name.split()[0].casefold()) for name in about.get("names") or [])


def may_act(config: Config, number: str, case: dict[str, Any]) -> bool:
    """May the staff number act on the case by SMS: alerted about it, or staff of its site, or central?"""
    if any(r.get("to") == number for r in case.get("recipients", {}).values()):
        return True
    site = config.site(case.get("site"))
    return bool(site and number in (*site.staff_sms, *site.manager_sms)) or \
        number in (*config.deployment.staff_numbers, *config.deployment.care_sms)


def ack_counts(seconds: float) -> dict[str, int]:
    """Counter increments recording one acknowledgement after ``seconds``."""
    bucket = next((f"ack_le_{b}" for b in ACK_BOUNDS if seconds <= b), "ack_gt")
    return {"ack_n": 1, "ack_s": max(0, round(seconds)), bucket: 1}


def promised_at(config: Config, site_id: str | None, urgency: str, created: datetime) -> str:
    return iso(created + timedelta(minutes=promise_minutes(config, site_id, urgency)))


def promises_call_back(urgency: str) -> bool:
    """Whether a case asks staff to call the customer back (its alerts say "Call the customer back
    on ..."): only such a case keeps the customer's full number."""
    return urgency == "high"


def call_back_until(config: Config, site_id: str | None, urgency: str, created: datetime) -> str:
    """When a call-back promise has lapsed for good: past the deadline of the last escalation level
    (each level waits the promise's minutes, the escalation job a minute at most); the case's
    full number is forgotten then, if the case was not resolved before."""
    minutes = promise_minutes(config, site_id, urgency)
    return iso(created + timedelta(minutes=(MAX_LEVEL + 1) * (minutes + 1)))


def code_candidates(case_id: str, count: int = 40) -> list[str]:
    """Short codes to try for a case, in a stable order (the same case always tries the same ones)."""
    seed = hashlib.sha256(case_id.encode()).digest()
    first = int.from_bytes(seed[:4], "big") % 9000 + 1000
    step = int.from_bytes(seed[4:8], "big") % 8999 + 1
    return [str((first - 1000 + i * step) % 9000 + 1000) for i in range(count)]


def escalation_recipients(config: Config, site_id: str | None, level: int) -> list[AlertRecipient]:
    """Level 1: the site's manager (e-mail, SMS); level 2, or a site without a manager: central care."""
    site = config.site(site_id)
    found: list[AlertRecipient] = []
    if level == 1 and site and (site.manager_email or site.manager_sms):
        found += [AlertRecipient("email", to, "site_manager") for to in site.manager_email]
        found += [AlertRecipient("sms", to, "site_manager") for to in site.manager_sms]
    else:
        found += [AlertRecipient("email", to, "care") for to in config.deployment.care_email]
        found += [AlertRecipient("sms", to, "care") for to in config.deployment.care_sms]
    return found


def count_first_reply(cases: Cases, counters: Counters, case: dict[str, Any], at: str) -> None:
    """The case's first staff reply was sent at ``at`` (called once, by whoever set ``first_reply_at``): the time
    from the case opening (its alerts) to it, and a reply promise ("care will answer within 2 hours") kept or
    missed, in the counters of the hour the case opened."""
    if not case.get("created_at"):
        return
    created = parse_time(case["created_at"])
    counts = {"first_reply_n": 1, "first_reply_s": max(0, round((parse_time(at) - created).total_seconds()))}
    if case.get("promise") == "reply" and case.get("promised_at") and not case.get("escalation_level") \
            and cases.settle_promise(case["id"]):
        counts["promise_kept" if at <= case["promised_at"] else "promise_missed"] = 1
    counters.add_counts(site=case.get("site"), bucket=f"H#{hour_key(created)}", counts=counts,
                        expires_at=int(case.get("ttl") or 0))


class CaseService:
    """Cases, the loop closed one-to-one: acknowledge and resolve (never by the person a complaint is
    about), time to acknowledge and promises kept, escalation of what nobody acknowledged in time."""

    def __init__(self, *, config: Config, cases: Cases, counters: Counters, jobs: JobQueue | None = None,
                 now: Callable[[], datetime] = utcnow):
        self._config = config
        self._cases = cases
        self._counters = counters
        self._jobs = jobs
        self._now = now

    # -- acknowledgement -------------------------------------------------------------------
    def act(self, case_id: str, action: str, *, by: str | None = None, note: str | None = None) -> dict[str, Any]:
        """Acknowledge or resolve a case; raises NotFound, or Conflict with the case's status."""
        allowed = {"acknowledged": ["open"], "resolved": ["open", "acknowledged"]}[action]
        if by:  # nobody acknowledges or resolves a complaint about themselves
            current = self._cases.get_case(case_id)
            if current is not None and is_about(current, by):
                raise OwnCase(case_id)
        case = self._cases.transition_case(case_id, allowed_from=allowed, to_status=action,
                                           at=iso(self._now()), by=by, note=note)
        first_acknowledgement = action == "acknowledged" or case.get("acknowledged_at") == case.get("resolved_at")
        if first_acknowledgement and case.get("created_at") and not case.get("reopened_at"):  # counted once
            self._record_ack(case)
        if action == "resolved" and case.get("promise") == "reply" and not case.get("first_reply_at") \
                and not case.get("escalation_level") and case.get("created_at"):
            self._count_once(case, {"promise_missed": 1})  # resolved without the text answer promised
        return case

    def _count_once(self, case: dict[str, Any], counts: dict[str, int]) -> None:
        try:
            if self._cases.settle_promise(case["id"]):
                self._counters.add_counts(site=case.get("site"), bucket=f"H#{hour_key(parse_time(case['created_at']))}",
                                          counts=counts, expires_at=int(case.get("ttl") or 0))
        except Unavailable:
            log.warning("could not count the promise of case %s", case["id"])

    def _record_ack(self, case: dict[str, Any]) -> None:
        """Time to acknowledge and the promise, in the counters of the hour the case opened."""
        created = parse_time(case["created_at"])
        acked = parse_time(case["acknowledged_at"])
        counts = ack_counts((acked - created).total_seconds())
        if case.get("promised_at") and case.get("promise") != "reply":  # a reply promise is kept by a reply
            if acked <= parse_time(case["promised_at"]) and not case.get("escalation_level"):
                counts["promise_kept"] = 1
            elif not case.get("escalation_level"):  # not escalated yet: the escalation did not count it
                counts["promise_missed"] = 1
        try:
            self._counters.add_counts(site=case.get("site"), bucket=f"H#{hour_key(created)}", counts=counts,
                                      expires_at=int(case.get("ttl") or 0))
        except Unavailable:
            log.warning("could not record the acknowledgement of case %s", case["id"])

    def staff_reply(self, number: str, command: StaffCommand) -> str:
        """Carry out "OK 4821" from a staff number; the answer to text back, in their language."""
        now, code = self._now(), command.code
        case_id = self._cases.case_for_code(code, int(now.timestamp()))
        case = self._cases.get_case(case_id) if case_id else None
        lang = reader_language(self._config, number, case.get("site") if case else None)
        if case is None:
            return t("staff.no_case", lang, code=code)
        if is_about(case, number):
            return t("staff.about_you", lang, code=code)
        if not self._may_act(number, case):
            return t("staff.not_yours", lang, code=code)
        verb = "acknowledged" if command.action == "acknowledged" else "resolved"
        try:
            self.act(case["id"], command.action, by=f"SMS {number}")
        except OwnCase:
            return t("staff.about_you_short", lang, code=code)
        except NotFound:
            return t("staff.gone", lang, code=code)
        except Conflict as exc:
            return t("staff.already", lang, code=code, status=label("status", exc.args[0], lang))
        callback = " " + t("staff.customer", lang, number=case["customer_number"]) if case.get("urgency") == "high" \
            and command.action == "acknowledged" and case.get("customer_number") else ""
        return t("staff.done", lang, code=code, status=label("status", verb, lang)) + callback

    def _may_act(self, number: str, case: dict[str, Any]) -> bool:
        return may_act(self._config, number, case)

    def claim_code(self, case_id: str, created: datetime) -> str | None:
        until = int((created + timedelta(days=CODE_DAYS)).timestamp())
        for code in code_candidates(case_id):
            if self._cases.claim_code(code, case_id, now=int(self._now().timestamp()), until=until):
                return code
        log.warning("no free short code for case %s", case_id)
        return None

    # -- escalation ------------------------------------------------------------------------
    def escalate_due(self, limit: int = 500) -> int:
        """Escalate every open (unacknowledged) case past its deadline; returns how many moved up.

        First, cases whose call-back promise has lapsed forget the customer's full number.
        """
        now = self._now()
        try:
            self.forget_lapsed_numbers(now)
        except Unavailable as exc:
            log.warning("lapsed call-back numbers not forgotten this time: %s", exc)
        moved, cursor = 0, None
        for _ in range(50):
            cases, cursor = self._cases.cases("open", 100, cursor)
            for case in cases:
                if moved >= limit:
                    return moved
                if self._escalate(case, now):
                    moved += 1
            if not cursor:
                break
        return moved

    def forget_lapsed_numbers(self, now: datetime, limit: int = 1000) -> int:
        """Remove the full number from every case whose call-back promise lapsed; returns how many."""
        forgotten = 0
        for case_id in self._cases.lapsed_call_backs(iso(now), limit):
            self._cases.forget_customer_number(case_id)
            forgotten += 1
        return forgotten

    def _escalate(self, case: dict[str, Any], now: datetime) -> bool:
        level = int(case.get("escalation_level") or 0)
        promised = case.get("promised_at")
        if not promised or level >= MAX_LEVEL or now <= parse_time(promised):
            return False
        to_level = level + 1
        # keyed per level: a manager alerted at the start hears again that nobody acknowledged
        new = {f"{r.id}-e{to_level}": r for r in escalation_recipients(self._config, case.get("site"), to_level)}
        if case.get("alerts_suppressed"):  # an alert storm from one sender: the case moves up, nobody is paged
            new = {}
        deadline = iso(now + timedelta(minutes=promise_minutes(self._config, case.get("site"), case["urgency"])))
        updated = self._cases.escalate_case(
            case["id"], from_level=level, to_level=to_level, at=iso(now), promised_at=deadline,
            recipients={rid: {"channel": r.channel, "to": r.to, "role": r.role, "status": "pending",
                              "attempts": [], "escalation": to_level} for rid, r in new.items()})
        if updated is None:  # acknowledged or escalated meanwhile
            return False
        if level == 0 and case.get("reopened_at"):
            pass  # a reopened case's promise was counted the first time (as its acknowledgement was)
        elif level == 0 and case.get("promise") == "reply":  # counted once, by this or the late reply
            self._count_once(case, {"promise_missed": 1})
        elif level == 0:  # the first deadline was missed: the promise is broken, once
            try:
                created = parse_time(case["created_at"])
                self._counters.add_counts(site=case.get("site"), bucket=f"H#{hour_key(created)}",
                                          counts={"promise_missed": 1}, expires_at=int(case.get("ttl") or 0))
            except Unavailable:
                log.warning("could not count the missed promise of case %s", case["id"])
        if new and self._jobs is not None:
            self._jobs.send_many([{"type": "alert", "case_id": case["id"], "recipient": rid} for rid in new])
        log.info("case %s escalated to level %s", case["id"], to_level)
        return True
