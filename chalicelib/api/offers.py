"""``/api/offers``: goodwill offers issued by staff, looked up and redeemed at the till, and the day's budget."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from chalicelib.api import responses
from chalicelib.api.base import ApiBase, answer, parse
from chalicelib.api.requests import OfferRequest, RedeemRequest, SiteQuery
from chalicelib.clock import iso
from chalicelib.errors import ApiError, Conflict, NotFound
from chalicelib.offers import OfferRefused

OFFER_CODE = re.compile(r"^V[A-HJ-NP-Z2-9]{6,7}$")
REFUSALS = {"budget": "the site's offer budget for today is spent",
            "customer_cap": "this customer had an offer recently",
            "staff_limit": "over your daily limit of offers: ask a manager to approve it (approved_by)",
            "unknown_site": "unknown site", "code_taken": "code collision, retry"}


def _offer_code(code: str | None) -> str:
    """A code as typed at the till: any case, spaces and dashes ignored."""
    return re.sub(r"[\s-]", "", code or "").upper()[:16]


def public_offer(offer: dict[str, Any]) -> dict[str, Any]:
    return answer(responses.Offer, {k: offer.get(k) for k in (
        "code", "site", "status", "issued_at", "issued_by", "approved_by", "message_id", "case_id", "redeemed_at",
        "redeemed_by")})


class OffersApi(ApiBase):
    def issue_offer(self, body: dict[str, Any] | None) -> dict[str, Any]:
        data: OfferRequest = parse(OfferRequest, body)
        self._site(data.site)
        customer = None
        if data.case_id:
            case = self._store.cases.get_case(data.case_id)
            if case is None:
                raise ApiError(404, "no such case")
            customer = case.get("customer_key")
        try:
            offer = self._offers.issue(site=data.site, customer_key=customer, by=data.by,
                                       approved_by=data.approved_by)
        except OfferRefused as exc:
            status = 403 if exc.args[0] == "staff_limit" else 409 if exc.args[0] != "unknown_site" else 400
            raise ApiError(status, REFUSALS.get(exc.args[0], exc.args[0])) from exc
        return public_offer({**offer, "case_id": data.case_id})

    def offer(self, code: str) -> dict[str, Any]:
        code = _offer_code(code)
        offer = self._store.offers.get_offer(code) if OFFER_CODE.match(code) else None
        if offer is None:
            raise ApiError(404, "no such offer")
        return public_offer(offer)

    def redeem_offer(self, code: str, body: dict[str, Any] | None) -> dict[str, Any]:
        code = _offer_code(code)
        if not OFFER_CODE.match(code):
            raise ApiError(404, "no such offer")
        data: RedeemRequest = parse(RedeemRequest, body)
        try:
            return public_offer(self._store.offers.redeem_offer(code, at=iso(self._now()), by=data.by))
        except NotFound as exc:
            raise ApiError(404, "no such offer") from exc
        except Conflict as exc:
            raise ApiError(409, f"offer is {exc.args[0]}") from exc

    def offer_budget(self, params: dict[str, Any] | None) -> dict[str, Any]:
        try:  # other parameters are ignored here, as they always were
            site = SiteQuery.model_validate({"site": (params or {}).get("site")}).site
        except ValidationError as exc:
            raise ApiError(400, "site: a known site is required") from exc
        if self._config.site(site) is None:
            raise ApiError(400, "site: a known site is required")
        return answer(responses.OfferBudget, self._offers.budget(site))
