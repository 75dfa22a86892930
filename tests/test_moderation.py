"""Forbidden words are masked in the API, the cases and the CSV export; the original is kept for audit."""

from __future__ import annotations

import pytest

from chalicelib.moderation import mask
from tests.conftest import auth, drain, post_sms, table_items, twilio_params

WORDS = ("idiot*", "crap", "rivalbus", "connard*")


@pytest.mark.parametrize("text,expected", [
    ("the driver is an idiot", "the driver is an i****"),
    ("IDIOTS, all of you", "I*****, all of you"),
    ("what a crap service", "what a c*** service"),
    ("crappy seats", "crappy seats"),  # whole words only, unless the word ends in *
    ("I will take RivalBus next time", "I will take R******* next time"),
    ("quel connard ce conducteur", "quel c****** ce conducteur"),
    ("Connârd!", "C******!"),  # accents do not hide a word
    ("nothing to hide", "nothing to hide"),
    (None, None),
])
def test_mask(text, expected):
    assert mask(text, WORDS) == expected


def test_masked_in_feed_cases_and_export_kept_for_audit(client):
    post_sms(client, twilio_params("L8 the driver is an idiot and it is far too hot"))
    drain()
    [feed] = client.http.get("/api/feedback", headers=auth()).json_body["items"]
    assert "idiot" not in feed["text"] and "i****" in feed["text"]
    [case] = client.http.get("/api/cases?status=open", headers=auth()).json_body["items"]
    assert "idiot" not in case["text"]
    csv_text = client.http.get("/api/export.csv", headers=auth()).body.decode()
    assert "idiot" not in csv_text and "i****" in csv_text
    [stored] = table_items("MSG#")
    assert "idiot" in stored["text"]  # the original, for audit
    path = f"/api/audit/messages/{stored['id']}"
    assert client.http.get(path, headers=auth()).status_code == 403  # the operator token is not enough
    assert client.http.get(path, headers={**auth(), "X-Audit-Token": "wrong"}).status_code == 403
    audited = client.http.get(path, headers={**auth(), "X-Audit-Token": "test-audit"}).json_body
    assert "idiot" in audited["text"] and "i****" in audited["masked_text"]
    assert client.http.get("/api/audit/messages/twilio-SMnope", headers={
        **auth(), "X-Audit-Token": "test-audit"}).status_code == 404
    assert client.http.get(path, headers={"X-Audit-Token": "test-audit"}).status_code == 401
