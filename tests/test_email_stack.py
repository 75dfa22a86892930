"""E-mail on `make run` for real (issue 24), over HTTP and SNS: mails stored in the inbound bucket and notified on
the inbound e-mail topic as SES receiving does (``infra.simulate.send_email``), replies read from moto's SES
(``/moto-api/data.json``) as raw mails.

A mail to a site's address is classified, answered in its thread, alerted and listed with its channel and the
sender masked; a staff reply from the dashboard's API goes by mail in the same thread; a redelivered notification
stores nothing new; an auto-responder answering Voix's reply gets no answer (the loop stops after one message);
a mail failing DMARC is stored, never answered nor alerted; erasure by address leaves nothing of the customer.
"""

from __future__ import annotations

import json
import urllib.request
from email import message_from_string, policy

import pytest

from infra.simulate import send_email
from tests.conftest import running_stack, stack_api, stack_call, wait_until

pytestmark = pytest.mark.stack

LEEDS = "leeds@feedback.voix.example"
ANN, BOT, SPOOF = "ann.smith@gmail.com", "away@corp.example.org", "ceo@bank.example.com"
COMPLAINT = "The fitting rooms were filthy and the staff were rude, I will not come back"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("email")) as (state, output):
        yield state, output


def moto_data(state):
    with urllib.request.urlopen(state["moto_endpoint"] + "/moto-api/data.json", timeout=10) as res:
        return json.loads(res.read())


def mails_to(state, address):
    """The raw mails moto's SES took for ``address`` (replies), parsed, oldest first."""
    return [message_from_string(m["raw_data"], policy=policy.default)
            for m in moto_data(state)["ses"].get("RawMessage", []) if any(address in d for d in m["destinations"])]


def feedback(state, site="store-leeds"):
    return stack_api(state, f"/api/feedback?site={site}")["items"]


def test_a_mail_is_answered_in_its_thread_alerted_listed_and_a_staff_reply_follows_in_the_thread(stack):
    state, output = stack
    for _ in range(2):  # SNS delivers the notification twice: one message, one reply
        send_email(state, LEEDS, "Visit on Saturday", COMPLAINT, "Ann Smith <Ann.Smith@gmail.com>",
                   ses_id="0001ann", message_id="<visit-1@mail.gmail.com>")
    [reply] = wait_until(lambda: mails_to(state, ANN), seconds=30)
    assert reply["In-Reply-To"] == "<visit-1@mail.gmail.com>" and reply["Subject"] == "Re: Visit on Saturday"
    assert reply["From"] == LEEDS and reply["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    case = wait_until(lambda: next((c for c in stack_api(state, "/api/cases")["items"]
                                    if c["customer"] == "a•••@gmail.com"), None), seconds=30)
    assert case["site"] == "store-leeds"
    alerted = wait_until(lambda: [m for m in moto_data(state)["ses"].get("Message", []) if case["code"] in
                                  json.dumps(m)], seconds=30)
    assert alerted  # an urgent case's alert names the customer's address for staff to write back, as a number
    [listed] = [m for m in feedback(state) if m["id"] == "email-0001ann"]
    assert listed["channel"] == "email" and listed["from"] == "a•••@gmail.com" and listed["nature"] == "complaint"
    status, queued = stack_call(state, "POST", f"/api/cases/{case['id']}/reply",
                                {"text": "We are so sorry. The rooms are being cleaned now.", "by": "Priya"})
    assert status == 202, queued
    first, staff = wait_until(lambda: (found := mails_to(state, ANN)) and len(found) == 2 and found, seconds=30)
    assert staff["In-Reply-To"] == "<visit-1@mail.gmail.com>" and staff["Subject"] == "Re: Visit on Saturday"
    assert "being cleaned" in staff.get_body(("plain",)).get_content() and staff["Auto-Submitted"] is None
    sent = wait_until(lambda: next((m for m in stack_api(state, f"/api/cases/{case['id']}")["conversation"]
                                    if m["id"] == queued["id"] and m["status"] == "sent"), None), seconds=30)
    assert sent["channel"] == "email"
    outbox = json.loads(urllib.request.urlopen(state["dashboard_url"] + "/outbox.json", timeout=10).read())["items"]
    threaded = [i for i in outbox if i["kind"] == "reply" and i.get("thread") == "<visit-1@mail.gmail.com>"]
    assert len(threaded) == 2 and all(i["to"] == "a•••@gmail.com" for i in threaded)
    for path in ("/api/feedback?site=store-leeds", f"/api/cases/{case['id']}", "/api/cases"):
        assert ANN not in json.dumps(stack_api(state, path))
    assert len([m for m in feedback(state) if m["id"] == "email-0001ann"]) == 1
    assert not any(ANN in line for line in output)  # no log line holds the address


