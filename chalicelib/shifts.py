"""Who is on duty at a site, every week: the roster's shifts (``[[sites.roster]]`` of ``sites.toml``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Shift(BaseModel):
    """Who is on duty at a site, every week, in the site's time zone; whole hours."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=80)
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(min_length=1)
    start: int = Field(ge=0, le=23, description="First hour on duty, 0-23")
    end: int = Field(ge=1, le=24, description="Hour the shift ends, 1-24; before start: it runs past midnight")

    @model_validator(mode="after")
    def _not_empty(self) -> Shift:
        if self.start == self.end:
            raise ValueError(f"shift of {self.name!r} starts and ends at {self.start}h")
        return self

    def on_duty(self, weekday: int, hour: int) -> bool:
        """Is the shift on at ``hour`` (local) of ``weekday`` (0 = Monday)? A night shift belongs to its start day."""
        if self.start < self.end:
            return WEEKDAYS[weekday] in self.days and self.start <= hour < self.end
        started_today = WEEKDAYS[weekday] in self.days and hour >= self.start
        started_yesterday = WEEKDAYS[(weekday - 1) % 7] in self.days and hour < self.end
        return started_today or started_yesterday
