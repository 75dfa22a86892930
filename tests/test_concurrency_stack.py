"""1,000 messages, each delivered 1 to 3 times by 16 concurrent senders, on the real local stack:
exactly 1,000 stored, counts exact, one alert per alertable message."""

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
MESSAGES = 1000


def all_pages(state, path):
    items, cursor = [], None
    while True:
        page = stack_api(state, path + ("&" if "?" in path else "?") + "limit=200" +
                         (f"&cursor={cursor}" if cursor else ""))
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


@pytest.mark.timeout(900)
def test_a_thousand_messages_delivered_one_to_three_times_by_16_senders(tmp_path):
    rng = random.Random(2026)
    corpus = [m for m in demo_messages() if keyword(m["text"]) is None]
    messages = [{"sid": f"SM{i:032x}", "to": m["to"], "text": m["text"], "from": f"+4477009{10000 + i:05d}"}
                for i, m in enumerate(rng.choice(corpus) for _ in range(MESSAGES))]
    deliveries = [m for m in messages for _ in range(rng.randint(1, 3))]
    rng.shuffle(deliveries)  # redeliveries of one message can be in flight at the same time

    with running_stack(tmp_path) as (state, _):
        def deliver(m):
            return send_twilio(state, m["to"], m["text"], m["from"], sid=m["sid"])

        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
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
              f"({len(deliveries) / elapsed:.0f}/s, 16 senders), all processed after {processed_after:.0f} s; "
              f"{len(alertable)} alertable, each alerted once")
