"""In-memory fakes of the storage ports (``chalicelib/ports.py``): plain dicts, honest semantics.

Each fake keeps the promises the domain relies on, as the DynamoDB adapter does: a conditional
write refused is ``False`` / ``None`` / :class:`Conflict`; a message is stored once and counted once;
a quota never goes over; a cursor pages through everything once and a forged one is
:class:`BadCursor`. ``tests/test_storage_contract.py`` runs the same assertions against these fakes
and the moto-backed adapters, so a domain test on the fakes proves what it would on DynamoDB.

Every value handed in or out is a copy: nothing the domain keeps aliases what is "stored".
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from chalicelib.errors import BadCursor, Conflict, NotFound
from chalicelib.ports import NO_SITE, Stores
from chalicelib.storage.cases import ATTEMPTS_KEPT
from chalicelib.storage.counters import BUCKET, COUNTER_FIELD, SITES_PER_BATCH, ranking_key, rollups
from chalicelib.storage.customers import HISTORY_KEPT
from chalicelib.storage.surveys import TEXT_CHARS, TEXTS_KEPT

# what erasure reports per marker kind
MARKER_KINDS = {"digest": "digest", "survey_sent": "surveysent", "relay": "relayed"}


def _copy(value: Any) -> Any:
    return copy.deepcopy(value)


def _cursor(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, sort_keys=True).encode()).decode()


def _read_cursor(cursor: str, query: dict[str, Any]) -> str:
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadCursor("cursor is not one this API returned") from exc
    if not isinstance(state, dict) or state.get("q") != query or not isinstance(state.get("after"), str):
        raise BadCursor("cursor does not belong to this query")
    return state["after"]


class FakeDb:
    """What the fakes hold, shared (erasure reaches every aggregate, as on the one table)."""

    def __init__(self) -> None:
        self.messages: dict[str, dict] = {}
        self.counters: dict[tuple[str, str], dict] = {}
        self.counted: set[str] = set()
        self.rankings: dict[str, dict] = {}
        self.cases: dict[str, dict] = {}
        self.codes: dict[str, dict] = {}
        self.consent: dict[str, dict] = {}
        self.tombstones: dict[str, dict] = {}
        self.suppressed: dict[str, dict] = {}
        self.offers: dict[str, dict] = {}
        self.quotas: dict[str, dict] = {}
        self.markers: dict[tuple[str, str], dict] = {}
        self.surveys: dict[str, dict] = {}
        self.conversations: dict[str, dict] = {}
        self.recipients: dict[tuple[str, str], dict] = {}  # (survey id, customer key) -> number, ttl
        self.conversation_messages: dict[tuple[str, str, str], Any] = {}  # (case, at, id) -> ConversationMessage
        self.sending: dict[tuple[str, str, str], dict] = {}  # (case, at, id) -> a reply's send claim
        self.contacts: dict[str, Any] = {}  # case id -> Contact
        self.threads: dict[tuple[str, str], dict] = {}  # (customer key, number written to) -> case id, ttl
        self.consent_messages: dict[str, str] = {}  # message id -> customer key (a STOP / START taken in)
        self.survey_texts: dict[str, str] = {}  # message id -> customer key (a worded reply taken in)


class FakeMessages:
    def __init__(self, db: FakeDb):
        self._db = db

    def put_message(self, record: dict[str, Any]) -> dict[str, Any] | None:
        if record["id"] in self._db.messages:
            return _copy(self._db.messages[record["id"]])
        self._db.messages[record["id"]] = _copy(record)
        return None

    def get_message(self, message_id: str) -> dict[str, Any] | None:
        return _copy(self._db.messages.get(message_id))

    def mark_processed(self, message_id: str, processed_at: str, case_id: str | None) -> None:
        message = self._db.messages.get(message_id)
        if message is None:
            raise NotFound(message_id)
        message["processed_at"] = processed_at
        if case_id:
            message["case_id"] = case_id
        message.pop("from_number", None)

    def relabel_message(self, message: dict[str, Any], *, labels: dict[str, str], by: str, at: str,
                        note: str | None, counts: dict[str, int]) -> bool:
        stored = self._db.messages.get(message["id"])
        n = int(message.get("corrections") or 0) + 1
        if stored is None or "processed_at" not in stored or int(stored.get("corrections") or 0) != n - 1:
            return False
        if not FakeCounters(self._db).count_batch(site=stored.get("site"), bucket=f"H#{stored['hour']}",
                                                  batch_id=f"relabel#{message['id']}#{n}", counts=counts,
                                                  expires_at=int(stored.get("ttl") or 0)):
            return False
        stored.setdefault("machine", {d: stored.get(d) for d in labels})
        stored.update(labels, corrections=n, corrected_by=by, corrected_at=at)
        stored.pop("correction_note", None)
        if note:
            stored["correction_note"] = note
        return True

    def set_reply_status(self, message_id: str, status: str) -> None:
        self._db.messages.setdefault(message_id, {})["reply_status"] = status

    def claim_reply(self, message_id: str, *, at: str, stale_before: str) -> bool:
        found = self._db.messages.get(message_id, {})
        if found.get("reply_status") == "pending" or (
                found.get("reply_status") == "sending" and found.get("reply_claimed_at", "") < stale_before):
            found.update(reply_status="sending", reply_claimed_at=at)
            return True
        return False

    def pending_messages(self, before: str, limit: int = 100) -> list[dict[str, Any]]:
        pending = sorted((f"{m['received_at']}#{m['id']}", m) for m in self._db.messages.values()
                         if "id" in m and "processed_at" not in m)
        return [_copy(m) for position, m in pending if position < before][:limit]

    def feedback(self, *, site: str | None, since: str, until: str, days: list[str], filters: dict[str, str],
                 limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        wanted = {**filters, **({"site": site} if site is not None else {})}
        query = {"site": site, "since": since, "until": until, "days": days, "filters": filters}

        def matches(m: dict[str, Any]) -> bool:
            return m.get("day") in days and since <= f"{m['received_at']}#{m['id']}" <= until + "\uffff" and all(
                (m.get(field) or NO_SITE if field in ("site", "topic", "nature") else m.get(field)) == value
                for field, value in wanted.items())

        found = sorted(((f"{m['received_at']}#{m['id']}", m) for m in self._db.messages.values()
                        if "id" in m and matches(m)), key=lambda pair: pair[0], reverse=True)
        if cursor:
            after = _read_cursor(cursor, query)
            found = [(position, m) for position, m in found if position < after]
        page = found[:limit]
        more = len(found) > limit
        return [_copy(m) for _, m in page], _cursor({"q": query, "after": page[-1][0]}) if more else None


class FakeCounters:
    def __init__(self, db: FakeDb):
        self._db = db

    @staticmethod
    def _key(site: str | None, bucket: str) -> tuple[str, str]:
        if not BUCKET.match(bucket):
            raise ValueError(f"bad counter bucket {bucket!r}")
        return site or NO_SITE, bucket

    def count_message(self, *, site: str | None, bucket: str, message_id: str, fields: Iterable[str],
                      expires_at: int) -> bool:
        return self.count_batch(site=site, bucket=bucket, batch_id=message_id,
                                counts=dict.fromkeys(["n", *fields], 1), expires_at=expires_at)

    def count_batch(self, *, site: str | None, bucket: str, batch_id: str, counts: dict[str, int],
                    expires_at: int) -> bool:
        self._check(counts, bucket)
        if batch_id in self._db.counted:
            return False
        self._db.counted.add(batch_id)
        self._add(site, bucket, counts, expires_at)
        return True

    def count_sites(self, *, bucket: str, batch_id: str, per_site: dict[str | None, dict[str, int]],
                    expires_at: int) -> bool:
        if not 0 < len(per_site) <= SITES_PER_BATCH:
            raise ValueError("1 to SITES_PER_BATCH sites a batch")
        for counts in per_site.values():
            self._check(counts, bucket)
        if batch_id in self._db.counted:
            return False
        self._db.counted.add(batch_id)
        for site, counts in per_site.items():
            self._add(site, bucket, counts, expires_at)
        return True

    def add_counts(self, *, site: str | None, bucket: str, counts: dict[str, int], expires_at: int) -> None:
        self._check(counts, bucket)
        self._add(site, bucket, counts, expires_at)

    def _check(self, counts: dict[str, int], bucket: str) -> None:
        if not all(COUNTER_FIELD.match(f) for f in counts) or not bucket.startswith("H#"):
            raise ValueError("bad counter field or bucket")
        self._key(None, bucket)

    def _add(self, site: str | None, bucket: str, counts: dict[str, int], expires_at: int) -> None:
        buckets = rollups(bucket)  # the hour, its day, ISO week and month
        for key in [self._key(site, b) for b in buckets] + [("NET", b) for b in buckets]:
            row = self._db.counters.setdefault(key, {})
            for field, value in counts.items():
                row[field] = row.get(field, 0) + int(value)
            if expires_at > 0:
                row["ttl"] = expires_at

    def site_counts(self, site: str | None, buckets: list[str], fields: list[str]) -> dict[str, dict[str, int]]:
        return self._rows([(site or NO_SITE, b) for b in buckets], fields)

    def network_counts(self, buckets: list[str], fields: list[str]) -> dict[str, dict[str, int]]:
        return self._rows([("NET", b) for b in buckets], fields)

    def _rows(self, keys: list[tuple[str, str]], fields: list[str]) -> dict[str, dict[str, int]]:
        out = {}
        for site, bucket in keys:
            row = self._db.counters.get(self._key(site, bucket))
            if row is not None:
                out[bucket] = {f: row[f] for f in fields if f in row}
        return out

    def put_ranking(self, window: str, ranking: dict[str, Any]) -> None:
        ranking_key(window)
        self._db.rankings[window] = json.loads(json.dumps(ranking))

    def rankings(self, windows: list[str]) -> dict[str, dict[str, Any]]:
        return {w: json.loads(json.dumps(self._db.rankings[w])) for w in windows if w in self._db.rankings}


class FakeCases:
    def __init__(self, db: FakeDb):
        self._db = db

    def put_case(self, case: dict[str, Any]) -> bool:
        if case["id"] in self._db.cases:
            return False
        self._db.cases[case["id"]] = _copy(case)
        return True

    def get_case(self, case_id: str) -> dict[str, Any] | None:
        return _copy(self._db.cases.get(case_id))

    def claim_delivery(self, case_id: str, recipient_id: str, *, now: int, until: int) -> bool:
        recipient = (self._db.cases.get(case_id) or {}).get("recipients", {}).get(recipient_id)
        if recipient is None or recipient.get("status") == "sent" or recipient.get("sending_until", -1) >= now:
            return False
        recipient["sending_until"] = until
        return True

    def record_delivery(self, case_id: str, recipient_id: str, status: str, attempt: dict[str, Any]) -> None:
        recipient = self._db.cases[case_id]["recipients"][recipient_id]
        recipient.update(status=status, sending_until=0, tries=recipient.get("tries", len(recipient["attempts"])) + 1)
        recipient["attempts"] = [*recipient["attempts"], _copy(attempt)][-ATTEMPTS_KEPT:]

    def release_delivery(self, case_id: str, recipient_id: str) -> None:
        self._db.cases[case_id]["recipients"][recipient_id]["sending_until"] = 0

    def decide_alerts(self, case_id: str, *, allowed: bool) -> None:
        case = self._db.cases.setdefault(case_id, {})
        if allowed:
            case["alert_decision"] = "allowed"
        else:
            case.update(alerts_suppressed=True, recipients={}, alert_decision="held")

    def transition_case(self, case_id: str, *, allowed_from: list[str], to_status: str, at: str, by: str | None,
                        note: str | None) -> dict[str, Any]:
        case = self._db.cases.get(case_id)
        if case is None:
            raise NotFound(case_id)
        if case.get("status") not in allowed_from:
            raise Conflict(case.get("status", "unknown"), item=_copy(case))
        stamp = {"acknowledged": "acknowledged_at", "resolved": "resolved_at"}[to_status]
        case.update({"status": to_status, stamp: at})
        if by:
            case[f"{stamp[:-3]}_by"] = by
        if note:
            case["note"] = note
        if to_status == "resolved":
            case.setdefault("acknowledged_at", at)
            case.pop("customer_number", None)
            case.pop("call_back_until", None)
        return _copy(case)

    def cases(self, status: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        found = sorted(((f"{c['created_at']}#{c['id']}", c) for c in self._db.cases.values()
                        if c.get("status") == status), key=lambda pair: pair[0], reverse=True)
        if cursor:
            after = _read_cursor(cursor, {"status": status})
            found = [(position, c) for position, c in found if position < after]
        page = found[:limit]
        more = len(found) > limit
        return [_copy(c) for _, c in page], _cursor({"q": {"status": status}, "after": page[-1][0]}) if more else None

    def escalate_case(self, case_id: str, *, from_level: int, to_level: int, at: str, promised_at: str,
                      recipients: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
        case = self._db.cases.get(case_id)
        level = (case or {}).get("escalation_level", 0 if from_level == 0 else None)  # none yet: level 0
        if case is None or case.get("status") != "open" or level != from_level:
            return None
        case.update(escalation_level=to_level, promised_at=promised_at)
        case.setdefault("escalations", []).append({"at": at, "level": to_level, "to": sorted(recipients)})
        case.setdefault("recipients", {}).update(_copy(recipients))
        return _copy(case)

    def lapsed_call_backs(self, now: str, limit: int = 1000) -> list[str]:
        lapsed = sorted(f"{c['call_back_until']}#{c['id']}" for c in self._db.cases.values()
                        if c.get("call_back_until") and c.get("customer_number"))
        return [position.rsplit("#", 1)[1] for position in lapsed if position < now][:limit]

    def forget_customer_number(self, case_id: str) -> None:
        case = self._db.cases.get(case_id)
        if case is not None:
            case.pop("customer_number", None)
            case.pop("call_back_until", None)

    def claim_code(self, code: str, case_id: str, *, now: int, until: int) -> bool:
        held = self._db.codes.get(code)
        if held is not None and held["case_id"] != case_id and held["until"] >= now:
            return False
        self._db.codes[code] = {"case_id": case_id, "until": until}
        return True

    def case_for_code(self, code: str, now: int) -> str | None:
        held = self._db.codes.get(code)
        return held["case_id"] if held and held["until"] >= now else None

    def customer_cases(self, customer_key: str, limit: int = 10) -> list[dict[str, Any]]:
        mine = [c for c in self._db.cases.values() if customer_key and c.get("customer_key") == customer_key]
        mine.sort(key=lambda c: (c.get("created_at") or "", c["id"]), reverse=True)
        return [_copy(c) for c in mine[:limit]]

    def assign_case(self, case_id: str, *, to: str, by: str, at: str) -> dict[str, Any]:
        case = self._db.cases.get(case_id)
        if case is None:
            raise NotFound(case_id)
        if case.get("status") == "resolved":
            raise Conflict("resolved")
        case.update(assignee=to, assigned_by=by, assigned_at=at)
        return _copy(case)

    def set_first_reply(self, case_id: str, at: str) -> bool:
        case = self._db.cases.get(case_id)
        if case is None or "first_reply_at" in case:
            return False
        case["first_reply_at"] = at
        return True

    def settle_promise(self, case_id: str) -> bool:
        case = self._db.cases.get(case_id)
        if case is None or case.get("promise_settled"):
            return False
        case["promise_settled"] = True
        return True

    def reopen_case(self, case_id: str, *, at: str, promised_at: str) -> dict[str, Any] | None:
        case = self._db.cases.get(case_id)
        if case is None or case.get("status") != "resolved":
            return None
        case.update(status="open", reopened_at=at, promised_at=promised_at,
                    reopen_count=int(case.get("reopen_count") or 0) + 1)
        case.pop("resolved_at", None)
        case.pop("resolved_by", None)
        return _copy(case)

    def raise_urgency(self, case_id: str, *, at: str, reason: str | None, text: str, promised_at: str,
                      recipients: dict[str, dict[str, Any]], number: str | None = None,
                      call_back_until: str | None = None, about: dict[str, Any] | None = None) -> dict[str, Any] | None:
        case = self._db.cases.get(case_id)
        if case is None or case.get("urgency") == "high":
            return None
        case.update(urgency="high", urgency_reason=reason or "answer", raised_at=at, alert_text=text,
                    promised_at=promised_at)
        case.setdefault("recipients", {}).update(_copy(recipients))
        if number and call_back_until:
            case.update(customer_number=number, call_back_until=call_back_until)
        if about:
            case.update(about_staff=True, about=_copy(about))
        return _copy(case)


class FakeCustomers:
    def __init__(self, db: FakeDb):
        self._db = db

    def set_consent(self, customer_key: str, status: str, *, at: str, source: str, message_id: str,
                    expires_at: int) -> str | None:
        if message_id in self._db.consent_messages:
            return status
        self._db.consent_messages[message_id] = customer_key
        item = self._db.consent.setdefault(customer_key, {"customer_key": customer_key, "history": []})
        event = {"at": at, "status": status, "source": source, "message": message_id}
        history = sorted([*item["history"], event], key=lambda e: e["at"])
        item["history"] = history[-HISTORY_KEPT:]
        item["ttl"] = max(int(item.get("ttl") or 0), expires_at)
        if history[-1] is not event:  # older than the status in force: history only
            return status
        previous = item.get("status")
        item.update(status=status, updated_at=at, source=source)
        return previous

    def consent(self, customer_key: str) -> dict[str, Any] | None:
        item = self._db.consent.get(customer_key)
        return None if item is None else {k: _copy(v) for k, v in item.items() if k != "ids"}

    def tombstone(self, mark: str) -> dict[str, Any] | None:
        return _copy(self._db.tombstones.get(mark))

    def suppressed(self, mark: str) -> bool:
        return mark in self._db.suppressed

    def suppress(self, mark: str, *, since: str, expires_at: int) -> None:
        self._db.suppressed[mark] = {"since": since, "ttl": expires_at}

    def lift_suppression(self, mark: str) -> None:
        self._db.suppressed.pop(mark, None)

    def erase_customer(self, customer_key: str, *, mark: Callable[[str, str], str] | None = None,
                       at: str | None = None, expires_at: int | None = None) -> dict[str, int]:
        db = self._db
        mine = {
            "msg": [k for k, m in db.messages.items() if m.get("customer_key") == customer_key],
            "case": [k for k, c in db.cases.items() if c.get("customer_key") == customer_key],
            "consent": [customer_key] if customer_key in db.consent else [],
            "surveycust": [customer_key] if customer_key in db.conversations else [],
            "consentmsg": [m for m, owner in db.consent_messages.items() if owner == customer_key],
            "surveytext": [m for m, owner in db.survey_texts.items() if owner == customer_key],
            "quota": [k for k, q in db.quotas.items() if q.get("customer_key") == customer_key],
            "offer": [k for k, o in db.offers.items() if o.get("customer_key") == customer_key],
            "surveyto": [k for k, r in db.recipients.items() if r.get("customer_key") == customer_key],
            "conv": [k for k, m in db.conversation_messages.items() if m.customer_key == customer_key],
            "replyto": [k for k, c in db.contacts.items() if c.customer_key == customer_key],
            "thread": [k for k, t in db.threads.items() if k[0] == customer_key],
        }
        markers = [k for k, m in db.markers.items() if m.get("customer_key") == customer_key]
        if mark is not None:
            stones = [("message", i) for i in mine["msg"]] + [("case", i) for i in mine["case"]]
            consent = db.consent.get(customer_key) or {}
            stones += [("message", i) for i in mine["consentmsg"] + mine["surveytext"]]
            conversation = db.conversations.get(customer_key) or {}
            stones += [("message", a.partition(":")[2]) for a in conversation.get("answered", ())]
            for kind, value in stones:
                db.tombstones[mark(kind, value)] = {"ttl": int(expires_at or 0)}
            db.tombstones[mark("customer", customer_key)] = {"ttl": int(expires_at or 0), "erased_at": at or ""}
            if consent.get("status") == "opted_out":
                db.suppressed[mark("opt-out", customer_key)] = {
                    "since": consent.get("updated_at"), "ttl": max(int(consent.get("ttl") or 0), int(expires_at or 0))}
        for case_id in mine["case"]:
            code = db.cases[case_id].get("code")
            if code and db.codes.get(code, {}).get("case_id") == case_id:
                del db.codes[code]
        for kind, table in (("msg", db.messages), ("case", db.cases), ("consent", db.consent),
                            ("surveycust", db.conversations), ("quota", db.quotas), ("offer", db.offers),
                            ("consentmsg", db.consent_messages), ("surveytext", db.survey_texts),
                            ("surveyto", db.recipients), ("conv", db.conversation_messages),
                            ("replyto", db.contacts), ("thread", db.threads)):
            for key in mine[kind]:
                del table[key]
        erased = {kind: len(keys) for kind, keys in mine.items() if keys}
        if mine["case"]:
            erased["history"] = len(mine["case"])  # the adapter keeps one pointer per case in the customer's history
        for key in markers:
            del db.markers[key]
            erased[MARKER_KINDS[key[0]]] = erased.get(MARKER_KINDS[key[0]], 0) + 1
        return erased


class FakeOffers:
    def __init__(self, db: FakeDb):
        self._db = db

    def take_quota(self, name: str, limit: int, expires_at: int, customer_key: str | None = None) -> bool:
        if limit <= 0:
            return False
        quota = self._db.quotas.setdefault(name, {"used": 0})
        if quota["used"] >= limit:
            return False
        quota.update(used=quota["used"] + 1, limit=limit, ttl=expires_at)
        if customer_key:
            quota["customer_key"] = customer_key
        return True

    def give_back_quota(self, name: str) -> None:
        quota = self._db.quotas.get(name)
        if quota and quota["used"] > 0:
            quota["used"] -= 1

    def quota_used(self, name: str) -> int:
        return self._db.quotas.get(name, {}).get("used", 0)

    def put_offer(self, offer: dict[str, Any]) -> dict[str, Any] | None:
        if offer["code"] in self._db.offers:
            return _copy(self._db.offers[offer["code"]])
        self._db.offers[offer["code"]] = _copy(offer)
        return None

    def delete_offer(self, code: str) -> None:
        self._db.offers.pop(code, None)

    def get_offer(self, code: str) -> dict[str, Any] | None:
        return _copy(self._db.offers.get(code))

    def redeem_offer(self, code: str, *, at: str, by: str | None) -> dict[str, Any]:
        offer = self._db.offers.get(code)
        if offer is None:
            raise NotFound(code)
        if offer.get("status") != "issued":
            raise Conflict(offer.get("status", "unknown"), item=_copy(offer))
        offer.update(status="redeemed", redeemed_at=at, redeemed_by=by or "unknown")
        return _copy(offer)

    def claim_marker(self, kind: str, name: str, *, expires_at: int, customer_key: str | None = None) -> bool:
        if kind not in MARKER_KINDS:
            raise ValueError(f"unknown marker kind {kind!r}")
        if (kind, name) in self._db.markers:
            return False
        self._db.markers[(kind, name)] = {"ttl": expires_at, "customer_key": customer_key}
        return True

    def release_marker(self, kind: str, name: str) -> None:
        self._db.markers.pop((kind, name), None)


class FakeSurveys:
    def __init__(self, db: FakeDb):
        self._db = db

    def put_survey(self, survey: dict[str, Any]) -> None:
        if survey["id"] in self._db.surveys:
            raise Conflict("survey exists")
        self._db.surveys[survey["id"]] = {"stats": {}, **_copy(survey)}

    def get_survey(self, survey_id: str) -> dict[str, Any] | None:
        return _copy(self._db.surveys.get(survey_id))

    def surveys_of_site(self, site: str, limit: int = 1000) -> list[dict[str, Any]]:
        found = sorted((s for s in self._db.surveys.values() if s.get("site") == site),
                       key=lambda s: f"{s['created_at']}#{s['id']}", reverse=True)
        return [_copy(s) for s in found[:limit]]

    def survey_add(self, survey_id: str, counts: dict[str, int]) -> None:
        survey = self._db.surveys.get(survey_id)
        if survey is None:
            raise Conflict("no such survey")
        for key, value in counts.items():
            survey["stats"][key] = survey["stats"].get(key, 0) + value

    def put_recipients(self, survey_id: str, numbers: dict[str, str], *, expires_at: int) -> None:
        for key, number in numbers.items():
            self._db.recipients[(survey_id, key)] = {"number": number, "ttl": expires_at, "customer_key": key}

    def recipient_number(self, survey_id: str, customer: str) -> str | None:
        return (self._db.recipients.get((survey_id, customer)) or {}).get("number")

    def forget_recipient(self, survey_id: str, customer: str) -> None:
        self._db.recipients.pop((survey_id, customer), None)

    def put_conversation(self, customer: str, conversation: dict[str, Any]) -> None:
        self._db.conversations[customer] = {**_copy(conversation), "customer_key": customer}

    def get_conversation(self, customer: str) -> dict[str, Any] | None:
        return _copy(self._db.conversations.get(customer))

    def advance_conversation(self, customer: str, *, step: int, value: int, detractor: bool, ended: bool,
                             follow_up_at: str | None = None, message_id: str | None = None) -> bool:
        conversation = self._db.conversations.get(customer)
        if conversation is None or conversation.get("step") != step:
            return False
        conversation.setdefault("answers", {})[str(step)] = value
        conversation.update(step=step + 1, detractor=detractor)
        if message_id:
            conversation["answered"] = sorted({*conversation.get("answered", ()), f"{step}:{message_id}"})
        if follow_up_at:
            conversation["follow_up_at"] = follow_up_at
        if ended:
            conversation["expires_at"] = "1970-01-01T00:00:00.000Z"
        return True

    def add_conversation_text(self, customer: str, message_id: str, text: str, *, end: bool) -> bool:
        conversation = self._db.conversations.get(customer)
        if conversation is None or message_id in self._db.survey_texts:
            return False
        self._db.survey_texts[message_id] = customer
        texts = [*conversation.get("texts", []), {"message": message_id, "text": text[:TEXT_CHARS]}]
        conversation["texts"] = texts[-TEXTS_KEPT:]
        conversation["texts_seen"] = conversation.get("texts_seen", 0) + 1
        if end:
            conversation["expires_at"] = "1970-01-01T00:00:00.000Z"
        return True

    def end_conversation(self, customer: str) -> None:
        conversation = self._db.conversations.get(customer)
        if conversation is not None:
            conversation["expires_at"] = "1970-01-01T00:00:00.000Z"


class FakeConversations:
    def __init__(self, db: FakeDb):
        self._db = db

    def add_message(self, message: Any) -> bool:
        key = (message.case_id, message.at, message.id)
        if key in self._db.conversation_messages:
            return False
        self._db.conversation_messages[key] = message
        return True

    def conversation(self, case_id: str, limit: int = 50) -> list[Any]:
        keys = sorted(k for k in self._db.conversation_messages if k[0] == case_id)
        return [self._db.conversation_messages[k] for k in keys[-limit:]] if limit else []

    def set_status(self, message: Any, status: str, *, at: str, error: str | None = None) -> bool:
        from chalicelib.conversations import STATUS_RANK

        key = (message.case_id, message.at, message.id)
        stored = self._db.conversation_messages.get(key)
        if stored is None or STATUS_RANK[stored.status] >= STATUS_RANK[status]:
            return False
        self._db.conversation_messages[key] = stored.with_status(status, at, error[:200] if error else None)
        return True

    def sent_since(self, case_id: str, since: str) -> int:
        return sum(1 for (case, at, mid), m in self._db.conversation_messages.items()
                   if case == case_id and f"{at}#{mid}" >= since and m.direction == "out")

    def get_message(self, case_id: str, at: str, message_id: str) -> Any:
        return self._db.conversation_messages.get((case_id, at, message_id))

    def claim_send(self, message: Any, *, now: int, until: int) -> bool:
        from chalicelib.conversations import STATUS_RANK

        key = (message.case_id, message.at, message.id)
        stored, sending = self._db.conversation_messages.get(key), self._db.sending.setdefault(key, {})
        if stored is None or stored.provider_id or STATUS_RANK[stored.status] > STATUS_RANK["queued"] \
                or sending.get("until", -1) >= now:
            return False
        sending["until"] = until
        return True

    def record_sent(self, message: Any, provider_id: str) -> bool:
        key = (message.case_id, message.at, message.id)
        if key not in self._db.conversation_messages:
            return False
        self._db.conversation_messages[key] = replace(self._db.conversation_messages[key],
                                                      provider_id=provider_id[:128])
        self._db.sending[key] = {"until": 0}
        return True

    def release_send(self, message: Any) -> None:
        self._db.sending.get((message.case_id, message.at, message.id), {})["until"] = 0

    def set_contact(self, contact: Any) -> None:
        self._db.contacts[contact.case_id] = contact

    def contact(self, case_id: str, now: int) -> Any:
        found = self._db.contacts.get(case_id)
        return found if found is not None and found.expires_at > now else None

    def set_thread(self, customer_key: str, origin: str, case_id: str, *, expires_at: int) -> None:
        self._db.threads[(customer_key, origin)] = {"case_id": case_id, "ttl": expires_at}

    def thread(self, customer_key: str, origin: str, now: int) -> str | None:
        found = self._db.threads.get((customer_key, origin))
        return found["case_id"] if found and found["ttl"] > now else None


class FakeConfigVersions:
    """The live configuration's versions in memory (the adapter's contract: tests/test_storage_contract.py)."""

    def __init__(self, db: FakeDb):
        self._db = db
        db.__dict__.setdefault("config_head", None)
        db.__dict__.setdefault("config_versions", {})
        db.__dict__.setdefault("config_sections", {})

    def head(self) -> dict[str, Any] | None:
        return _copy(self._db.config_head)

    def head_version(self) -> int | None:
        return self._db.config_head["version"] if self._db.config_head else None

    def section_data(self, manifest: dict[str, int]) -> dict[str, dict[str, Any]]:
        return {s: _copy(self._db.config_sections[(s, int(v))]) for s, v in manifest.items()}

    def version(self, version: int) -> dict[str, Any] | None:
        return _copy(self._db.config_versions.get(version))

    def history(self, limit: int = 50, before: int | None = None) -> list[dict[str, Any]]:
        versions = sorted(self._db.config_versions, reverse=True)
        return [_copy(self._db.config_versions[v]) for v in versions if before is None or v < before][:limit]

    def publish(self, *, version: int, base: int, sections: dict[str, dict[str, Any]], manifest: dict[str, int],
                author: str, at: str, comment: str, changes: list[dict[str, Any]], changed: int,
                rollback_of: int | None = None) -> dict[str, Any]:
        from chalicelib.live_config import StaleVersion

        latest = self._db.config_head["version"] if self._db.config_head else 0
        if latest != base or version in self._db.config_versions:
            raise StaleVersion(base, latest)
        new_manifest = {**manifest, **dict.fromkeys(sections, version)}
        for section, data in sections.items():
            self._db.config_sections[(section, version)] = _copy(data)
        record = {"version": version, "author": author, "at": at, "comment": comment, "changed": changed,
                  "changes": _copy(changes), "sections": new_manifest, "touched": sorted(sections),
                  "rollback_of": rollback_of}
        self._db.config_versions[version] = record
        self._db.config_head = {"version": version, "sections": dict(new_manifest)}
        return _copy(record)


def fake_stores(db: FakeDb | None = None) -> Stores:
    """Every port over one in-memory ``FakeDb``."""
    db = db or FakeDb()
    return Stores(FakeMessages(db), FakeCounters(db), FakeCases(db), FakeCustomers(db), FakeOffers(db),
                  FakeSurveys(db), FakeConversations(db), FakeConfigVersions(db))


class FakeIncidents:
    """Incidents (``chalicelib/storage/incidents.py``) in memory, the hour counts read from fake counters."""

    def __init__(self, counters: FakeCounters):
        self._counters = counters
        self.items: dict[str, dict[str, Any]] = {}
        self.reads: list[tuple[int, int]] = []  # (scopes, hours) of each hour_counts call
        self.week_reads: list[tuple[int, int]] = []  # (scopes, weeks) of each week_counts call

    def hour_counts(self, sites: list[str], hours: list[str], fields: list[str]
                    ) -> dict[tuple[str, str], dict[str, int]]:
        self.reads.append((len(sites), len(hours)))
        return self._counts(sites, [f"H#{h}" for h in hours], fields)

    def week_counts(self, sites: list[str], weeks: list[str], fields: list[str]
                    ) -> dict[tuple[str, str], dict[str, int]]:
        self.week_reads.append((len(sites), len(weeks)))
        return self._counts(sites, [f"W#{w}" for w in weeks], fields)

    def _counts(self, sites: list[str], buckets: list[str], fields: list[str]
                ) -> dict[tuple[str, str], dict[str, int]]:
        from chalicelib.incidents import NETWORK

        out = {}
        for site in sites:
            found = (self._counters.network_counts(buckets, fields) if site == NETWORK
                     else self._counters.site_counts(site, buckets, fields))
            out.update({(site, b[2:]): counts for b, counts in found.items()})
        return out

    def open_incident(self, incident: dict[str, Any]) -> bool:
        if incident["id"] in self.items:
            return False
        examples = [{"id": str(e["id"])} for e in incident.get("examples") or [] if e.get("id")]  # ids only
        self.items[incident["id"]] = {**_copy(incident), "examples": examples}
        return True

    def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        return _copy(self.items.get(incident_id))

    def incidents(self, status: str, limit: int) -> list[dict[str, Any]]:
        found = sorted((i for i in self.items.values() if i["status"] == status),
                       key=lambda i: (i["opened_at"], i["id"]), reverse=True)
        return _copy(found[:limit])

    def set_status(self, incident_id: str, *, allowed_from: list[str], to_status: str, at: str,
                   by: str | None = None) -> dict[str, Any]:
        found = self.items.get(incident_id)
        if found is None:
            raise NotFound(incident_id)
        if found["status"] not in allowed_from:
            raise Conflict(found["status"], item=_copy(found))
        found.update({"status": to_status, f"{to_status}_at": at, **({f"{to_status}_by": by} if by else {})})
        return _copy(found)

    def mark_normal(self, incident_id: str, at: str) -> None:
        self.items[incident_id]["normal_at"] = at

    def mark_alerted(self, incident_id: str) -> None:
        self.items[incident_id]["alerted"] = True

    def claim_alert(self, incident_id: str, recipient_id: str, at: str) -> bool:
        recipient = self.items[incident_id]["recipients"].get(recipient_id)
        if recipient is None or "claimed" in recipient:
            return False
        recipient["claimed"] = at
        return True

    def release_alert(self, incident_id: str, recipient_id: str) -> None:
        self.items[incident_id]["recipients"][recipient_id].pop("claimed", None)
