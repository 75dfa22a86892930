"""What the operator API answers: one pydantic model per response body.

Every JSON answer of ``/api/*`` is built through one of these (``base.answer``), and the OpenAPI
document is generated from them: the contract and the code cannot drift apart. ``extra="forbid"``
makes a field added to an answer but not to its model fail loudly in the tests.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# the answers about cases, re-exported: the OpenAPI document and the handlers read every answer here
from chalicelib.api.case_models import Alert as Alert
from chalicelib.api.case_models import Case as Case
from chalicelib.api.case_models import CaseDetail as CaseDetail
from chalicelib.api.case_models import CasePage as CasePage
from chalicelib.api.case_models import ConversationEntry as ConversationEntry
from chalicelib.api.case_models import Escalation as Escalation
from chalicelib.api.case_models import ReplyQueued as ReplyQueued
from chalicelib.api.studio_models import RulesExplanation as RulesExplanation
from chalicelib.api.studio_models import RulesPreview as RulesPreview
from chalicelib.api.studio_models import RulesSuggestions as RulesSuggestions


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Error(_Out):
    """Every 4xx and 5xx answer of the API."""

    error: str


# -- feedback -------------------------------------------------------------------------------------
class Labels(_Out):
    topic: str | None
    nature: str | None
    urgency: str | None


class Message(_Out):
    """A message as the dashboard shows it: the customer's number masked, forbidden words masked."""

    id: str
    received_at: str
    channel: str | None
    site: str | None
    topic: str | None
    nature: str | None
    urgency: str | None
    urgency_reason: str | None
    language: str | None
    from_: str | None = Field(alias="from", description="The customer's number, masked")
    text: str | None
    reply: str | None
    offer_code: str | None
    case_id: str | None
    rules: list[str]
    processed: bool = Field(description="Counted, and its case opened if it needs one")
    withheld: str | None = Field(default=None, description="An e-mail stored but never answered, cased nor counted, "
                                 "and why: suspect:<failed SES verdict>, automatic:<auto-reply, bounce, list...>")
    corrected: bool = Field(default=False, description="Relabelled by a manager: topic, nature and urgency are "
                            "the manager's, ``machine`` the classifier's")
    machine: Labels | None = Field(default=None, description="The classifier's labels, when corrected")
    corrected_by: str | None = None
    corrected_at: str | None = None


class FeedbackPage(_Out):
    items: list[Message]
    next_cursor: str | None


class AuditedMessage(Message):
    """The message with its original text (``text``) and the text others see (``masked_text``)."""

    masked_text: str | None


# -- cases: in chalicelib/api/case_models.py (imported above) ------------------------------------------


# -- metrics and scorecards ------------------------------------------------------------------------
class Promises(_Out):
    kept: int
    missed: int
    share_kept: float | None


class Tally(_Out):
    """Counts over a period (or one bucket, or one site). With a topic, nature, urgency or channel filter,
    ``language``, ``acknowledged``, ``median_seconds_to_acknowledge`` and ``promises`` are null."""

    messages: int
    nature: dict[str, int]
    topic: dict[str, int] | None = Field(description="null with a channel filter (topics are not counted per "
                                                     "channel)")
    urgency: dict[str, int]
    language: dict[str, int] | None
    channel: dict[str, int] | None = Field(
        default=None, description="Messages per channel (twilio, eum...), counted since channels were; null with a "
                                  "topic filter")
    acknowledged: int | None
    median_seconds_to_acknowledge: int | None
    promises: Promises | None
    replied: int | None = Field(default=None, description="Cases opened in the period given a staff reply")
    average_seconds_to_first_reply: int | None = Field(
        default=None, description="From a case opening (its alerts) to the first staff reply sent, on average")
    reopened: int | None = Field(default=None, description="Cases reopened by the customer's answer")


class Totals(Tally):
    site: dict[str, int] = Field(description="Messages per site ('unknown' for none)")


class Bucket(Tally):
    t: str = Field(description="The bucket: an hour (2026-11-22T08:00:00Z) or a day (2026-11-22)")


class MetricsFilters(_Out):
    topic: str | None
    nature: str | None
    urgency: str | None
    channel: str | None = None


class RankedSite(_Out):
    site: str
    messages: int
    compliments: int
    complaints: int


class SitesRanked(_Out):
    """Which sites a large network's view lists: the busiest and the quietest of a standard window, as
    the hourly job ranked them (all messages, whatever the filters); their figures are the period's."""

    window: str = Field(description="today, yesterday, 7d or 30d (UTC days, today's so far)")
    since: str | None = Field(description="the window's first day")
    as_of: str | None = Field(description="when the ranking was made; null: not ranked yet")
    of: int = Field(description="sites with messages in the window")
    sites: int = Field(description="sites configured")
    top: list[RankedSite]
    bottom: list[RankedSite]


class Metrics(_Out):
    since: str
    until: str
    bucket: str
    site: str | None
    filters: MetricsFilters
    totals: Totals
    series: list[Bucket]
    sites: dict[str, Tally] = Field(description="per-site figures of the period: every site with messages, "
                                               "or only those of sites_ranked")
    sites_ranked: SitesRanked | None = Field(description="null: sites holds every site (a site's view, or a "
                                                         "network of at most 50 sites)")


class YearBucket(Tally):
    t: str = Field(description="A UTC month (2026-11) or ISO week (2026-W47)")


