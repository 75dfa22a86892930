"""Counters, in their own small table (``<table>-counters``): reading them never touches the message
items, whatever their number, and no counter item grows with messages or with sites.

=====================  ====================================  ============================================
item                   pk / sk                               holds
=====================  ====================================  ============================================
counted mark           CNT#<message id> / H#<hour>           that a message was counted (TTL: retention)
site hour counters     MET#<site>#<date> / H#<hour>          one count per field, one site, one hour
site day counters      MET#<site>#D / D#<date>               the same, one site, one day
network hour shard     NET#<shard>#<date> / H#<hour>         every site's counts of an hour, one of 8 shards
network day shard      NET#<shard>#D / D#<date>              every site's counts of a day, one of 8 shards
site week / month      MET#<site>#W / W#<yyyy>-W<ww>,        the same, one site, one ISO week (UTC) or month
                       MET#<site>#M / M#<yyyy-mm>
network week / month   NET#<shard>#W / W#..., NET#<shard>#M  every site's counts of a week or a month, one shard
ranking                RANK#<window> / RANK                  the busiest and quietest sites of a window
=====================  ====================================  ============================================

A manager's correction of a message's labels (``MessageStore.relabel_message``) moves its counts in the
same eight items, once (a counted mark ``CNT#relabel#<message id>#<n>``, n the correction's number), and
keeps the quality tally there too: ``q_n`` corrected messages and ``q_<dimension>_<machine>_<corrected>``.

A message's channel is counted in the same items, as two more fields of the same ``ADD``: ``ch_<channel>``
(its messages) and ``ch_<channel>_<nature>_<urgency>``, at most ``1 + 5 × 2`` fields per channel whatever the
number of messages, so a channel costs no item and no request.

A message is counted with one ``TransactWriteItems``: the put of its counted mark, refused if the
mark is there (a duplicate, a redelivery, a retry), and an ``ADD`` of its fields to its site's hour,
day, ISO week and month items and to one shard of the network's hour, day, week and month items (the
shard picked by the message id, so that no single item takes every message of the network); the
year view reads months and weeks, never 400 days. Either all nine writes
happen or none does: a failed count leaves nothing half-written, and its retry counts it once.
Every item has a bounded size (the counter fields; the mark is ~100 bytes), so counting the
50,000th message of an hour costs what the first did.

Reading one site reads only that site's items; reading the network reads the 8 shards of each
bucket (one query per shard for days, keys for hours), whatever the number of sites.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import Unavailable
from chalicelib.storage.dynamo import NO_SITE, Dynamo, to_item

COUNTER_FIELD = re.compile(
    r"^(n|(nature|topic|urgency|language)_[a-z][a-z0-9-]{0,30}|x_[a-z0-9-]+_[a-z]+_[a-z]+|ack_(n|s|gt|le_\d+)|promise_(kept|missed)|reopened|first_reply_(n|s)"
    r"|q_n|q_(topic|nature|urgency)_[a-z0-9-]+_[a-z0-9-]+"
    r"|ch_[a-z][a-z0-9]{1,15}(_[a-z]+_[a-z]+)?)$")  # by channel: its messages, and channel × nature × urgency
BUCKET = re.compile(r"^(H#\d{4}-\d\d-\d\dT\d\d|D#\d{4}-\d\d-\d\d|W#\d{4}-W\d\d|M#\d{4}-\d\d)$")
PARTITIONED = ("D#", "W#", "M#")  # buckets kept together per site (or shard): one query reads a range of them


def _partition(bucket: str) -> str:
    """The pk suffix of a bucket: ``D``, ``W`` or ``M`` for days, weeks and months, the date for hours."""
    return bucket[0] if bucket.startswith(PARTITIONED) else bucket[2:12]


def counter_key(site: str | None, bucket: str) -> dict[str, str]:
    """Where a counter item lives: day items together per site, hour items per site and day.

    Small partitions keep every read a short range: one query for the days of a period,
    one per edge day for its hours.
    """
    if not BUCKET.match(bucket):
        raise ValueError(f"bad counter bucket {bucket!r}")
    return {"pk": f"MET#{site or NO_SITE}#{_partition(bucket)}", "sk": bucket}


def ranking_key(window: str) -> dict[str, str]:
    """Where the ranking of a window's sites lives (its busiest and quietest few: a bounded item)."""
    if not re.match(r"^[a-z0-9]{1,12}$", window):
        raise ValueError(f"bad ranking window {window!r}")
    return {"pk": f"RANK#{window}", "sk": "RANK"}


