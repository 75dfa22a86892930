"""The operator API's contract: an OpenAPI 3.1 document generated from the request and response models,
valid, complete, served at /api/openapi.json, and kept by the running stack's answers."""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import quote

import jsonschema
import pytest
import requests
from openapi_spec_validator import OpenAPIV31SpecValidator

from chalicelib.api import responses
from chalicelib.api.base import answer
from chalicelib.api.openapi import ROUTES, document
from infra.simulate import send_twilio
from tests.conftest import running_stack, wait_until

AUDIT_TOKEN = "contract-audit-token"


def test_the_document_is_valid_openapi_3_1():
    doc = document()
    assert doc["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(doc).validate()  # raises on the first problem


def test_every_api_route_of_the_app_is_documented_and_nothing_else():
    from app import app

    served = {(m, p) for p, methods in app.routes.items() if p.startswith("/api/") for m in methods}
    documented = {(m.upper(), p) for p, ops in document()["paths"].items() for m in ops}
    assert sorted(served) == sorted(documented)


def test_every_route_documents_its_errors_with_the_one_error_shape_and_needs_the_bearer_token():
    doc = document()
    assert doc["security"] == [{"bearer": []}]
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "The operator token or a viewer token"}
    error = {"$ref": "#/components/schemas/Error"}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if path == "/api/openapi.json":
                assert op["security"] == []
                continue
            assert {"401", "403"} <= set(op["responses"]), (method, path)
            for status, spec in op["responses"].items():
                if status >= "400":
                    assert spec["content"]["application/json"]["schema"] == error, (method, path, status)


def test_no_two_models_of_the_document_share_a_name():
    """A request and an answer of the same name would share one schema in the document (one of them lost)."""
    seen: dict[str, type] = {}
    for route in ROUTES:
        for model in (route.answer, route.query, route.body):
            if model is not None:
                assert seen.setdefault(model.__name__, model) is model, (route.path, model.__name__)


