"""Do 30-day metrics slow down with the number of sites?  20 against 2,000 sites (moto in process)

Each site gets the same traffic whatever the number of sites: 20 messages a day for the last 30 days
and today, in one hour of each day. The counter items are those counting writes (the site's hour and day
items, a network shard's hour and day items, laid out by ``chalicelib.storage.counters``), put straight
into moto's table: counting 2,000 sites' month message by message takes moto an hour. The hourly job
then ranks the sites (timed), and the dashboard's 30-day view is read through the operator API, for the
network and for one site, each the median of ``reads`` reads, with the items each read returns.

    python -m benchmarks.many_sites [--reads 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "eu-west-2",
                   "TABLE_NAME": "voix-dev", "COUNTERS_TABLE": "voix-dev-counters", "JOBS_QUEUE": "voix-dev-jobs",
                   "CUSTOMER_KEY_SECRET": "bench", "POWERTOOLS_METRICS_DISABLED": "true",
                   "POWERTOOLS_TRACE_DISABLED": "true"})
os.environ.pop("AWS_ENDPOINT_URL", None)

DAY = {"n": 20, "nature_complaint": 6, "nature_compliment": 8, "nature_suggestion": 4, "nature_question": 2,
       "topic_comfort": 8, "topic_staff": 12, "urgency_normal": 19, "urgency_high": 1, "language_en": 20,
       "x_comfort_complaint_normal": 6, "x_comfort_compliment_normal": 2, "x_staff_compliment_normal": 6,
       "x_staff_suggestion_normal": 4, "x_staff_question_high": 1, "x_staff_question_normal": 1}


def counter_items(site_ids: list[str], now: datetime) -> list[dict]:
    """Every counter item a month of the traffic above leaves, as counting lays them out."""
    from chalicelib.storage.counters import counter_key, network_key, shard_of

    expires = int((now + timedelta(days=400)).timestamp())
    items, network = [], defaultdict(lambda: defaultdict(int))
    for back in range(31):
        day = (now - timedelta(days=back)).date().isoformat()
        hour = f"H#{day}T{min(12, now.hour) if back == 0 else 12:02d}"
        for site in site_ids:
            for bucket in (hour, f"D#{day}"):
                items.append({**counter_key(site, bucket), **DAY, "ttl": expires})
                sums = network[(shard_of(f"{site}{day}"), bucket)]
                for field, value in DAY.items():
                    sums[field] += value
    items += [{**network_key(shard, bucket), **sums, "ttl": expires} for (shard, bucket), sums in network.items()]
    return items


def measure(sites: int, reads: int) -> dict:
    import boto3
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib import ranking
    from chalicelib import services as services_module
    from chalicelib.api import OperatorApi
    from chalicelib.config_loader import load_config
    from chalicelib.storage.dynamo import to_item
    from infra import moto_speedups
    from infra import sites as site_generator
    from infra.resources import create_stack

    moto_speedups.apply()
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder, mock_aws():
        config = load_config(site_generator.write(Path(folder) / f"sites-{sites}", sites))
        create_stack(boto3.client("cloudformation"), "dev")
        services_module.reset()
        svc = services_module.services()
        table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["eu-west-2"].get_table("voix-dev-counters")
        started = time.perf_counter()
        items = counter_items([s.id for s in config.sites], now)
        for item in items:
            table.put_item(to_item(item))
        loaded_s = time.perf_counter() - started
        started = time.perf_counter()
        ranking.refresh(svc.store.counters, config, now)
        rank_s = time.perf_counter() - started
        api = OperatorApi(config=config, store=svc.store, cases=svc.cases, offers=svc.offers, now=lambda: now)
        returned = [0]

        def count(parsed, model, **_):
            returned[0] += parsed.get("Count", 0) if model.name == "Query" else sum(
                len(v) for v in parsed.get("Responses", {}).values())

        svc.store.counters._db.meta.events.register("after-call.dynamodb.*", count)
        out = {"sites": sites, "counter_items": len(items), "load_s": loaded_s, "rank_s": rank_s}
        since = (now - timedelta(days=30)).isoformat()
        for name, params in (("network", {}), ("site", {"site": config.sites[7].id})):
            query = {**params, "since": since, "bucket": "day"}
            result = api.metrics(query)  # warm
            times = []
            for _ in range(reads):
                returned[0] = 0
                t = time.perf_counter()
                api.metrics(query)
                times.append(time.perf_counter() - t)
            out[name] = {"median_s": statistics.median(times), "items_read": returned[0],
                         "messages": result["totals"]["messages"], "sites_listed": len(result["sites"])}
    services_module.reset()
    return out


def run(reads: int = 5) -> dict:
    small, big = measure(20, reads), measure(2000, reads)
    return {"small": small, "big": big, "reads": reads,
            "network_ratio": big["network"]["median_s"] / small["network"]["median_s"],
            "site_ratio": big["site"]["median_s"] / small["site"]["median_s"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reads", type=int, default=5)
    args = parser.parse_args(argv)
    r = run(args.reads)
    for size in ("small", "big"):
        m = r[size]
        print(f"{m['sites']:>5} sites ({m['counter_items']:,} counter items, ranked in {m['rank_s']:.1f} s):"
              f" network {m['network']['median_s'] * 1000:.1f} ms ({m['network']['items_read']} items, "
              f"{m['network']['sites_listed']} sites listed), one site {m['site']['median_s'] * 1000:.1f} ms "
              f"({m['site']['items_read']} items)")
    print(f"2,000 / 20 sites: network {r['network_ratio']:.2f}, one site {r['site_ratio']:.2f}")


if __name__ == "__main__":
    main()
