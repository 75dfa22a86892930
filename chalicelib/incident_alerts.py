"""An incident's alert to one recipient (the worker's ``incident_alert`` job): an e-mail (SES) or an SMS (SNS),
in the recipient's language, with up to three example messages as the dashboard shows them (number masked,
forbidden words masked; read again by id when it is sent, so a message erased since is left out), sent
once: its recipient's entry in the incident is claimed before sending and released if the sending fails."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.clock import iso, utcnow
from chalicelib.configuration import Config
from chalicelib.i18n import format_datetime, label, network_zone, reader_language, t
from chalicelib.notify import DeliveryFailed, EmailAlerts, SmsAlerts
from chalicelib.observability import logger as log
from chalicelib.sms_segments import fit


class BadIncidentJob(ValueError):
    """An incident alert job naming no incident or recipient (it ends in the dead-letter queue)."""


def _where(config: Config, incident: dict[str, Any], language: str) -> str:
    site = config.site(incident.get("site")) if incident.get("site") else None
    if site is not None:
        return site.name
    return t("alert.incident.network", language) if not incident.get("site") else str(incident["site"])


def _decimal(value: Any, language: str) -> str:
    """``0.35`` as the reader writes it (``0,35`` in French)."""
    return str(value).replace(".", ",") if language.startswith("fr") else str(value)


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def p_text(value: Any, language: str) -> str:
    """The p-value as a reader reads it: ``p = 3.4 × 10⁻⁶`` (two significant digits, ``3,4`` in French), or
    ``p < 10⁻⁹`` below that."""
    p = float(value)
    if p < 1e-9:
        return "p < 10⁻⁹"
    mantissa, exponent = f"{p:.1e}".split("e")
    return f"p = {_decimal(mantissa, language)} × 10{str(int(exponent)).translate(SUPERSCRIPT)}"


def _zone(config: Config, incident: dict[str, Any]) -> str:
    site = config.site(incident.get("site")) if incident.get("site") else None
    return site.timezone if site is not None else network_zone(config)


def incident_email(config: Config, incident: dict[str, Any], language: str | None = None) -> tuple[str, str]:
    """The alert e-mail's subject and text in ``language`` (the deployment's default if none), times in the
    site's zone (the network's for a network incident)."""
    language = language or config.deployment.default_language
    where, zone = _where(config, incident, language), _zone(config, incident)
    values = {"topic": label("topic", incident["topic"], language), "where": where,
              "observed": incident["observed"], "expected": _decimal(incident["expected"], language)}
    subject = t("alert.incident.subject", language, **values)
    window = t("alert.incident.window", language, minutes=int(incident.get("window_minutes") or 60))
    lines = [t("alert.incident.body", language, p=p_text(incident["p_value"], language), window=window, **values),
             t("alert.incident.opened", language, time=format_datetime(incident["opened_at"], language, zone)), ""]
    if incident.get("examples"):
        lines.append(t("alert.incident.examples", language))
        lines += [f"  {format_datetime(e.get('received_at'), language, zone)[-5:]}  {e.get('from') or ''}  "
                  f"\"{e.get('text', '')}\"" for e in incident["examples"]]
        lines.append("")
    lines.append(t("alert.incident.ack", language))
    return subject, "\n".join(lines) + "\n"


def incident_sms(config: Config, incident: dict[str, Any], language: str | None = None) -> str:
    language = language or config.deployment.default_language
    head = t("alert.incident.sms", language, where=_where(config, incident, language),
             topic=label("topic", incident["topic"], language), observed=incident["observed"],
             expected=_decimal(incident["expected"], language)) + " \""
    first = (incident.get("examples") or [{}])[0].get("text") or ""
    return fit(head, first, "\" " + t("alert.incident.sms_tail", language), 2)


class IncidentAlerts:
    """Sends an incident's alert to one of its recipients, once."""

    def __init__(self, *, config: Config, incidents: Any, sms: SmsAlerts, email: EmailAlerts,
                 examples: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
                 now: Callable[[], datetime] = utcnow):
        self._config = config
        self._examples = examples  # the stored message ids -> the messages as shown now (erased ones left out)
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
            incident = {**incident, "examples": self._examples(incident.get("examples") or [])}
            language = reader_language(self._config, recipient["to"], incident.get("site"))
            if recipient["channel"] == "sms":
                self._sms.send(recipient["to"], incident_sms(self._config, incident, language))
            else:
                self._email.send(recipient["to"], *incident_email(self._config, incident, language))
        except Exception:
            self._incidents.release_alert(incident_id, recipient_id)
            raise
        log.info("incident %s alert sent to %s", incident_id, recipient_id)
        return True


__all__ = ["BadIncidentJob", "DeliveryFailed", "IncidentAlerts", "incident_email", "incident_sms", "p_text"]
