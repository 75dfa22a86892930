"""What staff read in an alert: the SMS (what, where, the customer's words, the call-back or the masked number,
how to acknowledge and answer by SMS) and the e-mail; an escalation names the case's assignee."""

from __future__ import annotations

from typing import Any

from chalicelib.configuration import Config
from chalicelib.sms_segments import fit

MAX_ALERT_SEGMENTS = 3


def alert_sms(config: Config, case: dict[str, Any]) -> str:
    """The staff SMS: what, where, the customer's words, and (if urgent) who to call back."""
    site = config.site(case.get("site"))
    french = (site.language if site else config.deployment.default_language) == "fr"
    where = site.codes[0] if site else "?"
    urgent = case["urgency"] == "high"
    head = f'VOIX {"URGENT " if urgent else ""}{where} {case["nature"]}/{case["topic"]}: "'
    if urgent and case.get("customer_number"):
        call = f"Rappeler le client au {case['customer_number']}" if french else \
            f"Call the customer back on {case['customer_number']}"
    else:
        call = f"Client {case['customer_masked']}" if french else f"Customer {case['customer_masked']}"
    if case.get("code"):
        ack = f'Repondez OK {case["code"]} pour prendre en charge, R {case["code"]} + texte pour repondre au client' \
            if french else f'Reply OK {case["code"]} to acknowledge, R {case["code"]} + text to answer the customer'
        tail = f'" {call}. {ack}.'
    else:
        tail = f'" {call}. {"Dossier" if french else "Case"} {case["id"]}'
    if int(case.get("escalation_level") or 0):
        head = f"ESCALADE {head}" if french else f"ESCALATED {head}"
        if case.get("assignee"):
            tail += f' Assigne a {case["assignee"]}.' if french else f' Assigned to {case["assignee"]}.'
    return fit(head, case.get("alert_text") or case["text"], tail, MAX_ALERT_SEGMENTS)


def alert_email(config: Config, case: dict[str, Any], ack_url: str | None = None) -> tuple[str, str]:
    site = config.site(case.get("site"))
    site_name = site.name if site else "unknown site"
    head = "URGENT " if case["urgency"] == "high" else ""
    if int(case.get("escalation_level") or 0):
        head = f"ESCALATED (not acknowledged in time) {head}"
    subject = f"[Voix] {head}{site_name}: {case['nature']} about {case['topic']} (case {case['id']})"
    urgent_call_back = case["urgency"] == "high" and bool(case.get("customer_number"))
    lines = [
        f"Case {case['id']} - {site_name}",
        f"Received: {case['received_at']}",
        f"Topic: {case['topic']}   Nature: {case['nature']}   Urgency: {case['urgency']}"
        + (f" ({case['urgency_reason']})" if case.get("urgency_reason") else ""),
        f"Customer: {case.get('customer_number') if urgent_call_back else case['customer_masked']}",
        "",
        "Message:",
        case.get("alert_text") or case["text"],
        "",
        f"Automatic reply sent: {case.get('reply', '')}",
        "",
        f"Acknowledge it in one click: {ack_url}" if ack_url else
        "Acknowledge and resolve this case on the Voix dashboard.",
    ]
    if case.get("assignee"):
        lines.insert(1, f"Assigned to: {case['assignee']}")
    if case.get("code"):
        lines.append(f"Or text OK {case['code']} to the service number from your registered phone; "
                     f"text R {case['code']} and your answer to have it sent to the customer.")
    if case.get("promised_at"):
        lines.append(f"Promised to the customer: acknowledged by {case['promised_at']}.")
    if case.get("about"):
        who = ", ".join(case["about"].get("names") or []) or "the staff on duty"
        lines.append(f"This complaint is about {who}: it was not sent to them, and they may not "
                     "acknowledge or resolve it.")
    return subject, "\n".join(lines)
