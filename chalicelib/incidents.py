"""Emerging issues: a rise of one topic's messages at a site (or across the network) against its own baseline.

Read from the counter items alone (no message is scanned). The baseline of a topic at an hour is the site's
messages at the same local hour of the week (the site's zone) over ``weeks`` earlier weeks times the topic's
share of the site's messages over those whole weeks (week items), or the topic's own count at that hour when it
is clearly higher.
Under it a count is Poisson with mean ``expected``; the windows tested each check are this hour so far, the
previous hour with this one, and the last 5, 10 and 15 minutes (from the counts the detector read that long
ago). A count whose one-sided tail ``P(X >= observed)`` is at most ``alpha`` and which is at least
``min_count`` opens an incident (once per site, topic and opening hour); once acknowledged it closes when no
window's tail is at or below ``close_alpha`` any more (and it has been open ``min_open``). One nobody has
acknowledged stays open (its banner stays on the dashboard) until someone does, however normal the rate; once
back to normal (``normal_at``) it no longer hides a later rise of its site and topic, which opens anew.

Pure domain: the counters, the incidents, the messages (three examples, by id: chalicelib.incident_examples)
and the jobs queue are ports.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from chalicelib.clock import iso, utcnow
from chalicelib.configuration import Config
from chalicelib.observability import logger as log

NETWORK = "_network"  # the scope of an incident of the whole network (no site)
STATUSES = ("open", "acknowledged", "closed")
EXAMPLES = 3


@dataclass(frozen=True)
class Settings:
    """The detector's thresholds (README, "Emerging issues")."""

    alpha: float = 1e-5  # one-sided Poisson false-alarm rate of one window at one check (calibrated: bench)
    network_alpha: float = 1e-6  # the same for the network's incidents (tested every minute, large counts)
    min_count: int = 6  # fewer messages than this never open an incident, however quiet the baseline
    weeks: int = 6  # the baseline: the same hour of the week over this many earlier weeks
    windows: tuple[int, ...] = (5, 10, 15)  # the short windows, minutes (from the warm process's snapshots)
    floor_per_hour: float = 0.5  # a baseline of nothing is taken as this many messages an hour
    close_alpha: float = 0.05  # back to normal: neither window's tail at or below this
    min_open: timedelta = timedelta(minutes=15)  # an incident is open at least this long
    min_elapsed: timedelta = timedelta(minutes=5)  # the current hour counts as at least this long gone


def poisson_tail(observed: int, expected: float) -> float:
    """``P(X >= observed)`` for ``X`` Poisson of mean ``expected``, summed from the tail itself (no ``1 - cdf``
    cancellation for the small probabilities a test needs)."""
    if observed <= 0:
        return 1.0
    if expected <= 0:
        return 0.0
    if observed <= expected:  # the lower side is the smaller sum here; no small tail to lose
        term = total = math.exp(-expected)
        for k in range(1, observed):
            term *= expected / k
            total += term
        return max(0.0, 1.0 - total)
    term = math.exp(observed * math.log(expected) - expected - math.lgamma(observed + 1))
    total, k = 0.0, observed
    while term > total * 1e-15:
        total += term
        k += 1
        term *= expected / k
    return min(1.0, total)


@dataclass(frozen=True)
class Assessment:
    observed: int
    expected: float
    p: float  # the smaller tail of the two windows
    elevated: bool
    normal: bool
    minutes: int = 60  # the length of the window that gave ``p``


def assess(current: int, previous: int, base_current: float, base_previous: float, elapsed: float,
           settings: Settings, recent: Iterable[tuple[int, float, float]] = ()) -> Assessment:
    """The windows (this hour so far; the previous hour and this one so far; and each short window the
    detector has a snapshot for) against their baselines (messages an hour at this hour and the one before);
    ``elapsed``: the share of this hour gone (0 to 1); ``recent``: (messages since a snapshot, share of the
    previous hour and of this one the window covers) for each short window."""
    floor = settings.floor_per_hour
    elapsed = max(elapsed, settings.min_elapsed.total_seconds() / 3600)
    now_rate, before_rate = max(base_current, floor), max(base_previous, floor)
    windows = [(current, now_rate * elapsed, elapsed), (previous + current, before_rate + now_rate * elapsed,
                                                         1 + elapsed)]
    windows += [(n, before_rate * before + now_rate * now, before + now) for n, before, now in recent]
    best = (1.0, windows[0])
    for observed, expected, hours in windows:
        # a quick bound first: a count under its mean plus two deviations is far from any alarm
        p = 1.0 if observed < expected + 2 * math.sqrt(expected) else poisson_tail(observed, expected)
        if p < best[0]:
            best = (p, (observed, expected, hours))
    p, (observed, expected, hours) = best
    elevated = p <= settings.alpha and observed >= settings.min_count
    return Assessment(observed, round(expected, 2), p, elevated, p > settings.close_alpha, max(1, round(hours * 60)))


