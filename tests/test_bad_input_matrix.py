"""Bad input across every endpoint, request by request: a clear 4xx JSON error, never a 500, nothing half-written.

Each request of the table in tests/test_bad_input.py runs against a deployment holding a message and a case, and
the tables must be byte-for-byte the same afterwards; as none may change anything, the module's tests share one
deployment (``shared_client``), each comparing the tables before and after its own request.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import auth, drain, post_sms, table_items, twilio_params
from tests.test_bad_input import CASES, FORM, JSON


@pytest.fixture(scope="module")
def deployment(shared_client):
    """One deployment holding a message and an open case, for the whole module: each test checks that its
    request changed nothing."""
    client = shared_client
    post_sms(client, twilio_params(body="L8 heating broken, freezing", sid="SM" + "1" * 32))
    drain()
    [case] = table_items("CASE#")
    return client, case["id"]


def send(client, method, path, body):
    headers = auth()
    if isinstance(body, tuple):
        body, extra = body
        headers.update(extra)
    elif body is not None:
        headers["Content-Type"] = JSON
    if path.startswith("/sms/"):
        headers.pop("Authorization")
    kwargs = {"headers": headers}
    if body is not None:
        kwargs["body"] = body
    return getattr(client.http, method.lower())(path, **kwargs)


@pytest.mark.parametrize("name,method,path,body,status", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_4xx_and_changes_nothing(deployment, name, method, path, body, status):
    client, case_id = deployment
    before = sorted(json.dumps(i, sort_keys=True, default=str) for i in table_items())
    response = send(client, method, path.replace("{case}", case_id), body)
    assert response.status_code == status, (name, response.body[:300])
    error = response.json_body.get("error") if response.headers.get("Content-Type", "").startswith(
        JSON) else json.loads(response.body).get("message") or json.loads(response.body).get("Message")
    assert error and len(error) < 300 and "Traceback" not in error, (name, response.body[:300])
    if re.search(r"year (1|9999)\b", name):  # a valid date out of range is not told it is malformed
        assert "between the years 2000 and 2100" in error, (name, error)
    after = sorted(json.dumps(i, sort_keys=True, default=str) for i in table_items())
    assert after == before, name


@pytest.mark.parametrize("token", ["not-a-token", "x" * 5000, "a.b", "..%2F..%2Fetc"])
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("page", ["ack", "unsubscribe"])  # an alert's acknowledge link; a reply mail's unsubscribe
def test_bad_acknowledge_and_unsubscribe_links_are_refused_without_changing_anything(deployment, token, method, page):
    client, _ = deployment
    before = table_items()
    response = getattr(client.http, method.lower())(f"/{page}/{token}", headers={"Content-Type": FORM}, body="") \
        if method == "POST" else client.http.get(f"/{page}/{token}")
    assert response.status_code == 403 and b"not valid" in response.body
    assert table_items() == before
