"""Day counters, rolled up from the hour counters.

A day item holds the sums of its 24 hour items (set, not added: rolling up twice
is harmless), without the hour items' message keys, so that reading a month
costs thirty small items per site. The metrics read hour items for any day not
rolled up yet, so a late or missing roll-up never changes a number.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.clock import iso, utcnow
from chalicelib.configuration import Config
from chalicelib.storage import NO_SITE, FeedbackStore


def roll_up_day(store: FeedbackStore, config: Config, site: str | None, day: str) -> int:
    """Sum one site's hour counters of ``day`` (YYYY-MM-DD) into its day item; returns the messages."""
    fields = config.counter_fields()
    totals: dict[str, int] = {}
    expires = 0
    for row in store.counters(site, f"H#{day}T00", f"H#{day}T23", fields + ["ttl"]):
        expires = max(expires, int(row.pop("ttl", 0) or 0))
        row.pop("bucket", None)
        for field, value in row.items():
            totals[field] = totals.get(field, 0) + int(value or 0)
    if totals:
        store.put_day(site, day, totals, rolled_at=iso(utcnow()), expires_at=expires)
    return totals.get("n", 0)


def roll_up(store: FeedbackStore, config: Config, days: list[str]) -> dict[str, Any]:
    """Roll up every site (and the unknown site) for the given days."""
    done = {}
    for day in days:
        done[day] = sum(roll_up_day(store, config, site, day) for site in [s.id for s in config.sites] + [None])
    return done


def recent_days(now: datetime | None = None, count: int = 2) -> list[str]:
    """Yesterday and the day before: late messages and retries may still land there."""
    today: date = (now or utcnow()).date()
    return [(today - timedelta(days=i)).isoformat() for i in range(1, count + 1)]


__all__ = ["NO_SITE", "recent_days", "roll_up", "roll_up_day"]
