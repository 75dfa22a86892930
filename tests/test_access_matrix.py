"""Access, route by route: every /api/* route refuses a missing, wrong, expired, foreign or tampered token, and a
viewer token only reads. The requests are refused before they read or write anything, so the module's tests share
one deployment (``shared_client``)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chalicelib import tokens
from chalicelib.clock import utcnow
from tests.conftest import OPERATOR_TOKEN
from tests.test_access import READ_ONLY, ROUTES, call, viewer

REFUSALS = {
    "missing": ({}, "missing or invalid operator token"),
    "empty": ({"Authorization": "Bearer "}, "missing or invalid operator token"),
    "wrong": ({"Authorization": "Bearer not-the-token"}, "missing or invalid operator token"),
    "basic scheme": ({"Authorization": "Basic " + OPERATOR_TOKEN}, "missing or invalid operator token"),
    "operator token's hash": ({"Authorization": "Bearer " + "0" * 64}, "missing or invalid operator token"),
}


@pytest.mark.parametrize("method,path", ROUTES)
def test_every_route_refuses_a_missing_or_wrong_token(shared_client, method, path):
    for case, (headers, message) in REFUSALS.items():
        response = call(shared_client, method, path, headers)
        assert response.status_code == 401, case
        assert response.json_body == {"error": message}, case


@pytest.mark.parametrize("method,path", ROUTES)
def test_every_route_refuses_an_expired_or_foreign_or_tampered_token(shared_client, method, path):
    expired = viewer(ttl=timedelta(minutes=5), now=utcnow() - timedelta(minutes=6))
    foreign = viewer(key=b"another deployment's key")
    good = viewer()
    head, payload, signature = good.split(".")
    upgraded = ".".join((head, tokens.b64url(json.dumps({"r": "operator", "e": 2**40}).encode()), signature))
    for token, message in ((expired, "token expired"), (foreign, "missing or invalid operator token"),
                           (upgraded, "missing or invalid operator token")):
        response = call(shared_client, method, path, {"Authorization": f"Bearer {token}"})
        assert response.status_code == 401 and response.json_body == {"error": message}, token


@pytest.mark.parametrize("method,path", ROUTES)
def test_a_viewer_token_reads_the_dashboard_and_nothing_else(shared_client, method, path):
    response = call(shared_client, method, path, {"Authorization": f"Bearer {viewer()}", "X-Audit-Token": "test-audit"})
    if (method, path) in READ_ONLY:
        assert response.status_code not in (401, 403), response.body
    else:
        assert response.status_code == 403
        assert response.json_body == {"error": "a viewer token may only read the dashboard"}
