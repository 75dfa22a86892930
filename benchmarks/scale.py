"""Does Voix slow down as data grows?  (moto in process)

1. Ingest: the webhook path (classify, reply, conditional put, queue) plus the worker's
   idempotent counter updates, for batches of messages arriving now, once the table
   holds 1,000 and once it holds 100,000 messages received over the last 30 days.
2. Metrics: one 30-day ``/api/metrics`` read (day buckets) with 10,000 and with
   1,000,000 messages' worth of counters: the counter items of 10,000 generated
   messages, then the same items with every count and every set of counted message
   keys a hundred times larger. Network roll-ups are left to the first read (timed
   apart); the median is over the reads after it.

    python -m benchmarks.scale [--sizes 1000,100000] [--batch 500] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "eu-west-2",
                   "TABLE_NAME": "voix-dev", "COUNTERS_TABLE": "voix-dev-counters", "JOBS_QUEUE": "voix-dev-jobs",
                   "CUSTOMER_KEY_SECRET": "bench", "POWERTOOLS_METRICS_DISABLED": "true",
                   "POWERTOOLS_TRACE_DISABLED": "true"})
os.environ.pop("AWS_ENDPOINT_URL", None)


def ingest_scale(sizes: list[int], batch: int, repeats: int) -> dict:
    import boto3
    from moto import mock_aws

    from chalicelib import services as services_module
    from chalicelib.models import InboundMessage
    from infra.demo_data import generate, write
    from infra.resources import create_stack
    from infra.simulate import demo_messages

    demo = demo_messages()
    rows = {}
    with mock_aws():
        create_stack(boto3.client("cloudformation"), "dev")
        services_module.reset()
        svc = services_module.services()
        sqs = boto3.client("sqs")
        stored = 0
        sent = 0

        def ingest(count: int) -> float:
            nonlocal sent
            start = time.perf_counter()
            for _ in range(count):
                m = demo[sent % len(demo)]
                message = InboundMessage(  # a different customer each time: no flood limit applies
                    channel="twilio", channel_message_id="SM" + uuid.uuid4().hex,
                    from_number=f"+4477009{10000 + sent % 90000:05d}", to_number=m["to"], body=m["text"],
                    received_at=datetime.now(UTC))
                sent += 1
                record = svc.ingest.ingest(message).record
                if "hour" not in record:
                    continue
                for bucket in (f"H#{record['hour']}", f"D#{record['day']}"):
                    svc.store.counters.count_message(site=record["site"], bucket=bucket, message_id=record["id"],
                                                     fields=[f"nature_{record['nature']}", f"topic_{record['topic']}"],
                                                     expires_at=record["ttl"])
            elapsed = time.perf_counter() - start
            sqs.purge_queue(QueueUrl=svc.jobs.url)  # the worker keeps the queue short in the cloud
            return count / elapsed

        for size in sizes:
            if stored < size:  # backfill over the last 30 days, as `make demo-data` does
                messages, counters, cases = generate(svc.config, size - stored, 30, seed=size)
                write(boto3.client("dynamodb"), "voix-dev", messages, counters, cases)
                stored = size
            rates = [ingest(batch) for _ in range(repeats)]
            rows[size] = statistics.median(rates)
            stored += batch * repeats
    return rows


def metrics_scale(scales: list[int], reads: int) -> dict:
    import boto3
    from moto import mock_aws

    from chalicelib import services as services_module
    from infra.demo_data import generate, write
    from infra.resources import create_stack

    out = {}
    for multiplier in scales:
        with mock_aws():
            create_stack(boto3.client("cloudformation"), "dev")
            services_module.reset()
            svc = services_module.services()
            _, counters, _ = generate(svc.config, 10_000, 30, seed=7)
            items = []
            for item in counters:
                if item["pk"].startswith("ROLL#"):
                    continue  # left to the first read
                scaled = {k: (v * multiplier if isinstance(v, int) and k not in ("ttl",) else v)
                          for k, v in item.items()}
                if multiplier > 1:
                    scaled["ids"] = {f"{key}{k:02x}" for key in item["ids"] for k in range(multiplier)}
                items.append(scaled)
            write(boto3.client("dynamodb"), "voix-dev", [], items, [])
            since = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:00:00Z")
            query = {"since": since, "bucket": "day"}
            start = time.perf_counter()
            first = svc.api.metrics(query)
            cold = time.perf_counter() - start
            times = []
            for _ in range(reads):
                start = time.perf_counter()
                result = svc.api.metrics(query)
                times.append(time.perf_counter() - start)
            assert result["totals"]["messages"] == first["totals"]["messages"]
            out[multiplier] = {"messages": result["totals"]["messages"], "median_s": statistics.median(times),
                               "first_s": cold, "counter_items": len(items)}
    return out


def run(sizes=(1000, 100_000), batch: int = 500, repeats: int = 3, reads: int = 7) -> dict:
    return {"ingest": ingest_scale(list(sizes), batch, repeats), "metrics": metrics_scale([1, 100], reads),
            "batch": batch, "repeats": repeats, "reads": reads}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    r = run([int(s) for s in args.sizes.split(",")], args.batch, args.repeats)
    sizes = sorted(r["ingest"])
    for size in sizes:
        print(f"ingest with {size:>7,} stored: {r['ingest'][size]:6.0f} messages/s (median of {args.repeats})")
    print(f"  ratio {r['ingest'][sizes[-1]] / r['ingest'][sizes[0]]:.2f}")
    for m in (r["metrics"][k] for k in sorted(r["metrics"])):
        print(f"30-day metrics, {m['messages']:>9,} messages: {m['median_s'] * 1000:6.1f} ms median "
              f"(first read, rolling up: {m['first_s'] * 1000:.0f} ms)")
    small, big = r["metrics"][1], r["metrics"][100]
    print(f"  ratio {big['median_s'] / small['median_s']:.2f}")


if __name__ == "__main__":
    main()
