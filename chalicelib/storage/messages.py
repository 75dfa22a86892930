"""Messages: one item per inbound message, its day (``gsi2``), its pending state (``gsi3``) and the
drill-down indexes.

Drill-down indexes (keys, urgency and language only), one per combination of site, topic and
nature, each partitioned by day and sorted like ``gsi2``: ``day_site`` (``<date>#<site>``),
``day_topic``, ``day_nature``, ``day_site_topic`` (``<date>#<site>#<topic>``), ``day_site_nature``,
``day_topic_nature``, ``day_site_topic_nature``. A drill-down reads one small partition per day.

A manager's correction (``relabel_message``) rewrites the labels and these index attributes, keeps the
machine's labels once (``machine``) and numbers the corrections (``corrections``), in one transaction
with the move of the message's counts (``chalicelib/storage/counters.py``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

from chalicelib.errors import BadCursor, Conflict, NotFound
from chalicelib.storage.counters import count_writes, mark_write, shard_of, transact
from chalicelib.storage.dynamo import (
    NO_SITE,
    Dynamo,
    check_start_key,
    decode_cursor,
    encode_cursor,
    from_item,
    short,
    to_item,
)

_MAX_PAGES = 20
DRILL_DIMENSIONS = ("site", "topic", "nature")
# One index per combination of the dimensions a drill-down narrows by, each partitioned by
# day: ``day_site_topic`` holds ``<day>#<site>#<topic>``. A drill-down reads one small
# partition per day, whatever the filters; ``gsi2`` (``DAY#<day>``) serves the whole network.
DRILL_INDEXES = tuple("day_" + "_".join(combo) for size in (1, 2, 3)
                      for combo in itertools.combinations(DRILL_DIMENSIONS, size))


def drill_keys(day: str, values: dict[str, str | None]) -> dict[str, str]:
    """The drill-index attributes of a message of ``day`` (site ``None`` is ``_none``)."""
    out = {}
    for index in DRILL_INDEXES:
        out[index] = "#".join([day, *(values.get(d) or NO_SITE for d in index.split("_")[1:])])
    return out


def drill_index(wanted: dict[str, str]) -> tuple[str, str, Any]:
    """Index, partition attribute and ``day -> partition value`` for a query narrowed by ``wanted``."""
    dims = [d for d in DRILL_DIMENSIONS if wanted.get(d) is not None]
    if not dims:
        return "gsi2", "gsi2pk", lambda day: f"DAY#{day}"
    name = "day_" + "_".join(dims)
    return name, name, lambda day: "#".join([day, *(wanted[d] for d in dims)])


def message_key(message_id: str) -> dict[str, str]:
    return {"pk": f"MSG#{message_id}", "sk": "MSG"}


def message_item(record: dict[str, Any]) -> dict[str, Any]:
    """The item of a new message: its record, keyed, on its day (``gsi2``), pending (``gsi3``) until the
    worker is done, and in the drill-down index of each combination of its site, topic and nature."""
    position = f"{record['received_at']}#{record['id']}"
    return {**message_key(record["id"]), "type": "message", **record, "gsi2pk": f"DAY#{record['day']}",
            "gsi2sk": position, "gsi3pk": "PENDING", "gsi3sk": position, **drill_keys(record["day"], record)}


LAYOUT = {"pk", "sk", "type", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", *DRILL_INDEXES}


def message_record(item: dict[str, Any]) -> dict[str, Any]:
    """A stored message as the domain knows it: without its keys and index attributes."""
    return {k: v for k, v in from_item(item).items() if k not in LAYOUT}


class MessageStore(Dynamo):
    """Inbound messages: stored once, processed once, listed by day and drill-down."""

    def put_message(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """Store a new message. Returns ``None``, or the stored item if it was there already."""
        try:
            self._call("put_item", Item=to_item(message_item(record)), ConditionExpression="attribute_not_exists(pk)",
                       ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return None
        except Conflict as exc:
            if exc.item:
                return {k: v for k, v in exc.item.items() if k not in LAYOUT}
            return self.get_message(record["id"])

    def get_message(self, message_id: str) -> dict[str, Any] | None:
        res = self._call("get_item", Key=to_item(message_key(message_id)), ConsistentRead=True)
        return message_record(res["Item"]) if "Item" in res else None

    def mark_processed(self, message_id: str, processed_at: str, case_id: str | None) -> None:
        """The worker is done with a message: forget the customer's full number."""
        values = {":at": processed_at}
        expression = "SET processed_at = :at"
        if case_id:
            expression += ", case_id = :case"
            values[":case"] = case_id
        expression += " REMOVE gsi3pk, gsi3sk, from_number"
        try:
            self._call("update_item", Key=to_item(message_key(message_id)), UpdateExpression=expression,
                       ExpressionAttributeValues=to_item(values), ConditionExpression="attribute_exists(pk)")
        except Conflict as exc:
            raise NotFound(message_id) from exc

    def relabel_message(self, message: dict[str, Any], *, labels: dict[str, str], by: str, at: str,
                        note: str | None, counts: dict[str, int]) -> bool:
        """Give a counted message (``message`` as read) a manager's labels, keep the machine's once, and move its
        counts by ``counts`` in its own hour and day: one transaction, once (the mark ``relabel#<id>#<n>`` of
        its n-th correction, and a condition on n). False if the message changed meanwhile (corrected again,
        erased) or is not counted yet: nothing is written then."""
        n = int(message.get("corrections") or 0) + 1
        bucket, expires = f"H#{message['hour']}", int(message.get("ttl") or 0)
        fields = {**labels, "machine": message.get("machine") or {d: message.get(d) for d in labels},
                  "corrections": n, "corrected_by": by, "corrected_at": at,
                  **drill_keys(message["day"], {**message, **labels})}
        names = {f"#a{i}": name for i, name in enumerate(fields)}
        values: dict[str, Any] = {f":a{i}": value for i, value in enumerate(fields.values())}
        sets = [f"#a{i} = :a{i}" if name != "machine" else f"#a{i} = if_not_exists(#a{i}, :a{i})"
                for i, name in enumerate(fields)]
        names.update({"#note": "correction_note", "#done": "processed_at", "#n": "corrections"})
        if note:
            values[":note"] = note
        update = "SET " + ", ".join([*sets, *(["#note = :note"] if note else [])]) + ("" if note else " REMOVE #note")
        condition = "attribute_exists(#done) AND " + ("#n = :prev" if n > 1 else "attribute_not_exists(#n)")
        if n > 1:
            values[":prev"] = n - 1
        relabel = {"Update": {"TableName": self._table, "Key": to_item(message_key(message["id"])),
                              "UpdateExpression": update, "ConditionExpression": condition,
                              "ExpressionAttributeNames": names, "ExpressionAttributeValues": to_item(values)}}
        mark = mark_write(self._counters, f"relabel#{message['id']}#{n}", bucket, expires)
        writes = count_writes(self._counters, message.get("site"), bucket, shard_of(message["id"]), counts, expires)
        return transact(self._db, [mark, relabel, *writes])

    def set_reply_status(self, message_id: str, status: str) -> None:
        self._call("update_item", Key=to_item(message_key(message_id)), UpdateExpression="SET reply_status = :s",
                   ExpressionAttributeValues=to_item({":s": status}))

    def claim_reply(self, message_id: str, *, at: str, stale_before: str) -> bool:
        """Take the sending of the message's automatic reply: ``pending`` becomes ``sending`` at ``at``, or a claim
        older than ``stale_before`` (its function died) is taken over; False if another delivery holds it or the
        reply went already."""
        return self._if(
            "update_item", Key=to_item(message_key(message_id)),
            UpdateExpression="SET reply_status = :sending, reply_claimed_at = :at",
            ConditionExpression="reply_status = :pending OR (reply_status = :sending AND reply_claimed_at < :stale)",
            ExpressionAttributeValues=to_item({":sending": "sending", ":pending": "pending", ":at": at,
                                               ":stale": stale_before}))

    def pending_messages(self, before: str, limit: int = 100) -> list[dict[str, Any]]:
        """Messages stored but not yet processed by the worker, received before ``before``."""
        items = []
        for item in self._query_pages(
            IndexName="gsi3", KeyConditionExpression="gsi3pk = :p AND gsi3sk < :before",
            ExpressionAttributeValues=to_item({":p": "PENDING", ":before": before}),
        ):
            items.append(message_record(item))
            if len(items) >= limit:
                break
        return items

    def feedback(
        self, *, site: str | None, since: str, until: str, days: list[str],
        filters: dict[str, str], limit: int, cursor: str | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first; ``days`` (newest first) are the day partitions covering the period.

        Each day is read through the index keyed on that day and the site, topic and nature
        asked for (``drill_index``), so a page reads only matching messages: no FilterExpression
        drops items it has read (and billed). Only ``urgency``, ``language`` and ``channel``, which no
        index is keyed on, are left to a filter: ``urgency`` and ``language`` a FilterExpression on the
        index's own (projected) attributes; ``channel`` the entries whose table key starts ``MSG#<channel>-``
        (every index holds it), kept here from the entries read, which a query bills either way (DynamoDB
        refuses key attributes in a FilterExpression). Such a page reads at most ``_MAX_PAGES`` queries of
        ``limit`` entries, and may come back short with a cursor.
        """
        keyed = {"site": site, **{d: filters.get(d) for d in DRILL_DIMENSIONS if d != "site"}}
        index, pk_name, pk_of = drill_index({k: v for k, v in keyed.items() if v is not None})
        sk_name = "gsi2sk"
        allowed = {"pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", *DRILL_INDEXES}
        state = decode_cursor(cursor, allowed) if cursor else {}
        query = hashlib.sha256(json.dumps([index, keyed, filters], sort_keys=True, default=str).encode()
                               ).hexdigest()[:16]  # what the cursor continues: its index, keys and filters
        if cursor and state.get("q") != query:  # a page that ended with a day holds no key to tell its query by
            raise BadCursor("cursor does not belong to this query")
        names: dict[str, str] = {}
        values: dict[str, Any] = {":since": since, ":until": until + "\uffff"}
        conditions = []
        channel = message_key(f"{filters['channel']}-")["pk"] if filters.get("channel") else ""
        for i, (field, value) in enumerate(sorted((f, v) for f, v in filters.items()
                                                  if f not in (*DRILL_DIMENSIONS, "channel"))):
            names[f"#f{i}"] = field
            values[f":f{i}"] = value
            conditions.append(f"#f{i} = :f{i}")
        base: dict[str, Any] = {"ScanIndexForward": False, "IndexName": index}
        if conditions:
            base["FilterExpression"] = " AND ".join(conditions)
            base["ExpressionAttributeNames"] = names

        start = state.get("d")
        if start is not None and start not in days:
            raise BadCursor("cursor does not belong to this period")
        todo = days[days.index(start):] if start else days
        start_key = state.get("k")
        if start_key and todo:  # a cursor of another query (site, filters, period) would fail in DynamoDB
            position = start_key.get(sk_name, {}).get("S", "")
            if start_key.get(pk_name, {}).get("S") != pk_of(todo[0]) or not since <= position <= until + "\uffff":
                raise BadCursor("cursor does not belong to this query")
            check_start_key(start_key, {"pk": lambda v: v.startswith("MSG#") and short(v), "sk": lambda v: v == "MSG",
                                        pk_name: lambda v: v == pk_of(todo[0]), sk_name: short})
        keys: list[dict[str, Any]] = []
        queries = 0
        for n, day in enumerate(todo):
            while True:
                if queries >= _MAX_PAGES:
                    return self._messages(keys, index), encode_cursor({"d": day, "k": start_key, "q": query})
                kwargs = dict(
                    base, Limit=limit - len(keys),
                    KeyConditionExpression=f"{pk_name} = :pk AND {sk_name} BETWEEN :since AND :until",
                    ExpressionAttributeValues=to_item({**values, ":pk": pk_of(day)}),
                )
                if start_key:
                    kwargs["ExclusiveStartKey"] = start_key
                page = self._call("query", **kwargs)
                queries += 1
                keys.extend(i for i in page.get("Items", []) if not channel or i["pk"]["S"].startswith(channel))
                start_key = page.get("LastEvaluatedKey")
                if len(keys) >= limit:
                    if start_key:
                        return self._messages(keys, index), encode_cursor({"d": day, "k": start_key, "q": query})
                    following = todo[n + 1:]
                    after = encode_cursor({"d": following[0], "k": None, "q": query}) if following else None
                    return self._messages(keys, index), after
                if not start_key:
                    break
        return self._messages(keys, index), None

    def _messages(self, keys: list[dict[str, Any]], index: str) -> list[dict[str, Any]]:
        """The messages behind index entries, in their order: ``gsi2`` holds whole messages, the drill
        indexes only keys (fetched with BatchGetItem; one erased in between is left out)."""
        if index == "gsi2":
            return [message_record(i) for i in keys]
        found = {(i["pk"]["S"], i["sk"]["S"]): i for i in self._batch_get(
            self._table, [{"pk": k["pk"]["S"], "sk": k["sk"]["S"]} for k in keys])}
        return [message_record(found[k]) for k in ((k["pk"]["S"], k["sk"]["S"]) for k in keys) if k in found]
