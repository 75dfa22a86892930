"""Goodwill offers (``OFFER#<code>``), bounded quotas (``QUOTA#...``: a site's day budget, a customer's
cap) and once-only markers (a digest sent, a survey sent to one customer)."""

from __future__ import annotations

from typing import Any

from chalicelib.errors import Conflict
from chalicelib.storage.dynamo import Dynamo, plain_numbers, to_item


def offer_key(code: str) -> dict[str, str]:
    return {"pk": f"OFFER#{code}", "sk": "OFFER"}


def quota_key(name: str) -> dict[str, str]:
    return {"pk": f"QUOTA#{name}", "sk": "QUOTA"}


MARKER_PREFIX = {"digest": "DIGEST", "survey_sent": "SURVEYSENT", "relay": "RELAYED"}


def marker_key(kind: str, name: str) -> dict[str, str]:
    """A once-only marker: ``DIGEST#<day>#<recipient>``, ``SURVEYSENT#<survey>#<customer key>``,
    ``RELAYED#<staff SMS id>``."""
    if kind not in MARKER_PREFIX:
        raise ValueError(f"unknown marker kind {kind!r}")
    return {"pk": f"{MARKER_PREFIX[kind]}#{name}", "sk": "MARKER"}


class OfferStore(Dynamo):
    """Offers issued and redeemed once, quotas that never go over, markers claimed once."""

    def take_quota(self, name: str, limit: int, expires_at: int, customer_key: str | None = None) -> bool:
        """One unit of a bounded quota (``site#<site>#<day>``: a site's day budget; ``customer#<key>#<block>``:
        a customer's cap...): atomic, never over."""
        if limit <= 0:
            return False
        owner = ", customer_key = :owner" if customer_key else ""
        return self._if("update_item", Key=to_item(quota_key(name)),
                        UpdateExpression="ADD used :one SET #limit = :limit, #ttl = :ttl" + owner,
                        ConditionExpression="attribute_not_exists(used) OR used < :limit",
                        ExpressionAttributeNames={"#limit": "limit", "#ttl": "ttl"},
                        ExpressionAttributeValues=to_item({":one": 1, ":limit": limit, ":ttl": expires_at,
                                                           ":owner": customer_key}))

    def give_back_quota(self, name: str) -> None:
        """Return one unit taken (the send it paid for never happened); never below zero."""
        self._if("update_item", Key=to_item(quota_key(name)), UpdateExpression="ADD used :minus",
                 ConditionExpression="used > :zero", ExpressionAttributeValues=to_item({":minus": -1, ":zero": 0}))

    def quota_used(self, name: str) -> int:
        item = self._get(quota_key(name), plain=False)
        return int(item.get("used", 0)) if item else 0

    def put_offer(self, offer: dict[str, Any]) -> dict[str, Any] | None:
        """Create an offer; if its code exists, return the existing offer instead."""
        item = {**offer_key(offer["code"]), "type": "offer", **offer}
        try:
            self._call("put_item", Item=to_item(item), ConditionExpression="attribute_not_exists(pk)",
                       ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return None
        except Conflict as exc:
            return plain_numbers(exc.item or {})

    def delete_offer(self, code: str) -> None:
        self._call("delete_item", Key=to_item(offer_key(code)))

    def get_offer(self, code: str) -> dict[str, Any] | None:
        return self._get(offer_key(code))

    def redeem_offer(self, code: str, *, at: str, by: str | None) -> dict[str, Any]:
        return self._change_status(
            offer_key(code),
            UpdateExpression="SET #status = :redeemed, redeemed_at = :at, redeemed_by = :by",
            ConditionExpression="attribute_exists(pk) AND #status = :issued",
            ExpressionAttributeValues=to_item({":redeemed": "redeemed", ":issued": "issued", ":at": at,
                                               ":by": by or "unknown"}))

    def claim_marker(self, kind: str, name: str, *, expires_at: int, customer_key: str | None = None) -> bool:
        """Claim a once-only marker (``digest``: a digest sent; ``survey_sent``: a survey sent to one customer);
        False if it was claimed already."""
        return self._if("put_item", Item=to_item({**marker_key(kind, name), "ttl": expires_at,
                                                  "customer_key": customer_key}),
                        ConditionExpression="attribute_not_exists(pk)")

    def release_marker(self, kind: str, name: str) -> None:
        self._call("delete_item", Key=to_item(marker_key(kind, name)))


