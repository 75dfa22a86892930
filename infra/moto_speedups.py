"""Performance fixes to moto for the local stack (behaviour unchanged), and one fidelity fix.

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
Where the partition has a string range key and the query a BETWEEN (or no) range
condition, moto is handed only the page it would walk (found by bisection in a
sorted copy of the partition, re-sorted after a write to it) plus one item, so that
it still sees whether more follow: a page costs its length, as in DynamoDB.
Tests check that the map, after puts, updates, deletes and transactions, answers
as one rebuilt from the items, and that pages are the same as moto's own.

Transactions: moto deep-copies every table a ``TransactWriteItems`` names, to roll back
if it is cancelled, so a transaction costs the size of its tables (a counters table
that holds an idempotency record per message grows by one item per message). Here a
transaction keeps a copy of the items it names (the only ones it can change) and puts
them back if it is cancelled: the same outcomes, items and index answers as moto's own
(``tests/test_moto_speedups.py`` runs 200 random transactions both ways).

Counter updates (``ADD`` of whole numbers, an optional ``SET`` of the expiry) skip moto's expression parser and
validators: ``infra/moto_counter_adds.py``.

Fidelity, the 400 KB item limit: moto checks an item's size on a put and on each
top-level attribute an update sets, but never on an ``ADD`` to a set, and it keeps what
an update wrote before it was refused. DynamoDB refuses the whole update. Here every
update whose item ends over ``ITEM_LIMIT`` (moto's own measure and limit for a put) is
refused with DynamoDB's message and the item is left as it was (a new one is not
created); inside a transaction, the transaction is cancelled with the reason
``ValidationError``, as DynamoDB does.
"""

from __future__ import annotations

import bisect
import functools
import inspect
import logging
from typing import Any

from infra.moto_counter_adds import counter_add, fast_item_copies
from infra.moto_transactions import ValidationError, _copy_attrs, _copy_item, _state, _TableKeepingCopy

log = logging.getLogger(__name__)


ITEM_LIMIT = 405_000  # bytes as moto measures an item: moto's own limit for a put (AWS: 400 KB, 409,600 bytes)