def expected_rate(own: list[int], totals: list[int], share: float | None) -> float:
    """A topic's messages an hour at one hour of the week, from that hour in each earlier week: the site's
    messages there (``totals``, the mean) times the topic's ``share`` of the site's messages over those whole
    weeks (a far larger count than the topic's own at one hour, so a far steadier one); or the topic's own
    count there (``own``) when it is clearly higher (its mean one deviation down on the square-root scale: a
    topic that is busier at this hour than its share says keeps its own baseline). No share (no week item):
    the topic's own mean."""
    weeks = max(1, len(own))
    if share is None:
        return sum(own) / weeks
    return max(share * sum(totals) / weeks, max(0.0, math.sqrt(sum(own)) - 1) ** 2 / weeks)


def hour_key(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H")


def baseline_hours(hour: datetime, weeks: int, zone: str = "UTC") -> list[str]:
    """The same local hour of the week in ``zone``, ``weeks`` earlier weeks, as UTC hour keys: across a clock
    change a shop's 09:00 is compared with its 09:00 of earlier weeks, not with the UTC hour before it."""
    tz = ZoneInfo(zone)
    local = hour.astimezone(tz).replace(tzinfo=None)
    return [hour_key((local - timedelta(days=7 * k)).replace(tzinfo=tz).astimezone(UTC))
            for k in range(1, weeks + 1)]


def week_key(at: datetime) -> str:
    year, week, _ = at.isocalendar()
    return f"{year:04d}-W{week:02d}"


def incident_id(scope: str, topic: str, opening_hour: str) -> str:
    """A short, stable id: a second check of the same rise in the same hour finds the same incident."""
    digest = hashlib.sha256(f"incident:{scope}:{topic}:{opening_hour}".encode()).digest()
    return base64.b32encode(digest).decode()[:12]


class IncidentPort(Protocol):
    def hour_counts(self, sites: list[str], hours: list[str], fields: list[str]
                    ) -> dict[tuple[str, str], dict[str, int]]: ...
    def week_counts(self, sites: list[str], weeks: list[str], fields: list[str]
                    ) -> dict[tuple[str, str], dict[str, int]]: ...
    def open_incident(self, incident: dict[str, Any]) -> bool: ...
    def incidents(self, status: str, limit: int) -> list[dict[str, Any]]: ...
    def get_incident(self, incident_id: str) -> dict[str, Any] | None: ...
    def set_status(self, incident_id: str, *, allowed_from: list[str], to_status: str, at: str,
                   by: str | None = None) -> dict[str, Any]: ...
    def mark_alerted(self, incident_id: str) -> None: ...
    def mark_normal(self, incident_id: str, at: str) -> None: ...


class IncidentDetector:
    """One check of every site and topic, and of every topic across the network (the scheduled job)."""

    def __init__(self, *, config: Config, incidents: IncidentPort, jobs: Any,
                 examples: Callable[[str | None, str, str, str], list[dict[str, Any]]],
                 now: Callable[[], datetime] = utcnow, settings: Settings | None = None,
                 retention_days: int = 90):
        self._config = config
        self._store = incidents
        self._jobs = jobs
        self._examples = examples  # (site, topic, since, until) -> up to three message ids ({"id": ...})
        self._now = now
        self.settings = settings or Settings()
        self._retention = retention_days
        self._cache: dict[tuple[str, str], dict[str, int]] = {}  # closed hours' items (they no longer move)
        self._cache_hour = ""
        self._fields: list[str] = []
        self._snapshots: list[tuple[datetime, str, dict[str, dict[str, int]]]] = []  # the last 20 minutes' reads

    def _read(self, scopes: list[str], closed: list[str], current: str | None = None, weekly: bool = False
              ) -> dict[tuple[str, str], dict[str, int]]:
        """Counts by (scope, hour): ``closed`` hours (before the current one: they no longer move), or weeks
        (``weekly``), read once per process and hour, ``current`` read each time."""
        if self._now().strftime("%Y-%m-%dT%H") != self._cache_hour:
            self._cache, self._cache_hour = {}, self._now().strftime("%Y-%m-%dT%H")
        missing = sorted({s for s in scopes for h in closed if (s, h) not in self._cache})
        if missing:
            read = self._store.week_counts if weekly else self._store.hour_counts
            found = read(missing, closed, self._fields)
            for scope in missing:
                for hour in closed:
                    self._cache[(scope, hour)] = found.get((scope, hour), {})
        out = {(s, h): self._cache[(s, h)] for s in scopes for h in closed}
        if current:
            fresh = self._store.hour_counts(scopes, [current], self._fields)
            out.update({(s, current): fresh.get((s, current), {}) for s in scopes})
        return out

    def _recent(self, now: datetime, start: datetime, cur: str, prev: str, scopes: list[str],
                counts: dict[tuple[str, str], dict[str, int]]) -> list[tuple[datetime, str, dict]]:
        """The snapshots the short windows start from (the latest at least each window old, of this hour or the
        last), then this check's counts kept as the newest snapshot."""
        found = []
        for minutes in sorted(self.settings.windows):
            snap = next((x for x in reversed(self._snapshots) if now - x[0] >= timedelta(minutes=minutes)), None)
            if snap is not None and snap[1] in (cur, prev) and all(snap is not f for f in found):
                found.append(snap)
        keep = timedelta(minutes=max(self.settings.windows, default=0) + 5)
        self._snapshots = [x for x in self._snapshots if now - x[0] <= keep]
        self._snapshots.append((now, cur, {s: counts[(s, cur)] for s in scopes}))
        return found

    def check(self) -> dict[str, int]:
        """Open, re-alert and close incidents; the counts of what it did."""
        now = self._now()
        start = now.replace(minute=0, second=0, microsecond=0)
        cur, prev = hour_key(start), hour_key(start - timedelta(hours=1))
        elapsed = (now - start).total_seconds() / 3600
        topics = list(self._config.topics)
        self._fields = ["n", *(f"topic_{t}" for t in topics)]
        scopes = [s.id for s in self._config.sites] + [NETWORK]
        if now - start >= self.settings.min_elapsed:
            counts = self._read(scopes, [prev], cur)
        else:  # the previous hour's last messages may still be being counted: read it fresh too
            fresh = self._store.hour_counts(scopes, [cur, prev], self._fields)
            counts = {(s, h): fresh.get((s, h), {}) for s in scopes for h in (cur, prev)}
        snapshots = self._recent(now, start, cur, prev, scopes, counts)
        listed = [i for status in ("open", "acknowledged") for i in self._store.incidents(status, 1000)]
        # the incident that watches its site and topic: acknowledged, or open and not yet back to normal (an
        # unacknowledged one back to normal keeps its banner but no longer hides a new rise: a later one opens)
        active: dict[tuple[str, str], dict[str, Any]] = {}
        for incident in listed:  # newest first
            if incident["status"] == "acknowledged" or not incident.get("normal_at"):
                active.setdefault((incident["scope"], incident["topic"]), incident)
        candidates = [(s, t) for s in scopes for t in topics
                      if (s, t) in active or counts[(s, cur)].get(f"topic_{t}", 0)
                      + counts[(s, prev)].get(f"topic_{t}", 0) >= self.settings.min_count]
        done = {"opened": 0, "closed": 0, "alerted": 0, "checked": len(candidates)}
        configured = {(s, t) for s in scopes for t in topics}
        for incident in listed:  # a site or topic removed
            if (incident["scope"], incident["topic"]) not in configured:
                done["closed"] += self._close(incident["id"], now)
        if not candidates:
            return done
        weeks = self.settings.weeks
        network = replace(self.settings, alpha=self.settings.network_alpha)
        checked = sorted({s for s, _ in candidates})
        zones = {s: self._zone(s) for s in checked}
        hours = {z: {h: baseline_hours(start - timedelta(hours=h), weeks, z) for h in (0, 1)}
                 for z in set(zones.values())}
        base: dict[tuple[str, str], dict[str, int]] = {}
        for zone, past in hours.items():  # the same local hours of earlier weeks, zone by zone
            base.update(self._read([s for s in checked if zones[s] == zone], [*past[0], *past[1]]))
        whole = [week_key(start - timedelta(days=7 * k)) for k in range(1, weeks + 1)]
        totals = self._read(checked, whole, weekly=True)
        for scope, topic in candidates:
            field, past = f"topic_{topic}", hours[zones[scope]]
            now_count, before = counts[(scope, cur)].get(field, 0), counts[(scope, prev)].get(field, 0)
            all_n = sum(totals[(scope, w)].get("n", 0) for w in whole)
            share = sum(totals[(scope, w)].get(field, 0) for w in whole) / all_n if all_n else None
            found = active.get((scope, topic))
            if found is None and not all_n and not any(base[(scope, h)].get("n", 0) for k in (0, 1) for h in past[k]):
                continue  # no history at all (a new deployment or site): no baseline to rise above
            rates = [expected_rate([base[(scope, h)].get(field, 0) for h in past[k]],
                                   [base[(scope, h)].get("n", 0) for h in past[k]], share) for k in (0, 1)]
            recent = []
            for then_at, then_hour, then_counts in snapshots:
                then = then_counts.get(scope, {}).get(field, 0)
                if then_hour == cur:
                    recent.append((max(0, now_count - then), 0.0, (now - then_at) / timedelta(hours=1)))
                else:
                    recent.append((max(0, now_count + before - then), (start - then_at) / timedelta(hours=1),
                                   elapsed))
            result = assess(now_count, before, rates[0], rates[1], elapsed, network if scope == NETWORK else
                            self.settings, recent)
            if found is None and result.elevated:
                done["opened"] += self._open(scope, topic, cur, start, now, result)
            elif found is not None and not found.get("alerted"):
                done["alerted"] += self._alert(found)  # opened while the queue was down: queued now
            if found is not None and result.normal and now - _time(found["opened_at"]) >= self.settings.min_open:
                if found["status"] == "acknowledged":
                    done["closed"] += self._close(found["id"], now, ["acknowledged"])
                else:  # unacknowledged: stays open (its banner), no longer hiding a new rise
                    self._store.mark_normal(found["id"], iso(now))
        return done

    def _zone(self, scope: str) -> str:
        from chalicelib.i18n import network_zone

        site = None if scope == NETWORK else self._config.site(scope)
        return site.timezone if site is not None else network_zone(self._config)

    def _close(self, incident_id: str, now: datetime, allowed: tuple[str, ...] | list[str] = STATUSES[:2]) -> int:
        from chalicelib.errors import Conflict, NotFound

        try:
            self._store.set_status(incident_id, allowed_from=list(allowed), to_status="closed",
                                   at=iso(now))
        except (Conflict, NotFound):  # closed by a concurrent check (EventBridge may deliver twice), or expired
            return 0
        return 1

    def _open(self, scope: str, topic: str, hour: str, start: datetime, now: datetime, result: Assessment) -> int:
        site = None if scope == NETWORK else scope
        incident = {
            "id": incident_id(scope, topic, hour), "scope": scope, "site": site, "topic": topic, "hour": hour,
            "status": "open", "opened_at": iso(now), "observed": result.observed, "expected": result.expected,
            "p_value": float(f"{result.p:.3g}"),
            "window_minutes": result.minutes,
            "examples": self._examples(site, topic, iso(start - timedelta(hours=1)), iso(now))[:EXAMPLES],
            "recipients": self._recipients(site), "alerted": False,
            "ttl": int((now + timedelta(days=self._retention)).timestamp()),
        }
        if not self._store.open_incident(incident):
            return 0  # this rise was opened by an earlier check in the same hour
        log.warning("incident %s opened: %s at %s, %s messages (expected %s)", incident["id"], topic, scope,
                    result.observed, result.expected)
        self._alert(incident)
        return 1

    def _recipients(self, site: str | None) -> dict[str, dict[str, str]]:
        """The site's manager (e-mail and SMS) and central care (e-mail); the network's: central care."""
        found = self._config.site(site) if site else None
        out: dict[str, dict[str, str]] = {}
        for channel, role, targets in (("email", "site_manager", found.manager_email if found else []),
                                       ("sms", "site_manager", found.manager_sms if found else []),
                                       ("email", "care", self._config.deployment.care_email)):
            for n, to in enumerate(targets):
                out[f"{role}-{channel}-{n}"] = {"channel": channel, "role": role, "to": to}
        return out

    def _alert(self, incident: dict[str, Any]) -> int:
        """Queue one alert job per recipient (each sent once: the worker claims it), then note it queued."""
        from chalicelib.jobs import QueueError

        try:
            self._jobs.send_many([{"type": "incident_alert", "incident_id": incident["id"], "recipient": r}
                                  for r in incident["recipients"]])
        except QueueError as exc:  # the next check queues them (the incident is not marked alerted)
            log.error("incident %s: alerts not queued: %s", incident["id"], exc)
            return 0
        self._store.mark_alerted(incident["id"])
        return 1


def _time(value: str) -> datetime:
    from chalicelib.clock import parse_time

    return parse_time(value)
