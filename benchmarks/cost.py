"""AWS cost per million inbound messages, from measured calls and durations, next to the carrier's.

The calls per message and the handler durations come from ``benchmarks.webhook_path``
(botocore hooks, moto in process). Everything else is an assumption stated here, with the
list prices: edit ``PRICES`` and ``ASSUMPTIONS`` and run ``make bench`` again.
"""

from __future__ import annotations

import math

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
    "write_units_per_write": 2,  # an item of at most 1 kB and one index update, on average
    "messages_per_site_hour": 100,  # an hour item holds 14 bytes per message counted: its writes cost more
    "sqs_requests_per_job": 3,  # send, receive, delete (batches make it cheaper)
}


def estimate(calls: dict, worker_ms: dict, webhook_ms: float) -> dict:
    """Cost lines per million messages. ``calls`` as measured by ``benchmarks.webhook_path``."""
    a, p = ASSUMPTIONS, PRICES
    share = a["alerting_share"]

    def per_message(kind: str) -> dict:  # a weighted mix of plain and alerting messages
        plain, alerting = calls.get(f"plain {kind}", {}).get("by_api", {}), calls.get(f"alerting {kind}", {}).get(
            "by_api", {})
        return {api: plain.get(api, 0) * (1 - share) + alerting.get(api, 0) * share for api in {*plain, *alerting}}

    webhook, worker = per_message("webhook"), per_message("worker")
    both = {api: webhook.get(api, 0) + worker.get(api, 0) for api in {*webhook, *worker}}
    counter_kb = max(1, math.ceil(a["messages_per_site_hour"] * 14 / 1024))
    writes = sum(both.get(api, 0) for api in ("PutItem", "DeleteItem", "BatchWriteItem"))
    updates = both.get("UpdateItem", 0)
    counter_updates = 1  # the site's hour item (days and the network are rolled up, once per bucket)
    wru = writes * a["write_units_per_write"] + (updates - counter_updates) * a["write_units_per_write"] \
        + counter_updates * counter_kb
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
        ("DynamoDB writes", f"{wru:.1f} WRU per message", wru * p["dynamodb_write_unit_per_million"]),
        ("DynamoDB reads", f"{rru:.1f} RRU per message", rru * p["dynamodb_read_unit_per_million"]),
        ("SQS", f"{jobs * a['sqs_requests_per_job']:.1f} requests per message",
         jobs * a["sqs_requests_per_job"] * p["sqs_requests_per_million"]),
        ("SES", f"{a['email_share'] * m:,.0f} e-mails", a["email_share"] * m / 1000 * p["ses_per_thousand"]),
    ]
    aws = sum(cost for _, _, cost in lines)
    sms_alerts = share * m * p["sns_sms_uk"]
    carrier = m * (p["carrier_inbound_sms"] + p["carrier_outbound_sms"])
    return {"lines": lines, "aws": aws, "sms_alerts": sms_alerts, "carrier": carrier,
            "webhook_s": webhook_s, "worker_s": worker_s, "wru": wru, "rru": rru}
