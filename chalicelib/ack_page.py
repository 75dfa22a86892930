"""The one-click acknowledgement of an alert e-mail: the page its signed link opens.

``GET /ack/<token>`` shows the case and an Acknowledge button, and changes nothing (link scanners
fetch every URL they see); only the button's ``POST`` acknowledges, in the name of the recipient
the link was sent to. The page is plain HTML with no script, customer text escaped and masked as
on the dashboard, and headers that forbid caching, referrers and any other origin. It is in the language of
the one the link was sent to (``reader``); a link that names no case, in the browser's (``Accept-Language``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from chalicelib import links
from chalicelib.errors import Conflict
from chalicelib.i18n import from_header, label, t
from chalicelib.moderation import mask

TEMPLATE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 2rem auto; padding: 0 1rem">
<h1>{heading}</h1><p>{text}</p>{form}</body></html>"""
HEADERS = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
           "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True)
class Page:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=lambda: dict(HEADERS))


def page(status: int, code: str, text: str, form: bool = False, token: str = "", lang: str = "en") -> Page:
    """The page: the case's code, one sentence, and (``form``) the button that posts back to ``token``."""
    button = (f'<form method="post" action="{escape(token)}"><button type="submit" '
              f'style="font-size: 1.2rem; padding: .6rem 1.2rem">{escape(t("ack.button", lang))}</button></form>'
              ) if form else ""
    title, heading = (t("ack.title", lang, code=code), t("ack.heading", lang, code=code)) if code else ("Voix",) * 2
    return Page(status, TEMPLATE.format(lang=lang, title=escape(title), heading=escape(heading), text=escape(text),
                                        form=button))


class AckPage:
    """What an acknowledge link shows (GET) and does (POST); built per request by ``services``."""

    def __init__(self, *, link_key: bytes, find_case: Callable[[str], dict[str, Any] | None],
                 acknowledge: Callable[..., Any], forbidden_words: Sequence[str],
                 reader: Callable[[dict[str, Any], str], str] = lambda case, to: "en"):
        self._link_key = link_key
        self._reader = reader  # (case, recipient's address) -> their language: i18n.reader_language
        self._find_case = find_case
        self._acknowledge = acknowledge  # CaseService.act: (case_id, "acknowledged", by=...)
        self._forbidden = tuple(forbidden_words)

    def _open(self, token: str, browser: str) -> tuple[dict[str, Any] | None, str, str, Page | None]:
        """The case, recipient and their language a link names, or the refusal page in the browser's language
        (``browser``: its Accept-Language): (case, recipient, language, None) or (None, "", language, page)."""
        lang = from_header(browser)
        try:
            link = links.verify(self._link_key, token)
        except links.ExpiredLink:
            return None, "", lang, page(410, "", t("ack.expired", lang), lang=lang)
        except links.BadLink:
            return None, "", lang, page(403, "", t("ack.invalid", lang), lang=lang)
        case = self._find_case(link.case_id)
        if case is None:
            return None, "", lang, page(404, "", t("ack.gone", lang), lang=lang)
        recipient = case.get("recipients", {}).get(link.recipient, {}).get("to", "unknown")
        return case, recipient, self._reader(case, recipient), None

    def show(self, token: str, browser: str = "") -> Page:
        """The case and the button; acknowledges nothing."""
        case, _, lang, refused = self._open(token, browser)
        if refused:
            return refused
        code = case.get("code") or case["id"]
        if case["status"] != "open":
            return page(200, code, t("ack.already", lang, status=label("status", case["status"], lang)), lang=lang)
        text = mask(case["text"], self._forbidden)  # as on the dashboard
        summary = t("ack.summary", lang, nature=label("nature", case["nature"], lang),
                    topic=label("topic", case["topic"], lang), text=text)
        return page(200, code, summary[:1].upper() + summary[1:], True, token, lang)

    def acknowledge(self, token: str, browser: str = "") -> Page:
        """Acknowledges the case in the name of the link's recipient (409 if it is no longer open)."""
        case, recipient, lang, refused = self._open(token, browser)
        if refused:
            return refused
        code = case.get("code") or case["id"]
        try:
            self._acknowledge(case["id"], "acknowledged", by=f"e-mail link ({recipient})")
        except Conflict as exc:
            return page(409, code, t("ack.already", lang, status=label("status", exc.args[0], lang)), lang=lang)
        return page(200, code, t("ack.done", lang), lang=lang)
