"""The operator API: validation of queries, reading feedback, metrics and cases."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chalicelib import rollup
from chalicelib.access import bearer_ok  # noqa: F401  (re-exported)
from chalicelib.cases import CaseService, OwnCase, is_about
from chalicelib.clock import day_key, days_between, hour_key, iso, parse_time, utcnow
from chalicelib.configuration import ACK_BOUNDS, LANGUAGES, NATURES, URGENCIES, Config
from chalicelib.errors import ApiError, BadCursor, Conflict, NotFound
from chalicelib.moderation import mask
from chalicelib.observability import logger as log  # JSON, with the correlation id
from chalicelib.offers import OfferRefused, OfferService
from chalicelib.ports import NO_SITE, Counters, Stores

CASE_ID = re.compile(r"^[A-Z0-9]{8}$")
MAX_PERIOD_DAYS = 400
MAX_HOURLY_DAYS = 31
OPEN_READ_MAX = 1000  # open cases read whole to be sorted; past that the answer says it is not complete
OPEN_CURSOR = re.compile(r"^open:\d{1,4}$")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
INVISIBLE = " \u00a0\u200b\u200c\u200d\u2060\ufeff"


def spreadsheet_safe(value: Any) -> str:
    """A CSV cell a spreadsheet will never run as a formula (OWASP CSV injection).

    Checked after NFKC normalisation and leading invisible characters, as a spreadsheet may read
    them: U+FE66 SMALL EQUALS SIGN and the full-width forms are an "=", "+", "-" or "@" there.
    """
    text = "" if value is None else str(value)
    seen = unicodedata.normalize("NFKC", text).lstrip(INVISIBLE)
    return "'" + text if seen.startswith(FORMULA_STARTS) else text



def validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "request"
    if first["type"] == "extra_forbidden":
        return f"unknown parameter {where!r}"
    return f"{where}: {first['msg']}"


EXPORT_MAX_ROWS = 10_000  # one CSV; past that, the newest rows and a header saying so
EARLIEST, LATEST = 2000, 2100  # beyond these, date arithmetic overflows long before any data exists


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    since: str | None = None
    until: str | None = None

    def period(self, now: datetime, default_days: int) -> tuple[datetime, datetime]:
        try:
            until = parse_time(self.until) if self.until else now
            since = parse_time(self.since) if self.since else until - timedelta(days=default_days)
        except OverflowError as exc:  # year 1 or 9999, shifted out of the calendar
            raise ApiError(400, f"since/until must fall between the years {EARLIEST} and {LATEST}") from exc
        except ValueError as exc:
            raise ApiError(400, "since/until must be ISO 8601 times, e.g. 2026-11-22T08:00:00Z") from exc
        if not (since.year >= EARLIEST and until.year <= LATEST):
            raise ApiError(400, f"since/until must fall between the years {EARLIEST} and {LATEST}")
        if since > until:
            raise ApiError(400, "since must be before until")
        if until - since > timedelta(days=MAX_PERIOD_DAYS):
            raise ApiError(400, f"period longer than {MAX_PERIOD_DAYS} days")
        return since, until


class FeedbackQuery(_Query):
    site: str | None = Field(default=None, max_length=40)
    topic: str | None = Field(default=None, max_length=32)
    nature: Literal[NATURES] | None = None  # type: ignore[valid-type]
    urgency: Literal[URGENCIES] | None = None  # type: ignore[valid-type]
    language: Literal[LANGUAGES] | None = None  # type: ignore[valid-type]
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=2048)


class MetricsQuery(_Query):
    site: str | None = Field(default=None, max_length=40)
    bucket: Literal["hour", "day"] = "hour"
    topic: str | None = Field(default=None, max_length=32)
    nature: Literal[NATURES] | None = None  # type: ignore[valid-type]
    urgency: Literal[URGENCIES] | None = None  # type: ignore[valid-type]


class ScorecardQuery(_Query):
    site: str | None = Field(default=None, max_length=40)


class CasesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: Literal["open", "acknowledged", "resolved"] = "open"
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=2048)


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    role: Literal["viewer"] = "viewer"
    ttl_minutes: int = Field(default=720, ge=1, le=43_200)
    label: str = Field(default="", max_length=40, pattern=r"^[\w .@-]*$")


class CaseAction(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    by: str | None = Field(default=None, max_length=80)
    note: str | None = Field(default=None, max_length=500)

    @field_validator("by", "note")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and any(ord(c) < 32 and c not in "\n\t" for c in value):
            raise ValueError("control characters are not allowed")
        return value


def parse(model: type[BaseModel], data: dict[str, Any] | None) -> Any:
    try:
        return model.model_validate(data or {})
    except ValidationError as exc:
        raise ApiError(400, validation_message(exc)) from exc


def public_message(item: dict[str, Any], words: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "id": item["id"], "received_at": item["received_at"], "channel": item.get("channel"),
        "site": item.get("site"), "topic": item.get("topic"), "nature": item.get("nature"),
        "urgency": item.get("urgency"), "urgency_reason": item.get("urgency_reason"),
        "language": item.get("language"), "from": item.get("from_masked"), "text": mask(item.get("text"), words),
        "reply": item.get("reply"), "offer_code": item.get("offer_code"), "case_id": item.get("case_id"),
        "rules": item.get("rules", []), "processed": "processed_at" in item,
    }


def public_case(case: dict[str, Any], words: tuple[str, ...] = ()) -> dict[str, Any]:
    created = case.get("created_at")
    acked = case.get("acknowledged_at")
    seconds_to_ack = None
    if created and acked:
        seconds_to_ack = round((parse_time(acked) - parse_time(created)).total_seconds())
    return {
        "id": case["id"], "message_id": case.get("message_id"), "status": case.get("status"),
        "site": case.get("site"), "topic": case.get("topic"), "nature": case.get("nature"),
        "urgency": case.get("urgency"), "urgency_reason": case.get("urgency_reason"),
        "text": mask(case.get("text"), words), "customer": case.get("customer_masked"),
        "received_at": case.get("received_at"), "created_at": created,
        "acknowledged_at": acked, "acknowledged_by": case.get("acknowledged_by"),
        "resolved_at": case.get("resolved_at"), "resolved_by": case.get("resolved_by"),
        "note": case.get("note"), "seconds_to_acknowledge": seconds_to_ack,
        "code": case.get("code"), "promised_at": case.get("promised_at"),
        "promise_kept": (acked <= case["promised_at"] and not case.get("escalation_level"))
        if acked and case.get("promised_at") else None,
        "escalation_level": int(case.get("escalation_level") or 0),
        "alerts_suppressed": bool(case.get("alerts_suppressed")),
        "escalations": case.get("escalations", []),
        "alerts": [
            {"channel": r.get("channel"), "to": r.get("to"), "role": r.get("role"), "status": r.get("status"),
             "attempts": len(r.get("attempts", [])),
             "last_error": next((a.get("error") for a in reversed(r.get("attempts", [])) if not a.get("ok")), None)}
            for r in sorted(case.get("recipients", {}).values(), key=lambda r: (r.get("channel", ""), r.get("to", "")))
        ],
    }


class OperatorApi:
    def __init__(self, *, config: Config, store: Stores, now: Callable[[], datetime] = utcnow):
        self._config = config
        self._store = store
        self._now = now
        self._words = tuple(config.deployment.forbidden_words)

    def _site(self, site: str | None) -> str | None:
        if site is None:
            return None
        if site in ("unknown", NO_SITE):
            return NO_SITE
        if self._config.site(site) is None:
            raise ApiError(400, f"unknown site {site!r}")
        return site

    def feedback(self, params: dict[str, Any] | None) -> dict[str, Any]:
        query: FeedbackQuery = parse(FeedbackQuery, params)
        since, until = query.period(self._now(), default_days=7)
        if query.topic is not None and query.topic not in self._config.topics:
            raise ApiError(400, f"topic: unknown topic {query.topic!r}")
        filters = {k: v for k, v in (("topic", query.topic), ("nature", query.nature),
                                     ("urgency", query.urgency), ("language", query.language)) if v}
        try:
            items, cursor = self._store.messages.feedback(
                site=self._site(query.site), since=iso(since), until=iso(until),
                days=days_between(since, until), filters=filters, limit=query.limit, cursor=query.cursor,
            )
        except BadCursor as exc:
            raise ApiError(400, str(exc)) from exc
        return {"items": [public_message(i, self._words) for i in items], "next_cursor": cursor}

    def metrics(self, params: dict[str, Any] | None) -> dict[str, Any]:
        """Totals, a series per bucket and per-site totals, read from the hour counters.

        ``topic``, ``nature`` and ``urgency`` filters are answered exactly from the cross
        counts; the language split is only known without them (``null`` otherwise).
        """
        query: MetricsQuery = parse(MetricsQuery, params)
        since, until = query.period(self._now(), default_days=1 if query.bucket == "hour" else 30)
        if query.bucket == "hour" and until - since > timedelta(days=MAX_HOURLY_DAYS):
            raise ApiError(400, f"hourly buckets are limited to {MAX_HOURLY_DAYS} days; use bucket=day")
        if query.topic is not None and query.topic not in self._config.topics:
            raise ApiError(400, f"topic: unknown topic {query.topic!r}")
        site = self._site(query.site)
        wanted = (query.topic, query.nature, query.urgency)
        filtered = any(wanted)
        totals = _Tally(self._config.topics)
        totals.filtered = filtered  # even with no rows at all
        by_site: dict[str, _Tally] = {}
        series: dict[str, _Tally] = {}
        counts = _counts(self._store.counters, self._config, period_buckets(since, until, query.bucket, self._now()),
                         self._now())
        for key in sorted(counts):
            bucket = key[2:] + ":00:00Z" if query.bucket == "hour" else key[2:12]
            for site_id, row in counts[key].items():
                if site and site_id != site:
                    continue
                label = "unknown" if site_id == NO_SITE else site_id
                for tally in (totals, series.setdefault(bucket, _Tally(self._config.topics)),
                              by_site.setdefault(label, _Tally(self._config.topics))):
                    tally.add(row, wanted, filtered)
        return {
            "since": iso(since), "until": iso(until), "bucket": query.bucket, "site": query.site,
            "filters": {"topic": query.topic, "nature": query.nature, "urgency": query.urgency},
            "totals": totals.as_dict() | {"site": {k: v.messages for k, v in by_site.items()}},
            "series": [{"t": t, **series[t].as_dict()} for t in sorted(series)],
            "sites": {k: v.as_dict() for k, v in sorted(by_site.items())},
        }

    def scorecards(self, params: dict[str, Any] | None) -> dict[str, Any]:
        """Per site, and per member of staff where a roster says who was on duty: compliments,
        complaints, time to acknowledge and promises kept, over a period (at most 31 days).

        Each hour's counts (messages received, cases opened then) are credited to whoever was
        on duty at that site in that hour, in the site's time zone.
        """
        query: ScorecardQuery = parse(ScorecardQuery, params)
        since, until = query.period(self._now(), default_days=7)
        if until - since > timedelta(days=MAX_HOURLY_DAYS):
            raise ApiError(400, f"scorecards cover at most {MAX_HOURLY_DAYS} days")
        site = self._site(query.site)
        sites: dict[str, _Tally] = {}
        staff: dict[tuple[str, str], _Tally] = {}
        counts = _counts(self._store.counters, self._config, period_buckets(since, until, "hour", self._now()),
                         self._now())
        for bucket, per_site in counts.items():
            hour = datetime.strptime(bucket[2:], "%Y-%m-%dT%H").replace(tzinfo=UTC)
            for site_id, row in per_site.items():
                if (site and site_id != site) or site_id == NO_SITE:
                    continue
                sites.setdefault(site_id, _Tally(self._config.topics)).add(row, (None, None, None), False)
                cfg = self._config.site(site_id)
                if cfg is None or not cfg.roster:
                    continue
                local = hour.astimezone(ZoneInfo(cfg.timezone))
                for shift in cfg.roster:
                    if shift.on_duty(local.weekday(), local.hour):
                        staff.setdefault((site_id, shift.name), _Tally(self._config.topics)).add(
                            row, (None, None, None), False)
        return {
            "since": iso(since), "until": iso(until),
            "sites": [{"site": k, **_scorecard(v)} for k, v in sorted(sites.items())],
            "staff": [{"site": k[0], "name": k[1], **_scorecard(v)} for k, v in sorted(staff.items())],
        }

    def settings(self) -> dict[str, Any]:
        """What a dashboard needs to label things: sites, topics, natures."""
        return {
            "deployment": self._config.deployment.name,
            "sites": [{"id": s.id, "name": s.name, "kind": s.kind, "codes": s.codes, "timezone": s.timezone}
                      for s in self._config.sites],
            "timezone": _deployment_zone(self._config),
            "topics": list(self._config.topics), "natures": list(NATURES),
        }

    def export_csv(self, params: dict[str, Any] | None, max_rows: int | None = None) -> tuple[str, bool]:
        """The filtered messages as CSV, newest first, safe to open in a spreadsheet; and whether
        the period held more than ``max_rows`` (the newest are kept: the caller says so)."""
        max_rows = max_rows or EXPORT_MAX_ROWS
        query = dict(params or {})
        query.pop("limit", None)
        query.pop("cursor", None)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        columns = ["received_at", "site", "topic", "nature", "urgency", "language", "from", "text", "reply", "case_id"]
        writer.writerow(columns)
        rows, cursor = 0, None
        while True:
            page = self.feedback({**query, "limit": str(min(200, max_rows + 1 - rows)),
                                  **({"cursor": cursor} if cursor else {})})
            for item in page["items"]:
                if rows == max_rows:
                    return out.getvalue(), True
                writer.writerow([spreadsheet_safe(item.get(c)) for c in columns])
                rows += 1
            cursor = page["next_cursor"]
            if not cursor:
                return out.getvalue(), False

    def cases(self, params: dict[str, Any] | None) -> dict[str, Any]:
        """Cases in one status. Open cases come most urgent first, then the soonest due (an overdue
        one before one still in time), then the oldest: the open list is read whole (a bounded read
        of at most ``OPEN_READ_MAX`` cases), sorted, and paged by position, so the order holds across
        pages; ``overdue`` says a case's promise has lapsed. Other statuses: newest first."""
        query: CasesQuery = parse(CasesQuery, params)
        if query.status == "open":
            return self._open_cases(query)
        try:
            items, cursor = self._store.cases.cases(query.status, query.limit, query.cursor)
        except BadCursor as exc:
            raise ApiError(400, str(exc)) from exc
        return {"items": [public_case(c, self._words) for c in items], "next_cursor": cursor}

    def _open_cases(self, query: CasesQuery) -> dict[str, Any]:
        start = 0
        if query.cursor:
            if not OPEN_CURSOR.match(query.cursor):
                raise ApiError(400, "cursor does not belong to this status")
            start = int(query.cursor[len("open:"):])
        items: list[dict[str, Any]] = []
        cursor = None
        while len(items) < OPEN_READ_MAX:
            page, cursor = self._store.cases.cases("open", min(200, OPEN_READ_MAX - len(items)), cursor)
            items += page
            if not cursor:
                break
        now = iso(self._now())
        rank = {u: i for i, u in enumerate(reversed(URGENCIES))}  # high first
        items.sort(key=lambda c: (rank.get(c.get("urgency"), len(rank)), c.get("promised_at") or "~",
                                  c.get("created_at") or "", c["id"]))
        shown = items[start:start + query.limit]
        more = start + query.limit < len(items)
        return {"items": [{**public_case(c, self._words),
                           "overdue": bool(c.get("promised_at")) and c["promised_at"] < now} for c in shown],
                "next_cursor": f"open:{start + query.limit}" if more else None,
                "order": "urgency high to normal, then due soonest first, then oldest first",
                "complete": cursor is None}

    def audit_message(self, message_id: str) -> dict[str, Any]:
        """The message as stored, forbidden words unmasked: for the audit token only."""
        item = self._store.messages.get_message(message_id) if MESSAGE_ID.match(message_id or "") else None
        if item is None:
            raise ApiError(404, "no such message")
        return {**public_message(item), "text": item.get("text"), "masked_text": mask(item.get("text"), self._words)}

    def create_survey(self, body: dict[str, Any] | None, surveys: Any) -> dict[str, Any]:
        from chalicelib.surveys import SurveyRequest

        request = parse(SurveyRequest, body)
        self._site(request.site)
        try:
            created = surveys.create(request)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from exc
        return {k: created[k] for k in ("id", "name", "site", "created_at", "queued", "rejected")}

    def survey(self, survey_id: str, surveys: Any) -> dict[str, Any]:
        found = self._store.surveys.get_survey(survey_id) if SURVEY_ID.match(survey_id or "") else None
        if found is None:
            raise ApiError(404, "no such survey")
        return surveys.report(found)

    def site_surveys(self, params: dict[str, Any] | None, surveys: Any) -> dict[str, Any]:
        site = (params or {}).get("site")
        if not site or self._config.site(site) is None or set(params or {}) - {"site"}:
            raise ApiError(400, "site: a known site is required (and nothing else)")
        return surveys.site_report(site)

    def issue_offer(self, body: dict[str, Any] | None) -> dict[str, Any]:
        data: OfferRequest = parse(OfferRequest, body)
        self._site(data.site)
        customer = None
        if data.case_id:
            case = self._store.cases.get_case(data.case_id)
            if case is None:
                raise ApiError(404, "no such case")
            customer = case.get("customer_key")
        try:
            offer = OfferService(config=self._config, offers=self._store.offers, now=self._now).issue(
                site=data.site, customer_key=customer, by=data.by, approved_by=data.approved_by)
        except OfferRefused as exc:
            status = 403 if exc.args[0] == "staff_limit" else 409 if exc.args[0] != "unknown_site" else 400
            raise ApiError(status, REFUSALS.get(exc.args[0], exc.args[0])) from exc
        return public_offer({**offer, "case_id": data.case_id})

    def offer(self, code: str) -> dict[str, Any]:
        code = _offer_code(code)
        offer = self._store.offers.get_offer(code) if OFFER_CODE.match(code) else None
        if offer is None:
            raise ApiError(404, "no such offer")
        return public_offer(offer)

    def redeem_offer(self, code: str, body: dict[str, Any] | None) -> dict[str, Any]:
        code = _offer_code(code)
        if not OFFER_CODE.match(code):
            raise ApiError(404, "no such offer")
        data: RedeemRequest = parse(RedeemRequest, body)
        try:
            return public_offer(self._store.offers.redeem_offer(code, at=iso(self._now()), by=data.by))
        except NotFound as exc:
            raise ApiError(404, "no such offer") from exc
        except Conflict as exc:
            raise ApiError(409, f"offer is {exc.args[0]}") from exc

    def mint_token(self, body: dict[str, Any] | None, link_key: bytes) -> dict[str, Any]:
        from chalicelib import access

        request = parse(TokenRequest, body)
        token, expires = access.mint(link_key, request.role, timedelta(minutes=request.ttl_minutes), self._now(),
                                     request.label)
        log.warning("access token minted: role %s, label %r, expires %s", request.role, request.label, expires)
        return {"token": token, "role": request.role, "expires_at": iso(datetime.fromtimestamp(expires, UTC))}

    def erase_customer(self, number: str, secret: bytes, retention_days: int = 396) -> dict[str, Any]:
        """Erase everything linked to one customer (messages, cases, consent, surveys, quotas, offers).

        Keyed tombstones stay for ``retention_days`` (``chalicelib.erasure``): a replayed message
        or a send still queued is refused, and an opt-out is kept as a suppression entry.
        """
        from functools import partial
        from urllib.parse import unquote

        from chalicelib.erasure import mark
        from chalicelib.phone import InvalidNumber, customer_key, normalise
        from chalicelib.phone import mask as mask_number

        raw = unquote(number or "")
        if len(raw) > 32:
            raise ApiError(400, "not a phone number")
        try:
            if not raw.strip().startswith(("+", "00")):  # a national number could name someone else
                raise InvalidNumber(raw)
            e164 = normalise(raw)
        except InvalidNumber as exc:
            raise ApiError(400, "not a phone number; use the international format, e.g. +447700900123") from exc
        now = self._now()
        erased = self._store.customers.erase_customer(
            customer_key(e164, secret), mark=partial(mark, secret), at=iso(now),
            expires_at=int((now + timedelta(days=retention_days)).timestamp()))
        log.warning("customer %s erased on request: %s", mask_number(e164), erased)
        return {"customer": mask_number(e164), "erased": erased, "items": sum(erased.values())}

    def offer_budget(self, params: dict[str, Any] | None) -> dict[str, Any]:
        site = (params or {}).get("site")
        if not site or self._config.site(site) is None:
            raise ApiError(400, "site: a known site is required")
        return OfferService(config=self._config, offers=self._store.offers, now=self._now).budget(site)

    def case_action(self, case_id: str, action: str, body: dict[str, Any] | None,
                    actor: str = "operator") -> dict[str, Any]:
        """Acknowledge or resolve; recorded as done by the credential's identity (``actor``), with the
        name the user typed (``by``) first when there is one: "Marie [operator]", never null."""
        if not CASE_ID.match(case_id or ""):
            raise ApiError(404, "no such case")
        data: CaseAction = parse(CaseAction, body)
        if data.by:  # a complaint about the one who typed the name is refused (the 403 OwnCase)
            current = self._store.cases.get_case(case_id)
            if current is not None and is_about(current, data.by):
                raise OwnCase(case_id)
        by = f"{data.by} [{actor}]" if data.by else actor
        try:
            case = CaseService(config=self._config, cases=self._store.cases, counters=self._store.counters,
                               now=self._now).act(
                case_id, action, by=by, note=data.note)
        except NotFound as exc:
            raise ApiError(404, "no such case") from exc
        except Conflict as exc:
            raise ApiError(409, f"case is {exc.args[0]}; cannot mark it {action}") from exc
        return public_case(case, self._words)


class OfferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: str = Field(min_length=1, max_length=40)
    by: str = Field(min_length=1, max_length=80)
    approved_by: str | None = Field(default=None, min_length=1, max_length=80)
    case_id: str | None = Field(default=None, pattern=r"^[A-Z0-9]{8}$")


class RedeemRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str | None = Field(default=None, min_length=1, max_length=80)


SURVEY_ID = re.compile(r"^[0-9A-F]{12}$")
MESSAGE_ID = re.compile(r"^(twilio|eum)-[A-Za-z0-9_.:-]{1,128}$")
OFFER_CODE = re.compile(r"^V[A-HJ-NP-Z2-9]{6,7}$")


def _deployment_zone(config: Config) -> str:
    """The time zone the whole network reads in: the one most of its sites share (UTC if none)."""
    zones = [s.timezone for s in config.sites]
    return max(sorted(set(zones)), key=zones.count) if zones else "UTC"


def _offer_code(code: str | None) -> str:
    """A code as typed at the till: any case, spaces and dashes ignored."""
    return re.sub(r"[\s-]", "", code or "").upper()[:16]
REFUSALS = {"budget": "the site's offer budget for today is spent",
            "customer_cap": "this customer had an offer recently",
            "staff_limit": "over your daily limit of offers: ask a manager to approve it (approved_by)",
            "unknown_site": "unknown site", "code_taken": "code collision, retry"}


