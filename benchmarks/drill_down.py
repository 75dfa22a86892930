"""Does a drill-down (network -> site -> topic -> nature) slow down as messages grow?  (moto in process)

Every request the dashboard makes at each level of the drill-down, through the operator
API in process (``OperatorApi``, the storage adapter, moto with the local stack's
speed-ups): metrics for 30 days and for the 30 days before, the first page of the feed
(30 messages) and a live-feed poll. Each is timed as the median of ``reads`` reads.

Two sizes, 10,000 and 1,000,000 messages over 30 days:

- counters: those of 10,000 generated messages, every count multiplied by 1 or 100
  (as ``scale.py`` does), counted into the site and network items;
- messages: at the density of the size (333 or 33,333 a day), for the newest days the
  drill-downs read: all 30 days for 10,000; the newest 3 days (100,000 messages) for
  1,000,000, which this machine can hold in moto's memory. The benchmark checks that no
  query reached an older day; if one did, it fails rather than report a figure.

    python -m benchmarks.drill_down [--reads 5] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime, timedelta

os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "eu-west-2",
                   "TABLE_NAME": "voix-dev", "COUNTERS_TABLE": "voix-dev-counters", "JOBS_QUEUE": "voix-dev-jobs",
                   "CUSTOMER_KEY_SECRET": "bench", "POWERTOOLS_METRICS_DISABLED": "true",
                   "POWERTOOLS_TRACE_DISABLED": "true"})
os.environ.pop("AWS_ENDPOINT_URL", None)

BASE = 10_000


def _put_all(table, items: list[dict]) -> None:
    """Straight into moto's table (through the speed-ups' index upkeep): no HTTP serialisation to wait for."""
    from chalicelib.storage.dynamo import to_item

    for item in items:
        table.put_item(to_item(item))


def measure(scale: int, reads: int, stored_days: int) -> dict:
    import boto3
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib import services as services_module
    from infra import moto_speedups
    from infra.demo_data import generate
    from infra.resources import create_stack

    moto_speedups.apply()
    now = datetime.now(UTC)
    with mock_aws():
        create_stack(boto3.client("cloudformation"), "dev")
        services_module.reset()
        svc = services_module.services()
        backend = dynamodb_backends[DEFAULT_ACCOUNT_ID]["eu-west-2"]
        started = time.perf_counter()
        _, counters, _ = generate(svc.config, BASE, 30, now=now, seed=7)
        for batch in counters:  # counted as the demo data is (one transaction per site-hour), counts scaled
            svc.store.counters.count_batch(**{**batch, "counts": {k: v * scale for k, v in batch["counts"].items()}})
        count = BASE * scale * stored_days // 30
        messages, _, _ = generate(svc.config, count, stored_days, now=now, seed=8)
        _put_all(backend.get_table("voix-dev"),
                 [{"pk": f"MSG#{m['id']}", "sk": "MSG", "type": "message", **m} for m in messages])
        loaded_s = time.perf_counter() - started

        site = statistics.mode(m["site"] for m in messages if m["site"])
        topic = statistics.mode(m["topic"] for m in messages if m["site"] == site)
        levels = [("network", {}), ("site", {"site": site}), ("site + topic", {"site": site, "topic": topic}),
                  ("site + topic + nature", {"site": site, "topic": topic, "nature": "complaint"})]
        oldest_read = min(m["day"] for m in messages)
        days_read: list[str] = []

        def seen(params, **_):
            value = params.get("ExpressionAttributeValues", {}).get(":pk", {}).get("S", "")
            days_read.append(value.removeprefix("DAY#")[:10])

        svc.store.messages._db.meta.events.register("provide-client-params.dynamodb.Query", seen)
        since, until = now - timedelta(days=30), now
        out = {"messages": BASE * scale, "stored": len(messages), "stored_days": stored_days,
               "load_s": loaded_s, "levels": {}}
        for name, filters in levels:
            requests = {
                "metrics": {**filters, "since": since.isoformat(), "until": until.isoformat(), "bucket": "day"},
                "previous": {**filters, "since": (since - timedelta(days=30)).isoformat(),
                             "until": since.isoformat(), "bucket": "day"},
                "feed": {**filters, "since": since.isoformat(), "limit": "30"},
                "poll": {**filters, "since": (now - timedelta(seconds=2)).isoformat(), "limit": "50"},
            }
            level = {}
            for kind, query in requests.items():
                call = svc.api.metrics if kind in ("metrics", "previous") else svc.api.feedback
                call(query)  # warm
                times = []
                for _ in range(reads):
                    t = time.perf_counter()
                    result = call(query)
                    times.append(time.perf_counter() - t)
                level[kind] = statistics.median(times)
                if kind == "feed":
                    level["feed_items"] = len(result["items"])
            level["total_s"] = sum(level[k] for k in requests)
            out["levels"][name] = level
        if days_read and min(d for d in days_read if d) < oldest_read:
            raise RuntimeError(f"a drill-down read day {min(days_read)}, older than the stored {oldest_read}: "
                               "store more days")
        out["oldest_day_read"] = min(d for d in days_read if d)
    services_module.reset()
    return out


def run(reads: int = 5, quick: bool = False) -> dict:
    small = measure(1, reads, 30)
    big = measure(10 if quick else 100, reads, 3)
    worst = max(big["levels"][k]["total_s"] / small["levels"][k]["total_s"] for k in small["levels"])
    return {"small": small, "big": big, "reads": reads, "worst_ratio": worst}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reads", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="100,000 messages instead of 1,000,000")
    args = parser.parse_args(argv)
    r = run(args.reads, args.quick)
    for size in ("small", "big"):
        m = r[size]
        print(f"{m['messages']:>9,} messages ({m['stored']:,} stored, newest {m['stored_days']} days; "
              f"loaded in {m['load_s']:.0f} s; oldest day read {m['oldest_day_read']})")
        for name, level in m["levels"].items():
            print(f"  {name:<22} metrics {level['metrics'] * 1000:6.1f} ms  previous {level['previous'] * 1000:6.1f} ms"
                  f"  feed {level['feed'] * 1000:6.1f} ms ({level['feed_items']})  poll {level['poll'] * 1000:6.1f} ms"
                  f"  all {level['total_s'] * 1000:6.1f} ms")
    print(f"worst ratio (all requests of a level, big / small): {r['worst_ratio']:.2f}")


if __name__ == "__main__":
    main()
