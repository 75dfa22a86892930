"""Network roll-ups: every site's counters of one hour, or one day, in a single item.

The worker counts each message in its site's hour item (exact, deduplicated). Once
an hour is over, its per-site items are summed into one roll-up item, and once a day
is over, its hours into a day item. Reading 30 days of metrics then costs about 28
day items, the hours of the two partial edge days, and the sites' items of the
current hour: it grows with buckets, never with messages or sites.

A roll-up is a cache of sums, never the truth: it is written with a version (the
number of events it counted: messages, acknowledgements, promises missed) and only
replaces an older one, a bucket without a roll-up is rolled up when first read, and
whoever adds to a closed hour (a late message, an acknowledgement counted in the hour
its case opened, a promise missed) rolls it up again.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.clock import day_key, hour_key, iso, utcnow
from chalicelib.configuration import Config
from chalicelib.storage import NO_SITE, FeedbackStore, rollup_item

Packed = dict[str, dict[str, int]]
EMPTY_DAYS_KEPT = 400


def site_ids(config: Config) -> list[str]:
    return [s.id for s in config.sites] + [NO_SITE]


def version(counts: Packed) -> int:
    """How many events a roll-up counted: messages, acknowledgements, and promises missed without
    one (an escalation counts those); every later event makes it larger."""
    return sum(int(c.get("n", 0)) + int(c.get("ack_n", 0)) + int(c.get("promise_missed", 0))
               for c in counts.values())


def pack(rows: dict[tuple[str, str], dict[str, Any]], buckets: list[str]) -> tuple[dict[str, Packed], dict[str, int]]:
    """Per-site rows keyed (site, hour) summed per bucket (an hour, or the day of an hour).

    Returns the counts per bucket and, per bucket, the latest expiry among its rows.
    """
    out: dict[str, Packed] = {b: {} for b in buckets}
    expires: dict[str, int] = {b: 0 for b in buckets}
    for (site, hour), row in rows.items():
        for bucket in (hour, f"D#{hour[2:12]}"):
            if bucket not in out:
                continue
            sums = out[bucket].setdefault(site, {})
            for field, value in row.items():
                if field == "ttl":
                    expires[bucket] = max(expires[bucket], int(value or 0))
                elif value:
                    sums[field] = sums.get(field, 0) + int(value)
            if not sums:
                del out[bucket][site]
    return out, expires


def _hours_of(bucket: str) -> list[str]:
    if bucket.startswith("H#"):
        return [bucket]
    return [f"H#{bucket[2:]}T{h:02d}" for h in range(24)]


def live(store: FeedbackStore, config: Config, buckets: list[str]) -> dict[str, Packed]:
    """Sums read from the per-site items (the current hour, or a bucket being rolled up)."""
    keys = [(site, hour) for bucket in buckets for hour in _hours_of(bucket) for site in site_ids(config)]
    rows = store.counter_rows(keys, config.counter_fields() + ["ttl"])
    counts, _ = pack(rows, buckets)
    return counts


def items_for(rows: dict[tuple[str, str], dict[str, Any]], buckets: list[str], now: datetime) -> list[dict[str, Any]]:
    """Roll-up items of closed buckets computed from per-site rows already in hand (bulk loads)."""
    closed = [b for b in buckets if is_closed(b, now)]
    counts, expires = pack(rows, closed)
    default = int((now + timedelta(days=EMPTY_DAYS_KEPT)).timestamp())
    return [rollup_item(b, counts[b], version=version(counts[b]), rolled_at=iso(now), expires_at=expires[b] or default)
            for b in closed]


def roll_up(store: FeedbackStore, config: Config, buckets: list[str], now: datetime | None = None) -> dict[str, Packed]:
    """(Re)compute and store the roll-ups of closed buckets (``H#...`` hours, ``D#...`` days)."""
    now = now or utcnow()
    closed = [b for b in buckets if is_closed(b, now)]
    keys = [(site, hour) for bucket in closed for hour in _hours_of(bucket) for site in site_ids(config)]
    rows = store.counter_rows(keys, config.counter_fields() + ["ttl"], consistent=True)
    counts, expires = pack(rows, closed)
    for bucket in closed:
        expiry = expires[bucket] or int((now + timedelta(days=EMPTY_DAYS_KEPT)).timestamp())
        store.put_rollup(bucket, counts[bucket], version=version(counts[bucket]), rolled_at=iso(now),
                         expires_at=expiry)
    return counts


def is_closed(bucket: str, now: datetime) -> bool:
    """An hour or day that is over: only late messages can still land there."""
    if bucket.startswith("H#"):
        return bucket[2:] < hour_key(now)
    return bucket[2:] < day_key(now)


def after_late_count(store: FeedbackStore, config: Config, hour: str, now: datetime | None = None) -> None:
    """Something was added to ``hour`` (``YYYY-MM-DDTHH``): refresh its roll-ups if it is over."""
    now = now or utcnow()
    roll_up(store, config, [f"H#{hour}", f"D#{hour[:10]}"], now)


def read(store: FeedbackStore, config: Config, buckets: list[str], now: datetime | None = None) -> dict[str, Packed]:
    """Counts of every bucket: roll-ups for closed ones (made on the way if missing), live sums otherwise.

    Buckets in the future are left out: nothing can be counted there.
    """
    now = now or utcnow()
    current = [b for b in buckets if not is_closed(b, now)
               and (b[2:] == hour_key(now) if b.startswith("H#") else b[2:] == day_key(now))]
    closed = [b for b in buckets if is_closed(b, now)]
    found = store.rollups(closed)
    missing = [b for b in closed if b not in found]
    if missing:
        found.update(roll_up(store, config, missing, now))
    if current:
        found.update(live(store, config, current))
    return found


def recent_buckets(now: datetime | None = None, hours: int = 3, days: int = 2) -> list[str]:
    """What the scheduled roll-up refreshes: the last closed hours and days."""
    now = (now or utcnow()).replace(minute=0, second=0, microsecond=0)
    today: date = now.date()
    return ([f"H#{hour_key(now - timedelta(hours=i))}" for i in range(1, hours + 1)]
            + [f"D#{(today - timedelta(days=i)).isoformat()}" for i in range(1, days + 1)])


__all__ = ["NO_SITE", "after_late_count", "is_closed", "items_for", "live", "pack", "read", "recent_buckets", "roll_up",
           "site_ids", "version"]
