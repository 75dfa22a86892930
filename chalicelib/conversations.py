"""The conversation of a case: every message between the customer and staff, in order (issue 21).

Pure rules, no AWS: the typed record each conversation message is stored as, and the order a delivery status
may move in. Carriers report a status late, twice or out of order (Twilio may send ``sent`` after
``delivered``): a status only moves forward, and a duplicate changes nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

Direction = Literal["in", "out"]

# Delivery statuses in the order they may follow one another; the last three are final and of equal rank,
# so the first final status reported wins. "received" is an inbound message's only status.
STATUS_RANK = {"scheduled": 0, "queued": 1, "sent": 2, "delivered": 3, "failed": 3, "undelivered": 3,
               "received": 3}
OUTBOUND_STATUSES = ("scheduled", "queued", "sent", "delivered", "failed", "undelivered")


def moves_forward(old: str | None, new: str) -> bool:
    """Whether a message whose status is ``old`` may take ``new`` (never back, never sideways once final)."""
    if new not in STATUS_RANK:
        raise ValueError(f"unknown status {new!r}")
    return old is None or STATUS_RANK[new] > STATUS_RANK.get(old, -1)


@dataclass(frozen=True)
class ConversationMessage:
    """One message of a case's conversation. ``author`` is a staff member's name for an outbound message and
    None for the customer's: never a number. ``at`` (ISO, UTC) and ``id`` order the conversation."""

    case_id: str
    id: str
    direction: Direction
    at: str
    text: str
    channel: str
    status: str
    customer_key: str
    author: str | None = None
    segments: int = 1
    encoding: str = "GSM-7"
    status_at: str | None = None
    error: str | None = None
    scheduled_for: str | None = None
    provider_id: str | None = None
    expires_at: int = 0

    def __post_init__(self) -> None:
        if self.direction not in ("in", "out"):
            raise ValueError(f"direction must be in or out, not {self.direction!r}")
        if self.status not in STATUS_RANK or (self.direction == "in") != (self.status == "received"):
            raise ValueError(f"status {self.status!r} does not fit an {self.direction}bound message")

    def with_status(self, status: str, at: str, error: str | None = None) -> ConversationMessage:
        return replace(self, status=status, status_at=at, error=error)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def public(self) -> dict[str, Any]:
        """What the API shows: neither the customer's key nor the carrier's id."""
        hidden = ("customer_key", "provider_id", "expires_at", "case_id")
        return {k: v for k, v in asdict(self).items() if k not in hidden}
