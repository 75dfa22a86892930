"""The daily digest: one e-mail per site manager and one for central care, sent each morning.

Yesterday's numbers (UTC day) against the same day a week before, the cases still open,
and a few verbatims (the latest complaints and compliments, forbidden words masked).
Everything is read through the operator API, so the digest says what the dashboard says.
A digest is sent once per recipient and day: a marker item is claimed before sending
and released if the sending fails, so a re-run sends only what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib import channels
from chalicelib.clock import iso, utcnow
from chalicelib.configuration import Config
from chalicelib.notify import DeliveryFailed, EmailAlerts
from chalicelib.observability import logger as log  # JSON, with the correlation id
from chalicelib.ports import Offers

VERBATIMS = {"complaint": 3, "compliment": 2}


@dataclass(frozen=True)
class Section:
    """What one digest covers: a site, or the whole network (``site`` None)."""

    title: str
    site: str | None
    recipients: list[str]


def _change(now: int, before: int) -> str:
    if before == 0:
        return "new" if now else "="
    delta = round(100 * (now - before) / before)
    return f"{delta:+d}%"


def compose(title: str, day: str, current: dict[str, Any], week_before: dict[str, Any],
            open_cases: list[dict[str, Any]], verbatims: list[dict[str, Any]],
            sites: dict[str, int] | None = None, ranked: dict[str, Any] | None = None,
            labels: dict[str, str] | None = None) -> tuple[str, str]:
    """The digest's subject and plain-text body (pure); ``ranked``: ``sites`` holds only the busiest and
    quietest of a large network (``sites_ranked`` of the metrics); ``labels``: each channel's name for people."""
    totals, before = current["totals"], week_before["totals"]
    n, complaints, compliments = totals["messages"], totals["nature"]["complaint"], totals["nature"]["compliment"]
    subject = f"[Voix] {title}, {day}: {n} messages, {complaints} complaints, {len(open_cases)} open cases"
    rows = [
        ("Messages", n, before["messages"]),
        ("Complaints", complaints, before["nature"]["complaint"]),
        ("Compliments", compliments, before["nature"]["compliment"]),
        ("Suggestions", totals["nature"]["suggestion"], before["nature"]["suggestion"]),
        ("Questions", totals["nature"]["question"], before["nature"]["question"]),
        ("Urgent", totals["urgency"]["high"], before["urgency"]["high"]),
        ("Acknowledged", totals["acknowledged"], before["acknowledged"]),
    ]
    lines = [f"Voix daily digest - {title} - {day} (UTC)", "",
             f"{'':14}{'yesterday':>10}{'week before':>13}{'change':>9}"]
    lines += [f"{label:14}{now:>10}{then:>13}{_change(now, then):>9}" for label, now, then in rows]
    median = totals["median_seconds_to_acknowledge"]
    lines.append(f"{'Median time to acknowledge':28} {round(median / 60) if median is not None else '-'} min")
    first = totals.get("average_seconds_to_first_reply")
    lines.append(f"{'Time to first reply':28} {round(first / 60) if first is not None else '-'} min "
                 f"({totals.get('replied') or 0} cases answered)")
    promises = totals["promises"]
    if promises["share_kept"] is not None:
        lines.append(f"{'Promises kept':28} {round(100 * promises['share_kept'])}% "
                     f"({promises['kept']} of {promises['kept'] + promises['missed']})")
    lines += _by_channel(totals.get("channel") or {}, before.get("channel") or {}, labels or {})
    if ranked:
        lines += ["", f"By site: the {len(ranked['top'])} busiest and the {len(ranked['bottom'])} quietest "
                      f"of {ranked['of']} sites with messages"
                      + (f" (ranked at {ranked['as_of'][11:16]} UTC)" if ranked["as_of"] else " (not ranked yet)")
                      + ":"] + [f"  {name:30} {count:>6}" for name, count in
                                sorted((sites or {}).items(), key=lambda kv: -kv[1])]
    elif sites:
        lines += ["", "By site:"] + [f"  {name:30} {count:>6}" for name, count in
                                     sorted(sites.items(), key=lambda kv: -kv[1])]
    lines += ["", f"Open cases: {len(open_cases)}"]
    for case in open_cases[:10]:
        lines.append(f"  {case.get('code') or case['id']}  {case.get('site') or 'unknown'}  {case['urgency']:6}  "
                     f"opened {case['created_at'][:16].replace('T', ' ')}  {case['nature']}/{case['topic']}")
    if len(open_cases) > 10:
        lines.append(f"  ... and {len(open_cases) - 10} more on the dashboard")
    if verbatims:
        lines += ["", "In their words:"]
        lines += [f'  [{v["nature"]}] "{v["text"]}"' for v in verbatims]
    return subject, "\n".join(lines) + "\n"


