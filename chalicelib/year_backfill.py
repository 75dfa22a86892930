"""``python -m chalicelib backfill-year --before <yyyy-mm-dd>``: the year view for days counted before week and
month items existed. Each site's day items of the year view's 13 months before that day (the day this version
started counting weeks and months) are added to their ISO week and month items and to a network shard's, each
site-day once (``CounterStore.roll_up_days``): run it again, it adds nothing twice."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, timedelta
from typing import Any

from chalicelib import ranking
from chalicelib.api.year import year_months
from chalicelib.clock import utcnow


def add_parser(commands: Any) -> None:
    backfill = commands.add_parser("backfill-year", help="add days counted before week and month items to them")
    backfill.add_argument("--before", required=True, type=date.fromisoformat,
                          help="the first day counted with week and month items (yyyy-mm-dd), left out")


def run(args: argparse.Namespace) -> int:
    from chalicelib.services import services

    svc = services()
    first = date.fromisoformat(f"{year_months(utcnow())[0]}-01")
    last = args.before - timedelta(days=1)
    if last < first:
        print("nothing to add: that day is before the year view's 13 months", file=sys.stderr)
        return 0
    totals = {"added": 0, "skipped": 0}
    for site in ranking.site_ids(svc.config):
        added, skipped = svc.store.counters.roll_up_days(site, first.isoformat(), last.isoformat())
        totals["added"] += added
        totals["skipped"] += skipped
    print(json.dumps({"first": first.isoformat(), "last": last.isoformat(), "site_days": totals}))
    return 0
