"""The AWS End User Messaging SMS channel: two-way messages arrive on SNS, replies go out by API
(SendTextMessage)."""

from __future__ import annotations

import os
from collections.abc import Callable
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
    name="eum", parse=parse, sender=sender, carrier_handles_stop=carrier_handles_stop,
    # SendTextMessage's refusals: the reason End User Messaging gives, else the error's code
    send_errors={"DESTINATION_PHONE_NUMBER_OPTED_OUT": RecipientOptedOut,
                 "DESTINATION_COUNTRY_BLOCKED": InvalidRecipient,
                 "DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION": InvalidRecipient,
                 "DESTINATION_PHONE_NUMBER_BLOCKED_BY_PROTECT_NUMBER_OVERRIDE": InvalidRecipient,
                 "ThrottlingException": Throttled, "ServiceQuotaExceededException": Throttled},
))
