"""The live configuration's routes on moto through the Chalice test client (issue 22): read, publish (400 naming
every field, 409 on a stale base), history, rollback, a viewer refused; and a publish in force in a warm process
without a restart: the next urgent line 8 message pages the new staff number, not the old one."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chalicelib import access, services
from chalicelib.clock import utcnow
from tests.conftest import auth, drain, post_sms, sent_sms, twilio_params

OLD, NEW = "+447700900801", "+447700900812"


def call(client, method, path, body=None, headers=None):
    return getattr(client.http, method)(path, headers={**(headers or auth()), "Content-Type": "application/json"},
                                        **({"body": json.dumps(body)} if body is not None else {}))


def line_8_index(sites):
    return next(i for i, s in enumerate(sites["sites"]) if s["id"] == "line-8")


def test_an_operator_reads_publishes_and_rolls_back_a_section(client):
    read = call(client, "get", "/api/config/sites")
    assert read.status_code == 200 and read.json_body["version"] == 1 and read.json_body["section"] == "sites"
    sites = read.json_body["data"]
    i = line_8_index(sites)
    sites["sites"][i]["staff_sms"] = [NEW]
    published = call(client, "put", "/api/config/sites",
                     {"data": sites, "base_version": 1, "comment": "driver's new phone", "by": "Marie"})
    assert published.status_code == 200, published.body
    body = published.json_body
    assert body["version"] == 2 and body["author"] == "Marie [operator]" and body["comment"] == "driver's new phone"
    assert body["changes"] == [{"path": f"sites[{i}].staff_sms[0]", "old": OLD, "new": NEW}]
    stale = call(client, "put", "/api/config/sites", {"data": sites, "base_version": 1})
    assert stale.status_code == 409 and "not the latest (2)" in stale.json_body["error"]
    sites["sites"][i]["staff_sms"] = ["+4477"]
    sites["sites"][i]["timezone"] = "Europe/Nowhere"
    invalid = call(client, "put", "/api/config/sites", {"data": sites, "base_version": 2})
    assert invalid.status_code == 400
    assert f"sites[{i}].staff_sms[0]: " in invalid.json_body["error"]
    assert f"sites[{i}].timezone: unknown time zone" in invalid.json_body["error"]
    history = call(client, "get", "/api/config/history").json_body
    assert history["latest"] == 2 and [v["version"] for v in history["items"]] == [2, 1]
    back = call(client, "post", "/api/config/rollback", {"version": 1, "by": "Paul"})
    assert back.status_code == 200 and back.json_body["version"] == 3 and back.json_body["rollback_of"] == 1
    again = call(client, "get", "/api/config/sites").json_body
    assert again["version"] == 3 and again["data"]["sites"][i]["staff_sms"] == [OLD]


@pytest.mark.parametrize("method, path, body, status", [
    ("get", "/api/config/secrets", None, 404),
    ("put", "/api/config/secrets", {"data": {}, "base_version": 1}, 404),
    ("put", "/api/config/sites", {"data": {}, "base_version": -1}, 400),
    ("put", "/api/config/sites", {"base_version": 1}, 400),
    ("put", "/api/config/sites", {"data": "sites", "base_version": 1}, 400),
    ("post", "/api/config/rollback", {"version": 0}, 400),
    ("post", "/api/config/rollback", {"version": 42}, 404),
    ("get", "/api/config/history?limit=0", None, 400),
])
def test_bad_requests_are_clear_4xx(client, method, path, body, status):
    answer = call(client, method, path, body)
    assert answer.status_code == status, answer.body
    assert answer.json_body["error"]


def test_a_viewer_may_neither_read_nor_change_the_configuration(client):
    viewer = access.mint(b"test-link-signing-key", "viewer", timedelta(hours=1), utcnow())[0]
    headers = {"Authorization": f"Bearer {viewer}"}
    for method, path, body in (("get", "/api/config/sites", None), ("get", "/api/config/history", None),
                               ("put", "/api/config/sites", {"data": {}, "base_version": 1}),
                               ("post", "/api/config/rollback", {"version": 1})):
        assert call(client, method, path, body, headers=headers).status_code == 403, path
    assert call(client, "get", "/api/config", headers=headers).status_code == 200  # the dashboard's labels


def test_a_new_staff_number_is_paged_in_a_warm_process_without_a_restart(client, monkeypatch):
    monkeypatch.setenv("VOIX_CONFIG_CHECK_SECONDS", "0")
    post_sms(client, twilio_params(body="L8 a man is threatening passengers, help", sid="SM" + "d1" * 16))
    drain()
    assert [m[0] for m in sent_sms()] == [OLD]
    before = services.services()
    sites = call(client, "get", "/api/config/sites").json_body
    sites["data"]["sites"][line_8_index(sites["data"])]["staff_sms"] = [NEW]
    assert call(client, "put", "/api/config/sites", {"data": sites["data"], "base_version": sites["version"]}
                ).status_code == 200
    post_sms(client, twilio_params(body="L8 a man is threatening passengers again", sid="SM" + "d2" * 16,
                                   frm="+447700900124"))
    drain()
    assert services.services() is not before  # renewed with the new version, the clients kept
    assert services.services().store is before.store
    assert [m[0] for m in sent_sms()] == [OLD, NEW]


def test_a_warm_process_checks_the_version_at_most_every_check_seconds_not_per_request(client, monkeypatch):
    from chalicelib.storage.config_versions import ConfigVersionStore

    checks = []
    original = ConfigVersionStore.head_version
    monkeypatch.setattr(ConfigVersionStore, "head_version", lambda self: checks.append(1) or original(self))
    ticks = iter(range(0, 10_000, 2))  # the process's clock: two seconds a request
    monkeypatch.setattr("time.monotonic", lambda: float(next(ticks)))
    for n in range(40):  # 80 seconds of requests
        assert post_sms(client, twilio_params(body="L8 too hot", sid=f"SM{n:032d}", frm=f"+4477009002{n:02d}")
                        ).status_code == 200
    assert 2 <= len(checks) <= 3  # once every 30 s, whatever the number of requests
