"""AWS calls per inbound message, counted with botocore event hooks (Chalice test client, moto in process).

    python -m benchmarks.calls_per_message

For a plain message, an alerting one (a complaint: one SMS alert) and a duplicate delivery:
the synchronous calls on the webhook path and the calls of the worker that follows, by API.
Also the median in-process duration of each (moto included: an upper bound for Lambda).
"""

from __future__ import annotations

import collections
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


def main() -> None:
    import boto3
    from botocore.session import Session  # noqa: F401  (boto3 set up first)
    from chalice.test import Client
    from moto import mock_aws

    import tests.conftest as support  # the test environment: fake credentials, stage variables
    from app import app
    from chalicelib import services
    from infra.resources import create_stack

    calls: collections.Counter = collections.Counter()

    def count(event_name, **_):
        calls[event_name.split(".", 1)[1]] += 1

    cases = {"plain": "L8 the driver was lovely today", "alerting": "L8 it's far too hot on this bus"}
    results = {}
    with mock_aws():
        create_stack(boto3.client("cloudformation"), "dev")
        boto3.client("sesv2").create_email_identity(EmailIdentity="example.com")
        services.reset()
        boto3.DEFAULT_SESSION or boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register("before-call", count)
        with Client(app, stage_name="dev") as client:
            for i, (name, text) in enumerate(list(cases.items()) * 6):
                params = support.twilio_params(text, sid=f"SM{i:032d}", frm=f"+4477009{i:05d}")
                calls.clear()
                start = time.perf_counter()
                support.post_sms(client, params)
                webhook = (dict(calls), time.perf_counter() - start)
                calls.clear()
                start = time.perf_counter()
                support.drain()
                worker = (dict(calls), time.perf_counter() - start)
                calls.clear()
                support.post_sms(client, params)  # the same message delivered again
                duplicate = dict(calls)
                results.setdefault(name, []).append((webhook, worker, duplicate))
    for name, runs in results.items():
        webhook, worker, duplicate = runs[-1]
        print(f"{name}: webhook {sum(webhook[0].values())} calls {webhook[0]}, "
              f"median {statistics.median(r[0][1] for r in runs) * 1000:.0f} ms; "
              f"worker {sum(worker[0].values())} calls {worker[0]} (queue polling included), "
              f"median {statistics.median(r[1][1] for r in runs) * 1000:.0f} ms; "
              f"duplicate webhook {sum(duplicate.values())} calls {duplicate}")


if __name__ == "__main__":
    main()