def public_offer(offer: dict[str, Any]) -> dict[str, Any]:
    return {k: offer.get(k) for k in ("code", "site", "status", "issued_at", "issued_by", "approved_by",
                                       "message_id", "case_id", "redeemed_at", "redeemed_by")}


class _Tally:
    """Adds up hour-counter rows, optionally restricted to a topic, nature and urgency."""

    def __init__(self, topics: list[str]):
        self.messages = 0
        self.nature = dict.fromkeys(NATURES, 0)
        self.topic = dict.fromkeys(topics, 0)
        self.urgency = dict.fromkeys(URGENCIES, 0)
        self.language: dict[str, int] | None = dict.fromkeys(LANGUAGES, 0)
        self.acks: dict[str, int] = {"n": 0}
        self.promises = {"kept": 0, "missed": 0}
        self.filtered = False  # by topic, nature or urgency: acknowledgements are counted per site only

    def add(self, row: dict[str, Any], wanted: tuple[str | None, str | None, str | None], filtered: bool) -> None:
        for field, value in row.items():
            if field.startswith("ack_"):
                self.acks[field[4:]] = self.acks.get(field[4:], 0) + int(value or 0)
            elif field.startswith("promise_"):
                self.promises[field[8:]] += int(value or 0)
        self.filtered = self.filtered or filtered
        if not filtered:
            self.messages += int(row.get("n") or 0)
            for group in ("nature", "topic", "urgency", "language"):
                counts = getattr(self, group)
                for name in counts:
                    counts[name] += int(row.get(f"{group}_{name}") or 0)
            return
        self.language = None
        for field, value in row.items():
            if not field.startswith("x_"):
                continue
            topic, nature, urgency = field[2:].rsplit("_", 2)
            if any(w is not None and w != v for w, v in zip(wanted, (topic, nature, urgency), strict=True)):
                continue
            count = int(value or 0)
            self.messages += count
            self.nature[nature] = self.nature.get(nature, 0) + count
            self.topic[topic] = self.topic.get(topic, 0) + count
            self.urgency[urgency] = self.urgency.get(urgency, 0) + count

    def as_dict(self) -> dict[str, Any]:
        out = {"messages": self.messages, "nature": self.nature, "topic": self.topic,
               "urgency": self.urgency, "language": self.language,
               "acknowledged": self.acks["n"], "median_seconds_to_acknowledge": self.median_ack(),
               "promises": {**self.promises, "share_kept": round(
                   self.promises["kept"] / (self.promises["kept"] + self.promises["missed"]), 3)
                   if self.promises["kept"] + self.promises["missed"] else None}}
        if self.filtered:  # not split by topic, nature or urgency: null rather than a figure that ignores the filter
            out.update(language=None, acknowledged=None, median_seconds_to_acknowledge=None, promises=None)
        return out

    def median_ack(self) -> int | None:
        """Median time to acknowledge, interpolated within its histogram bucket."""
        total = self.acks["n"]
        if not total:
            return None
        half, seen, lower = total / 2, 0, 0
        for bound in ACK_BOUNDS:
            count = self.acks.get(f"le_{bound}", 0)
            if seen + count >= half and count:
                return round(lower + (bound - lower) * (half - seen) / count)
            seen += count
            lower = bound
        return ACK_BOUNDS[-1]


