"""The messages that cross the system's boundaries, validated with pydantic."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.conversations import MailThread

MAX_SMS_CHARS = 1600  # Twilio's and End User Messaging's limit for one (concatenated) SMS
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class InboundMessage(BaseModel):
    """One customer message (an SMS, an e-mail), whatever channel brought it. ``from_number`` and ``to_number``
    are E.164 numbers, or e-mail addresses (normalised) on the ``email`` channel."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: str = Field(description="A registered channel (chalicelib.channels)")
    channel_message_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
    from_number: str = Field(max_length=254, description="E.164; the sender's address on the email channel")
    to_number: str = Field(max_length=254, description="E.164; the address written to on the email channel")
    body: str = Field(max_length=MAX_SMS_CHARS)
    received_at: datetime
    num_media: int = Field(default=0, ge=0, le=10)
    carrier_keyword: Literal["opt_out", "opt_in", "help"] | None = Field(
        default=None, description="The channel recognised a keyword and answered it (Twilio OptOutType), or an "
        "e-mail asked to unsubscribe: recorded, not answered")
    withheld: str | None = Field(default=None, max_length=40, pattern=r"^(suspect|automatic):[a-z-]{1,30}$",
                                 description="Stored, never answered, cased nor counted, and why: suspect:dmarc "
                                 "(a failed SES verdict), automatic:auto-submitted (an auto-reply, bounce, list mail)")
    thread: MailThread | None = Field(default=None, description="E-mail: how to answer in the customer's thread")
    answers_our_reply: bool = Field(default=False, description="E-mail: it answers one of our automatic replies: "
                                    "stored and joined to its case, never answered automatically (no mail loop)")

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, channel: str) -> str:
        from chalicelib import channels

        try:
            channels.get(channel)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
        return channel

    @model_validator(mode="after")
    def _addresses_on_email_only(self) -> InboundMessage:
        if self.channel != "email" and "@" not in self.from_number:  # an SMS: nothing of e-mail is loaded
            return self
        from chalicelib.mail import is_address

        if (self.channel == "email") != is_address(self.from_number):
            raise ValueError("from_number is an e-mail address on the email channel only")
        return self

    @field_validator("body")
    @classmethod
    def _clean_body(cls, body: str) -> str:
        return _CONTROL.sub("", body).strip()

    @property
    def id(self) -> str:
        """The message's key, unique across channels."""
        return f"{self.channel}-{self.channel_message_id}"
