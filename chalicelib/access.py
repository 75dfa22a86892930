"""Who may call which operator route (pure): the operator token, and expiring read-only tokens.

Two kinds of bearer token reach ``/api/*``:

* the **operator token** (its SHA-256 is configured): every route;
* an **access token** minted with ``POST /api/tokens`` by the operator, for a manager's
  screen on the wall, say: ``vx1.`` and a signed token (:mod:`chalicelib.tokens`) under a key
  derived from the deployment's link-signing key (so another deployment's tokens, and
  e-mail acknowledge links, are refused). It carries a role and an expiry; ``viewer``
  may only read the dashboard's routes, never act, erase, audit, or mint tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib import tokens

ROLES = ("viewer",)
MAX_TTL = timedelta(days=30)
PREFIX = "vx1."
# what a viewer may read: the dashboard, nothing that acts, erases, audits or reveals
VIEWER_ROUTES = re.compile(
    r"^/api/(feedback|metrics(/quality|/year)?|cases(/\{case_id\})?|config|export\.csv|scorecards|surveys(/[^/]+)?|incidents"
    r"|offers/budget)$")  # offers/budget: counts only (the insight panel)


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Grant:
    role: str  # operator | viewer
    expires: int | None = None
    label: str = ""


def bearer_ok(header: str | None, expected_sha256: str | None) -> bool:
    """Constant-time check of ``Authorization: Bearer <token>`` against the token's SHA-256."""
    if not header or not expected_sha256:
        return False
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    digest = hashlib.sha256(token.strip().encode()).hexdigest()
    return hmac.compare_digest(digest, expected_sha256.strip().lower())


def _key(link_key: bytes) -> bytes:
    return hmac.new(link_key, b"voix access token v1", hashlib.sha256).digest()


def mint(link_key: bytes, role: str, ttl: timedelta, now: datetime, label: str = "") -> tuple[str, int]:
    """A signed token for ``role``, valid ``ttl`` from ``now``; returns (token, expiry as epoch seconds)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not timedelta(minutes=1) <= ttl <= MAX_TTL:
        raise ValueError("ttl_minutes must be between 1 and 43200 (30 days)")
    expires = int((now + ttl).timestamp())
    return PREFIX + tokens.sign(_key(link_key), {"r": role, "l": label[:40]}, expires), expires


def verify(link_key: bytes, token: str, now: datetime) -> Grant:
    """The grant an access token carries; raises :class:`Refused` (401) if it is not ours or has expired."""
    if not (token or "").startswith(PREFIX):
        raise Refused(401, "missing or invalid operator token")
    try:
        claims = tokens.verify(_key(link_key), token[len(PREFIX):], now, max_payload=300)
        grant = Grant(str(claims["r"]), int(claims["e"]), str(claims.get("l", "")))
    except tokens.ExpiredToken as exc:
        raise Refused(401, "token expired") from exc
    except (tokens.BadToken, KeyError, TypeError, ValueError) as exc:
        raise Refused(401, "missing or invalid operator token") from exc
    if grant.role not in ROLES:
        raise Refused(401, "missing or invalid operator token")
    return grant


def identity(header: str | None, expected_sha256: str | None, link_key: bytes, now: datetime) -> str:
    """Who a request's credential says it is, as recorded on a case it acts on: ``operator`` for the
    operator token, ``<role>`` or ``<role> <label>`` for an access token; raises :class:`Refused`."""
    if bearer_ok(header, expected_sha256):
        return "operator"
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        raise Refused(401, "missing or invalid operator token")
    grant = verify(link_key, token.strip(), now)
    return f"{grant.role} {grant.label}".strip()


def allowed(grant: Grant, method: str, path: str) -> None:
    """Raise :class:`Refused` (403) unless ``grant`` may call ``method path``."""
    if grant.role == "operator":
        return
    if method.upper() in ("GET", "HEAD") and VIEWER_ROUTES.match(path):
        return
    raise Refused(403, f"a {grant.role} token may only read the dashboard")
