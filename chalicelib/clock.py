"""Time, in one place, so that tests can control it.

Domain code reads "now" only through :func:`utcnow` (or a ``now`` callable defaulting to it); a test
moves every reader at once with ``monkeypatch.setattr(clock, "source", lambda: moment)``.
tests/test_clock_independence.py fails if code outside this module reads the real clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

source: Callable[[], datetime] | None = None  # None: the real clock; tests set it, production never does


def utcnow() -> datetime:
    return source() if source is not None else datetime.now(UTC)  # the one read of the real clock


def iso(moment: datetime) -> str:
    """``2026-11-22T18:42:01.123Z``: sortable, the format of every stored time."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def hour_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H")


def day_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def parse_time(text: str) -> datetime:
    """Read an ISO 8601 time or date; naive values are taken as UTC. Raises ValueError."""
    value = text.strip()
    if value.endswith("Z") or value.endswith("z"):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def days_between(first: datetime, last: datetime) -> list[str]:
    """Day keys from ``last`` back to ``first``, newest first."""
    out = []
    day = last.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = first.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    while day >= start:
        out.append(day.strftime("%Y-%m-%d"))
        day -= timedelta(days=1)
    return out


def scheduled_time(event: object) -> datetime:
    """The time a scheduled event was for (EventBridge's ``time``, ``2026-12-04T06:00:00Z``), not the time it
    arrived: a late or repeated delivery does the run it was meant for. Now, if the event has no readable time."""
    try:
        moment = parse_time(str(getattr(event, "time", "") or ""))
    except ValueError:
        return utcnow()
    return moment if moment <= utcnow() + timedelta(minutes=5) else utcnow()  # never a run from the future
