"""``/api/metrics/year``: the year at a glance, 13 months and their ISO weeks, read from month and week items.

A count adds to its hour's day, ISO week and month items in the same transaction (``chalicelib.storage.counters``),
so the year is 13 month items and about 57 week items per site (8 shards of each for the network): two
queries for a site, 16 for the network, whatever the number of messages. Months and weeks are UTC, as days are.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from chalicelib import channels
from chalicelib.api import responses
from chalicelib.api.base import ApiBase, answer, parse
from chalicelib.api.metrics import _NONE, _Tally, channel_fields
from chalicelib.api.requests import YearQuery
from chalicelib.clock import iso

MONTHS = 13


def year_months(now: datetime) -> list[str]:
    """The current UTC month and the 12 before it, oldest first (``2026-01``)."""
    year, month = now.year, now.month
    out = []
    for _ in range(MONTHS):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def year_weeks(first_month: str, now: datetime) -> list[str]:
    """The ISO weeks from the one holding the first month's first day to the current one (``2026-W01``)."""
    day, last = date.fromisoformat(f"{first_month}-01"), now.date()
    day -= timedelta(days=day.weekday())  # that week's Monday
    out = []
    while day <= last:
        year, week, _ = day.isocalendar()
        out.append(f"{year:04d}-W{week:02d}")
        day += timedelta(days=7)
    return out


class YearApi(ApiBase):
    def year(self, params: dict[str, Any] | None) -> dict[str, Any]:
        """A site's (or the network's) totals by month and by ISO week over 13 months: every bucket listed,
        zero where nothing was counted."""
        query: YearQuery = parse(YearQuery, params)
        now = self._now()
        site = self._site(query.site)
        months = year_months(now)
        weeks = year_weeks(months[0], now)
        buckets = [f"M#{m}" for m in months] + [f"W#{w}" for w in weeks]
        fields = self._config.counter_fields() + channel_fields(channels.names())
        counters = self._store.counters
        counts = counters.site_counts(site, buckets, fields) if site else counters.network_counts(buckets, fields)

        def series(prefix: str, keys: list[str]) -> list[dict[str, Any]]:
            out = []
            for key in keys:
                tally = _Tally(self._config.topics)
                tally.add(counts.get(f"{prefix}{key}", {}), _NONE, False)
                out.append({"t": key, **tally.as_dict()})
            return out

        return answer(responses.Year, {"site": query.site, "as_of": iso(now),
                                       "months": series("M#", months), "weeks": series("W#", weeks)})