class Year(_Out):
    """The year at a glance: the current UTC month and the 12 before it, and their ISO weeks (from the week
    holding the first month's first day), every one listed, oldest first; read from month and week items."""

    site: str | None
    as_of: str
    months: list[YearBucket]
    weeks: list[YearBucket]


class Scorecard(_Out):
    messages: int
    compliments: int
    complaints: int
    compliments_per_complaint: float | None
    acknowledged: int
    median_seconds_to_acknowledge: int | None
    promises: Promises | None
    replied: int = 0
    average_seconds_to_first_reply: int | None = None
    reopened: int = 0


class SiteScorecard(Scorecard):
    site: str


class StaffScorecard(Scorecard):
    site: str
    name: str


class LabelQuality(_Out):
    predicted: int = Field(description="Corrected messages the classifier gave this label")
    actual: int = Field(description="Corrected messages whose label (after correction) is this one")
    precision: float | None = Field(description="Of those predicted, the share right; null if none predicted")
    recall: float | None = Field(description="Of those actual, the share predicted; null if none actual")


class DimensionQuality(_Out):
    confusion: dict[str, dict[str, int]] = Field(description="machine label -> corrected label -> messages")
    labels: dict[str, LabelQuality]


class Quality(_Out):
    """Observed quality over a period, corrections taken as ground truth. Only corrected messages count:
    a message nobody corrected is not taken as confirmed. A corrected message counts in all three
    dimensions: one its correction left as it was counts as confirmed. By the hour each message was received."""

    since: str
    until: str
    site: str | None
    corrected: int = Field(description="Messages corrected (received in the period)")
    topic: DimensionQuality
    nature: DimensionQuality
    urgency: DimensionQuality


class Scorecards(_Out):
    since: str
    until: str
    sites: list[SiteScorecard]
    staff: list[StaffScorecard]
    sites_ranked: SitesRanked | None = Field(description="null: every site; else only those ranked")


# -- configuration and status ----------------------------------------------------------------------
class SiteInfo(_Out):
    id: str
    name: str
    kind: str
    codes: list[str]
    timezone: str


class Settings(_Out):
    deployment: str
    sites: list[SiteInfo]
    timezone: str
    topics: list[str]
    natures: list[str]
    channels: dict[str, str] = Field(default_factory=dict, description="Each channel's name and its label")


class QueueDepth(_Out):
    waiting: int
    in_flight: int


class Queues(_Out):
    jobs: QueueDepth
    dead_letter: QueueDepth


class Status(_Out):
    queues: Queues


# -- offers -----------------------------------------------------------------------------------------
class Offer(_Out):
    code: str
    site: str | None
    status: str | None
    issued_at: str | None
    issued_by: str | None
    approved_by: str | None
    message_id: str | None
    case_id: str | None
    redeemed_at: str | None
    redeemed_by: str | None


class OfferBudget(_Out):
    site: str
    day: str
    budget: int
    issued: int
    left: int


# -- surveys ----------------------------------------------------------------------------------------
class Score(_Out):
    n: int
    score: int | float | None = Field(description="NPS -100..100, CSAT % satisfied, CES mean")
    promoters: int | None = None
    passives: int | None = None
    detractors: int | None = None
    satisfied: int | None = None
    mean: float | None = None


class QuestionReport(Score):
    kind: str
    text: dict[str, str] = Field(description="The question, per language")
    distribution: dict[int, int] = Field(description="Answers per value of the scale")


class Held(_Out):
    count: int
    reason: str
    until: str
    timezone: str
    until_local: str


class Skipped(_Out):
    opted_out: int
    frequency_cap: int


class SurveyReport(_Out):
    id: str
    name: str
    site: str
    created_at: str
    recipients: int
    sent: int
    response_rate: float | None
    skipped: Skipped
    follow_ups: int
    text_replies: int
    late_answers: int
    held: Held | None
    questions: list[QuestionReport]


class KindScore(Score):
    distribution: dict[int, int]


class SiteSurveys(_Out):
    site: str
    surveys: list[SurveyReport]
    sent: int
    held: int
    response_rate: float | None
    scores: dict[str, KindScore]


class SurveyCreated(_Out):
    id: str
    name: str
    site: str
    created_at: str
    queued: int
    rejected: list[str] = Field(description="The numbers that could not be read (first 40 characters)")


# -- access and erasure ------------------------------------------------------------------------------
class Token(_Out):
    token: str
    role: str
    expires_at: str


class Erased(_Out):
    customer: str = Field(description="The number (or e-mail address), masked")
    erased: dict[str, int] = Field(description="Items erased, per kind")
    items: int


# -- live configuration -----------------------------------------------------------------------------
class ConfigSection(_Out):
    section: str
    version: int = Field(description="The latest version of the whole configuration")
    data: dict = Field(description="The section, in the structure of its TOML file")


class ConfigChange(_Out):
    path: str = Field(description="What changed: sites[2].staff_sms[0]")
    old: Any = None
    new: Any = None


class ConfigVersion(_Out):
    version: int
    author: str | None
    at: str | None
    comment: str
    changed: int = Field(description="How many values changed (the first 100 are listed)")
    changes: list[ConfigChange]
    sections: dict[str, int] = Field(description="The version holding each section, after this one")
    touched: list[str] = Field(description="The sections this version changed")
    rollback_of: int | None = None


class ConfigHistory(_Out):
    latest: int
    items: list[ConfigVersion]
