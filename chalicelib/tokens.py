"""Signed, expiring tokens (pure): the one HMAC scheme behind access tokens and acknowledge links.

A token is ``<payload>.<signature>``: the payload is base64url JSON claims (unpadded), among them
``e``, the expiry in epoch seconds; the signature is the HMAC-SHA256 of the payload under the
caller's key, base64url, compared in constant time. Changing any byte, signing with another key,
or using it at or after its expiry is refused. Each use keeps its own key (``access`` derives one
from the link-signing key), so a token of one kind is never taken for the other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from datetime import datetime
from typing import Any

_SIGNATURE_CHARS = 43  # 32 bytes, base64url without padding


class BadToken(Exception):
    """Malformed, tampered with, or signed with another key."""


class ExpiredToken(Exception):
    """Signed by us, but its expiry has passed."""


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _signature(key: bytes, payload: str) -> str:
    return b64url(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def sign(key: bytes, claims: dict[str, Any], expires: int) -> str:
    """A token carrying ``claims`` (short keys: the token travels in URLs) valid until ``expires``."""
    if "e" in claims:
        raise ValueError("claim 'e' is the expiry")
    payload = b64url(json.dumps({**claims, "e": expires}, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_signature(key, payload)}"


def verify(key: bytes, token: str, now: datetime, *, max_payload: int = 400) -> dict[str, Any]:
    """The claims of ``token`` (``e`` included) if it is ours and unexpired at ``now``.

    Raises :class:`BadToken` (shape, signature, content) or :class:`ExpiredToken`.
    """
    shape = rf"[A-Za-z0-9_-]{{10,{max_payload}}}\.[A-Za-z0-9_-]{{{_SIGNATURE_CHARS}}}"
    if not isinstance(token, str) or not re.fullmatch(shape, token):
        raise BadToken("malformed token")
    payload, signature = token.split(".")
    if not hmac.compare_digest(_signature(key, payload), signature):
        raise BadToken("bad signature")
    try:  # signed by us, so unreadable only if our own format changed
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        expires = int(claims["e"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise BadToken("unreadable token") from exc
    if now.timestamp() >= expires:
        raise ExpiredToken("token expired")
    return claims
