"""``/api/cases``, ``/api/cases/{id}`` and ``/api/cases/{id}/ack|resolve|assign|reply``: the cases staff act on."""

from __future__ import annotations

import re
from typing import Any

from chalicelib.api import responses
from chalicelib.api.base import ApiBase, answer, parse
from chalicelib.api.requests import AssignBody, CaseAction, CasesQuery, ReplyBody
from chalicelib.cases import OwnCase, is_about
from chalicelib.clock import iso, parse_time
from chalicelib.configuration import URGENCIES
from chalicelib.errors import ApiError, BadCursor, Conflict, NotFound
from chalicelib.moderation import mask
from chalicelib.observability import logger as log
from chalicelib.replies import case_templates

CASE_ID = re.compile(r"^[A-Z0-9]{8}$")
OPEN_READ_MAX = 1000  # open cases read whole to be sorted; past that the answer says it is not complete
OPEN_CURSOR = re.compile(r"^open:\d{1,4}$")


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
        "promise": case.get("promise") or "acknowledge", "promise_kept": promise_kept(case),
        "escalation_level": int(case.get("escalation_level") or 0),
        "first_reply_at": case.get("first_reply_at"), "reopened_at": case.get("reopened_at"),
        "reopen_count": int(case.get("reopen_count") or 0),
        "assignee": case.get("assignee"), "assigned_at": case.get("assigned_at"),
        "assigned_by": case.get("assigned_by"), "first_response_seconds": first_response_seconds(case),
        "alerts_suppressed": bool(case.get("alerts_suppressed")),
        "escalations": case.get("escalations", []),
        "alerts": [
            {"channel": r.get("channel"), "to": r.get("to"), "role": r.get("role"), "status": r.get("status"),
             "attempts": r.get("tries", len(r.get("attempts", []))),  # the list keeps the latest only
             "last_error": next((a.get("error") for a in reversed(r.get("attempts", [])) if not a.get("ok")), None)}
            for r in sorted(case.get("recipients", {}).values(), key=lambda r: (r.get("channel", ""), r.get("to", "")))
        ],
    }


def promise_kept(case: dict[str, Any]) -> bool | None:
    """Kept: acknowledged (or, a reply promise, answered by a staff reply sent) by its time and never escalated;
    None while it can still be kept."""
    done = case.get("first_reply_at") if case.get("promise") == "reply" else case.get("acknowledged_at")
    if not case.get("promised_at") or (case.get("reopened_at") and case.get("status") == "open"):
        return None  # none, or reopened: the first promise was measured, the new one is not yet
    if done:
        return done <= case["promised_at"] and not case.get("escalation_level")
    if case.get("escalation_level") or (case.get("promise") == "reply" and case.get("status") == "resolved"):
        return False
    return None


def first_response_seconds(case: dict[str, Any]) -> int | None:
    """From the case opening (when its alerts went) to the first staff reply actually sent."""
    if not case.get("first_reply_at") or not case.get("created_at"):
        return None
    return max(0, round((parse_time(case["first_reply_at"]) - parse_time(case["created_at"])).total_seconds()))


def earlier_case(case: dict[str, Any]) -> dict[str, Any]:
    return {"id": case["id"], "site": case.get("site"), "topic": case.get("topic"), "nature": case.get("nature"),
            "urgency": case.get("urgency"), "status": case.get("status"), "created_at": case.get("created_at"),
            "resolved_at": case.get("resolved_at")}


HISTORY_READ = 10  # the customer's earlier cases shown with a case
CONVERSATION_READ = 50  # the latest messages shown with a case (one Query, whatever the number of cases)


def opening_message(case: dict[str, Any], words: tuple[str, ...] = ()) -> dict[str, Any]:
    """The customer's message that opened the case, as the first of its conversation."""
    from chalicelib.sms_segments import is_gsm7, segments

    text = mask(case.get("text"), words) or ""
    return {"id": case.get("message_id") or case["id"], "direction": "in", "at": case.get("received_at") or "",
            "text": text, "channel": str(case.get("message_id") or "sms").split("-", 1)[0], "status": "received",
            "author": None, "segments": segments(text), "encoding": "GSM-7" if is_gsm7(text) else "UCS-2",
            "status_at": None, "error": None, "scheduled_for": None}


