"""EventBridge, locally: the schedules registered with ``@app.schedule`` fire as AWS fires them.

The schedules are read from the Chalice app itself (``app.event_sources``: ``Rate`` and
``Cron`` expressions), so a schedule added to ``app.py`` runs locally with no change here.
Each firing calls the very handler the Lambda runs with the event EventBridge sends
(a "Scheduled Event": version, id, detail-type, source ``aws.events``, account, time,
region, resources [the rule's ARN], detail {}).

Every ``VOIX_SCHEDULER_TICK`` seconds (default 1) the scheduler fires what is due. When the
stack starts, each schedule fires once: a rate at once (as a new EventBridge rule does), a
cron for its latest occurrence, missed while the stack was down (so a fresh ``make run``
sends yesterday's digest and rolls up the last hours). A handler that fails is logged and
fired again at its next occurrence, as EventBridge would.

EventBridge delivers an event at least once: ``VOIX_SCHEDULER_DELIVERIES=2`` delivers each
one twice (same event id), to rehearse the duplicate that every scheduled function must absorb.
``VOIX_SCHEDULER_NO_CATCH_UP=send_digests`` (names, comma-separated): those crons do not fire for the
occurrence missed while the stack was down, only from their next one (a stack of 2,000 sites spends minutes
on yesterday's 2,000 digests; the dashboard's test of 2,000 sites does not need them).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.clock import utcnow

ACCOUNT = "123456789012"
MONTHS = {name: i for i, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}
WEEKDAYS = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}
RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """The values one cron field allows (None: any). EventBridge syntax: ``*``, ``?``, lists, ranges, steps."""
    if text in ("*", "?"):
        return None
    def number(word: str) -> int:
        try:
            value = names[word] if names and word in names else int(word)
        except ValueError:
            raise ValueError(f"cron field {text!r}: {word!r} is not a value the local scheduler reads "
                             "(L, W and # are not supported)") from None
        if not low <= value <= high:
            raise ValueError(f"cron field {text!r}: {value} is outside {low}-{high}")
        return value

    values: set[int] = set()
    for part in text.upper().split(","):
        spec, _, step = part.partition("/")
        if spec == "*":
            first, last = low, high
        elif "-" in spec:
            first, last = (number(w) for w in spec.split("-", 1))
        else:
            first = number(spec)
            last = high if step else first
        values.update(range(first, last + 1, int(step) if step else 1))
    return values


@dataclass(frozen=True)
class Cron:
    """``cron(minutes hours day-of-month month day-of-week year)``, in UTC, as EventBridge reads it."""

    minutes: set[int] | None
    hours: set[int] | None
    days: set[int] | None
    months: set[int] | None
    weekdays: set[int] | None  # 1 = Sunday ... 7 = Saturday
    years: set[int] | None

    @classmethod
    def parse(cls, fields: str) -> Cron:
        parts = fields.split()
        if len(parts) != 6:
            raise ValueError(f"cron({fields}): six fields expected")
        minute, hour, day, month, weekday, year = parts
        if (day == "?") == (weekday == "?"):
            raise ValueError(f"cron({fields}): exactly one of day-of-month and day-of-week must be '?'")
        return cls(_field(minute, 0, 59), _field(hour, 0, 23), _field(day, 1, 31), _field(month, 1, 12, MONTHS),
                   _field(weekday, 1, 7, WEEKDAYS), _field(year, 1970, 2199))

    def _day_matches(self, day: datetime) -> bool:
        weekday = day.isoweekday() % 7 + 1  # Sunday 1, Monday 2 ... Saturday 7
        return ((self.years is None or day.year in self.years) and (self.months is None or day.month in self.months)
                and (self.days is None or day.day in self.days)
                and (self.weekdays is None or weekday in self.weekdays))

    def _times(self, day: datetime, reverse: bool) -> Iterator[datetime]:
        hours = sorted(self.hours if self.hours is not None else range(24), reverse=reverse)
        minutes = sorted(self.minutes if self.minutes is not None else range(60), reverse=reverse)
        for hour in hours:
            for minute in minutes:
                yield day.replace(hour=hour, minute=minute)

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after ``moment``."""
        day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        for _ in range(366 * 5):
            if self._day_matches(day):
                for when in self._times(day, reverse=False):
                    if when > moment:
                        return when
            day += timedelta(days=1)
        raise ValueError("this cron expression never fires in the next five years")

    def latest_at_or_before(self, moment: datetime) -> datetime | None:
        """The last occurrence at or before ``moment`` (within five years), or None."""
        day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        for _ in range(366 * 5):
            if self._day_matches(day):
                for when in self._times(day, reverse=True):
                    if when <= moment:
                        return when
            day -= timedelta(days=1)
        return None


