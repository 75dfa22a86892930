"""What erasure leaves behind: keyed, one-way marks that hold no personal data (pure).

* A **message mark** for each erased message id (channel and id: ``twilio-SM...``) and a
  **case mark** for each erased case: a replayed request or a job still on the queue is
  recognised as erased, and nothing of it is stored, counted, cased or sent again.
* A **customer mark** with the time of the erasure: sends queued before it (a survey held
  for quiet hours) are cancelled when they come up. A new message from the same number
  after the erasure is a new customer's first message, and is accepted.
* A **suppression mark**: an opt-out outlives the erasure of the customer's history.

Each is an HMAC keyed per deployment (the customer key secret), truncated to 128 bits,
over a kind and a value, so the marks of one customer cannot be linked to each other or
recomputed without the secret; the customer's number or key is never stored with them.
"""

from __future__ import annotations

import hashlib
import hmac

KINDS = ("message", "case", "customer", "opt-out")


def mark(secret: bytes, kind: str, value: str) -> str:
    """The mark of one erased thing (``kind`` in :data:`KINDS`; the customer's by their key)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of mark {kind!r}")
    return hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]
