"""The automatic answer a customer gets at once: pure, from configuration."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from chalicelib.classification import MEDIA_ONLY_RULE, Classification
from chalicelib.configuration import Config, Localised, ReplyRule, Site
from chalicelib.sms_segments import plain, truncate

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


def matching_rule(config: Config, classification: Classification, can_call: bool = True) -> ReplyRule:
    """The first reply rule for the message; ``can_call`` is false where the channel has no phone number to call
    back (e-mail): rules promising a call give way to those promising a written answer."""
    site = config.site(classification.site)
    for rule in config.replies.replies:
        if rule.when.matches(
            nature=classification.nature, topic=classification.topic, urgency=classification.urgency,
            urgency_reason=classification.urgency_reason, site_kind=site.kind if site else None,
            site_known=site is not None, about_staff=classification.about_staff, can_call=can_call,
        ):
            return rule
    raise LookupError("no reply rule matched")  # the config validator forbids this


def reply_language(config: Config, classification: Classification) -> str:
    """The customer's language if Voix speaks it (en, fr); otherwise (Spanish, German...) the site's."""
    if classification.language in ("en", "fr"):
        return classification.language
    site = config.site(classification.site)
    return site.language if site else config.deployment.default_language


def delay(minutes: int, language: str) -> str:
    """A promised delay as a customer reads it: "10 minutes", "2 hours", "2 h"."""
    french = language == "fr"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} h" if french else f"{hours} hour{'s' if hours > 1 else ''}"
    return f"{minutes} min" if french else f"{minutes} minutes"


def promise_minutes(config: Config, site_id: str | None, urgency: str) -> int:
    """What a case promises (acknowledged within), and so what a reply may promise: the same figure."""
    site = config.site(site_id)
    if urgency == "high":
        return site.callback_minutes if site else 10
    return site.ack_minutes if site else config.deployment.care_reply_hours * 60


def placeholders(config: Config, site: Site | None, language: str, offer: str | None,
                 urgency: str = "normal") -> dict[str, str]:
    deployment = config.deployment
    site_kind = config.site_kind(site) if site else None
    example = config.sites[0].codes[0] if config.sites else "CODE"
    return {
        "site": site.short_name.get(language) if site else "",
        "staff": site_kind.staff.get(language) if site_kind else "",
        "team": site_kind.team.get(language) if site_kind else "",
        "minutes": str(site.callback_minutes if site else 10),
        "hours": str(deployment.care_reply_hours),
        "offer_code": offer or "",
        "emergency": site.emergency_number if site else deployment.emergency_number,
        "example_code": example,
        "delay": delay(promise_minutes(config, site.id if site else None, urgency), language),
    }


def render(config: Config, rule: ReplyRule, site: Site | None, language: str, offer: str | None,
           urgency: str = "normal") -> str:
    text = rule.text.get(language).format(**placeholders(config, site, language, offer, urgency))
    return truncate(plain(text), MAX_REPLY_SEGMENTS)


# a photo, a video or a voice message with no words (WhatsApp, MMS): stored, no case, and asked for words
MEDIA_ONLY = Localised(
    en="Thanks. We cannot open photos, videos or voice messages here: could you tell us in words what happened, "
       "and where?",
    fr="Merci. Nous ne pouvons pas ouvrir les photos, vidéos ou messages vocaux ici : pouvez-vous nous écrire ce "
       "qui s'est passé, et où ?")


def build_reply(config: Config, classification: Classification, message_id: str, secret: bytes,
                can_call: bool = True) -> Reply:
    """The reply for a classified message, in the customer's language (media alone: an invitation to write);
    ``can_call``: whether the customer's channel has a number to call back (see :func:`matching_rule`)."""
    if MEDIA_ONLY_RULE in classification.rules:
        return Reply(text=MEDIA_ONLY.get(reply_language(config, classification)), rule="media only")
    rule = matching_rule(config, classification, can_call)
    offer = offer_code(message_id, secret) if rule.offer else None
    language = reply_language(config, classification)
    text = render(config, rule, config.site(classification.site), language, offer, classification.urgency)
    return Reply(text=text, rule=rule.name, offer_code=offer)


def without_offer(config: Config, classification: Classification, rule_name: str) -> Reply:
    """The same reply with no offer in it (budget spent, or the customer had one lately)."""
    rule = next(r for r in config.replies.replies if r.name == rule_name)
    fallback = rule.no_offer or rule.text
    language = reply_language(config, classification)
    site = config.site(classification.site)
    text = fallback.get(language).format(**placeholders(config, site, language, None, classification.urgency))
    return Reply(text=truncate(plain(text), MAX_REPLY_SEGMENTS), rule=rule.name, offer_code=None)


def case_templates(config: Config, case: dict) -> list[dict[str, str]]:
    """The reply templates for a case, in its customer's language, with the case's site and promise filled in;
    ``{name}`` is left for the one replying (the dashboard fills it in with their name)."""
    site = config.site(case.get("site"))
    language = case.get("language")
    if language not in ("en", "fr"):
        language = site.language if site else config.deployment.default_language
    values = {**placeholders(config, site, language, None, str(case.get("urgency") or "normal")), "name": "{name}"}
    return [{"id": t.id, "title": t.title.get(language), "text": plain(t.text.get(language).format(**values))}
            for t in config.replies.templates]
