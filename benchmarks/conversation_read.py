"""Does reading one case with its conversation cost more when more cases are stored?  (moto in process)

What ``GET /api/cases/{id}`` does, through the operator API in process (``OperatorApi.case``: one
GetItem of the case, then one Query of its latest 50 conversation messages, and one Query of the customer's
history of cases, then a BatchGetItem of those it names), on moto with the local
stack's speed-ups. Two sizes, 10 and 100,000 stored cases (``--quick``: 10 and 5,000), each case with
a few conversation messages, plus one target case with 1,000. The target's read is timed as the
median of ``reads`` reads, and every DynamoDB call of a read is counted (a botocore ``after-call``
hook on the stores' client): requests by API, items returned, their size by AWS's rules and the read
units they cost (strongly consistent GetItem: 4 KB a unit; eventually consistent Query: half).

The cases and messages are put straight into moto's table (no HTTP serialisation) as items built the
way ``CaseStore.put_case`` and ``ConversationStore.add_message`` write them; the first case and its
messages are written through those adapters too, and the built items must equal what they stored.

    python -m benchmarks.conversation_read [--reads 20] [--quick]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "eu-west-2",
                   "TABLE_NAME": "voix-dev", "COUNTERS_TABLE": "voix-dev-counters", "JOBS_QUEUE": "voix-dev-jobs",
                   "CUSTOMER_KEY_SECRET": "bench", "POWERTOOLS_METRICS_DISABLED": "true",
                   "POWERTOOLS_TRACE_DISABLED": "true"})
os.environ.pop("AWS_ENDPOINT_URL", None)

TARGET = "TARGET00"  # a case id as the API takes it: eight capitals and digits
TARGET_MESSAGES = 1000
PER_CASE = 3  # conversation messages of every other case


def case_id(n: int) -> str:
    return f"C{n:07d}"


def new_case(cid: str, at: datetime) -> dict[str, Any]:
    """A case as the worker opens it (``Worker._case``): open, one recipient, no call-back."""
    when = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {"id": cid, "message_id": f"twilio-SM{cid}", "site": "L8", "topic": "driver", "nature": "complaint",
            "urgency": "high", "urgency_reason": "safety", "language": "en",
            "text": "the driver is on the phone the whole way", "reply": None, "customer_number": None,
            "customer_masked": "+44******0123", "call_back_until": None, "customer_key": f"key-{cid}",
            "received_at": when, "created_at": when, "promised_at": when, "escalation_level": 0, "status": "open",
            "alert_decision": "allowed", "code": cid[-4:],
            "recipients": {"duty-manager": {"channel": "sms", "to": "+447700900001", "role": "duty_manager",
                                            "status": "sent", "attempts": [], "tries": 1}},
            "ttl": int((at + timedelta(days=400)).timestamp())}


def case_item(case: dict[str, Any]) -> dict[str, Any]:
    """The item ``CaseStore.put_case`` writes for ``case``."""
    from chalicelib.storage.cases import case_key

    until = case.get("call_back_until")
    return {**case_key(case["id"]), "type": "case",
            "gsi1pk": f"CASES#{case['status']}", "gsi1sk": f"{case['created_at']}#{case['id']}",
            **{k: v for k, v in case.items() if k != "call_back_until"},
            **({"gsi3pk": "CALLBACK", "gsi3sk": f"{until}#{case['id']}"} if until else {})}


def messages_of(case: dict[str, Any], count: int, at: datetime) -> list[Any]:
    """``count`` messages of a case's conversation, a minute apart from ``at``: the customer and staff in turn."""
    from chalicelib.conversations import ConversationMessage

    out = []
    for i in range(count):
        when = (at + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        common = {"case_id": case["id"], "at": when, "channel": "twilio", "customer_key": case["customer_key"],
                  "expires_at": case["ttl"]}
        if i % 2:
            out.append(ConversationMessage(id=f"r{i:06d}", direction="out", status="delivered", author="Sam",
                                           text=f"Sorry about that, we are on it ({i})", status_at=when, **common))
        else:
            out.append(ConversationMessage(id=f"twilio-SM{i:06d}", direction="in", status="received",
                                           text=f"still waiting for an answer ({i})", **common))
    return out


def message_item(message: Any) -> dict[str, Any]:
    """The item ``ConversationStore.add_message`` writes for ``message``."""
    from chalicelib.conversations import STATUS_RANK
    from chalicelib.storage.conversations import conversation_key

    fields = message.as_dict()
    expires = fields.pop("expires_at")
    return {**conversation_key(message.case_id, message.at, message.id), "type": "conversation",
            "rank": STATUS_RANK[message.status], "ttl": expires, **{k: v for k, v in fields.items() if v is not None}}


class ReadCounter:
    """Every DynamoDB call on one client: requests by API, items returned, their size and read units."""

    def __init__(self, client: Any):
        self.reset()
        client.meta.events.register("after-call.dynamodb.*", self._after)

    def reset(self) -> None:
        self.requests: Counter = Counter()
        self.items = 0
        self.item_bytes = 0
        self.response_bytes = 0
        self.read_units = 0.0

    def _after(self, http_response: Any, parsed: dict, model: Any, **_: Any) -> None:
        from infra.item_sizes import item_size

        self.requests[model.name] += 1
        self.response_bytes += len(getattr(http_response, "content", b"") or b"")
        items = [parsed["Item"]] if "Item" in parsed else parsed.get("Items", [])
        size = sum(item_size(i) for i in items)
        self.items += len(items)
        self.item_bytes += size
        if model.name == "GetItem":  # the adapter reads cases strongly consistent
            self.read_units += max(1, math.ceil(size / 4096))
        elif model.name == "Query":  # eventually consistent: half a unit per 4 KB, summed over the page
            self.read_units += max(1, math.ceil(size / 4096)) / 2

    def snapshot(self) -> dict[str, Any]:
        return {"requests": dict(self.requests), "request_count": sum(self.requests.values()), "items": self.items,
                "item_bytes": self.item_bytes, "response_bytes": self.response_bytes, "read_units": self.read_units}


def _check_layout(svc: Any, case: dict[str, Any], messages: list[Any]) -> None:
    """The built items are exactly what the adapters store (keys, index attributes, every field)."""
    from chalicelib.storage.cases import case_key
    from chalicelib.storage.conversations import conversation_key
    from chalicelib.storage.dynamo import to_item

    assert svc.store.cases.put_case(case)
    for m in messages:
        assert svc.store.conversations.add_message(m)
    db, table = svc.store.cases._db, "voix-dev"
    stored = db.get_item(TableName=table, Key=to_item(case_key(case["id"])))["Item"]
    if stored != to_item(case_item(case)):
        raise RuntimeError(f"built case item differs from put_case's: {stored} != {to_item(case_item(case))}")
    for m in messages:
        stored = db.get_item(TableName=table, Key=to_item(conversation_key(m.case_id, m.at, m.id)))["Item"]
        if stored != to_item(message_item(m)):
            raise RuntimeError(f"built message item differs from add_message's: {stored}")


def measure(cases: int, reads: int, per_case: int = PER_CASE, target_messages: int = TARGET_MESSAGES) -> dict:
    """``cases`` stored cases, ``per_case`` messages each, and the target's ``target_messages``; the target
    read ``reads`` times (after one warm read) through ``OperatorApi.case``."""
    import boto3
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib import services as services_module
    from chalicelib.storage.dynamo import to_item
    from infra import moto_speedups
    from infra.resources import create_stack

    moto_speedups.apply()
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=30)
    with mock_aws():
        create_stack(boto3.client("cloudformation"), "dev")
        services_module.reset()
        svc = services_module.services()
        table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["eu-west-2"].get_table("voix-dev")
        started = time.perf_counter()
        first = new_case(case_id(0), start)
        _check_layout(svc, first, messages_of(first, per_case, start))
        stored = 1 + per_case
        for n in range(1, cases):
            at = start + timedelta(seconds=n * 20)
            case = new_case(case_id(n), at)
            table.put_item(to_item(case_item(case)))
            for m in messages_of(case, per_case, at):
                table.put_item(to_item(message_item(m)))
            stored += 1 + per_case
        target = new_case(TARGET, now - timedelta(days=1))
        table.put_item(to_item(case_item(target)))
        for m in messages_of(target, target_messages, now - timedelta(days=1)):
            table.put_item(to_item(message_item(m)))
        stored += 1 + target_messages
        loaded_s = time.perf_counter() - started

        api = svc.api  # the OperatorApi the app's routes call
        counter = ReadCounter(svc.store.cases._db)
        result = api.case(TARGET)  # warm
        conversation = result["conversation"]
        if len(conversation) != 51 or conversation[-1]["id"] != f"r{target_messages - 1:06d}":
            raise RuntimeError(f"the read did not answer the target's latest 50 messages: {len(conversation)}")
        times, per_read = [], []
        for _ in range(reads):
            counter.reset()
            t = time.perf_counter()
            api.case(TARGET)
            times.append(time.perf_counter() - t)
            per_read.append(counter.snapshot())
        if any(r != per_read[0] for r in per_read):
            raise RuntimeError(f"the reads differ in what they read: {per_read}")
        out = {"cases": cases, "per_case": per_case, "target_messages": target_messages, "items_stored": stored,
               "table_items": len(table), "load_s": loaded_s, "median_s": statistics.median(times),
               "min_s": min(times), "conversation": len(conversation), **per_read[0]}
    services_module.reset()
    return out


