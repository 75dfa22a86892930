"""One-click unsubscribe from a reply by e-mail (RFC 8058): the signed link of its ``List-Unsubscribe``.

The link's token carries the customer's key (never their address), signed with a key derived from the
link-signing key (so neither an access token nor an acknowledge link is ever taken for one), and expires
after :data:`VALID_DAYS`. A mail client's one-click ``POST`` (body ``List-Unsubscribe=One-Click``) opts the
customer out as a STOP would; a ``GET`` (a person following the link, or a link scanner) only shows the
button that posts, so nothing is changed by a fetch.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape
from typing import Any

from chalicelib import tokens
from chalicelib.ack_page import Page
from chalicelib.clock import iso

VALID_DAYS = 400
TEMPLATE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 2rem auto; padding: 0 1rem">
<h1>{title}</h1><p>{text}</p>{form}</body></html>"""


def _key(link_key: bytes) -> bytes:
    return hmac.new(link_key, b"voix-unsubscribe", hashlib.sha256).digest()


def token(link_key: bytes, customer_key: str, now: datetime) -> str:
    """The token of the unsubscribe link for the customer with ``customer_key``."""
    return tokens.sign(_key(link_key), {"u": customer_key}, int((now + timedelta(days=VALID_DAYS)).timestamp()))


def customer_of(link_key: bytes, value: str, now: datetime) -> str | None:
    """The customer key a token names, or None when it is not ours, tampered with or expired."""
    try:
        claims = tokens.verify(_key(link_key), value, now)
    except (tokens.BadToken, tokens.ExpiredToken):
        return None
    key = claims.get("u")
    return key if isinstance(key, str) and key else None


def _page(status: int, title: str, text: str, token: str = "") -> Page:
    button = (f'<form method="post" action="{escape(token)}"><input type="hidden" name="List-Unsubscribe" '
              'value="One-Click"><button type="submit">Unsubscribe</button></form>') if token else ""
    return Page(status, TEMPLATE.format(title=escape(title), text=escape(text), form=button))


INVALID = "This link is not valid (or has expired): reply STOP to the e-mail instead."


class UnsubscribePage:
    """What the link shows (GET: a button) and does (POST: the opt-out, recorded as a STOP is)."""

    def __init__(self, *, link_key: bytes, opt_out: Callable[[str, datetime], None], now: Callable[[], datetime]):
        self._link_key = link_key
        self._opt_out = opt_out  # (customer key, when)
        self._now = now

    def show(self, value: str) -> Page:
        if customer_of(self._link_key, value, self._now()) is None:
            return _page(403, "Unsubscribe", INVALID)
        return _page(200, "Unsubscribe", "No more e-mails from us about your feedback.", value)

    def confirm(self, value: str) -> Page:
        now = self._now()
        key = customer_of(self._link_key, value, now)
        if key is None:
            return _page(403, "Unsubscribe", INVALID)
        self._opt_out(key, now)
        return _page(200, "Unsubscribed", "You are unsubscribed: no more e-mails from us.")


def opt_out(store: Any, customer_key: str, now: datetime, retention_days: int) -> None:
    """The customer opts out as by STOP: consent recorded (source ``email:one-click``), any survey ended."""
    store.customers.set_consent(customer_key, "opted_out", at=iso(now), source="email:one-click",
                                message_id=f"unsubscribe-{int(now.timestamp())}",
                                expires_at=int((now + timedelta(days=retention_days)).timestamp()))
    store.surveys.end_conversation(customer_key)


def opted_out(customers: Any, secret: bytes, address: str) -> bool:
    """Whether the customer at ``address`` opted out (by mail, link or STOP), or did before an erasure: no
    carrier keeps an e-mail opt-out list, so Voix checks its own before every mail."""
    from chalicelib.erasure import mark
    from chalicelib.phone import customer_key

    key = customer_key(address, secret)
    consent = customers.consent(key)
    if consent is not None:
        return consent.get("status") == "opted_out"
    return customers.suppressed(mark(secret, "opt-out", key))
