"""What the operator API accepts: one pydantic model per query string or JSON body.

The OpenAPI document (``chalicelib.api.openapi``) is generated from these models, so a
bound written here is the bound documented. A survey's body is ``chalicelib.surveys.SurveyRequest``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.clock import parse_time
from chalicelib.configuration import LANGUAGES, NATURES, URGENCIES
from chalicelib.errors import ApiError

MAX_PERIOD_DAYS = 400


def printable(value: str | None) -> str | None:
    """A name or a note as typed: new lines and tabs allowed, no other control character."""
    if value is not None and any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise ValueError("control characters are not allowed")
    return value
EARLIEST, LATEST = 2000, 2100  # beyond these, date arithmetic overflows long before any data exists
TIME = "An ISO 8601 time, e.g. 2026-11-22T08:00:00Z"
CHANNEL = "A channel's name (twilio, eum...: the channels of chalicelib.channels)"


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    since: str | None = Field(default=None, description=TIME + " (default: a period before until)")
    until: str | None = Field(default=None, description=TIME + " (default: now)")

    def period(self, now: datetime, default_days: int) -> tuple[datetime, datetime]:
        try:
            until = parse_time(self.until) if self.until else now
            since = parse_time(self.since) if self.since else until - timedelta(days=default_days)
        except OverflowError as exc:  # year 1 or 9999, shifted out of the calendar
            raise ApiError(400, f"since/until must fall between the years {EARLIEST} and {LATEST}") from exc
        except ValueError as exc:
            raise ApiError(400, "since/until must be ISO 8601 times, e.g. 2026-11-22T08:00:00Z") from exc
        if not (since.year >= EARLIEST and until.year <= LATEST):
            raise ApiError(400, f"since/until must fall between the years {EARLIEST} and {LATEST}")
        if since > until:
            raise ApiError(400, "since must be before until")
        if until - since > timedelta(days=MAX_PERIOD_DAYS):
            raise ApiError(400, f"period longer than {MAX_PERIOD_DAYS} days")
        return since, until


class FeedbackQuery(_Query):
    site: str | None = Field(default=None, max_length=40, description="A site id, or 'unknown'")
    topic: str | None = Field(default=None, max_length=32)
    nature: Literal[NATURES] | None = None  # type: ignore[valid-type]
    urgency: Literal[URGENCIES] | None = None  # type: ignore[valid-type]
    language: Literal[LANGUAGES] | None = None  # type: ignore[valid-type]
    channel: str | None = Field(default=None, max_length=16, description=CHANNEL)
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=2048, description="next_cursor of the previous page")


class ExportQuery(FeedbackQuery):
    """The feedback filters; ``limit`` and ``cursor`` are accepted and ignored (the export pages itself)."""

    locale: Literal["en", "fr"] | None = Field(
        default=None, description="fr: a UTF-8 BOM, ';' between cells and dd/mm/yyyy times in the site's zone, "
        "for a French Excel; default: Accept-Language, else en (',' and ISO 8601 times)")


class MetricsQuery(_Query):
    site: str | None = Field(default=None, max_length=40, description="A site id, or 'unknown'")
    bucket: Literal["hour", "day"] = "hour"
    topic: str | None = Field(default=None, max_length=32)
    nature: Literal[NATURES] | None = None  # type: ignore[valid-type]
    urgency: Literal[URGENCIES] | None = None  # type: ignore[valid-type]
    channel: str | None = Field(default=None, max_length=16, description=CHANNEL + "; not with topic")


class ScorecardQuery(_Query):
    site: str | None = Field(default=None, max_length=40)


class YearQuery(BaseModel):
    """The year at a glance: a site, or the network."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    site: str | None = Field(default=None, max_length=40, description="A site id, or 'unknown'")


class QualityQuery(_Query):
    site: str | None = Field(default=None, max_length=40, description="A site id, or 'unknown'")