ORIGINALS: dict[str, Any] = {}  # what the patches replaced, for the tests that prove them equivalent


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
    ORIGINALS.update(visible=Message.__dict__["visible"], delayed=Message.__dict__["delayed"])
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
    original_transact = DynamoDBBackend.transact_write_items
    from moto.dynamodb import models as backend_module
    from moto.dynamodb.exceptions import ItemSizeToUpdateTooLarge

    backend_module.copy = _TableKeepingCopy()  # moto's `copy.deepcopy(table)` in transact_write_items
    fast_item_copies()
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
        versions = table.__dict__.setdefault("_voix_versions", {})  # a partition's sorted copy is stale
        for key in old:
            found = parts.get(key)
            if found is not None:
                found.pop(ident(item), None)
                versions[key] = versions.get(key, 0) + 1
        if new:
            for key in index_values(table, item):
                parts.setdefault(key, {})[ident(item)] = item
                versions[key] = versions.get(key, 0) + 1

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
        saved = _copy_attrs(old) if old is not None else None
        try:
            item = (None if args else counter_add(self, table_name, key, kwargs)) \
                or original_update(self, table_name, key, *args, **kwargs)  # changes the item in place
            if item is not None and item.size() > ITEM_LIMIT:  # moto checks SET, never ADD to a set
                raise ItemSizeToUpdateTooLarge()
        except Exception as error:  # DynamoDB writes all of an update or none of it: undo what moto half-did
            if old is not None:
                old.attrs = saved
            else:
                forget(table, key)
            if isinstance(error, ItemSizeToUpdateTooLarge) and getattr(_state, "keep_tables", False):
                # in a transaction DynamoDB cancels it all, with this reason (moto would raise a bare
                # ValidationException); moto names the reason after the exception's class
                raise ValidationError(error.message) from error
            raise
        reindex(table, item, before, new=True)
        return item

    def forget(table: Any, key: dict[str, Any]) -> None:
        """Take out the item an update created before it failed, and every trace of it in the map."""
        created = current(table, key)
        if created is None:
            return
        original_delete(table, created.hash_key, created.range_key)
        parts = table.__dict__.get("_voix_parts") or {}
        versions = table.__dict__.setdefault("_voix_versions", {})
        for name, members in parts.items():
            if members.pop(ident(created), None) is not None:
                versions[name] = versions.get(name, 0) + 1

    @functools.wraps(original_transact)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        """moto keeps a deep copy of every table a transaction touches, to roll back: a transaction
        then costs the size of the tables (the counters table holds every idempotency record). Here
        it keeps a copy of the items it names, the only ones a transaction can change, and puts
        them back, as they were, if it is cancelled."""
        touched = []
        for entry in transact_items:
            for op in entry.values():
                table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
                if table is None:
                    continue
                fields = op.get("Item") if "Item" in op else op.get("Key")
                try:
                    key = {table.hash_key_attr: fields[table.hash_key_attr]}
                    if table.range_key_attr:
                        key[table.range_key_attr] = fields[table.range_key_attr]
                except (KeyError, TypeError):
                    continue  # moto refuses it; nothing of it is written
                partitions(table)
                found = current(table, key)
                touched.append((table, key, None if found is None else _copy_item(found)))
        _state.keep_tables = True
        try:
            return original_transact(self, transact_items)
        except Exception:
            for table, key, item in reversed(touched):
                now = current(table, key)
                if now is not None:
                    put_back_out(table, now)
                if item is not None:
                    put_back_in(table, item)
            raise
        finally:
            _state.keep_tables = False

    def put_back_out(table: Any, item: Any) -> None:
        original_delete(table, item.hash_key, item.range_key)
        reindex(table, item, index_values(table, item), new=False)

    def put_back_in(table: Any, item: Any) -> None:
        if table.range_key_attr:
            table.items[item.hash_key][item.range_key] = item
        else:
            table.items[item.hash_key] = item
        reindex(table, item, [], new=True)


    def page(table: Any, bound: dict[str, Any], conditions: list) -> list[Any] | None:
        """For an index query on one partition with a BETWEEN (or no) range condition, no legacy
        filter and at most one range key: the items moto would walk for this page, found by bisection
        in the partition kept sorted as moto sorts it (index range key, table hash key, table range key),
        plus one, so that moto still sees whether more follow. None: moto walks the whole partition."""
        index_name = bound.get("index_name")
        if (not index_name or len(conditions) != 1 or bound.get("filter_kwargs")
                or bound.get("range_comparison") not in (None, "BETWEEN")
                or len(bound.get("range_key_conditions") or []) > 1):
            return None
        index = next((i for i in table.global_indexes if i.name == index_name), None)
        ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"] if index else []
        name, value = conditions[0]
        parts = partitions(table)
        if len(ranges) != 1 or name not in table._voix_part_names or not table.range_key_attr:
            return None
        members = parts.get((name, getattr(value, "value", None)), {})
        cache = table.__dict__.setdefault("_voix_sorted", {})
        key = (name, getattr(value, "value", None), ranges[0])
        entry = cache.get(key)
        version = table.__dict__.setdefault("_voix_versions", {}).get(key[:2], 0)
        if entry is None or entry[0] is not members or entry[1] != version:
            rows = []
            for item in members.values():
                found = item.attrs.get(ranges[0])
                if found is None or not isinstance(found.value, str) or found.type != "S":
                    return None  # only string range keys are kept sorted here
                rows.append(((found.value, item.hash_key.value, item.range_key.value), item))
            rows.sort(key=lambda row: row[0])
            entry = (members, version, [r[0] for r in rows], [r[1] for r in rows])
            cache[key] = entry
        keys, items = entry[2], entry[3]
        low, high = 0, len(keys)
        objs = bound.get("range_objs") or []
        if bound.get("range_comparison") == "BETWEEN":
            low = bisect.bisect_left(keys, (objs[0].value,))
            high = bisect.bisect_right(keys, (objs[1].value, "\U0010ffff", "\U0010ffff"))
        start = bound.get("exclusive_start_key")
        forward = bound.get("scan_index_forward") is not False
        if start:
            try:
                mark = (start[ranges[0]]["S"], start[table.hash_key_attr]["S"], start[table.range_key_attr]["S"])
            except (KeyError, TypeError):
                return None
            if forward:
                low = max(low, bisect.bisect_right(keys, mark))
            else:
                high = min(high, bisect.bisect_left(keys, mark))
        limit = bound.get("limit")
        if limit:
            low, high = (low, min(high, low + limit + 1)) if forward else (max(low, high - limit - 1), high)
        return list(items[low:high])

    @functools.wraps(sorted_items)
    def all_items(self: Any) -> list[Any]:
        narrow = getattr(_state, "narrow", None)
        if narrow is None:
            return sorted_items(self)
        partition, conditions, window = narrow
        if window is not None:
            return window
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
        _state.narrow = (partition, conditions, page(self, bound, conditions))
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _state.narrow = None

    ORIGINALS.update(all_items=sorted_items, query=original_query, put_item=original_put,
                     delete_item=original_delete, update_item=original_update, transact_write_items=original_transact)
    Table.all_items = all_items
    Table.query = query
    Table.put_item, Table.delete_item = put_item, delete_item
    DynamoDBBackend.update_item = update_item
    DynamoDBBackend.transact_write_items = transact_write_items
    Table._voix_unsorted_query = True
    return True
