"""Conversations: each message of a case's conversation is its own item (``CONV#<case id>`` /
``<at>#<message id>``), so a conversation of any length stays within every item limit and reading a case's
latest messages is one Query whatever the number of cases. Each item carries the customer's key (``gsi4``):
an erasure deletes the conversation with the customer."""

from __future__ import annotations

from typing import Any

from chalicelib.conversations import STATUS_RANK, ConversationMessage
from chalicelib.errors import Conflict
from chalicelib.storage.dynamo import Dynamo, from_item, plain_numbers, to_item

FIELDS = set(ConversationMessage.__dataclass_fields__)


def conversation_key(case_id: str, at: str, message_id: str) -> dict[str, str]:
    return {"pk": f"CONV#{case_id}", "sk": f"{at}#{message_id}"}


def _record(item: dict[str, Any]) -> ConversationMessage:
    plain = plain_numbers(from_item(item))
    plain["expires_at"] = int(plain.pop("ttl", 0) or 0)
    return ConversationMessage(**{k: v for k, v in plain.items() if k in FIELDS})


class ConversationStore(Dynamo):
    """The messages of each case's conversation, each written once, their delivery status only moving forward."""

    def add_message(self, message: ConversationMessage) -> bool:
        """Store ``message`` once: False if it was stored already (a retry, a redelivery)."""
        fields = message.as_dict()
        expires = fields.pop("expires_at")
        item = {**conversation_key(message.case_id, message.at, message.id), "type": "conversation",
                "rank": STATUS_RANK[message.status], "ttl": expires,
                **{k: v for k, v in fields.items() if v is not None}}
        try:
            self._call("put_item", Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")
        except Conflict:
            return False
        return True

    def conversation(self, case_id: str, limit: int = 50) -> list[ConversationMessage]:
        """The case's latest ``limit`` messages, oldest first (one Query, newest first, read backwards)."""
        res = self._call("query", KeyConditionExpression="pk = :pk", ScanIndexForward=False, Limit=limit,
                         ExpressionAttributeValues=to_item({":pk": f"CONV#{case_id}"}))
        return [_record(i) for i in reversed(res.get("Items", []))]

    def set_status(self, message: ConversationMessage, status: str, *, at: str, error: str | None = None) -> bool:
        """Move ``message`` to ``status`` if that is forward of what is stored; False for a duplicate, a late
        or out-of-order report, or a message no longer there (erased)."""
        values: dict[str, Any] = {":s": status, ":r": STATUS_RANK[status], ":at": at}
        expression = "SET #s = :s, #r = :r, status_at = :at"
        if error:
            expression += ", #e = :e"
            values[":e"] = error[:200]
        try:
            self._call("update_item", Key=to_item(conversation_key(message.case_id, message.at, message.id)),
                       UpdateExpression=expression, ConditionExpression="attribute_exists(pk) AND #r < :r",
                       ExpressionAttributeNames={"#s": "status", "#r": "rank", **({"#e": "error"} if error else {})},
                       ExpressionAttributeValues=to_item(values))
        except Conflict:
            return False
        return True

    def sent_since(self, case_id: str, since: str) -> int:
        """How many outbound messages the case has had since ``since`` (ISO): the per-case cap."""
        items = self._query_pages(KeyConditionExpression="pk = :pk AND sk >= :since",
                                  FilterExpression="#d = :out", ProjectionExpression="pk",
                                  ExpressionAttributeNames={"#d": "direction"},
                                  ExpressionAttributeValues=to_item({":pk": f"CONV#{case_id}", ":since": since,
                                                                     ":out": "out"}))
        return sum(1 for _ in items)
