"""Alert recipients: who must hear about a message, and whom a complaint is about (pure).

From the routing rules of the configuration (``config/routing.toml``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from chalicelib.classification import Classification
from chalicelib.configuration import Config


@dataclass(frozen=True)
class AlertRecipient:
    channel: str  # "sms" | "email"
    to: str
    role: str  # site_staff | site_manager | care

    @property
    def id(self) -> str:
        """Stable key of this recipient within a case."""
        return hashlib.sha256(f"{self.channel}:{self.to}".encode()).hexdigest()[:12]


def recipients_for(config: Config, classification: Classification) -> list[AlertRecipient]:
    """Every recipient named by a matching rule, each once, in rule order.

    A role the site cannot fill (no on-the-spot staff, no manager, unknown
    site) falls back to central care by e-mail, so nothing is silently dropped.
    A message with no evidence (``unclear``) alerts nobody. A complaint about the
    staff on duty never goes to them (``site_staff``), whatever the rules say.
    """
    if classification.nature == "unclear":
        return []
    site = config.site(classification.site)
    care = config.deployment.care_email
    found: dict[tuple[str, str], AlertRecipient] = {}

    def add(channel: str, to: str, role: str) -> None:
        found.setdefault((channel, to), AlertRecipient(channel, to, role))

    for rule in config.routing.routing:
        if not rule.when.matches(
            nature=classification.nature, topic=classification.topic, urgency=classification.urgency,
            urgency_reason=classification.urgency_reason, site_kind=site.kind if site else None,
            site_known=site is not None, about_staff=classification.about_staff,
        ):
            continue
        for channel, roles in (("sms", rule.sms), ("email", rule.email)):
            for role in roles:
                if role == "site_staff" and classification.about_staff:
                    continue  # the person complained about: never told, never given the customer's number
                if role == "site_staff" and site and site.staff_sms:
                    targets = site.staff_sms if channel == "sms" else []
                elif role == "site_manager" and site and channel == "sms" and site.manager_sms:
                    targets = site.manager_sms
                elif role == "site_manager" and site and site.manager_email:
                    targets = site.manager_email if channel == "email" else []
                elif role == "care":
                    targets = care if channel == "email" else []
                else:
                    targets = []
                if targets:
                    for to in targets:
                        add(channel, to, role)
                else:
                    for to in care:
                        add("email", to, "care")
    if classification.about_staff and not found:  # rules naming only the staff on duty: it still reaches care
        for to in care:
            add("email", to, "care")
    return list(found.values())


def about_whom(config: Config, classification: Classification, at: datetime) -> dict | None:
    """Who a complaint about the staff on duty is about, recorded on its case: they may neither
    acknowledge nor resolve it. The site's on-the-spot numbers (its ``site_staff``) and, where the
    site has a roster, the names on duty when the message came (site's local time)."""
    if not classification.about_staff:
        return None
    site = config.site(classification.site)
    if site is None:
        return {"role": "site_staff", "numbers": [], "names": []}
    local = at.astimezone(ZoneInfo(site.timezone))
    names = [s.name for s in site.roster if s.on_duty(local.weekday(), local.hour)]
    return {"role": "site_staff", "numbers": list(site.staff_sms), "names": names}
