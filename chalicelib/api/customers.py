"""``DELETE /api/customers/{number}`` (the right to erasure) and ``POST /api/tokens`` (viewer tokens)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.api import responses
from chalicelib.api.base import ApiBase, answer, parse
from chalicelib.api.requests import TokenRequest
from chalicelib.clock import iso
from chalicelib.errors import ApiError
from chalicelib.observability import logger as log  # JSON, with the correlation id


class CustomersApi(ApiBase):
    def mint_token(self, body: dict[str, Any] | None, link_key: bytes) -> dict[str, Any]:
        from chalicelib import access

        request = parse(TokenRequest, body)
        token, expires = access.mint(link_key, request.role, timedelta(minutes=request.ttl_minutes), self._now(),
                                     request.label)
        log.warning("access token minted: role %s, label %r, expires %s", request.role, request.label, expires)
        return answer(responses.Token, {"token": token, "role": request.role,
                                        "expires_at": iso(datetime.fromtimestamp(expires, UTC))})

    def erase_customer(self, number: str, secret: bytes, retention_days: int = 396) -> dict[str, Any]:
        """Erase everything linked to one customer (messages, cases, consent, surveys, quotas, offers).

        Keyed tombstones stay for ``retention_days`` (``chalicelib.erasure``): a replayed message
        or a send still queued is refused, and an opt-out is kept as a suppression entry.
        """
        from functools import partial
        from urllib.parse import unquote

        from chalicelib.erasure import mark
        from chalicelib.phone import InvalidNumber, customer_key, normalise
        from chalicelib.phone import mask as mask_number

        raw = unquote(number or "")
        if len(raw) > 32:
            raise ApiError(400, "not a phone number")
        try:
            if not raw.strip().startswith(("+", "00")):  # a national number could name someone else
                raise InvalidNumber(raw)
            e164 = normalise(raw)
        except InvalidNumber as exc:
            raise ApiError(400, "not a phone number; use the international format, e.g. +447700900123") from exc
        now = self._now()
        erased = self._store.erase_customer(
            customer_key(e164, secret), mark=partial(mark, secret), at=iso(now),
            expires_at=int((now + timedelta(days=retention_days)).timestamp()))
        log.warning("customer %s erased on request: %s", mask_number(e164), erased)
        return answer(responses.Erased, {"customer": mask_number(e164), "erased": erased,
                                         "items": sum(erased.values())})
