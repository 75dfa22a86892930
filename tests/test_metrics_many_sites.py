"""Metrics at 2,000 sites (moto, patched as the local stack runs it): no counter item grows with the number
of sites, a site's view reads only that site's items, and the network's view reads as many items at 2,000
sites as at 20 (its totals from the network's own items, its per-site figures from the ranked sites)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from chalicelib import ranking
from chalicelib.api.metrics import period_buckets
from chalicelib.config_loader import load_config
from chalicelib.storage.counters import SHARDS
from infra import sites
from infra.item_sizes import item_size

NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
HOURS = [NOW - timedelta(days=3)]  # a closed day of the 7-day window (moto takes ~20 ms a transaction)


def _count(svc, config, first: int):
    """Each site from ``first`` on: the same few messages in each hour of HOURS (site i: 1 + i % 7 of them)."""
    for i, site in enumerate(config.sites[first:], start=first):
        for hour in HOURS:
            n = 1 + i % 7
            assert svc.store.counters.count_batch(
                site=site.id, bucket=f"H#{hour:%Y-%m-%dT%H}", batch_id=f"b-{site.id}-{hour:%d%H}", expires_at=0,
                counts={"n": n, "nature_complaint": i % 3, "topic_comfort": n, "x_comfort_complaint_normal": i % 3})


def _largest_item() -> int:
    db = boto3.client("dynamodb")
    return max(item_size(i) for page in db.get_paginator("scan").paginate(TableName="voix-dev-counters")
               for i in page["Items"])


class _Reads:
    """Every key a DynamoDB read names, and how many items it returned."""

    def __init__(self, client):
        self.pks: list[str] = []
        self.items = 0
        client.meta.events.register("provide-client-params.dynamodb.*", self.before)
        client.meta.events.register("after-call.dynamodb.*", self.after)

    def before(self, params, model, **_):
        if model.name == "Query":
            self.pks.append(params["ExpressionAttributeValues"][":pk"]["S"])
        elif model.name == "BatchGetItem":
            self.pks += [k["pk"]["S"] for table in params["RequestItems"].values() for k in table["Keys"]]
        elif model.name != "GetItem":  # a read path writes nothing
            self.pks.append(f"WRITE {model.name}")

    def after(self, parsed, model, **_):
        if model.name == "Query":
            self.items += parsed.get("Count", 0)
        elif model.name == "BatchGetItem":
            self.items += sum(len(items) for items in parsed.get("Responses", {}).values())

    def clear(self):
        self.pks.clear()
        self.items = 0


@pytest.fixture(scope="module")
def configs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("many")
    return {n: load_config(sites.write(folder / f"sites-{n}", n)) for n in (20, 2000)}


def test_two_thousand_sites_grow_no_item_and_no_read(aws, svc, configs):
    from chalicelib.api import OperatorApi

    small, large = configs[20], configs[2000]
    assert [s.id for s in large.sites[:20]] == [s.id for s in small.sites]  # the same first 20 sites
    reads = _Reads(svc.store.counters._db)

    def views(config):
        api = OperatorApi(config=config, store=svc.store, cases=svc.cases, offers=svc.offers, now=lambda: NOW)
        ranking.refresh(svc.store.counters, config, NOW)  # the hourly job
        out = {}
        for name, params in {"network": {}, "site": {"site": config.sites[5].id}}.items():
            reads.clear()
            out[name] = api.metrics({**params, "bucket": "day", "since": (NOW - timedelta(days=7)).isoformat()})
            out[f"{name} reads"] = (list(reads.pks), reads.items)
        return out

    _count(svc, small, 0)
    at_20 = views(small)
    largest_at_20 = _largest_item()
    _count(svc, large, 20)
    at_2000 = views(large)
    largest_at_2000 = _largest_item()

    # no item grows with the number of sites: the network's shards and the ranking hold no per-site list
    assert largest_at_2000 <= largest_at_20 + 16 < 2_000  # a few more digits in the network's sums

    # a site's view reads only that site's items, and as many at 2,000 sites as at 20
    for result in (at_20, at_2000):
        pks, _ = result["site reads"]
        assert pks and all(pk.startswith(f"MET#{small.sites[5].id}#") for pk in pks), pks
    assert at_20["site reads"][1] == at_2000["site reads"][1]
    assert at_2000["site"]["totals"]["messages"] == at_20["site"]["totals"]["messages"] == len(HOURS) * (1 + 5 % 7)

    # the network's view: the same network items, per-site items of at most 2 * EDGE sites, exact totals
    def network_pks(result):
        return Counter(pk for pk in result["network reads"][0] if pk.startswith("NET#"))

    assert network_pks(at_20) == network_pks(at_2000) and sum(network_pks(at_20).values()) <= 8 * (1 + 2 * 24)
    site_pks = {pk.split("#")[1] for pk in at_2000["network reads"][0] if pk.startswith("MET#")}
    assert len(site_pks) == 2 * ranking.EDGE
    assert all(not pk.startswith("WRITE") for r in (at_20, at_2000) for pk in r["network reads"][0])
    assert len(at_2000["network reads"][0]) <= len(at_20["network reads"][0])  # 20 ranked + 1 ranking vs 21 sites
    buckets = len(period_buckets(NOW - timedelta(days=7), NOW, "day", NOW))
    assert at_2000["network reads"][1] <= (SHARDS + 2 * ranking.EDGE) * buckets + 1  # whatever the sites
    expected = sum(len(HOURS) * (1 + i % 7) for i in range(2000))
    assert at_2000["network"]["totals"]["messages"] == expected
    assert at_20["network"]["totals"]["messages"] == sum(len(HOURS) * (1 + i % 7) for i in range(20))

    # which sites: every one of 20; the busiest and the quietest of 2,000, each with its exact figures
    assert at_20["network"]["sites_ranked"] is None and len(at_20["network"]["sites"]) == 20
    ranked = at_2000["network"]["sites_ranked"]
    assert ranked["of"] == ranked["sites"] == 2000 and ranked["window"] == "7d" and ranked["as_of"]
    assert [r["messages"] for r in ranked["top"]] == [7] * 10 and [r["messages"] for r in ranked["bottom"]] == [1] * 10
    assert {r["site"] for r in ranked["top"] + ranked["bottom"]} == set(at_2000["network"]["sites"])
    by_id = {s.id: i for i, s in enumerate(large.sites)}
    assert all(at_2000["network"]["sites"][r["site"]]["messages"] == len(HOURS) * (1 + by_id[r["site"]] % 7)
               for r in ranked["top"] + ranked["bottom"])