def run(reads: int = 20, quick: bool = False, sizes: tuple[int, int] | None = None) -> dict:
    small, big = sizes or ((10, 5000) if quick else (10, 100_000))
    s, b = measure(small, reads), measure(big, reads)
    return {"small": s, "big": b, "reads": reads, "ratio": b["median_s"] / s["median_s"],
            "same_reads": all(s[k] == b[k] for k in ("requests", "items", "item_bytes", "read_units"))}


def passes(r: dict) -> bool:
    return r["same_reads"] and r["ratio"] <= 1.5


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reads", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="5,000 cases instead of 100,000")
    args = parser.parse_args(argv)
    r = run(args.reads, args.quick)
    for size in ("small", "big"):
        m = r[size]
        print(f"{m['cases']:>7,} cases ({m['table_items']:,} items in the table, loaded in {m['load_s']:.0f} s): "
              f"median {m['median_s'] * 1000:.2f} ms; {m['request_count']} requests "
              + ", ".join(f"{k} {v}" for k, v in sorted(m["requests"].items()))
              + f"; {m['items']} items, {m['item_bytes']:,} bytes, {m['read_units']} read units")
    print(f"ratio {r['big']['cases']:,} / {r['small']['cases']:,} cases: {r['ratio']:.2f}; "
          f"same requests and items: {r['same_reads']}; {'pass' if passes(r) else 'FAIL'}")


if __name__ == "__main__":
    main()
