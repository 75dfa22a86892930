"""The parts of the moto patch (``infra/moto_speedups.py``) that transactions and the item limit need:
moto's ``copy`` module stand-in that keeps tables in place during a transaction, the error a
transaction is cancelled with when an item grows past the limit, and the copies kept to undo."""

from __future__ import annotations

import threading
from typing import Any

_state = threading.local()  # per request thread: whether a patched transaction is running, a query's narrowing


class _TableKeepingCopy:
    """Stands for the ``copy`` module inside moto's DynamoDB backend: while a patched transaction
    runs, a "deep copy" of a table is the table itself (the transaction keeps copies of its items
    instead); everything else is copied as before."""

    def __getattr__(self, name: str) -> Any:
        import copy

        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, *args: Any) -> Any:
        import copy

        from moto.dynamodb.models.table import Table

        if getattr(_state, "keep_tables", False) and isinstance(value, Table):
            return value
        return copy.deepcopy(value, *args)


class ValidationError(Exception):
    """A transaction's item grew past the limit: DynamoDB cancels the transaction with the reason
    code ``ValidationError`` (moto reports an exception raised inside a transaction by its class name)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _copy_item(item: Any) -> Any:
    import copy

    return copy.deepcopy(item)


def _copy_attrs(item: Any) -> Any:
    import copy

    return copy.deepcopy(item.attrs)
