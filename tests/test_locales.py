"""The language catalogues (chalicelib/locales/<lang>.json): one per language, shared by the server's texts
and the dashboard's (``dashboard.*``); no key missing in either, the same placeholders on both sides."""

from __future__ import annotations

import json
import re
from pathlib import Path

LOCALES = Path(__file__).resolve().parent.parent / "chalicelib" / "locales"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def leaves(node, prefix=""):
    if isinstance(node, dict):
        return {k: v for key, child in node.items() for k, v in leaves(child, f"{prefix}{key}.").items()}
    return {prefix[:-1]: node}


def catalogue(lang):
    return leaves(json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8")))


def test_english_and_french_have_the_same_keys_and_placeholders():
    en, fr = catalogue("en"), catalogue("fr")
    assert sorted(set(en) - set(fr)) == [] and sorted(set(fr) - set(en)) == []
    assert all(isinstance(v, str) for v in [*en.values(), *fr.values()])
    assert [k for k in en if bool(en[k].strip()) != bool(fr[k].strip())] == []  # empty in both, or in neither
    differ = {k: (en[k], fr[k]) for k in en if sorted(PLACEHOLDER.findall(en[k])) != sorted(PLACEHOLDER.findall(fr[k]))}
    assert differ == {}


def test_every_dashboard_text_the_scripts_ask_for_is_in_the_catalogue():
    dashboard = LOCALES.parent.parent / "dashboard"
    known = {k.removeprefix("dashboard.") for k in catalogue("en") if k.startswith("dashboard.")}
    asked = set()
    read = [*(dashboard / n for n in ("app.js", "core.js", "i18n.js", "corrections.js", "index.html")),
            *dashboard.glob("panels/*.js")]
    for path in read:
        text = path.read_text(encoding="utf-8")
        asked |= set(re.findall(r"""\bt\(["']([\w.]+)["']""", text))
        asked |= {f"{k}.{form}" for k in re.findall(r"""\btn\(["']([\w.]+)["']""", text) for form in ("one", "other")}
        asked |= set(re.findall(r'data-i18n(?:-[a-z-]+)?="([\w.]+)"', text))
    assert asked and sorted(asked - known) == []