SHARDS = 8  # network items per bucket: each takes an eighth of the network's messages
SITES_PER_BATCH = 23  # a transaction holds at most 100 writes: the mark, 4 per site, 4 network items
CONFLICT_TRIES = 6  # a transaction that met another on the same item is tried again, after a short pause


def network_key(shard: int, bucket: str) -> dict[str, str]:
    """Where one shard of the network's counts of an hour or a day lives (no site in it)."""
    if not BUCKET.match(bucket) or not 0 <= shard < SHARDS:
        raise ValueError(f"bad network bucket {bucket!r} / {shard}")
    return {"pk": f"NET#{shard}#{_partition(bucket)}", "sk": bucket}


def counted_key(message_id: str, bucket: str) -> dict[str, str]:
    """The mark that a message was counted in an hour (one small item per message)."""
    if not 0 < len(message_id) <= 256:
        raise ValueError("bad message id")
    return {"pk": f"CNT#{message_id}", "sk": bucket}


def shard_of(key: str) -> int:
    return hashlib.sha256(key.encode()).digest()[0] % SHARDS


def rollups(bucket: str) -> list[str]:
    """An hour's bucket and those it rolls up into: its UTC day, ISO week and month."""
    if not bucket.startswith("H#") or not BUCKET.match(bucket):
        raise ValueError(f"counts go to an hour bucket, not {bucket!r}")
    year, week, _ = date.fromisoformat(bucket[2:12]).isocalendar()
    return [bucket, f"D#{bucket[2:12]}", f"W#{year:04d}-W{week:02d}", f"M#{bucket[2:9]}"]


def counter_targets(site: str | None, bucket: str, shard: int) -> list[dict[str, str]]:
    """The eight counter items one count goes to: the site's hour, day, week and month, and a network
    shard's (first the site's four, then the shard's)."""
    buckets = rollups(bucket)
    return [counter_key(site, b) for b in buckets] + [network_key(shard, b) for b in buckets]


