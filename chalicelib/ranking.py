"""Which sites a network view breaks down: every site of a small network, the busiest and quietest of a large one.

Totals and series of the network come from its own counter items (``network_counts``), whatever the
number of sites. A per-site breakdown cannot: it reads each listed site's items. So a network of at
most ``SMALL_NETWORK`` sites lists them all, for any period; a larger one lists the ``EDGE`` busiest
and the ``EDGE`` quietest sites of a standard window (``WINDOWS``), ranked by the hourly job
(``refresh``: one query per site over its day items) into one small item per window. The figures of a
listed site are then read exactly for the period asked; only the choice of sites is as of the last run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.clock import iso, utcnow
from chalicelib.configuration import Config
from chalicelib.ports import NO_SITE, Counters

SMALL_NETWORK = 50  # sites (with "unknown") a network view may read one by one, for any period
EDGE = 10  # sites kept at each end of a ranking
WINDOWS = {"today": (0, 1), "yesterday": (1, 1), "7d": (0, 7), "30d": (0, 30)}  # (days back of the last, days)
RANKED = ["n", "nature_compliment", "nature_complaint"]


def site_ids(config: Config) -> list[str]:
    """Every site counts may be kept under: the configured ones and ``NO_SITE``."""
    return [s.id for s in config.sites] + [NO_SITE]


def is_small(config: Config) -> bool:
    return len(site_ids(config)) <= SMALL_NETWORK


def window_days(window: str, now: datetime) -> list[str]:
    """The UTC days of a window (today's so far included where it ends today), oldest first."""
    back, days = WINDOWS[window]
    last = now.date() - timedelta(days=back)
    return [(last - timedelta(days=i)).isoformat() for i in range(days - 1, -1, -1)]


def window_for(since: datetime, until: datetime, now: datetime) -> str:
    """The standard window whose ranking picks the sites of a period: yesterday for yesterday,
    else the one nearest the period's length (the dashboard's today, 7 and 30 days)."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if today - timedelta(days=1) <= since and until <= today:
        return "yesterday"
    span = until - since
    return "today" if span <= timedelta(hours=36) else "7d" if span <= timedelta(days=15) else "30d"


def _order(row: tuple[str, dict[str, int]]) -> tuple[int, int, str]:
    site, counts = row
    return -counts["messages"], -counts["complaints"], site


def rank(per_site: dict[str, dict[str, int]], window: str, now: datetime, sites: int) -> dict[str, Any]:
    """A ranking item from each site's counts of a window (sites without messages are left out):
    bounded by ``2 * EDGE`` sites whatever their number."""
    rows = sorted(((site, c) for site, c in per_site.items() if c["messages"] > 0), key=_order)
    days = window_days(window, now)
    bottom = rows[EDGE:][-EDGE:]
    return {"window": window, "since": f"{days[0]}T00:00:00Z", "as_of": iso(now), "of": len(rows), "sites": sites,
            "top": [{"site": s, **c} for s, c in rows[:EDGE]], "bottom": [{"site": s, **c} for s, c in bottom]}


def refresh(counters: Counters, config: Config, now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """The hourly job: read each site's day items of the longest window (one query a site) and store
    one ranking per window. Returns the rankings."""
    now = now or utcnow()
    longest = window_days("30d", now)
    buckets = [f"D#{d}" for d in longest]
    per_window: dict[str, dict[str, dict[str, int]]] = {w: {} for w in WINDOWS}
    for site in site_ids(config):
        counts = counters.site_counts(site, buckets, RANKED)
        for window in WINDOWS:
            sums = {"messages": 0, "compliments": 0, "complaints": 0}
            for day in window_days(window, now):
                row = counts.get(f"D#{day}", {})
                sums["messages"] += row.get("n", 0)
                sums["compliments"] += row.get("nature_compliment", 0)
                sums["complaints"] += row.get("nature_complaint", 0)
            per_window[window]["unknown" if site == NO_SITE else site] = sums
    out = {}
    for window, per_site in per_window.items():
        out[window] = rank(per_site, window, now, len(config.sites))
        counters.put_ranking(window, out[window])
    return out


def ranked_sites(counters: Counters, config: Config, since: datetime, until: datetime,
                 now: datetime) -> tuple[list[str], dict[str, Any]]:
    """The sites a large network's view lists (busiest first, then the quietest) and what it says of
    them; a window not ranked yet lists none (``as_of`` null) until the hourly job runs."""
    window = window_for(since, until, now)
    found = counters.rankings([window]).get(window)
    if found is None:
        found = {"window": window, "since": None, "as_of": None, "of": 0, "sites": len(config.sites),
                 "top": [], "bottom": []}
    ids = [r["site"] for r in found["top"] + found["bottom"]]
    return [NO_SITE if s == "unknown" else s for s in ids], found