def test_an_auto_responder_answering_the_reply_gets_no_answer_the_loop_stops_after_one(stack):
    state, _ = stack
    send_email(state, LEEDS, "Opening hours", "When do you open on Sundays?", BOT, ses_id="0002bot",
               message_id="<q-1@corp.example.org>", inline=True)  # a small mail in the notification itself
    [ours] = wait_until(lambda: mails_to(state, BOT), seconds=30)
    # the customer's mailbox answers it automatically, as an auto-responder does
    send_email(state, LEEDS, f"Automatic reply: {ours['Subject']}", "I am away until Monday.", BOT,
               ses_id="0002botauto", in_reply_to=ours["Message-ID"], headers={"Auto-Submitted": "auto-replied"})
    stored = wait_until(lambda: next((m for m in feedback(state) if m["id"] == "email-0002botauto"
                                      and m["processed"]), None), seconds=30)
    assert stored["withheld"].startswith("automatic:") and not stored["reply"] and stored["case_id"] is None
    assert len(mails_to(state, BOT)) == 1  # Voix answered the question once, never the auto-replies


def test_a_mail_failing_dmarc_is_stored_never_answered_nor_alerted(stack):
    state, _ = stack
    send_email(state, LEEDS, "Urgent", "A man is threatening staff with a knife, call the police", SPOOF,
               ses_id="0003spoof", verdicts={"dmarc": "FAIL"})
    stored = wait_until(lambda: next((m for m in feedback(state) if m["id"] == "email-0003spoof" and m["processed"]),
                                     None), seconds=30)
    assert stored["withheld"] == "suspect:dmarc" and stored["case_id"] is None and not stored["reply"]
    assert mails_to(state, SPOOF) == []
    assert not [c for c in stack_api(state, "/api/cases")["items"] if c["customer"] == "c•••@bank.example.com"]


def test_the_dashboard_filters_mail_by_its_channel_and_marks_what_was_withheld(stack, browser):
    from tests.conftest import browser_page

    state, _ = stack
    with browser_page(browser) as page:
        page.goto(state["dashboard_url"] + "/?period=today")
        page.fill("#token", state["operator_token"])
        page.click("#signin-form button[type=submit]")
        page.wait_for_selector("body[data-loaded]", timeout=15_000)
        assert "E-mail" in page.locator("#channels .bar-label").all_inner_texts()
        page.select_option("#f-channel", "email")
        page.wait_for_selector("body[data-view*='channel=email']")
        spoofed = page.locator("#feed li", has_text="c•••@bank.example.com")
        spoofed.first.wait_for()
        assert spoofed.first.locator(".badge.withheld").inner_text() == "suspect (DMARC failed)"
        assert set(page.locator("#feed li .badge.channel").all_inner_texts()) == {"E-mail"}
        assert "ann.smith@gmail.com" not in page.content() and page.errors == []


def test_erasure_by_address_leaves_nothing_of_the_customer(stack):
    state, _ = stack
    assert [m for m in feedback(state) if m["from"] == "a•••@gmail.com"]
    status, erased = stack_call(state, "DELETE", "/api/customers/ann.smith%40gmail.com")
    assert status == 200 and erased["customer"] == "a•••@gmail.com" and erased["items"] > 0
    assert not [m for m in feedback(state) if m["from"] == "a•••@gmail.com"]
    assert not [c for c in stack_api(state, "/api/cases")["items"] if c["customer"] == "a•••@gmail.com"]


def test_make_simulate_sends_e_mails_as_ses_does(stack):
    from infra.simulate import send_demo

    state, _ = stack
    before = {m["id"] for m in stack_api(state, "/api/feedback?limit=200")["items"] if m["channel"] == "email"}
    assert send_demo(state, 3, email_share=1.0, seed=3) == 3
    wait_until(lambda: len({m["id"] for m in stack_api(state, "/api/feedback?limit=200")["items"]
                            if m["channel"] == "email"} - before) >= 2, seconds=30)