class Relabel(BaseModel):
    """A manager's correction of a message's labels (``PATCH /api/feedback/{id}``): at least one of the three."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    topic: str | None = Field(default=None, max_length=32, description="One of the configured topics")
    nature: Literal[NATURES] | None = None  # type: ignore[valid-type]
    urgency: Literal[URGENCIES] | None = None  # type: ignore[valid-type]
    by: str | None = Field(default=None, max_length=80, description="The name of the person correcting it")
    note: str | None = Field(default=None, max_length=500)

    @field_validator("by", "note")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        return printable(value)


class CasesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: Literal["open", "acknowledged", "resolved"] = "open"
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=2048, description="next_cursor of the previous page")
    assignee: str | None = Field(default=None, min_length=1, max_length=80, description="Only the cases assigned "
                                 "to this name (any case); \"-\": only those assigned to nobody")


class SiteQuery(BaseModel):
    """A known site, and nothing else."""

    model_config = ConfigDict(extra="forbid")

    site: str = Field(min_length=1, max_length=40)


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    role: Literal["viewer"] = "viewer"
    ttl_minutes: int = Field(default=720, ge=1, le=43_200)
    label: str = Field(default="", max_length=40, pattern=r"^[\w .@-]*$")


class ReplyBody(BaseModel):
    """A staff reply to the customer of a case (``POST /api/cases/{id}/reply``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(max_length=1600, description="What the customer reads (at most max_reply_segments SMS)")
    by: str = Field(min_length=1, max_length=80, description="The name of the person replying (never a number)")

    @field_validator("by")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(ord(c) < 32 for c in value):
            raise ValueError("control characters are not allowed")
        return value


class AssignBody(BaseModel):
    """Assign a case to a named person (``POST /api/cases/{id}/assign``); assigning again reassigns it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    to: str = Field(min_length=1, max_length=80, description="The name of the person taking the case")
    by: str | None = Field(default=None, max_length=80, description="The name of the person assigning it")

    @field_validator("to", "by")
    @classmethod
    def _a_name(cls, value: str | None) -> str | None:
        if value is not None and (any(ord(c) < 32 for c in value) or re.search(r"\d{5}", value)):
            raise ValueError("a name on one line (never a phone number)")
        return value


class CaseAction(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    by: str | None = Field(default=None, max_length=80, description="The name typed by the person acting")
    note: str | None = Field(default=None, max_length=500)

    @field_validator("by", "note")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        return printable(value)


class OfferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: str = Field(min_length=1, max_length=40)
    by: str = Field(min_length=1, max_length=80)
    approved_by: str | None = Field(default=None, min_length=1, max_length=80)
    case_id: str | None = Field(default=None, pattern=r"^[A-Z0-9]{8}$")


class RedeemRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str | None = Field(default=None, min_length=1, max_length=80)


class ConfigPublish(BaseModel):
    """A section's new data (``PUT /api/config/{section}``), as its TOML file holds it, against a version."""

    model_config = ConfigDict(extra="forbid")

    data: dict = Field(description="The whole section, in the structure of its TOML file")
    base_version: int = Field(ge=0, description="The version this change was made on: 409 if another was "
                                                "published since")
    comment: str | None = Field(default=None, max_length=500)
    by: str | None = Field(default=None, max_length=80, description="The name of the person publishing")


class ConfigRollback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=10**7, description="The version whose configuration is published again")
    comment: str | None = Field(default=None, max_length=500)
    by: str | None = Field(default=None, max_length=80)


class ConfigHistoryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    limit: int = Field(default=50, ge=1, le=200)
    before: int | None = Field(default=None, ge=1, le=10**7, description="Versions before this one (paging)")


class BacktestRequest(BaseModel):
    """A draft of the rules to backtest (``POST /api/config/rules/preview``): nothing is stored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    data: dict = Field(description="A draft rules section, in the structure of GET /api/config/rules data")
    days: int = Field(default=30, ge=1, le=30, description="The stored messages of the last days (at most 30)")
    site: str | None = Field(default=None, max_length=40, description="A site id, or 'unknown'")
    examples: int = Field(default=5, ge=1, le=20, description="Examples of each kind of change")


class ExplainRequest(BaseModel):
    """One text to explain (``POST /api/config/rules/explain``), with the live rules or a draft."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=1600, description="The message as the customer wrote it")
    to: str | None = Field(default=None, max_length=32, description="The number written to (E.164): its site")
    data: dict | None = Field(default=None, description="A draft rules section (default: the live rules)")


class SuggestionsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    days: int = Field(default=30, ge=1, le=30, description="The corrected messages of the last days")
    site: str | None = Field(default=None, max_length=40, description="A site id, or 'unknown'")