def _add_update(table: str, key: dict[str, str], counts: dict[str, int], expires_at: int) -> dict[str, Any]:
    """An ``ADD`` of counts; the item's expiry set too when known (an expiry of 0 would have DynamoDB's TTL
    take the item at once: a count without one leaves the item's expiry as it is)."""
    names = {f"#c{i}": f for i, f in enumerate(counts)}
    values = {f":v{i}": {"N": str(int(v))} for i, v in enumerate(counts.values())}
    update = "ADD " + ", ".join(f"#c{i} :v{i}" for i in range(len(counts)))
    if expires_at > 0:
        update += " SET #ttl = :ttl"
        names["#ttl"] = "ttl"
        values[":ttl"] = {"N": str(int(expires_at))}
    return {"Update": {"TableName": table, "Key": to_item(key), "UpdateExpression": update,
                       "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}}


def count_writes(table: str, site: str | None, bucket: str, shard: int, counts: dict[str, int],
                 expires_at: int) -> list[dict[str, Any]]:
    """The ``ADD`` of counts (negative ones take away) to the eight items of an hour: for a transaction that
    writes more than counters (a message's correction)."""
    return [_add_update(table, key, _checked(counts), expires_at) for key in counter_targets(site, bucket, shard)]


def mark_write(table: str, batch_id: str, bucket: str, expires_at: int) -> dict[str, Any]:
    """The put of a counted mark, refused if it is there: what makes a count happen once."""
    expiry = expires_at if expires_at > 0 else None  # none rather than 0, which TTL would take at once
    return {"Put": {"TableName": table, "Item": to_item({**counted_key(batch_id, bucket), "ttl": expiry}),
                    "ConditionExpression": "attribute_not_exists(pk)"}}


def transact(db: Any, writes: list[dict[str, Any]]) -> bool:
    """One all-or-nothing write: False if a write's condition refused it (already done, or changed meanwhile);
    met another transaction on an item, it is tried again; any other refusal is :class:`Unavailable`."""
    for attempt in range(CONFLICT_TRIES):
        try:
            db.transact_write_items(TransactItems=writes)
            return True
        except ClientError as exc:
            codes = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
            if "ConditionalCheckFailed" in codes:
                return False
            if "TransactionConflict" in codes and attempt + 1 < CONFLICT_TRIES:
                time.sleep(random.uniform(0.01, 0.05) * 2 ** attempt)
                continue
            raise Unavailable(f"DynamoDB transact_write_items failed: {exc} {codes}") from exc
        except BotoCoreError as exc:
            raise Unavailable(f"DynamoDB transact_write_items failed: {exc}") from exc
    raise AssertionError("unreachable")


def _checked(counts: dict[str, int]) -> dict[str, int]:
    for field in counts:
        if not COUNTER_FIELD.match(field):
            raise ValueError(f"unknown counter {field!r}")
    return counts


class CounterStore(Dynamo):
    """Per-site and network hour and day counters, each message counted once, in bounded items."""

    def count_message(self, *, site: str | None, bucket: str, message_id: str,
                      fields: Iterable[str], expires_at: int) -> bool:
        """Add one message to its site's and the network's counters of an hour (``H#...``) and its day.

        Returns False if that message was already counted (a duplicate or a retry): nothing changes then.
        """
        return self.count_batch(site=site, bucket=bucket, batch_id=message_id,
                                counts=dict.fromkeys(["n", *fields], 1), expires_at=expires_at)

    def count_batch(self, *, site: str | None, bucket: str, batch_id: str, counts: dict[str, int],
                    expires_at: int) -> bool:
        """Add counts known together (a bulk load's site-hour) exactly once, as one message is: False
        if ``batch_id`` was counted already."""
        return self.count_sites(bucket=bucket, batch_id=batch_id, per_site={site: counts}, expires_at=expires_at)

    def count_sites(self, *, bucket: str, batch_id: str, per_site: dict[str | None, dict[str, int]],
                    expires_at: int) -> bool:
        """Add several sites' counts of one hour exactly once, in one transaction (a bulk load): each
        site's hour, day, week and month items, and one network shard's four once with their sum. At
        most ``SITES_PER_BATCH`` sites; False if ``batch_id`` was counted already."""
        if not 0 < len(per_site) <= SITES_PER_BATCH:
            raise ValueError(f"1 to {SITES_PER_BATCH} sites a batch")
        total: dict[str, int] = {}
        for counts in per_site.values():
            for field, value in _checked(counts).items():
                total[field] = total.get(field, 0) + int(value)
        sites = [_add_update(self._counters, key, counts, expires_at)
                 for site, counts in per_site.items() for key in counter_targets(site, bucket, 0)[:4]]
        network = [_add_update(self._counters, key, total, expires_at)
                   for key in counter_targets(None, bucket, shard_of(batch_id))[4:]]
        return self._transact([mark_write(self._counters, batch_id, bucket, expires_at), *sites, *network])

    def add_counts(self, *, site: str | None, bucket: str, counts: dict[str, int], expires_at: int) -> None:
        """Plain additions (statistics that have no duplicate to fear) to the same eight items, all or none."""
        if not counts:
            return
        _checked(counts)
        shard = random.randrange(SHARDS)  # no mark to key it by: any shard
        self._transact([_add_update(self._counters, key, counts, expires_at)
                        for key in counter_targets(site, bucket, shard)])

    def _transact(self, writes: list[dict[str, Any]]) -> bool:
        return transact(self._db, writes)

    def site_counts(self, site: str | None, buckets: list[str], fields: list[str]) -> dict[str, dict[str, int]]:
        """One site's counts by bucket (``H#...`` hours, ``D#`` days, ``W#`` ISO weeks, ``M#`` months);
        buckets with none are absent.

        Days, weeks and months are one query each over the site's items of that kind, hours are fetched
        by key: only that site's items.
        """
        wanted, out = set(fields), {}
        for kind in _ranges(buckets):
            for item in self._query_pages(
                    self._counters, KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
                    ExpressionAttributeValues=to_item({":pk": counter_key(site, kind[0])["pk"],
                                                       ":a": kind[0], ":b": kind[-1]})):
                if item["sk"]["S"] in kind:
                    out[item["sk"]["S"]] = _fields(item, wanted)
        hours = [b for b in dict.fromkeys(buckets) if b.startswith("H#")]
        for item in self._batch_get(self._counters, [counter_key(site, h) for h in hours]):
            out[item["sk"]["S"]] = _fields(item, wanted)
        return out

    def network_counts(self, buckets: list[str], fields: list[str]) -> dict[str, dict[str, int]]:
        """The whole network's counts by bucket, summed over the shards: 8 queries for the days (weeks,
        months) of a period and 8 keys per hour, whatever the number of sites; buckets with none are absent."""
        wanted: set[str] = set(fields)
        out: dict[str, dict[str, int]] = {}

        def add(item: dict[str, Any]) -> None:
            sums = out.setdefault(item["sk"]["S"], {})
            for field, value in _fields(item, wanted).items():
                sums[field] = sums.get(field, 0) + value

        for kind in _ranges(buckets):
            for shard in range(SHARDS):
                for item in self._query_pages(
                        self._counters, KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
                        ExpressionAttributeValues=to_item({":pk": network_key(shard, kind[0])["pk"],
                                                           ":a": kind[0], ":b": kind[-1]})):
                    if item["sk"]["S"] in kind:
                        add(item)
        hours = [b for b in dict.fromkeys(buckets) if b.startswith("H#")]
        for item in self._batch_get(self._counters, [network_key(s, h) for h in hours for s in range(SHARDS)]):
            add(item)
        return out

    def recount_periods(self, periods: list[str], *, site: str | None = None, network: bool = False) -> int:
        """:meth:`_recount` a site's weeks and months, or (``network``) every network shard's."""
        if network:
            return sum(self._recount(periods, site=None, shard=shard) for shard in range(SHARDS))
        return self._recount(periods, site=site, shard=None)

    def _recount(self, periods: list[str], *, site: str | None, shard: int | None) -> int:
        """Set each week (``W#yyyy-Www``) or month (``M#yyyy-mm``) item of a site, or of network shard
        ``shard``, to the sum of its day items (replacing it: a recount, not an addition), its expiry the
        latest of theirs; a period with no day item left is deleted. For periods counted, wholly or partly,
        before weeks and months were: the same answer however often it runs. A count landing on the same
        item while it is rewritten may be lost; running it again recounts it. Returns items written."""
        spans = {period: _days_of(period) for period in periods}
        if not spans:
            return 0
        def key_of(bucket: str) -> dict[str, str]:
            return counter_key(site, bucket) if shard is None else network_key(shard, bucket)

        def between(first: str, last: str) -> Iterable[dict[str, Any]]:
            return self._query_pages(
                self._counters, ConsistentRead=True, KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
                ExpressionAttributeValues=to_item({":pk": key_of(first)["pk"], ":a": first, ":b": last}))

        days = {item["sk"]["S"][2:]: item for item in between(f"D#{min(a for a, _ in spans.values())}",
                                                               f"D#{max(b for _, b in spans.values())}")}
        existing = {item["sk"]["S"] for kind in _ranges(periods) for item in between(kind[0], kind[-1])}
        written = 0
        for period, (first, last) in spans.items():
            sums: dict[str, int] = {}
            expires = 0
            for day, item in days.items():
                if first <= day <= last:
                    for field, value in item.items():
                        if "N" in value and COUNTER_FIELD.match(field):
                            sums[field] = sums.get(field, 0) + int(value["N"])
                    expires = max(expires, int(item.get("ttl", {}).get("N", 0)))
            if sums:
                self._call("put_item", self._counters, Item=to_item({**key_of(period), **sums, "ttl": expires or None}))
            elif period in existing:  # counts but no day left: none
                self._call("delete_item", self._counters, Key=to_item(key_of(period)))
            written += bool(sums) or period in existing
        return written

    def put_ranking(self, window: str, ranking: dict[str, Any]) -> None:
        """Store a window's ranking of sites (replacing the last one): one item of ``2 * EDGE`` sites at most."""
        self._call("put_item", self._counters,
                   Item=to_item({**ranking_key(window), "r": json.dumps(ranking, separators=(",", ":"))}))

    def rankings(self, windows: list[str]) -> dict[str, dict[str, Any]]:
        """The stored rankings by window; windows not ranked yet are absent."""
        return {item["pk"]["S"][5:]: json.loads(item["r"]["S"])
                for item in self._batch_get(self._counters, [ranking_key(w) for w in dict.fromkeys(windows)])}


def _days_of(period: str) -> tuple[str, str]:
    """The first and last day (``yyyy-mm-dd``) of an ISO week (``W#2026-W49``) or a month (``M#2026-12``)."""
    if period.startswith("W#") and BUCKET.match(period):
        monday = date.fromisocalendar(int(period[2:6]), int(period[8:10]), 1)
        return monday.isoformat(), (monday + timedelta(days=6)).isoformat()
    if period.startswith("M#") and BUCKET.match(period):
        first = date.fromisoformat(f"{period[2:]}-01")
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return first.isoformat(), (following - timedelta(days=1)).isoformat()
    raise ValueError(f"a week or a month, not {period!r}")


def _ranges(buckets: list[str]) -> list[list[str]]:
    """The day, week and month buckets asked, sorted, one list per kind (each read with one range query)."""
    return [kind for prefix in PARTITIONED if (kind := sorted({b for b in buckets if b.startswith(prefix)}))]


def _fields(item: dict[str, Any], wanted: set[str]) -> dict[str, int]:
    return {k: int(v["N"]) for k, v in item.items() if k in wanted and "N" in v}
