"""``/api/metrics`` and ``/api/scorecards``: figures read from the site and network counter items."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib import channels, ranking
from chalicelib.api import responses
from chalicelib.api.base import ApiBase, answer, parse
from chalicelib.api.requests import MetricsQuery, QualityQuery, ScorecardQuery
from chalicelib.clock import day_key, hour_key, iso
from chalicelib.configuration import ACK_BOUNDS, LANGUAGES, NATURES, URGENCIES
from chalicelib.corrections import DIMENSIONS, quality
from chalicelib.errors import ApiError
from chalicelib.ports import NO_SITE

MAX_HOURLY_DAYS = 31


class MetricsApi(ApiBase):
    def metrics(self, params: dict[str, Any] | None) -> dict[str, Any]:
        """Totals, a series per bucket and per-site totals, read from the counter items.

        A site's view reads only that site's items; the network's totals and series read only the
        network's items. Per-site figures: every site of a small network, else the busiest and the
        quietest of the period's standard window (``ranking``), each read exactly for the period.
        ``topic``, ``nature`` and ``urgency`` filters are answered exactly from the cross
        counts; the language split is only known without them (``null`` otherwise). ``channel`` is
        answered from the channel × nature × urgency counts: with it, the topic split is ``null`` and
        a topic filter is refused (topics are not counted per channel).
        """
        query: MetricsQuery = parse(MetricsQuery, params)
        now = self._now()
        since, until = query.period(now, default_days=1 if query.bucket == "hour" else 30)
        if query.bucket == "hour" and until - since > timedelta(days=MAX_HOURLY_DAYS):
            raise ApiError(400, f"hourly buckets are limited to {MAX_HOURLY_DAYS} days; use bucket=day")
        if query.topic is not None and query.topic not in self._config.topics:
            raise ApiError(400, f"topic: unknown topic {query.topic!r}")
        known = channels.names()
        if query.channel is not None and query.channel not in known:
            raise ApiError(400, f"channel: unknown channel {query.channel!r} (one of {', '.join(known)})")
        if query.channel is not None and query.topic is not None:
            raise ApiError(400, "channel: topics are not counted per channel; filter a channel by nature or urgency")
        site = self._site(query.site)
        wanted = (query.topic, query.nature, query.urgency, query.channel)
        filtered = any(wanted)
        totals = _Tally(self._config.topics)
        totals.filtered = filtered  # even with no rows at all
        totals.topic = None if query.channel else totals.topic
        totals.channel = None if query.topic else totals.channel
        series: dict[str, _Tally] = {}
        buckets = period_buckets(since, until, query.bucket, now)
        fields = self._config.counter_fields() + channel_fields(known)
        counters = self._store.counters
        counts = counters.site_counts(site, buckets, fields) if site else counters.network_counts(buckets, fields)
        for key in sorted(counts):
            bucket = key[2:] + ":00:00Z" if query.bucket == "hour" else key[2:12]
            for tally in (totals, series.setdefault(bucket, _Tally(self._config.topics))):
                tally.add(counts[key], wanted, filtered)
        listed, ranked = self._listed(site, since, until)
        by_site: dict[str, _Tally] = {}
        for site_id in listed:
            rows = counts if site else counters.site_counts(site_id, buckets, fields)
            for row in rows.values():
                by_site.setdefault(_label(site_id), _Tally(self._config.topics)).add(row, wanted, filtered)
        return answer(responses.Metrics, {
            "since": iso(since), "until": iso(until), "bucket": query.bucket, "site": query.site,
            "filters": {"topic": query.topic, "nature": query.nature, "urgency": query.urgency,
                        "channel": query.channel},
            "totals": totals.as_dict() | {"site": {k: v.messages for k, v in by_site.items()}},
            "series": [{"t": t, **series[t].as_dict()} for t in sorted(series)],
            "sites": {k: v.as_dict() for k, v in sorted(by_site.items())},
            "sites_ranked": ranked,
        })

    def quality(self, params: dict[str, Any] | None) -> dict[str, Any]:
        """Observed quality over a period (at most 31 days), corrections taken as ground truth
        (``chalicelib.corrections``): read from the correction tally of the counter items (a site's, or the
        network's), never from the messages."""
        query: QualityQuery = parse(QualityQuery, params)
        now = self._now()
        since, until = query.period(now, default_days=MAX_HOURLY_DAYS - 1)
        if until - since > timedelta(days=MAX_HOURLY_DAYS):
            raise ApiError(400, f"quality covers at most {MAX_HOURLY_DAYS} days")
        site = self._site(query.site)
        labels = {"topic": tuple(self._config.topics), "nature": NATURES, "urgency": URGENCIES}
        fields = ["q_n"] + [f"q_{d}_{m}_{c}" for d in DIMENSIONS for m in labels[d] for c in labels[d]]
        buckets = period_buckets(since, until, "day", now)
        counters = self._store.counters
        rows = counters.site_counts(site, buckets, fields) if site else counters.network_counts(buckets, fields)
        return answer(responses.Quality, {"since": iso(since), "until": iso(until), "site": query.site,
                                          **quality(rows.values(), labels)})

    def _listed(self, site: str | None, since: datetime, until: datetime) -> tuple[list[str], dict[str, Any] | None]:
        """The sites a view breaks down: the one asked, every site of a small network, or the ranked ones."""
        if site:
            return [site], None
        if ranking.is_small(self._config):
            return ranking.site_ids(self._config), None
        return ranking.ranked_sites(self._store.counters, self._config, since, until, self._now())

    def scorecards(self, params: dict[str, Any] | None) -> dict[str, Any]:
        """Per site, and per member of staff where a roster says who was on duty: compliments,
        complaints, time to acknowledge and promises kept, over a period (at most 31 days).

        Each hour's counts (messages received, cases opened then) are credited to whoever was
        on duty at that site in that hour, in the site's time zone. One site's scorecard reads only
        that site's hours; the network's lists the sites a metrics view would (``ranking``).
        """
        query: ScorecardQuery = parse(ScorecardQuery, params)
        now = self._now()
        since, until = query.period(now, default_days=7)
        if until - since > timedelta(days=MAX_HOURLY_DAYS):
            raise ApiError(400, f"scorecards cover at most {MAX_HOURLY_DAYS} days")
        site = self._site(query.site)
        sites: dict[str, _Tally] = {}
        staff: dict[tuple[str, str], _Tally] = {}
        hours = period_buckets(since, until, "hour", now)
        days = period_buckets(since, until, "day", now)
        fields = self._config.counter_fields()
        listed, ranked = self._listed(site, since, until)
        for site_id in listed:
            cfg = self._config.site(site_id)
            if cfg is None:  # "unknown": no scorecard
                continue
            # a roster needs the hours (who was on duty); otherwise the days of the period say the same
            per_bucket = self._store.counters.site_counts(site_id, hours if site or cfg.roster else days, fields)
            for bucket, row in per_bucket.items():
                sites.setdefault(site_id, _Tally(self._config.topics)).add(row, _NONE, False)
                if not cfg.roster:
                    continue
                local = datetime.strptime(bucket[2:], "%Y-%m-%dT%H").replace(tzinfo=UTC).astimezone(
                    ZoneInfo(cfg.timezone))
                for shift in cfg.roster:
                    if shift.on_duty(local.weekday(), local.hour):
                        staff.setdefault((site_id, shift.name), _Tally(self._config.topics)).add(
                            row, _NONE, False)
        return answer(responses.Scorecards, {
            "since": iso(since), "until": iso(until),
            "sites": [{"site": k, **_scorecard(v)} for k, v in sorted(sites.items())],
            "staff": [{"site": k[0], "name": k[1], **_scorecard(v)} for k, v in sorted(staff.items())],
            "sites_ranked": ranked,
        })


def channel_fields(names: list[str]) -> list[str]:
    """The counts by channel: ``ch_<channel>`` (its messages) and ``ch_<channel>_<nature>_<urgency>``."""
    return [f"ch_{c}" for c in names] + [f"ch_{c}_{n}_{u}" for c in names for n in NATURES for u in URGENCIES]


_NONE: tuple[str | None, ...] = (None, None, None, None)  # no topic, nature, urgency or channel asked


def _label(site_id: str) -> str:
    return "unknown" if site_id == NO_SITE else site_id


class _Tally:
    """Adds up hour-counter rows, optionally restricted to a topic, nature, urgency and channel."""

    def __init__(self, topics: list[str]):
        self.messages = 0
        self.nature = dict.fromkeys(NATURES, 0)
        self.topic: dict[str, int] | None = dict.fromkeys(topics, 0)
        self.channel: dict[str, int] | None = dict.fromkeys(channels.names(), 0)
        self.urgency = dict.fromkeys(URGENCIES, 0)
        self.language: dict[str, int] | None = dict.fromkeys(LANGUAGES, 0)
        self.acks: dict[str, int] = {"n": 0}
        self.promises = {"kept": 0, "missed": 0}
        self.replies = {"n": 0, "s": 0, "reopened": 0}  # first staff replies, their seconds, reopenings
        self.filtered = False  # by topic, nature or urgency: acknowledgements are counted per site only

    def add(self, row: dict[str, Any], wanted: tuple[str | None, ...], filtered: bool) -> None:
        for field, value in row.items():
            if field.startswith("ack_"):
                self.acks[field[4:]] = self.acks.get(field[4:], 0) + int(value or 0)
            elif field.startswith("promise_"):
                self.promises[field[8:]] += int(value or 0)
            elif field.startswith("first_reply_"):
                self.replies[field[12:]] += int(value or 0)
            elif field == "reopened":
                self.replies["reopened"] += int(value or 0)
        self.filtered = self.filtered or filtered
        if not filtered:
            self.messages += int(row.get("n") or 0)
            for group in ("nature", "topic", "urgency", "language", "channel"):
                counts = getattr(self, group)
                for name in counts:
                    counts[name] += int(row.get(f"{'ch' if group == 'channel' else group}_{name}") or 0)
            return
        self.language = None
        topic_wanted, channel_wanted = wanted[0], wanted[3]
        if topic_wanted is not None:
            self.channel = None  # topics are not counted per channel
        else:
            self._add_channels(row, wanted)
        if channel_wanted is not None:
            self.topic = None  # nor channels per topic
            return
        for field, value in row.items():
            if not field.startswith("x_"):
                continue
            topic, nature, urgency = field[2:].rsplit("_", 2)
            if any(w is not None and w != v for w, v in zip(wanted, (topic, nature, urgency), strict=False)):
                continue
            count = int(value or 0)
            self.messages += count
            self.nature[nature] = self.nature.get(nature, 0) + count
            topics = self.topic if self.topic is not None else {}  # None only with a channel, returned above
            topics[topic] = topics.get(topic, 0) + count
            self.urgency[urgency] = self.urgency.get(urgency, 0) + count

    def _add_channels(self, row: dict[str, Any], wanted: tuple[str | None, ...]) -> None:
        """The channel × nature × urgency counts of a row matching a nature, urgency or channel filter (with
        a channel filter, they are the messages, natures and urgencies)."""
        _, nature_wanted, urgency_wanted, channel_wanted = wanted
        by_channel = self.channel if self.channel is not None else {}  # None only with a topic: not called then
        for field, value in row.items():
            parts = field.split("_")
            if parts[0] != "ch" or len(parts) != 4:
                continue
            _, channel, nature, urgency = parts
            if any(w is not None and w != v for w, v in zip((nature_wanted, urgency_wanted, channel_wanted),
                                                            (nature, urgency, channel), strict=True)):
                continue
            count = int(value or 0)
            by_channel[channel] = by_channel.get(channel, 0) + count
            if channel_wanted is not None:
                self.messages += count
                self.nature[nature] = self.nature.get(nature, 0) + count
                self.urgency[urgency] = self.urgency.get(urgency, 0) + count

    def as_dict(self) -> dict[str, Any]:
        out = {"messages": self.messages, "nature": self.nature, "topic": self.topic,
               "urgency": self.urgency, "language": self.language, "channel": self.channel,
               "acknowledged": self.acks["n"], "median_seconds_to_acknowledge": self.median_ack(),
               "promises": {**self.promises, "share_kept": round(
                   self.promises["kept"] / (self.promises["kept"] + self.promises["missed"]), 3)
                   if self.promises["kept"] + self.promises["missed"] else None},
               **self.first_replies()}
        if self.filtered:  # not split by topic, nature or urgency: null rather than a figure that ignores the filter
            out.update(language=None, acknowledged=None, median_seconds_to_acknowledge=None, promises=None,
                       replied=None, average_seconds_to_first_reply=None, reopened=None)
        return out

    def first_replies(self) -> dict[str, int | None]:
        """Cases given a first staff reply, and the average time from the case opening (its alerts) to it."""
        n = self.replies["n"]
        return {"replied": n, "average_seconds_to_first_reply": round(self.replies["s"] / n) if n else None,
                "reopened": self.replies["reopened"]}

    def median_ack(self) -> int | None:
        """Median time to acknowledge, interpolated within its histogram bucket."""
        total = self.acks["n"]
        if not total:
            return None
        half, seen, lower = total / 2, 0, 0
        for bound in ACK_BOUNDS:
            count = self.acks.get(f"le_{bound}", 0)
            if seen + count >= half and count:
                return round(lower + (bound - lower) * (half - seen) / count)
            seen += count
            lower = bound
        return ACK_BOUNDS[-1]


def _scorecard(tally: _Tally) -> dict[str, Any]:
    compliments, complaints = tally.nature.get("compliment", 0), tally.nature.get("complaint", 0)
    return {"messages": tally.messages, "compliments": compliments, "complaints": complaints,
            "compliments_per_complaint": round(compliments / complaints, 2) if complaints else None,
            "acknowledged": tally.acks["n"], "median_seconds_to_acknowledge": tally.median_ack(),
            "promises": tally.as_dict()["promises"], **tally.first_replies()}


def period_buckets(since: datetime, until: datetime, bucket: str, now: datetime) -> list[str]:
    """Counter buckets covering a period: hours, or whole days plus the hours of partial edge days.

    Nothing after the current hour (nothing can be counted there). The number of buckets
    grows with the length of the period only: at most 48 hours plus one per day.
    """
    until = min(until, now)
    if until < since:
        return []
    first_day = since.replace(hour=0, minute=0, second=0, microsecond=0)
    last_day = until.replace(hour=0, minute=0, second=0, microsecond=0)

    def hours(start: datetime, end: datetime) -> list[str]:
        start = start.replace(minute=0, second=0, microsecond=0)
        out = []
        while start <= end:
            out.append(f"H#{hour_key(start)}")
            start += timedelta(hours=1)
        return out

    if bucket == "hour" or first_day == last_day:
        return hours(since, until)
    out = [] if since == first_day else hours(since, first_day + timedelta(hours=23))
    day = first_day if since == first_day else first_day + timedelta(days=1)
    while day < last_day:
        out.append(f"D#{day_key(day)}")
        day += timedelta(days=1)
    return out + hours(last_day, until)