def assigned_to(case: dict[str, Any], assignee: str | None) -> bool:
    """The case list's filter: any case (None), those assigned to nobody ("-"), or to a name (any case)."""
    if assignee is None:
        return True
    if assignee == "-":
        return not case.get("assignee")
    return str(case.get("assignee") or "").casefold() == assignee.casefold()


class CasesApi(ApiBase):
    def case(self, case_id: str) -> dict[str, Any]:
        """One case with its conversation: the customer's opening message, then the latest messages either way
        (texts masked as in the feed; staff by name, the customer by nobody: no number anywhere)."""
        case = self._store.cases.get_case(case_id) if CASE_ID.match(case_id or "") else None
        if case is None or case.get("erased"):
            raise ApiError(404, "no such case")
        later = [m.public() for m in self._store.conversations.conversation(case_id, CONVERSATION_READ)]
        for entry in later:
            if entry["direction"] == "in":
                entry["text"] = mask(entry["text"], self._words)
        history = [earlier_case(c) for c in self._store.cases.customer_cases(
            case["customer_key"], HISTORY_READ + 1) if c["id"] != case_id][:HISTORY_READ] \
            if case.get("customer_key") else []
        return answer(responses.CaseDetail, {**public_case(case, self._words),
                                             "conversation": [opening_message(case, self._words), *later],
                                             "templates": case_templates(self._config, case), "history": history})

    def assign(self, case_id: str, body: dict[str, Any] | None, actor: str = "operator") -> dict[str, Any]:
        """Assign a case to a named person (again: reassign); never to the one a complaint is about."""
        if not CASE_ID.match(case_id or ""):
            raise ApiError(404, "no such case")
        data: AssignBody = parse(AssignBody, body)
        current = self._store.cases.get_case(case_id)
        if current is None or current.get("erased"):
            raise ApiError(404, "no such case")
        if is_about(current, data.to):
            raise ApiError(403, f"case {case_id} is a complaint about {data.to}: assign it to someone else")
        by = f"{data.by} [{actor}]" if data.by else actor
        try:
            case = self._store.cases.assign_case(case_id, to=data.to, by=by, at=iso(self._now()))
        except NotFound as exc:
            raise ApiError(404, "no such case") from exc
        except Conflict as exc:
            raise ApiError(409, f"case is {exc.args[0]}: it cannot be assigned") from exc
        log.info("case assigned", extra={"case_id": case_id, "assignee": data.to, "by": by})
        return answer(responses.Case, public_case(case, self._words))

    def reply(self, case_id: str, body: dict[str, Any] | None) -> dict[str, Any]:
        """A staff reply, checked and queued (``ConversationService.reply``): its id, status and cost."""
        data: ReplyBody = parse(ReplyBody, body)
        if self._replies is None:
            raise ApiError(503, "replies are not set up on this deployment")
        message = self._replies().reply(case_id, data.text, data.by)
        return answer(responses.ReplyQueued, {"id": message.id, "status": message.status,
                                              "segments": message.segments, "encoding": message.encoding,
                                              "scheduled_for": message.scheduled_for})

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
        items = [c for c in items if assigned_to(c, query.assignee)]  # a page may then hold fewer
        return answer(responses.CasePage,
                      {"items": [public_case(c, self._words) for c in items], "next_cursor": cursor})

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
        items = [c for c in items if assigned_to(c, query.assignee)]
        shown = items[start:start + query.limit]
        more = start + query.limit < len(items)
        return answer(responses.CasePage, {
            "items": [{**public_case(c, self._words),
                       "overdue": bool(c.get("promised_at")) and c["promised_at"] < now} for c in shown],
            "next_cursor": f"open:{start + query.limit}" if more else None,
            "order": "urgency high to normal, then due soonest first, then oldest first",
            "complete": cursor is None})

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
            case = self._cases.act(case_id, action, by=by, note=data.note)
        except NotFound as exc:
            raise ApiError(404, "no such case") from exc
        except Conflict as exc:
            raise ApiError(409, f"case is {exc.args[0]}; cannot mark it {action}") from exc
        return answer(responses.Case, public_case(case, self._words))
