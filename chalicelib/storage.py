"""DynamoDB adapter: messages and cases in one table, counters in a second one.

Layout (see README, "Storage"):

=================  ======================  =========================  ==========================
item               pk / sk                 gsi1 (cases by status)     gsi2 (by day), gsi3
=================  ======================  =========================  ==========================
message            MSG#<id> / MSG          -                          DAY#<date>, <ts>#<id>;
                                                                      PENDING until processed
hour counters      MET#<site>#<date> / H#<hour>  -                      -
roll-ups           ROLL#<month> / H#.. D#..  (counters table: every site, one JSON value)
case               CASE#<id> / CASE        CASES#<status>, <ts>#<id>  -
=================  ======================  =========================  ==========================

Drill-down indexes (keys, urgency and language only), one per combination of site,
topic and nature, each partitioned by day and sorted like gsi2: ``day_site``
(``<date>#<site>``), ``day_topic``, ``day_nature``, ``day_site_topic``
(``<date>#<site>#<topic>``), ``day_site_nature``, ``day_topic_nature``,
``day_site_topic_nature``. A drill-down reads one small partition per day.

gsi4 (keys only) indexes every item linked to one customer by its ``customer_key``
(keyed HMAC of the number): messages, cases, consent, survey conversations and
markers, per-customer quotas and offers. Erasing a customer is a query and deletes.

Counters live in their own small table (``<table>-counters``): reading them never
touches the message items, whatever their number.

No transaction is needed: a message is stored once by a conditional put; a
counter item carries the (short) keys of the messages it has counted and is
updated with one conditional ``ADD``, so a retried or duplicated message is
never counted twice and counts stay exact on real DynamoDB. Reading a period
fetches network roll-ups by key (``chalicelib/rollup.py``): reads grow with the
number of hours and days, never with messages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import Conflict  # a domain error: storage raises it, the routes catch it without storage

NO_SITE = "_none"
COUNTER_FIELD = re.compile(
    r"^(n|(nature|topic|urgency|language)_[a-z][a-z0-9-]{0,30}|x_[a-z0-9-]+_[a-z]+_[a-z]+|ack_(n|s|gt|le_\d+)|promise_(kept|missed))$")
BUCKET = re.compile(r"^(H#\d{4}-\d\d-\d\dT\d\d|D#\d{4}-\d\d-\d\d)$")
_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()
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


class StorageError(Exception):
    """DynamoDB could not be reached or refused the request for lack of capacity."""


class NotFound(Exception):
    pass


class BadCursor(ValueError):
    pass


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _SERIALIZER.serialize(v) for k, v in data.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    out = {k: _DESERIALIZER.deserialize(v) for k, v in item.items()}
    for key, value in out.items():
        if hasattr(value, "as_integer_ratio") and not isinstance(value, (int, float)):
            out[key] = int(value) if value == int(value) else float(value)
        elif isinstance(value, set):
            out[key] = sorted(value)
    return out


def _plain_numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(v) for v in value]
    if hasattr(value, "as_integer_ratio") and not isinstance(value, (int, float, bool)):
        return int(value) if value == int(value) else float(value)
    return value


def encode_cursor(state: dict[str, Any]) -> str:
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, allowed_keys: set[str]) -> dict[str, Any]:
    """Read a cursor given back by a client, refusing anything we did not write."""
    if len(cursor) > 2048:
        raise BadCursor("cursor is too long")
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadCursor("cursor is not one this API returned") from exc
    if not isinstance(state, dict) or not set(state) <= {"d", "k"}:
        raise BadCursor("cursor is not one this API returned")
    key = state.get("k")
    if key is not None and (not isinstance(key, dict) or set(key) - allowed_keys or not all(
        isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in key.values()
    )):
        raise BadCursor("cursor is not one this API returned")
    if "d" in state and not (state["d"] is None or isinstance(state["d"], str)):
        raise BadCursor("cursor is not one this API returned")
    return state


def check_start_key(key: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """A cursor's position must name exactly the keys of its query (table and index keys), each of the
    shape that query writes: anything else would reach DynamoDB as a malformed ``ExclusiveStartKey``."""
    if set(key) != set(expected) or not all(expected[name](value["S"]) for name, value in key.items()):
        raise BadCursor("cursor does not belong to this query")
    return key


def _short(value: str) -> bool:
    return 0 < len(value) <= 256


def counter_key(site: str | None, bucket: str) -> dict[str, str]:
    """Where a counter item lives: day items together per site, hour items per site and day.

    Small partitions keep every read a short range: one query for the days of a period,
    one per edge day for its hours.
    """
    if not BUCKET.match(bucket):
        raise ValueError(f"bad counter bucket {bucket!r}")
    shard = "D" if bucket.startswith("D#") else bucket[2:12]
    return {"pk": f"MET#{site or NO_SITE}#{shard}", "sk": bucket}


def rollup_key(bucket: str) -> dict[str, str]:
    """Where the network roll-up of an hour or a day lives (all sites in one item)."""
    if not BUCKET.match(bucket):
        raise ValueError(f"bad counter bucket {bucket!r}")
    return {"pk": f"ROLL#{bucket[2:9]}", "sk": bucket}


def rollup_item(bucket: str, counts: dict[str, dict[str, int]], *, version: int, rolled_at: str,
                expires_at: int) -> dict[str, Any]:
    """A network roll-up: the counts of every site in one JSON attribute (one value to read)."""
    return {**rollup_key(bucket), "c": json.dumps(counts, separators=(",", ":"), sort_keys=True),
            "v": version, "rolled_at": rolled_at, "ttl": expires_at}


def dedup_key(message_id: str) -> str:
    """Short, stable key of a message inside a counter item's set (72 bits)."""
    return base64.b64encode(hashlib.sha256(message_id.encode()).digest()[:9]).decode()


