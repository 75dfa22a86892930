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


def day_totals(rows: list[dict[str, Any]]) -> tuple[dict[str, int], int]:
    """Sums of hour rows, and the latest expiry among them."""
    totals: dict[str, int] = {"n": 0}
    expires = 0
    for row in rows:
        for field, value in row.items():
            if field == "ttl":
                expires = max(expires, int(value or 0))
            elif field not in ("bucket", "rolled_at"):
                totals[field] = totals.get(field, 0) + int(value or 0)
    return totals, expires


def roll_up_day(store: FeedbackStore, config: Config, site: str | None, day: str) -> int:
    """Sum one site's hour counters of ``day`` (YYYY-MM-DD) into its day item; returns the messages.

    A day without messages gets an item too (all zero), so reading it later costs one item.
    """
    rows = store.counters(site, f"H#{day}T00", f"H#{day}T23", config.counter_fields() + ["ttl"])
    save_day(store, site, day, rows)
    return sum(int(r.get("n") or 0) for r in rows)


def save_day(store: FeedbackStore, site: str | None, day: str, rows: list[dict[str, Any]]) -> None:
    totals, expires = day_totals(rows)
    if not expires:  # an empty day: keep its zero item as long as messages are kept
        expires = int((datetime.fromisoformat(day) + timedelta(days=400)).timestamp())
    store.put_day(site, day, totals, rolled_at=iso(utcnow()), expires_at=expires)


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


__all__ = ["NO_SITE", "day_totals", "recent_days", "roll_up", "roll_up_day", "save_day"]
