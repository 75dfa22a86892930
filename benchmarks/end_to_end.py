"""End to end on the real local stack (moto server, `chalice local`, local worker), loopback only.

    python -m benchmarks.end_to_end [--messages 1000] [--senders 16]

1. Load: ``--messages`` signed SMS from distinct numbers by ``--senders`` concurrent
   senders (bounded: at most 120 s of sending, 300 s of waiting): the rate answered,
   the rate processed (stored, counted, cases opened, alerts sent), and the loss.
2. Alert delay: ten alerting SMS one at a time, from the webhook's answer to the alert
   marked sent on the case (polled every 50 ms).
3. Live feed: ten SMS, from the webhook's answer to the message shown in the dashboard's
   feed in Chromium (the feed polls every second); skipped without Chromium.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run(messages: int = 1000, senders: int = 16) -> dict:
    from chalicelib.keywords import keyword
    from infra.simulate import demo_messages, send_twilio
    from tests.conftest import running_stack, stack_api

    corpus = [m for m in demo_messages() if keyword(m["text"]) is None]
    out: dict = {"messages": messages, "senders": senders}
    with tempfile.TemporaryDirectory() as folder, running_stack(folder) as (state, _):
        batch = [(corpus[i % len(corpus)], f"+4477009{10000 + i:05d}", f"SM{0xbe9c0000 + i:032x}")
                 for i in range(messages)]  # Twilio-shaped ids: SM and 32 hex digits
        deadline = time.monotonic() + 120
        start = time.monotonic()

        def send(item):
            if time.monotonic() > deadline:
                return 0
            m, sender, sid = item
            return send_twilio(state, m["to"], m["text"], sender, sid=sid)[0]

        with ThreadPoolExecutor(senders) as pool:
            statuses = list(pool.map(send, batch))
        answered = time.monotonic() - start
        accepted = statuses.count(200)
        wait_until = time.monotonic() + 300
        while time.monotonic() < wait_until:
            jobs = stack_api(state, "/api/status")["queues"]["jobs"]
            if jobs["waiting"] == jobs["in_flight"] == 0 and \
                    stack_api(state, "/api/metrics")["totals"]["messages"] >= accepted:
                break
            time.sleep(0.5)
        processed = time.monotonic() - start
        stored = stack_api(state, "/api/metrics")["totals"]["messages"]
        out.update(accepted=accepted, stored=stored, lost=accepted - stored, answered_s=answered,
                   answered_per_s=accepted / answered, processed_s=processed, processed_per_s=stored / processed)

        delays = []
        for i in range(10):
            sid = f"SM{0xa1e70000 + i:032x}"
            send_twilio(state, "+447700900008", f"L8 a passenger is drunk and threatening people ({i})",
                        f"+4477009{20000 + i:05d}", sid=sid)
            answered_at = time.monotonic()
            while time.monotonic() - answered_at < 30:
                cases = [c for c in stack_api(state, "/api/cases?limit=200")["items"]
                         if c["message_id"] == f"twilio-{sid}"]
                if cases and cases[0]["alerts"] and all(a["status"] == "sent" for a in cases[0]["alerts"]):
                    delays.append(time.monotonic() - answered_at)
                    break
                time.sleep(0.05)
        out["alert_delay_s"] = {"median": statistics.median(delays), "max": max(delays), "n": len(delays)}
        out["live_feed_s"] = live_feed(state, send_twilio)
    return out


def live_feed(state: dict, send_twilio) -> dict | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        return None
    from playwright.sync_api import sync_playwright

    from benchmarks.dashboard_render import ARGS

    delays = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{state['dashboard_url']}/?period=24h")
        page.fill("#token", state["operator_token"])
        page.click("#signin-form button[type=submit]")
        page.wait_for_selector("body[data-loaded]", timeout=60_000)
        for i in range(10):
            text = f"L8 live feed check {i} {time.time_ns()}"
            send_twilio(state, "+447700900008", text, f"+4477009{30000 + i:05d}")
            answered = time.monotonic()
            page.wait_for_selector(f"#feed li:has-text('{text}')", timeout=30_000)
            delays.append(time.monotonic() - answered)
        browser.close()
    return {"median": statistics.median(delays), "max": max(delays), "n": len(delays)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=16)
    args = parser.parse_args(argv)
    r = run(args.messages, args.senders)
    print(f"{r['accepted']}/{r['messages']} accepted in {r['answered_s']:.1f} s ({r['answered_per_s']:.0f}/s answered, "
          f"{r['senders']} senders); all {r['stored']} processed after {r['processed_s']:.0f} s "
          f"({r['processed_per_s']:.1f}/s); lost: {r['lost']}")
    a = r["alert_delay_s"]
    print(f"alert delivered {a['median'] * 1000:.0f} ms after the webhook answered (median of {a['n']}, "
          f"max {a['max'] * 1000:.0f} ms)")
    if r["live_feed_s"]:
        f = r["live_feed_s"]
        print(f"live feed: shown {f['median'] * 1000:.0f} ms after the webhook answered (median of {f['n']}, "
              f"max {f['max'] * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
