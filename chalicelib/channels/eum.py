"""The AWS End User Messaging SMS channel: two-way messages arrive on SNS, replies go out by API
(SendTextMessage)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from chalicelib.bodies import Unreadable, untrusted_json
from chalicelib.channels import (
    BadRequest,
    Channel,
    InvalidRecipient,
    RecipientOptedOut,
    ReplyFailed,
    Request,
    Throttled,
    register,
)
from chalicelib.models import InboundMessage
from chalicelib.phone import InvalidNumber, normalise, region_of

if TYPE_CHECKING:
    from chalicelib.configuration import Config


def to_inbound(sns_message: str, received_at: datetime) -> InboundMessage:
    """Read the JSON that End User Messaging publishes for an inbound SMS."""
    try:
        data = untrusted_json(sns_message)
    except Unreadable as exc:
        raise BadRequest(f"SNS message is unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest("SNS message is not a JSON object")
    for required in ("originationNumber", "destinationNumber", "messageBody", "inboundMessageId"):
        if not isinstance(data.get(required), str):
            raise BadRequest(f"missing field {required}")
    try:
        to_number = normalise(data["destinationNumber"])
        from_number = normalise(data["originationNumber"], region_of(to_number))
        return InboundMessage(
            channel="eum", channel_message_id=data["inboundMessageId"], from_number=from_number,
            to_number=to_number, body=data["messageBody"], received_at=received_at,
        )
    except InvalidNumber as exc:
        raise BadRequest(str(exc)) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        raise BadRequest(f"invalid {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc


class EndUserMessagingSender:
    """Sends a reply with ``pinpoint-sms-voice-v2`` SendTextMessage."""

    def __init__(self, client: Any, configuration_set: str | None = None):
        self._client = client
        self._configuration_set = configuration_set
        # a configuration set's event destination reports delivery (chalicelib/channels/eum_events.py); without
        # one, a reply End User Messaging took is "sent" and stays so
        self.reports_delivery = bool(configuration_set)

    def send(self, *, to: str, origin: str, text: str, reference: str) -> str | None:
        kwargs: dict[str, Any] = dict(
            DestinationPhoneNumber=to, OriginationIdentity=origin, MessageBody=text,
            MessageType="TRANSACTIONAL", Context={"voix_message": reference[:256]},
        )
        if self._configuration_set:
            kwargs["ConfigurationSetName"] = self._configuration_set
        try:
            return self._client.send_text_message(**kwargs).get("MessageId")
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise CHANNEL.failure(exc.response.get("Reason") or error.get("Reason") or error.get("Code"),
                                  str(exc)) from exc
        except BotoCoreError as exc:
            raise ReplyFailed(str(exc)) from exc


def parse(request: Request, received_at: datetime) -> InboundMessage:
    return to_inbound(request.body if isinstance(request.body, str) else request.body.decode(), received_at)


def sender(client: Callable[[str], Any]) -> EndUserMessagingSender:
    return EndUserMessagingSender(client("pinpoint-sms-voice-v2"), os.environ.get("EUM_CONFIGURATION_SET"))


def carrier_handles_stop(config: Config) -> bool:
    """With managed opt-outs on, End User Messaging answers STOP and HELP itself (``carrier_opt_out``)."""
    return config.deployment.carrier_opt_out


CHANNEL = register(Channel(
    name="eum", label="SMS (End User Messaging)", parse=parse, sender=sender, carrier_handles_stop=carrier_handles_stop,
    # SendTextMessage's refusals: the reason End User Messaging gives, else the error's code
    send_errors={"DESTINATION_PHONE_NUMBER_OPTED_OUT": RecipientOptedOut,
                 "DESTINATION_COUNTRY_BLOCKED": InvalidRecipient,
                 "DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION": InvalidRecipient,
                 "DESTINATION_PHONE_NUMBER_BLOCKED_BY_PROTECT_NUMBER_OVERRIDE": InvalidRecipient,
                 "ThrottlingException": Throttled, "ServiceQuotaExceededException": Throttled},
))


# -- delivery events of staff replies (issue 21) -------------------------------------------------------------
# A configuration set's event destination publishes each SMS event to an SNS topic; Voix points it at the
# inbound topic, so the same function reads both (an event has an ``eventType``, an inbound SMS has not). The
# documented shape (AWS End User Messaging SMS user guide, "SMS example log"): {"eventType": "TEXT_DELIVERED",
# "eventVersion": "1.0", "eventTimestamp": ..., "isFinal": true, "originationPhoneNumber", "destinationPhoneNumber",
# "messageId", "messageStatus": "DELIVERED", "messageStatusDescription", "context": {"voix_message": ...}, ...}.
# Only events whose ``context`` names a staff reply (``<case id>.<reply id>``, given to SendTextMessage by
# ``EndUserMessagingSender``) are read; the others (alerts, survey questions) are not conversations.
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


def delivery_event(body: str | bytes) -> tuple[bool, DeliveryEvent | None]:
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
