"""Emerging issues on a simulated stream (issue 25): the real detector (``chalicelib.incidents``) on in-memory
counters, checking every minute as the scheduled job does.

Each site has a peak rate (10 to 80 messages an hour), an hour-of-week profile (night, morning, day, evening;
weekends at 70%) and the configuration's ten topics in fixed shares; messages arrive as a Poisson process.
Six weeks of history make the baselines; then 30 days are checked minute by minute, with incidents injected
on weekday daytime hours: a topic of a site at 2x, 3x or 5x its rate for 30 to 60 minutes. Deterministic seed.

An injected incident counts as detected within 15 minutes if an incident of that site and topic opens in its
first 15 minutes; any incident of a site that opens outside an injected one (or up to an hour after it) is a
false alarm. Network incidents are counted apart (an injected incident of a busy topic may rightly raise one).
"""

from __future__ import annotations

import math
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.config_loader import load_config
from chalicelib.incidents import NETWORK, IncidentDetector, Settings, hour_key

SEED = 25
PEAKS = (20, 50, 100, 200, 400)  # messages an hour at a site's busiest hours, one site in five each
SHARES = (0.3, 0.2, 0.15, 0.1, 0.08, 0.07, 0.04, 0.03, 0.02, 0.01)  # the ten topics, in the order configured
SIZES = (2, 3, 5)
START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday: the first checked day (history: the six weeks before)


def profile(at: datetime) -> float:
    hour = at.hour
    level = 0.05 if hour < 6 else 0.5 if hour < 9 else 1.0 if hour < 18 else 0.6 if hour < 22 else 0.2
    return level * (0.7 if at.weekday() >= 5 else 1.0)


