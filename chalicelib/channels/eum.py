"""AWS End User Messaging SMS: two-way messages arrive on SNS, replies go out via SendTextMessage."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from chalicelib.channels.twilio import BadRequest
from chalicelib.models import InboundMessage
from chalicelib.observability import logger as log  # JSON, with the correlation id
from chalicelib.phone import InvalidNumber, mask, normalise, region_of


class ReplySender(Protocol):
    def send(self, *, to: str, origin: str, text: str, reference: str) -> str | None: ...


class ReplyFailed(Exception):
    pass


class RecipientOptedOut(ReplyFailed):
    """End User Messaging refused: the number opted out at the carrier (its managed opt-out list).
    Retrying cannot help: the message is dropped, as the customer asked."""


def to_inbound(sns_message: str, received_at: datetime) -> InboundMessage:
    """Read the JSON that End User Messaging publishes for an inbound SMS."""
    try:
        data = json.loads(sns_message)
    except ValueError as exc:
        raise BadRequest("SNS message is not JSON") from exc
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
            if exc.response.get("Reason") == "DESTINATION_PHONE_NUMBER_OPTED_OUT":
                raise RecipientOptedOut(str(exc)) from exc
            raise ReplyFailed(str(exc)) from exc
        except BotoCoreError as exc:
            raise ReplyFailed(str(exc)) from exc


class LogReplySender:
    """Local stack only (moto has no SendTextMessage): the reply is logged, and kept in an outbox."""

    def __init__(self) -> None:
        self.outbox: list[dict[str, str]] = []

    def send(self, *, to: str, origin: str, text: str, reference: str) -> str | None:
        self.outbox.append({"to": to, "origin": origin, "text": text, "reference": reference})
        log.info("local SMS reply", extra={"to": mask(to), "origin": origin, "text": text, "reference": reference})
        return f"local-{len(self.outbox)}"
