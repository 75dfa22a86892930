"""Domain errors, raised by the storage adapters and the services and turned into HTTP answers by
``app.py``: light (no boto3), so that the domain and the app import them cheaply."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class Unavailable(Exception):
    """A backing service could not take the request (DynamoDB unreachable or out of capacity; for an
    inbound message, DynamoDB and SQS both): nothing was accepted, the caller may retry."""


class NotFound(Exception):
    """The item does not exist (or no longer: erased)."""


class Conflict(Exception):
    """The item is not in a state that allows the change (a conditional write refused it).

    ``item`` is the item as it was, when the adapter knows it (``args[0]`` says why: a status, say).
    """

    def __init__(self, *args: Any, item: dict[str, Any] | None = None):
        super().__init__(*args)
        self.item = item


class BadCursor(ValueError):
    """A paging cursor this API did not write, or one of another query."""