class FeedbackStore:
    """Everything Voix keeps in DynamoDB, behind domain-level methods.

    Takes a low-level DynamoDB client and the table name; turns ``ClientError``
    codes into :class:`StorageError`, :class:`NotFound` and :class:`Conflict`.
    """

    def __init__(self, client: Any, table_name: str, counters_table: str | None = None):
        self._db = client
        self._table = table_name
        self._counters = counters_table or f"{table_name}-counters"

    # -- helpers -----------------------------------------------------------------------
    def _call(self, operation: str, table: str | None = None, **kwargs: Any) -> dict[str, Any]:
        try:
            return getattr(self._db, operation)(TableName=table or self._table, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise
            raise StorageError(f"DynamoDB {operation} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"DynamoDB {operation} failed: {exc}") from exc

    @staticmethod
    def _conditional_failed(exc: ClientError) -> bool:
        return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"

    def _query_pages(self, table: str | None = None, **kwargs: Any) -> Iterator[dict[str, Any]]:
        for _ in range(1000):
            page = self._call("query", table, **kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # -- messages ----------------------------------------------------------------------
    def put_message(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """Store a new message. Returns ``None``, or the stored item if it was there already."""
        item = {"pk": f"MSG#{record['id']}", "sk": "MSG", "type": "message", **record}
        try:
            self._call(
                "put_item", Item=to_item(item), ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return None
        except ClientError as exc:
            if not self._conditional_failed(exc):
                raise
            old = exc.response.get("Item")
            return from_item(old) if old else self.get_message(record["id"])

    def get_message(self, message_id: str) -> dict[str, Any] | None:
        res = self._call("get_item", Key=to_item({"pk": f"MSG#{message_id}", "sk": "MSG"}), ConsistentRead=True)
        return from_item(res["Item"]) if "Item" in res else None

    def mark_processed(self, message_id: str, processed_at: str, case_id: str | None) -> None:
        """The worker is done with a message: forget the customer's full number."""
        values = {":at": processed_at}
        expression = "SET processed_at = :at"
        if case_id:
            expression += ", case_id = :case"
            values[":case"] = case_id
        expression += " REMOVE gsi3pk, gsi3sk, from_number"
        try:
            self._call(
                "update_item", Key=to_item({"pk": f"MSG#{message_id}", "sk": "MSG"}),
                UpdateExpression=expression, ExpressionAttributeValues=to_item(values),
                ConditionExpression="attribute_exists(pk)",
            )
        except ClientError as exc:
            if not self._conditional_failed(exc):
                raise
            raise NotFound(message_id) from exc

    def set_reply_status(self, message_id: str, status: str) -> None:
        self._call(
            "update_item", Key=to_item({"pk": f"MSG#{message_id}", "sk": "MSG"}),
            UpdateExpression="SET reply_status = :s", ExpressionAttributeValues=to_item({":s": status}),
        )

    def pending_messages(self, before: str, limit: int = 100) -> list[dict[str, Any]]:
        """Messages stored but not yet processed by the worker, received before ``before``."""
        items = []
        for item in self._query_pages(
            IndexName="gsi3", KeyConditionExpression="gsi3pk = :p AND gsi3sk < :before",
            ExpressionAttributeValues=to_item({":p": "PENDING", ":before": before}),
        ):
            items.append(from_item(item))
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
        drops items it has read (and billed). Only ``urgency`` and ``language``, which no index
        is keyed on, are left to a filter on the index's own (projected) attributes.
        """
        keyed = {"site": site, **{d: filters.get(d) for d in DRILL_DIMENSIONS if d != "site"}}
        index, pk_name, pk_of = drill_index({k: v for k, v in keyed.items() if v is not None})
        sk_name = "gsi2sk"
        allowed = {"pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", *DRILL_INDEXES}
        state = decode_cursor(cursor, allowed) if cursor else {}
        names: dict[str, str] = {}
        values: dict[str, Any] = {":since": since, ":until": until + "\uffff"}
        conditions = []
        for i, (field, value) in enumerate(sorted((f, v) for f, v in filters.items() if f not in DRILL_DIMENSIONS)):
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
            check_start_key(start_key, {"pk": lambda v: v.startswith("MSG#") and _short(v), "sk": lambda v: v == "MSG",
                                        pk_name: lambda v: v == pk_of(todo[0]), sk_name: _short})
        keys: list[dict[str, Any]] = []
        queries = 0
        for n, day in enumerate(todo):
            while True:
                if queries >= _MAX_PAGES:
                    return self._messages(keys, index), encode_cursor({"d": day, "k": start_key})
                kwargs = dict(
                    base, Limit=limit - len(keys),
                    KeyConditionExpression=f"{pk_name} = :pk AND {sk_name} BETWEEN :since AND :until",
                    ExpressionAttributeValues=to_item({**values, ":pk": pk_of(day)}),
                )
                if start_key:
                    kwargs["ExclusiveStartKey"] = start_key
                page = self._call("query", **kwargs)
                queries += 1
                keys.extend(page.get("Items", []))
                start_key = page.get("LastEvaluatedKey")
                if len(keys) >= limit:
                    if start_key:
                        return self._messages(keys, index), encode_cursor({"d": day, "k": start_key})
                    following = todo[n + 1:]
                    after = encode_cursor({"d": following[0], "k": None}) if following else None
                    return self._messages(keys, index), after
                if not start_key:
                    break
        return self._messages(keys, index), None

    def _messages(self, keys: list[dict[str, Any]], index: str) -> list[dict[str, Any]]:
        """The messages behind index entries, in their order: ``gsi2`` holds whole messages, the drill
        indexes only keys (fetched with BatchGetItem; one erased in between is left out)."""
        if index == "gsi2":
            return [from_item(i) for i in keys]
        found = {(i["pk"]["S"], i["sk"]["S"]): i for i in self._batch_get(
            self._table, [{"pk": k["pk"]["S"], "sk": k["sk"]["S"]} for k in keys])}
        return [from_item(found[k]) for k in ((k["pk"]["S"], k["sk"]["S"]) for k in keys) if k in found]

    # -- counters ----------------------------------------------------------------------
    def count_message(self, *, site: str | None, bucket: str, message_id: str,
                      fields: Iterable[str], expires_at: int) -> bool:
        """Add one message to a site's hour (``H#...``) or day (``D#...``) counters.

        Returns False if that message was already counted there (a duplicate or a retry).
        """
        names = {"#ids": "ids", "#ttl": "ttl"}
        adds = ["#ids :id"]
        for i, field in enumerate(["n", *fields]):
            if not COUNTER_FIELD.match(field):
                raise ValueError(f"unknown counter {field!r}")
            names[f"#c{i}"] = field
            adds.append(f"#c{i} :one")
        key = dedup_key(message_id)
        try:
            self._call(
                "update_item", self._counters,
                Key=to_item(counter_key(site, bucket)),
                UpdateExpression="ADD " + ", ".join(adds) + " SET #ttl = :ttl",
                ConditionExpression="NOT contains(#ids, :key)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    ":id": {"SS": [key]}, ":key": {"S": key}, ":one": {"N": "1"},
                    ":ttl": {"N": str(expires_at)},
                },
            )
            return True
        except ClientError as exc:
            if not self._conditional_failed(exc):
                raise
            return False

    def add_counts(self, *, site: str | None, bucket: str, counts: dict[str, int], expires_at: int) -> None:
        """Plain additions to a counter item (statistics that have no duplicate to fear)."""
        if not all(COUNTER_FIELD.match(f) for f in counts):
            raise ValueError("bad counter field")
        names = {f"#c{i}": f for i, f in enumerate(counts)}
        values = {f":v{i}": {"N": str(int(v))} for i, v in enumerate(counts.values())}
        self._call(
            "update_item", self._counters, Key=to_item(counter_key(site, bucket)),
            UpdateExpression="ADD " + ", ".join(f"#c{i} :v{i}" for i in range(len(counts))) + " SET #ttl = :ttl",
            ExpressionAttributeNames={**names, "#ttl": "ttl"},
            ExpressionAttributeValues={**values, ":ttl": {"N": str(expires_at)}},
        )

    def counter_rows(self, keys: list[tuple[str | None, str]], fields: list[str], *,
                     consistent: bool = False) -> dict[tuple[str, str], dict]:
        """Per-site counter items by (site, bucket), without their id sets; missing ones are absent.

        The keys are known (one per site and hour), so they are fetched with BatchGetItem:
        reads grow with the number of buckets, and never scan anything. ``consistent`` reads
        see a count written just before (a roll-up made right after a late count needs it).
        """
        wanted = set(fields)
        out: dict[tuple[str, str], dict[str, Any]] = {}
        # No ProjectionExpression: DynamoDB bills the whole item either way, and moto
        # evaluates projections slowly; the fields are picked here.
        unique = list(dict.fromkeys((site or NO_SITE, bucket) for site, bucket in keys))
        for item in self._batch_get(self._counters, [counter_key(site, bucket) for site, bucket in unique],
                                    consistent=consistent):
            data = from_item({k: v for k, v in item.items() if k in wanted})
            out[(item["pk"]["S"].split("#")[1], item["sk"]["S"])] = data
        return out

    def rollups(self, buckets: list[str]) -> dict[str, dict[str, dict[str, int]]]:
        """Network roll-ups by bucket: ``{bucket: {site: {field: count}}}``; missing ones are absent."""
        out = {}
        for item in self._batch_get(self._counters, [rollup_key(b) for b in dict.fromkeys(buckets)]):
            out[item["sk"]["S"]] = json.loads(item["c"]["S"])
        return out

    def put_rollup(self, bucket: str, counts: dict[str, dict[str, int]], *, version: int,
                   rolled_at: str, expires_at: int) -> bool:
        """Store a roll-up unless a fresher one (counting more events) is there; False then.

        Counters only grow, so the roll-up that counted the most events is the latest.
        """
        item = rollup_item(bucket, counts, version=version, rolled_at=rolled_at, expires_at=expires_at)
        try:
            self._call("put_item", self._counters, Item=to_item(item),
                       ConditionExpression="attribute_not_exists(v) OR v < :v",
                       ExpressionAttributeValues={":v": {"N": str(version)}})
            return True
        except ClientError as exc:
            if not self._conditional_failed(exc):
                raise
            return False

    def _batch(self, operation: str, request: dict[str, Any], leftover: str) -> Iterator[dict[str, Any]]:
        """One batch request, its unprocessed part sent again after a growing pause (DynamoDB returns
        what it throttled); yields each response."""
        for attempt in range(20):
            try:
                res = getattr(self._db, operation)(RequestItems=request)
            except (ClientError, BotoCoreError) as exc:
                raise StorageError(f"DynamoDB {operation} failed: {exc}") from exc
            yield res
            request = res.get(leftover) or {}
            if not request:
                return
            time.sleep(min(1.0, 0.02 * 2 ** attempt))
        raise StorageError(f"DynamoDB {operation} left items unprocessed after 20 tries")

    def _batch_get(self, table: str, keys: list[dict[str, str]], *, consistent: bool = False
                   ) -> Iterator[dict[str, Any]]:
        for chunk in range(0, len(keys), 100):
            request = {table: {"Keys": [to_item(k) for k in keys[chunk:chunk + 100]], "ConsistentRead": consistent}}
            for res in self._batch("batch_get_item", request, "UnprocessedKeys"):
                yield from res.get("Responses", {}).get(table, [])

    # -- cases ---------------------------------------------------------------------------
    def put_case(self, case: dict[str, Any]) -> bool:
        """Create a case; False if it exists already (a retried job)."""
        item = {
            "pk": f"CASE#{case['id']}", "sk": "CASE", "type": "case",
            "gsi1pk": f"CASES#{case['status']}", "gsi1sk": f"{case['created_at']}#{case['id']}",
            **case,
        }
        try:
            self._call("put_item", Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")
            return True
        except ClientError as exc:
            if not self._conditional_failed(exc):
                raise
            return False

    def get_case(self, case_id: str) -> dict[str, Any] | None:
        res = self._call("get_item", Key=to_item({"pk": f"CASE#{case_id}", "sk": "CASE"}), ConsistentRead=True)
        return _plain_numbers(from_item(res["Item"])) if "Item" in res else None

    def claim_delivery(self, case_id: str, recipient_id: str, *, now: int, until: int) -> bool:
        """Take the right to send one alert until ``until`` (epoch seconds): False if it is sent,
        or another worker holds a claim that has not run out. Two copies of an alert job (a
        replayed message, a sweep during a backlog) then send one SMS, not two."""
        try:
            self._call(
                "update_item", Key=to_item({"pk": f"CASE#{case_id}", "sk": "CASE"}),
                UpdateExpression="SET recipients.#r.sending_until = :until",
                ConditionExpression=("recipients.#r.#status <> :sent AND (attribute_not_exists("
                                     "recipients.#r.sending_until) OR recipients.#r.sending_until < :now)"),
                ExpressionAttributeNames={"#r": recipient_id, "#status": "status"},
                ExpressionAttributeValues=to_item({":sent": "sent", ":now": now, ":until": until}))
            return True
        except ClientError as exc:
            if not self._conditional_failed(exc):
                raise
            return False

    def record_delivery(self, case_id: str, recipient_id: str, status: str, attempt: dict[str, Any]) -> None:
        """Append a delivery attempt to one recipient of a case, set its status, end its claim."""
        self._call(
            "update_item",
            Key=to_item({"pk": f"CASE#{case_id}", "sk": "CASE"}),
            UpdateExpression=(
                "SET recipients.#r.#status = :status, recipients.#r.sending_until = :free, "
                "recipients.#r.attempts = list_append(recipients.#r.attempts, :attempt)"
            ),
            ExpressionAttributeNames={"#r": recipient_id, "#status": "status"},
            ExpressionAttributeValues=to_item({":status": status, ":attempt": [attempt], ":free": 0}),
        )

    def release_delivery(self, case_id: str, recipient_id: str) -> None:
        """End a claim without an attempt to record (the send never started)."""
        self._call("update_item", Key=to_item({"pk": f"CASE#{case_id}", "sk": "CASE"}),
                   UpdateExpression="SET recipients.#r.sending_until = :free",
                   ExpressionAttributeNames={"#r": recipient_id}, ExpressionAttributeValues=to_item({":free": 0}))

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
        return self._change_status(
            {"pk": f"CASE#{case_id}", "sk": "CASE"}, UpdateExpression="SET " + ", ".join(sets) + remove,
            ConditionExpression=f"attribute_exists(pk) AND #status IN ({allowed})",
            ExpressionAttributeValues=to_item(values))

    def _change_status(self, key: dict[str, str], **update: Any) -> dict[str, Any]:
        """A conditional update of an item's ``status``: the new item, or NotFound / Conflict(old status)."""
        try:
            res = self._call("update_item", Key=to_item(key), ExpressionAttributeNames={"#status": "status"},
                             ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD", **update)
        except ClientError as exc:
            if not self._conditional_failed(exc):
                raise
            old = exc.response.get("Item")
            if not old:
                raise NotFound(key["pk"]) from exc
            raise Conflict(from_item(old).get("status", "unknown")) from exc
        return _plain_numbers(from_item(res["Attributes"]))

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
                    "pk": lambda v: v.startswith("CASE#") and _short(v), "sk": lambda v: v == "CASE",
                    "gsi1pk": lambda v: v == f"CASES#{status}", "gsi1sk": _short})
        page = self._call("query", **kwargs)
        items = [_plain_numbers(from_item(i)) for i in page.get("Items", [])]
        last = page.get("LastEvaluatedKey")
        return items, encode_cursor({"k": last}) if last else None

    # -- escalation, short codes, consent ---------------------------------------------------
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
            res = self._call("update_item", Key=to_item({"pk": f"CASE#{case_id}", "sk": "CASE"}),
                             UpdateExpression="SET " + ", ".join(sets), ConditionExpression=condition,
                             ExpressionAttributeNames=names, ExpressionAttributeValues=to_item(values),
                             ReturnValues="ALL_NEW")
        except ClientError as exc:
            if not self._conditional_failed(exc):
                raise
            return None
        return _plain_numbers(from_item(res["Attributes"]))

    def lapsed_call_backs(self, now: str, limit: int = 1000) -> list[str]:
        """Cases still holding a customer's full number past ``now``, their call-back's lapse (sparse
        ``gsi3``: ``CALLBACK``, ``<lapse time>#<id>``; only cases with a number are in it)."""
        items = self._query_pages(IndexName="gsi3", KeyConditionExpression="gsi3pk = :p AND gsi3sk < :now",
                                  ExpressionAttributeValues=to_item({":p": "CALLBACK", ":now": now}))
        return [i["pk"]["S"][5:] for i in itertools.islice(items, limit)]

    def forget_customer_number(self, case_id: str) -> None:
        """The case keeps the masked number only (its call-back lapsed)."""
        try:
            self._call("update_item", Key=to_item({"pk": f"CASE#{case_id}", "sk": "CASE"}),
                       UpdateExpression="REMOVE customer_number, gsi3pk, gsi3sk",
                       ConditionExpression="attribute_exists(pk)")
        except ClientError as exc:
            if not self._conditional_failed(exc):
                raise

    def claim_code(self, code: str, case_id: str, *, now: int, until: int) -> bool:
        """Hold a short case code (``4821``) for ``case_id`` until ``until``; False if another case holds it."""
        try:
            self._call("put_item", Item=to_item({"pk": f"CODE#{code}", "sk": "CODE", "case_id": case_id,
                                                 "until": until, "ttl": until + 86_400}),
                       ConditionExpression="attribute_not_exists(pk) OR case_id = :id OR #until < :now",
                       ExpressionAttributeNames={"#until": "until"},
                       ExpressionAttributeValues=to_item({":id": case_id, ":now": now}))
            return True
        except ClientError as exc:
            if not self._conditional_failed(exc):
                raise
            return False

    def case_for_code(self, code: str, now: int) -> str | None:
        res = self._call("get_item", Key=to_item({"pk": f"CODE#{code}", "sk": "CODE"}), ConsistentRead=True)
        item = from_item(res["Item"]) if "Item" in res else None
        return item["case_id"] if item and int(item["until"]) >= now else None

    def set_consent(self, customer_key: str, status: str, *, at: str, source: str, message_id: str,
                    expires_at: int) -> str | None:
        """Record a consent change (time and source kept in its history); returns the previous status.

        Idempotent per message: a redelivered STOP changes nothing and returns the status it set.
        """
        try:
            res = self._call(
                "update_item", Key=to_item({"pk": f"CONSENT#{customer_key}", "sk": "CONSENT"}),
                UpdateExpression=("SET #status = :status, updated_at = :at, #source = :source, #ttl = :ttl, "
                                  "customer_key = :owner, "
                                  "history = list_append(if_not_exists(history, :empty), :event) ADD ids :id"),
                ConditionExpression="NOT contains(ids, :mid)",
                ExpressionAttributeNames={"#status": "status", "#source": "source", "#ttl": "ttl"},
                ExpressionAttributeValues={**to_item({
                    ":status": status, ":at": at, ":source": source, ":ttl": expires_at, ":empty": [],
                    ":event": [{"at": at, "status": status, "source": source, "message": message_id}],
                    ":mid": message_id, ":owner": customer_key}), ":id": {"SS": [message_id]}},
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if not self._conditional_failed(exc):
                raise
            return status
        return from_item(res.get("Attributes", {})).get("status")

    def consent(self, customer_key: str) -> dict[str, Any] | None:
        res = self._call("get_item", Key=to_item({"pk": f"CONSENT#{customer_key}", "sk": "CONSENT"}),
                         ConsistentRead=True)
        if "Item" not in res:
            return None
        item = _plain_numbers(from_item(res["Item"]))
        item.pop("ids", None)
        return item

    # -- goodwill offers --------------------------------------------------------------------------
    def take_quota(self, key: str, limit: int, expires_at: int, customer_key: str | None = None) -> bool:
        """One unit of a bounded quota (a site's day budget, a customer's cap): atomic, never over."""
        if limit <= 0:
            return False
        owner = ", customer_key = :owner" if customer_key else ""
        try:
            self._call("update_item", Key=to_item({"pk": key, "sk": "QUOTA"}),
                       UpdateExpression="ADD used :one SET #limit = :limit, #ttl = :ttl" + owner,
                       ConditionExpression="attribute_not_exists(used) OR used < :limit",
                       ExpressionAttributeNames={"#limit": "limit", "#ttl": "ttl"},
                       ExpressionAttributeValues=to_item({":one": 1, ":limit": limit, ":ttl": expires_at,
                                                          ":owner": customer_key}))
            return True
        except ClientError as exc:
            if not self._conditional_failed(exc):
                raise
            return False

    def give_back_quota(self, key: str) -> None:
        self._call("update_item", Key=to_item({"pk": key, "sk": "QUOTA"}), UpdateExpression="ADD used :minus",
                   ConditionExpression="used > :zero", ExpressionAttributeValues=to_item({":minus": -1, ":zero": 0}))

    def quota_used(self, key: str) -> int:
        res = self._call("get_item", Key=to_item({"pk": key, "sk": "QUOTA"}), ConsistentRead=True)
        return int(from_item(res["Item"]).get("used", 0)) if "Item" in res else 0

    def put_offer(self, offer: dict[str, Any]) -> dict[str, Any] | None:
        """Create an offer; if its code exists, return the existing offer instead."""
        item = {"pk": f"OFFER#{offer['code']}", "sk": "OFFER", "type": "offer", **offer}
        try:
            self._call("put_item", Item=to_item(item), ConditionExpression="attribute_not_exists(pk)",
                       ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return None
        except ClientError as exc:
            if not self._conditional_failed(exc):
                raise
            return _plain_numbers(from_item(exc.response.get("Item") or {}))

    def delete_offer(self, code: str) -> None:
        self._call("delete_item", Key=to_item({"pk": f"OFFER#{code}", "sk": "OFFER"}))

    def get_offer(self, code: str) -> dict[str, Any] | None:
        res = self._call("get_item", Key=to_item({"pk": f"OFFER#{code}", "sk": "OFFER"}), ConsistentRead=True)
        return _plain_numbers(from_item(res["Item"])) if "Item" in res else None

    def redeem_offer(self, code: str, *, at: str, by: str | None) -> dict[str, Any]:
        return self._change_status(
            {"pk": f"OFFER#{code}", "sk": "OFFER"},
            UpdateExpression="SET #status = :redeemed, redeemed_at = :at, redeemed_by = :by",
            ConditionExpression="attribute_exists(pk) AND #status = :issued",
            ExpressionAttributeValues=to_item({":redeemed": "redeemed", ":issued": "issued", ":at": at,
                                               ":by": by or "unknown"}))

    # -- once-only markers ---------------------------------------------------------------------
    def claim_marker(self, key: str, expires_at: int, customer_key: str | None = None) -> bool:
        """Claim a once-only marker (a digest sent, say); False if it was claimed already."""
        try:
            self._call("put_item", Item=to_item({"pk": key, "sk": "MARKER", "ttl": expires_at,
                                                 "customer_key": customer_key}),
                       ConditionExpression="attribute_not_exists(pk)")
            return True
        except ClientError as exc:
            if not self._conditional_failed(exc):
                raise
            return False

    def release_marker(self, key: str) -> None:
        self._call("delete_item", Key=to_item({"pk": key, "sk": "MARKER"}))

    # -- surveys ------------------------------------------------------------------------------------
    def put_survey(self, survey: dict[str, Any]) -> None:
        item = {"pk": f"SURVEY#{survey['id']}", "sk": "SURVEY", "type": "survey", "stats": {},
                "gsi1pk": f"SURVEYS#{survey['site']}", "gsi1sk": f"{survey['created_at']}#{survey['id']}", **survey}
        self._call("put_item", Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")

    def get_survey(self, survey_id: str) -> dict[str, Any] | None:
        res = self._call("get_item", Key=to_item({"pk": f"SURVEY#{survey_id}", "sk": "SURVEY"}), ConsistentRead=True)
        return _plain_numbers(from_item(res["Item"])) if "Item" in res else None

    def surveys_of_site(self, site: str, limit: int = 1000) -> list[dict[str, Any]]:
        """A site's surveys, newest first, page by page (its scores are over all of them)."""
        items = self._query_pages(IndexName="gsi1", KeyConditionExpression="gsi1pk = :pk", ScanIndexForward=False,
                                  ExpressionAttributeValues=to_item({":pk": f"SURVEYS#{site}"}))
        return [_plain_numbers(from_item(i)) for i in itertools.islice(items, limit)]

    def survey_add(self, survey_id: str, counts: dict[str, int]) -> None:
        """Add to a survey's statistics (``stats`` map: sent, q0_n, q0_v9, follow_ups...)."""
        names = {"#s": "stats", **{f"#k{i}": k for i, k in enumerate(counts)}}
        values = {":zero": 0, **{f":v{i}": v for i, v in enumerate(counts.values())}}
        sets = [f"#s.#k{i} = if_not_exists(#s.#k{i}, :zero) + :v{i}" for i in range(len(counts))]
        self._call("update_item", Key=to_item({"pk": f"SURVEY#{survey_id}", "sk": "SURVEY"}),
                   UpdateExpression="SET " + ", ".join(sets), ConditionExpression="attribute_exists(pk)",
                   ExpressionAttributeNames=names, ExpressionAttributeValues=to_item(values))

    def put_conversation(self, customer: str, conversation: dict[str, Any]) -> None:
        """A customer's open survey conversation (one at a time: a newer survey replaces it)."""
        self._call("put_item", Item=to_item({"pk": f"SURVEYCUST#{customer}", "sk": "ACTIVE",
                                                                 "customer_key": customer, **conversation}))

    def get_conversation(self, customer: str) -> dict[str, Any] | None:
        res = self._call("get_item", Key=to_item({"pk": f"SURVEYCUST#{customer}", "sk": "ACTIVE"}),
                         ConsistentRead=True)
        return _plain_numbers(from_item(res["Item"])) if "Item" in res else None

    def advance_conversation(self, customer: str, *, step: int, value: int, detractor: bool, ended: bool,
                             follow_up_at: str | None = None, message_id: str | None = None) -> bool:
        """Record the answer to question ``step`` once (False if it was answered already).

        ``answered`` (a string set of ``"<step>:<message id>"``) keeps which message answered
        which step, so that the same message delivered again is recognised rather than taken
        for the answer to the next question.
        """
        sets = ["answers.#step = :value", "step = :next", "detractor = :detractor"]
        values: dict[str, Any] = {":value": value, ":next": step + 1, ":detractor": detractor, ":step": step}
        add = ""
        if message_id:
            add = " ADD answered :answered"
            values[":answered"] = {f"{step}:{message_id}"}
        if follow_up_at:
            sets.append("follow_up_at = :follow")
            values[":follow"] = follow_up_at
        if ended:
            sets.append("expires_at = :now")
            values[":now"] = "1970-01-01T00:00:00.000Z"
        try:
            self._call("update_item", Key=to_item({"pk": f"SURVEYCUST#{customer}", "sk": "ACTIVE"}),
                       UpdateExpression="SET " + ", ".join(sets) + add, ConditionExpression="step = :step",
                       ExpressionAttributeNames={"#step": str(step)}, ExpressionAttributeValues=to_item(values))
            return True
        except ClientError as exc:
            if not self._conditional_failed(exc):
                raise
            return False

    def add_conversation_text(self, customer: str, message_id: str, text: str, *, end: bool) -> bool:
        """Keep a customer's worded reply with their conversation, once per message."""
        update = "SET texts = list_append(if_not_exists(texts, :empty), :text)"
        values = {":empty": [], ":text": [{"message": message_id, "text": text}], ":mid": message_id}
        if end:
            update += ", expires_at = :ended"
            values[":ended"] = "1970-01-01T00:00:00.000Z"
        try:
            self._call("update_item", Key=to_item({"pk": f"SURVEYCUST#{customer}", "sk": "ACTIVE"}),
                       UpdateExpression=update + " ADD text_ids :ids",
                       ConditionExpression="attribute_exists(pk) AND NOT contains(text_ids, :mid)",
                       ExpressionAttributeValues={**to_item(values), ":ids": {"SS": [message_id]}})
            return True
        except ClientError as exc:
            if not self._conditional_failed(exc):
                raise
            return False

    def end_conversation(self, customer: str) -> None:
        """Close a customer's survey conversation, if any (they opted out)."""
        try:
            self._call("update_item", Key=to_item({"pk": f"SURVEYCUST#{customer}", "sk": "ACTIVE"}),
                       UpdateExpression="SET expires_at = :ended", ConditionExpression="attribute_exists(pk)",
                       ExpressionAttributeValues=to_item({":ended": "1970-01-01T00:00:00.000Z"}))
        except ClientError as exc:
            if not self._conditional_failed(exc):
                raise

    def decide_alerts(self, case_id: str, *, allowed: bool) -> None:
        """Record whether a case alerts staff; held back (its sender is over the hourly alert
        limit), it keeps no recipient and says ``alerts_suppressed``."""
        if allowed:
            self._call("update_item", Key=to_item({"pk": f"CASE#{case_id}", "sk": "CASE"}),
                       UpdateExpression="SET alert_decision = :allowed",
                       ExpressionAttributeValues=to_item({":allowed": "allowed"}))
            return
        self._call("update_item", Key=to_item({"pk": f"CASE#{case_id}", "sk": "CASE"}),
                   UpdateExpression="SET alerts_suppressed = :yes, recipients = :none, alert_decision = :held",
                   ExpressionAttributeValues=to_item({":yes": True, ":none": {}, ":held": "held"}))

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
        for key in keys:
            if key["pk"].startswith("CASE#"):
                case = self.get_case(key["pk"][5:])
                if case and case.get("code"):
                    try:
                        self._call("delete_item", Key=to_item({"pk": f"CODE#{case['code']}", "sk": "CODE"}),
                                   ConditionExpression="case_id = :id",
                                   ExpressionAttributeValues=to_item({":id": case["id"]}))
                    except ClientError as exc:
                        if not self._conditional_failed(exc):
                            raise
        for start in range(0, len(keys), 25):
            request = {self._table: [{"DeleteRequest": {"Key": to_item(k)}} for k in keys[start:start + 25]]}
            for _ in self._batch("batch_write_item", request, "UnprocessedItems"):
                pass
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
            pk = f"ERASED#{mark(kind, value)}"
            items[pk] = {"pk": pk, "sk": "ERASED", "ttl": expires_at, **extra}

        for key in keys:
            if key["pk"].startswith("MSG#"):
                tombstone("message", key["pk"][4:])
            elif key["pk"].startswith("CASE#"):
                tombstone("case", key["pk"][5:])
        consent = self._call("get_item", Key=to_item({"pk": f"CONSENT#{customer_key}", "sk": "CONSENT"}),
                             ConsistentRead=True).get("Item")
        if consent:
            consent = from_item(consent)
            for message_id in consent.get("ids") or ():
                tombstone("message", message_id)
            if consent.get("status") == "opted_out":
                pk = f"SUPPRESS#{mark('opt-out', customer_key)}"
                items[pk] = {"pk": pk, "sk": "SUPPRESS", "since": consent.get("updated_at"),
                             "ttl": max(int(consent.get("ttl") or 0), expires_at)}
        conversation = self.get_conversation(customer_key)
        if conversation:
            answered = [entry.partition(":")[2] for entry in conversation.get("answered") or ()]
            for message_id in [*answered, *(conversation.get("text_ids") or ())]:
                tombstone("message", message_id)
        tombstone("customer", customer_key, erased_at=at)
        batch = list(items.values())
        for start in range(0, len(batch), 25):
            request = {self._table: [{"PutRequest": {"Item": to_item(i)}} for i in batch[start:start + 25]]}
            for _ in self._batch("batch_write_item", request, "UnprocessedItems"):
                pass

    def tombstone(self, mark: str) -> dict[str, Any] | None:
        """The tombstone of an erased message, case or customer (by its mark), if there is one."""
        res = self._call("get_item", Key=to_item({"pk": f"ERASED#{mark}", "sk": "ERASED"}), ConsistentRead=True)
        return _plain_numbers(from_item(res["Item"])) if "Item" in res else None

    def suppressed(self, mark: str) -> bool:
        """Whether an erased customer had opted out (their suppression mark is listed)."""
        res = self._call("get_item", Key=to_item({"pk": f"SUPPRESS#{mark}", "sk": "SUPPRESS"}), ConsistentRead=True)
        return "Item" in res

    def suppress(self, mark: str, *, since: str, expires_at: int) -> None:
        """List an erased customer's opt-out (one parked while DynamoDB was down, say)."""
        self._call("put_item", Item=to_item({"pk": f"SUPPRESS#{mark}", "sk": "SUPPRESS", "since": since,
                                             "ttl": expires_at}))

    def lift_suppression(self, mark: str) -> None:
        """The customer opted in again (START after their erasure)."""
        self._call("delete_item", Key=to_item({"pk": f"SUPPRESS#{mark}", "sk": "SUPPRESS"}))
