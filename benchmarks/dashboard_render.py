"""First render of the dashboard with data, in Chromium, against the running local stack.

    make run                      # in one terminal
    make demo-data                # 30 days, 50,000 messages
    python -m benchmarks.dashboard_render [--runs 5] [--period 30d]

Prints the median time from "Sign in" to the first complete render, and the API
calls that render made (their number does not depend on the number of messages).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--period", default="30d")
    parser.add_argument("--screenshot", default=None)
    args = parser.parse_args()
    state = json.loads(Path(os.environ.get("VOIX_STATE_FILE") or ROOT / ".local" / "stack.json").read_text())
    from playwright.sync_api import sync_playwright

    timings, calls = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        for run in range(args.runs):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r, requests=requests: requests.append(r.url) if "/api/" in r.url else None)
            page.goto(f"{state['dashboard_url']}/?period={args.period}")
            page.fill("#token", state["operator_token"])
            start = time.perf_counter()
            page.click("#signin-form button[type=submit]")
            page.wait_for_selector("body[data-loaded]", timeout=60_000)
            timings.append(time.perf_counter() - start)
            calls.append(len(requests))
            if run == args.runs - 1 and args.screenshot:
                page.wait_for_timeout(300)
                page.screenshot(path=args.screenshot, full_page=False)
            page.close()
        browser.close()
    print(f"first render with data ({args.period}): median {statistics.median(timings) * 1000:.0f} ms "
          f"over {args.runs} runs (min {min(timings) * 1000:.0f}, max {max(timings) * 1000:.0f}); "
          f"API calls: {statistics.median(calls):.0f}")


if __name__ == "__main__":
    main()
