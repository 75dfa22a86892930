"""The low-level parts every DynamoDB adapter shares: one error mapping, serialisation, paging, batches
with their leftovers, and the cursors handed to API clients.

``ClientError`` codes become domain errors here and nowhere else: a refused conditional write is
:class:`~chalicelib.errors.Conflict` (``item``: the item as it was, when asked for), anything else
(throttling, capacity, an unreachable endpoint) is :class:`~chalicelib.errors.Unavailable`.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Iterator
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.bodies import untrusted_json
from chalicelib.errors import BadCursor, Conflict, NotFound, Unavailable
from chalicelib.ports import NO_SITE  # noqa: F401  (the adapters key it)

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()
# an end far in the past: DynamoDB's TTL takes the item, the reads that filter on it skip it at once
ENDED = "1970-01-01T00:00:00.000Z"


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


def plain_numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_numbers(v) for v in value]
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
    try:  # a flat object of at most two levels ({"d": day, "k": {name: {"S": value}}})
        state = untrusted_json(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)), max_depth=3)
    except (binascii.Error, ValueError) as exc:  # Unreadable is a ValueError: nesting, NaN, bad UTF-8
        raise BadCursor("cursor is not one this API returned") from exc
    if not isinstance(state, dict) or not set(state) <= {"d", "k", "q"} or not isinstance(state.get("q", ""), str):
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


def short(value: str) -> bool:
    return 0 < len(value) <= 256


class Dynamo:
    """One table (and the counters table) behind a low-level DynamoDB client; the adapters build on it."""

    def __init__(self, client: Any, table_name: str, counters_table: str | None = None):
        self._db = client
        self._table = table_name
        self._counters = counters_table or f"{table_name}-counters"

    def _call(self, operation: str, table: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """One DynamoDB call; a refused condition is :class:`Conflict`, any other failure :class:`Unavailable`."""
        try:
            return getattr(self._db, operation)(TableName=table or self._table, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                old = exc.response.get("Item")
                raise Conflict("condition failed", item=from_item(old) if old else None) from exc
            raise Unavailable(f"DynamoDB {operation} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise Unavailable(f"DynamoDB {operation} failed: {exc}") from exc

    def _if(self, operation: str, table: str | None = None, **kwargs: Any) -> bool:
        """A conditional write: False, rather than :class:`Conflict`, when its condition refused it."""
        try:
            self._call(operation, table, **kwargs)
            return True
        except Conflict:
            return False

    def _get(self, key: dict[str, Any], table: str | None = None, *, plain: bool = True) -> dict[str, Any] | None:
        """One item by key (strongly consistent), or None; ``plain``: nested numbers as int / float too."""
        res = self._call("get_item", table, Key=to_item(key), ConsistentRead=True)
        if "Item" not in res:
            return None
        return plain_numbers(from_item(res["Item"])) if plain else from_item(res["Item"])

    def _query_pages(self, table: str | None = None, **kwargs: Any) -> Iterator[dict[str, Any]]:
        for _ in range(1000):
            page = self._call("query", table, **kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _batch(self, operation: str, request: dict[str, Any], leftover: str) -> Iterator[dict[str, Any]]:
        """One batch request, its unprocessed part sent again after a growing pause (DynamoDB returns
        what it throttled); yields each response."""
        for attempt in range(20):
            try:
                res = getattr(self._db, operation)(RequestItems=request)
            except (ClientError, BotoCoreError) as exc:
                raise Unavailable(f"DynamoDB {operation} failed: {exc}") from exc
            yield res
            request = res.get(leftover) or {}
            if not request:
                return
            time.sleep(min(1.0, 0.02 * 2 ** attempt))
        raise Unavailable(f"DynamoDB {operation} left items unprocessed after 20 tries")

    def _batch_get(self, table: str, keys: list[dict[str, str]], *, consistent: bool = False
                   ) -> Iterator[dict[str, Any]]:
        for chunk in range(0, len(keys), 100):
            request = {table: {"Keys": [to_item(k) for k in keys[chunk:chunk + 100]], "ConsistentRead": consistent}}
            for res in self._batch("batch_get_item", request, "UnprocessedKeys"):
                yield from res.get("Responses", {}).get(table, [])

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        """Put or delete requests on the main table, 25 at a time, leftovers retried."""
        for start in range(0, len(requests), 25):
            for _ in self._batch("batch_write_item", {self._table: requests[start:start + 25]}, "UnprocessedItems"):
                pass

    def _change_status(self, key: dict[str, str], **update: Any) -> dict[str, Any]:
        """A conditional update of an item's ``status``: the new item, or NotFound / Conflict(old status)."""
        try:
            res = self._call("update_item", Key=to_item(key), ExpressionAttributeNames={"#status": "status"},
                             ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD", **update)
        except Conflict as exc:
            if not exc.item:
                raise NotFound(key["pk"]) from exc
            raise Conflict(exc.item.get("status", "unknown"), item=exc.item) from exc
        return plain_numbers(from_item(res["Attributes"]))
