"""The conversation's pure rules (issue 21): the record's shape and the order a delivery status moves in."""

from __future__ import annotations

import pytest

from chalicelib.conversations import ConversationMessage, moves_forward


def test_a_status_moves_forward_only_and_the_first_final_one_wins():
    assert moves_forward(None, "queued") and moves_forward("queued", "sent") and moves_forward("sent", "delivered")
    assert moves_forward("queued", "undelivered")  # a carrier may skip "sent"
    assert not moves_forward("delivered", "sent")  # Twilio's late "sent" after "delivered"
    assert not moves_forward("delivered", "delivered")  # a duplicate callback
    assert not moves_forward("delivered", "failed") and not moves_forward("undelivered", "delivered")
    with pytest.raises(ValueError):
        moves_forward("queued", "read-by-aliens")


def message(**changes):
    fields = {"case_id": "C1", "id": "m1", "direction": "out", "at": "2026-12-01T10:00:00Z", "text": "Sorry",
              "channel": "twilio", "status": "queued", "customer_key": "k", "author": "Sam", "provider_id": "SM1"}
    return ConversationMessage(**{**fields, **changes})


def test_an_inbound_message_is_received_and_an_outbound_one_never_is():
    assert message(direction="in", status="received", author=None).status == "received"
    with pytest.raises(ValueError):
        message(direction="in", status="queued")
    with pytest.raises(ValueError):
        message(direction="out", status="received")
    with pytest.raises(ValueError):
        message(direction="sideways")


def test_what_the_api_shows_of_a_message_has_no_key_and_no_carrier_id():
    shown = message().with_status("delivered", "2026-12-01T10:00:03Z").public()
    assert shown["status"] == "delivered" and shown["author"] == "Sam" and shown["status_at"] == "2026-12-01T10:00:03Z"
    assert not {"customer_key", "provider_id", "case_id", "expires_at"} & set(shown)
