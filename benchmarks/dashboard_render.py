"""First render of the dashboard with data, in Chromium, against the running local stack.

    make run                      # in one terminal
    make demo-data                # 30 days, 50,000 messages
    python -m benchmarks.dashboard_render [--runs 5] [--period 30d]

Prints the median time from the click on "Sign in" to the first frame painted with all
the data (measured in the page), and the API calls that render made (their number does
not depend on the number of messages).
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


# Measured in the page: from the click event on "Sign in" to the first animation frame after
# the dashboard marks itself loaded (all its data in the DOM), i.e. the frame the user sees.
PROBE = """() => {
  delete window.__voixPainted;
  document.querySelector("#signin-form button[type=submit]")
    .addEventListener("click", () => { window.__voixClicked = performance.now(); }, { capture: true, once: true });
  new MutationObserver((changes, observer) => {
    if (!document.body.dataset.loaded) return;
    observer.disconnect();
    requestAnimationFrame(() => { window.__voixPainted = performance.now(); });
  }).observe(document.body, { attributes: true, attributeFilter: ["data-loaded"] });
}"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--period", default="30d")
    parser.add_argument("--screenshot", default=None)
    args = parser.parse_args()
    state = json.loads(Path(os.environ.get("VOIX_STATE_FILE") or ROOT / ".local" / "stack.json").read_text())
    from playwright.sync_api import sync_playwright

    from infra.simulate import send_twilio

    timings, walls, calls, live = [], [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        for run in range(args.runs):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r, requests=requests: requests.append(r.url) if "/api/" in r.url else None)
            page.goto(f"{state['dashboard_url']}/?period={args.period}")
            page.fill("#token", state["operator_token"])
            page.evaluate(PROBE)
            start = time.perf_counter()
            page.click("#signin-form button[type=submit]")
            page.wait_for_selector("body[data-loaded]", timeout=60_000)
            while page.evaluate("() => window.__voixPainted") is None:  # CSP: no wait_for_function (eval)
                time.sleep(0.005)
            walls.append(time.perf_counter() - start)
            timings.append(page.evaluate("window.__voixPainted - window.__voixClicked") / 1000)
            calls.append(len(requests))
            # the live feed: from the webhook's answer to the message shown, without a reload
            text = f"L8 benchmark live feed {time.time_ns()}"
            status, _ = send_twilio(state, "+447700900008", text, f"+4477009{40000 + run:05d}")  # no flood limit
            answered = time.perf_counter()
            page.wait_for_selector(f"#feed li:has-text('{text}')", timeout=30_000)
            live.append(time.perf_counter() - answered)
            if run == args.runs - 1 and args.screenshot:
                page.wait_for_timeout(300)
                page.screenshot(path=args.screenshot, full_page=False)
            page.close()
        browser.close()
    print(f"first render with data ({args.period}): median {statistics.median(timings) * 1000:.0f} ms "
          f"over {args.runs} runs (min {min(timings) * 1000:.0f}, max {max(timings) * 1000:.0f}), "
          f"from the click to the painted frame; API calls: {statistics.median(calls):.0f}; "
          f"as seen by the driver (Playwright round trips included): {statistics.median(walls) * 1000:.0f} ms")
    print(f"live feed: a new SMS shown {statistics.median(live) * 1000:.0f} ms after the webhook answered "
          f"(median of {len(live)}, max {max(live) * 1000:.0f} ms; polled every second)")


if __name__ == "__main__":
    main()
