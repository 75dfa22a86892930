"""Survey scores (pure): reading a bare-number answer, its scale, detractors, and NPS / CSAT / CES."""

from __future__ import annotations

import re
from typing import Any

SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
_SCORE = re.compile(r"^\s*(\d{1,3})\s*(?:(?:/|out of|sur)\s*(10|5|7))?\s*[.!]*\s*$", re.IGNORECASE)


def score_of(text: str) -> int | None:
    """The number a reply is, if it is only a number ("9", "9/10", " 10!", "5 out of 5", "8 sur 10")."""
    match = _SCORE.match(text or "")
    return int(match.group(1)) if match else None


def out_of(text: str) -> int | None:
    """The scale a score names ("5 out of 5": 5), if it names one."""
    match = _SCORE.match(text or "")
    return int(match.group(2)) if match and match.group(2) else None


def in_range(kind: str, value: int) -> bool:
    low, high = SCALES[kind]
    return low <= value <= high


def is_detractor(kind: str, value: int) -> bool:
    return {"nps": value <= 6, "csat": value <= 2, "ces": value <= 3}[kind]


def score(kind: str, distribution: dict[int, int]) -> dict[str, Any]:
    """NPS: % promoters (9-10) - % detractors (0-6). CSAT: % satisfied (4-5). CES: mean (1-7)."""
    n = sum(distribution.values())
    if not n:
        return {"n": 0, "score": None}
    mean = round(sum(v * c for v, c in distribution.items()) / n, 2)
    if kind == "nps":
        promoters = sum(c for v, c in distribution.items() if v >= 9)
        detractors = sum(c for v, c in distribution.items() if v <= 6)
        return {"n": n, "score": round(100 * (promoters - detractors) / n), "promoters": promoters,
                "passives": n - promoters - detractors, "detractors": detractors, "mean": mean}
    if kind == "csat":
        satisfied = sum(c for v, c in distribution.items() if v >= 4)
        return {"n": n, "score": round(100 * satisfied / n), "satisfied": satisfied, "mean": mean}
    return {"n": n, "score": mean, "mean": mean}
