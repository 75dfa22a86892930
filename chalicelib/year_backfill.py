"""``python -m chalicelib backfill-year --before <yyyy-mm-dd>``: the year view for days counted before week and
month items existed. Every ISO week and month of the year view that holds a day before that day (the day this
version started counting weeks and months) is recounted from its day items: each site's, and each network
shard's from the shard's own day items, so sites no longer in the configuration stay in the network's totals
(``CounterStore.recount_periods``). A recount sets, never adds: counts that reached a week or a month after
the deployment (a correction, an acknowledgement of an old case, a message replayed late) are not counted
twice, and running it again changes nothing. A day after today is refused."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import Any

from chalicelib import ranking
from chalicelib.api.year import year_months, year_weeks
from chalicelib.clock import utcnow


def add_parser(commands: Any) -> None:
    backfill = commands.add_parser("backfill-year", help="recount the weeks and months of days counted before them")
    backfill.add_argument("--before", required=True, type=date.fromisoformat,
                          help="the first day counted with week and month items (yyyy-mm-dd), not after today")


def periods_before(before: date, now: Any) -> list[str]:
    """The year view's weeks and months (``W#...``, ``M#...``) that hold at least one day before ``before``."""
    months = year_months(now)
    weeks = [f"W#{w}" for w in year_weeks(months[0], now)
             if date.fromisocalendar(int(w[:4]), int(w[6:]), 1) < before]
    return weeks + [f"M#{m}" for m in months if date.fromisoformat(f"{m}-01") < before]


def run(args: argparse.Namespace) -> int:
    from chalicelib.services import services

    now = utcnow()
    if args.before > now.date():
        print(f"refused: {args.before} is after today ({now.date()}): days after it were not counted yet",
              file=sys.stderr)
        return 2
    periods = periods_before(args.before, now)
    if not periods:
        print("nothing to recount: that day is before the year view's 13 months", file=sys.stderr)
        return 0
    svc = services()
    counters, sites = svc.store.counters, ranking.site_ids(svc.config)
    items = sum(counters.recount_periods(periods, site=site) for site in sites)
    items += counters.recount_periods(periods, network=True)
    weeks = sum(p.startswith("W#") for p in periods)
    print(json.dumps({"weeks": weeks, "months": len(periods) - weeks, "sites": len(sites), "items": items}))
    return 0
