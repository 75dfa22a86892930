"""Does Voix slow down as data grows?  (moto in process)

0. Counting: 50,000 messages counted into one site-hour through ``CounterStore.count_message``,
   on moto patched as the local stack is (``infra.moto_speedups``: transactions, the item limit);
   the first 1,000 against the last 1,000, and the largest counter item's size (in bytes, by
   AWS's rules) after 1,000 and after 50,000.
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


def counting_scale(count: int = 50_000, window: int = 1_000, warm_up: int = 200) -> dict:
    """Count ``count`` messages into one site-hour; time the first and the last ``window`` of them."""
    import boto3
    from moto import mock_aws

    from benchmarks.write_units import item_size
    from chalicelib.classification import Classifier
    from chalicelib.config_loader import get_config
    from chalicelib.storage.counters import SHARDS, CounterStore, counter_key, network_key
    from chalicelib.storage.dynamo import to_item
    from infra import moto_speedups
    from infra.resources import create_stack
    from infra.simulate import demo_messages

    assert moto_speedups.apply(), "moto no longer looks as infra/moto_speedups.py expects"
    classifier = Classifier(get_config())
    fields = []  # the worker's fields for the demo messages: the spread of a real hour's counters
    for m in demo_messages():
        c = classifier.classify(m["text"], m["to"])
        fields.append([f"nature_{c.nature}", f"topic_{c.topic}", f"urgency_{c.urgency}", f"language_{c.language}",
                       f"x_{c.topic}_{c.nature}_{c.urgency}"])
    hour, site = "H#2026-11-23T08", "line-8"
    with mock_aws():
        create_stack(boto3.client("cloudformation"), "dev")
        db = boto3.client("dynamodb")
        store = CounterStore(db, "voix-dev", "voix-dev-counters")
        keys = [counter_key(site, hour), counter_key(site, f"D#{hour[2:12]}")]
        keys += [network_key(s, b) for s in range(SHARDS) for b in (hour, f"D#{hour[2:12]}")]

        def largest() -> int:
            return max(item_size(db.get_item(TableName="voix-dev-counters", Key=to_item(k)).get("Item"))
                       for k in keys)

        for i in range(warm_up):  # another hour: the first timed message pays no first-call costs
            store.count_message(site=site, bucket="H#2026-11-22T08", message_id=f"warm-{i}", fields=fields[i % 7],
                                expires_at=1_900_000_000)
        times, sizes = {}, {}
        start = time.perf_counter()
        for i in range(count):
            if i in (window, count - window):
                times["first" if i == window else "last_start"] = time.perf_counter() - start
                if i == window:
                    sizes[window] = largest()
                    start = time.perf_counter()
            store.count_message(site=site, bucket=hour, message_id=f"twilio-SM{i:032x}",
                                fields=fields[i % len(fields)], expires_at=1_900_000_000)
        elapsed = time.perf_counter() - start
        times["last"] = elapsed - times.pop("last_start")
        sizes[count] = largest()
        total = int(db.get_item(TableName="voix-dev-counters", Key=to_item(keys[0]))["Item"]["n"]["N"])
        assert total == count, f"counted {total} of {count}"
    return {"count": count, "window": window, "first_ms": times["first"] * 1000 / window,
            "last_ms": times["last"] * 1000 / window, "ratio": times["first"] / times["last"],
            "largest_item_bytes": sizes}


def ingest_scale(sizes: list[int], batch: int, repeats: int) -> dict:
    import boto3
    from moto import mock_aws

    from chalicelib import services as services_module
    from chalicelib.models import InboundMessage
    from infra import moto_speedups
    from infra.demo_data import generate, write
    from infra.resources import create_stack
    from infra.simulate import demo_messages

    # patched as the local stack is: moto's own transactions copy whole tables (a count is one transaction)
    assert moto_speedups.apply(), "moto no longer looks as infra/moto_speedups.py expects"
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
                svc.store.counters.count_message(site=record["site"], bucket=f"H#{record['hour']}",
                                                 message_id=record["id"],
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
    from infra import moto_speedups
    from infra.demo_data import generate, write
    from infra.resources import create_stack

    assert moto_speedups.apply(), "moto no longer looks as infra/moto_speedups.py expects"
    out = {}
    for multiplier in scales:
        with mock_aws():
            create_stack(boto3.client("cloudformation"), "dev")
            services_module.reset()
            svc = services_module.services()
            _, counters, _ = generate(svc.config, 10_000, 30, seed=7)
            items = [{**item, "counts": {k: v * multiplier for k, v in item["counts"].items()}}
                     for item in counters if "pk" not in item]  # roll-ups (with a key) are left to the first read
            write(boto3.client("dynamodb"), "voix-dev", [], items, [], config=svc.config)
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
    parser.add_argument("--count", type=int, default=50_000, help="messages counted into one site-hour")
    args = parser.parse_args(argv)
    c = counting_scale(args.count, min(1000, args.count // 10))
    print(f"counting {c['count']:,} messages into one site-hour: first {c['window']:,} {c['first_ms']:.2f} ms each, "
          f"last {c['window']:,} {c['last_ms']:.2f} ms each, ratio {c['ratio']:.2f}; largest counter item "
          + ", ".join(f"{size:,} bytes after {n:,}" for n, size in sorted(c["largest_item_bytes"].items())))
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
