"""``DELETE /api/customers/{number}``: the right to erasure (a number, or an e-mail channel's address)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from chalicelib.api import responses
from chalicelib.api.base import ApiBase, answer
from chalicelib.clock import iso
from chalicelib.errors import ApiError
from chalicelib.observability import logger as log  # JSON, with the correlation id

# The spellings of a number a person types: an optional leading +, then digits with spaces, ( ) - . between
# them (at least 8 digits). Anything else ("+4477…/..", "++44…") is refused, not forgiven by phonenumbers.
ERASABLE = re.compile(r"\+?[0-9]([0-9 ().-]*[0-9])?")
DIGITS_MIN = 8


class CustomersApi(ApiBase):
    def erase_customer(self, number: str, secret: bytes, retention_days: int = 396) -> dict[str, Any]:
        """Erase everything linked to one customer (messages, cases, consent, surveys, quotas, offers).

        Keyed tombstones stay for ``retention_days`` (``chalicelib.erasure``): a replayed message
        or a send still queued is refused, and an opt-out is kept as a suppression entry.
        """
        from urllib.parse import unquote

        from chalicelib.phone import InvalidNumber, normalise

        raw = unquote(number or "")
        if "@" in raw:  # an e-mail channel's customer
            from chalicelib.mail import InvalidAddress, normalise_address

            try:
                address = normalise_address(raw) if len(raw) <= 254 else ""
            except InvalidAddress:
                address = ""
            if not address or address != raw.strip().lower():  # irreversible: exactly an address, nothing forgiven
                raise ApiError(400, "not an e-mail address: exactly the address, e.g. ann@example.com")
            return self._erase(address, secret, retention_days)
        # irreversible: exactly a number, nothing forgiven
        if len(raw) > 32 or not ERASABLE.fullmatch(raw) or sum(c.isdigit() for c in raw) < DIGITS_MIN:
            raise ApiError(400, "not a phone number: digits, spaces, ( ) - . and one leading + only, "
                                "in the international format, e.g. +447700900123")
        try:
            if not raw.strip().startswith(("+", "00")):  # a national number could name someone else
                raise InvalidNumber(raw)
            e164 = normalise(raw)
        except InvalidNumber as exc:
            raise ApiError(400, "not a phone number; use the international format, e.g. +447700900123") from exc
        return self._erase(e164, secret, retention_days)

    def _erase(self, customer: str, secret: bytes, retention_days: int) -> dict[str, Any]:
        """Erase the customer with this number (E.164) or normalised address."""
        from functools import partial

        from chalicelib.erasure import mark
        from chalicelib.phone import customer_key
        from chalicelib.phone import mask as mask_number

        now = self._now()
        erased = self._store.customers.erase_customer(
            customer_key(customer, secret), mark=partial(mark, secret), at=iso(now),
            expires_at=int((now + timedelta(days=retention_days)).timestamp()))
        log.warning("customer %s erased on request: %s", mask_number(customer), erased)
        return answer(responses.Erased, {"customer": mask_number(customer), "erased": erased,
                                         "items": sum(erased.values())})
