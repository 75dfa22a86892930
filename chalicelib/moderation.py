"""Forbidden words (insults, competitors' names) masked wherever customer text is shown (pure).

The stored text is never changed: the original stays for audit, readable only with the
audit token (``GET /api/audit/messages/{id}``). Matching ignores case and accents and
takes whole words; a word ending in ``*`` also matches its longer forms (``idiot*``).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache


def _fold(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)).lower()


@lru_cache(maxsize=16)
def _pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    parts = []
    for word in words:
        stem = _fold(word.strip())
        if not stem:
            continue
        parts.append(re.escape(stem[:-1]) + r"\w*" if stem.endswith("*") else re.escape(stem))
    if not parts:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(sorted(parts, key=len, reverse=True)) + r")(?!\w)")


def mask(text: str | None, words: tuple[str, ...]) -> str | None:
    """``text`` with each forbidden word shown as its first letter and asterisks."""
    if not text or not words:
        return text
    pattern = _pattern(words)
    if pattern is None:
        return text
    # fold character by character so that positions match the original text
    folded = "".join(_fold(ch)[:1] or ch for ch in text)
    if len(folded) != len(text):  # pragma: no cover - a character that folds to nothing
        return text
    out, last = [], 0
    for match in pattern.finditer(folded):
        start, end = match.span()
        out.append(text[last:start] + text[start] + "*" * (end - start - 1))
        last = end
    return "".join(out) + text[last:]
