"""The insight panel's offer budgets (dashboard/panels/insight.js) run under Node with a stub DOM and API (no
browser: a few tens of milliseconds): a network of more sites than it reads says so, in the reader's language."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

def _node() -> str | None:
    """Node: the system's, else the one Playwright (installed by `make install`) ships with its driver."""
    found = shutil.which("node")
    if found:
        return found
    try:
        import playwright
    except ImportError:
        return None
    bundled = Path(playwright.__file__).parent / "driver" / "node"
    return str(bundled) if bundled.exists() else None


NODE = _node()

CORE = """
const nodes = {};
export const state = { config: JSON.parse(process.env.CONFIG) };
export const $ = (id) => (nodes[id] ||= { id, children: [], replaceChildren(...c) { this.children = c; } });
export const el = (tag, attrs = {}, ...children) => ({ tag, attrs, children });
export const api = async (path) => ({ site: new URL(path, "http://x").searchParams.get("site"), budget: 5, issued: 1,
  left: 4 });
export const siteName = (id) => id;
export const duration = (s) => String(s);
export const dump = () => nodes;
"""
I18N = """
const dashboard = JSON.parse(process.env.CATALOGUE).dashboard;
export const number = (n) => String(n);
export function t(key, params = {}) {
  const text = key.split(".").reduce((node, part) => node[part], dashboard);
  return text.replace(/\\{(\\w+)\\}/g, (_, name) => params[name]);
}
"""
RUN = """
import { insight } from "./panels/insight.js";
import { dump } from "./core.js";
const texts = (node) => (node && typeof node === "object" ? [node.attrs?.text, ...(node.children || []).flatMap(texts)]
  : []).filter(Boolean);
await insight({ metrics: { totals: {} }, previous: { totals: {} }, surveys: [], site: process.env.SITE || null,
  since: new Date(0), until: new Date(40 * 86400000) });
console.log(JSON.stringify(dump()["in-offers"].children.flatMap(texts)));
"""


def offers_card(tmp_path, sites, language="en", site=None):
    (tmp_path / "panels").mkdir(exist_ok=True)
    shutil.copy(ROOT / "dashboard" / "panels" / "insight.js", tmp_path / "panels" / "insight.js")
    for name, text in (("core.js", CORE), ("i18n.js", I18N), ("run.mjs", RUN)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    env = {"CONFIG": json.dumps({"sites": [{"id": f"s{n}"} for n in range(sites)]}), "SITE": site or "",
           "CATALOGUE": (ROOT / "chalicelib" / "locales" / f"{language}.json").read_text(encoding="utf-8")}
    done = subprocess.run([NODE, str(tmp_path / "run.mjs")], env=env, capture_output=True, text=True, timeout=30,
                          check=True)
    return json.loads(done.stdout)


@pytest.mark.skipif(NODE is None, reason="no node")
def test_a_network_of_more_than_12_sites_says_its_budgets_are_the_first_12(tmp_path):
    texts = offers_card(tmp_path, 15)
    assert "s11" in texts and "s12" not in texts
    assert texts[-1] == "The 12 first sites of 15: choose a site to see another's."
    french = offers_card(tmp_path, 15, "fr")
    assert french[-1] == "Les 12 premiers sites sur 15 : choisissez un site pour en voir un autre."
    assert not any("first sites" in t for t in offers_card(tmp_path, 12))  # 12 sites: all shown, no note
    one = offers_card(tmp_path, 15, site="s13")  # a site's own view: that site, no note
    assert "s13" in one and not any("first sites" in t for t in one)
