"""The one-click acknowledgement of an alert e-mail: the page its signed link opens.

``GET /ack/<token>`` shows the case and an Acknowledge button, and changes nothing (link scanners
fetch every URL they see); only the button's ``POST`` acknowledges, in the name of the recipient
the link was sent to. The page is plain HTML with no script, customer text escaped and masked as
on the dashboard, and headers that forbid caching, referrers and any other origin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from chalicelib import links
from chalicelib.errors import Conflict
from chalicelib.moderation import mask

TEMPLATE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Voix case {code}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 2rem auto; padding: 0 1rem">
<h1>Case {code}</h1><p>{text}</p>{form}</body></html>"""
HEADERS = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
           "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True)
class Page:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=lambda: dict(HEADERS))


def page(status: int, code: str, text: str, form: bool = False, token: str = "") -> Page:
    """The page: the case's code, one sentence, and (``form``) the button that posts back to ``token``."""
    button = (f'<form method="post" action="{escape(token)}"><button type="submit" '
              'style="font-size: 1.2rem; padding: .6rem 1.2rem">Acknowledge</button></form>') if form else ""
    return Page(status, TEMPLATE.format(code=escape(code), text=escape(text), form=button))


class AckPage:
    """What an acknowledge link shows (GET) and does (POST); built per request by ``services``."""

    def __init__(self, *, link_key: bytes, find_case: Callable[[str], dict[str, Any] | None],
                 acknowledge: Callable[..., Any], forbidden_words: Sequence[str]):
        self._link_key = link_key
        self._find_case = find_case
        self._acknowledge = acknowledge  # CaseService.act: (case_id, "acknowledged", by=...)
        self._forbidden = tuple(forbidden_words)

    def _open(self, token: str) -> tuple[dict[str, Any] | None, str, Page | None]:
        """The case and recipient a link names, or the refusal page: (case, recipient, None) or (None, "", page)."""
        try:
            link = links.verify(self._link_key, token)
        except links.ExpiredLink:
            return None, "", page(410, "", "This link has expired. Acknowledge the case on the dashboard.")
        except links.BadLink:
            return None, "", page(403, "", "This link is not valid.")
        case = self._find_case(link.case_id)
        if case is None:
            return None, "", page(404, "", "This case no longer exists.")
        return case, case.get("recipients", {}).get(link.recipient, {}).get("to", "unknown"), None

    def show(self, token: str) -> Page:
        """The case and the button; acknowledges nothing."""
        case, _, refused = self._open(token)
        if refused:
            return refused
        code = case.get("code") or case["id"]
        if case["status"] != "open":
            return page(200, code, f"This case is already {case['status']}.")
        text = mask(case["text"], self._forbidden)  # as on the dashboard
        return page(200, code, f"{case['nature']} about {case['topic']}: \u201c{text}\u201d", True, token)

    def acknowledge(self, token: str) -> Page:
        """Acknowledges the case in the name of the link's recipient (409 if it is no longer open)."""
        case, recipient, refused = self._open(token)
        if refused:
            return refused
        code = case.get("code") or case["id"]
        try:
            self._acknowledge(case["id"], "acknowledged", by=f"e-mail link ({recipient})")
        except Conflict as exc:
            return page(409, code, f"This case is already {exc.args[0]}.")
        return page(200, code, "Acknowledged. Thank you: the customer is waiting for your call.")
