"""Access: every /api/* route refuses a missing, wrong, expired or foreign token; read-only tokens only read."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib import access
from chalicelib.clock import utcnow
from tests.conftest import OPERATOR_TOKEN, auth

LINK_KEY = b"test-link-signing-key"


PUBLIC = {("GET", "/api/openapi.json")}  # the API's contract: no data in it, read by the docs page before sign-in


def api_routes():
    from app import app

    out = []
    for path, methods in app.routes.items():
        if path.startswith("/api/") and not {(m, path) for m in methods} <= PUBLIC:
            concrete = path.replace("{case_id}", "C1").replace("{code}", "V1234567").replace(
                "{survey_id}", "S1").replace("{message_id}", "M1").replace("{number}", "%2B447700900123")
            out.extend((method, concrete) for method in methods)
    return sorted(out)


ROUTES = api_routes()
READ_ONLY = {("GET", p) for p in ("/api/feedback", "/api/metrics", "/api/cases", "/api/config", "/api/export.csv",
                                  "/api/scorecards", "/api/surveys", "/api/surveys/S1", "/api/cases/C1",
                                  "/api/metrics/quality", "/api/metrics/year",
                                  "/api/incidents",  # the banner of a wall screen
                                  "/api/offers/budget")}  # the insight panel's budgets: counts only


def call(client, method, path, headers):
    headers = {**headers, "Content-Type": "application/json"}
    if method == "GET":
        return client.http.get(path, headers=headers)
    return getattr(client.http, method.lower())(path, headers=headers, body="{}")


def test_the_route_list_is_complete():
    assert len(ROUTES) >= 19 and ("DELETE", "/api/customers/%2B447700900123") in ROUTES
    assert set(ROUTES) >= READ_ONLY


def test_the_openapi_document_is_the_only_route_under_api_served_without_a_token(client):
    from app import app

    every = {(m, p) for p, methods in app.routes.items() if p.startswith("/api/") for m in methods}
    assert every >= PUBLIC and len(every - PUBLIC) == len(ROUTES)  # every other route is checked above
    answer = client.http.get("/api/openapi.json")
    assert answer.status_code == 200 and answer.json_body["openapi"] == "3.1.0"
    posted = client.http.post("/api/openapi.json", headers={"Content-Type": "application/json"}, body="{}")
    assert posted.status_code == 401 and posted.json_body == {"error": "missing or invalid operator token"}


def viewer(ttl=timedelta(hours=1), key=LINK_KEY, now=None):
    return access.mint(key, "viewer", ttl, now or utcnow())[0]


def test_the_operator_mints_viewer_tokens_that_work_until_they_expire(client, monkeypatch):
    import app

    minted = client.http.post("/api/tokens", headers={**auth(), "Content-Type": "application/json"},
                              body='{"ttl_minutes": 60, "label": "wall screen leeds"}')
    assert minted.status_code == 201 and minted.json_body["role"] == "viewer"
    token = {"Authorization": f"Bearer {minted.json_body['token']}"}
    assert client.http.get("/api/metrics", headers=token).status_code == 200
    later = utcnow() + timedelta(minutes=61)
    monkeypatch.setattr(app, "utcnow", lambda: later)
    expired = client.http.get("/api/metrics", headers=token)
    assert expired.status_code == 401 and expired.json_body == {"error": "token expired"}


@pytest.mark.parametrize("body", ['{"role": "operator"}', '{"ttl_minutes": 0}', '{"ttl_minutes": 99999}',
                                  '{"label": "<script>"}', '{"x": 1}', "[1]", "{bad"])
def test_token_requests_are_validated(client, body):
    response = client.http.post("/api/tokens", headers={**auth(), "Content-Type": "application/json"}, body=body)
    assert response.status_code == 400 and "error" in response.json_body


def test_an_acknowledge_link_is_not_an_access_token(client):
    from chalicelib import links

    link = links.sign(LINK_KEY, "C1", "r1")
    response = client.http.get("/api/feedback", headers={"Authorization": f"Bearer {link}"})
    assert response.status_code == 401


def test_only_the_audit_role_sees_an_original_text(client):
    no_audit = client.http.get("/api/audit/messages/M1", headers=auth())
    assert no_audit.status_code == 403 and no_audit.json_body == {"error": "audit token required"}


@pytest.mark.parametrize("path", ["/api/nothing", "/nothing", "/api/feedback/M1/extra", "/api/cases/C1/delete",
                                  "/api/../etc/passwd"])
@pytest.mark.parametrize("headers", [{}, {"Authorization": f"Bearer {OPERATOR_TOKEN}"}])
def test_an_unknown_route_is_a_json_404_that_quotes_nothing_back(client, path, headers):
    # as the deployed API answers (gateway responses set by infra/package.py, tested in
    # test_deploy_package.py); Chalice's own emulation says 403 and quotes the token back
    response = client.http.get(path, headers=headers)
    assert response.status_code == 404
    assert response.json_body == {"error": "no such route"}
    assert OPERATOR_TOKEN not in response.body.decode()


def test_an_unexpected_error_is_a_500_without_a_stack_trace(client, svc, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internals /work/main/chalicelib/api.py")

    monkeypatch.setattr(svc.api, "feedback", boom)
    response = client.http.get("/api/feedback", headers=auth())
    assert response.status_code == 500 and response.json_body == {"error": "internal error"}


def test_a_secret_whose_ssm_parameter_is_missing_is_a_missing_secret(aws, monkeypatch):
    """In the cloud the audit token is optional: not created, its route refuses (403), never a 500."""
    import boto3

    from chalicelib.secrets import MissingSecret, get_secret

    monkeypatch.delenv("AUDIT_TOKEN", raising=False)
    monkeypatch.setenv("AUDIT_TOKEN_PARAM", "/voix/test/never-created")
    with pytest.raises(MissingSecret, match="never-created"):
        get_secret("AUDIT_TOKEN")
    boto3.client("ssm").put_parameter(Name="/voix/test/never-created", Value="s3cret", Type="SecureString")
    assert get_secret("AUDIT_TOKEN") == "s3cret"
