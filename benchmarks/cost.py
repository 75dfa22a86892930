"""AWS cost per million inbound messages, from measured calls, durations and write units, next to the carrier's.

The calls per message and the handler durations come from ``benchmarks.webhook_path``
(botocore hooks, moto in process). DynamoDB's write units are measured by ``measure_writes``:
every write of a message (the webhook's and the worker's, index writes included) sized by AWS's
rules from the items as stored (``benchmarks.write_units``), and the count of a message at 10 and
at 1,000 messages per site-hour. Everything else is an assumption stated here, with the list
prices: edit ``PRICES`` and ``ASSUMPTIONS`` and run ``make bench`` again.

    python -m benchmarks.cost [--messages 20]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VOLUMES = (10, 1000)  # messages per site-hour the count is measured at

# USD, us-east-1 list prices, November 2026 (check your region: eu-west-2 is ~5-10 % higher)
PRICES = {
    "api_gateway_rest_per_million": 3.50,
    "lambda_requests_per_million": 0.20,
    "lambda_gb_second": 0.0000166667,
    "dynamodb_write_unit_per_million": 0.625,  # on-demand
    "dynamodb_read_unit_per_million": 0.125,
    "sqs_requests_per_million": 0.40,
    "ses_per_thousand": 0.10,
    "sns_sms_uk": 0.035,  # one SMS alert to a UK mobile
    "carrier_inbound_sms": 0.0075,  # Twilio UK, one customer message received
    "carrier_outbound_sms": 0.04,  # Twilio UK, the reply
}
ASSUMPTIONS = {
    "lambda_memory_gb": 0.5,
    "network_ms_per_aws_call": 8,  # added to the in-process time for each call (moto answers in process)
    "alerting_share": 0.10,  # share of messages that alert staff (one SMS each)
    "email_share": 0.05,  # share that also alert by e-mail
    "sqs_requests_per_job": 3,  # send, receive, delete (batches make it cheaper)
}


def measure_writes(messages: int = 20, volumes: tuple[int, ...] = VOLUMES) -> dict:
    """Write units per message, measured on moto (patched as the local stack is).

    ``other``: the writes of a plain and of an alerting message through the webhook and the worker
    (its alerts sent), the count left out; ``counting``: the count's transaction, per message, when
    ``volume`` messages are counted into one site-hour (the later ones meet fuller items).
    """
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    import tests.conftest as support  # the test environment: fake credentials, stage variables
    from app import app
    from benchmarks.webhook_path import TEXTS
    from benchmarks.write_units import WriteMeter
    from chalicelib import services
    from chalicelib.classification import Classifier
    from chalicelib.storage.counters import CounterStore
    from infra import moto_speedups
    from infra.resources import create_stack
    from infra.simulate import demo_messages

    assert moto_speedups.apply(), "moto no longer looks as infra/moto_speedups.py expects"
    other: dict[str, dict[str, float]] = {}
    counting: dict[int, dict[str, float]] = {}
    with mock_aws():
        create_stack(boto3.client("cloudformation"), "dev")
        boto3.client("sesv2").create_email_identity(EmailIdentity="example.com")
        services.reset()
        boto3.DEFAULT_SESSION or boto3.setup_default_session()
        meter = WriteMeter(boto3.DEFAULT_SESSION, boto3.session.Session().client("dynamodb"))
        with Client(app, stage_name="dev") as client:
            for k, kind in enumerate(("plain", "alerting")):
                meter.reset()
                for i in range(messages):
                    params = support.twilio_params(TEXTS[kind], sid=f"SM{k}{i:031d}",
                                                   frm=f"+4477009{10000 * (k + 2) + i:05d}")
                    assert support.post_sms(client, params).status_code == 200
                    support.drain()
                units = dict(meter.units)
                other[kind] = {api: n / messages for api, n in units.items() if not api.startswith("TransactWrite")}
        config = services.services().config
        classifier = Classifier(config)
        texts = demo_messages()
        store = CounterStore(boto3.client("dynamodb"), "voix-dev", "voix-dev-counters")
        for v, volume in enumerate(volumes):
            meter.reset()
            bucket = f"H#2026-11-2{v}T08"
            for i in range(volume):
                c = classifier.classify(texts[i % len(texts)]["text"], texts[i % len(texts)]["to"])
                store.count_message(site="line-8", bucket=bucket, message_id=f"cost-{volume}-{i}",
                                    fields=[f"nature_{c.nature}", f"topic_{c.topic}", f"urgency_{c.urgency}",
                                            f"language_{c.language}", f"x_{c.topic}_{c.nature}_{c.urgency}"],
                                    expires_at=1_900_000_000)
            counting[volume] = {"per_message": meter.total() / volume,
                                "transactions": meter.calls["TransactWriteItems"]}
    return {"messages": messages, "other": other, "counting": counting}


def estimate(calls: dict, worker_ms: dict, webhook_ms: float, writes: dict) -> dict:
    """Cost lines per million messages. ``calls`` as measured by ``benchmarks.webhook_path``, ``writes``
    by ``measure_writes``; the lines are those of the busiest volume, ``by_volume`` has each."""
    a, p = ASSUMPTIONS, PRICES
    share = a["alerting_share"]

    def per_message(kind: str) -> dict:  # a weighted mix of plain and alerting messages
        plain, alerting = calls.get(f"plain {kind}", {}).get("by_api", {}), calls.get(f"alerting {kind}", {}).get(
            "by_api", {})
        return {api: plain.get(api, 0) * (1 - share) + alerting.get(api, 0) * share for api in {*plain, *alerting}}

    webhook, worker = per_message("webhook"), per_message("worker")
    both = {api: webhook.get(api, 0) + worker.get(api, 0) for api in {*webhook, *worker}}
    other = sum(writes["other"]["plain"].values()) * (1 - share) + sum(writes["other"]["alerting"].values()) * share
    by_volume = {int(volume): {"other_wru": other, "counting_wru": c["per_message"], "wru": other + c["per_message"]}
                 for volume, c in writes["counting"].items()}
    busiest = max(by_volume)
    wru = by_volume[busiest]["wru"]
    rru = both.get("GetItem", 0) + both.get("Query", 0)
    jobs = both.get("SendMessage", 0) + both.get("SendMessageBatch", 0) + share  # alert jobs
    webhook_s = (webhook_ms + a["network_ms_per_aws_call"] * sum(webhook.values())) / 1000
    worker_calls = sum(worker.values())
    worker_s = (worker_ms["plain"] * (1 - share) + worker_ms["alerting"] * share
                + a["network_ms_per_aws_call"] * worker_calls) / 1000
    invocations = 1 + 1 + share  # webhook, worker (one job per invocation: worst case), alert jobs
    m = 1_000_000
    lines = [
        ("API Gateway (REST)", f"{m:,} requests", p["api_gateway_rest_per_million"]),
        ("Lambda requests", f"{invocations:.2f} M invocations", invocations * p["lambda_requests_per_million"]),
        ("Lambda duration", f"{(webhook_s + worker_s) * 1000:.0f} ms x {a['lambda_memory_gb']} GB per message",
         m * (webhook_s + worker_s) * a["lambda_memory_gb"] * p["lambda_gb_second"]),
        ("DynamoDB writes", f"{wru:.1f} WRU per message (measured, {busiest:,} messages per site-hour)",
         wru * p["dynamodb_write_unit_per_million"]),
        ("DynamoDB reads", f"{rru:.1f} RRU per message", rru * p["dynamodb_read_unit_per_million"]),
        ("SQS", f"{jobs * a['sqs_requests_per_job']:.1f} requests per message",
         jobs * a["sqs_requests_per_job"] * p["sqs_requests_per_million"]),
        ("SES", f"{a['email_share'] * m:,.0f} e-mails", a["email_share"] * m / 1000 * p["ses_per_thousand"]),
    ]
    aws = sum(cost for _, _, cost in lines)
    sms_alerts = share * m * p["sns_sms_uk"]
    carrier = m * (p["carrier_inbound_sms"] + p["carrier_outbound_sms"])
    for v in by_volume.values():
        v["writes_usd"] = v["wru"] * p["dynamodb_write_unit_per_million"]
        v["aws"] = aws - wru * p["dynamodb_write_unit_per_million"] + v["writes_usd"]
    return {"lines": lines, "aws": aws, "sms_alerts": sms_alerts, "carrier": carrier, "by_volume": by_volume,
            "webhook_s": webhook_s, "worker_s": worker_s, "wru": wru, "rru": rru, "writes": writes}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20)
    w = measure_writes(parser.parse_args(argv).messages)
    for kind, units in w["other"].items():
        print(f"{kind} message, without its count: {sum(units.values()):.1f} WRU "
              + ", ".join(f"{api} {n:.1f}" for api, n in sorted(units.items())))
    for volume, c in w["counting"].items():
        print(f"its count at {volume:,} messages per site-hour: {c['per_message']:.1f} WRU")


if __name__ == "__main__":
    main()
