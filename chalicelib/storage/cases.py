"""Cases: ``CASE#<id>`` items listed by status (``gsi1``: ``CASES#<status>``, ``<created>#<id>``),
their alert deliveries, escalations, call-backs (sparse ``gsi3``: ``CALLBACK``, ``<lapse>#<id>``)
short codes (``CODE#<code>``) and each customer's cases (``HISTORY#<customer key>``, erased with them)."""

from __future__ import annotations

import itertools
from typing import Any

from chalicelib.errors import BadCursor, Conflict, NotFound, Unavailable
from chalicelib.storage.dynamo import (
    Dynamo,
    check_start_key,
    decode_cursor,
    encode_cursor,
    from_item,
    plain_numbers,
    short,
    to_item,
)


def case_key(case_id: str) -> dict[str, str]:
    return {"pk": f"CASE#{case_id}", "sk": "CASE"}


def history_key(customer_key: str, created_at: str, case_id: str) -> dict[str, str]:
    """A customer's cases, newest last (``HISTORY#<customer key>``, ``<created>#<id>``): their history."""
    return {"pk": f"HISTORY#{customer_key}", "sk": f"{created_at}#{case_id}"}


def code_key(code: str) -> dict[str, str]:
    return {"pk": f"CODE#{code}", "sk": "CODE"}


ATTEMPTS_KEPT = 10  # delivery attempts kept per recipient, the latest ("tries" counts them all)
TRIES = 20  # an attempt recorded while another is: read again this many times

LAYOUT = {"pk", "sk", "type", "gsi1pk", "gsi1sk", "gsi3pk", "gsi3sk"}


def case_record(item: dict[str, Any]) -> dict[str, Any]:
    """A stored case as the domain knows it: without its keys and index attributes."""
    return {k: v for k, v in plain_numbers(from_item(item)).items() if k not in LAYOUT}


