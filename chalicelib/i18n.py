"""What staff and managers read, in their language: one catalogue per language (``chalicelib/locales/en.json``,
``fr.json``), read once, and dates and times in a site's time zone written the reader's way.

A catalogue is nested JSON whose leaves are texts with ``{name}`` placeholders; a key is the path of a leaf,
dotted (``alert.email.subject``). ``t(key, language, **values)`` looks the key up along the language's
fallback chain (``fr-FR`` -> ``fr`` -> ``en``). Topic, nature, urgency and channel names are keys too
(``topic.<name>``...): ``label`` falls back to the name itself, as a topic added in ``rules.toml`` has none.
The dashboard reads the same files (``python -m chalicelib locales`` copies them to ``dashboard/locales/``).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from chalicelib.configuration import Config, Site

LOCALES = Path(__file__).resolve().parent / "locales"
DASHBOARD_LOCALES = LOCALES.parent.parent / "dashboard" / "locales"  # the same files, served to the browser
LANGUAGES = ("en", "fr")
DEFAULT = "en"


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"a": {"b": "text"}}`` -> ``{"a.b": "text"}``."""
    out: dict[str, str] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, path + "."))
        else:
            out[path] = str(value)
    return out


@cache
def catalogue(language: str) -> dict[str, str]:
    """The language's texts, by dotted key (read once per process)."""
    return flatten(json.loads((LOCALES / f"{language}.json").read_text(encoding="utf-8")))


def copy_catalogues(folder: str | Path | None = None) -> list[Path]:
    """Copy each catalogue, byte for byte, to ``folder`` (the dashboard's ``locales/``); the files written."""
    target = Path(folder) if folder else DASHBOARD_LOCALES
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for language in LANGUAGES:
        path = target / f"{language}.json"
        path.write_bytes((LOCALES / f"{language}.json").read_bytes())
        written.append(path)
    return written


def chain(language: str | None) -> tuple[str, ...]:
    """Where a text is looked for: the language (``fr-FR`` is ``fr``), then English."""
    base = (language or "").strip().lower().replace("_", "-").split("-")[0]
    return (base, DEFAULT) if base in LANGUAGES and base != DEFAULT else (DEFAULT,)


def language_of(language: str | None) -> str:
    """The catalogue a language tag reads: ``fr-FR`` -> ``fr``; anything else -> ``en``."""
    return chain(language)[0]


def from_header(accept_language: str | None) -> str:
    """The first language of an ``Accept-Language`` header Voix has a catalogue for (by weight), else English."""
    ranked = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        ranked.append((-weight, i, tag.strip()))
    for _, _, tag in sorted(ranked):
        base = tag.lower().split("-")[0]
        if base in LANGUAGES:
            return base
    return DEFAULT


def t(key: str, language: str | None, **values: Any) -> str:
    """The text of ``key`` in ``language`` (else English), its ``{name}`` placeholders filled; KeyError if no
    catalogue has the key (tests/test_i18n.py checks every key the code names)."""
    for lang in chain(language):
        text = catalogue(lang).get(key)
        if text is not None:
            return text.format(**values) if values else text
    raise KeyError(key)


def label(kind: str, name: str | None, language: str | None) -> str:
    """A topic, nature, urgency, status or channel name for people; the name itself if the catalogue has none."""
    try:
        return t(f"{kind}.{name}", language)
    except KeyError:
        return str(name)


# -- dates and times -------------------------------------------------------------------------------------------
def moment(value: str | datetime) -> datetime:
    """An ISO 8601 instant (``2026-12-04T13:05:00.000Z``) or an aware datetime, as an aware datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_date(day: date, language: str | None) -> str:
    """``4 Dec 2026`` / ``4 déc. 2026``."""
    return t("format.date", language, day=day.day, month=t(f"month.{day.month}", language), year=day.year)


def format_datetime(value: str | datetime | None, language: str | None, zone: str = "UTC") -> str:
    """An instant in ``zone``, written the reader's way, 24-hour clock: ``4 Dec 2026, 14:05`` /
    ``4 déc. 2026, 14:05``; an empty string for no instant, the value itself if it is not one."""
    if not value:
        return ""
    try:
        local = moment(value).astimezone(ZoneInfo(zone))
    except ValueError:
        return str(value)
    return t("format.datetime", language, day=local.day, month=t(f"month.{local.month}", language),
             year=local.year, time=f"{local:%H:%M}")


# -- who reads which language ----------------------------------------------------------------------------------
def reader_language(config: Config, to: str | None, site_id: str | None = None) -> str:
    """The language of the one an alert, digest or answer goes to: as ``languages`` names them; else a site's staff
    and managers read their site's ``language`` (the site they belong to, whichever site the case is at), central
    care (care_email, care_sms, staff_numbers) the deployment's ``default_language``, and anyone else the case's
    site's language (the deployment's with no site)."""
    deployment = config.deployment
    key = (to or "").strip()
    key = key if key.startswith("+") else key.lower()
    if key in deployment.languages:
        return deployment.languages[key]
    site = config.site(site_id)
    if site is None or not _staff_of(site, key):
        care = key in {*(a.lower() for a in deployment.care_email), *deployment.care_sms, *deployment.staff_numbers}
        site = next((s for s in config.sites if _staff_of(s, key)), None if care else site)
    return site.languages.get(key, site.language) if site is not None else deployment.default_language


def _staff_of(site: Site, key: str) -> bool:
    return key in site.staff_sms or key in site.manager_sms or key in (a.lower() for a in site.manager_email)


def network_zone(config: Config) -> str:
    """The time zone the whole network reads in: the one most of its sites share (UTC if none)."""
    zones = [s.timezone for s in config.sites]
    return max(sorted(set(zones)), key=zones.count) if zones else "UTC"
