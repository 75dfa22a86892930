"""What staff read in an alert: the SMS (what, where, the customer's words, the call-back, a written answer to
give (a reply promise: an e-mail customer has no number to call) or the masked number,
how to acknowledge and answer by SMS) and the e-mail; an escalation names the case's assignee.

Each in its reader's language (:func:`chalicelib.i18n.reader_language`), topic and nature named in it, times in
the site's time zone."""

from __future__ import annotations

from typing import Any

from chalicelib.configuration import Config
from chalicelib.i18n import format_datetime, label, reader_language, t
from chalicelib.sms_segments import fit

MAX_ALERT_SEGMENTS = 3


def alert_sms(config: Config, case: dict[str, Any], to: str | None = None) -> str:
    """The staff SMS: what, where, the customer's words, and (if urgent) who to call back."""
    site = config.site(case.get("site"))
    lang = reader_language(config, to, case.get("site"))
    urgent = case["urgency"] == "high"
    head = t("alert.sms.head", lang, urgent=t("alert.sms.urgent", lang) if urgent else "",
             where=site.codes[0] if site else "?", nature=label("nature", case["nature"], lang),
             topic=label("topic", case["topic"], lang))
    if urgent and case.get("customer_number"):
        call = t("alert.sms.call_back", lang, number=case["customer_number"])
    elif case.get("promise") == "reply":  # a written answer promised (an e-mail has no number to call)
        call = t("alert.sms.write_back", lang, masked=case["customer_masked"])
    else:
        call = t("alert.sms.customer", lang, masked=case["customer_masked"])
    if case.get("code"):
        tail = f'" {call}. {t("alert.sms.how", lang, code=case["code"])}.'
    else:
        tail = f'" {call}. {t("alert.sms.case", lang, id=case["id"])}'
    if int(case.get("escalation_level") or 0):
        head = t("alert.sms.escalated", lang) + head
        if case.get("assignee"):
            tail += " " + t("alert.sms.assigned", lang, name=case["assignee"])
    return fit(head, case.get("alert_text") or case["text"], tail, MAX_ALERT_SEGMENTS)


def alert_email(config: Config, case: dict[str, Any], ack_url: str | None = None,
                to: str | None = None) -> tuple[str, str]:
    site = config.site(case.get("site"))
    lang = reader_language(config, to, case.get("site"))
    zone = site.timezone if site else "UTC"
    site_name = site.name if site else t("alert.email.unknown_site", lang)
    nature, topic = label("nature", case["nature"], lang), label("topic", case["topic"], lang)
    head = t("alert.email.urgent", lang) if case["urgency"] == "high" else ""
    if int(case.get("escalation_level") or 0):
        head = t("alert.email.escalated", lang) + head
    subject = t("alert.email.subject", lang, head=head, site=site_name, nature=nature, topic=topic, id=case["id"])
    urgent_call_back = case["urgency"] == "high" and bool(case.get("customer_number"))
    lines = [
        t("alert.email.case", lang, id=case["id"], site=site_name),
        t("alert.email.received", lang, when=format_datetime(case["received_at"], lang, zone)),
        t("alert.email.labels", lang, topic=topic, nature=nature, urgency=label("urgency", case["urgency"], lang))
        + (f" ({label('reason', case['urgency_reason'], lang)})" if case.get("urgency_reason") else ""),
        t("alert.email.customer", lang,
          customer=case.get("customer_number") if urgent_call_back else case["customer_masked"]),
        "",
        t("alert.email.message", lang),
        case.get("alert_text") or case["text"],
        "",
        t("alert.email.reply", lang, reply=case.get("reply", "")),
        "",
        t("alert.email.ack_link", lang, url=ack_url) if ack_url else t("alert.email.ack_dashboard", lang),
    ]
    if case.get("assignee"):
        lines.insert(1, t("alert.email.assigned", lang, name=case["assignee"]))
    if case.get("code"):
        lines.append(t("alert.email.by_sms", lang, code=case["code"]))
    if case.get("promised_at"):
        promised = "alert.email.promised_reply" if case.get("promise") == "reply" else "alert.email.promised"
        lines.append(t(promised, lang, when=format_datetime(case["promised_at"], lang, zone)))
    if case.get("about"):
        who = ", ".join(case["about"].get("names") or []) or t("alert.email.on_duty", lang)
        lines.append(t("alert.email.about", lang, who=who))
    return subject, "\n".join(lines)
