"""Goodwill offers: unique codes, a daily budget per site, a cap per customer, a limit per member of staff.

Each bound is a counter taken with one conditional ``ADD`` (``used < limit``), so
concurrent requests can never go over it; when a later step refuses, the units
already taken are given back. The offer item is written first, keyed by its code:
a redelivered message finds its offer there and takes nothing twice.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.clock import day_key, iso, utcnow
from chalicelib.configuration import Config
from chalicelib.limits import rolling_quota
from chalicelib.ports import Offers
from chalicelib.replies import _OFFER_ALPHABET


def person(name: str) -> str:
    """One key per member of staff however the name is typed: "Sam ", "sam" and "SAM" are one person."""
    return " ".join(name.split()).casefold()


class OfferRefused(Exception):
    """No offer: the reason is in ``args[0]`` (budget, customer_cap, staff_limit, unknown_site, code_taken)."""


class OfferService:
    """Goodwill offers: issued within the site's daily budget, the customer's cap and the staff
    member's limit; looked up and redeemed once."""

    def __init__(self, *, config: Config, offers: Offers, now: Callable[[], datetime] = utcnow):
        self._config = config
        self._offers = offers
        self._now = now

    def issue(self, *, site: str | None, customer_key: str | None, code: str | None = None,
              message_id: str | None = None, by: str | None = None, approved_by: str | None = None,
              expires_at: int = 0) -> dict[str, Any]:
        """Issue one offer within every bound, or raise :class:`OfferRefused`; idempotent per code."""
        site_cfg = self._config.site(site)
        if site_cfg is None:
            raise OfferRefused("unknown_site")
        now = self._now()
        offer = {"code": code or self.new_code(), "site": site, "customer_key": customer_key, "status": "issued",
                 "issued_at": iso(now), "day": day_key(now), "message_id": message_id, "issued_by": by,
                 "approved_by": approved_by, "ttl": expires_at or int((now + timedelta(days=400)).timestamp())}
        existing = self._offers.put_offer(offer)
        if existing is not None:
            if existing.get("message_id") == message_id and message_id:
                return existing  # the same message again: the offer it got
            raise OfferRefused("code_taken")
        deployment = self._config.deployment
        horizon = int((now + timedelta(days=2 * deployment.offer_cap_days + 1)).timestamp())  # read a block later
        quotas = [(f"site#{site}#{day_key(now)}", site_cfg.offer_daily_budget, "budget", None)]
        if customer_key:  # a rolling window: at most offer_customer_cap in any offer_cap_days days
            current, previous = rolling_quota(f"customer#{customer_key}", deployment.offer_cap_days,
                                              now.timestamp())
            quotas.append((current, deployment.offer_customer_cap - self._offers.quota_used(previous),
                           "customer_cap", customer_key))
        if by and not (approved_by and person(approved_by) != person(by)):  # approving oneself is no approval
            quotas.append((f"staff#{person(by)}#{day_key(now)}", deployment.offer_staff_daily_limit,
                           "staff_limit", None))
        taken: list[str] = []
        for key, limit, reason, owner in quotas:
            if not self._offers.take_quota(key, limit, horizon, customer_key=owner):
                for back in taken:
                    self._offers.give_back_quota(back)
                self._offers.delete_offer(offer["code"])
                raise OfferRefused(reason)
            taken.append(key)
        return offer

    @staticmethod
    def new_code() -> str:
        return "V" + "".join(secrets.choice(_OFFER_ALPHABET) for _ in range(7))

    def budget(self, site: str, day: str | None = None) -> dict[str, Any]:
        site_cfg = self._config.site(site)
        if site_cfg is None:
            raise OfferRefused("unknown_site")
        day = day or day_key(self._now())
        used = self._offers.quota_used(f"site#{site}#{day}")
        return {"site": site, "day": day, "budget": site_cfg.offer_daily_budget, "issued": used,
                "left": max(0, site_cfg.offer_daily_budget - used)}
