"""`make screenshots`: the README's pictures, taken from a running `make run` (its state file gives the
dashboard's URL and the operator token): the dashboard in English and in French, desktop (1280 px) and phone
(375 px), and a case page in each language, written to ``docs/``.

Needs Chromium and Playwright (installed by ``make install``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE_FILE = Path(os.environ.get("VOIX_STATE_FILE") or ROOT / ".local" / "stack.json")
SHOTS = {  # file name: (browser locale, width, height, what)
    "dashboard-en.png": ("en-GB", 1280, 900, "/?period=30d"),
    "dashboard-fr.png": ("fr-FR", 1280, 900, "/?period=30d"),
    "dashboard-phone-en.png": ("en-GB", 375, 800, "/?period=7d"),
    "dashboard-phone-fr.png": ("fr-FR", 375, 800, "/?period=7d"),
    "case-en.png": ("en-GB", 1280, 900, "case"),
    "case-fr.png": ("fr-FR", 1280, 900, "case"),
}


def take(state: dict, folder: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium) if chromium else p.chromium.launch()
        for name, (locale, width, height, what) in SHOTS.items():
            context = browser.new_context(viewport={"width": width, "height": height}, locale=locale,
                                          timezone_id="Europe/Paris")
            page = context.new_page()
            page.goto(state["dashboard_url"] + ("/?period=7d" if what == "case" else what))
            page.fill("#token", state["operator_token"])
            page.click("#signin-form button[type=submit]")
            page.wait_for_selector("body[data-loaded]", timeout=30_000)
            if what == "case":
                first = page.locator("#cases a.open-case").first
                if not first.count():
                    context.close()
                    continue
                first.click()
                page.wait_for_selector("#case:not([hidden]) .thread", timeout=30_000)
            page.wait_for_timeout(500)
            path = folder / name
            page.screenshot(path=str(path))
            written.append(path)
            context.close()
        browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state", default=str(STATE_FILE))
    parser.add_argument("--out", default=str(ROOT / "docs"))
    args = parser.parse_args(argv)
    state = json.loads(Path(args.state).read_text())
    for path in take(state, Path(args.out)):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
