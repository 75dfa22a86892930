"""DynamoDB write units as AWS bills them, measured on moto: every write of a boto3 session is seen, the
items it names are read before and after (with a client of another session, not counted), and sized.

AWS's rules (Developer Guide, "Item sizes and formats" and "Read/write capacity mode"):

- an item's size is the sum of its attribute names' UTF-8 lengths and its values' sizes: a string or a
  binary its length, a number 1 byte plus 1 per two significant digits, a boolean or null 1 byte, a
  set the sum of its elements, a list or a map 3 bytes plus 1 per element plus its elements (and a
  map's key names);
- a write costs one unit per KB (rounded up) of the larger of the item before and after it; a write in a
  ``TransactWriteItems`` costs twice that;
- a global secondary index the write changes costs one write of the projected item (the table's and the
  index's keys plus the projected attributes) where the item enters or stays with a projected change,
  one where it leaves, two where its index key changes (a delete and a put).

Refused writes (a failed condition, a cancelled transaction) are left out: the messages measured here are
new, so none is refused.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from infra.item_sizes import item_size, number_size, value_size  # noqa: F401  (number_size: the tests)

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


class Indexes:
    """The global indexes of the tables written to: their key attributes and projections."""

    def __init__(self, client: Any):
        self._client = client
        self._tables: dict[str, tuple[list[str], list[tuple[list[str], str, list[str]]]]] = {}

    def of(self, table: str) -> tuple[list[str], list[tuple[list[str], str, list[str]]]]:
        if table not in self._tables:
            desc = self._client.describe_table(TableName=table)["Table"]
            keys = [k["AttributeName"] for k in desc["KeySchema"]]
            gsis = [([k["AttributeName"] for k in g["KeySchema"]], g["Projection"]["ProjectionType"],
                     g["Projection"].get("NonKeyAttributes", [])) for g in desc.get("GlobalSecondaryIndexes", [])]
            self._tables[table] = (keys, gsis)
        return self._tables[table]


def projected(item: dict | None, table_keys: list[str], index: tuple[list[str], str, list[str]]) -> dict | None:
    """The entry of ``item`` in a global index (None if its index key is missing: not in the index)."""
    keys, projection, extra = index
    if not item or any(k not in item for k in keys):
        return None
    if projection == "ALL":
        return item
    kept = set(table_keys) | set(keys) | (set(extra) if projection == "INCLUDE" else set())
    return {k: v for k, v in item.items() if k in kept}


def index_units(table_keys: list[str], gsis: list, before: dict | None, after: dict | None) -> int:
    """Write units of the global indexes for an item going from ``before`` to ``after``."""
    total = 0
    for index in gsis:
        old, new = projected(before, table_keys, index), projected(after, table_keys, index)
        if old is None and new is None:
            continue
        if old is None or new is None:
            total += units(item_size(old or new))
        elif any(old.get(k) != new.get(k) for k in index[0]):
            total += units(item_size(old)) + units(item_size(new))
        elif old != new:
            total += units(max(item_size(old), item_size(new)))
    return total


class WriteMeter:
    """Counts the write units of every DynamoDB write made through ``session`` (a boto3 Session), by API.

    ``reader`` is a DynamoDB client of another session (its reads are not seen).
    """

    def __init__(self, session: Any, reader: Any):
        self._reader = reader
        self._indexes = Indexes(reader)
        self.units: Counter = Counter()  # by API: table and index units
        self.calls: Counter = Counter()
        session.events.register("before-parameter-build.dynamodb", self._before)
        session.events.register("after-call.dynamodb", self._after)

    def reset(self) -> None:
        self.units.clear()
        self.calls.clear()

    def total(self) -> int:
        return sum(self.units.values())

    def _named(self, api: str, params: dict) -> list[tuple[str, dict, bool]]:
        """(table, key, transactional) of each item a write names."""
        out = []
        if api in ("PutItem", "UpdateItem", "DeleteItem"):
            table = params["TableName"]
            out.append((table, self._key(table, params.get("Key") or params["Item"]), False))
        elif api == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for r in requests:
                    named = r.get("PutRequest", {}).get("Item") or r["DeleteRequest"]["Key"]
                    out.append((table, self._key(table, named), False))
        elif api == "TransactWriteItems":
            for t in params["TransactItems"]:
                (kind, w), = t.items()
                if kind != "ConditionCheck":
                    out.append((w["TableName"], self._key(w["TableName"], w.get("Key") or w["Item"]), True))
        return out

    def _key(self, table: str, item: dict) -> dict:
        keys, _ = self._indexes.of(table)
        return {k: item[k] for k in keys}

    def _read(self, table: str, key: dict) -> dict | None:
        return self._reader.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")

    def _before(self, params: dict, model: Any, context: dict, **_: Any) -> None:
        if model.name in WRITES:
            context["voix_writes"] = [(t, k, x, self._read(t, k)) for t, k, x in self._named(model.name, params)]

    def _after(self, http_response: Any, parsed: dict, model: Any, context: dict, **_: Any) -> None:
        writes = context.pop("voix_writes", None)
        if writes is None or http_response.status_code >= 300:
            return
        unprocessed = parsed.get("UnprocessedItems") or {}
        if unprocessed:
            raise RuntimeError("unprocessed batch writes: the meter counts only whole batches")
        self.calls[model.name] += 1
        for table, key, transactional, before in writes:
            after = self._read(table, key)
            table_keys, gsis = self._indexes.of(table)
            self.units[model.name] += units(max(item_size(before), item_size(after))) * (2 if transactional else 1)
            self.units[model.name + " (indexes)"] += index_units(table_keys, gsis, before, after)
