"""``POST /api/tokens``: expiring read-only tokens the operator mints for a manager or a wall screen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.api import responses
from chalicelib.api.base import ApiBase, answer, parse
from chalicelib.api.requests import TokenRequest
from chalicelib.clock import iso
from chalicelib.observability import logger as log  # JSON, with the correlation id


class TokensApi(ApiBase):
    def mint_token(self, body: dict[str, Any] | None, link_key: bytes) -> dict[str, Any]:
        from chalicelib import access

        request = parse(TokenRequest, body)
        token, expires = access.mint(link_key, request.role, timedelta(minutes=request.ttl_minutes), self._now(),
                                     request.label)
        log.warning("access token minted: role %s, label %r, expires %s", request.role, request.label, expires)
        return answer(responses.Token, {"token": token, "role": request.role,
                                        "expires_at": iso(datetime.fromtimestamp(expires, UTC))})
