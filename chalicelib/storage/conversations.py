"""Conversations: each message of a case's conversation is its own item (``CONV#<case id>`` /
``<at>#<message id>``), so a conversation of any length stays within every item limit and reading a case's
latest messages is one Query whatever the number of cases. The way back to the customer of a case
(``REPLYTO#<case id>``: their number, until ``contact_days`` after their latest message) and the case a
customer's next message to one number joins (``THREAD#<customer key>#<number written to>``) are one item
each. Every item carries the customer's key (``gsi4``): an erasure deletes them with the customer."""

from __future__ import annotations

from typing import Any

from chalicelib.conversations import STATUS_RANK, Contact, ConversationMessage, MailThread
from chalicelib.errors import Conflict
from chalicelib.storage.dynamo import Dynamo, from_item, plain_numbers, to_item

FIELDS = set(ConversationMessage.__dataclass_fields__)


def conversation_key(case_id: str, at: str, message_id: str) -> dict[str, str]:
    return {"pk": f"CONV#{case_id}", "sk": f"{at}#{message_id}"}


def contact_key(case_id: str) -> dict[str, str]:
    return {"pk": f"REPLYTO#{case_id}", "sk": "REPLYTO"}


def thread_key(customer_key: str, origin: str) -> dict[str, str]:
    return {"pk": f"THREAD#{customer_key}#{origin}", "sk": "THREAD"}


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

    def get_message(self, case_id: str, at: str, message_id: str) -> ConversationMessage | None:
        res = self._call("get_item", Key=to_item(conversation_key(case_id, at, message_id)), ConsistentRead=True)
        return _record(res["Item"]) if "Item" in res else None

    def claim_send(self, message: ConversationMessage, *, now: int, until: int) -> bool:
        """Take the right to send a reply until ``until`` (epoch seconds): False if it was sent (it has the
        carrier's id), was refused, or another worker holds a claim that has not run out."""
        return self._if("update_item", Key=to_item(conversation_key(message.case_id, message.at, message.id)),
                        UpdateExpression="SET sending_until = :until",
                        ConditionExpression=("attribute_exists(pk) AND attribute_not_exists(provider_id) AND #r <= :q "
                                             "AND (attribute_not_exists(sending_until) OR sending_until < :now)"),
                        ExpressionAttributeNames={"#r": "rank"},
                        ExpressionAttributeValues=to_item({":until": until, ":now": now,
                                                           ":q": STATUS_RANK["queued"]}))

    def record_sent(self, message: ConversationMessage, provider_id: str) -> bool:
        """The carrier took the reply (``provider_id``, its message id): the claim ends. False if erased."""
        return self._if("update_item", Key=to_item(conversation_key(message.case_id, message.at, message.id)),
                        UpdateExpression="SET provider_id = :p, sending_until = :free",
                        ConditionExpression="attribute_exists(pk)",
                        ExpressionAttributeValues=to_item({":p": provider_id[:128], ":free": 0}))

    def release_send(self, message: ConversationMessage) -> None:
        """End a claim with nothing sent (a retry may claim it at once)."""
        self._if("update_item", Key=to_item(conversation_key(message.case_id, message.at, message.id)),
                 UpdateExpression="SET sending_until = :free", ConditionExpression="attribute_exists(pk)",
                 ExpressionAttributeValues=to_item({":free": 0}))

    def set_contact(self, contact: Contact) -> None:
        """Keep (or renew) the way back to a case's customer until ``contact.expires_at``."""
        self._call("put_item", Item=to_item({**contact_key(contact.case_id), "type": "contact",
                                             "number": contact.number, "origin": contact.origin,
                                             "channel": contact.channel, "customer_key": contact.customer_key,
                                             "ttl": contact.expires_at,
                                             **({"thread": contact.thread.model_dump(mode="json")}
                                                if contact.thread else {})}))

    def contact(self, case_id: str, now: int) -> Contact | None:
        """The way back to the customer of a case, unless it has expired (by ``now``, epoch seconds)."""
        item = self._get(contact_key(case_id))
        if item is None or int(item.get("ttl") or 0) <= now:
            return None
        thread = MailThread.model_validate(item["thread"]) if item.get("thread") else None
        return Contact(case_id=case_id, number=item["number"], origin=item["origin"], channel=item["channel"],
                       customer_key=item["customer_key"], expires_at=int(item["ttl"]), thread=thread)

    def set_thread(self, customer_key: str, origin: str, case_id: str, *, expires_at: int) -> None:
        """The case the customer's next message to ``origin`` joins (the latest case opened wins)."""
        self._call("put_item", Item=to_item({**thread_key(customer_key, origin), "type": "thread",
                                             "case_id": case_id, "customer_key": customer_key, "ttl": expires_at}))

    def thread(self, customer_key: str, origin: str, now: int) -> str | None:
        item = self._get(thread_key(customer_key, origin))
        return item["case_id"] if item and int(item.get("ttl") or 0) > now else None
