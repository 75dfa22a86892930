"""The automatic answer a customer gets at once: pure, from configuration."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from chalicelib.classification import Classification
from chalicelib.configuration import Config, ReplyRule, Site
from chalicelib.sms_segments import plain, segments, truncate

MAX_REPLY_SEGMENTS = 3
_OFFER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


@dataclass(frozen=True)
class Reply:
    text: str
    rule: str
    offer_code: str | None = None


def offer_code(message_id: str, secret: bytes) -> str:
    """A goodwill offer code, the same for every retry of one message."""
    digest = hmac.new(secret, f"offer:{message_id}".encode(), hashlib.sha256).digest()
    letters = "".join(_OFFER_ALPHABET[b % len(_OFFER_ALPHABET)] for b in digest[:6])
    return f"V{letters}"


def matching_rule(config: Config, c: Classification) -> ReplyRule:
    site = config.site(c.site)
    for rule in config.replies.replies:
        if rule.when.matches(
            nature=c.nature, topic=c.topic, urgency=c.urgency, urgency_reason=c.urgency_reason,
            kind=site.kind if site else None, site_known=site is not None,
        ):
            return rule
    raise LookupError("no reply rule matched")  # the config validator forbids this


def placeholders(config: Config, site: Site | None, language: str, offer: str | None) -> dict[str, str]:
    deployment = config.deployment
    kind = config.kind(site) if site else None
    example = config.sites[0].codes[0] if config.sites else "CODE"
    return {
        "site": site.short_name.get(language) if site else "",
        "staff": kind.staff.get(language) if kind else "",
        "team": kind.team.get(language) if kind else "",
        "minutes": str(site.callback_minutes if site else 10),
        "hours": str(deployment.care_reply_hours),
        "offer_code": offer or "",
        "emergency": site.emergency_number if site else deployment.emergency_number,
        "example_code": example,
    }


def render(config: Config, rule: ReplyRule, site: Site | None, language: str, offer: str | None) -> str:
    text = rule.text.get(language).format(**placeholders(config, site, language, offer))
    return truncate(plain(text), MAX_REPLY_SEGMENTS)


def build_reply(config: Config, c: Classification, message_id: str, secret: bytes) -> Reply:
    """The reply for a classified message, in the customer's language."""
    rule = matching_rule(config, c)
    offer = offer_code(message_id, secret) if rule.offer else None
    text = render(config, rule, config.site(c.site), c.language, offer)
    return Reply(text=text, rule=rule.name, offer_code=offer)


def without_offer(config: Config, c: Classification, rule_name: str) -> Reply:
    """The same reply with no offer in it (budget spent, or the customer had one lately)."""
    rule = next(r for r in config.replies.replies if r.name == rule_name)
    fallback = rule.no_offer or rule.text
    text = fallback.get(c.language).format(**placeholders(config, config.site(c.site), c.language, None))
    return Reply(text=truncate(plain(text), MAX_REPLY_SEGMENTS), rule=rule.name, offer_code=None)


def reply_segments(text: str) -> int:
    return segments(text)