class CaseStore(Dynamo):
    """Cases and their life: created once, alerts delivered once each, acknowledged, escalated, resolved."""

    def put_case(self, case: dict[str, Any]) -> bool:
        """Create a case; False if it exists already (a retried job).

        A case holding the customer's number until ``call_back_until`` is listed in the sparse ``gsi3``
        until then (``lapsed_call_backs``); the time itself is kept in the index only.
        """
        until = case.get("call_back_until")
        if case.get("customer_key"):  # first, and idempotent: a case never stored leaves a pointer to nothing
            self._call("put_item", Item=to_item({
                **history_key(case["customer_key"], case["created_at"], case["id"]), "type": "history",
                "case_id": case["id"], "customer_key": case["customer_key"], "ttl": int(case.get("ttl") or 0)}))
        item = {
            **case_key(case["id"]), "type": "case",
            "gsi1pk": f"CASES#{case['status']}", "gsi1sk": f"{case['created_at']}#{case['id']}",
            **{k: v for k, v in case.items() if k != "call_back_until"},
            **({"gsi3pk": "CALLBACK", "gsi3sk": f"{until}#{case['id']}"} if until else {}),
        }
        return self._if("put_item", Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")

    def get_case(self, case_id: str) -> dict[str, Any] | None:
        res = self._call("get_item", Key=to_item(case_key(case_id)), ConsistentRead=True)
        return case_record(res["Item"]) if "Item" in res else None

    def claim_delivery(self, case_id: str, recipient_id: str, *, now: int, until: int) -> bool:
        """Take the right to send one alert until ``until`` (epoch seconds): False if it is sent,
        or another worker holds a claim that has not run out. Two copies of an alert job (a
        replayed message, a sweep during a backlog) then send one SMS, not two."""
        return self._if(
            "update_item", Key=to_item(case_key(case_id)),
            UpdateExpression="SET recipients.#r.sending_until = :until",
            ConditionExpression=("recipients.#r.#status <> :sent AND (attribute_not_exists("
                                 "recipients.#r.sending_until) OR recipients.#r.sending_until < :now)"),
            ExpressionAttributeNames={"#r": recipient_id, "#status": "status"},
            ExpressionAttributeValues=to_item({":sent": "sent", ":now": now, ":until": until}))

    def record_delivery(self, case_id: str, recipient_id: str, status: str, attempt: dict[str, Any]) -> None:
        """Add a delivery attempt to one recipient of a case, set its status, end its claim.

        The recipient keeps its last :data:`ATTEMPTS_KEPT` attempts and ``tries``, how many there were:
        an alert retried or replayed without end never grows the case. The list is written back on a
        condition on ``tries``, so two attempts recorded at once are both counted.
        """
        for _ in range(TRIES):
            item = self._get(case_key(case_id), plain=False) or {}
            recipient = (item.get("recipients") or {}).get(recipient_id)
            if recipient is None:
                raise Unavailable(f"case {case_id} has no recipient {recipient_id} to record an attempt on")
            attempts = list(recipient.get("attempts") or [])
            tries = int(recipient.get("tries", len(attempts)))
            values: dict[str, Any] = {":status": status, ":free": 0, ":attempts": [*attempts, attempt][-ATTEMPTS_KEPT:],
                                      ":next": tries + 1}
            if "tries" in recipient:
                condition = "recipients.#r.tries = :tries"
                values[":tries"] = tries
            else:  # recorded before tries were kept: the list is still the one read
                condition = "attribute_not_exists(recipients.#r.tries) AND size(recipients.#r.attempts) = :tries"
                values[":tries"] = len(attempts)
            if self._if("update_item", Key=to_item(case_key(case_id)),
                        UpdateExpression=("SET recipients.#r.#status = :status, recipients.#r.sending_until = :free, "
                                          "recipients.#r.attempts = :attempts, recipients.#r.tries = :next"),
                        ConditionExpression=condition,
                        ExpressionAttributeNames={"#r": recipient_id, "#status": "status"},
                        ExpressionAttributeValues=to_item(values)):
                return
        raise Unavailable(f"the deliveries of case {case_id} changed under {TRIES} tries in a row")

    def release_delivery(self, case_id: str, recipient_id: str) -> None:
        """End a claim without an attempt to record (the send never started)."""
        self._call("update_item", Key=to_item(case_key(case_id)),
                   UpdateExpression="SET recipients.#r.sending_until = :free",
                   ExpressionAttributeNames={"#r": recipient_id}, ExpressionAttributeValues=to_item({":free": 0}))

    def decide_alerts(self, case_id: str, *, allowed: bool) -> None:
        """Record whether a case alerts staff; held back (its sender is over the hourly alert
        limit), it keeps no recipient and says ``alerts_suppressed``."""
        if allowed:
            self._call("update_item", Key=to_item(case_key(case_id)),
                       UpdateExpression="SET alert_decision = :allowed",
                       ExpressionAttributeValues=to_item({":allowed": "allowed"}))
            return
        self._call("update_item", Key=to_item(case_key(case_id)),
                   UpdateExpression="SET alerts_suppressed = :yes, recipients = :none, alert_decision = :held",
                   ExpressionAttributeValues=to_item({":yes": True, ":none": {}, ":held": "held"}))

    def transition_case(self, case_id: str, *, allowed_from: list[str], to_status: str,
                        at: str, by: str | None, note: str | None) -> dict[str, Any]:
        """Move a case to ``to_status`` if it is in one of ``allowed_from``; returns the new case."""
        stamp = {"acknowledged": "acknowledged_at", "resolved": "resolved_at"}[to_status]
        values: dict[str, Any] = {":to": to_status, ":at": at, ":gpk": f"CASES#{to_status}"}
        sets = ["#status = :to", f"{stamp} = :at", "gsi1pk = :gpk"]
        if by:
            sets.append(f"{stamp[:-3]}_by = :by")
            values[":by"] = by
        if note:
            sets.append("note = :note")
            values[":note"] = note
        remove = ""
        if to_status == "resolved":
            sets.append("acknowledged_at = if_not_exists(acknowledged_at, :at)")
            remove = " REMOVE customer_number, gsi3pk, gsi3sk"  # resolved: nobody calls back any more
        allowed = ", ".join(f":from{i}" for i in range(len(allowed_from)))
        for i, status in enumerate(allowed_from):
            values[f":from{i}"] = status
        case = self._change_status(
            case_key(case_id), UpdateExpression="SET " + ", ".join(sets) + remove,
            ConditionExpression=f"attribute_exists(pk) AND #status IN ({allowed})",
            ExpressionAttributeValues=to_item(values))
        return {k: v for k, v in case.items() if k not in LAYOUT}

    def cases(self, status: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """Cases in one status, newest first."""
        kwargs: dict[str, Any] = dict(
            IndexName="gsi1", KeyConditionExpression="gsi1pk = :pk", ScanIndexForward=False,
            ExpressionAttributeValues=to_item({":pk": f"CASES#{status}"}), Limit=limit,
        )
        if cursor:
            state = decode_cursor(cursor, {"pk", "sk", "gsi1pk", "gsi1sk"})
            if state.get("k"):
                if state["k"].get("gsi1pk", {}).get("S") != f"CASES#{status}":
                    raise BadCursor("cursor does not belong to this status")
                kwargs["ExclusiveStartKey"] = check_start_key(state["k"], {
                    "pk": lambda v: v.startswith("CASE#") and short(v), "sk": lambda v: v == "CASE",
                    "gsi1pk": lambda v: v == f"CASES#{status}", "gsi1sk": short})
        page = self._call("query", **kwargs)
        items = [case_record(i) for i in page.get("Items", [])]
        last = page.get("LastEvaluatedKey")
        return items, encode_cursor({"k": last}) if last else None

    def escalate_case(self, case_id: str, *, from_level: int, to_level: int, at: str, promised_at: str,
                      recipients: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
        """Raise an open case's escalation level and add its new recipients; None if it moved on."""
        names: dict[str, str] = {"#status": "status"}
        values: dict[str, Any] = {":open": "open", ":from": from_level, ":to": to_level,
                                  ":event": [{"at": at, "level": to_level, "to": sorted(recipients)}],
                                  ":promised": promised_at, ":empty": []}
        sets = ["escalation_level = :to", "promised_at = :promised",
                "escalations = list_append(if_not_exists(escalations, :empty), :event)"]
        for i, (rid, recipient) in enumerate(recipients.items()):
            names["#r"] = "recipients"
            names[f"#k{i}"] = rid
            values[f":r{i}"] = recipient
            sets.append(f"#r.#k{i} = :r{i}")
        condition = "#status = :open AND " + (
            "(attribute_not_exists(escalation_level) OR escalation_level = :from)" if from_level == 0
            else "escalation_level = :from")
        try:
            res = self._call("update_item", Key=to_item(case_key(case_id)),
                             UpdateExpression="SET " + ", ".join(sets), ConditionExpression=condition,
                             ExpressionAttributeNames=names, ExpressionAttributeValues=to_item(values),
                             ReturnValues="ALL_NEW")
        except Conflict:
            return None
        return case_record(res["Attributes"])

    def customer_cases(self, customer_key: str, limit: int = 10) -> list[dict[str, Any]]:
        """The customer's latest ``limit`` cases at any site, newest first: one Query of their history, one
        BatchGetItem of the cases (a case erased or expired is left out)."""
        page = self._call("query", KeyConditionExpression="pk = :pk", ScanIndexForward=False, Limit=limit,
                          ExpressionAttributeValues=to_item({":pk": f"HISTORY#{customer_key}"}))
        ids = [from_item(i)["case_id"] for i in page.get("Items", [])]
        found = {c["id"]: c for c in (case_record(i) for i in self._batch_get(self._table, [
            case_key(i) for i in dict.fromkeys(ids)]))}
        return [found[i] for i in dict.fromkeys(ids) if i in found]

    def assign_case(self, case_id: str, *, to: str, by: str, at: str) -> dict[str, Any]:
        """Assign (or reassign) a case that is not resolved; raises NotFound, or Conflict with its status."""
        try:
            res = self._call("update_item", Key=to_item(case_key(case_id)),
                             UpdateExpression="SET assignee = :to, assigned_by = :by, assigned_at = :at",
                             ConditionExpression="attribute_exists(pk) AND #status <> :resolved",
                             ExpressionAttributeNames={"#status": "status"},
                             ExpressionAttributeValues=to_item({":to": to, ":by": by, ":at": at,
                                                                ":resolved": "resolved"}),
                             ReturnValues="ALL_NEW")
        except Conflict:
            current = self.get_case(case_id)
            if current is None:
                raise NotFound(case_id) from None
            raise Conflict(current.get("status")) from None
        return case_record(res["Attributes"])

    def set_first_reply(self, case_id: str, at: str) -> bool:
        """The first staff reply actually sent (``first_reply_at``, kept once): True for the call that set it
        (the one that counts it), False if it was set already or the case is gone."""
        return self._if("update_item", Key=to_item(case_key(case_id)), UpdateExpression="SET first_reply_at = :at",
                        ConditionExpression="attribute_exists(pk) AND attribute_not_exists(first_reply_at)",
                        ExpressionAttributeValues=to_item({":at": at}))

    def settle_promise(self, case_id: str) -> bool:
        """A case's promise is counted kept or missed once: True for the one call that may count it."""
        return self._if("update_item", Key=to_item(case_key(case_id)), UpdateExpression="SET promise_settled = :t",
                        ConditionExpression="attribute_exists(pk) AND attribute_not_exists(promise_settled)",
                        ExpressionAttributeValues=to_item({":t": True}))

    def reopen_case(self, case_id: str, *, at: str, promised_at: str) -> dict[str, Any] | None:
        """A resolved case is open again (its customer wrote within the window): ``reopened_at``, one more
        ``reopen_count``, a new promise; None if it was not resolved (a retry, or reopened already)."""
        try:
            res = self._call(
                "update_item", Key=to_item(case_key(case_id)),
                UpdateExpression=("SET #status = :open, gsi1pk = :gpk, reopened_at = :at, promised_at = :promised, "
                                  "reopen_count = if_not_exists(reopen_count, :zero) + :one "
                                  "REMOVE resolved_at, resolved_by"),
                ConditionExpression="#status = :resolved", ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item({":open": "open", ":gpk": "CASES#open", ":at": at, ":zero": 0,
                                                   ":one": 1, ":promised": promised_at, ":resolved": "resolved"}),
                ReturnValues="ALL_NEW")
        except Conflict:
            return None
        return case_record(res["Attributes"])

    def raise_urgency(self, case_id: str, *, at: str, reason: str | None, text: str, promised_at: str,
                      recipients: dict[str, dict[str, Any]], number: str | None = None,
                      call_back_until: str | None = None, about: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The customer's answer is urgent: the case becomes urgent (``raised_at``; ``alert_text``, the words
        its alerts quote), with a new promise, new recipients and, for the call-back, the number until
        ``call_back_until`` (and, an answer about the staff on duty, whom it is ``about``); None if it was
        urgent already."""
        names: dict[str, str] = {"#r": "recipients"} if recipients else {}
        values: dict[str, Any] = {":high": "high", ":reason": reason or "answer", ":at": at, ":text": text,
                                  ":promised": promised_at}
        sets = ["urgency = :high", "urgency_reason = :reason", "raised_at = :at", "alert_text = :text",
                "promised_at = :promised"]
        for i, (rid, recipient) in enumerate(recipients.items()):
            names[f"#k{i}"] = rid
            values[f":r{i}"] = recipient
            sets.append(f"#r.#k{i} = :r{i}")
        if number and call_back_until:
            values.update({":n": number, ":cb": "CALLBACK", ":cbsk": f"{call_back_until}#{case_id}"})
            sets += ["customer_number = :n", "gsi3pk = :cb", "gsi3sk = :cbsk"]
        if about:
            values.update({":yes": True, ":about": about})
            sets += ["about_staff = :yes", "about = :about"]
        try:
            res = self._call("update_item", Key=to_item(case_key(case_id)), UpdateExpression="SET " + ", ".join(sets),
                             ConditionExpression="attribute_exists(pk) AND urgency <> :high",
                             **({"ExpressionAttributeNames": names} if names else {}),
                             ExpressionAttributeValues=to_item(values),
                             ReturnValues="ALL_NEW")
        except Conflict:
            return None
        return case_record(res["Attributes"])

    def lapsed_call_backs(self, now: str, limit: int = 1000) -> list[str]:
        """Cases still holding a customer's full number past ``now``, their call-back's lapse (sparse
        ``gsi3``: ``CALLBACK``, ``<lapse time>#<id>``; only cases with a number are in it)."""
        items = self._query_pages(IndexName="gsi3", KeyConditionExpression="gsi3pk = :p AND gsi3sk < :now",
                                  ExpressionAttributeValues=to_item({":p": "CALLBACK", ":now": now}))
        return [i["pk"]["S"][5:] for i in itertools.islice(items, limit)]

    def forget_customer_number(self, case_id: str) -> None:
        """The case keeps the masked number only (its call-back lapsed)."""
        self._if("update_item", Key=to_item(case_key(case_id)),
                 UpdateExpression="REMOVE customer_number, gsi3pk, gsi3sk", ConditionExpression="attribute_exists(pk)")

    def claim_code(self, code: str, case_id: str, *, now: int, until: int) -> bool:
        """Hold a short case code (``4821``) for ``case_id`` until ``until``; False if another case holds it."""
        return self._if("put_item", Item=to_item({**code_key(code), "case_id": case_id, "until": until,
                                                  "ttl": until + 86_400}),
                        ConditionExpression="attribute_not_exists(pk) OR case_id = :id OR #until < :now",
                        ExpressionAttributeNames={"#until": "until"},
                        ExpressionAttributeValues=to_item({":id": case_id, ":now": now}))

    def case_for_code(self, code: str, now: int) -> str | None:
        item = self._get(code_key(code), plain=False)
        return item["case_id"] if item and int(item["until"]) >= now else None

    def release_code_of(self, case: dict[str, Any]) -> None:
        """Free a case's short code, if that case still holds it (the case is being erased)."""
        if case.get("code"):
            self._if("delete_item", Key=to_item(code_key(case["code"])), ConditionExpression="case_id = :id",
                     ExpressionAttributeValues=to_item({":id": case["id"]}))
