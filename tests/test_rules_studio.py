"""The rules studio's routes on moto through the Chalice test client (issue 22): backtest a draft on the stored
messages, explain a text, suggestions from corrected messages; nothing stored, 400 naming every field of an
invalid draft, a viewer refused."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest

from chalicelib import access, services
from chalicelib.clock import day_key, iso, utcnow
from tests.conftest import auth, drain, post_sms, twilio_params


def call(client, method, path, body=None, headers=None):
    return getattr(client.http, method)(path, headers={**(headers or auth()), "Content-Type": "application/json"},
                                        **({"body": json.dumps(body)} if body is not None else {}))


def with_phrase(rules, group, phrase):
    rules = copy.deepcopy(rules)
    next(g for g in rules["lexicon"] if g["name"] == group)["phrases"].append(phrase)
    return rules


def test_an_operator_backtests_explains_and_reads_suggestions_and_nothing_is_stored(client):
    # a made-up word nobody listed ("wobbly" the learned model now reads as comfort in "so wobbly today")
    for n, text in enumerate(("L8 the skronky thing moved again", "L8 so skronky today, rivalbus is better",
                              "L8 the heating was broken")):
        assert post_sms(client, twilio_params(body=text, sid=f"SM{n:032d}", frm=f"+44770090013{n}")
                        ).status_code == 200
    rules = call(client, "get", "/api/config/rules").json_body
    draft = with_phrase(rules["data"], "comfort", "skronky")
    preview = call(client, "post", "/api/config/rules/preview", {"data": draft, "days": 7, "examples": 1})
    assert preview.status_code == 200, preview.body
    body = preview.json_body
    assert body["read"] == 3 and body["complete"] and body["cap"] == 50_000 and body["version"] == 1
    assert body["changes"]["topic"]["count"] == 2
    assert {t["to"] for t in body["changes"]["topic"]["transitions"]} == {"comfort"} and sum(
        t["count"] for t in body["changes"]["topic"]["transitions"]) == 2
    (example,) = body["changes"]["topic"]["examples"]
    assert example["text"] == "L8 so skronky today, r******* is better"  # the newest, masked as in the feed
    assert "comfort: skronky" in example["new"]["rules"]
    assert body["quality"] == {"corrected": 0}
    assert call(client, "post", "/api/config/rules/preview", {"data": draft, "site": "line-12"}).json_body["read"] == 0

    explained = call(client, "post", "/api/config/rules/explain", {"text": "L8 skronky seat", "data": draft})
    assert explained.status_code == 200, explained.body
    assert explained.json_body["draft"] and explained.json_body["site"] == "line-8"
    assert {"group": "comfort", "phrase": "skronky", "negated": False, "effect": {"topic": "comfort"}} in \
        explained.json_body["fired"]
    live = call(client, "post", "/api/config/rules/explain", {"text": "skronky", "to": "+447700900008"}).json_body
    assert not live["draft"] and live["topic"] == "other" and live["fired"] == []
    assert live["rules"][0] == "site: number +447700900008"

    none = call(client, "get", "/api/config/rules/suggestions?days=30")
    assert none.status_code == 200 and none.json_body["items"] == [] and none.json_body["corrected"] == 0
    now = utcnow()
    for n in range(2):  # corrected by a manager: the machine's labels kept beside
        services.services().store.messages.put_message({
            "id": f"SM{n + 10:032d}", "received_at": iso(now - timedelta(minutes=n)), "day": day_key(now),
            "text": "L8 skronky thing rattled", "to_number": "+447700900008", "site": "line-8", "topic": "comfort",
            "nature": "complaint", "urgency": "normal",
            "machine": {"topic": "other", "nature": "unclear", "urgency": "normal"}})
    found = call(client, "get", "/api/config/rules/suggestions").json_body
    assert found["corrected"] == 2 and found["read"] == 5
    assert {"phrase": "skronky", "kind": "topic", "label": "comfort", "count": 2,
            "messages": [f"SM{10:032d}", f"SM{11:032d}"], "group": "comfort"} in found["items"]
    quality = call(client, "post", "/api/config/rules/preview", {"data": draft}).json_body["quality"]
    assert quality["corrected"] == 2 and quality["topic"]["before"] == 0.0 and quality["topic"]["after"] == 1.0

    history = call(client, "get", "/api/config/history").json_body
    assert history["latest"] == 1 and len(history["items"]) == 1  # a backtest publishes nothing
    assert call(client, "get", "/api/config/rules").json_body["data"] == rules["data"]


def test_the_studio_stores_nothing_not_even_version_1(client):
    rules = services.services().config.rules.model_dump(mode="json", exclude_defaults=False)
    assert call(client, "post", "/api/config/rules/preview", {"data": rules}).status_code == 200
    assert call(client, "post", "/api/config/rules/explain", {"text": "L8 too hot"}).status_code == 200
    assert call(client, "get", "/api/config/rules/suggestions").status_code == 200
    assert services.services().store.config.head() is None  # the shipped files were read, not stored


def test_an_invalid_draft_gets_400_naming_each_field(client):
    rules = call(client, "get", "/api/config/rules").json_body["data"]
    rules["lexicon"][0]["weight"] = 99
    rules["lexicon"][1]["phrases"] = []
    for path, body in (("/api/config/rules/preview", {"data": rules}),
                       ("/api/config/rules/explain", {"text": "hello", "data": rules})):
        answer = call(client, "post", path, body)
        assert answer.status_code == 400, answer.body
        assert "lexicon[0].weight: " in answer.json_body["error"]
        assert "lexicon[1].phrases: " in answer.json_body["error"]


@pytest.mark.parametrize("method, path, body", [
    ("post", "/api/config/rules/preview", {"days": 7}),
    ("post", "/api/config/rules/preview", {"data": {}, "days": 31}),
    ("post", "/api/config/rules/preview", {"data": {}, "days": 0}),
    ("post", "/api/config/rules/preview", {"data": {}, "examples": 21}),
    ("post", "/api/config/rules/preview", {"data": "rules"}),
    ("post", "/api/config/rules/preview", {"data": {}}),
    ("post", "/api/config/rules/explain", {"to": "+447700900008"}),
    ("post", "/api/config/rules/explain", {"text": "x" * 1601}),
    ("get", "/api/config/rules/suggestions?days=0", None),
    ("get", "/api/config/rules/suggestions?site=nowhere", None),
])
def test_bad_requests_are_clear_4xx(client, method, path, body):
    answer = call(client, method, path, body)
    assert answer.status_code == 400, answer.body
    assert answer.json_body["error"]


def test_a_viewer_may_not_use_the_studio(client):
    viewer = access.mint(b"test-link-signing-key", "viewer", timedelta(hours=1), utcnow())[0]
    headers = {"Authorization": f"Bearer {viewer}"}
    for method, path, body in (("post", "/api/config/rules/preview", {"data": {}}),
                               ("post", "/api/config/rules/explain", {"text": "hello"}),
                               ("get", "/api/config/rules/suggestions", None)):
        assert call(client, method, path, body, headers=headers).status_code == 403, path


def test_a_correction_becomes_a_suggestion_and_the_backtest_measures_the_draft_on_it(client):
    """The loop of issue 22: a manager corrects two messages (PATCH /api/feedback/{id}), their phrase is
    suggested, and a draft adding it is backtested against the corrections."""
    for n in range(2):
        post_sms(client, twilio_params(body=f"L8 wobbly thing rattled {n}", sid=f"SM{n + 20:032d}",
                                       frm=f"+44770090014{n}"))
    drain()
    for n in range(2):
        fixed = call(client, "patch", f"/api/feedback/twilio-SM{n + 20:032d}", {"topic": "comfort", "by": "Marie"})
        assert fixed.status_code == 200, fixed.body
    found = call(client, "get", "/api/config/rules/suggestions").json_body
    assert found["corrected"] == 2
    wobbly = next(s for s in found["items"] if s["phrase"] == "wobbly")
    assert wobbly == {"phrase": "wobbly", "kind": "topic", "label": "comfort", "count": 2,
                      "messages": [f"twilio-SM{21:032d}", f"twilio-SM{20:032d}"], "group": "comfort"}
    assert not any(s["kind"] == "nature" for s in found["items"])  # the nature was left as it was
    rules = call(client, "get", "/api/config/rules").json_body["data"]
    draft = with_phrase(rules, wobbly["group"], wobbly["phrase"])
    quality = call(client, "post", "/api/config/rules/preview", {"data": draft}).json_body["quality"]
    assert quality["corrected"] == 2
    assert quality["topic"] == {"before": 0.0, "after": 1.0, "right_before": 0, "right_after": 2}
