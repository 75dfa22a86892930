"""``/api/feedback``, ``PATCH /api/feedback/{id}``, ``/api/export.csv`` and ``/api/audit/messages/{id}``: the
messages themselves."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib import channels
from chalicelib.api import responses
from chalicelib.api.base import ApiBase, answer, parse
from chalicelib.api.requests import FeedbackQuery, Relabel
from chalicelib.clock import days_between, iso
from chalicelib.corrections import Corrections
from chalicelib.errors import ApiError, BadCursor
from chalicelib.i18n import label, t
from chalicelib.moderation import mask

EXPORT_MAX_ROWS = 10_000  # one CSV; past that, the newest rows and a header saying so
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
# What a spreadsheet may show as nothing before a cell's first visible character: format characters (soft
# hyphen, zero-width and bidirectional marks, U+180E, U+2061...), combining marks (U+034F), spaces and separators,
# control characters other than the triggers, and code points with no character.
INVISIBLE_CATEGORIES = {"Cf", "Mn", "Me", "Zs", "Zl", "Zp", "Cc", "Cn", "Co"}


def _first_visible(text: str) -> str:
    for position, char in enumerate(text):
        if char in FORMULA_STARTS or unicodedata.category(char) not in INVISIBLE_CATEGORIES:
            return text[position:]
    return ""


def spreadsheet_safe(value: Any) -> str:
    """A CSV cell a spreadsheet will never run as a formula (OWASP CSV injection).

    Checked on the first visible character after NFKC normalisation, as a spreadsheet may read them:
    U+FE66 SMALL EQUALS SIGN and the full-width forms are an "=", "+", "-" or "@" there, and any
    invisible or bidirectional character before it is skipped.
    """
    text = "" if value is None else str(value)
    seen = _first_visible(unicodedata.normalize("NFKC", text))
    return "'" + text if seen.startswith(FORMULA_STARTS) else text


def public_message(item: dict[str, Any], words: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "id": item["id"], "received_at": item["received_at"], "channel": item.get("channel"),
        "site": item.get("site"), "topic": item.get("topic"), "nature": item.get("nature"),
        "urgency": item.get("urgency"), "urgency_reason": item.get("urgency_reason"),
        "language": item.get("language"), "from": item.get("from_masked"), "text": mask(item.get("text"), words),
        "reply": item.get("reply"), "offer_code": item.get("offer_code"), "case_id": item.get("case_id"),
        "rules": item.get("rules", []), "processed": "processed_at" in item, "corrected": bool(item.get("corrections")),
        **({"withheld": item["withheld"]} if item.get("withheld") else {}),
        **({"machine": item.get("machine"), "corrected_by": item.get("corrected_by"),
            "corrected_at": item.get("corrected_at")} if item.get("corrections") else {}),
    }


TRANSLATED = ("topic", "nature", "urgency", "language", "channel")  # ids a French export names in French


class FeedbackApi(ApiBase):
    def feedback(self, params: dict[str, Any] | None) -> dict[str, Any]:
        query: FeedbackQuery = parse(FeedbackQuery, params)
        since, until = query.period(self._now(), default_days=7)
        if query.topic is not None and query.topic not in self._config.topics:
            raise ApiError(400, f"topic: unknown topic {query.topic!r}")
        known = channels.names()
        if query.channel is not None and query.channel not in known:
            raise ApiError(400, f"channel: unknown channel {query.channel!r} (one of {', '.join(known)})")
        filters = {k: v for k, v in (("topic", query.topic), ("nature", query.nature), ("urgency", query.urgency),
                                     ("language", query.language), ("channel", query.channel)) if v}
        try:
            items, cursor = self._store.messages.feedback(
                site=self._site(query.site), since=iso(since), until=iso(until),
                days=days_between(since, until), filters=filters, limit=query.limit, cursor=query.cursor,
            )
        except BadCursor as exc:
            raise ApiError(400, str(exc)) from exc
        return answer(responses.FeedbackPage,
                      {"items": [public_message(i, self._words) for i in items], "next_cursor": cursor})

    def export_csv(self, params: dict[str, Any] | None, max_rows: int | None = None,
                   accept_language: str | None = None) -> tuple[str, bool]:
        """The filtered messages as CSV, newest first, safe to open in a spreadsheet; and whether
        the period held more than ``max_rows`` (the newest are kept: the caller says so).

        For a French reader (``locale=fr``, else an Accept-Language asking for French first) it opens
        as it should in a French Excel: a UTF-8 BOM, ``;`` between cells, times as ``dd/mm/yyyy hh:mm:ss``
        in the message's site's time zone, the header's labels and the topic, nature, urgency, language and
        channel of each message in French (the catalogue's ``csv.*`` and names). The English export is the
        field names and ids as they are, for scripts."""
        max_rows = max_rows or EXPORT_MAX_ROWS
        query = dict(params or {})
        query.pop("limit", None)
        query.pop("cursor", None)
        french = reader_is_french(query.pop("locale", None), accept_language)
        out = io.StringIO()
        if french:
            out.write("\ufeff")
        writer = csv.writer(out, lineterminator="\r\n", delimiter=";" if french else ",")
        columns = ["received_at", "site", "topic", "nature", "urgency", "language", "from", "text", "reply", "case_id",
                   "channel"]  # channel last: the columns before it keep their place
        writer.writerow([t(f"csv.{c}", "fr") for c in columns] if french else columns)
        rows, cursor = 0, None
        while True:
            page = self.feedback({**query, "limit": str(min(200, max_rows + 1 - rows)),
                                  **({"cursor": cursor} if cursor else {})})
            for item in page["items"]:
                if rows == max_rows:
                    return out.getvalue(), True
                writer.writerow([spreadsheet_safe(self._french_cell(c, item) if french else item.get(c))
                                 for c in columns])
                rows += 1
            cursor = page["next_cursor"]
            if not cursor:
                return out.getvalue(), False

    def _french_cell(self, column: str, item: dict[str, Any]) -> Any:
        value = item.get(column)
        if column == "received_at":
            return self._french_time(value, item)
        # a message's language by its French name ("anglais"; the "language" section names each in itself)
        kind = "language_name" if column == "language" else column
        return label(kind, value, "fr") if column in TRANSLATED and value else value

    def _french_time(self, value: str | None, item: dict[str, Any]) -> str | None:
        if not value:
            return value
        site = self._config.site(item.get("site") or "")
        zone = ZoneInfo(site.timezone if site else "UTC")
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(zone).strftime("%d/%m/%Y %H:%M:%S")

    def correct_message(self, message_id: str, body: dict[str, Any] | None, actor: str = "operator"
                        ) -> dict[str, Any]:
        """A manager relabels a message (``chalicelib.corrections``): its counts move once; the message as the
        feed shows it now."""
        data: Relabel = parse(Relabel, body)
        changes = {"topic": data.topic, "nature": data.nature, "urgency": data.urgency}
        if not any(changes.values()):
            raise ApiError(400, "give a topic, a nature or an urgency")
        if not channels.is_message_id(message_id):
            raise ApiError(404, "no such message")
        by = f"{data.by} [{actor}]" if data.by else actor
        item = Corrections(config=self._config, messages=self._store.messages, now=self._now).correct(
            message_id, changes, by=by, note=data.note)
        return answer(responses.Message, public_message(item, self._words))

    def audit_message(self, message_id: str) -> dict[str, Any]:
        """The message as stored, forbidden words unmasked: for the audit token only."""
        item = self._store.messages.get_message(message_id) if channels.is_message_id(message_id) else None
        if item is None:
            raise ApiError(404, "no such message")
        return answer(responses.AuditedMessage, {**public_message(item), "text": item.get("text"),
                                                 "masked_text": mask(item.get("text"), self._words)})


def reader_is_french(locale: str | None, accept_language: str | None) -> bool:
    """``locale`` (``en`` or ``fr``) when given, else the first language of Accept-Language."""
    if locale is not None:
        if locale not in ("en", "fr"):
            raise ApiError(400, "locale must be en or fr")
        return locale == "fr"
    first = (accept_language or "").split(",")[0].strip().lower()
    return first == "fr" or first.startswith("fr-") or first.startswith("fr;")
