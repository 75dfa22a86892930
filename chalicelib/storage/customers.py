"""Customers: consent (``CONSENT#<customer key>``), erasure, tombstones (``ERASED#<mark>``) and the
suppression list (``SUPPRESS#<mark>``).

``gsi4`` (keys only) indexes every item linked to one customer by its ``customer_key`` (keyed HMAC
of the number): messages, cases, consent, survey conversations and markers, per-customer quotas and
offers. Erasing a customer is a query and deletes: the one piece of work that spans every aggregate,
kept here (:meth:`CustomerStore.erase_customer`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.storage.cases import CaseStore
from chalicelib.storage.dynamo import to_item
from chalicelib.storage.once import SEEN, WRITTEN, Once, revision_condition
from chalicelib.storage.surveys import TEXT_MARKER, SurveyStore

CONSENT_MARKER = "CONSENTMSG"
HISTORY_KEPT = 20  # consent changes kept on the item, the latest by time


def consent_key(customer_key: str) -> dict[str, str]:
    return {"pk": f"CONSENT#{customer_key}", "sk": "CONSENT"}


def tombstone_key(mark: str) -> dict[str, str]:
    return {"pk": f"ERASED#{mark}", "sk": "ERASED"}


def suppression_key(mark: str) -> dict[str, str]:
    return {"pk": f"SUPPRESS#{mark}", "sk": "SUPPRESS"}


class CustomerStore(Once):
    """What Voix keeps about a customer as such: consent, and what outlives their erasure."""

    def set_consent(self, customer_key: str, status: str, *, at: str, source: str, message_id: str,
                    expires_at: int) -> str | None:
        """Record a consent change; returns the previous status.

        The latest change by its time wins (an older one delivered late is kept in the history only);
        the item keeps the last :data:`HISTORY_KEPT` changes by time, so it never grows. Idempotent per
        message: a ``CONSENTMSG#<message id>`` marker is written in the same transaction, and a
        redelivered STOP changes nothing and returns the status it set (as does a change older than
        the status in force). The item is written back on a condition on its revision, so two
        concurrent STOP / START never lose one another.
        """
        event = {"at": at, "status": status, "source": source, "message": message_id}

        def attempt() -> tuple[str, str | None]:
            item = self._get(consent_key(customer_key), plain=False)
            if item and message_id in (item.get("ids") or ()):  # recorded before markers were kept
                return SEEN, status
            history = sorted([*(item or {}).get("history", []), event], key=lambda e: e["at"])
            latest = history[-1] is event
            new = {**(item or {}), **consent_key(customer_key), "customer_key": customer_key,
                   "history": history[-HISTORY_KEPT:], "revision": int((item or {}).get("revision", 0)) + 1,
                   "ttl": max(int((item or {}).get("ttl") or 0), int(expires_at))}
            if latest:
                new.update(status=status, updated_at=at, source=source)
            if "ids" in new:
                new["ids"] = set(new["ids"])
            change = {"Put": {"Item": to_item(new), **revision_condition(item)}}
            outcome = self._take_once(CONSENT_MARKER, message_id, customer_key=customer_key,
                                      expires_at=expires_at, change=change)
            return outcome, (item or {}).get("status") if outcome == WRITTEN and latest else status

        return self._retry(attempt)

    def consent(self, customer_key: str) -> dict[str, Any] | None:
        item = self._get(consent_key(customer_key))
        if item is not None:
            item.pop("ids", None)
            item.pop("revision", None)
        return item

    def tombstone(self, mark: str) -> dict[str, Any] | None:
        """The tombstone of an erased message, case or customer (by its mark), if there is one."""
        return self._get(tombstone_key(mark))

    def suppressed(self, mark: str) -> bool:
        """Whether an erased customer had opted out (their suppression mark is listed)."""
        return self._get(suppression_key(mark)) is not None

    def suppress(self, mark: str, *, since: str, expires_at: int) -> None:
        """List an erased customer's opt-out (one parked while DynamoDB was down, say)."""
        self._call("put_item", Item=to_item({**suppression_key(mark), "since": since, "ttl": expires_at}))

    def lift_suppression(self, mark: str) -> None:
        """The customer opted in again (START after their erasure)."""
        self._call("delete_item", Key=to_item(suppression_key(mark)))

    # -- erasure (right to be forgotten) -------------------------------------------------------------
    def customer_item_keys(self, customer_key: str) -> list[dict[str, str]]:
        """The keys of every item linked to one customer (gsi4)."""
        return [{"pk": i["pk"]["S"], "sk": i["sk"]["S"]} for i in self._query_pages(
            IndexName="gsi4", KeyConditionExpression="customer_key = :k",
            ExpressionAttributeValues=to_item({":k": customer_key}))]

    def erase_customer(self, customer_key: str, *, mark: Callable[[str, str], str] | None = None,
                       at: str | None = None, expires_at: int | None = None) -> dict[str, int]:
        """Delete everything linked to one customer; returns how many items of each kind went.

        A case's short code goes with the case. Aggregate counters keep their counts: they
        hold no personal data. Idempotent: erasing again finds nothing.

        With ``mark`` (``mark(kind, value)``: a keyed hash, ``chalicelib.erasure``), tombstones
        are written first, each with ``ttl`` ``expires_at``: one per erased message id (stored
        messages, and the STOP / START and survey answers noted on their consent and survey
        items) and per case, one for the customer with the time ``at``, and, for an opted-out
        customer, a suppression entry: the opt-out outlives the history.
        """
        keys = self.customer_item_keys(customer_key)
        if mark is not None:
            self._write_tombstones(customer_key, keys, mark, at=at or "", expires_at=int(expires_at or 0))
        cases = CaseStore(self._db, self._table, self._counters)
        for key in keys:
            if key["pk"].startswith("CASE#"):
                case = cases.get_case(key["pk"][5:])
                if case:
                    cases.release_code_of(case)
        self._batch_write([{"DeleteRequest": {"Key": to_item(k)}} for k in keys])
        erased: dict[str, int] = {}
        for key in keys:
            kind = key["pk"].split("#", 1)[0].lower()
            erased[kind] = erased.get(kind, 0) + 1
        return erased

    def _write_tombstones(self, customer_key: str, keys: list[dict[str, str]], mark: Callable[[str, str], str], *,
                          at: str, expires_at: int) -> None:
        """Before anything is deleted: a replay or a queued job seen during the erasure is already refused."""
        items: dict[str, dict[str, Any]] = {}

        def tombstone(kind: str, value: str, **extra: Any) -> None:
            key = tombstone_key(mark(kind, value))
            items[key["pk"]] = {**key, "ttl": expires_at, **extra}

        for key in keys:
            if key["pk"].startswith("MSG#"):
                tombstone("message", key["pk"][4:])
            elif key["pk"].startswith("CASE#"):
                tombstone("case", key["pk"][5:])
            elif key["pk"].startswith((f"{CONSENT_MARKER}#", f"{TEXT_MARKER}#")):  # a STOP / START, a text
                tombstone("message", key["pk"].split("#", 1)[1])
        consent = self._get(consent_key(customer_key), plain=False)
        if consent:
            for message_id in consent.get("ids") or ():
                tombstone("message", message_id)
            if consent.get("status") == "opted_out":
                key = suppression_key(mark("opt-out", customer_key))
                items[key["pk"]] = {**key, "since": consent.get("updated_at"),
                                    "ttl": max(int(consent.get("ttl") or 0), expires_at)}
        conversation = SurveyStore(self._db, self._table, self._counters).get_conversation(customer_key)
        if conversation:
            answered = [entry.partition(":")[2] for entry in conversation.get("answered") or ()]
            for message_id in [*answered, *(conversation.get("text_ids") or ())]:
                tombstone("message", message_id)
        tombstone("customer", customer_key, erased_at=at)
        self._batch_write([{"PutRequest": {"Item": to_item(i)}} for i in items.values()])


