"""`make run` for real: moto in server mode, `chalice local`, the local worker, over HTTP."""

from __future__ import annotations

import pytest

from infra.simulate import send_eum, send_twilio
from tests.conftest import running_stack, stack_api, wait_until

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("stack")) as (state, output):
        yield state, output






def test_the_banner_gives_the_url_and_both_tokens(stack):
    state, output = stack
    banner = "".join(output)
    assert state["api_url"] in banner and state["operator_token"] in banner and state["twilio_auth_token"] in banner


def test_sms_through_both_channels_is_answered_stored_and_alerted(stack):
    state, output = stack
    # a safety alert the driver must hear (one about the driver himself goes to his managers: test_noise_and_staff)
    status, body = send_twilio(state, "+447700900008", "L8 a passenger is drunk and threatening", "+447700900555")
    assert status == 200 and "<Message>" in body and "999" in body
    status, _ = send_twilio(state, "+33639980101", "OPERA vendeuse adorable, merci", "+33639980444")
    assert status == 200
    send_eum(state, "+33639980012", "L12 il fait un froid de canard dans le car", "+33612340000")

    def all_processed():
        items = stack_api(state, "/api/feedback")["items"]
        return items if len(items) == 3 and all(i["processed"] for i in items) else None

    items = wait_until(all_processed)
    assert {i["site"] for i in items} == {"line-8", "store-paris", "line-12"}
    assert {i["channel"] for i in items} == {"twilio", "eum"}
    urgent = wait_until(lambda: [c for c in stack_api(state, "/api/cases")["items"]
                                 if c["urgency"] == "high" and {a["status"] for a in c["alerts"]} == {"sent"}])
    assert {a["to"] for a in urgent[0]["alerts"]} >= {"+447700900801", "care@example.com"}
    metrics = stack_api(state, "/api/metrics")
    assert metrics["totals"]["messages"] == 3
    assert any("local SMS reply" in line for line in output)  # the End User Messaging reply, logged locally


def test_a_forged_webhook_is_refused_over_http(stack):
    state, _ = stack
    forged = dict(state, twilio_auth_token="wrong")
    status, body = send_twilio(forged, "+447700900008", "L8 hello", "+447700900555")
    assert status == 403 and "signature" in body


def test_an_unknown_route_is_a_json_404_over_http(stack):
    import json
    import urllib.error
    import urllib.request

    state, _ = stack
    request = urllib.request.Request(state["api_url"] + "/api/nothing",
                                     headers={"Authorization": f"Bearer {state['operator_token']}"})
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("an unknown route answered 2xx")
    except urllib.error.HTTPError as exc:
        body = exc.read().decode()
        assert exc.code == 404 and json.loads(body) == {"error": "no such route"}
        assert state["operator_token"] not in body