def test_the_documented_bounds_are_the_models_bounds():
    params = {p["name"]: p for p in document()["paths"]["/api/feedback"]["get"]["parameters"]}
    assert params["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}
    assert set(params["nature"]["schema"]["enum"]) == {"complaint", "compliment", "suggestion", "question",
                                                       "unclear"}
    assert not any(p["required"] for p in params.values())
    budget = document()["paths"]["/api/offers/budget"]["get"]["parameters"]
    assert budget == [{"name": "site", "in": "query", "required": True,
                       "schema": {"type": "string", "minLength": 1, "maxLength": 40}}]


def test_an_answer_that_leaves_its_model_fails_instead_of_drifting():
    offer = dict.fromkeys(responses.Offer.model_fields, None) | {"code": "VABCDEFG"}
    assert answer(responses.Offer, offer)["code"] == "VABCDEFG"
    with pytest.raises(ValueError, match="extra"):
        answer(responses.Offer, offer | {"customer_key": "secret"})  # a field the contract does not have
    with pytest.raises(ValueError, match="site"):
        answer(responses.Offer, {k: v for k, v in offer.items() if k != "site"})


def test_the_operator_api_acts_through_the_services_built_once_in_services_py(svc):
    assert svc.api._cases is svc.cases and svc.api._offers is svc.offers


def test_the_document_is_served_without_a_token_and_read_by_the_docs_page(client):
    from pathlib import Path

    served = client.http.get("/api/openapi.json")
    assert served.status_code == 200 and served.json_body == document()
    page = (Path(__file__).resolve().parent.parent / "dashboard" / "api.html").read_text()
    script = (Path(__file__).resolve().parent.parent / "dashboard" / "api.js").read_text()
    assert 'src="api.js"' in page and 'fetch("/api/openapi.json"' in script and "innerHTML" not in script
    assert not re.search(r"https?://|//cdn", page + script)  # vendored: nothing loaded from elsewhere


# -- the running stack keeps the contract ---------------------------------------------------------------
def conforms(doc, method, template, response):
    """``response`` is one the document allows for ``method template``: status, media type and body."""
    op = doc["paths"][template][method.lower()]
    spec = op["responses"].get(str(response.status_code))
    assert spec is not None, f"{method} {template} answered {response.status_code}: {response.text[:300]}"
    media, content = next(iter(spec["content"].items()))
    assert response.headers["Content-Type"].split(";")[0] == media, (method, template)
    if media == "application/json":
        schema = {**content["schema"], "components": doc["components"]}
        jsonschema.validate(response.json(), schema, cls=jsonschema.Draft202012Validator)
    return response


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    audit = hashlib.sha256(AUDIT_TOKEN.encode()).hexdigest()
    with running_stack(tmp_path_factory.mktemp("contract"), AUDIT_TOKEN_SHA256=audit) as (state, _):
        yield state


@pytest.mark.stack
def test_every_route_answers_the_running_stack_as_documented(stack):
    """GIVEN the local stack over HTTP and a few real messages, WHEN each documented route is called with
    realistic data (its successes and its refusals), THEN every answer is one the served document allows."""
    base = stack["api_url"]
    doc = requests.get(base + "/api/openapi.json", timeout=10).json()
    assert doc == document()
    token = {"Authorization": f"Bearer {stack['operator_token']}"}
    called: set[tuple[str, str]] = set()

    def call(method, template, path=None, expect=200, headers=None, **kwargs):
        response = requests.request(method, base + (path or template), headers={**token, **(headers or {})},
                                    timeout=30, **kwargs)
        assert response.status_code == expect, (method, path or template, response.text[:300])
        called.add((method, template))
        return conforms(doc, method, template, response)

    send_twilio(stack, "+447700900008", "L8 a passenger is drunk and threatening, please help", "+447700900555")
    send_twilio(stack, "+447700900008", "L8 the driver was rude and the bus is 30 minutes late", "+447700900556")
    send_twilio(stack, "+33639980101", "OPERA vendeuse adorable, merci beaucoup", "+33639980444")
    wait_until(lambda: (lambda items: len(items) == 3 and all(i["processed"] for i in items))(
        call("GET", "/api/feedback").json()["items"]), seconds=60)

    page = call("GET", "/api/feedback", "/api/feedback?limit=1&site=line-8").json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    call("GET", "/api/feedback", "/api/feedback?nature=compliment&language=fr")
    call("GET", "/api/feedback", "/api/feedback?nature=praise", expect=400)
    call("GET", "/api/feedback", "/api/feedback?bogus=1", expect=400)
    call("GET", "/api/export.csv", "/api/export.csv?site=line-8")
    call("GET", "/api/export.csv", "/api/export.csv?site=line-8&locale=fr")
    message_id = page["items"][0]["id"]
    audited = call("GET", "/api/audit/messages/{message_id}", f"/api/audit/messages/{message_id}",
                   headers={"X-Audit-Token": AUDIT_TOKEN}).json()
    assert audited["id"] == message_id and audited["text"]
    call("GET", "/api/audit/messages/{message_id}", f"/api/audit/messages/{message_id}", expect=403)
    call("GET", "/api/audit/messages/{message_id}", "/api/audit/messages/twilio-SMnothing", expect=404,
         headers={"X-Audit-Token": AUDIT_TOKEN})

    metrics = call("GET", "/api/metrics").json()
    assert metrics["totals"]["messages"] == 3
    filtered = call("GET", "/api/metrics", "/api/metrics?bucket=day&nature=complaint").json()
    assert filtered["totals"]["promises"] is None
    call("GET", "/api/metrics", "/api/metrics?since=yesterday", expect=400)
    # by channel: the three SMS came by Twilio, counted as such in the counters
    assert metrics["totals"]["channel"]["twilio"] == 3
    assert sum(v for k, v in metrics["totals"]["channel"].items() if k != "twilio") == 0
    sms = call("GET", "/api/metrics", "/api/metrics?bucket=day&channel=twilio&nature=complaint").json()
    assert sms["totals"]["messages"] == filtered["totals"]["messages"] and sms["totals"]["topic"] is None
    call("GET", "/api/metrics", "/api/metrics?channel=pigeon", expect=400)
    assert len(call("GET", "/api/feedback", "/api/feedback?channel=twilio&site=line-8").json()["items"]) == 2
    corrected = call("PATCH", "/api/feedback/{message_id}", f"/api/feedback/{message_id}",
                     json={"urgency": "high" if page["items"][0]["urgency"] == "normal" else "normal", "by": "Sam"})
    relabelled = corrected.json()
    assert relabelled["corrected"] is True and relabelled["machine"]["urgency"] != relabelled["urgency"]
    call("PATCH", "/api/feedback/{message_id}", f"/api/feedback/{message_id}", expect=409,
         json={"urgency": relabelled["urgency"]})
    call("PATCH", "/api/feedback/{message_id}", "/api/feedback/twilio-SMnothing", expect=404,
         json={"nature": "question"})
    call("PATCH", "/api/feedback/{message_id}", f"/api/feedback/{message_id}", expect=400, json={"topic": "weather"})
    assert call("GET", "/api/metrics/quality", "/api/metrics/quality?site=line-8").json()["corrected"] == 1
    call("GET", "/api/metrics/quality", "/api/metrics/quality?since=2026-01-01T00:00:00Z", expect=400)
    call("GET", "/api/scorecards", "/api/scorecards?site=line-8")
    year = call("GET", "/api/metrics/year", "/api/metrics/year?site=line-8").json()
    assert len(year["months"]) == 13 and sum(m["messages"] for m in year["months"]) == 2
    assert sum(w["messages"] for w in call("GET", "/api/metrics/year").json()["weeks"]) == 3
    call("GET", "/api/metrics/year", "/api/metrics/year?site=nowhere", expect=400)
    call("GET", "/api/config")
    call("GET", "/api/status")
    sites = call("GET", "/api/config/{section}", "/api/config/sites").json()
    call("GET", "/api/config/{section}", "/api/config/nowhere", expect=404)
    line_8 = next(i for i, s in enumerate(sites["data"]["sites"]) if s["id"] == "line-8")
    changed = json.loads(json.dumps(sites["data"]))
    changed["sites"][line_8]["callback_minutes"] = 12
    body = {"data": changed, "base_version": sites["version"], "comment": "contract", "by": "Sam"}
    published = call("PUT", "/api/config/{section}", "/api/config/sites", json=body).json()
    assert published["changes"] == [{"path": f"sites[{line_8}].callback_minutes", "old": 10, "new": 12}]
    call("PUT", "/api/config/{section}", "/api/config/sites", expect=409,
         json={"data": changed, "base_version": sites["version"]})
    changed["sites"][line_8]["staff_sms"] = ["+4477"]
    call("PUT", "/api/config/{section}", "/api/config/sites", expect=400,
         json={"data": changed, "base_version": published["version"]})
    history = call("GET", "/api/config/history").json()
    assert [v["version"] for v in history["items"]] == [published["version"], sites["version"]]
    call("POST", "/api/config/rollback", json={"version": sites["version"], "by": "Sam"})
    call("POST", "/api/config/rollback", json={"version": 99}, expect=404)

    cases = wait_until(lambda: call("GET", "/api/cases").json()["items"], seconds=60)
    case_id = cases[0]["id"]
    reply = call("POST", "/api/cases/{case_id}/reply", f"/api/cases/{case_id}/reply", expect=202,
                 json={"text": "Sorry, we are on it", "by": "Sam"}).json()
    assert reply["segments"] == 1 and reply["encoding"] == "GSM-7"
    call("POST", "/api/cases/{case_id}/reply", f"/api/cases/{case_id}/reply", expect=400,
         json={"text": " ", "by": "Sam"})
    call("POST", "/api/cases/{case_id}/reply", "/api/cases/NOSUCH00/reply", expect=404,
         json={"text": "x", "by": "Sam"})
    assigned = call("POST", "/api/cases/{case_id}/assign", f"/api/cases/{case_id}/assign",
                    json={"to": "Priya Shah", "by": "Sam"}).json()
    assert assigned["assignee"] == "Priya Shah" and assigned["assigned_by"].startswith("Sam [")
    mine = call("GET", "/api/cases", "/api/cases?assignee=priya%20shah").json()["items"]
    assert [c["id"] for c in mine] == [case_id]
    assert case_id not in [c["id"] for c in call("GET", "/api/cases", "/api/cases?assignee=-").json()["items"]]
    call("POST", "/api/cases/{case_id}/assign", f"/api/cases/{case_id}/assign", expect=400,
         json={"to": "+447700900123"})
    call("POST", "/api/cases/{case_id}/assign", "/api/cases/NOSUCH00/assign", expect=404, json={"to": "Sam"})
    call("POST", "/api/cases/{case_id}/ack", f"/api/cases/{case_id}/ack", json={"by": "Sam", "note": "on my way"})
    call("POST", "/api/cases/{case_id}/ack", f"/api/cases/{case_id}/ack", expect=409, json={})
    call("POST", "/api/cases/{case_id}/resolve", f"/api/cases/{case_id}/resolve", json={"note": "sorted"})
    call("POST", "/api/cases/{case_id}/resolve", "/api/cases/NOSUCH00/resolve", expect=404, json={})
    call("POST", "/api/cases/{case_id}/assign", f"/api/cases/{case_id}/assign", expect=409, json={"to": "Sam"})
    call("POST", "/api/cases/{case_id}/ack", f"/api/cases/{case_id}/ack", expect=400, json={"by": "a\u0000b"})
    resolved = call("GET", "/api/cases", "/api/cases?status=resolved").json()
    assert [c["id"] for c in resolved["items"]] == [case_id]
    detail = call("GET", "/api/cases/{case_id}", f"/api/cases/{case_id}").json()
    assert detail["status"] == "resolved" and detail["conversation"][0]["direction"] == "in"
    assert detail["templates"] and all("{site}" not in t["text"] for t in detail["templates"])
    assert detail["history"] == []  # each of the three messages came from another customer
    assert "+447700900555" not in json.dumps(detail) and "+447700900556" not in json.dumps(detail)
    call("GET", "/api/cases/{case_id}", "/api/cases/NOSUCH00", expect=404)

    call("POST", "/api/offers", json={"site": "line-8", "by": "Sam"}, expect=409)  # coaches have no offer budget
    offer = call("POST", "/api/offers", json={"site": "store-leeds", "by": "Sam", "case_id": case_id}).json()
    code = offer["code"]
    assert offer["case_id"] == case_id and offer["status"] == "issued"
    call("GET", "/api/offers/{code}", "/api/offers/" + quote(code[:4].lower() + "-" + code[4:]))
    call("POST", "/api/offers/{code}/redeem", f"/api/offers/{code}/redeem", json={"by": "till 2"})
    call("POST", "/api/offers/{code}/redeem", f"/api/offers/{code}/redeem", expect=409, json={})
    call("GET", "/api/offers/{code}", "/api/offers/VZZZZZZZ", expect=404)
    call("POST", "/api/offers", json={"site": "nowhere", "by": "Sam"}, expect=400)
    assert call("GET", "/api/offers/budget", "/api/offers/budget?site=store-leeds").json()["issued"] == 1
    call("GET", "/api/offers/budget", expect=400)

    survey = call("POST", "/api/surveys", expect=202, json={
        "site": "line-8", "name": "After the trip", "numbers": ["+447700900777", "not a number"],
        "questions": [{"kind": "nps", "text": {"en": "How likely are you to recommend us? 0-10",
                                               "fr": "Nous recommanderiez-vous ? 0-10"}}]}).json()
    assert survey["queued"] == 1 and survey["rejected"] == ["not a number"]
    call("GET", "/api/surveys/{survey_id}", f"/api/surveys/{survey['id']}")
    call("GET", "/api/surveys/{survey_id}", "/api/surveys/000000000000", expect=404)
    call("GET", "/api/surveys", "/api/surveys?site=line-8")
    call("POST", "/api/surveys", json={"site": "line-8", "name": "x", "questions": []}, expect=400)

    minted = call("POST", "/api/tokens", expect=201, json={"label": "wall screen"}).json()
    viewer = {"Authorization": f"Bearer {minted['token']}"}
    call("GET", "/api/config", headers=viewer)
    call("POST", "/api/tokens", expect=403, headers=viewer, json={})
    call("GET", "/api/status", expect=401, headers={"Authorization": "Bearer wrong"})
    call("POST", "/api/tokens", expect=400, json={"role": "operator"})

    erased = call("DELETE", "/api/customers/{number}", "/api/customers/" + quote("+447700900556", safe="")).json()
    assert erased["items"] >= 1
    call("DELETE", "/api/customers/{number}", "/api/customers/07700900556", expect=400)
    by_address = call("DELETE", "/api/customers/{number}", "/api/customers/" + quote("ann@example.com", safe="")).json()
    assert by_address["customer"] == "a•••@example.com"  # an e-mail channel's customer (issue 24)
    call("DELETE", "/api/customers/{number}", "/api/customers/" + quote("Ann <ann@example.com>", safe=""), expect=400)

    # the rules studio (issue 22): a draft backtested, a text explained, suggestions; nothing published
    rules = call("GET", "/api/config/{section}", "/api/config/rules").json()
    draft = {**rules["data"], "lexicon": [*rules["data"]["lexicon"], {"name": "contract", "topic": "comfort",
                                                                      "phrases": ["wobbly"]}]}
    preview = call("POST", "/api/config/rules/preview", json={"data": draft, "days": 1}).json()
    assert preview["read"] == 2 and preview["complete"]  # the third message's customer was erased
    call("POST", "/api/config/rules/preview", json={"data": {**draft, "topics": []}}, expect=400)
    explained = call("POST", "/api/config/rules/explain", json={"text": "L8 wobbly seat", "data": draft}).json()
    assert {"group": "contract", "phrase": "wobbly", "negated": False, "effect": {"topic": "comfort"}} in \
        explained["fired"]
    assert call("GET", "/api/config/rules/suggestions").json()["items"] == []
    call("GET", "/api/config/rules/suggestions", "/api/config/rules/suggestions?days=31", expect=400)
    call("POST", "/api/config/rules/explain", json={"text": "hello"}, expect=403, headers=viewer)
    assert call("GET", "/api/config/history").json()["latest"] == rules["version"]

    # emerging issues (issue 25): an incident raised and acknowledged is tests/test_incidents_stack.py's
    assert call("GET", "/api/incidents", "/api/incidents?status=closed").json()["items"] == []
    call("GET", "/api/incidents", "/api/incidents?status=gone", expect=400)
    call("POST", "/api/incidents/{incident_id}/ack", "/api/incidents/AAAAAAAAAAAA/ack", expect=404, json={})
    call("POST", "/api/incidents/{incident_id}/ack", "/api/incidents/AAAAAAAAAAAA/ack", expect=400, json={"x": 1})

    assert called == {(r.method, r.path) for r in ROUTES}  # every documented route was called


@pytest.mark.stack
@pytest.mark.browser
def test_the_docs_page_shows_every_route_and_loads_nothing_from_elsewhere(stack):
    """The dashboard's /api.html, in Chromium, on the stack's dashboard server (as CloudFront serves it)."""
    import shutil

    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("no Chromium on this machine: `make test` installs Debian's chromium package (apt-get)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu",
                                                                    "--disable-dev-shm-usage"])
        page = browser.new_page()
        errors: list[str] = []
        fetched: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: fetched.append(r.url))
        page.goto(stack["dashboard_url"] + "/api.html")
        page.wait_for_selector("#operations section.op", timeout=15_000)
        shown = page.eval_on_selector_all("section.op", "sections => sections.map(s => s.id)")
        feedback = page.inner_text("#get_feedback")
        acknowledge = page.inner_text("#post_cases_case_id_ack")
        browser.close()
    assert sorted(shown) == sorted(op["operationId"] for ops in document()["paths"].values() for op in ops.values())
    assert "limit" in feedback and "≤ 200" in feedback and "next_cursor" in feedback and "Error" in feedback
    assert "by string | null (max length 80)" in acknowledge and "note string | null (max length 500)" in acknowledge
    assert not errors
    assert fetched and all(url.startswith(stack["dashboard_url"] + "/") for url in fetched)
