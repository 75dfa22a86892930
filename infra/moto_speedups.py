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
    sorted_items = Table.all_items
    original_query = Table.query
    signature = inspect.signature(original_query)

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
        parts = self.items.values()
        items = [item for part in parts for item in part.values()] if self.range_key_attr else list(parts)
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
    Table._voix_unsorted_query = True
    return True
