"""Live configuration on `make run` for real (issue 22), over HTTP: line 8's driver changes phone through the API;
with no restart, the next urgent line 8 message pages the new number and not the old one; a stale base_version gets
409, an invalid number 400 naming the field; rollback restores the old number. The stack checks the configuration's
version every 5 s here (VOIX_CONFIG_CHECK_SECONDS; 30 s by default, as in `make run`)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from infra.simulate import send_twilio
from tests.conftest import running_stack, stack_call, wait_until

pytestmark = pytest.mark.stack

LINE_8, OLD, NEW = "+447700900008", "+447700900801", "+447700900812"
CHECK_SECONDS = 5


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("live-config"), VOIX_CONFIG_CHECK_SECONDS=str(CHECK_SECONDS)) as (
            state, _):
        yield state


def api(state, method, path, body=None):
    return stack_call(state, method, path, body)


def sms_alerts(state):
    items = json.loads(urllib.request.urlopen(state["dashboard_url"] + "/outbox.json", timeout=10).read())["items"]
    return [i for i in items if i["kind"] == "sms" and i["text"].startswith("VOIX URGENT L8")]


def urgent(state, customer, text):
    before = len(sms_alerts(state))
    assert send_twilio(state, LINE_8, f"L8 {text}", customer)[0] == 200
    return wait_until(lambda: (alerts := sms_alerts(state)) and len(alerts) > before and alerts[0], seconds=30)


def test_a_new_staff_number_is_paged_without_a_restart_and_a_rollback_restores_the_old(stack):
    assert urgent(stack, "+447700900661", "a man is threatening passengers, please help")["to"] == OLD
    status, sites = api(stack, "GET", "/api/config/sites")
    assert status == 200
    line_8 = next(i for i, s in enumerate(sites["data"]["sites"]) if s["id"] == "line-8")
    sites["data"]["sites"][line_8]["staff_sms"] = [NEW]
    status, published = api(stack, "PUT", "/api/config/sites", {"data": sites["data"], "base_version": sites["version"],
                                                               "comment": "Dave's new phone", "by": "Marie"})
    assert status == 200 and published["changes"] == [
        {"path": f"sites[{line_8}].staff_sms[0]", "old": OLD, "new": NEW}]
    status, stale = api(stack, "PUT", "/api/config/sites", {"data": sites["data"], "base_version": sites["version"]})
    assert status == 409 and "not the latest" in stale["error"]
    sites["data"]["sites"][line_8]["staff_sms"] = ["+4477"]
    status, invalid = api(stack, "PUT", "/api/config/sites", {"data": sites["data"],
                                                              "base_version": published["version"]})
    assert status == 400 and f"sites[{line_8}].staff_sms[0]: " in invalid["error"]
    published_at = time.monotonic()
    time.sleep(CHECK_SECONDS + 1)  # every warm process has asked for the version since
    alert = urgent(stack, "+447700900662", "a passenger has collapsed, help")
    assert alert["to"] == NEW and time.monotonic() - published_at < 60
    status, back = api(stack, "POST", "/api/config/rollback", {"version": sites["version"], "by": "Marie"})
    assert status == 200 and back["rollback_of"] == sites["version"]
    time.sleep(CHECK_SECONDS + 1)
    assert urgent(stack, "+447700900663", "someone is smoking in the toilet and the alarm went off")["to"] == OLD
    status, history = api(stack, "GET", "/api/config/history")
    assert [(v["version"], v["author"]) for v in history["items"][:3]] == [
        (back["version"], "Marie [operator]"), (published["version"], "Marie [operator]"), (1, "the shipped files")]