def _by_channel(now: dict[str, int], then: dict[str, int], labels: dict[str, str]) -> list[str]:
    """Messages by channel, yesterday against the week before: the channels that had any."""
    used = [c for c in sorted({*now, *then}) if now.get(c) or then.get(c)]
    if not used:
        return []
    return ["", "By channel:"] + [f"  {labels.get(c, c):26}{now.get(c, 0):>6}{then.get(c, 0):>13}"
                                  f"{_change(now.get(c, 0), then.get(c, 0)):>9}" for c in used]


class DigestService:
    """The daily digest: yesterday's figures, open cases and verbatims, e-mailed once to each site
    manager and to central care."""

    def __init__(self, *, config: Config, markers: Offers, api: Any, email: EmailAlerts,
                 now: Callable[[], datetime] = utcnow):
        self._config = config
        self._markers = markers
        self._api = api
        self._email = email
        self._now = now

    def sections(self) -> list[Section]:
        out = [Section(s.name, s.id, list(s.manager_email)) for s in self._config.sites if s.manager_email]
        out.append(Section(f"{self._config.deployment.name} network", None, list(self._config.deployment.care_email)))
        return out

    def build(self, section: Section, day: datetime,
              open_cases: list[dict[str, Any]] | None = None) -> tuple[str, str]:
        since, until = day, day + timedelta(days=1) - timedelta(milliseconds=1)
        common = {"site": section.site} if section.site else {}
        current = self._api.metrics({**common, "since": iso(since), "until": iso(until), "bucket": "day"})
        before = self._api.metrics({**common, "since": iso(since - timedelta(days=7)),
                                    "until": iso(until - timedelta(days=7)), "bucket": "day"})
        cases = [c for c in (open_cases if open_cases is not None else self._open_cases())
                 if section.site is None or c.get("site") == section.site]
        verbatims = []
        for nature, count in VERBATIMS.items():
            verbatims += self._api.feedback({**common, "nature": nature, "since": iso(since), "until": iso(until),
                                             "limit": str(count)})["items"]
        sites = None
        if section.site is None:
            sites = {(self._config.site(k).name if self._config.site(k) else k): v
                     for k, v in current["totals"]["site"].items()}
        return compose(section.title, day.date().isoformat(), current, before, cases, verbatims, sites,
                       current.get("sites_ranked"), {name: channels.get(name).label for name in channels.names()})

    def _open_cases(self, pages: int = 50) -> list[dict[str, Any]]:
        """Every open case (network-wide, newest first), page by page: a site's count is then whole."""
        cases: list[dict[str, Any]] = []
        cursor = None
        for _ in range(pages):  # 10,000 open cases at most: past that, the dashboard is the place
            page = self._api.cases({"status": "open", "limit": "200", **({"cursor": cursor} if cursor else {})})
            cases += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        return cases

    def send_all(self, day: datetime | None = None) -> dict[str, int]:
        """Send yesterday's digests (or ``day``'s) that were not sent yet; returns sent and failed counts."""
        day = (day or self._now() - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        sent = failed = 0
        open_cases = self._open_cases()  # once for every section: 2,000 sites are 2,000 digests
        for section in self.sections():
            subject, body = self.build(section, day, open_cases)
            for to in section.recipients:
                marker = f"{day.date().isoformat()}#{to}"
                kept = int((day + timedelta(days=30)).timestamp())
                if not self._markers.claim_marker("digest", marker, expires_at=kept):
                    continue  # sent by an earlier run
                try:
                    self._email.send(to, subject, body)
                    sent += 1
                except DeliveryFailed as exc:
                    self._markers.release_marker("digest", marker)
                    log.warning("digest for %s not sent: %s", to, exc)
                    failed += 1
        return {"sent": sent, "failed": failed}
