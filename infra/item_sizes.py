"""The size of a DynamoDB item as DynamoDB counts it against its 400 KB limit and bills its writes (one
definition, for the tests and ``benchmarks/write_units.py``).

``item_size`` takes an item as the low-level client returns it (``{"name": {"S": "..."}}``): the sum of
its attribute names (UTF-8 bytes) and values, by the rules of the DynamoDB developer guide ("Item
sizes and formats"): a string or binary its bytes, a number about one byte per two significant
digits plus one, a boolean or null one byte, a list or map three bytes plus one per element plus its
elements (a map's keys counted as names), a set the sum of its elements.
"""

from __future__ import annotations

import base64
from typing import Any


def number_size(text: str) -> int:
    """A number: 1 byte, plus 1 per two significant digits (leading and trailing zeros trimmed), plus 1 if
    negative (the developer guide says "approximately": this errs on the large side)."""
    digits = text.lstrip("+-").lower().split("e")[0].replace(".", "").strip("0") or "0"
    return (len(digits) + 1) // 2 + 1 + (1 if text.startswith("-") else 0)


def _binary_size(value: Any) -> int:
    return len(value) if isinstance(value, (bytes, bytearray)) else len(base64.b64decode(value))


def value_size(value: dict[str, Any]) -> int:
    """One attribute value (``{"S": ...}``, ``{"M": ...}``...), without its name."""
    [(kind, data)] = value.items()
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "N":
        return number_size(data)
    if kind == "B":
        return _binary_size(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in data)
    if kind == "NS":
        return sum(number_size(n) for n in data)
    if kind == "BS":
        return sum(_binary_size(b) for b in data)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + value_size(v) for k, v in data.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: dict[str, Any] | None) -> int:
    """Bytes of one whole item (names and values), as DynamoDB counts it: what the 400 KB limit caps and
    what a write is billed for (one write unit per KB, twice that in a transaction)."""
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in (item or {}).items())
