"""The year at a glance (issue 25): each count also goes to its site's and a network shard's ISO week and month
items, in the same transaction, exactly once; corrections move them; ``/api/metrics/year`` reads them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.api import OperatorApi
from chalicelib.api.year import year_months, year_weeks
from chalicelib.corrections import Corrections
from chalicelib.storage.counters import SITES_PER_BATCH
from tests.fakes import fake_stores
from tests.test_corrections import counted

NOW = datetime(2026, 12, 4, 7, 30, tzinfo=UTC)
FIELDS = ["nature_complaint", "topic_comfort", "urgency_normal", "language_en", "x_comfort_complaint_normal"]
ROLLUPS = ["M#2026-11", "M#2026-12", "W#2026-W48", "W#2026-W49"]


@pytest.fixture(params=["fake", "dynamodb"])
def stores(request):
    if request.param == "fake":
        return fake_stores()
    import boto3

    from chalicelib.storage import dynamo_stores

    request.getfixturevalue("aws")
    return dynamo_stores(boto3.client("dynamodb"), "voix-dev", "voix-dev-counters")


def test_month_and_week_items_count_each_message_once_in_the_site_and_the_network(stores):
    counters = stores.counters
    late_november = {"site": "line-8", "bucket": "H#2026-11-30T23", "fields": FIELDS, "expires_at": 7}
    assert counters.count_message(message_id="m1", **late_november)
    assert not counters.count_message(message_id="m1", **late_november)  # a redelivery: nothing twice
    assert counters.count_message(message_id="m2", **{**late_november, "bucket": "H#2026-12-01T00"})
    assert counters.count_message(message_id="m3", **{**late_november, "site": "store-leeds",
                                                      "bucket": "H#2026-11-22T10"})  # a Sunday: week 47
    expected = {"M#2026-11": {"n": 1, "topic_comfort": 1}, "M#2026-12": {"n": 1, "topic_comfort": 1},
                "W#2026-W49": {"n": 2, "topic_comfort": 2}}  # 30 November is a Monday
    assert counters.site_counts("line-8", ROLLUPS, ["n", "topic_comfort"]) == expected
    assert counters.network_counts(ROLLUPS, ["n"]) == {"M#2026-11": {"n": 2}, "M#2026-12": {"n": 1},
                                                       "W#2026-W49": {"n": 2}}
    assert counters.network_counts(["W#2026-W47"], ["n"]) == {"W#2026-W47": {"n": 1}}
    stores.counters.add_counts(site="line-8", bucket="H#2026-12-01T00", counts={"promise_kept": 1}, expires_at=7)
    assert counters.site_counts("line-8", ["M#2026-12"], ["promise_kept"]) == {"M#2026-12": {"promise_kept": 1}}


def test_a_batch_of_the_most_sites_stays_within_a_transactions_100_writes(stores):
    per_site = {f"site-{i}": {"n": 2} for i in range(SITES_PER_BATCH)}
    assert 1 + 4 * SITES_PER_BATCH + 4 <= 100
    assert stores.counters.count_sites(bucket="H#2026-11-20T10", batch_id="b1", per_site=per_site, expires_at=7)
    assert not stores.counters.count_sites(bucket="H#2026-11-20T10", batch_id="b1", per_site=per_site, expires_at=7)
    assert stores.counters.network_counts(["M#2026-11"], ["n"]) == {"M#2026-11": {"n": 2 * SITES_PER_BATCH}}
    with pytest.raises(ValueError):
        stores.counters.count_sites(bucket="H#2026-11-20T10", batch_id="b2", expires_at=7,
                                    per_site={f"site-{i}": {"n": 1} for i in range(SITES_PER_BATCH + 1)})


def test_a_correction_moves_the_month_and_week_counts_once(svc):
    message_id = counted(svc.store, 1)  # 2026-11-20T10, a Friday of week 47
    fix = Corrections(config=svc.config, messages=svc.store.messages, now=lambda: NOW)
    fix.correct(message_id, {"topic": "cleanliness"}, by="Sam")
    wanted = ["n", "topic_comfort", "topic_cleanliness", "x_cleanliness_complaint_normal"]
    after = {"n": 1, "topic_comfort": 0, "topic_cleanliness": 1, "x_cleanliness_complaint_normal": 1}
    for bucket in ("M#2026-11", "W#2026-W47"):
        assert svc.store.counters.site_counts("line-8", [bucket], wanted) == {bucket: after}
        assert svc.store.counters.network_counts([bucket], wanted) == {bucket: after}


def test_the_year_lists_13_months_and_their_weeks():
    months = year_months(NOW)
    assert months[0] == "2025-12" and months[-1] == "2026-12" and len(months) == 13
    weeks = year_weeks(months[0], NOW)
    assert weeks[0] == "2025-W49" and weeks[-1] == "2026-W49" and len(weeks) == 53  # 1 Dec 2025 is a Monday
    assert year_months(datetime(2027, 1, 3, tzinfo=UTC))[:2] == ["2026-01", "2026-02"]
    assert year_weeks("2026-01", datetime(2026, 1, 3, tzinfo=UTC)) == ["2026-W01"]  # 2026-01-01: a Thursday


def test_the_year_api_reads_months_and_weeks_for_a_site_and_the_network(domain):
    for n, (hour, site, nature) in enumerate([("2026-11-30T23", "line-8", "complaint"),
                                              ("2026-12-01T08", "line-8", "compliment"),
                                              ("2026-01-10T08", "store-leeds", "complaint"),
                                              ("2025-11-28T08", "line-8", "complaint")]):  # before the 13 months
        domain.store.counters.count_message(site=site, bucket=f"H#{hour}", message_id=f"m{n}", expires_at=0,
                                            fields=[f"nature_{nature}", "topic_comfort", "urgency_normal"])
    api = OperatorApi(config=domain.config, store=domain.store, cases=domain.cases, offers=domain.offers,
                      now=lambda: NOW)
    year = api.year({"site": "line-8"})
    months = {m["t"]: m for m in year["months"]}
    assert len(months) == 13 and len(year["weeks"]) == 53 and year["site"] == "line-8"
    assert months["2026-11"]["nature"]["complaint"] == 1 and months["2026-12"]["nature"]["compliment"] == 1
    assert months["2026-01"]["messages"] == 0 and sum(m["messages"] for m in year["months"]) == 2
    weeks = {w["t"]: w for w in year["weeks"]}
    assert weeks["2026-W49"]["messages"] == 2 and weeks["2026-W49"]["topic"]["comfort"] == 2
    network = api.year(None)
    assert sum(m["messages"] for m in network["months"]) == 3 and network["site"] is None
    assert {m["t"]: m["messages"] for m in network["months"]}["2026-01"] == 1


def test_backfill_recounts_weeks_and_months_from_days_whatever_reached_them_after_the_deployment(svc, capsys):
    """The reviewer's case: three messages counted before week and month items existed, then (after the
    deployment, before the backfill) an acknowledgement of an old case and a correction comfort -> staff,
    which reach the week and month too. The backfill used to add the whole day on top (n 6, staff 2, ack_n 2);
    a recount makes every week and month the sum of its days, the network's too (with a site no longer
    configured), and running it again changes nothing. A day after today is refused."""
    import boto3

    from chalicelib.__main__ import main
    from chalicelib.clock import utcnow
    from chalicelib.storage.counters import SHARDS, count_writes, counter_key, network_key, rollups, transact
    from chalicelib.storage.dynamo import to_item

    counters, db = svc.store.counters, boto3.client("dynamodb")
    today = utcnow().date()
    day = (today - timedelta(days=3)).isoformat()
    hour = f"H#{day}T10"
    view_start = date_of(f"{year_months(utcnow())[0]}-01")
    monday = view_start - timedelta(days=view_start.weekday())  # the view's first week starts here
    first_hour = f"H#{monday.isoformat()}T10"
    for n in range(3):
        counters.count_message(site="line-8", bucket=hour, message_id=f"old-{n}", fields=["topic_comfort"],
                               expires_at=0)
    counters.count_message(site="gone", bucket=hour, message_id="old-gone", fields=["topic_comfort"], expires_at=0)
    counters.count_message(site="line-8", bucket=first_hour, message_id="oldest", fields=[], expires_at=0)
    periods = sorted({*rollups(hour)[2:], *rollups(first_hour)[2:]})
    for key in [counter_key(s, p) for s in ("line-8", "gone") for p in periods] + [
            network_key(s, p) for s in range(SHARDS) for p in periods]:  # as counted before this version
        db.delete_item(TableName="voix-dev-counters", Key=to_item(key))
    counters.add_counts(site="line-8", bucket=hour, counts={"ack_n": 1}, expires_at=0)  # after the deployment
    transact(db, count_writes("voix-dev-counters", "line-8", hour, 0, {"topic_comfort": -1, "topic_staff": 1}, 0))
    fields = ["n", "topic_comfort", "topic_staff", "ack_n"]
    stale = rollups(f"H#{(today - timedelta(days=60)).isoformat()}T10")[2]  # a week item whose days are gone
    db.put_item(TableName="voix-dev-counters", Item=to_item({**counter_key("line-8", stale), "n": 5}))
    before = (today - timedelta(days=1)).isoformat()
    for _ in range(2):  # again: the same
        assert main(["backfill-year", "--before", before]) == 0
        out = capsys.readouterr().out
        for name, read in (("line-8", lambda b: counters.site_counts("line-8", b, fields)),
                           ("network", lambda b: counters.network_counts(b, fields))):
            for period in rollups(hour)[2:]:
                days = read([f"D#{d}" for d in _days(period)])
                summed = {f: sum(c.get(f, 0) for c in days.values()) for f in fields}
                assert read([period])[period] == {f: v for f, v in summed.items() if v}, (name, period)
        assert counters.site_counts("line-8", rollups(hour)[2:3], fields)[rollups(hour)[2]] == {
            "n": 3, "topic_comfort": 2, "topic_staff": 1, "ack_n": 1}
        assert counters.network_counts(rollups(hour)[2:3], ["n"])[rollups(hour)[2]]["n"] >= 4  # "gone" too
        assert counters.site_counts("line-8", rollups(first_hour)[2:3], ["n"])[rollups(first_hour)[2]]["n"] >= 1
        assert json.loads(out)["items"] > 0 and counters.site_counts("line-8", [stale], fields) == {}
    assert main(["backfill-year", "--before", (today + timedelta(days=1)).isoformat()]) == 2  # the future
    assert "refused" in capsys.readouterr().err
    assert main(["backfill-year", "--before", "2020-01-01"]) == 0  # before the 13 months: nothing to recount
    assert counters.recount_periods([], site="line-8") == 0
    with pytest.raises(ValueError):
        counters.recount_periods(["D#2026-12-01"], site="line-8")  # weeks and months only


def date_of(day):
    from datetime import date

    return date.fromisoformat(day)


def _days(period):
    """Every day (``yyyy-mm-dd``) of ``W#yyyy-Www`` or ``M#yyyy-mm``."""
    from datetime import date

    if period.startswith("W#"):
        monday = date.fromisocalendar(int(period[2:6]), int(period[8:10]), 1)
        return [(monday + timedelta(days=i)).isoformat() for i in range(7)]
    first = date_of(f"{period[2:]}-01")
    return [d.isoformat() for i in range(31) if (d := first + timedelta(days=i)).month == first.month]
