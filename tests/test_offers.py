"""Goodwill offers: unique codes within a site's daily budget, a customer cap and a staff limit, even under
concurrent requests; issued and redeemed tracked."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from xml.etree import ElementTree

import pytest

from tests.conftest import auth, post_sms, table_items, twilio_params

CHURN = "je vais voir ailleurs, jamais de vendeur dispo"  # a store customer about to leave: offer rule


def reply_of(response):
    return ElementTree.fromstring(response.body).find("Message").text


@pytest.fixture()
def atomic_moto(monkeypatch):
    """DynamoDB applies each request to an item atomically; moto in process does not lock, so this
    serialises moto's handling of each request (requests from many threads still interleave)."""
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.Lock()
    original = DynamoHandler.call_action

    def call_action(self, *args, **kwargs):
        with lock:
            return original(self, *args, **kwargs)

    monkeypatch.setattr(DynamoHandler, "call_action", call_action)


def churn(client, n, customer="+33612345678"):
    return post_sms(client, twilio_params(CHURN, sid=f"SM{n:032d}", to="+33639980101", From=customer))


def test_an_offer_reply_issues_a_tracked_unique_code_once_per_message(client):
    first = churn(client, 1)
    code = reply_of(first).rsplit("code ", 1)[1].rstrip(".")
    again = churn(client, 1)  # the same message redelivered
    assert reply_of(again) == reply_of(first)
    offer = client.http.get(f"/api/offers/{code}", headers=auth()).json_body
    assert offer["status"] == "issued" and offer["site"] == "store-paris"
    budget = client.http.get("/api/offers/budget?site=store-paris", headers=auth()).json_body
    assert budget["issued"] == 1  # the redelivery took nothing more


def test_a_customer_gets_one_offer_per_period_then_the_reply_without_a_code(client):
    assert "code V" in reply_of(churn(client, 1))
    second = reply_of(churn(client, 2))
    assert "code" not in second and "arranger" in second  # the no_offer text: no dead code promised
    [_, message] = sorted(table_items("MSG#"), key=lambda m: m["received_at"])
    assert message.get("offer_code") is None


def test_redeem_once(client):
    code = reply_of(churn(client, 1)).rsplit("code ", 1)[1].rstrip(".")
    typed = f"{code[:4].lower()} {code[4:].lower()}"  # as a cashier types it
    assert client.http.get(f"/api/offers/{typed}", headers=auth()).json_body["code"] == code
    ok = client.http.post(f"/api/offers/{typed}/redeem", headers={**auth(), "Content-Type": "application/json"},
                          body='{"by": "till 3"}')
    assert ok.status_code == 200 and ok.json_body["status"] == "redeemed" and ok.json_body["redeemed_by"] == "till 3"
    twice = client.http.post(f"/api/offers/{code}/redeem", headers={**auth(), "Content-Type": "application/json"},
                             body="{}")
    assert twice.status_code == 409
    unknown = client.http.post("/api/offers/VZZZZZZZ/redeem", headers={**auth(), "Content-Type": "application/json"},
                               body="{}")
    assert unknown.status_code == 404
    bad = client.http.post("/api/offers/..%2F..%2Fetc/redeem", headers={**auth(), "Content-Type": "application/json"},
                           body="{}")
    assert bad.status_code in (400, 404)


def test_staff_limit_then_approval(client, svc):
    limit = svc.config.deployment.offer_staff_daily_limit
    headers = {**auth(), "Content-Type": "application/json"}
    codes = []
    for _ in range(limit):
        response = client.http.post("/api/offers", headers=headers, body='{"site": "store-leeds", "by": "amy"}')
        assert response.status_code == 200
        codes.append(response.json_body["code"])
    over = client.http.post("/api/offers", headers=headers, body='{"site": "store-leeds", "by": "amy"}')
    assert over.status_code == 403 and "approve" in over.json_body["error"]
    for body in ('{"site": "store-leeds", "by": " Amy "}', '{"site": "store-leeds", "by": "AMY"}',
                 '{"site": "store-leeds", "by": "amy", "approved_by": "Amy"}'):  # the same person
        assert client.http.post("/api/offers", headers=headers, body=body).status_code == 403, body
    approved = client.http.post("/api/offers", headers=headers,
                                body='{"site": "store-leeds", "by": "amy", "approved_by": "manager bob"}')
    assert approved.status_code == 200 and approved.json_body["approved_by"] == "manager bob"
    assert len(set(codes + [approved.json_body["code"]])) == limit + 1
    for body in ('{"site": "nowhere", "by": "amy"}', '{"by": "amy"}', '{"site": "store-leeds"}', "[1]",
                 '{"site": "store-leeds", "by": "amy", "extra": 1}'):
        assert client.http.post("/api/offers", headers=headers, body=body).status_code == 400, body


def test_budget_never_exceeded_under_concurrent_issuance(client, svc, atomic_moto):
    from chalicelib.offers import OfferRefused, OfferService

    budget = svc.config.site("store-leeds").offer_daily_budget
    service = OfferService(config=svc.config, offers=svc.store.offers)

    def attempt(i):
        try:
            return service.issue(site="store-leeds", customer_key=f"customer-{i}", message_id=f"m-{i}")["code"]
        except OfferRefused as exc:
            return exc.args[0]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(attempt, range(budget * 3)))
    codes = [r for r in results if r.startswith("V")]
    assert len(codes) == budget and len(set(codes)) == budget
    assert results.count("budget") == budget * 2
    offers = [i for i in table_items("OFFER#")]
    assert len(offers) == budget  # refused issues left no offer behind
    assert service.budget("store-leeds") == {**service.budget("store-leeds"), "issued": budget, "left": 0}


def test_a_refused_cap_gives_back_the_budget_it_took(domain):
    from chalicelib.offers import OfferRefused, OfferService

    service = OfferService(config=domain.config, offers=domain.store.offers)
    service.issue(site="store-leeds", customer_key="same", message_id="a")
    with pytest.raises(OfferRefused, match="customer_cap"):
        service.issue(site="store-leeds", customer_key="same", message_id="b")
    assert service.budget("store-leeds")["issued"] == 1


def test_the_customer_cap_is_a_rolling_window_not_a_calendar_block(domain):
    from datetime import UTC, datetime, timedelta

    from chalicelib.offers import OfferRefused, OfferService

    days = domain.config.deployment.offer_cap_days
    block_end = datetime.fromtimestamp((days * 7) * 86_400 - 3600, UTC)  # an hour before a block ends
    moments = {"now": block_end}

    def service():
        return OfferService(config=domain.config, offers=domain.store.offers, now=lambda: moments["now"])

    service().issue(site="store-leeds", customer_key="same", message_id="a")
    moments["now"] = block_end + timedelta(hours=2)  # the next block, two hours later
    with pytest.raises(OfferRefused, match="customer_cap"):
        service().issue(site="store-leeds", customer_key="same", message_id="b")
    moments["now"] = block_end + timedelta(days=2 * days)  # two blocks on: allowed again
    service().issue(site="store-leeds", customer_key="same", message_id="c")


def test_rolling_quota_keys():
    from chalicelib.limits import rolling_quota

    assert rolling_quota("Q#k", 30, 30 * 86_400 * 5 + 10) == ("Q#k#5", "Q#k#4")
    assert rolling_quota("Q#k", 30, 30 * 86_400 * 5 - 10) == ("Q#k#4", "Q#k#3")
