"""Corrections that teach (issue 22): a manager relabels a message's topic, nature or urgency, and the
corrections, taken as ground truth, measure the classifier. Pure over the ports.

A correction moves the message's counts once, in its own hour, day, ISO week and month: its old labels'
``topic_``, ``nature_``, ``urgency_`` and cross count ``x_<topic>_<nature>_<urgency>`` down by one, the new ones up
by one. It also keeps
the quality tally beside them: ``q_n`` (messages corrected) and, for each of the three dimensions,
``q_<dimension>_<machine label>_<corrected label>``: one per corrected message, its latest correction's labels
(a second correction of a message takes back the first's tally). A dimension the manager left as it was
counts as confirmed for that message (a correction is a review of its three labels).

The quality figures read only that tally (day items, or hours at the period's edges): never the messages.
Messages nobody corrected are not in them: precision and recall are over the corrected messages only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from chalicelib.clock import iso, utcnow
from chalicelib.configuration import NATURES, URGENCIES, Config
from chalicelib.errors import ApiError
from chalicelib.ports import Messages

DIMENSIONS = ("topic", "nature", "urgency")


def label_fields(labels: dict[str, str], channel: str | None = None) -> list[str]:
    """The counter fields a message with these labels adds one to (besides ``n``, its language and ``ch_<channel>``):
    with its channel, the channel × nature × urgency count too."""
    return ([f"{d}_{labels[d]}" for d in DIMENSIONS] + [f"x_{labels['topic']}_{labels['nature']}_{labels['urgency']}"]
            + ([f"ch_{channel}_{labels['nature']}_{labels['urgency']}"] if channel else []))


def quality_fields(machine: dict[str, str], final: dict[str, str]) -> list[str]:
    return [f"q_{d}_{machine[d]}_{final[d]}" for d in DIMENSIONS]


def moves(machine: dict[str, str], current: dict[str, str], new: dict[str, str], first: bool,
          channel: str | None = None) -> dict[str, int]:
    """The counts a correction from ``current`` to ``new`` labels moves (those that net to zero left out);
    ``channel``: the message's channel, counted by channel (``counted_by_channel``)."""
    out: dict[str, int] = {"q_n": 1} if first else {}
    gone = label_fields(current, channel) + ([] if first else quality_fields(machine, current))
    added = label_fields(new, channel) + quality_fields(machine, new)
    for field, step in [*((f, -1) for f in gone), *((f, 1) for f in added)]:
        out[field] = out.get(field, 0) + step
    return {field: value for field, value in out.items() if value}


class Corrections:
    """A manager's relabelling of a counted message."""

    def __init__(self, *, config: Config, messages: Messages, now: Callable[[], datetime] = utcnow):
        self._config = config
        self._messages = messages
        self._now = now

    def labels(self) -> dict[str, tuple[str, ...]]:
        return {"topic": tuple(self._config.topics), "nature": NATURES, "urgency": URGENCIES}

    def correct(self, message_id: str, changes: dict[str, str | None], *, by: str, note: str | None = None
                ) -> dict[str, Any]:
        """Relabel a message; raises ApiError: 400 (an unknown label), 404 (no such message), 409 (not counted
        yet, nothing to change, or changed meanwhile). Returns the message as stored after it."""
        allowed = self.labels()
        for dimension, value in changes.items():
            if value is not None and value not in allowed[dimension]:
                raise ApiError(400, f"{dimension}: unknown {dimension} {value!r} "
                                    f"(one of {', '.join(allowed[dimension])})")
        message = self._messages.get_message(message_id)
        if message is None:
            raise ApiError(404, "no such message")
        if "processed_at" not in message:
            raise ApiError(409, "not counted yet, retry in a moment")
        current = {d: str(message.get(d)) for d in DIMENSIONS}
        new = {d: changes.get(d) or current[d] for d in DIMENSIONS}
        if new == current:
            raise ApiError(409, "nothing to change: the message has these labels already")
        machine = message.get("machine") or current
        counts = moves(machine, current, new, first=not message.get("corrections"),
                       channel=message.get("channel") if message.get("counted_by_channel") else None)
        if not self._messages.relabel_message(message, labels=new, by=by, at=iso(self._now()), note=note,
                                              counts=counts):
            raise ApiError(409, "the message changed meanwhile: reload it and correct it again")
        return self._messages.get_message(message_id) or {**message, **new}


def quality(rows: Iterable[dict[str, int]], labels: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """Confusion matrices and per-label precision and recall from the tally rows of a period (summed)."""
    total: dict[str, int] = {}
    for row in rows:
        for field, value in row.items():
            total[field] = total.get(field, 0) + int(value or 0)
    out: dict[str, Any] = {"corrected": total.get("q_n", 0)}
    for dimension in DIMENSIONS:
        matrix: dict[str, dict[str, int]] = {}
        for field, value in total.items():
            parts = field.split("_")
            if len(parts) == 4 and parts[0] == "q" and parts[1] == dimension and value:
                matrix.setdefault(parts[2], {})[parts[3]] = value
        names = list(dict.fromkeys([*labels[dimension], *matrix, *(c for r in matrix.values() for c in r)]))
        out[dimension] = {"confusion": matrix, "labels": {name: _scores(matrix, name) for name in names}}
    return out


def _scores(matrix: dict[str, dict[str, int]], name: str) -> dict[str, Any]:
    hit = matrix.get(name, {}).get(name, 0)
    predicted = sum(matrix.get(name, {}).values())
    actual = sum(row.get(name, 0) for row in matrix.values())
    return {"predicted": predicted, "actual": actual,
            "precision": round(hit / predicted, 3) if predicted else None,
            "recall": round(hit / actual, 3) if actual else None}
