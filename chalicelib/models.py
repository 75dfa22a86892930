"""The messages that cross the system's boundaries, validated with pydantic."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_SMS_CHARS = 1600  # Twilio's and End User Messaging's limit for one (concatenated) SMS
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class InboundMessage(BaseModel):
    """One customer SMS, whatever channel brought it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: str = Field(description="A registered channel (chalicelib.channels)")
    channel_message_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
    from_number: str = Field(description="E.164")
    to_number: str = Field(description="E.164")
    body: str = Field(max_length=MAX_SMS_CHARS)
    received_at: datetime
    num_media: int = Field(default=0, ge=0, le=10)
    carrier_keyword: Literal["opt_out", "opt_in", "help"] | None = Field(
        default=None, description="The carrier recognised a keyword and answered it (Twilio OptOutType)")

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, channel: str) -> str:
        from chalicelib import channels

        try:
            channels.get(channel)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
        return channel

    @field_validator("body")
    @classmethod
    def _clean_body(cls, body: str) -> str:
        return _CONTROL.sub("", body).strip()

    @property
    def id(self) -> str:
        """The message's key, unique across channels."""
        return f"{self.channel}-{self.channel_message_id}"
