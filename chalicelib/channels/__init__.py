"""The channel registry: every way a customer's text comes in, each one module of this package.

A channel module builds one :class:`Channel` and passes it to :func:`register` when imported. It
says how a request from the channel is checked (``verify``) and read (``parse``) into the
channel-neutral :class:`~chalicelib.models.InboundMessage`; how the reply goes back, in the
webhook's answer (``answer``, Twilio's TwiML) or by the channel's API (``sender``, End User
Messaging's SendTextMessage); what the channel's send errors mean (``send_errors``); and whether its
carrier answers STOP itself. Nothing else names a channel: the code asks :func:`get` and
:func:`names`. Adding a channel is one module here plus its route or trigger in ``app.py``.

Light on purpose: :mod:`chalicelib.models` asks it whether a channel exists, and a handler loads
only the channel modules it uses (:func:`get` imports ``chalicelib.channels.<name>`` on first use).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from chalicelib.configuration import Config

NAME = re.compile(r"^[a-z][a-z0-9]{1,15}$")  # the prefix of every message id: "<name>-<channel's id>"
MESSAGE_ID = re.compile(r"^([a-z][a-z0-9]{1,15})-[A-Za-z0-9_.:-]{1,128}$")


class BadRequest(ValueError):
    """The request cannot be read; the message says why (a 400, or an event dropped)."""


class Refused(Exception):
    """The request is not the channel's (bad signature, wrong account, wrong content type): ``status``
    is the HTTP answer, and nothing is stored."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class ReplyFailed(Exception):
    """A text could not be sent; a later attempt may succeed (SNS redelivers, the worker retries)."""


class RecipientOptedOut(ReplyFailed):
    """The number opted out at the carrier: retrying cannot help, and nothing more is sent, as the customer
    asked."""


class InvalidRecipient(ReplyFailed):
    """The number cannot receive this channel's texts (not a valid number, or its destination is blocked)."""


class Throttled(ReplyFailed):
    """The channel refused for its rate or quota: a later attempt will do."""


class ReplySender(Protocol):
    """Sends one text; a threading channel (e-mail) is given ``thread=`` too (a MailThread), the others never."""

    def send(self, *, to: str, origin: str, text: str, reference: str) -> str | None: ...


@dataclass(frozen=True)
class Request:
    """What reached a channel's route or trigger: an HTTP request, or an event's message (``body``)."""

    body: bytes | str
    headers: Mapping[str, str] = field(default_factory=dict)
    path: str = ""
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """The body of a webhook's answer carrying the reply (TwiML for Twilio)."""

    body: str
    content_type: str


def _trusted(request: Request, secrets: Any) -> None:
    """Events AWS delivers to the function itself (SNS): IAM decided who may publish."""


def _never(config: Config) -> bool:
    return False


