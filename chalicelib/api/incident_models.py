"""What ``GET /api/incidents`` and ``POST /api/incidents/{id}/ack`` take and answer (emerging issues)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class IncidentsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: Literal["open", "acknowledged", "closed"] = Field(
        default="open", description="open: not acknowledged yet (even once back to normal: the banner stays); "
                                    "closed: acknowledged and back to normal")
    limit: int = Field(default=50, ge=1, le=100)


class IncidentAck(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    by: str | None = Field(default=None, max_length=80, description="The name typed by the person acting")

    @field_validator("by")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and not value.isprintable():
            raise ValueError("must be printable text")
        return value or None


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentExample(_Out):
    received_at: str
    text: str = Field(description="As the dashboard shows it (forbidden words masked)")
    from_: str | None = Field(alias="from", description="The sender's number, masked")


class Incident(_Out):
    id: str
    site: str | None = Field(description="None: the whole network")
    topic: str
    hour: str = Field(description="The UTC hour it was opened in (YYYY-MM-DDTHH)")
    status: Literal["open", "acknowledged", "closed"] = Field(
        description="open until acknowledged (even once back to normal); closed once acknowledged and back to normal")
    opened_at: str
    acknowledged_at: str | None = None
    acknowledged_by: str | None = None
    closed_at: str | None = None
    observed: int = Field(description="Messages on the topic in the window that raised it")
    expected: float = Field(description="What the same hours of the week held on average")
    p_value: float = Field(description="One-sided Poisson tail of the observed count")
    examples: list[IncidentExample] = Field(description="Up to three of the messages that raised it, read again "
                                                        "when listed: one erased or expired since is left out")


class IncidentPage(_Out):
    items: list[Incident]
