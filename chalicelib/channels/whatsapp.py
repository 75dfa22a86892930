"""WhatsApp through Twilio: its own channel on Twilio's signed webhook, answered in TwiML as an SMS is.

Twilio posts a WhatsApp message to the same "a message comes in" webhook as an SMS, with ``From`` and ``To``
prefixed ``whatsapp:`` (and WhatsApp's own parameters: ``ProfileName``, ``WaId``, ``MessageType``,
``MediaContentType0``, ``ButtonText``...). The Twilio channel checks the signature and Twilio's shape, then
hands the request here (:func:`chalicelib.channels.twilio.parse`): the customer is the E.164 number (the same
keyed hash as their SMS: one customer, one consent, one erasure), the message id ``whatsapp-<MessageSid>``.
``ProfileName`` (the name the customer shows on WhatsApp) is personal data Voix has no use for: never read,
stored or logged. Media are counted (``NumMedia``), never fetched. WhatsApp has no carrier STOP: a "STOP" is
a keyword Voix records and confirms, as an SMS STOP it handles itself.

A staff reply goes out by Twilio's Messages API with ``whatsapp:`` addresses. WhatsApp takes free text only
within its customer-service window (24 hours after the customer's last message); outside it only a template
Meta approved, sent by its Content SID (``ContentSid``, ``ContentVariables``). The templates are configured
per language in ``whatsapp.toml`` (beside ``sites.toml``); :mod:`chalicelib.reply_window` applies the rule.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chalicelib.channels import Channel, InvalidRecipient, Refused, Request, register
from chalicelib.channels import twilio as _twilio
from chalicelib.models import InboundMessage

PREFIX = "whatsapp:"
WINDOW_HOURS = 24  # WhatsApp's customer-service window
_WA_ID = re.compile(r"[0-9]{6,15}")  # the sender's WhatsApp id: their number's digits
_MESSAGE_TYPE = re.compile(r"[a-z_]{1,32}")  # text, image, audio, button, location...
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
PLACEHOLDERS = ("text", "site")  # what a template's variables may hold: the staff reply, the site's short name


def to_inbound(params: list[tuple[str, str]], received_at: datetime) -> InboundMessage:
    """A WhatsApp message from Twilio's form, or :class:`Refused` (403) for a signed request not of the shape
    Twilio sends for WhatsApp, :class:`BadRequest` for one that cannot be read."""
    fields: dict[str, str] = {}
    for name, value in params:
        fields.setdefault(name, value)
    if not (fields.get("From", "").startswith(PREFIX) and fields.get("To", "").startswith(PREFIX)):
        raise Refused(403, "not a Twilio request: a WhatsApp message has From and To both whatsapp:")
    if "WaId" in fields and not _WA_ID.fullmatch(fields["WaId"]):
        raise Refused(403, "not a Twilio request: WaId is not a WhatsApp id")
    if "MessageType" in fields and not _MESSAGE_TYPE.fullmatch(fields["MessageType"]):
        raise Refused(403, "not a Twilio request: MessageType is not a message type")
    # the addresses without their prefix; Twilio's Advanced Opt-Out is SMS only: a STOP here is Voix's to answer
    kept = [(name, value[len(PREFIX):] if name in ("From", "To") else value) for name, value in params
            if name != "OptOutType"]
    return _twilio.to_inbound(kept, received_at, channel="whatsapp")


def parse(request: Request, received_at: datetime) -> InboundMessage:
    raw = request.body.encode() if isinstance(request.body, str) else request.body
    return to_inbound(_twilio.parse_form(raw), received_at)


# -- templates, for staff replies outside the window ------------------------------------------------------
@dataclass(frozen=True)
class TemplateSend:
    """One template message: the Content SID and its variables, filled."""

    content_sid: str
    variables: dict[str, str]


class Template(BaseModel):
    """A template Meta approved, as Twilio's Content API names it, and what fills its variables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    content_sid: str = Field(pattern=r"^HX[0-9a-f]{32}$", description="Twilio's Content SID (HX and 32 hex digits)")
    variables: dict[str, str] = Field(default_factory=dict, description='{"1": "{site}", "2": "{text}"}: each '
                                      "variable's value, with {text} (the staff reply) and {site} placeholders")

    @field_validator("variables")
    @classmethod
    def _known_placeholders(cls, variables: dict[str, str]) -> dict[str, str]:
        for key, value in variables.items():
            if not re.fullmatch(r"[1-9][0-9]?", key):
                raise ValueError(f"variable {key!r}: Twilio numbers a template's variables 1, 2, 3...")
            for name in _PLACEHOLDER.findall(value):
                if name not in PLACEHOLDERS:
                    raise ValueError(f"variable {key}: unknown placeholder {{{name}}} (one of {PLACEHOLDERS})")
        return variables

    def fill(self, *, text: str, site: str) -> TemplateSend:
        """The variables filled; each one line (WhatsApp refuses a variable with a new line, a tab or more than
        four spaces in a row), never empty."""
        values = {"text": text, "site": site}
        filled = {key: " ".join(_PLACEHOLDER.sub(lambda m: values[m[1]], value).split()) or "-"
                  for key, value in self.variables.items()}
        return TemplateSend(self.content_sid, filled)


