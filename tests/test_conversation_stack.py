"""Two-way conversations on `make run` for real (issue 21), over HTTP: an urgent case, a staff reply sent through
the local Twilio stand-in, its signed delivery callbacks, the customer's answer in the same case, a number
whose phone is off (undelivered), and a STOP then a refused reply."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from infra.simulate import answer_replies, send_twilio
from infra.twilio_standin import FAILING_NUMBER
from tests.conftest import running_stack, stack_api, stack_call, wait_until

pytestmark = pytest.mark.stack

LINE_8, CUSTOMER, DRIVER = "+447700900008", "+447700900642", "+447700900801"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("conversation")) as (state, output):
        yield state


def post(state, path, body):
    return stack_call(state, "POST", path, body)


def urgent_case(state, customer, text="L8 the driver is drunk and swerving, I'm scared"):
    assert send_twilio(state, LINE_8, text, customer)[0] == 200
    masked = customer[-3:]
    return wait_until(lambda: next((c for c in stack_api(state, "/api/cases")["items"]
                                    if c["urgency"] == "high" and c["customer"].endswith(masked)), None), seconds=60)


def conversation(state, case_id):
    return stack_api(state, f"/api/cases/{case_id}")["conversation"]


def test_a_manager_texts_the_customer_sees_it_delivered_and_reads_the_answer_in_the_same_case(stack):
    case = urgent_case(stack, CUSTOMER)
    status, queued = post(stack, f"/api/cases/{case['id']}/reply",
                          {"text": "Sorry, I'm stopping the coach now. Which row are you in?", "by": "Aline Martin"})
    assert status == 202 and (queued["status"], queued["segments"], queued["encoding"]) == ("queued", 1, "GSM-7")
    # the worker sends it through the stand-in of Twilio's Messages API, which posts signed callbacks back
    mine = wait_until(lambda: next((m for m in conversation(stack, case["id"])
                                    if m["id"] == queued["id"] and m["status"] == "delivered"), None), seconds=30)
    assert mine["author"] == "Aline Martin" and mine["direction"] == "out" and mine["error"] is None
    outbox = json.loads(urllib.request.urlopen(stack["dashboard_url"] + "/outbox.json", timeout=10).read())["items"]
    [sent] = [i for i in outbox if i["kind"] == "reply" and i["text"].startswith("Sorry, I'm stopping")]
    assert sent["case"]["id"] == case["id"] and CUSTOMER not in json.dumps(sent)  # masked, with its case
    assert send_twilio(stack, LINE_8, "Row 12, thank you for stopping", CUSTOMER)[0] == 200
    answer = wait_until(lambda: next((m for m in conversation(stack, case["id"])
                                      if m["text"] == "Row 12, thank you for stopping"), None), seconds=30)
    assert answer["direction"] == "in" and answer["author"] is None and answer["status"] == "received"
    assert [m["direction"] for m in conversation(stack, case["id"])] == ["in", "out", "in"]
    mine_only = [c for c in stack_api(stack, "/api/cases")["items"] if c["customer"].endswith(CUSTOMER[-3:])]
    assert [c["id"] for c in mine_only] == [case["id"]]  # the answer opened no case of its own
    feed = stack_api(stack, "/api/feedback?site=line-8")["items"]
    assert sum(m["text"] == "Row 12, thank you for stopping" for m in feed) == 1  # stored and counted once
    shown = stack_api(stack, f"/api/cases/{case['id']}")
    assert CUSTOMER not in json.dumps(shown)
    assert shown["first_reply_at"] >= case["created_at"] and shown["reopen_count"] == 0
    # resolved, then the customer writes again within the window: the same case, reopened
    assert post(stack, f"/api/cases/{case['id']}/resolve", {"by": "Aline Martin"})[0] == 200
    assert send_twilio(stack, LINE_8, "He has started drinking again", CUSTOMER)[0] == 200
    reopened = wait_until(lambda: (c := stack_api(stack, f"/api/cases/{case['id']}"))["status"] == "open" and c,
                          seconds=30)
    assert reopened["reopen_count"] == 1 and reopened["reopened_at"] and reopened["resolved_at"] is None
    assert [m["direction"] for m in reopened["conversation"]] == ["in", "out", "in", "in"]


def test_a_reply_to_a_phone_that_is_off_says_undelivered_with_the_carrier_s_error(stack):
    case = urgent_case(stack, FAILING_NUMBER, "L8 a man is threatening passengers, please help")
    status, queued = post(stack, f"/api/cases/{case['id']}/reply", {"text": "Police are on their way", "by": "Sam"})
    assert status == 202
    failed = wait_until(lambda: next((m for m in conversation(stack, case["id"])
                                      if m["id"] == queued["id"] and m["status"] == "undelivered"), None), seconds=30)
    assert failed["error"] == "30003 Unreachable destination handset"


def test_after_a_stop_a_reply_is_refused_and_nothing_is_sent(stack):
    customer = "+447700900643"
    case = urgent_case(stack, customer)
    assert send_twilio(stack, LINE_8, "STOP", customer)[0] == 200
    status, body = post(stack, f"/api/cases/{case['id']}/reply", {"text": "Sorry", "by": "Sam"})
    assert (status, body) == (409, {"error": "the customer opted out (STOP): no reply is sent"})
    assert [m["direction"] for m in conversation(stack, case["id"])] == ["in"]


def test_make_simulate_s_customers_answer_the_staff_replies_once_each(stack):
    customer = "+447700900644"
    case = urgent_case(stack, customer, "L8 smoke coming from the engine, I'm scared")
    status, queued = post(stack, f"/api/cases/{case['id']}/reply", {"text": "Stopping now, stay calm", "by": "Sam"})
    assert status == 202
    wait_until(lambda: any(m["id"] == queued["id"] and m["status"] == "delivered"
                           for m in conversation(stack, case["id"])), seconds=30)
    assert answer_replies(stack) >= 1
    assert answer_replies(stack) == 0  # each reply is answered once
    wait_until(lambda: [m["direction"] for m in conversation(stack, case["id"])] == ["in", "out", "in"], seconds=30)


def test_the_driver_answers_the_customer_by_texting_r_and_the_case_code(stack):
    customer = "+447700900645"
    case = urgent_case(stack, customer, "L8 there's a fight at the back of the coach")
    assert case["code"], "an urgent case has a short code for staff SMS"
    # the alert the driver received says how to answer
    alert = wait_until(lambda: next((i for i in json.loads(urllib.request.urlopen(
        stack["dashboard_url"] + "/outbox.json", timeout=10).read())["items"]
        if i["kind"] == "sms" and f"R {case['code']} + text to answer" in (i.get("text") or "")), None), seconds=60)
    assert alert["to"] == DRIVER
    status, twiml = send_twilio(stack, LINE_8, f"R {case['code']} Sorry, I'm coming to your seat", DRIVER)
    assert status == 200 and f"sent to the customer of case {case['code']}" in twiml
    assert customer not in twiml and customer[1:] not in twiml  # staff never see the customer's number here
    relayed = wait_until(lambda: next((m for m in conversation(stack, case["id"])
                                       if m["direction"] == "out" and m["status"] == "delivered"), None), seconds=30)
    assert relayed["text"] == "Sorry, I'm coming to your seat"
    assert relayed["author"] == "Driver, Coach line 8 Leeds–London (by SMS)"
    sent = wait_until(lambda: next((i for i in json.loads(urllib.request.urlopen(
        stack["dashboard_url"] + "/outbox.json", timeout=10).read())["items"]
        if i["kind"] == "reply" and i["text"] == "Sorry, I'm coming to your seat"), None), seconds=30)
    assert DRIVER not in json.dumps(sent)  # the customer gets it from the site's number, never the driver's
    status, twiml = send_twilio(stack, LINE_8, "R 0000 hello", DRIVER)
    assert status == 200 and "no case 0000" in twiml
