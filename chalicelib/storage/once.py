"""A change to a bounded item made once per message: the item keeps a bounded window (its last events),
and each message it took in leaves a small marker item of its own, written in the same transaction.

Why: an item that remembers every message it took in (a list, a set of ids) grows without bound and,
past DynamoDB's 400 KB, refuses the next write. The marker (``<KIND>#<message id>``, with the
customer's key for erasure and a TTL) keeps the exactly-once promise at a constant size; the item is
read, changed and written back under a condition on its revision, so two concurrent writers never
lose one another (the loser reads again and retries).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import Unavailable
from chalicelib.storage.dynamo import Dynamo, to_item

TRIES = 20  # concurrent writers of one item read it again this many times before giving up
WRITTEN, SEEN, MOVED = "written", "seen", "moved"


def marker_key(kind: str, message_id: str) -> dict[str, str]:
    """``CONSENTMSG#<message id>``, ``SURVEYTEXT#<message id>``: a message taken in once."""
    return {"pk": f"{kind}#{message_id}", "sk": kind}


class Once(Dynamo):
    """Adapters whose items take in messages once, with bounded memory."""

    def _take_once(self, kind: str, message_id: str, *, customer_key: str, expires_at: int | None,
                   change: dict[str, Any]) -> str:
        """Write ``change`` (a transaction ``Put`` or ``Update`` on the main table, with its condition)
        together with the marker of ``message_id``: WRITTEN; SEEN if that message was taken in before
        (nothing written); MOVED if the change's condition refused it (nothing written: read again)."""
        marker = {**marker_key(kind, message_id), "customer_key": customer_key,
                  "ttl": int(expires_at) if expires_at else None}  # no TTL: kept as long as the table
        operation, body = next(iter(change.items()))
        items = [{"Put": {"TableName": self._table, "Item": to_item(marker),
                          "ConditionExpression": "attribute_not_exists(pk)"}},
                 {operation: {"TableName": self._table, **body}}]
        try:
            self._db.transact_write_items(TransactItems=items)
            return WRITTEN
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise Unavailable(f"DynamoDB transact_write_items failed: {exc}") from exc
            codes = [r.get("Code") for r in exc.response.get("CancellationReasons") or ()]
            if codes[:1] == ["ConditionalCheckFailed"]:
                return SEEN
            if "ConditionalCheckFailed" in codes or "TransactionConflict" in codes:
                return MOVED
            raise Unavailable(f"DynamoDB transact_write_items cancelled: {codes}") from exc
        except BotoCoreError as exc:
            raise Unavailable(f"DynamoDB transact_write_items failed: {exc}") from exc

    def _retry(self, attempt: Callable[[], tuple[str, Any]]) -> Any:
        """Run ``attempt`` (read, decide, ``_take_once``) until it is not MOVED; its result."""
        for _ in range(TRIES):
            outcome, result = attempt()
            if outcome != MOVED:
                return result
        raise Unavailable(f"an item changed under {TRIES} tries in a row")


def revision_condition(item: dict[str, Any] | None, field: str = "revision") -> dict[str, Any]:
    """The condition that ``item`` (as read) is still the one stored: absent, or its revision unchanged
    (``ConditionExpression``, its names and values, for a transaction item)."""
    if item is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    if field not in item:  # written before revisions were kept
        return {"ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(#rev)",
                "ExpressionAttributeNames": {"#rev": field}}
    return {"ConditionExpression": "#rev = :rev", "ExpressionAttributeNames": {"#rev": field},
            "ExpressionAttributeValues": to_item({":rev": int(item[field])})}
