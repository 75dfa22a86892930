"""Replies: in the customer's language, saying what happens next, one SMS segment each."""

from __future__ import annotations

import itertools

import pytest

from chalicelib.classification import Classification
from chalicelib.config_loader import load_config
from chalicelib.configuration import LANGUAGES, NATURES
from chalicelib.replies import build_reply, offer_code, render
from chalicelib.sms_segments import fit, is_gsm7, segments

CONFIG = load_config()
SECRET = b"test"


@pytest.mark.parametrize("site", [None, *(s.id for s in CONFIG.sites)])
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_configured_reply_fits_one_gsm7_segment_for_every_site(site, language):
    place = CONFIG.site(site)
    for rule in CONFIG.replies.replies:
        if rule.when.site_known is not None and rule.when.site_known != (place is not None):
            continue
        if rule.when.kind is not None and (place is None or place.kind not in rule.when.kind):
            continue
        text = render(CONFIG, rule, place, language, offer_code("m", SECRET) if rule.offer else None)
        assert "{" not in text and "}" not in text, text
        assert is_gsm7(text), (rule.name, text)
        assert segments(text) == 1, (rule.name, len(text), text)


def test_every_combination_gets_a_reply_in_its_language_within_three_segments():
    for site, nature, topic, urgency, reason, language in itertools.product(
        [None, *(s.id for s in CONFIG.sites)], NATURES, CONFIG.topics, ["normal", "high"], [None, "churn", "safety"],
        LANGUAGES,
    ):
        if (urgency == "high") != (reason is not None):
            continue
        c = Classification(site, topic, nature, urgency, language, [], reason)
        reply = build_reply(CONFIG, c, "twilio-SM1", SECRET)
        assert segments(reply.text) <= 3 and reply.text


def test_a_store_churn_risk_promises_a_call_back_with_timing_and_an_offer():
    c = Classification("store-leeds", "waiting", "complaint", "high", "en", [], "churn")
    reply = build_reply(CONFIG, c, "twilio-SM2", SECRET)
    assert "store manager will call you within 10 minutes" in reply.text
    assert reply.offer_code and reply.offer_code in reply.text
    assert build_reply(CONFIG, c, "twilio-SM2", SECRET).offer_code == reply.offer_code
    assert build_reply(CONFIG, c, "twilio-SM3", SECRET).offer_code != reply.offer_code


def test_french_customers_are_answered_in_french():
    c = Classification("line-12", "comfort", "complaint", "normal", "fr", [])
    assert build_reply(CONFIG, c, "x", SECRET).text.startswith("Merci de nous l'avoir signalé")


def test_segment_accounting():
    assert segments("a" * 160) == 1 and segments("a" * 161) == 2
    assert segments("é" * 160) == 1  # é is GSM-7
    assert segments("ê" * 70) == 1 and segments("ê" * 71) == 2  # ê is not
    assert segments("€" * 80) == 1 and segments("€" * 81) == 2  # extension table: two units
    text = fit("HEAD ", "x" * 1000, " TAIL", 3)
    assert segments(text) == 3 and text.startswith("HEAD ") and text.endswith(" TAIL")
