"""The daily digest: one e-mail per site manager and one for central care, sent each morning.

Yesterday's numbers (the site's local day; the network's: where most sites are, UTC past 50 sites as its
ranking of the busiest and quietest sites is by UTC day) against the same day a week before, the cases still
open, and a few verbatims (the latest complaints and compliments, forbidden words masked). Each recipient
reads it in their language (``chalicelib/locales``), times in the section's time zone.
Everything is read through the operator API, so the digest says what the dashboard says.
A digest is sent once per recipient and day: a marker item is claimed before sending
and released if the sending fails, so a re-run sends only what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.clock import iso, utcnow
from chalicelib.configuration import Config
from chalicelib.i18n import LANGUAGES, format_date, format_datetime, label, network_zone, reader_language, t
from chalicelib.notify import DeliveryFailed, EmailAlerts
from chalicelib.observability import logger as log  # JSON, with the correlation id
from chalicelib.ports import Offers
from chalicelib.ranking import is_small

VERBATIMS = {"complaint": 3, "compliment": 2}


@dataclass(frozen=True)
class Section:
    """What one digest covers: a site, or the whole network (``site`` None), and the zone of its day."""

    title: str
    site: str | None
    recipients: list[str]
    zone: str = "UTC"


def is_digest(text: str) -> bool:
    """Is this e-mail body a daily digest (in any language)? Its first line says so."""
    return text.startswith(tuple(t("digest.header", lang).split("{")[0] for lang in LANGUAGES))


def _change(now: int, before: int, lang: str = "en") -> str:
    if before == 0:
        return t("digest.new", lang) if now else "="
    delta = round(100 * (now - before) / before)
    return f"{delta:+d}%"


def compose(title: str, day: str, current: dict[str, Any], week_before: dict[str, Any],
            open_cases: list[dict[str, Any]], verbatims: list[dict[str, Any]],
            sites: dict[str, int] | None = None, ranked: dict[str, Any] | None = None, *,
            lang: str = "en", zone: str = "UTC") -> tuple[str, str]:
    """The digest's subject and plain-text body (pure), in ``lang``, times in ``zone``; ``ranked``: ``sites``
    holds only the busiest and quietest of a large network (``sites_ranked`` of the metrics)."""
    totals, before = current["totals"], week_before["totals"]
    n, complaints, compliments = totals["messages"], totals["nature"]["complaint"], totals["nature"]["compliment"]
    subject = t("digest.subject", lang, title=title, day=day, messages=n, complaints=complaints,
                open=len(open_cases))
    rows = [
        ("digest.messages", n, before["messages"]),
        ("digest.complaints", complaints, before["nature"]["complaint"]),
        ("digest.compliments", compliments, before["nature"]["compliment"]),
        ("digest.suggestions", totals["nature"]["suggestion"], before["nature"]["suggestion"]),
        ("digest.questions", totals["nature"]["question"], before["nature"]["question"]),
        ("digest.urgent", totals["urgency"]["high"], before["urgency"]["high"]),
        ("digest.acknowledged", totals["acknowledged"], before["acknowledged"]),
    ]
    lines = [t("digest.header", lang, title=title, day=format_date(date.fromisoformat(day), lang), zone=zone), "",
             f"{'':14}{t('digest.yesterday', lang):>10}{t('digest.week_before', lang):>13}"
             f"{t('digest.change', lang):>9}"]
    lines += [f"{t(key, lang):14}{now:>10}{then:>13}{_change(now, then, lang):>9}"
              for key, now, then in rows]
    median = totals["median_seconds_to_acknowledge"]
    lines.append(f"{t('digest.median', lang):28} {round(median / 60) if median is not None else '-'} min")
    first = totals.get("average_seconds_to_first_reply")
    lines.append(f"{t('digest.first_reply', lang):28} {round(first / 60) if first is not None else '-'} min "
                 + t("digest.answered", lang, count=totals.get("replied") or 0))
    promises = totals["promises"]
    if promises["share_kept"] is not None:
        lines.append(f"{t('digest.promises', lang):28} {round(100 * promises['share_kept'])}% "
                     + t("digest.kept", lang, kept=promises["kept"], total=promises["kept"] + promises["missed"]))
    lines += _by_channel(totals.get("channel") or {}, before.get("channel") or {}, lang)
    if ranked:
        when = t("digest.ranked_at", lang, time=ranked["as_of"][11:16]) if ranked["as_of"] else \
            t("digest.not_ranked", lang)
        lines += ["", t("digest.ranked", lang, top=len(ranked["top"]), bottom=len(ranked["bottom"]), of=ranked["of"])
                  + f" ({when}):"] + [f"  {name:30} {count:>6}" for name, count in
                                      sorted((sites or {}).items(), key=lambda kv: -kv[1])]
    elif sites:
        lines += ["", t("digest.by_site", lang)] + [f"  {name:30} {count:>6}" for name, count in
                                                    sorted(sites.items(), key=lambda kv: -kv[1])]
    lines += ["", t("digest.open", lang, count=len(open_cases))]
    for case in open_cases[:10]:
        lines.append(f"  {case.get('code') or case['id']}  {case.get('site') or t('digest.unknown_site', lang)}  "
                     f"{label('urgency', case['urgency'], lang):6}  "
                     f"{t('digest.opened', lang, when=format_datetime(case['created_at'], lang, zone))}  "
                     f"{label('nature', case['nature'], lang)}/{label('topic', case['topic'], lang)}")
    if len(open_cases) > 10:
        lines.append("  " + t("digest.more", lang, count=len(open_cases) - 10))
    if verbatims:
        lines += ["", t("digest.verbatims", lang)]
        lines += [f'  [{label("nature", v["nature"], lang)}] "{v["text"]}"' for v in verbatims]
    return subject, "\n".join(lines) + "\n"


def _by_channel(now: dict[str, int], then: dict[str, int], lang: str) -> list[str]:
    """Messages by channel, yesterday against the week before: the channels that had any."""
    used = [c for c in sorted({*now, *then}) if now.get(c) or then.get(c)]
    if not used:
        return []
    return ["", t("digest.by_channel", lang)] + [
        f"  {label('channel', c, lang):26}{now.get(c, 0):>6}{then.get(c, 0):>13}"
        f"{_change(now.get(c, 0), then.get(c, 0), lang):>9}" for c in used]


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
        out = [Section(s.name, s.id, list(s.manager_email), s.timezone) for s in self._config.sites if s.manager_email]
        zone = network_zone(self._config) if is_small(self._config) else "UTC"  # ranked by UTC day
        out.append(Section(self._config.deployment.name, None, list(self._config.deployment.care_email), zone))
        return out

    def build(self, section: Section, day: datetime | date, open_cases: list[dict[str, Any]] | None = None,
              lang: str | None = None) -> tuple[str, str]:
        """The digest of ``day`` (a date of the section's zone) in ``lang`` (the section's readers' by default)."""
        day = day.date() if isinstance(day, datetime) else day
        lang = lang or reader_language(self._config, None, section.site)
        since, until = _local_day(day, section.zone), _local_day(day + timedelta(days=1), section.zone)
        until -= timedelta(milliseconds=1)
        common = {"site": section.site} if section.site else {}
        current = self._api.metrics({**common, "since": iso(since), "until": iso(until), "bucket": "day"})
        week = _local_day(day - timedelta(days=7), section.zone)
        week_end = _local_day(day - timedelta(days=6), section.zone) - timedelta(milliseconds=1)
        before = self._api.metrics({**common, "since": iso(week), "until": iso(week_end), "bucket": "day"})
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
        title = section.title if section.site else t("digest.network", lang, name=section.title)
        return compose(title, day.isoformat(), current, before, cases, verbatims, sites,
                       current.get("sites_ranked"), lang=lang, zone=section.zone)

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

    def send_all(self, day: datetime | date | None = None, *, at: datetime | None = None) -> dict[str, int]:
        """Send yesterday's digests (each section's local yesterday at ``at``, the schedule's own time, or now;
        or ``day``'s) that were not sent yet, each recipient's in their language; returns sent and failed counts.

        ``at`` is the time EventBridge scheduled the run for: a delivery that comes late, or a stack that starts
        at 23:30 and catches up on 06:00's run, still sends the day that run was for."""
        sent = failed = 0
        moment = at or self._now()
        open_cases = self._open_cases()  # once for every section: 2,000 sites are 2,000 digests
        for section in self.sections():
            local = (day.date() if isinstance(day, datetime) else day) if day else \
                moment.astimezone(ZoneInfo(section.zone)).date() - timedelta(days=1)
            texts: dict[str, tuple[str, str]] = {}
            for to in section.recipients:
                lang = reader_language(self._config, to, section.site)
                if lang not in texts:
                    texts[lang] = self.build(section, local, open_cases, lang)
                subject, body = texts[lang]
                marker = f"{local.isoformat()}#{to}"
                kept = int((_local_day(local, section.zone) + timedelta(days=30)).timestamp())
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


def _local_day(day: date, zone: str) -> datetime:
    """The instant (UTC) ``day`` starts in ``zone``."""
    return datetime.combine(day, time(), ZoneInfo(zone)).astimezone(UTC)
