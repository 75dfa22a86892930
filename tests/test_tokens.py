"""The one signed-token scheme (chalicelib.tokens) and its two uses: access tokens and acknowledge links."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import access, links, tokens

KEY = b"k" * 32
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
LATER = int((NOW + timedelta(hours=1)).timestamp())


def claims_of(token: str) -> dict:
    payload = token.split(".")[-2]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_a_token_carries_its_claims_and_expiry_until_it_expires():
    token = tokens.sign(KEY, {"c": "CASE1", "r": "r1"}, LATER)
    assert tokens.verify(KEY, token, NOW) == {"c": "CASE1", "r": "r1", "e": LATER}
    assert tokens.verify(KEY, token, datetime.fromtimestamp(LATER - 1, UTC))["c"] == "CASE1"
    for at_or_after in (LATER, LATER + 1, LATER + 86400):
        with pytest.raises(tokens.ExpiredToken):
            tokens.verify(KEY, token, datetime.fromtimestamp(at_or_after, UTC))


def test_the_payload_is_unpadded_base64url_json_and_the_signature_43_characters():
    token = tokens.sign(KEY, {"l": "wall ~~~ screen ???"}, LATER)
    payload, signature = token.split(".")
    assert "=" not in token and "+" not in token and "/" not in token
    assert len(signature) == 43 and claims_of(token) == {"l": "wall ~~~ screen ???", "e": LATER}


def test_any_changed_byte_another_key_or_a_bad_shape_is_refused():
    token = tokens.sign(KEY, {"c": "CASE1"}, LATER)
    payload, signature = token.split(".")
    forged_payload = tokens.b64url(json.dumps({"c": "CASE2", "e": LATER}).encode())
    bad = [f"{payload[:-1]}{'A' if payload[-1] != 'A' else 'B'}.{signature}", f"{payload}.{signature[::-1]}",
           f"{forged_payload}.{signature}", tokens.sign(b"another key", {"c": "CASE1"}, LATER),
           "nonsense", "", f"{payload}.{signature}.x", f"{'a' * 401}.{signature}", None]
    for token in bad:
        with pytest.raises(tokens.BadToken):
            tokens.verify(KEY, token, NOW)


def test_a_signed_token_without_an_expiry_is_refused_and_e_is_reserved():
    payload = tokens.b64url(b'{"c":"CASE1"}')
    unsigned_expiry = f"{payload}.{tokens._signature(KEY, payload)}"
    with pytest.raises(tokens.BadToken):
        tokens.verify(KEY, unsigned_expiry, NOW)
    with pytest.raises(ValueError):
        tokens.sign(KEY, {"e": 1}, LATER)


def test_access_tokens_and_acknowledge_links_use_it_with_keys_that_never_cross():
    access_token, expires = access.mint(KEY, "viewer", timedelta(hours=1), NOW, "wall")
    link = links.sign(KEY, "CASE1", "r1", now=NOW)
    assert access_token.startswith("vx1.") and claims_of(access_token) == {"r": "viewer", "l": "wall", "e": expires}
    assert access.verify(KEY, access_token, NOW) == access.Grant("viewer", expires, "wall")
    assert links.verify(KEY, link, NOW) == links.AckLink("CASE1", "r1", "acknowledged",
                                                         int((NOW + timedelta(days=7)).timestamp()))
    with pytest.raises(access.Refused):
        access.verify(KEY, "vx1." + link, NOW)
    with pytest.raises(links.BadLink):
        links.verify(KEY, access_token.removeprefix("vx1."), NOW)


def test_expiry_reads_the_same_for_both_uses():
    access_token, expires = access.mint(KEY, "viewer", timedelta(minutes=5), NOW)
    link = links.sign(KEY, "CASE1", "r1", now=NOW, days=1)
    with pytest.raises(access.Refused, match="token expired"):
        access.verify(KEY, access_token, datetime.fromtimestamp(expires, UTC))
    with pytest.raises(links.ExpiredLink):
        links.verify(KEY, link, NOW + timedelta(days=1))
    assert links.verify(KEY, link, NOW + timedelta(days=1) - timedelta(seconds=1)).case_id == "CASE1"
