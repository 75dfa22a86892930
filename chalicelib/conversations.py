"""The conversation of a case: every message between the customer and staff, in order (issue 21).

Pure rules, no AWS: the typed records a conversation is stored as (each message; the way back to the
customer, ``Contact``), the order a delivery status may move in, the reply ids and the deployment's
conversation settings. Carriers report a status late, twice or out of order (Twilio may send ``sent`` after
``delivered``): a status only moves forward, and a duplicate changes nothing. The service that applies the
rules is :mod:`chalicelib.replying` (staff replies) and :mod:`chalicelib.threads` (the customer's answers).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Direction = Literal["in", "out"]

# Delivery statuses in the order they may follow one another; the last three are final and of equal rank,
# so the first final status reported wins. "received" is an inbound message's only status.
STATUS_RANK = {"scheduled": 0, "queued": 1, "sent": 2, "delivered": 3, "failed": 3, "undelivered": 3,
               "received": 3}
OUTBOUND_STATUSES = ("scheduled", "queued", "sent", "delivered", "failed", "undelivered")


class ConversationSettings(BaseModel):
    """``[deployment.conversation]`` of ``sites.toml``: how staff replies are bounded, and how long a
    customer's answer joins their case."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_reply_segments: int = Field(default=3, ge=1, le=10, description="A longer staff reply is refused")
    replies_per_case_per_hour: int = Field(default=5, ge=1, le=100, description="Staff replies a case may have "
                                           "in any hour (rolling): a mistake cannot flood a customer")
    window_days: int = Field(default=7, ge=0, le=90, description="A customer's message joins their case while it "
                             "is open, or resolved less than this many days ago (which reopens it)")
    contact_days: int = Field(default=30, ge=1, le=396, description="How long after the customer's latest "
                              "message staff may still text them (their number is kept that long, no longer)")


class MailThread(BaseModel):
    """The customer's mail a reply answers: its subject and ids (``In-Reply-To``, ``References``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str = Field(default="", max_length=200)
    message_id: str | None = Field(default=None, max_length=998)
    references: tuple[str, ...] = Field(default=(), max_length=20)
    language: str = Field(default="en", max_length=5)


@dataclass(frozen=True)
class Contact:
    """How to reach the customer of a case: their number (or address), the number they wrote to (the reply
    comes from it) and the channel. Kept on its own item until ``expires_at`` (epoch seconds), erased with the customer;
    never shown by the API."""

    case_id: str
    number: str
    origin: str
    channel: str
    customer_key: str
    expires_at: int
    thread: MailThread | None = None  # e-mail: the customer's latest mail, which a staff reply answers


_REPLY_ID = re.compile(r"^r(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)(\d{3})Z([0-9a-f]{8})$")


def new_reply_id(at: str) -> str:
    """A staff reply's id: time-ordered, and its time (``at``, ISO with milliseconds) is read back from it, so
    a job or a status callback naming the case and the reply finds the message in one GetItem."""
    return "r" + re.sub(r"[-:.]", "", at) + secrets.token_hex(4)


def reply_at(reply_id: str) -> str:
    """The ``at`` of a reply id (``ValueError`` if it is not one)."""
    found = _REPLY_ID.fullmatch(reply_id or "")
    if not found:
        raise ValueError(f"{reply_id!r} is not a reply id")
    y, mo, d, h, mi, s, ms, _ = found.groups()
    return f"{y}-{mo}-{d}T{h}:{mi}:{s}.{ms}Z"


def is_reply_id(text: Any) -> bool:
    return isinstance(text, str) and bool(_REPLY_ID.fullmatch(text))


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
