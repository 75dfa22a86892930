"""A channel Voix does not have: a feedback kiosk whose reply rides in the webhook's answer, as JSON
(tests/test_channels.py). All that adding a channel takes, beside its route: this module."""

from __future__ import annotations

import json
from datetime import datetime

from chalicelib.channels import Answer, Channel, Request, register
from chalicelib.models import InboundMessage


def parse(request: Request, received_at: datetime) -> InboundMessage:
    data = json.loads(request.body)
    return InboundMessage(channel="kiosk", channel_message_id=data["id"], from_number=data["from"],
                          to_number=data["to"], body=data["text"], received_at=received_at)


def answer(reply: str | None) -> Answer:
    return Answer(json.dumps({"reply": reply or ""}), "application/json")


CHANNEL = register(Channel(name="kiosk", parse=parse, answer=answer))
