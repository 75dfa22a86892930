"""The acknowledge page on its own (chalicelib.ack_page), with a case looked up in a dict: no AWS.

The same page through the API and the e-mail it comes from: tests/test_closing_the_loop.py.
"""

from __future__ import annotations

from datetime import timedelta

from chalicelib import links
from chalicelib.ack_page import HEADERS, AckPage
from chalicelib.clock import utcnow
from chalicelib.errors import Conflict

KEY = b"test-link-key"
CASE = {"id": "CASE1", "code": "4821", "status": "open", "nature": "complaint", "topic": "staff",
        "text": "the idiot at the till <b>shoved</b> me", "recipients": {"r1": {"to": "boss@example.com"}}}


def ack_page(cases, acted):
    def act(case_id, action, *, by):
        if cases[case_id]["status"] != "open":
            raise Conflict(cases[case_id]["status"])
        acted.append((case_id, action, by))
        cases[case_id] = {**cases[case_id], "status": action}

    return AckPage(link_key=KEY, find_case=cases.get, acknowledge=act, forbidden_words=["idiot"])


def test_the_page_shows_the_case_masked_and_escaped_with_a_button_and_acknowledges_nothing():
    acted = []
    token = links.sign(KEY, "CASE1", "r1")
    page = ack_page({"CASE1": dict(CASE)}, acted).show(token)
    assert page.status == 200 and page.headers == HEADERS and acted == []
    assert "Case 4821" in page.body and "i**** at the till &lt;b&gt;shoved&lt;/b&gt; me" in page.body
    assert f'<form method="post" action="{token}">' in page.body and "idiot" not in page.body


def test_posting_acknowledges_in_the_recipients_name_once():
    acted, cases = [], {"CASE1": dict(CASE)}
    token = links.sign(KEY, "CASE1", "r1")
    done = ack_page(cases, acted).acknowledge(token)
    assert done.status == 200 and "Acknowledged" in done.body
    assert acted == [("CASE1", "acknowledged", "e-mail link (boss@example.com)")]
    again = ack_page(cases, acted).acknowledge(token)
    assert again.status == 409 and "already acknowledged" in again.body and len(acted) == 1
    shown = ack_page(cases, acted).show(token)
    assert shown.status == 200 and "already acknowledged" in shown.body and "<form" not in shown.body


def test_bad_expired_and_orphan_links_are_refused_with_their_own_status():
    acted, cases = [], {"CASE1": dict(CASE)}
    expired = links.sign(KEY, "CASE1", "r1", now=utcnow() - timedelta(days=8))
    refusals = {links.sign(b"another key", "CASE1", "r1"): 403, "nonsense": 403, expired: 410,
                links.sign(KEY, "GONE", "r1"): 404}
    for token, status in refusals.items():
        for answer in (ack_page(cases, acted).show(token), ack_page(cases, acted).acknowledge(token)):
            assert answer.status == status and "<form" not in answer.body, token
    assert acted == [] and cases["CASE1"]["status"] == "open"
