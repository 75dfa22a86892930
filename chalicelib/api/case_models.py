"""What the operator API answers about cases: the case, its conversation, a reply taken (re-exported by
:mod:`chalicelib.api.responses`, where the OpenAPI document finds every answer)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

class Alert(_Out):
    channel: str | None
    to: str | None
    role: str | None
    status: str | None
    attempts: int
    last_error: str | None


class Escalation(_Out):
    at: str
    level: int
    to: list[str]


class Case(_Out):
    id: str
    message_id: str | None
    status: str | None
    site: str | None
    topic: str | None
    nature: str | None
    urgency: str | None
    urgency_reason: str | None
    text: str | None
    customer: str | None
    received_at: str | None
    created_at: str | None
    acknowledged_at: str | None
    acknowledged_by: str | None
    resolved_at: str | None
    resolved_by: str | None
    note: str | None
    seconds_to_acknowledge: int | None
    code: str | None
    promised_at: str | None
    promise: Literal["acknowledge", "reply"] = Field(
        default="acknowledge", description="What keeps the promise: an acknowledgement, or a staff reply sent")
    promise_kept: bool | None
    escalation_level: int
    alerts_suppressed: bool
    escalations: list[Escalation]
    alerts: list[Alert]
    overdue: bool | None = Field(default=None, description="Open cases only: its promise has lapsed")
    first_reply_at: str | None = Field(default=None, description="When the first staff reply was sent")
    reopened_at: str | None = Field(default=None, description="When the customer's answer last reopened it")
    reopen_count: int = Field(default=0, description="How many times the customer's answer reopened it")
    assignee: str | None = Field(default=None, description="Who the case is assigned to (a name)")
    assigned_at: str | None = None
    assigned_by: str | None = None
    first_response_seconds: int | None = Field(
        default=None, description="From the case opening (its alert) to the first staff reply sent")


class ConversationEntry(_Out):
    """One message of a case's conversation: the customer's (``in``, no author) or staff's (``out``)."""

    id: str
    direction: Literal["in", "out"]
    at: str
    text: str
    channel: str
    status: str = Field(description="in: received; out: scheduled, queued, sent, delivered, failed or undelivered")
    author: str | None = Field(description="The staff member's name for an outbound message; never a number")
    segments: int
    encoding: str
    status_at: str | None
    error: str | None = Field(description="The carrier's error for a failed or undelivered message")
    scheduled_for: str | None


class ReplyTemplateText(_Out):
    """A template in the case's language, its site and promise filled in; ``{name}`` left for the one replying."""

    id: str
    title: str
    text: str


class EarlierCase(_Out):
    """Another case of the same customer (at any site), newest first: what came of it."""

    id: str
    site: str | None
    topic: str | None
    nature: str | None
    urgency: str | None
    status: str | None
    created_at: str | None
    resolved_at: str | None


class CaseDetail(Case):
    conversation: list[ConversationEntry] = Field(
        description="The case's conversation, oldest first: the message that opened it, then its latest 50")
    templates: list[ReplyTemplateText] = Field(default_factory=list, description="Reply templates for this case")
    history: list[EarlierCase] = Field(default_factory=list, description="The customer's earlier cases, newest "
                                       "first (at most 10; erased ones are gone)")


class ReplyQueued(_Out):
    """A staff reply taken: queued for the worker, or held (``scheduled``) until the site's quiet hours end."""

    id: str
    status: Literal["queued", "scheduled"]
    segments: int = Field(description="SMS segments the reply is billed as")
    encoding: Literal["GSM-7", "UCS-2"]
    scheduled_for: str | None = Field(description="When a held reply goes out (UTC), else null")


class CasePage(_Out):
    items: list[Case]
    next_cursor: str | None
    order: str | None = Field(default=None, description="Open cases only: how they are sorted")
    complete: bool | None = Field(default=None, description="Open cases only: false past the bounded read")
