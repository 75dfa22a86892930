"""Request bodies read at the edge: JSON objects of a bounded depth, a clear 400 otherwise."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.errors import ApiError

MAX_DEPTH = 20  # the deepest body any route takes is 3 levels; Python's parser recurses past ~1,000


def _depth_ok(value: Any, limit: int) -> bool:
    """Whether ``value`` nests at most ``limit`` containers deep (iterative: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return True


def json_object(raw: bytes | str | None) -> dict[str, Any] | None:
    """The body as a JSON object, ``None`` when empty; a 400 for anything else (nesting included)."""
    if not raw:
        return None
    try:
        body = json.loads(raw)
    except RecursionError as exc:
        raise ApiError(400, f"body is nested too deeply (at most {MAX_DEPTH} levels)") from exc
    except ValueError as exc:
        raise ApiError(400, "body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object")
    if not _depth_ok(body, MAX_DEPTH):
        raise ApiError(400, f"body is nested too deeply (at most {MAX_DEPTH} levels)")
    return body
