"""Backfill realistic demo data: N messages over the last D days, with counters and cases.

    python -m infra.demo_data --count 50000 --days 30            # into the running local stack
    python -m infra.demo_data --count 50000 --days 30 --endpoint-url http://127.0.0.1:5000

Messages are classified by the real classifier and stored as the worker leaves them
(processed, numbers masked); counters are built in memory and added by hour, up to 23
sites a transaction, each batch counted exactly once (as the worker counts a message),
so that a backfill adds to what live traffic counted, never replaces it, and later
live traffic keeps counting exactly. Each run's messages have ids of their own: a
second run adds another backfill. Counting a batch adds it to the network's items too; the
sites are then ranked (``ranking.refresh``, as the hourly job does) for large networks' views.
Uses BatchWriteItem for messages and cases.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from chalicelib import ranking
from chalicelib.cases import ack_counts, call_back_until, promises_call_back
from chalicelib.classification import Classifier
from chalicelib.clock import iso, utcnow
from chalicelib.configuration import Config
from chalicelib.ingest import message_record
from chalicelib.models import InboundMessage
from chalicelib.replies import build_reply
from chalicelib.storage.counters import SITES_PER_BATCH, CounterStore
from chalicelib.storage.dynamo import to_item
from chalicelib.storage.messages import message_item
from chalicelib.worker import case_id_for

ROOT = Path(__file__).resolve().parent.parent


def _hourly_weight(hour: int) -> float:
    """Daytime peaks: commuters and shoppers text between 7 am and 8 pm."""
    return 0.15 if hour < 6 else 1.5 if 7 <= hour <= 9 or 16 <= hour <= 19 else 1.0


def generate(config: Config, count: int, days: int, *, now: datetime | None = None, seed: int = 11,
             secret: bytes = b"demo", run: str | None = None) -> tuple[list[dict], list[dict], list[dict]]:
    """Messages, counter items and cases, ready to write; ``run`` (default: the time) goes into
    the message ids, so that two backfills never share a message."""
    from infra.simulate import CUSTOMERS, demo_messages

    rng = random.Random(seed)
    classifier = Classifier(config)
    texts = demo_messages()
    now = now or utcnow()
    run = (run or now.strftime("%Y%m%d%H%M%S"))[:14]
    start = now - timedelta(days=days)
    hours = [start + timedelta(hours=h) for h in range(days * 24)]
    weights = [_hourly_weight(h.hour) for h in hours]
    messages, cases = [], []
    from infra.sites import spreader

    spread = spreader(config, seed)  # a configuration of many sites (`make demo-data SITES=2000`): all get some
    counters: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: {"counts": defaultdict(int)})
    for i, hour in enumerate(rng.choices(hours, weights=weights, k=count)):
        sample = texts[rng.randrange(len(texts))]
        received = hour + timedelta(seconds=rng.randrange(3600))
        message = InboundMessage(channel="twilio", channel_message_id=f"SMDEMO{run}{i:0{26 - len(run)}d}",
                                 from_number=rng.choice(CUSTOMERS), to_number=spread(sample["to"]), body=sample["text"],
                                 received_at=received)
        c = classifier.classify(message.body, message.to_number)
        reply = build_reply(config, c, message.id, secret)
        # the item as the adapter stores it (day and drill-down indexes), already processed: not pending
        record = message_item(message_record(message, c, reply, secret=secret, retention_days=396,
                                             reply_status="twiml"))
        for key in ("pk", "sk", "type", "gsi3pk", "gsi3sk", "from_number"):
            record.pop(key)
        record["processed_at"] = iso(received + timedelta(seconds=1))
        buckets = [counters[(c.site or "_none", f"H#{record['hour']}")]]
        if c.urgency == "high" or (c.nature == "complaint" and now - received < timedelta(days=3)):
            case = _case(config, record, message.from_number, rng, now)
            record["case_id"] = case["id"]
            cases.append(case)
            if "acknowledged_at" in case:
                seconds = (datetime.fromisoformat(case["acknowledged_at"].replace("Z", "+00:00"))
                           - datetime.fromisoformat(case["created_at"].replace("Z", "+00:00"))).total_seconds()
                for bucket in buckets:
                    for field, value in ack_counts(seconds).items():
                        bucket["counts"][field] += value
        messages.append(record)
        for bucket in buckets:
            for field in ("n", f"nature_{c.nature}", f"topic_{c.topic}", f"urgency_{c.urgency}",
                          f"language_{c.language}", f"x_{c.topic}_{c.nature}_{c.urgency}",
                          f"ch_{message.channel}", f"ch_{message.channel}_{c.nature}_{c.urgency}"):
                bucket["counts"][field] += 1
            bucket["ttl"] = record["ttl"]
    # one batch per site-hour, counted once under an id of this run (a retried write never counts twice)
    counter_items = [{"site": None if site == "_none" else site, "bucket": key, "batch_id": f"demo-{run}-{site}-{key}",
                      "counts": dict(b["counts"]), "expires_at": b["ttl"]} for (site, key), b in counters.items()]
    return messages, counter_items, cases


def _case(config: Config, record: dict, number: str, rng: random.Random, now: datetime) -> dict:
    from chalicelib.phone import mask

    created = datetime.fromisoformat(record["received_at"].replace("Z", "+00:00")) + timedelta(seconds=2)
    age = now - created
    urgent = record["urgency"] == "high"
    ack_after = timedelta(minutes=rng.uniform(1, 9) if urgent else rng.uniform(5, 150))
    status = "open"
    case: dict[str, Any] = {}
    if age > timedelta(hours=6) or age > ack_after:
        status = "resolved" if age > timedelta(hours=6) else "acknowledged"
        case["acknowledged_at"] = iso(created + ack_after)
        case["acknowledged_by"] = "demo staff"
        if status == "resolved":
            case["resolved_at"] = iso(created + ack_after + timedelta(minutes=rng.uniform(5, 120)))
    case_id = case_id_for(record["id"])
    # as the worker keeps it: the full number only on a call-back not yet resolved, until it lapses
    call_back = promises_call_back(record["urgency"]) and status != "resolved"
    until = call_back_until(config, record.get("site"), record["urgency"], created)
    case.update({"customer_number": number, "gsi3pk": "CALLBACK", "gsi3sk": f"{until}#{case_id}"} if call_back else {})
    return {
        "pk": f"CASE#{case_id}", "sk": "CASE", "type": "case", "id": case_id, "message_id": record["id"],
        "site": record.get("site"), "topic": record["topic"], "nature": record["nature"],
        "urgency": record["urgency"], "urgency_reason": record.get("urgency_reason"), "language": record["language"],
        "text": record["text"], "reply": record["reply"], "customer_masked": mask(number),
        "customer_key": record["customer_key"], "received_at": record["received_at"], "created_at": iso(created),
        "status": status, "gsi1pk": f"CASES#{status}", "gsi1sk": f"{iso(created)}#{case_id}",
        "recipients": {}, "ttl": record["ttl"], **case,
    }


def write(client: Any, table: str, messages: list[dict], counters: list[dict], cases: list[dict], *,
          config: Config | None = None, now: datetime | None = None) -> None:
    """Batch-write messages and cases to ``table``; add the counters to ``<table>-counters``.

    Counts are added (``ADD``) to what live traffic counted, one batch per site-hour, each exactly
    once; then the sites are ranked from what is counted (``config``: the deployment's sites).
    """
    from chalicelib.config_loader import get_config

    items = [{"pk": f"MSG#{m['id']}", "sk": "MSG", "type": "message", **m} for m in messages] + cases
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": to_item(item)}} for item in items[start:start + 25]]
        for _ in range(10):
            response = client.batch_write_item(RequestItems={table: requests})
            requests = response.get("UnprocessedItems", {}).get(table, [])
            if not requests:
                break
    store = CounterStore(client, table)
    for batch in count_batches(counters):
        store.count_sites(**batch)
    ranking.refresh(store, config or get_config(), now)


def count_batches(counters: list[dict]) -> list[dict]:
    """The site-hour batches of ``generate`` grouped by hour, up to ``SITES_PER_BATCH`` sites a transaction
    (4 writes a site-hour and 4 network writes a batch, rather than 8 writes a site-hour); each batch's id
    is made of its site-hours' ids, so that writing the same backfill again counts nothing twice."""
    by_hour: dict[str, list[dict]] = defaultdict(list)
    for item in counters:
        by_hour[item["bucket"]].append(item)
    out = []
    for bucket, items in sorted(by_hour.items()):
        for start in range(0, len(items), SITES_PER_BATCH):
            chunk = items[start:start + SITES_PER_BATCH]
            ids = hashlib.sha256("|".join(sorted(i["batch_id"] for i in chunk)).encode()).hexdigest()[:32]
            out.append({"bucket": bucket, "batch_id": f"demo-{ids}", "expires_at": max(i["expires_at"] for i in chunk),
                        "per_site": {i["site"]: i["counts"] for i in chunk}})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--endpoint-url", default=None, help="default: the running local stack's moto")
    parser.add_argument("--table", default=os.environ.get("TABLE_NAME", "voix-dev"))
    args = parser.parse_args(argv)
    endpoint = args.endpoint_url
    if endpoint is None:
        state_file = Path(os.environ.get("VOIX_STATE_FILE") or ROOT / ".local" / "stack.json")
        if not state_file.exists():
            sys.exit("the local stack is not running: start it with `make run`, or give --endpoint-url")
        endpoint = json.loads(state_file.read_text())["moto_endpoint"]
    import boto3

    from chalicelib.config_loader import get_config

    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="eu-west-2",
                          aws_access_key_id="local", aws_secret_access_key="local")
    now = utcnow()
    messages, counters, cases = generate(get_config(), args.count, args.days, now=now)
    write(client, args.table, messages, counters, cases, now=now)
    print(f"{len(messages)} messages over {args.days} days, {len(counters)} counter items, {len(cases)} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
