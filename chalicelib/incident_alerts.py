"""An incident's alert to one recipient (the worker's ``incident_alert`` job): an e-mail (SES) or an SMS (SNS),
with three example messages as the dashboard shows them (number masked, forbidden words masked), sent once:
its recipient's entry in the incident is claimed before sending and released if the sending fails."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.clock import iso, utcnow
from chalicelib.configuration import Config
from chalicelib.notify import DeliveryFailed, EmailAlerts, SmsAlerts
from chalicelib.observability import logger as log
from chalicelib.sms_segments import fit


class BadIncidentJob(ValueError):
    """An incident alert job naming no incident or recipient (it ends in the dead-letter queue)."""


def _where(config: Config, incident: dict[str, Any]) -> str:
    site = config.site(incident.get("site")) if incident.get("site") else None
    return site.name if site else ("the network" if not incident.get("site") else str(incident["site"]))


def incident_email(config: Config, incident: dict[str, Any]) -> tuple[str, str]:
    where = _where(config, incident)
    subject = (f"[Voix] Emerging issue: {incident['topic']} at {where}, {incident['observed']} messages "
               f"(about {incident['expected']} expected)")
    lines = [f"More messages about {incident['topic']} than usual at {where}: {incident['observed']} in the last "
             f"hour or so, about {incident['expected']} expected at this hour of the week "
             f"(p = {incident['p_value']}).", f"Opened {incident['opened_at'][:16].replace('T', ' ')} UTC.", ""]
    if incident.get("examples"):
        lines.append("Examples:")
        lines += [f"  {e.get('received_at', '')[11:16]}  {e.get('from') or ''}  \"{e.get('text', '')}\""
                  for e in incident["examples"]]
        lines.append("")
    lines.append("Acknowledge it on the dashboard (the banner stays until someone does).")
    return subject, "\n".join(lines) + "\n"


def incident_sms(config: Config, incident: dict[str, Any]) -> str:
    head = f"VOIX ISSUE {_where(config, incident)} {incident['topic']}: {incident['observed']} msgs " \
           f"(~{incident['expected']} usual). \""
    first = (incident.get("examples") or [{}])[0].get("text") or ""
    return fit(head, first, "\" See the dashboard.", 2)


class IncidentAlerts:
    """Sends an incident's alert to one of its recipients, once."""

    def __init__(self, *, config: Config, incidents: Any, sms: SmsAlerts, email: EmailAlerts,
                 now: Callable[[], datetime] = utcnow):
        self._config = config
        self._incidents = incidents
        self._now = now
        self._sms = sms
        self._email = email

    def deliver(self, incident_id: Any, recipient_id: Any) -> bool:
        """True if sent now; False if it was sent before. DeliveryFailed: the job is retried."""
        if not isinstance(incident_id, str) or not isinstance(recipient_id, str):
            raise BadIncidentJob("incident alert job without incident_id or recipient")
        incident = self._incidents.get_incident(incident_id)
        recipient = (incident or {}).get("recipients", {}).get(recipient_id)
        if recipient is None:
            raise BadIncidentJob(f"no recipient {recipient_id} in incident {incident_id}")
        if not self._incidents.claim_alert(incident_id, recipient_id, iso(self._now())):
            return False  # sent by an earlier copy of this job
        try:
            if recipient["channel"] == "sms":
                self._sms.send(recipient["to"], incident_sms(self._config, incident))
            else:
                self._email.send(recipient["to"], *incident_email(self._config, incident))
        except Exception:
            self._incidents.release_alert(incident_id, recipient_id)
            raise
        log.info("incident %s alert sent to %s", incident_id, recipient_id)
        return True


__all__ = ["BadIncidentJob", "DeliveryFailed", "IncidentAlerts", "incident_email", "incident_sms"]
