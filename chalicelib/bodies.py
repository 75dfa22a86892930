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


class Unreadable(ValueError):
    """Untrusted JSON that cannot be read safely (says why)."""


def _no_constant(name: str) -> Any:
    raise Unreadable(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise Unreadable("number out of range")
    return value


def untrusted_json(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """JSON from outside (a cursor, an event, a body) or :class:`Unreadable`, never anything else: invalid
    UTF-8, nesting past ``max_depth`` (Python's parser raises RecursionError near 1,000 levels), NaN and
    Infinity, numbers out of range or too long to read. Its shape is for the caller to check."""
    try:
        value = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError as exc:
        raise Unreadable(f"nested too deeply (at most {max_depth} levels)") from exc
    except Unreadable:
        raise
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer of over 4,300 digits
        raise Unreadable(f"not valid JSON: {exc}") from exc
    if not _depth_ok(value, max_depth):
        raise Unreadable(f"nested too deeply (at most {max_depth} levels)")
    return value


def json_object(raw: bytes | str | None) -> dict[str, Any] | None:
    """The body as a JSON object, ``None`` when empty; a 400 for anything else (nesting included)."""
    if not raw:
        return None
    try:
        body = untrusted_json(raw)
    except Unreadable as exc:
        message = str(exc)
        raise ApiError(400, f"body is {message}" if message.startswith("nested") else "body is not valid JSON") \
            from exc
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object")
    return body
