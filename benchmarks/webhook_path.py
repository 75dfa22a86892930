"""The webhook path in process (Chalice test client, moto): latency and AWS calls per message.

    python -m benchmarks.webhook_path [--requests 300]

Latency is from the request to the TwiML answer, for plain, alerting and duplicate
messages (each from its own number), p50 and p99. AWS calls are counted with a
botocore ``before-call`` hook on every client, for the webhook and for the worker run
that follows (queue polling by the local worker excluded). moto answers in process,
so the times are an upper bound of Voix's own work, not Lambda's.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
POLLING = {"ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "GetQueueAttributes", "GetQueueUrl"}
TEXTS = {"plain": "L8 the driver was lovely today", "alerting": "L8 it's far too hot on this bus"}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(requests: int = 300) -> dict:
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    import tests.conftest as support  # the test environment: fake credentials, stage variables
    from app import app
    from chalicelib import services
    from infra.resources import create_stack

    calls: collections.Counter = collections.Counter()

    def count(event_name, **_):
        calls[event_name.split(".", 2)[2] if event_name.count(".") >= 2 else event_name] += 1

    latency: dict[str, list[float]] = {"plain": [], "alerting": [], "duplicate": []}
    counted: dict[str, dict] = {}
    worker_time: dict[str, list[float]] = {"plain": [], "alerting": []}
    with mock_aws():
        create_stack(boto3.client("cloudformation"), "dev")
        boto3.client("sesv2").create_email_identity(EmailIdentity="example.com")
        services.reset()
        boto3.DEFAULT_SESSION or boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register("before-call", count)
        with Client(app, stage_name="dev") as client:
            warm = support.twilio_params(TEXTS["alerting"], sid="SM" + "f" * 32, frm="+447700999999")
            support.post_sms(client, warm)  # the first request imports what the handler needs: not timed
            support.drain()
            for i in range(requests):
                kind = "plain" if i % 2 else "alerting"
                params = support.twilio_params(TEXTS[kind], sid=f"SM{i:032d}", frm=f"+4477009{10000 + i:05d}")
                calls.clear()
                start = time.perf_counter()
                assert support.post_sms(client, params).status_code == 200
                latency[kind].append(time.perf_counter() - start)
                counted[f"{kind} webhook"] = dict(calls)
                calls.clear()
                start = time.perf_counter()
                support.drain()
                worker_time[kind].append(time.perf_counter() - start)
                counted[f"{kind} worker"] = {k: v for k, v in calls.items() if k not in POLLING}
                calls.clear()
                start = time.perf_counter()
                support.post_sms(client, params)  # the same message delivered again
                latency["duplicate"].append(time.perf_counter() - start)
                counted["duplicate webhook"] = dict(calls)
    return {
        "requests": requests,
        "latency_ms": {k: {"p50": percentile(v, 50) * 1000, "p99": percentile(v, 99) * 1000, "n": len(v)}
                       for k, v in latency.items()},
        "worker_ms": {k: statistics.median(v) * 1000 for k, v in worker_time.items()},
        "calls": {k: {"total": sum(v.values()), "by_api": v} for k, v in counted.items()},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    r = run(parser.parse_args(argv).requests)
    for kind, m in r["latency_ms"].items():
        print(f"{kind:<9} webhook: p50 {m['p50']:5.1f} ms, p99 {m['p99']:5.1f} ms ({m['n']} requests)")
    for name, c in r["calls"].items():
        print(f"{name:<17} {c['total']} AWS calls {c['by_api']}")


if __name__ == "__main__":
    main()
