"""SMS length accounting: GSM-7 or UCS-2, and how many segments a text costs."""

from __future__ import annotations

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")

# Look-alike characters that would force a whole message into UCS-2.
_PLAIN = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
    "\u2026": "...", "\u00a0": " ", "\u202f": " ", "\u2022": "-", "\u00ab": '"', "\u00bb": '"',
})


def plain(text: str) -> str:
    """Replace typographic punctuation by its GSM-7 equivalent."""
    return text.translate(_PLAIN)


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text)


def segments(text: str) -> int:
    """Number of SMS segments ``text`` is billed as."""
    if is_gsm7(text):
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        single, multi = 160, 153
    else:
        units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)  # UTF-16 code units
        single, multi = 70, 67
    if units <= single:
        return 1
    return -(-units // multi)


def truncate(text: str, max_segments: int) -> str:
    """Shorten ``text`` (ending with an ellipsis) so that it fits ``max_segments``."""
    if segments(text) <= max_segments:
        return text
    cut = len(text)
    while cut > 0 and segments(text[:cut].rstrip() + "...") > max_segments:
        cut -= 1
    return text[:cut].rstrip() + "..."


def fit(prefix: str, body: str, suffix: str, max_segments: int) -> str:
    """``prefix + body + suffix`` with ``body`` shortened (never the rest) to fit ``max_segments``."""
    whole = plain(prefix + body + suffix)
    if segments(whole) <= max_segments:
        return whole
    low, high = 0, len(body)
    while low < high:
        mid = (low + high + 1) // 2
        if segments(plain(prefix + body[:mid].rstrip() + "..." + suffix)) <= max_segments:
            low = mid
        else:
            high = mid - 1
    return plain(prefix + body[:low].rstrip() + "..." + suffix)
