"""The rules studio's backtest (issue 22): 50,000 stored messages classified with the live rules and with a
draft, in process, no AWS.

    python -m benchmarks.backtest [--messages 50000] [--repeats 3]

The messages are the classification benchmark's corpus (the labelled corpora, varied so that no two are the
same text), spread over the last 30 days and held newest first by an in-memory stand-in of the messages port
(``feedback`` pages of 1,000, as ``chalicelib.backtest.read_messages`` asks). The draft is the shipped rules
with a few phrases added to the comfort and complaint groups. Each pass does what ``POST
/api/config/rules/preview`` does after reading: both configurations built and validated (``live_config.build``),
two classifiers compiled with empty word caches, every message classified twice and compared. Single process,
single thread: the time is per core.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from datetime import UTC, datetime, timedelta

PHRASES = {"comfort": ["fitting rooms", "wobbly"], "complaint": ["impossible", "shambles"]}


class ListMessages:
    """The messages port's ``feedback``, newest first, over a list (the cursor is an offset)."""

    def __init__(self, items: list[dict]):
        self._items = items

    def feedback(self, *, site, since, until, days, filters, limit, cursor):
        start = int(cursor or 0)
        page = [m for m in self._items[start:start + limit] if since <= m["received_at"] <= until]
        end = start + limit
        return page, (str(end) if end < len(self._items) else None)


def stored(size: int, now: datetime) -> list[dict]:
    from benchmarks.classification import corpus
    from chalicelib.clock import day_key, iso

    out = []
    step = timedelta(days=30) / size
    for n, m in enumerate(corpus(size)):
        at = now - step * (n + 1)
        out.append({"id": f"SM{n:032d}", "received_at": iso(at), "day": day_key(at), "text": m["text"],
                    "to_number": m["to"]})
    return out


def draft_rules(rules: dict) -> dict:
    rules = copy.deepcopy(rules)
    for group in rules["lexicon"]:
        group["phrases"] += PHRASES.get(group["name"], [])
    return rules


def one_pass(raw: dict, items: list[dict]) -> tuple[float, float, dict]:
    """Wall-clock and CPU seconds of one backtest, and its result."""
    from chalicelib import backtest
    from chalicelib.classification import Classifier
    from chalicelib.live_config import build

    started, cpu = time.perf_counter(), time.process_time()
    current = build(raw)
    draft = build({**raw, "rules": draft_rules(raw["rules"])})
    result = backtest.backtest(items, Classifier(current), Classifier(draft),
                               words=tuple(current.deployment.forbidden_words))
    return time.perf_counter() - started, time.process_time() - cpu, result


def run(messages: int = 50_000, repeats: int = 3) -> dict:
    from chalicelib import backtest
    from chalicelib.config_loader import read_raw

    now = datetime.now(UTC)
    raw = read_raw()
    port = ListMessages(stored(messages, now))
    started = time.perf_counter()
    items, complete = backtest.read_messages(port, since=now - timedelta(days=30), until=now)
    read_s = time.perf_counter() - started
    one_pass(raw, items[:1000])  # warm-up: imports, the accents table
    times, cpu, result = [], [], {}
    for _ in range(repeats):
        seconds, cpu_seconds, result = one_pass(raw, items)
        times.append(seconds)
        cpu.append(cpu_seconds)
    return {"messages": len(items), "complete": complete, "repeats": repeats, "read_s": read_s,
            "median_s": statistics.median(times), "range_s": [min(times), max(times)],
            "cpu_s": statistics.median(cpu),
            "per_second": len(items) / statistics.median(times), "changed": result["changed"],
            "changes": {k: v["count"] for k, v in result["changes"].items()},
            "added_phrases": sum(len(v) for v in PHRASES.values())}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    r = run(args.messages, args.repeats)
    print(f"{r['messages']:,} messages backtested in {r['median_s']:.2f} s, CPU {r['cpu_s']:.2f} s (median of "
          f"{r['repeats']}; "
          f"{r['per_second']:,.0f} messages/s, each classified twice); read in {r['read_s']:.2f} s; "
          f"changed {r['changed']:,}: {r['changes']}")


if __name__ == "__main__":
    main()