@dataclass
class Schedule:
    """One ``@app.schedule`` function: its name, expression, handler, and when it is next due."""

    name: str
    expression: str
    handler: Callable[[dict, Any], Any]
    due: datetime | None = None
    fired: int = 0
    _cron: Cron | None = field(default=None, repr=False)
    _period: timedelta | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        kind, _, rest = self.expression.partition("(")
        body = rest.rstrip(")").strip()
        if kind == "rate":
            value, _, unit = body.partition(" ")
            if unit not in RATE_UNITS or int(value) < 1:
                raise ValueError(f"{self.expression}: not a rate EventBridge accepts")
            self._period = timedelta(seconds=int(value) * RATE_UNITS[unit])
        elif kind == "cron":
            self._cron = Cron.parse(body)
        else:
            raise ValueError(f"{self.expression}: rate(...) or cron(...) expected")

    def first_due(self, start: datetime) -> datetime:
        """When the stack starts: a rate at once, a cron at its latest occurrence (or its next one)."""
        if self._cron is None:
            return start
        return self._cron.latest_at_or_before(start) or self._cron.next_after(start)

    def next_after(self, moment: datetime) -> datetime:
        if self._cron is not None:
            return self._cron.next_after(moment)
        assert self._period is not None
        return moment + self._period


def schedules_of(app: Any, module: Any) -> list[Schedule]:
    """Every ``@app.schedule`` of a Chalice ``app``, with its handler (an attribute of ``module``)."""
    from chalice.app import ScheduledEventConfig

    found = []
    for source in app.event_sources:
        if isinstance(source, ScheduledEventConfig):
            expression = source.schedule_expression
            text = expression if isinstance(expression, str) else expression.to_string()
            found.append(Schedule(source.name, text, getattr(module, source.name)))
    return found


def rule_arn(app_name: str, stage: str, name: str, region: str) -> str:
    return f"arn:aws:events:{region}:{ACCOUNT}:rule/{app_name}-{stage}-{name}"


def scheduled_event(rule: str, at: datetime, region: str) -> dict[str, Any]:
    """What EventBridge sends a Lambda for a schedule (AWS's documented "Scheduled Event" sample)."""
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT, "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
        "resources": [rule], "detail": {},
    }


class Scheduler:
    """Fires due schedules every tick, in one thread (``run``), until ``stopping`` is set."""

    def __init__(self, schedules: list[Schedule], *, app_name: str = "voix", stage: str = "dev",
                 region: str | None = None, tick: float | None = None, deliveries: int | None = None,
                 now: Callable[[], datetime] = utcnow,  # the injected clock: faketime moves it
                 no_catch_up: set[str] | None = None):
        self.schedules = schedules
        self.region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "eu-west-2"
        self.tick = tick if tick is not None else float(os.environ.get("VOIX_SCHEDULER_TICK") or 1)
        if not self.tick > 0:
            raise ValueError("VOIX_SCHEDULER_TICK must be a positive number of seconds")
        self.deliveries = deliveries if deliveries is not None else \
            int(os.environ.get("VOIX_SCHEDULER_DELIVERIES") or 1)
        if self.deliveries < 1:
            raise ValueError("VOIX_SCHEDULER_DELIVERIES must be 1 or more")
        self._app_name, self._stage, self._now = app_name, stage, now
        if no_catch_up is None:
            no_catch_up = {n.strip() for n in (os.environ.get("VOIX_SCHEDULER_NO_CATCH_UP") or "").split(",")
                           if n.strip()}
        unknown = no_catch_up - {s.name for s in schedules}
        if unknown:
            raise ValueError(f"VOIX_SCHEDULER_NO_CATCH_UP names no schedule: {', '.join(sorted(unknown))}")
        start = now()
        for schedule in schedules:
            schedule.due = (schedule.next_after(start) if schedule.name in no_catch_up and schedule._cron
                            else schedule.first_due(start))

    def run_due(self) -> list[str]:
        """Fire every schedule that is due now; returns their names. A schedule that fell behind
        (the machine slept) fires once, for its latest missed occurrence, as EventBridge would not
        replay a backlog either."""
        from infra.local_worker import FakeLambdaContext
        from infra.local_worker import log as logger

        now = self._now()
        fired = []
        for schedule in self.schedules:
            if schedule.due is None or schedule.due > now:
                continue
            at = schedule.due
            while True:  # skip to the latest occurrence not after now
                following = schedule.next_after(at)
                if following > now:
                    break
                at = following
            schedule.due = schedule.next_after(at)
            event = scheduled_event(rule_arn(self._app_name, self._stage, schedule.name, self.region), at,
                                    self.region)
            for delivery in range(1, self.deliveries + 1):
                context = FakeLambdaContext(function_name=f"{self._app_name}-{self._stage}-{schedule.name}")
                logger.info("scheduled event", extra={"schedule": schedule.name, "scheduled_time": event["time"],
                                                      "event_id": event["id"], "delivery": delivery})
                try:
                    schedule.handler(event, context)
                except Exception:
                    logger.exception("scheduled function failed", extra={"schedule": schedule.name,
                                                                         "scheduled_time": event["time"]})
            schedule.fired += 1
            fired.append(schedule.name)
        return fired

    def run(self, stopping: threading.Event) -> None:
        from infra.local_worker import log

        while not stopping.is_set():
            try:
                self.run_due()
            except Exception:  # the scheduler itself must not die silently: say so, keep ticking
                log.exception("local scheduler error")
            stopping.wait(self.tick)
