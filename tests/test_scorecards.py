"""Scorecards per site and per member of staff on duty (roster), over a period."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.api import OperatorApi
from chalicelib.cases import ack_counts
from chalicelib.configuration import Shift
from tests.conftest import auth

NOW = datetime(2026, 11, 18, 20, 30, tzinfo=UTC)  # a Wednesday; London is on UTC in November


def count(svc, site, hour, nature, n, topic="staff"):
    for i in range(n):
        svc.store.counters.count_message(site=site, bucket=f"H#{hour}", message_id=f"{site}-{hour}-{nature}-{i}",
                                         fields=[f"nature_{nature}", f"topic_{topic}", "urgency_normal", "language_en",
                                        f"x_{topic}_{nature}_normal"], expires_at=0)


def test_scorecards_credit_each_hour_to_whoever_was_on_duty(domain):
    count(domain, "store-leeds", "2026-11-18T09", "complaint", 2)   # Amy's early shift (7-15)
    count(domain, "store-leeds", "2026-11-18T09", "compliment", 3)
    count(domain, "store-leeds", "2026-11-18T16", "complaint", 1)   # Ben's late shift (15-23)
    count(domain, "store-leeds", "2026-11-14T10", "compliment", 4)  # a Saturday: Chloe
    count(domain, "line-8", "2026-11-18T09", "complaint", 5)        # no roster: site only
    domain.store.counters.add_counts(site="store-leeds", bucket="H#2026-11-18T09",
                                  counts={**ack_counts(60), "promise_kept": 1}, expires_at=0)
    domain.store.counters.add_counts(site="store-leeds", bucket="H#2026-11-18T16",
                                  counts={**ack_counts(1800), "promise_missed": 1}, expires_at=0)
    api = OperatorApi(config=domain.config, store=domain.store, cases=domain.cases, offers=domain.offers,
                      now=lambda: NOW)
    cards = api.scorecards({"since": "2026-11-12T00:00:00Z"})
    sites = {c["site"]: c for c in cards["sites"]}
    assert sites["store-leeds"]["compliments"] == 7 and sites["store-leeds"]["complaints"] == 3
    assert sites["store-leeds"]["promises"] == {"kept": 1, "missed": 1, "share_kept": 0.5}
    assert sites["line-8"]["complaints"] == 5
    staff = {c["name"]: c for c in cards["staff"]}
    assert set(staff) == {"Amy (early)", "Ben (late)", "Chloe (weekend)"}
    assert (staff["Amy (early)"]["complaints"], staff["Amy (early)"]["compliments"]) == (2, 3)
    assert staff["Amy (early)"]["promises"]["share_kept"] == 1.0
    assert staff["Amy (early)"]["median_seconds_to_acknowledge"] <= 60
    assert staff["Ben (late)"]["complaints"] == 1 and staff["Ben (late)"]["promises"]["missed"] == 1
    assert staff["Chloe (weekend)"]["compliments"] == 4 and staff["Chloe (weekend)"]["complaints"] == 0
    only = api.scorecards({"since": "2026-11-12T00:00:00Z", "site": "line-8"})
    assert [c["site"] for c in only["sites"]] == ["line-8"] and only["staff"] == []


def test_scorecards_refuse_bad_periods_and_sites(client):
    assert client.http.get("/api/scorecards?since=2026-01-01T00:00:00Z&until=2026-03-01T00:00:00Z",
                           headers=auth()).status_code == 400
    assert client.http.get("/api/scorecards?site=nowhere", headers=auth()).status_code == 400
    assert client.http.get("/api/scorecards?bogus=1", headers=auth()).status_code == 400
    assert client.http.get("/api/scorecards", headers=auth()).status_code == 200
    assert client.http.get("/api/scorecards").status_code == 401


@pytest.mark.parametrize("weekday,hour,expected", [
    (0, 22, True), (0, 23, True), (1, 5, True),  # Monday's night shift runs into Tuesday morning
    (1, 6, False), (0, 21, False), (6, 23, False), (0, 3, False),  # Sunday night is not on the roster
])
def test_a_night_shift_belongs_to_the_day_it_starts(weekday, hour, expected):
    night = Shift(name="Dan", days=["mon"], start=22, end=6)
    assert night.on_duty(weekday, hour) is expected


def test_a_bad_roster_or_time_zone_fails_at_load():
    from pydantic import ValidationError

    from chalicelib.configuration import Site

    with pytest.raises(ValidationError, match="starts and ends"):
        Shift(name="x", days=["mon"], start=8, end=8)
    with pytest.raises(ValidationError, match="unknown time zone"):
        Site(id="s", name="s", short_name={"en": "s", "fr": "s"}, kind="store", language="en",
             timezone="Mars/Olympus", codes=["S"])
