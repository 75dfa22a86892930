"""300 messages, each delivered 1 to 3 times by 16 concurrent senders, on the real local stack: exactly
300 stored, counts exact, one alert per alertable message.

Most second and third deliveries are sent next to the first (within 8 places of a queue that 16 senders
drain), so they are in flight at the same time as it, the race that idempotency must win; the rest come
anywhere later, as a late retry does. Volume (1,000 SMS and more) is measured by `make bench`
(benchmarks/end_to_end.py), not here."""

from __future__ import annotations

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.keywords import keyword
from infra.simulate import demo_messages, send_twilio
from tests.conftest import running_stack, stack_api, wait_until

pytestmark = pytest.mark.stack
MESSAGES = 300
SENDERS = 16
NEAR = 8  # a redelivery this many places or fewer from the first: in flight with it


def all_pages(state, path):
    items, cursor = [], None
    while True:
        page = stack_api(state, path + ("&" if "?" in path else "?") + "limit=200" +
                         (f"&cursor={cursor}" if cursor else ""))
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def delivery_order(messages, rng):
    """Each message 1 to 3 times: the first copy in message order, most others within NEAR places of it
    (concurrent duplicates), a third of them anywhere after it (late retries)."""
    keyed = []
    for i, m in enumerate(messages):
        keyed.append((float(i), m))
        for _ in range(rng.randint(1, 3) - 1):
            late = rng.random() < 1 / 3
            keyed.append((rng.uniform(i, len(messages)) if late else i + rng.uniform(0, NEAR), m))
    return [m for _, m in sorted(keyed, key=lambda km: km[0])]


def test_the_delivery_order_puts_duplicates_in_flight_together_and_late():
    rng = random.Random(2026)
    messages = [{"sid": f"SM{i:032x}"} for i in range(MESSAGES)]
    deliveries = delivery_order(messages, rng)
    positions = {}
    for place, m in enumerate(deliveries):
        positions.setdefault(m["sid"], []).append(place)
    assert sorted(positions) == sorted(m["sid"] for m in messages)
    assert {len(p) for p in positions.values()} == {1, 2, 3}
    gaps = [p[k] - p[0] for p in positions.values() for k in range(1, len(p))]
    assert sum(g < SENDERS for g in gaps) > len(gaps) / 2  # most redeliveries race their first copy
    assert sum(g > 4 * SENDERS for g in gaps) > len(gaps) / 10  # and some come long after it


@pytest.mark.timeout(900)
def test_messages_delivered_one_to_three_times_at_once_by_16_senders_are_stored_counted_and_alerted_once(tmp_path):
    rng = random.Random(2026)
    corpus = [m for m in demo_messages() if keyword(m["text"]) is None]
    messages = [{"sid": f"SM{i:032x}", "to": m["to"], "text": m["text"], "from": f"+4477009{10000 + i:05d}"}
                for i, m in enumerate(rng.choice(corpus) for _ in range(MESSAGES))]
    deliveries = delivery_order(messages, rng)

    with running_stack(tmp_path) as (state, _):
        def deliver(m):
            return send_twilio(state, m["to"], m["text"], m["from"], sid=m["sid"])

        started = time.monotonic()
        with ThreadPoolExecutor(SENDERS) as pool:
            results = list(pool.map(deliver, deliveries))
        elapsed = time.monotonic() - started
        assert [status for status, _ in results] == [200] * len(deliveries)
        answers = {}
        for m, (_, body) in zip(deliveries, results, strict=True):
            answers.setdefault(m["sid"], set()).add(body)
        assert all(len(bodies) == 1 for bodies in answers.values())  # every delivery got the same answer

        def drained():  # cheap polls: the whole listing is read once, at the end
            time.sleep(2)
            jobs = stack_api(state, "/api/status")["queues"]["jobs"]
            return jobs["waiting"] == jobs["in_flight"] == 0 and \
                stack_api(state, "/api/metrics")["totals"]["messages"] >= MESSAGES

        wait_until(drained, seconds=600)
        processed_after = time.monotonic() - started
        items = all_pages(state, "/api/feedback")
        assert len(items) == MESSAGES and all(i["processed"] for i in items)
        assert sorted(i["id"] for i in items) == sorted(f"twilio-{m['sid']}" for m in messages)

        totals = stack_api(state, "/api/metrics")["totals"]
        assert totals["messages"] == MESSAGES
        assert {k: v for k, v in totals["nature"].items() if v} == dict(Counter(i["nature"] for i in items))
        assert totals["urgency"] == dict(Counter(i["urgency"] for i in items))

        alertable = {i["id"] for i in items if i.get("case_id")}
        cases = []
        for status in ("open", "acknowledged", "resolved"):
            cases += all_pages(state, f"/api/cases?status={status}")
        assert sorted(c["message_id"] for c in cases) == sorted(alertable)  # one case per alertable message

        def all_sent():
            fresh = all_pages(state, "/api/cases?status=open")
            return fresh if all(a["status"] == "sent" for c in fresh for a in c["alerts"]) else None

        for case in wait_until(all_sent, seconds=300):
            assert case["alerts"] and all(a["attempts"] == 1 for a in case["alerts"])  # each alert sent once
        print(f"\n{len(deliveries)} deliveries of {MESSAGES} messages answered in {elapsed:.1f} s "
              f"({len(deliveries) / elapsed:.0f}/s, {SENDERS} senders), all processed after {processed_after:.0f} s; "
              f"{len(alertable)} alertable, each alerted once")
