"""Does local ingest slow down as the table grows?  (moto in process)

Measures the webhook path (classify, reply, conditional put, queue) plus the
worker's idempotent counter update, for a batch of messages arriving now, once
the table holds 1,000 and once it holds 50,000 messages received over the last
30 days. A design relying on TransactWriteItems would collapse here: moto
deep-copies the whole table on every transaction. (The jobs queue is emptied
between batches, as the worker keeps it in the cloud.)

    python -m benchmarks.ingest_scale [--sizes 1000,50000] [--batch 500]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "eu-west-2",
                   "TABLE_NAME": "voix-dev", "JOBS_QUEUE": "voix-dev-jobs", "CUSTOMER_KEY_SECRET": "bench",
                   "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_TRACE_DISABLED": "true"})
os.environ.pop("AWS_ENDPOINT_URL", None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,50000")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import boto3
    from moto import mock_aws

    from chalicelib.models import InboundMessage
    from chalicelib.services import services
    from infra.demo_data import generate, write
    from infra.resources import create_stack
    from infra.simulate import demo_messages

    demo = demo_messages()

    with mock_aws():
        create_stack(boto3.client("cloudformation"), "dev")
        svc = services()
        stored = 0

        sqs = boto3.client("sqs")
        now = datetime.now(UTC)

        def ingest(count: int, backfill: bool = False) -> float:
            nonlocal stored
            start = time.perf_counter()
            for i in range(count):
                m = demo[(stored + i) % len(demo)]
                when = now - timedelta(seconds=(stored + i) * 37 % (30 * 86400)) if backfill else datetime.now(UTC)
                message = InboundMessage(
                    channel="twilio", channel_message_id="SM" + uuid.uuid4().hex, from_number="+447700900123",
                    to_number=m["to"], body=m["text"], received_at=when)
                result = svc.ingest.ingest(message)
                record = result.record
                for bucket in (f"H#{record['hour']}", f"D#{record['day']}"):
                    svc.store.count_message(site=record["site"], bucket=bucket, message_id=record["id"],
                                            fields=[f"nature_{record['nature']}", f"topic_{record['topic']}"],
                                            expires_at=record["ttl"])
            elapsed = time.perf_counter() - start
            stored += count
            sqs.delete_queue(QueueUrl=svc.jobs.url)
            sqs.create_queue(QueueName="voix-dev-jobs")
            return count / elapsed

        rows = []
        for size in [int(s) for s in args.sizes.split(",")]:
            if stored < size:  # backfill the rest over the last 30 days, as `infra.demo_data` does
                messages, counters, cases = generate(svc.config, size - stored, 30, seed=size)
                write(boto3.client("dynamodb"), "voix-dev", messages, counters, cases)
                stored = size
            rates = [ingest(args.batch) for _ in range(args.repeats)]
            rows.append((size, statistics.median(rates)))
            print(f"{size:>7} stored: {statistics.median(rates):7.0f} messages/s (median of {args.repeats})",
                  flush=True)
        first, last = rows[0][1], rows[-1][1]
        print(f"ratio {rows[-1][0]} vs {rows[0][0]}: {last / first:.2f}")


if __name__ == "__main__":
    main()