def poisson(rng: random.Random, lam: float) -> int:
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class Memory:
    """The detector's store port over plain dicts: counts by (site, hour), incidents by id."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], dict[str, int]] = {}
        self.items: dict[str, dict[str, Any]] = {}
        self.opened: list[dict[str, Any]] = []

    def add(self, site: str, at: datetime, field: str, n: int = 1) -> None:
        for scope in (site, NETWORK):
            row = self.counts.setdefault((scope, hour_key(at)), {})
            row[field] = row.get(field, 0) + n

    def hour_counts(self, sites, hours, fields):
        return {(s, h): dict(self.counts[(s, h)]) for s in sites for h in hours if (s, h) in self.counts}

    def open_incident(self, incident):
        if incident["id"] in self.items:
            return False
        self.items[incident["id"]] = dict(incident)
        self.opened.append(self.items[incident["id"]])
        return True

    def incidents(self, status, limit):
        return [dict(i) for i in self.items.values() if i["status"] == status][:limit]

    def set_status(self, incident_id, *, allowed_from, to_status, at, by=None):
        self.items[incident_id].update({"status": to_status, f"{to_status}_at": at})
        return dict(self.items[incident_id])

    def mark_alerted(self, incident_id):
        self.items[incident_id]["alerted"] = True


class NoJobs:
    def send_many(self, jobs):
        pass


def simulate(sites: int = 20, days: int = 30, per_site: int = 9, seed: int = SEED,
             settings: Settings | None = None) -> dict[str, Any]:
    import logging

    logging.getLogger("voix").setLevel(logging.ERROR)  # one warning per incident opened: thousands here
    rng = random.Random(seed)
    config = load_config()
    topics = list(config.topics)[:len(SHARES)]
    names = [f"site-{n:03d}" for n in range(sites)]
    peak = {name: PEAKS[n % len(PEAKS)] for n, name in enumerate(names)}
    settings = settings or Settings()
    memory = Memory()
    # six weeks of history, by hour
    at = START - timedelta(weeks=settings.weeks)
    while at < START:
        for name in names:
            for topic, share in zip(topics, SHARES, strict=False):
                n = poisson(rng, peak[name] * profile(at) * share)
                if n:
                    memory.add(name, at, f"topic_{topic}", n)
        at += timedelta(hours=1)
    # the injected incidents: one a weekday at most per site, daytime, on one of its five busiest topics
    injected = []
    for name in names:
        day_list = rng.sample([d for d in range(days) if (START + timedelta(days=d)).weekday() < 5], per_site)
        for k, day in enumerate(day_list):
            start = START + timedelta(days=day, hours=rng.randint(9, 16), minutes=rng.randint(0, 59))
            topic = rng.choice(topics[:5])
            injected.append({"site": name, "topic": topic, "size": SIZES[k % len(SIZES)], "start": start,
                             "end": start + timedelta(minutes=rng.randint(30, 60)),
                             "rate": peak[name] * profile(start) * SHARES[topics.index(topic)]})
    # the stream to check: arrival minutes
    arrivals: dict[int, list[tuple[str, str]]] = {}
    end = START + timedelta(days=days)
    at = START
    while at < end:
        base = (at - START) // timedelta(minutes=1)
        for name in names:
            for topic, share in zip(topics, SHARES, strict=False):
                for _ in range(poisson(rng, peak[name] * profile(at) * share)):
                    arrivals.setdefault(base + rng.randrange(60), []).append((name, topic))
        at += timedelta(hours=1)
    for inc in injected:
        minutes = int((inc["end"] - inc["start"]) / timedelta(minutes=1))
        first = (inc["start"] - START) // timedelta(minutes=1)
        for m in range(minutes):
            for _ in range(poisson(rng, (inc["size"] - 1) * inc["rate"] / 60)):
                arrivals.setdefault(first + m, []).append((inc["site"], inc["topic"]))
    # minute by minute: the messages of the minute counted, then the check (at the minute's end)
    clock = {"now": START}
    detector = IncidentDetector(config=_config(config, names),
                                incidents=memory, jobs=NoJobs(), examples=lambda *a: [], now=lambda: clock["now"],
                                settings=settings)
    started = time.process_time()
    for minute in range(days * 24 * 60):
        now = START + timedelta(minutes=minute)
        for name, topic in arrivals.get(minute, ()):
            memory.add(name, now, f"topic_{topic}")
        clock["now"] = now + timedelta(seconds=59)
        detector.check()
    cpu = time.process_time() - started
    return score(injected, memory.opened, sites, days, cpu)


def _config(config: Any, names: list[str]) -> Any:
    """The configuration with the simulated sites (the detector reads ids, topics, managers and care)."""
    from types import SimpleNamespace

    sites = [SimpleNamespace(id=n, name=n, manager_email=[f"{n}@example.com"], manager_sms=[]) for n in names]
    by_id = {s.id: s for s in sites}
    return SimpleNamespace(sites=sites, topics=config.topics, deployment=config.deployment, site=by_id.get)


def score(injected: list[dict], opened: list[dict], sites: int, days: int, cpu: float) -> dict[str, Any]:
    def at(incident: dict) -> datetime:
        return datetime.fromisoformat(incident["opened_at"].replace("Z", "+00:00"))

    by_size: dict[int, dict[str, Any]] = {}
    for size in SIZES:
        mine = [i for i in injected if i["size"] == size]
        delays = []
        for inc in mine:
            hits = [at(o) for o in opened if o["scope"] == inc["site"] and o["topic"] == inc["topic"]
                    and inc["start"] <= at(o) <= inc["end"] + timedelta(minutes=15)]
            delays.append((min(hits) - inc["start"]) / timedelta(minutes=1) if hits else None)
        found = [d for d in delays if d is not None]
        by_rate = {}
        for low, high in ((0, 5), (5, 10), (10, 20), (20, 50), (50, 1000)):
            group = [d for inc, d in zip(mine, delays, strict=True) if low <= inc["rate"] < high]
            if group:
                by_rate[f"{low}-{high if high < 1000 else ''}"] = {
                    "incidents": len(group), "within_15": sum(1 for d in group if d is not None and d <= 15)}
        by_size[size] = {"incidents": len(mine), "within_15": sum(1 for d in found if d <= 15),
                         "detected": len(found), "median_delay_min": statistics.median(found) if found else None,
                         "by_rate": by_rate}
    false_site = [o for o in opened if o["scope"] != NETWORK and not any(
        o["scope"] == i["site"] and o["topic"] == i["topic"]
        and i["start"] <= at(o) <= i["end"] + timedelta(hours=1) for i in injected)]
    network = [o for o in opened if o["scope"] == NETWORK]
    network_false = [o for o in network if not any(
        o["topic"] == i["topic"] and i["start"] <= at(o) <= i["end"] + timedelta(hours=1) for i in injected)]
    weeks = days / 7
    return {"sites": sites, "days": days, "checks": days * 24 * 60, "cpu_s": round(cpu, 1), "by_size": by_size,
            "false_alarms": len(false_site), "false_per_site_week": len(false_site) / sites / weeks,
            "network_incidents": len(network), "network_false": len(network_false),
            "network_false_per_week": len(network_false) / weeks}


def run(quick: bool = False) -> dict[str, Any]:
    return simulate(sites=8, days=14, per_site=6) if quick else simulate()


def _sizes(r: dict[str, Any]) -> dict[int, Any]:
    return {int(k): v for k, v in r["by_size"].items()}  # JSON (results.json) keeps the sizes as text


def section(r: dict[str, Any]) -> list[str]:
    s = Settings()
    three = _sizes(r)[3]
    lines = ["## 8. Emerging issues (issue 25)", "",
             f"`benchmarks/incidents.py`: the detector of `chalicelib/incidents.py` checking every minute of "
             f"{r['days']} days ({r['checks']:,} checks) for {r['sites']} simulated sites (peaks of "
             f"{', '.join(map(str, PEAKS))} messages an hour, an hour-of-week profile, ten topics in fixed shares, "
             f"Poisson arrivals, six weeks of history, seed {SEED}), with incidents injected on weekday daytime "
             f"hours: one of a site's five busiest topics at 2x, 3x or 5x for 30 to 60 minutes. Settings: alpha "
             f"{s.alpha:g} per window and check, at least {s.min_count} messages, {s.weeks} weeks of baseline. "
             f"{r['cpu_s']} s of CPU for every check.", "",
             "| size | incidents | detected within 15 min | detected at all | median delay |", "|---|---|---|---|---|"]
    for size, v in _sizes(r).items():
        delay = f"{v['median_delay_min']:.0f} min" if v["median_delay_min"] is not None else "-"
        lines.append(f"| {size}x | {v['incidents']} | {v['within_15']} ({v['within_15'] / v['incidents']:.0%}) | "
                     f"{v['detected']} | {delay} |")
    lines += ["", "Detected within 15 minutes by the topic's usual rate at the incident's hour (messages an hour):",
              "", "| size | " + " | ".join(three["by_rate"]) + " |", "|---|" + "---|" * len(three["by_rate"])]
    for size, v in _sizes(r).items():
        lines.append(f"| {size}x | " + " | ".join(
            f"{g['within_15']}/{g['incidents']}" if (g := v["by_rate"].get(k)) else "-" for k in three["by_rate"])
            + " |")
    lines += ["", f"False alarms: {r['false_alarms']} site incidents outside any injected one, "
                  f"{r['false_per_site_week']:.2f} per site per week; the network: {r['network_incidents']} "
                  f"incidents, {r['network_false']} outside any injected one "
                  f"({r['network_false_per_week']:.2f} per week).", ""]
    return lines


def summary(r: dict[str, Any]) -> list[str]:
    three = _sizes(r)[3]
    share = three["within_15"] / three["incidents"]
    return [f"| emerging issues: 3x incidents detected within 15 min ≥ 90% | {share:.0%} of {three['incidents']} | "
            f"{'**pass**' if share >= 0.9 else '**FAIL**'} |",
            f"| emerging issues: false alarms ≤ 1 per site per week | {r['false_per_site_week']:.2f} | "
            f"{'**pass**' if r['false_per_site_week'] <= 1 else '**FAIL**'} |"]


if __name__ == "__main__":
    result = run()
    print("\n".join(section(result)))
