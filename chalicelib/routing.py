"""Who must hear about a message: pure, from the routing rules in configuration."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

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


def recipients_for(config: Config, c: Classification) -> list[AlertRecipient]:
    """Every recipient named by a matching rule, each once, in rule order.

    A role the site cannot fill (no on-the-spot staff, no manager, unknown
    site) falls back to central care by e-mail, so nothing is silently dropped.
    """
    site = config.site(c.site)
    care = config.deployment.care_email
    found: dict[tuple[str, str], AlertRecipient] = {}

    def add(channel: str, to: str, role: str) -> None:
        found.setdefault((channel, to), AlertRecipient(channel, to, role))

    for rule in config.routing.routing:
        if not rule.when.matches(
            nature=c.nature, topic=c.topic, urgency=c.urgency, urgency_reason=c.urgency_reason,
            kind=site.kind if site else None, site_known=site is not None,
        ):
            continue
        for channel, roles in (("sms", rule.sms), ("email", rule.email)):
            for role in roles:
                if role == "site_staff" and site and site.staff_sms:
                    targets = site.staff_sms if channel == "sms" else []
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
    return list(found.values())