class WhatsAppSettings(BaseModel):
    """``whatsapp.toml``: the approved templates, per language (``[templates.en]``, ``[templates.fr]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    templates: dict[Literal["en", "fr"], Template] = Field(default_factory=dict)


def load_settings(directory: str | Path | None = None) -> WhatsAppSettings:
    """``whatsapp.toml`` of the configuration folder (none: no template, so no reply outside the window);
    :class:`ValueError` naming the file and the problem if it is invalid."""
    from chalicelib.config_loader import DEFAULT_CONFIG_DIR

    path = Path(directory or os.environ.get("VOIX_CONFIG_DIR") or DEFAULT_CONFIG_DIR) / "whatsapp.toml"
    try:
        return WhatsAppSettings.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return WhatsAppSettings()
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ValueError(f"{path}: invalid configuration: {exc}") from exc


@lru_cache(maxsize=4)
def _settings(directory: str) -> WhatsAppSettings:
    return load_settings(directory)


def settings() -> WhatsAppSettings:
    """The settings of the configuration folder named by the environment, read once per process."""
    from chalicelib.config_loader import DEFAULT_CONFIG_DIR

    return _settings(os.environ.get("VOIX_CONFIG_DIR") or str(DEFAULT_CONFIG_DIR))


class WhatsAppSender(_twilio.TwilioMessagesSender):
    """Twilio's Messages API with ``whatsapp:`` addresses: free text, or a template (``template=``)."""

    window_hours = WINDOW_HOURS
    window_service = "WhatsApp"

    def __init__(self, *, templates: Callable[[], WhatsAppSettings] = settings, **kwargs: Any):
        super().__init__(**kwargs)
        self._templates = templates

    def template(self, language: str) -> Template | None:
        """The approved template for ``language``, if one is configured."""
        return self._templates().templates.get(language)  # type: ignore[call-overload]

    def send(self, *, to: str, origin: str, text: str, reference: str, template: TemplateSend | None = None) -> str:
        fields: dict[str, str] = {"To": PREFIX + to, "From": PREFIX + origin}
        if template is None:
            fields["Body"] = text
        else:
            fields.update(ContentSid=template.content_sid, ContentVariables=json.dumps(template.variables))
        return self.post(fields, reference)

    def failure(self, code: str | None, detail: str) -> Any:
        return CHANNEL.failure(code, detail)


def outbound(client: Callable[[str], Any]) -> WhatsAppSender:
    """The staff replies' sender: Twilio's Messages API as the Twilio channel's (TWILIO_API_URL, the account's
    SID and auth token read at each send, callbacks to the status route), with WhatsApp's addresses."""
    from chalicelib import webhook_url
    from chalicelib.secrets import get_secret

    return WhatsAppSender(account_sid=lambda: get_secret("TWILIO_ACCOUNT_SID"),
                          auth_token=lambda: get_secret("TWILIO_AUTH_TOKEN"),
                          api_url=os.environ.get("TWILIO_API_URL") or _twilio.API_URL,
                          status_url=webhook_url.status_url())


SEND_ERRORS: Mapping[str, Any] = {
    **_twilio.CHANNEL.send_errors,
    "63016": InvalidRecipient,  # free text outside the window: refused, and a retry would be too
    "63024": InvalidRecipient,  # not a WhatsApp user
}

CHANNEL = register(Channel(
    name="whatsapp", label="WhatsApp", verify=_twilio.verify, parse=parse, answer=_twilio.answer, outbound=outbound,
    send_errors=SEND_ERRORS,
))
