"""Signed, expiring one-click links (pure): the acknowledge link in an alert e-mail.

A token is ``<payload>.<signature>``: the payload (base64url JSON: case, recipient,
action, expiry) and an HMAC-SHA256 of it under the link-signing key, compared in
constant time. Changing any byte, or using it after its expiry, is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.clock import utcnow

LINK_DAYS = 7
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{10,400}\.[A-Za-z0-9_-]{43}$")


class BadLink(Exception):
    """Tampered, malformed or signed with another key."""


class ExpiredLink(Exception):
    pass


@dataclass(frozen=True)
class AckLink:
    case_id: str
    recipient: str
    action: str
    expires: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _sign(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def sign(key: bytes, case_id: str, recipient: str, *, action: str = "acknowledged",
         now: datetime | None = None, days: int = LINK_DAYS) -> str:
    expires = int(((now or utcnow()) + timedelta(days=days)).timestamp())
    payload = _b64(json.dumps({"c": case_id, "r": recipient, "a": action, "e": expires},
                              separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_sign(key, payload)}"


def verify(key: bytes, token: str, now: datetime | None = None) -> AckLink:
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise BadLink("malformed link")
    payload, signature = token.split(".")
    if not hmac.compare_digest(_sign(key, payload), signature):
        raise BadLink("bad signature")
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        link = AckLink(str(data["c"]), str(data["r"]), str(data["a"]), int(data["e"]))
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:  # signed by us, so never in practice
        raise BadLink("unreadable link") from exc
    if (now or utcnow()).timestamp() > link.expires:
        raise ExpiredLink("link expired")
    return link
