"""A fast path in moto for the counters' updates (``chalicelib/storage/counters.py``): ``ADD #c0 :v0, #c1 :v1, ...``
of whole numbers, with an optional ``SET #ttl = :ttl``, no condition.

moto parses every update expression into a tree and runs a dozen validators over it, each walking the whole tree
(for a counter update of twenty fields, about 10,000 node visits): most of the time the local stack and the tests
spend counting, since a count writes nine such updates (an hour, day, week and month item of the site and of a
network shard, and its mark). This path applies exactly these updates directly, as moto's ``AddExecutor`` does for
numbers (a missing attribute counts from 0; integers add as integers) and as ``SetExecutor`` sets the expiry; any
other shape, a non-integer, a number stored as a decimal, an attribute of another type, a key attribute, an unused
or missing name or value, a table with a stream, goes to moto's own ``update_item`` (which says what is wrong).
``tests/test_moto_speedups.py`` applies random counter updates both ways and compares the items.
"""

from __future__ import annotations

import re
from typing import Any

SIMPLE = re.compile(r"ADD (#c\d+ :v\d+(?:, #c\d+ :v\d+)*)( SET #ttl = :ttl)?")
INTEGER = re.compile(r"-?\d{1,30}")


def counter_add(backend: Any, table_name: str, key: dict[str, Any], kwargs: dict[str, Any]) -> Any:
    """The updated item, or None when moto's own update must run."""
    expression = kwargs.get("update_expression")
    if not expression or any(kwargs.get(k) for k in ("condition_expression", "expected", "attribute_updates",
                                                      "return_values_on_condition_check_failure")):
        return None
    match = SIMPLE.fullmatch(expression)
    if match is None:
        return None
    names = kwargs.get("expression_attribute_names") or {}
    values = kwargs.get("expression_attribute_values") or {}
    table = backend.get_table(table_name)
    types = {d["AttributeName"]: d["AttributeType"] for d in table.attr}
    keys = [k for k in (table.hash_key_attr, table.range_key_attr) if k]
    if table.stream_shard is not None or sorted(key) != sorted(keys) or any(
            list(key[k]) != [types.get(k)] or not isinstance(key[k][types[k]], str) or not key[k][types[k]]
            for k in keys):
        return None
    pairs = [part.split(" ") for part in match.group(1).split(", ")]
    used_names, used_values = {n for n, _ in pairs}, {v for _, v in pairs}
    if match.group(2):
        used_names.add("#ttl")
        used_values.add(":ttl")
    if set(names) != used_names or set(values) != used_values:
        return None
    adds = []
    for name, value in pairs:
        attribute, operand = names[name], values[value]
        if attribute in keys or not isinstance(operand, dict) or list(operand) != ["N"] \
                or not INTEGER.fullmatch(str(operand["N"])):
            return None
        adds.append((attribute, int(operand["N"])))
    attributes = [a for a, _ in adds] + ([names["#ttl"]] if match.group(2) else [])
    if len(set(attributes)) != len(attributes):
        return None  # overlapping paths: moto's error
    if match.group(2):
        ttl = values[":ttl"]
        if names["#ttl"] in keys or not isinstance(ttl, dict) or len(ttl) != 1 or "N" not in ttl \
                or not INTEGER.fullmatch(str(ttl["N"])):
            return None
    from moto.dynamodb.models.dynamo_type import DynamoType

    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    item = table.get_item(hash_value, range_value)
    if item is not None:
        for attribute, _ in adds:
            old = item.attrs.get(attribute)
            if old is not None and (old.type != "N" or not INTEGER.fullmatch(str(old.value))):
                return None
    else:
        table.put_item({k: key[k] for k in keys})
        item = table.get_item(hash_value, range_value)
    # dict's own __setitem__: moto's LimitedSizeDict sums the sizes of every attribute at each one set (the
    # update's cost grew with the square of the item's attributes); the size is checked once, after the update,
    # by the caller (moto_speedups' update_item: ITEM_LIMIT, refused whole)
    for attribute, number in adds:
        old = item.attrs.get(attribute)
        total = (int(old.value) if old is not None else 0) + number
        dict.__setitem__(item.attrs, attribute, DynamoType({"N": f"{total}"}))
    if match.group(2):
        dict.__setitem__(item.attrs, names["#ttl"], DynamoType(dict(values[":ttl"])))
    return item


def fast_item_copies() -> None:
    """``copy.deepcopy`` of moto's item attributes (``LimitedSizeDict``, copied for every item a transaction or an
    update names) rebuilt the dict one ``__setitem__`` at a time, each summing the sizes of all the attributes
    already there: the copy cost the square of the item's attributes. The same copy, built in one ``update``."""
    import copy

    from moto.dynamodb.models.dynamo_type import LimitedSizeDict

    def deepcopy(self: Any, memo: dict) -> Any:
        return LimitedSizeDict({key: copy.deepcopy(value, memo) for key, value in self.items()})

    LimitedSizeDict.__deepcopy__ = deepcopy