@dataclass(frozen=True)
class Channel:
    """One channel, declared once.

    ``verify(request, secrets)`` raises :class:`Refused` (``secrets`` is the service wiring: tokens and
    URLs); ``parse(request, received_at)`` returns the message or raises :class:`BadRequest`. Exactly one
    of ``answer`` (the reply rides in the webhook's answer) and ``sender`` (the reply goes out by API;
    called with a boto3-client factory) is given; ``outbound`` is how a channel answering in its webhook
    sends a text of its own (a staff reply: Twilio's Messages API). ``send_errors`` maps the channel's error codes or
    reasons to what they mean; ``carrier_handles_stop(config)`` says whether the carrier answers STOP
    and HELP itself (Voix then records the change and stays silent).
    """

    name: str
    parse: Callable[[Request, datetime], Any]  # a chalicelib.models.InboundMessage (models asks the registry)
    verify: Callable[[Request, Any], None] = _trusted
    answer: Callable[[str | None], Answer] | None = None
    sender: Callable[[Callable[[str], Any]], ReplySender] | None = None
    outbound: Callable[[Callable[[str], Any]], ReplySender] | None = None  # staff replies, where ``sender`` is None
    logs_locally: bool = True  # REPLY_SENDER=log stands in for its API (moto has none); e-mail goes to moto's SES
    send_errors: Mapping[str, type[ReplyFailed]] = field(default_factory=dict)
    carrier_handles_stop: Callable[[Config], bool] = _never
    can_call: bool = True  # the customer is a phone number staff can call back; False (e-mail): a written answer
    rings: bool = True  # a text makes the customer's phone ring: quiet hours hold a staff reply; False (e-mail)
    label: str = ""  # what people read (the digest, the dashboard): "SMS (Twilio)"; the name if not given

    def __post_init__(self) -> None:
        if not NAME.fullmatch(self.name):
            raise ValueError(f"channel name {self.name!r} must match {NAME.pattern}")
        if not self.label:
            object.__setattr__(self, "label", self.name)
        if (self.answer is None) == (self.sender is None):
            raise ValueError(f"channel {self.name}: the reply goes in the answer or by API (one of the two)")

    @property
    def replies_in_answer(self) -> bool:
        return self.answer is not None

    @property
    def staff_sender(self) -> Callable[[Callable[[str], Any]], ReplySender] | None:
        """How a staff reply (nobody's webhook to answer in) goes out: ``outbound``, else ``sender``."""
        return self.outbound or self.sender

    def read(self, request: Request, received_at: datetime) -> Any:
        """``parse``, with every way a hostile body can break a parser (deep nesting, huge numbers, invalid
        UTF-8, wrong types) turned into :class:`BadRequest`: an unreadable body is a 400, or an event logged
        and dropped, whichever channel it came by."""
        try:
            return self.parse(request, received_at)
        except (BadRequest, Refused):
            raise
        except (RecursionError, ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError) as exc:
            raise BadRequest(f"unreadable {self.name} request ({type(exc).__name__})") from exc

    def failure(self, code: str | None, detail: str) -> ReplyFailed:
        """The error a send refused with ``code`` (the channel's error code or reason) means."""
        return self.send_errors.get(code or "", ReplyFailed)(detail)


_registry: dict[str, Channel] = {}


def register(channel: Channel) -> Channel:
    """Make ``channel`` known by its name (each channel module calls this once, when imported)."""
    _registry[channel.name] = channel
    return channel


def get(name: str) -> Channel:
    """The channel called ``name``, importing its module on first use; :class:`KeyError` if none."""
    if name not in _registry and NAME.fullmatch(name or "") and _module_exists(name):
        importlib.import_module(f"{__name__}.{name}")
    try:
        return _registry[name]
    except KeyError:
        raise KeyError(f"unknown channel {name!r}") from None


def names() -> list[str]:
    """Every channel: the modules of this package and any registered otherwise."""
    for module in pkgutil.iter_modules(__path__):
        get(module.name)
    return sorted(_registry)


def is_message_id(text: str | None) -> bool:
    """Whether ``text`` has the shape of a message id of a known channel (``twilio-SM…``)."""
    found = MESSAGE_ID.fullmatch(text or "")
    return bool(found) and found[1] in names()


def _module_exists(name: str) -> bool:
    return any(module.name == name for module in pkgutil.iter_modules(__path__))


class LogReplySender:
    """Local stack and tests (``REPLY_SENDER=log``; moto has no SendTextMessage): every text sent by API is
    logged, and kept in an outbox."""

    def __init__(self) -> None:
        self.outbox: list[dict[str, str]] = []

    def send(self, *, to: str, origin: str, text: str, reference: str) -> str | None:
        from chalicelib.observability import logger
        from chalicelib.phone import mask

        self.outbox.append({"to": to, "origin": origin, "text": text, "reference": reference})
        logger.info("local SMS reply", extra={"to": mask(to), "origin": origin, "text": text, "reference": reference})
        return f"local-{len(self.outbox)}"
