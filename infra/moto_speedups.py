"""Two performance fixes to moto for the local stack; behaviour unchanged.

SQS: every call computes the queue's attributes, asking each message whether it is
visible and whether it is delayed, and moto reads the clock for each through three
``datetime`` constructions (about 5 µs). With 2,000 queued jobs that is most of the
worker's time. ``Message.visible`` and ``Message.delayed`` read ``time.time()``
instead: the same epoch milliseconds, thirty times cheaper.

DynamoDB:

moto's ``Table.query`` calls ``Table.all_items()``, which sorts every item of the
table (comparing ``DynamoType`` keys in Python) before keeping the few that match
the key condition, then sorts those again. With the 60,000 items of the demo data
that is 0.7 s per query, whatever the page size: an emulator artefact that real
DynamoDB does not have (a query reads one partition of a sorted index).

Inside ``query`` only, the items are handed over unsorted and narrowed to those
whose key attributes hold the queried value (a plain comparison of the stored
strings, a superset of what moto's own, slower check then keeps): a base-table
query reads its partition directly. Query sorts its matches itself (by the table's
or the index's keys, a total order), so its results, their order and its
pagination are the same. ``scan`` and everything else still see the whole sorted
list. ``tests/test_moto_speedups.py`` checks the equivalence on real tables.

An index query reads its partition from a map of each global index's partitions
(built on the table's first write or index query, then kept up to date by
``put_item``, ``delete_item`` and ``update_item``), as DynamoDB does, instead of comparing every
item of the table: a query costs the size of its partition, not of the table.
A test checks that the map, after puts, updates, deletes and transactions, answers
as one rebuilt from the items.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from typing import Any

log = logging.getLogger(__name__)
_state = threading.local()


def apply() -> bool:
    """Patch moto's SQS messages and DynamoDB Table (idempotent); False if moto does not look as expected."""
    return _patch_sqs() & _patch_dynamodb()


def _patch_sqs() -> bool:
    import time

    try:
        from moto.sqs.models import Message
    except ImportError:  # pragma: no cover - moto is a dev dependency
        return False
    if getattr(Message, "_voix_fast_clock", False):
        return True
    if not all(isinstance(Message.__dict__.get(name), property) for name in ("visible", "delayed")):
        log.warning("moto's SQS Message changed: local queues stay unpatched (slower, still correct)")
        return False
    Message.visible = property(lambda self: time.time() * 1000.0 > self.visible_at, doc="visible now")
    Message.delayed = property(lambda self: time.time() * 1000.0 < self.delayed_until, doc="delayed now")
    Message._voix_fast_clock = True
    return True


def _patch_dynamodb() -> bool:
    try:
        from moto.dynamodb.models.table import Table
    except ImportError:  # pragma: no cover - moto is a dev dependency
        return False
    if getattr(Table, "_voix_unsorted_query", False):
        return True
    if not all(hasattr(Table, name) for name in ("query", "all_items")):
        log.warning("moto's DynamoDB Table changed: local queries stay unpatched (slower, still correct)")
        return False
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType

    sorted_items = Table.all_items
    original_query = Table.query
    original_put, original_delete = Table.put_item, Table.delete_item
    original_update = DynamoDBBackend.update_item
    signature = inspect.signature(original_query)

    def ident(item: Any) -> tuple:
        return item.hash_key.value, getattr(item.range_key, "value", None)

    def index_values(table: Any, item: Any) -> list[tuple[str, Any]]:
        return [(name, item.attrs[name].value) for name in table._voix_part_names if name in item.attrs]

    def partitions(table: Any) -> dict:
        parts = table.__dict__.get("_voix_parts")
        if parts is None:
            table._voix_part_names = sorted({k["AttributeName"] for index in table.global_indexes
                                             for k in index.schema if k["KeyType"] == "HASH"})
            parts = table._voix_parts = {}
            rows = table.items.values()
            for item in [i for part in rows for i in part.values()] if table.range_key_attr else list(rows):
                for key in index_values(table, item):
                    parts.setdefault(key, {})[ident(item)] = item
        return parts

    def reindex(table: Any, item: Any, old: list[tuple[str, Any]], new: bool) -> None:
        parts = table.__dict__.get("_voix_parts")
        if parts is None:
            return
        for key in old:
            found = parts.get(key)
            if found is not None:
                found.pop(ident(item), None)
        if new:
            for key in index_values(table, item):
                parts.setdefault(key, {})[ident(item)] = item

    def current(table: Any, key: dict[str, Any]) -> Any:
        try:
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            return table.get_item(DynamoType(key[table.hash_key_attr]), range_value)
        except Exception:  # noqa: BLE001 - moto raises its own validation error just after
            return None

    @functools.wraps(original_put)
    def put_item(self: Any, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        partitions(self)  # from the first write on, so that no query pays for building it
        old = current(self, item_attrs)
        before = index_values(self, old) if old is not None else []
        item = original_put(self, item_attrs, *args, **kwargs)
        if old is not None:
            reindex(self, old, before, new=False)
        reindex(self, item, [], new=True)
        return item

    @functools.wraps(original_delete)
    def delete_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        partitions(self)
        item = original_delete(self, *args, **kwargs)
        if item is not None:
            reindex(self, item, index_values(self, item), new=False)
        return item

    @functools.wraps(original_update)
    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        table = self.get_table(table_name)
        partitions(table)
        old = current(table, key)
        before = index_values(table, old) if old is not None else []
        item = original_update(self, table_name, key, *args, **kwargs)  # changes the item in place
        reindex(table, item, before, new=True)
        return item

    @functools.wraps(sorted_items)
    def all_items(self: Any) -> list[Any]:
        narrow = getattr(_state, "narrow", None)
        if narrow is None:
            return sorted_items(self)
        partition, conditions = narrow
        if partition is not None:  # a base-table query: its partition only
            found = self.items.get(partition)
            if found is None:
                return []
            return list(found.values()) if self.range_key_attr else [found]
        conditions = list(conditions)
        parts = partitions(self)
        if conditions and conditions[0][0] in self._voix_part_names:  # a global index's partition
            name, value = conditions[0]
            items = list(parts.get((name, getattr(value, "value", None)), {}).values())
        else:
            rows = self.items.values()
            items = [item for part in rows for item in part.values()] if self.range_key_attr else list(rows)
        for name, value in conditions:
            wanted = getattr(value, "value", None)
            kept = []
            for item in items:
                found = item.attrs.get(name)
                if found is not None and found.value == wanted:
                    kept.append(item)
            items = kept
        return items

    @functools.wraps(original_query)
    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            bound = signature.bind(self, *args, **kwargs).arguments
        except TypeError:
            return original_query(self, *args, **kwargs)
        if bound.get("index_name"):
            partition, conditions = None, list(bound.get("hash_key_conditions") or [])
        else:
            partition, conditions = bound.get("hash_key"), []
        if partition is None and not conditions and not bound.get("index_name"):
            return original_query(self, *args, **kwargs)
        _state.narrow = (partition, conditions)
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _state.narrow = None

    Table.all_items = all_items
    Table.query = query
    Table.put_item, Table.delete_item = put_item, delete_item
    DynamoDBBackend.update_item = update_item
    Table._voix_unsorted_query = True
    return True
