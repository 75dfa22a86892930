"""Erasure on the real local stack, over HTTP: a replayed request of an erased customer brings nothing back,
no case keeps a number it does not need, and the access log never prints the number being erased."""

from __future__ import annotations

import json
import re
import urllib.request
from xml.etree import ElementTree

import pytest

from infra.simulate import send_twilio
from tests.conftest import running_stack, stack_api, wait_until

pytestmark = pytest.mark.stack
ALICE, CAROL = "+447700900611", "+447700900622"
URGENT = "L8 a passenger is drunk and threatening people"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("erasure")) as (state, output):
        yield state, output


def sent(state):
    """What the stack sent, from moto's own record: SMS through SNS, e-mails through SES."""
    with urllib.request.urlopen(state["moto_endpoint"] + "/moto-api/data.json", timeout=10) as res:
        data = json.loads(res.read())
    return data["sns"]["SMS"], data["ses"]["Message"]


def items(state):
    """Every item of both tables, as JSON text."""
    import boto3

    db = boto3.client("dynamodb", endpoint_url=state["moto_endpoint"], region_name="eu-west-2",
                      aws_access_key_id="local", aws_secret_access_key="local")
    found = []
    for table in ("voix-dev", "voix-dev-counters"):
        for page in db.get_paginator("scan").paginate(TableName=table):
            found.extend(json.dumps(i) for i in page["Items"])
    return found


def but_the_way_back(found):
    """Every item but ``REPLYTO#<case>``: the number to answer the customer from their case, kept on purpose until
    ``contact_days`` after their last message, and erased with them (issue 21; tests/test_privacy.py)."""
    return [i for i in found if '"REPLYTO#' not in i]


def idle(state):
    """The worker has nothing left to do (the jobs queue is empty and nothing is in flight)."""
    def empty():
        jobs = stack_api(state, "/api/status")["queues"]["jobs"]
        return jobs["waiting"] == 0 and jobs["in_flight"] == 0
    wait_until(empty, 30)


def erase(state, number):
    request = urllib.request.Request(state["api_url"] + "/api/customers/" + number.replace("+", "%2B"),
                                     method="DELETE", headers={"Authorization": f"Bearer {state['operator_token']}"})
    with urllib.request.urlopen(request, timeout=10) as res:
        return res.status, json.loads(res.read())


def test_a_replayed_signed_request_of_an_erased_customer_stores_cases_and_sends_nothing(stack):
    state, _ = stack
    status, body = send_twilio(state, "+447700900008", URGENT, ALICE, sid="SM" + "e" * 32)
    assert status == 200 and "<Message>" in body
    wait_until(lambda: [c for c in stack_api(state, "/api/cases")["items"]
                        if c["alerts"] and {a["status"] for a in c["alerts"]} == {"sent"}])
    sms, emails = sent(state)
    assert any(ALICE in m["message"] for m in sms)  # the driver was asked to call back
    assert [i for i in items(state) if ALICE in i]  # the case holds the number for the call-back

    status, answer = erase(state, ALICE)
    assert status == 200 and answer["erased"]["msg"] == 1 and answer["erased"]["case"] == 1
    assert [i for i in items(state) if ALICE in i or ALICE[1:] in i] == []

    status, body = send_twilio(state, "+447700900008", URGENT, ALICE, sid="SM" + "e" * 32)  # the same request
    assert status == 200
    assert ElementTree.fromstring(body).find("Message") is None  # answered with nothing: no promise
    idle(state)
    assert [i for i in items(state) if ALICE in i or ALICE[1:] in i] == []
    assert stack_api(state, "/api/cases")["items"] == [] and stack_api(state, "/api/feedback")["items"] == []
    assert sent(state) == (sms, emails)  # no SMS to the driver, no e-mail
    assert stack_api(state, "/api/status")["queues"]["dead_letter"]["waiting"] == 0  # and no job failed


def test_the_access_log_shows_an_erasure_without_the_number(stack):
    state, output = stack
    lines = len(output)
    assert erase(state, "+447700900633") == (200, {"customer": "+44 77•• •••633", "erased": {}, "items": 0})
    log = "".join(wait_until(lambda: [line for line in output[lines:] if "/api/customers/" in line], 10))
    assert re.search(r'"method":\s*"DELETE"', log) and re.search(r'"path":\s*"/api/customers/<redacted>"', log)
    assert "447700900633" not in log
    assert "447700900633" not in "".join(output)


def test_a_case_that_promises_no_call_back_keeps_no_full_number(stack):
    state, _ = stack
    status, _ = send_twilio(state, "+447700900008", "L8 it's far too hot on this bus", CAROL)
    assert status == 200
    wait_until(lambda: [c for c in stack_api(state, "/api/cases")["items"] if c["customer"]])
    idle(state)
    [case] = [c for c in stack_api(state, "/api/cases")["items"]]
    assert case["urgency"] == "normal"
    assert but_the_way_back([i for i in items(state) if CAROL in i]) == []  # masked on the case, gone from the message


def test_a_call_back_case_forgets_the_number_once_resolved_over_http(stack):
    state, _ = stack
    dave = "+447700900644"
    status, _ = send_twilio(state, "+447700900008", URGENT, dave)
    assert status == 200
    [case] = wait_until(lambda: [c for c in stack_api(state, "/api/cases")["items"] if c["urgency"] == "high"
                                 and c["alerts"] and {a["status"] for a in c["alerts"]} == {"sent"}])
    assert [i for i in items(state) if dave in i]  # kept for the call-back while the case is open
    request = urllib.request.Request(f"{state['api_url']}/api/cases/{case['id']}/resolve", data=b"{}", method="POST",
                                     headers={"Authorization": f"Bearer {state['operator_token']}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as res:
        assert res.status == 200
    assert but_the_way_back([i for i in items(state) if dave in i]) == []


def test_stop_and_start_over_http_are_confirmed_once_and_erased_with_the_markers_that_kept_them_once(stack):
    """STOP, the same STOP delivered again, START: one confirmation each; the consent item keeps the changes,
    each message leaves a marker; erasure takes both and a replay of the STOP then changes nothing."""
    state, _ = stack
    dave = "+447700900644"

    def text(body, sid):
        status, answer = send_twilio(state, "+447700900008", body, dave, sid=sid)
        assert status == 200
        message = ElementTree.fromstring(answer).find("Message")
        return message.text if message is not None else ""

    assert text("STOP", "SM" + "f1" * 16)  # confirmed
    assert text("STOP", "SM" + "f1" * 16) == ""  # the same message again: nothing changes, nothing said
    assert text("START", "SM" + "f2" * 16)  # confirmed
    idle(state)
    status, answer = erase(state, dave)
    assert status == 200 and answer["erased"]["consent"] == 1 and answer["erased"]["consentmsg"] == 2
    assert text("STOP", "SM" + "f1" * 16) == ""  # a replay of an erased message
    idle(state)
    assert not [i for i in items(state) if '"CONSENT' in i]
