"""Network roll-ups: every site's counters of one hour, or one day, in a single item.

The worker counts each message in its site's hour item (exact, deduplicated). Once
an hour is over, its per-site items are summed into one roll-up item, and once a day
is over, its hours into a day item. Reading 30 days of metrics then costs about 28
day items, the hours of the two partial edge days, and the sites' items of the
current hour: it grows with buckets, never with messages or sites.

A roll-up is a cache of sums, never the truth: it is written with a version (the
number of events it counted: messages, acknowledgements, promises missed) and only
replaces an older one, and whoever adds to a closed hour (a late message, an
acknowledgement counted in the hour its case opened, a promise missed) rolls it up
again.

Roll-ups are the scheduled job's work (``scheduled``: the last closed hours and days,
and up to ``BACKFILL_PER_RUN`` days found without one). A read that finds closed
buckets without a roll-up writes at most ``WRITES_PER_READ`` of them and sums the
others from the per-site items without writing, up to ``MISSING_KEYS_PER_READ`` items;
beyond that it refuses (:class:`RollupPending`) rather than answer with part of the period.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.clock import day_key, hour_key, iso, utcnow
from chalicelib.configuration import Config
from chalicelib.ports import NO_SITE, Counters

Packed = dict[str, dict[str, int]]
EMPTY_DAYS_KEPT = 400
WRITES_PER_READ = 4  # roll-ups a read may write (the buckets it had to sum anyway)
MISSING_KEYS_PER_READ = 4_800  # per-site items a read may sum where roll-ups are missing (48 BatchGetItem calls)
BACKFILL_PER_RUN = 48  # missing day roll-ups the scheduled job fills in per run, newest first


class RollupPending(Exception):
    """Too much of the period has no roll-up yet to be summed within one read's budget."""

    def __init__(self, missing: int):
        super().__init__(f"{missing} hours or days of this period are not rolled up yet; the scheduled "
                         f"roll-up fills in {BACKFILL_PER_RUN} days an hour: retry later or ask a shorter period")
        self.missing = missing


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


def live(counters: Counters, config: Config, buckets: list[str]) -> dict[str, Packed]:
    """Sums read from the per-site items (the current hour, or a bucket being rolled up)."""
    keys = [(site, hour) for bucket in buckets for hour in _hours_of(bucket) for site in site_ids(config)]
    rows = counters.counter_rows(keys, config.counter_fields() + ["ttl"])
    counts, _ = pack(rows, buckets)
    return counts


def rollups_for(rows: dict[tuple[str, str], dict[str, Any]], buckets: list[str], now: datetime) -> list[dict[str, Any]]:
    """The roll-ups of closed buckets computed from per-site rows already in hand (bulk loads), each as
    ``put_rollup`` takes it: ``bucket``, ``counts``, ``version``, ``rolled_at``, ``expires_at``."""
    closed = [b for b in buckets if is_closed(b, now)]
    counts, expires = pack(rows, closed)
    default = int((now + timedelta(days=EMPTY_DAYS_KEPT)).timestamp())
    return [{"bucket": b, "counts": counts[b], "version": version(counts[b]), "rolled_at": iso(now),
             "expires_at": expires[b] or default} for b in closed]


def roll_up(counters: Counters, config: Config, buckets: list[str], now: datetime | None = None) -> dict[str, Packed]:
    """(Re)compute and store the roll-ups of closed buckets (``H#...`` hours, ``D#...`` days)."""
    now = now or utcnow()
    closed = [b for b in buckets if is_closed(b, now)]
    keys = [(site, hour) for bucket in closed for hour in _hours_of(bucket) for site in site_ids(config)]
    rows = counters.counter_rows(keys, config.counter_fields() + ["ttl"], consistent=True)
    counts, expires = pack(rows, closed)
    for bucket in closed:
        expiry = expires[bucket] or int((now + timedelta(days=EMPTY_DAYS_KEPT)).timestamp())
        counters.put_rollup(bucket, counts[bucket], version=version(counts[bucket]), rolled_at=iso(now),
                         expires_at=expiry)
    return counts


def is_closed(bucket: str, now: datetime) -> bool:
    """An hour or day that is over: only late messages can still land there."""
    if bucket.startswith("H#"):
        return bucket[2:] < hour_key(now)
    return bucket[2:] < day_key(now)


def after_late_count(counters: Counters, config: Config, hour: str, now: datetime | None = None) -> None:
    """Something was added to ``hour`` (``YYYY-MM-DDTHH``): refresh its roll-ups if it is over."""
    now = now or utcnow()
    roll_up(counters, config, [f"H#{hour}", f"D#{hour[:10]}"], now)


def read(counters: Counters, config: Config, buckets: list[str], now: datetime | None = None) -> dict[str, Packed]:
    """Counts of every bucket: roll-ups for closed ones, live sums otherwise.

    Closed buckets without a roll-up are summed from their per-site items; at most
    ``WRITES_PER_READ`` of them (days first, newest first) are stored as roll-ups on the way, and if
    they need more than ``MISSING_KEYS_PER_READ`` per-site items, :class:`RollupPending`.
    Buckets in the future are left out: nothing can be counted there.
    """
    now = now or utcnow()
    current = [b for b in buckets if not is_closed(b, now)
               and (b[2:] == hour_key(now) if b.startswith("H#") else b[2:] == day_key(now))]
    closed = [b for b in buckets if is_closed(b, now)]
    found = counters.rollups(closed)
    # days first (one saves 24 hours of reads), newest first
    missing = sorted((b for b in closed if b not in found), key=lambda b: (b[0] == "D", b[2:]), reverse=True)
    if missing:
        sites = len(site_ids(config))
        if sum(len(_hours_of(b)) for b in missing) * sites > MISSING_KEYS_PER_READ:
            raise RollupPending(len(missing))
        found.update(roll_up(counters, config, missing[:WRITES_PER_READ], now))
        if missing[WRITES_PER_READ:]:
            found.update(live(counters, config, missing[WRITES_PER_READ:]))
    if current:
        found.update(live(counters, config, current))
    return found


def scheduled(counters: Counters, config: Config, now: datetime | None = None) -> dict[str, Packed]:
    """The hourly job: the last closed hours and days, then up to ``BACKFILL_PER_RUN`` days of the
    retention period found without a roll-up (newest first), so that reads find them all."""
    now = now or utcnow()
    recent = recent_buckets(now)
    today = now.date()
    days = [f"D#{(today - timedelta(days=i)).isoformat()}" for i in range(1, EMPTY_DAYS_KEPT)]
    found = counters.rollups([d for d in days if d not in recent])
    backfill = [d for d in days if d not in recent and d not in found][:BACKFILL_PER_RUN]
    return roll_up(counters, config, recent + backfill, now)


def recent_buckets(now: datetime | None = None, hours: int = 3, days: int = 2) -> list[str]:
    """What the scheduled roll-up refreshes: the last closed hours and days."""
    now = (now or utcnow()).replace(minute=0, second=0, microsecond=0)
    today: date = now.date()
    return ([f"H#{hour_key(now - timedelta(hours=i))}" for i in range(1, hours + 1)]
            + [f"D#{(today - timedelta(days=i)).isoformat()}" for i in range(1, days + 1)])


__all__ = ["NO_SITE", "RollupPending", "after_late_count", "is_closed", "live", "pack", "read",
           "recent_buckets", "roll_up", "rollups_for", "scheduled", "site_ids", "version"]
