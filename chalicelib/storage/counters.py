"""Counters and network roll-ups, in their own small table (``<table>-counters``): reading them never
touches the message items, whatever their number.

=================  ===============================  ==========================================
item               pk / sk                          holds
=================  ===============================  ==========================================
day counters       MET#<site>#D / D#<date>          one count per field; ``ids``: who counted
hour counters      MET#<site>#<date> / H#<hour>     the same, per hour
roll-ups           ROLL#<month> / H#.. or D#..      every site's counts in one JSON value
=================  ===============================  ==========================================

A counter item carries the (short) keys of the messages it has counted and is updated with one
conditional ``ADD``, so a retried or duplicated message is never counted twice and counts stay
exact on real DynamoDB. Reading a period fetches network roll-ups by key (``chalicelib/rollup.py``):
reads grow with the number of hours and days, never with messages.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

from chalicelib.storage.dynamo import NO_SITE, Dynamo, from_item, to_item

COUNTER_FIELD = re.compile(
    r"^(n|(nature|topic|urgency|language)_[a-z][a-z0-9-]{0,30}|x_[a-z0-9-]+_[a-z]+_[a-z]+|ack_(n|s|gt|le_\d+)|promise_(kept|missed))$")
BUCKET = re.compile(r"^(H#\d{4}-\d\d-\d\dT\d\d|D#\d{4}-\d\d-\d\d)$")


def counter_key(site: str | None, bucket: str) -> dict[str, str]:
    """Where a counter item lives: day items together per site, hour items per site and day.

    Small partitions keep every read a short range: one query for the days of a period,
    one per edge day for its hours.
    """
    if not BUCKET.match(bucket):
        raise ValueError(f"bad counter bucket {bucket!r}")
    shard = "D" if bucket.startswith("D#") else bucket[2:12]
    return {"pk": f"MET#{site or NO_SITE}#{shard}", "sk": bucket}


def rollup_key(bucket: str) -> dict[str, str]:
    """Where the network roll-up of an hour or a day lives (all sites in one item)."""
    if not BUCKET.match(bucket):
        raise ValueError(f"bad counter bucket {bucket!r}")
    return {"pk": f"ROLL#{bucket[2:9]}", "sk": bucket}


def rollup_item(bucket: str, counts: dict[str, dict[str, int]], *, version: int, rolled_at: str,
                expires_at: int) -> dict[str, Any]:
    """A network roll-up: the counts of every site in one JSON attribute (one value to read)."""
    return {**rollup_key(bucket), "c": json.dumps(counts, separators=(",", ":"), sort_keys=True),
            "v": version, "rolled_at": rolled_at, "ttl": expires_at}


def dedup_key(message_id: str) -> str:
    """Short, stable key of a message inside a counter item's set (72 bits)."""
    return base64.b64encode(hashlib.sha256(message_id.encode()).digest()[:9]).decode()


class CounterStore(Dynamo):
    """Per-site hour and day counters (each message counted once) and the network roll-ups."""

    def count_message(self, *, site: str | None, bucket: str, message_id: str,
                      fields: Iterable[str], expires_at: int) -> bool:
        """Add one message to a site's hour (``H#...``) or day (``D#...``) counters.

        Returns False if that message was already counted there (a duplicate or a retry).
        """
        names = {"#ids": "ids", "#ttl": "ttl"}
        adds = ["#ids :id"]
        for i, field in enumerate(["n", *fields]):
            if not COUNTER_FIELD.match(field):
                raise ValueError(f"unknown counter {field!r}")
            names[f"#c{i}"] = field
            adds.append(f"#c{i} :one")
        key = dedup_key(message_id)
        return self._if(
            "update_item", self._counters,
            Key=to_item(counter_key(site, bucket)),
            UpdateExpression="ADD " + ", ".join(adds) + " SET #ttl = :ttl",
            ConditionExpression="NOT contains(#ids, :key)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                ":id": {"SS": [key]}, ":key": {"S": key}, ":one": {"N": "1"},
                ":ttl": {"N": str(expires_at)},
            },
        )

    def add_counts(self, *, site: str | None, bucket: str, counts: dict[str, int], expires_at: int) -> None:
        """Plain additions to a counter item (statistics that have no duplicate to fear)."""
        if not all(COUNTER_FIELD.match(f) for f in counts):
            raise ValueError("bad counter field")
        names = {f"#c{i}": f for i, f in enumerate(counts)}
        values = {f":v{i}": {"N": str(int(v))} for i, v in enumerate(counts.values())}
        self._call(
            "update_item", self._counters, Key=to_item(counter_key(site, bucket)),
            UpdateExpression="ADD " + ", ".join(f"#c{i} :v{i}" for i in range(len(counts))) + " SET #ttl = :ttl",
            ExpressionAttributeNames={**names, "#ttl": "ttl"},
            ExpressionAttributeValues={**values, ":ttl": {"N": str(expires_at)}},
        )

    def counter_rows(self, keys: list[tuple[str | None, str]], fields: list[str], *,
                     consistent: bool = False) -> dict[tuple[str, str], dict]:
        """Per-site counter items by (site, bucket), without their id sets; missing ones are absent.

        The keys are known (one per site and hour), so they are fetched with BatchGetItem:
        reads grow with the number of buckets, and never scan anything. ``consistent`` reads
        see a count written just before (a roll-up made right after a late count needs it).
        """
        wanted = set(fields)
        out: dict[tuple[str, str], dict[str, Any]] = {}
        # No ProjectionExpression: DynamoDB bills the whole item either way, and moto
        # evaluates projections slowly; the fields are picked here.
        unique = list(dict.fromkeys((site or NO_SITE, bucket) for site, bucket in keys))
        for item in self._batch_get(self._counters, [counter_key(site, bucket) for site, bucket in unique],
                                    consistent=consistent):
            data = from_item({k: v for k, v in item.items() if k in wanted})
            out[(item["pk"]["S"].split("#")[1], item["sk"]["S"])] = data
        return out

    def rollups(self, buckets: list[str]) -> dict[str, dict[str, dict[str, int]]]:
        """Network roll-ups by bucket: ``{bucket: {site: {field: count}}}``; missing ones are absent."""
        out = {}
        for item in self._batch_get(self._counters, [rollup_key(b) for b in dict.fromkeys(buckets)]):
            out[item["sk"]["S"]] = json.loads(item["c"]["S"])
        return out

    def put_rollup(self, bucket: str, counts: dict[str, dict[str, int]], *, version: int,
                   rolled_at: str, expires_at: int) -> bool:
        """Store a roll-up unless a fresher one (counting more events) is there; False then.

        Counters only grow, so the roll-up that counted the most events is the latest.
        """
        item = rollup_item(bucket, counts, version=version, rolled_at=rolled_at, expires_at=expires_at)
        return self._if("put_item", self._counters, Item=to_item(item),
                        ConditionExpression="attribute_not_exists(v) OR v < :v",
                        ExpressionAttributeValues={":v": {"N": str(version)}})
