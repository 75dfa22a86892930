"""WhatsApp on `make run` for real (issue 24), over HTTP: a WhatsApp message posted to the signed Twilio webhook as
Twilio posts it is classified, answered in TwiML, alerted and listed with its channel; a staff reply goes back by
the local Twilio stand-in on WhatsApp, as free text inside the 24-hour window, as the approved template outside
it, or is refused with a clear 409 when no template fits the customer's language; a photo alone is asked for
words; a redelivered webhook is answered the same and stores nothing new."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import boto3
import pytest

from infra.simulate import send_whatsapp
from tests.conftest import running_stack, stack_api, stack_call, wait_until

pytestmark = pytest.mark.stack

LINE_8, LINE_12, DRIVER = "+447700900008", "+33639980012", "+447700900801"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("whatsapp")) as (state, output):
        yield state


def answer(twiml):
    found = ElementTree.fromstring(twiml).find("Message")
    return None if found is None else found.text


def mine(case, customer):
    return re.sub(r"\D", "", case["customer"]).endswith(customer[-3:])  # "+33 6 •• •• •6 59"


def case_of(state, customer):
    return wait_until(lambda: next((c for c in stack_api(state, "/api/cases")["items"] if mine(c, customer)), None),
                      seconds=60)


def outbox(state):
    with urllib.request.urlopen(state["dashboard_url"] + "/outbox.json", timeout=10) as res:
        return json.loads(res.read())["items"]


def sent_by_standin(state):
    """What the Twilio stand-in was asked to send since the last call."""
    with urllib.request.urlopen(state["twilio_api_url"] + "/local/replies", timeout=10) as res:
        return json.loads(res.read())["items"]


def delivered(state, case_id, reply_id):
    return wait_until(lambda: next((m for m in stack_api(state, f"/api/cases/{case_id}")["conversation"]
                                    if m["id"] == reply_id and m["status"] == "delivered"), None), seconds=30)


def customer_wrote_long_ago(state, case_id, days=2):
    """The case's customer last wrote ``days`` ago (WhatsApp's window closed)."""
    db = boto3.client("dynamodb", endpoint_url=state["moto_endpoint"], region_name="eu-west-2",
                      aws_access_key_id="local", aws_secret_access_key="local")
    then = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    db.update_item(TableName="voix-dev", Key={"pk": {"S": f"CASE#{case_id}"}, "sk": {"S": "CASE"}},
                   UpdateExpression="SET received_at = :t", ExpressionAttributeValues={":t": {"S": then}})


def test_a_whatsapp_message_is_answered_alerted_and_listed_with_its_channel_once_however_often_delivered(stack):
    customer, sid = "+447700900651", "SM" + "5" * 32
    status, twiml = send_whatsapp(stack, LINE_8, "L8 there's a fight at the back of the coach", customer, sid=sid)
    assert status == 200 and "danger" in answer(twiml)
    case = case_of(stack, customer)
    assert case["urgency"] == "high" and case["site"] == "line-8"
    alert = wait_until(lambda: next((i for i in outbox(stack) if i["kind"] == "sms" and i["to"] == DRIVER
                                     and (i.get("case") or {}).get("id") == case["id"]), None), seconds=60)
    assert f"OK {case['code']}" in alert["text"]
    [listed] = [m for m in stack_api(stack, "/api/feedback?site=line-8")["items"] if m["id"] == f"whatsapp-{sid}"]
    assert listed["channel"] == "whatsapp" and customer not in json.dumps(listed)
    assert stack_api(stack, "/api/config")["channels"]["whatsapp"] == "WhatsApp"
    wait_until(lambda: (stack_api(stack, "/api/metrics?channel=whatsapp")["totals"]["channel"] or {}).get(
        "whatsapp", 0) >= 1, seconds=30)  # counted by channel once the worker is done
    # Twilio delivers it again: the same answer, nothing new stored, cased or alerted
    assert send_whatsapp(stack, LINE_8, "L8 there's a fight at the back of the coach", customer, sid=sid) == (
        200, twiml)
    assert sum(m["id"] == f"whatsapp-{sid}" for m in stack_api(stack, "/api/feedback?site=line-8")["items"]) == 1
    assert [c["id"] for c in stack_api(stack, "/api/cases")["items"] if mine(c, customer)] == [
        case["id"]]


def test_a_staff_reply_inside_the_window_goes_back_on_whatsapp_as_free_text(stack):
    customer = "+447700900652"
    assert send_whatsapp(stack, LINE_8, "L8 a man is threatening passengers, please help", customer)[0] == 200
    case = case_of(stack, customer)
    sent_by_standin(stack)  # forget earlier sends
    status, queued = stack_call(stack, "POST", f"/api/cases/{case['id']}/reply",
                                {"text": "Police are on their way. Which row are you in?", "by": "Aline Martin"})
    assert status == 202
    delivered(stack, case["id"], queued["id"])  # sent, delivered, then read: read is delivered, never backwards
    [sent] = sent_by_standin(stack)
    assert (sent["to"], sent["from"], sent["body"]) == (
        f"whatsapp:{customer}", f"whatsapp:{LINE_8}", "Police are on their way. Which row are you in?")


def test_outside_the_window_english_goes_as_the_template_and_french_is_refused_saying_why(stack):
    english, french = "+447700900653", "+33639980659"
    assert send_whatsapp(stack, LINE_8, "L8 smoke coming from the engine, I'm scared", english)[0] == 200
    assert send_whatsapp(stack, LINE_12, "L12 il y a de la fumée qui sort du moteur, j'ai peur", french)[0] == 200
    en_case, fr_case = case_of(stack, english), case_of(stack, french)
    customer_wrote_long_ago(stack, en_case["id"])
    customer_wrote_long_ago(stack, fr_case["id"])
    sent_by_standin(stack)
    status, queued = stack_call(stack, "POST", f"/api/cases/{en_case['id']}/reply",
                                {"text": "Sorry, we stopped the coach", "by": "Sam"})
    assert status == 202
    delivered(stack, en_case["id"], queued["id"])
    [sent] = sent_by_standin(stack)
    assert sent["to"] == f"whatsapp:{english}"
    assert sent["body"] == "[template HX00000000000000000000000000000001] line 8 | Sorry, we stopped the coach"
    status, refused = stack_call(stack, "POST", f"/api/cases/{fr_case['id']}/reply", {"text": "Désolé", "by": "Sam"})
    assert status == 409
    assert refused["error"] == ("WhatsApp's 24-hour window closed (the customer last wrote 2 days ago) and no "
                                "approved template exists for fr: nothing can be sent until they write again")
    assert [m["direction"] for m in stack_api(stack, f"/api/cases/{fr_case['id']}")["conversation"]] == ["in"]


def test_a_photo_alone_is_asked_for_words_once_with_no_case_and_a_redelivery_stores_nothing_new(stack):
    customer, sid = "+447700900654", "MM" + "6" * 32
    first = send_whatsapp(stack, LINE_8, "", customer, sid=sid, media="image/jpeg")
    assert first[0] == 200 and "in words" in answer(first[1])
    assert send_whatsapp(stack, LINE_8, "", customer, sid=sid, media="image/jpeg") == first
    stored = wait_until(lambda: [m for m in stack_api(stack, "/api/feedback?site=line-8")["items"]
                                 if m["id"] == f"whatsapp-{sid}"], seconds=30)
    assert len(stored) == 1 and stored[0]["channel"] == "whatsapp" and stored[0]["nature"] == "unclear"
    wait_until(lambda: stack_api(stack, "/api/status")["queues"]["jobs"]["waiting"] == 0, seconds=30)
    assert not [c for c in stack_api(stack, "/api/cases")["items"] if mine(c, customer)]
