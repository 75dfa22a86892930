"""The conversation-read benchmark's own logic, at tiny sizes (its figures come from `make bench`)."""

from __future__ import annotations

import importlib
import os
from datetime import datetime

import pytest


@pytest.fixture(scope="module")
def conversation_read():
    """The module sets the benchmark's environment when imported: the tests' own is put back."""
    saved = dict(os.environ)
    try:
        yield importlib.import_module("benchmarks.conversation_read")
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_a_case_and_its_conversation_read_the_same_whatever_the_number_of_cases(conversation_read):
    r = conversation_read.run(3, sizes=(10, 200))
    small, big = r["small"], r["big"]
    assert small["table_items"] < big["table_items"]  # the sizes differ
    for m in (small, big):
        # the case, one page of its conversation, one of the customer's history (no earlier case: no BatchGetItem)
        assert m["requests"] == {"GetItem": 1, "Query": 2}
        assert m["items"] == 1 + 50 and m["conversation"] == 1 + 50  # the opening message and the latest 50
    assert r["same_reads"]
    for key in ("request_count", "items", "item_bytes", "read_units"):
        assert small[key] == big[key], key
    assert r["ratio"] > 0


def test_the_built_items_are_those_the_adapters_write(conversation_read):
    case = conversation_read.new_case("C0000001", datetime(2026, 1, 1))
    item = conversation_read.case_item(case)
    assert (item["pk"], item["sk"], item["gsi1pk"]) == ("CASE#C0000001", "CASE", "CASES#open")
    [message] = conversation_read.messages_of(case, 1, datetime(2026, 1, 1))
    assert conversation_read.message_item(message)["pk"] == "CONV#C0000001"
