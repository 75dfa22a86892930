"""A channel Voix does not have: a web chat posting JSON, answered by its own API (tests/test_channels.py).

All that adding a channel takes, beside its route: this module.
"""

from __future__ import annotations

import hmac
import json
from datetime import datetime
from typing import Any

from chalicelib.channels import BadRequest, Channel, InvalidRecipient, Refused, Request, register
from chalicelib.models import InboundMessage
from chalicelib.phone import InvalidNumber, normalise

KEY = "webchat-test-key"


class Outbox:
    """The web chat's API: what was sent, in order."""

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    def send(self, *, to: str, origin: str, text: str, reference: str) -> str | None:
        self.sent.append({"to": to, "origin": origin, "text": text, "reference": reference})
        return f"chat-{len(self.sent)}"


OUTBOX = Outbox()


def verify(request: Request, secrets: Any) -> None:
    if not hmac.compare_digest((request.headers.get("x-webchat-key") or "").encode(), KEY.encode()):
        raise Refused(403, "not from the web chat")


def parse(request: Request, received_at: datetime) -> InboundMessage:
    try:
        data = json.loads(request.body)
        return InboundMessage(channel="webchat", channel_message_id=data["id"], from_number=normalise(data["from"]),
                              to_number=normalise(data["to"]), body=data["text"], received_at=received_at)
    except (ValueError, KeyError, TypeError, InvalidNumber) as exc:
        raise BadRequest(f"unreadable chat message: {exc}") from exc


CHANNEL = register(Channel(name="webchat", verify=verify, parse=parse, sender=lambda client: OUTBOX,
                           send_errors={"blocked": InvalidRecipient},
                           carrier_handles_stop=lambda config: True))  # the chat's own page confirms a STOP
