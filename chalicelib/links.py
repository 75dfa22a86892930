"""Signed, expiring one-click links (pure): the acknowledge link in an alert e-mail.

The link's token (:mod:`chalicelib.tokens`) carries the case, the recipient, the action and the
expiry, signed with the link-signing key. Changing any byte, or using it after its expiry, is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib import tokens
from chalicelib.clock import utcnow

LINK_DAYS = 7


class BadLink(Exception):
    """Tampered, malformed or signed with another key."""


class ExpiredLink(Exception):
    """A genuine link used after its expiry."""


@dataclass(frozen=True)
class AckLink:
    case_id: str
    recipient: str
    action: str
    expires: int


def sign(key: bytes, case_id: str, recipient: str, *, action: str = "acknowledged",
         now: datetime | None = None, days: int = LINK_DAYS) -> str:
    expires = int(((now or utcnow()) + timedelta(days=days)).timestamp())
    return tokens.sign(key, {"c": case_id, "r": recipient, "a": action}, expires)


def verify(key: bytes, token: str, now: datetime | None = None) -> AckLink:
    try:
        claims = tokens.verify(key, token, now or utcnow())
        return AckLink(str(claims["c"]), str(claims["r"]), str(claims["a"]), int(claims["e"]))
    except tokens.ExpiredToken as exc:
        raise ExpiredLink("link expired") from exc
    except (tokens.BadToken, KeyError, TypeError, ValueError) as exc:
        raise BadLink(str(exc) or "unreadable link") from exc
