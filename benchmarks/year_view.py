"""The year at a glance with 2,000,000 messages of history: how long does ``/api/metrics/year`` take?  (moto)

The counter items a year of 2,000,000 messages leaves are written directly, not 2,000,000 messages through the
worker: the counts of 20,000 generated messages (``infra.demo_data.generate``, the real classifier) over
the year view's 13 months, summed by site and UTC day and multiplied by 100, each site-day added through the
adapter's own write path (``CounterStore.count_sites``, 23 sites a transaction, exactly once), so that
every site and network shard has its day, ISO week and month items as live counting leaves them (hour
items: one a site-day, which the year view never reads).

Then, through the operator API in process (``OperatorApi.year``: the storage adapter, moto with the local
stack's speed-ups), the year view of the network and of the busiest site, the median of ``reads`` reads;
and, for the choice of week items, the same weeks summed from day items instead (~400 day items a site,
8 × 400 for the network).

    python -m benchmarks.year_view [--reads 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "eu-west-2",
                   "TABLE_NAME": "voix-dev", "COUNTERS_TABLE": "voix-dev-counters", "JOBS_QUEUE": "voix-dev-jobs",
                   "CUSTOMER_KEY_SECRET": "bench", "POWERTOOLS_METRICS_DISABLED": "true",
                   "POWERTOOLS_TRACE_DISABLED": "true"})
os.environ.pop("AWS_ENDPOINT_URL", None)

BASE, SCALE = 20_000, 100


def seed_batches(config, now: datetime) -> list[dict]:
    """Site-day batches of ``BASE * SCALE`` messages over the year view's 13 months, ready for ``count_sites``
    (23 sites each)."""
    from chalicelib.api.year import year_months
    from chalicelib.storage.counters import SITES_PER_BATCH
    from infra.demo_data import generate

    days = (now - datetime.fromisoformat(f"{year_months(now)[0]}-01T00:00:00+00:00")).days
    _, counters, _ = generate(config, BASE, days, now=now, seed=25)
    by_day: dict[str, dict[str | None, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for batch in counters:
        for field, value in batch["counts"].items():
            by_day[batch["bucket"][2:12]][batch["site"]][field] += value * SCALE
    out = []
    for day, sites in sorted(by_day.items()):
        rows = sorted(sites.items(), key=lambda kv: kv[0] or "")
        for start in range(0, len(rows), SITES_PER_BATCH):
            out.append({"bucket": f"H#{day}T12", "batch_id": f"year-{day}-{start}", "expires_at": 0,
                        "per_site": {site: dict(counts) for site, counts in rows[start:start + SITES_PER_BATCH]}})
    return out


def timed(fn, reads: int) -> tuple[float, object]:
    times, answer = [], None
    for _ in range(reads):
        started = time.perf_counter()
        answer = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), answer


def run(reads: int = 5) -> dict:
    import boto3
    from moto import mock_aws

    from chalicelib import services as services_module
    from chalicelib.api import OperatorApi
    from chalicelib.api.year import year_months
    from infra import moto_speedups
    from infra.resources import create_stack

    moto_speedups.apply()
    now = datetime.now(UTC)
    with mock_aws():
        create_stack(boto3.client("cloudformation"), "dev")
        services_module.reset()
        svc = services_module.services()
        started = time.perf_counter()
        batches = seed_batches(svc.config, now)
        generated_s = time.perf_counter() - started
        started = time.perf_counter()
        for batch in batches:
            assert svc.store.counters.count_sites(**batch)
        seeded_s = time.perf_counter() - started
        api = OperatorApi(config=svc.config, store=svc.store, cases=svc.cases, offers=svc.offers, now=lambda: now)
        network_s, network = timed(lambda: api.year(None), reads)
        busiest = max((s for s in svc.config.sites), key=lambda s: sum(
            m["messages"] for m in api.year({"site": s.id})["months"])).id
        site_s, site = timed(lambda: api.year({"site": busiest}), reads)
        body = json.dumps(network, separators=(",", ":"))
        # the alternative to week items: the same 13 months of weeks summed from day items
        first = datetime.fromisoformat(f"{year_months(now)[0]}-01T00:00:00+00:00")
        first -= timedelta(days=first.weekday())
        days = [f"D#{(first + timedelta(days=i)).date().isoformat()}" for i in range((now - first).days + 1)]
        fields = svc.config.counter_fields()
        rollups = [f"M#{m}" for m in year_months(now)] + [f"W#{w['t']}" for w in network["weeks"]]
        items_network_s, _ = timed(lambda: svc.store.counters.network_counts(rollups, fields), reads)
        items_site_s, _ = timed(lambda: svc.store.counters.site_counts(busiest, rollups, fields), reads)
        days_network_s, _ = timed(lambda: svc.store.counters.network_counts(days, fields), reads)
        days_site_s, _ = timed(lambda: svc.store.counters.site_counts(busiest, days, fields), reads)
        messages = sum(m["messages"] for m in network["months"])
        return {"messages_in_view": messages, "seeded_messages": BASE * SCALE, "sites": len(svc.config.sites),
                "transactions": len(batches), "generate_s": round(generated_s, 1), "seed_s": round(seeded_s, 1),
                "months": len(network["months"]), "weeks": len(network["weeks"]), "answer_bytes": len(body),
                "network": {"median_s": round(network_s, 4)}, "site": {"site": busiest, "median_s": round(site_s, 4)},
                "items_read": {"network_median_s": round(items_network_s, 4), "site_median_s": round(items_site_s, 4)},
                "weeks_from_days": {"days": len(days), "network_median_s": round(days_network_s, 4),
                                    "site_median_s": round(days_site_s, 4)}, "reads": reads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reads", type=int, default=5)
    print(json.dumps(run(parser.parse_args().reads), indent=1))


if __name__ == "__main__":
    main()
