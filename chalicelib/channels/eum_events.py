"""End User Messaging's delivery events for staff replies (issue 21).

A configuration set's event destination publishes each SMS event to an SNS topic; Voix points it at the inbound
topic, so the same function reads both (an event has an ``eventType``, an inbound SMS has not). The documented
shape (AWS End User Messaging SMS user guide, "SMS example log")::

    {"eventType": "TEXT_DELIVERED", "eventVersion": "1.0", "eventTimestamp": 1686975103470, "isFinal": true,
     "originationPhoneNumber": "+12065550152", "destinationPhoneNumber": "+14255550156", "messageId": "862a...",
     "messageStatus": "DELIVERED", "messageStatusDescription": "Message has been accepted by phone",
     "context": {"voix_message": "<case id>.<reply id>"}, ...}

Only events whose ``context`` names a staff reply (``SendTextMessage`` was given it: ``EndUserMessagingSender``)
are read; the others (alerts, survey questions, automatic replies) are not conversations and are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from chalicelib.bodies import Unreadable, untrusted_json

# eventType -> a reply's status (TEXT_UNKNOWN, and anything new, change nothing)
STATUSES = {"TEXT_PENDING": "queued", "TEXT_QUEUED": "queued", "TEXT_SUCCESSFUL": "sent",
            "TEXT_DELIVERED": "delivered", **dict.fromkeys((
                "TEXT_INVALID", "TEXT_INVALID_MESSAGE", "TEXT_UNREACHABLE", "TEXT_CARRIER_UNREACHABLE",
                "TEXT_BLOCKED", "TEXT_CARRIER_BLOCKED", "TEXT_SPAM", "TEXT_TTL_EXPIRED", "TEXT_OPTED_OUT",
                "TEXT_PROTECT_BLOCKED"), "undelivered")}
_REFERENCE = re.compile(r"^([A-Z0-9]{8})\.(r\w{1,60})$")


@dataclass(frozen=True)
class DeliveryEvent:
    case_id: str
    reply_id: str
    status: str
    provider_id: str | None
    error: str | None


def is_event(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("eventType"), str)


def read(body: str | bytes) -> tuple[bool, DeliveryEvent | None]:
    """(whether ``body`` is a delivery event at all, the reply's event if it concerns one). Never raises."""
    try:
        data = untrusted_json(body, max_depth=6)
    except Unreadable:
        return False, None
    if not is_event(data):
        return False, None
    status = STATUSES.get(data["eventType"])
    context = data.get("context")
    reference = context.get("voix_message") if isinstance(context, dict) else None
    found = _REFERENCE.match(reference) if isinstance(reference, str) else None
    if status is None or found is None:
        return True, None
    error = None
    if status == "undelivered":
        words = data.get("messageStatusDescription")
        error = " ".join(str(x) for x in (data.get("messageStatus") or data["eventType"],
                                          words if isinstance(words, str) else "") if x).strip()[:200]
    provider = data.get("messageId")
    return True, DeliveryEvent(case_id=found[1], reply_id=found[2], status=status,
                               provider_id=provider if isinstance(provider, str) else None, error=error)
