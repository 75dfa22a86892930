"""Per-sender limits against floods (OWASP API4), without a storage call on the webhook path (pure).

``SenderWindow`` keeps, per sender, the recent messages it let through in the
function's memory: beyond ``limit`` distinct messages in ``seconds``, a message is
neither stored nor answered. A redelivery of a message already let through is let
through again (so the provider's retry gets the same answer) and is not counted twice.
A warm Lambda container serves a burst from one number, so this holds a flood to a
few messages per container; the durable bound is on what costs money and wakes
people: alerts per sender per hour (a conditional counter, in the worker).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque


class SenderWindow:
    def __init__(self, limit: int, seconds: float = 60.0, max_senders: int = 10_000):
        self._limit = limit
        self._seconds = seconds
        self._max = max_senders
        self._seen: OrderedDict[str, deque[tuple[float, str]]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, sender: str, now: float, message_id: str = "") -> bool:
        """Record message ``message_id`` from ``sender`` at ``now`` (seconds); False if over the limit."""
        if self._limit <= 0:
            return True
        with self._lock:
            recent = self._seen.pop(sender, None) or deque()
            while recent and now - recent[0][0] >= self._seconds:
                recent.popleft()
            if message_id and any(seen == message_id for _, seen in recent):
                allowed = True
            else:
                allowed = len(recent) < self._limit
                if allowed:
                    recent.append((now, message_id))
            self._seen[sender] = recent
            while len(self._seen) > self._max:
                self._seen.popitem(last=False)
            return allowed


def rolling_quota(prefix: str, days: int, now_seconds: float) -> tuple[str, str]:
    """The quota keys of the current block of ``days`` days, and of the block before it.

    A cap of ``cap`` uses in any ``days`` days (a rolling window, not a calendar block): take
    one use of the current block with the limit ``cap - used(previous block)``. Any window of
    ``days`` days spans at most these two blocks, so it never holds more than ``cap`` uses; the
    price is a wait of up to twice ``days`` after a use late in a block.
    """
    block = int(now_seconds // 86_400) // days
    return f"{prefix}#{block}", f"{prefix}#{block - 1}"
