"""A channel's customer-service window on staff replies (WhatsApp's: 24 hours), pure rules.

A channel whose staff sender has ``window_hours`` (chalicelib/channels/whatsapp.py) takes free text only within
that many hours of the customer's last message; after, only an approved template, which the sender's
``template(language)`` gives for the customer's language (None: none fits, and the reply cannot go out). The
customer's last message is the latest of the case's first message and their answers in its conversation.
:class:`~chalicelib.replying.ConversationService` asks when a reply is written (a refusal is a 409 the
dashboard shows) and again when the worker sends it (a reply held by quiet hours may leave the window).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.clock import parse_time
from chalicelib.configuration import Config


class WindowClosed(Exception):
    """The window closed and no template fits: the message says so, for staff to read."""


def last_customer_at(case: dict[str, Any], conversation: Iterable[Any]) -> datetime:
    """When the customer last wrote about this case: their first message, or their latest answer."""
    times = [str(case.get("received_at") or "")] + [m.at for m in conversation if m.direction == "in"]
    return parse_time(max(t for t in times if t) or "1970-01-01T00:00:00Z")


def language_of(config: Config, case: dict[str, Any]) -> str:
    """The customer's language as Voix writes to them: theirs (en, fr), else their site's."""
    language = case.get("language")
    if language in ("en", "fr"):
        return str(language)
    site = config.site(case.get("site"))
    return site.language if site else config.deployment.default_language


def _ago(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24} days" if hours >= 48 else f"{hours} hours"


def template_for(sender: Any, config: Config, case: dict[str, Any], conversation: Iterable[Any], now: datetime,
                 text: str) -> Any:
    """None when ``text`` may go out as it is (no window, or inside it); the template to send instead, filled
    with it, outside the window; :class:`WindowClosed` when no template fits the customer's language."""
    hours = getattr(sender, "window_hours", 0)
    if not hours:
        return None
    last = last_customer_at(case, conversation)
    if now - last < timedelta(hours=hours):
        return None
    language = language_of(config, case)
    template = sender.template(language)
    if template is None:
        name = getattr(sender, "window_service", "this channel")
        raise WindowClosed(f"{name}'s {hours}-hour window closed (the customer last wrote {_ago(now - last)} ago) "
                           f"and no approved template exists for {language}: nothing can be sent until they "
                           "write again")
    site = config.site(case.get("site"))
    return template.fill(text=text, site=site.short_name.get(language) if site else config.deployment.name)


class Templated:
    """``sender``, sending ``template`` in place of the text (the text stays the conversation's record)."""

    def __init__(self, sender: Any, template: Any):
        self._sender = sender
        self._template = template
        self.reports_delivery = getattr(sender, "reports_delivery", False)

    def send(self, **message: Any) -> str | None:
        return self._sender.send(**message, template=self._template)