def _scorecard(tally: _Tally) -> dict[str, Any]:
    compliments, complaints = tally.nature.get("compliment", 0), tally.nature.get("complaint", 0)
    return {"messages": tally.messages, "compliments": compliments, "complaints": complaints,
            "compliments_per_complaint": round(compliments / complaints, 2) if complaints else None,
            "acknowledged": tally.acks["n"], "median_seconds_to_acknowledge": tally.median_ack(),
            "promises": tally.as_dict()["promises"]}


def _counts(counters: Counters, config: Config, buckets: list[str], now: datetime) -> dict[str, Any]:
    """The counts of a period's buckets (``rollup.read``); too much of it not rolled up yet is a 503."""
    try:
        return rollup.read(counters, config, buckets, now)
    except rollup.RollupPending as exc:
        raise ApiError(503, str(exc)) from exc


def period_buckets(since: datetime, until: datetime, bucket: str, now: datetime) -> list[str]:
    """Counter buckets covering a period: hours, or whole days plus the hours of partial edge days.

    Nothing after the current hour (nothing can be counted there). The number of buckets
    grows with the length of the period only: at most 48 hours plus one per day.
    """
    until = min(until, now)
    if until < since:
        return []
    first_day = since.replace(hour=0, minute=0, second=0, microsecond=0)
    last_day = until.replace(hour=0, minute=0, second=0, microsecond=0)

    def hours(start: datetime, end: datetime) -> list[str]:
        start = start.replace(minute=0, second=0, microsecond=0)
        out = []
        while start <= end:
            out.append(f"H#{hour_key(start)}")
            start += timedelta(hours=1)
        return out

    if bucket == "hour" or first_day == last_day:
        return hours(since, until)
    out = [] if since == first_day else hours(since, first_day + timedelta(hours=23))
    day = first_day if since == first_day else first_day + timedelta(days=1)
    while day < last_day:
        out.append(f"D#{day_key(day)}")
        day += timedelta(days=1)
    return out + hours(last_day, until)
