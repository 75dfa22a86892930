"""Alert delivery: SMS through SNS Publish, e-mail through SES v2."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError


class DeliveryFailed(Exception):
    """SNS or SES refused or could not take an alert (the job is retried)."""


class SmsAlerts:
    """Alerts to staff by SMS, through SNS Publish (transactional)."""

    def __init__(self, client: Any, sender_id: str | None = None):
        self._sns = client
        self._sender_id = sender_id

    def send(self, to: str, text: str) -> str:
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        if self._sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self._sender_id}
        try:
            return self._sns.publish(PhoneNumber=to, Message=text, MessageAttributes=attributes)["MessageId"]
        except (ClientError, BotoCoreError) as exc:
            raise DeliveryFailed(f"SNS: {exc}") from exc


class EmailAlerts:
    """Alerts and digests by e-mail, through SES v2."""

    def __init__(self, client: Any, from_address: str):
        self._ses = client
        self._from = from_address

    def send(self, to: str, subject: str, text: str) -> str:
        try:
            return self._ses.send_email(
                FromEmailAddress=self._from,
                Destination={"ToAddresses": [to]},
                Content={"Simple": {
                    "Subject": {"Data": subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
                }},
            )["MessageId"]
        except (ClientError, BotoCoreError) as exc:
            raise DeliveryFailed(f"SES: {exc}") from exc
