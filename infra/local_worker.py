"""Deliver queued messages to the very handler functions the Lambdas run (local stack, tests)."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# The local plumbing's own lines (service "local"); the functions log through Powertools' "voix" logger.
log = logging.getLogger("local")


@dataclass
class FakeLambdaContext:
    """What Powertools reads from a Lambda context."""

    function_name: str = "voix-local"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"

    def __post_init__(self) -> None:
        self.invoked_function_arn = self.invoked_function_arn or \
            f"arn:aws:lambda:eu-west-2:123456789012:function:{self.function_name}"
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


# What Lambda's SQS event source puts in a record's ``attributes`` (standard queue; FIFO adds three; a
# traced message or one redriven from a dead-letter queue one more each).
SQS_RECORD_ATTRIBUTES = ("ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
                         "SequenceNumber", "MessageGroupId", "MessageDeduplicationId", "AWSTraceHeader",
                         "DeadLetterQueueSourceArn")


def _lambda_message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """ReceiveMessage's ``{"StringValue", "DataType"}`` as Lambda's SQS event spells it."""
    out: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value.get("DataType", "String")}
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        raw = value["BinaryValue"]
        out["binaryValue"] = base64.b64encode(raw).decode() if isinstance(raw, bytes) else raw
    return out


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The Lambda event SQS would send for messages received from a queue (AWS's documented sample:
    ``attributes`` limited to what Lambda passes, message attributes in camelCase, ``md5OfBody``)."""
    records = []
    for m in messages:
        record: dict[str, Any] = {
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": {k: v for k, v in m.get("Attributes", {}).items() if k in SQS_RECORD_ATTRIBUTES},
            "messageAttributes": {k: _lambda_message_attribute(v) for k, v in m.get("MessageAttributes", {}).items()},
            "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode()).hexdigest(),
            "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": region,
        }
        if m.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = m["MD5OfMessageAttributes"]
        records.append(record)
    return {"Records": records}


def sns_event(envelope: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """The Lambda event SNS would send (AWS's documented sample), from the envelope SNS put on an SQS queue.

    The envelope spells ``SigningCertURL`` and ``UnsubscribeURL``; the Lambda event ``SigningCertUrl`` and
    ``UnsubscribeUrl``. ``Subject`` is null when the message had none; ``EventSubscriptionArn`` is the
    subscription's ARN (the topic's, then the subscription id).
    """
    region = subscription_arn.split(":")[3] if subscription_arn.count(":") >= 5 else "eu-west-2"
    return {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": subscription_arn,
        "Sns": {
            "Type": envelope.get("Type", "Notification"), "MessageId": envelope.get("MessageId", ""),
            "TopicArn": envelope.get("TopicArn", ""), "Subject": envelope.get("Subject") or None,
            "Message": envelope.get("Message", ""), "Timestamp": envelope.get("Timestamp", ""),
            "SignatureVersion": envelope.get("SignatureVersion", "1"), "Signature": envelope.get("Signature", ""),
            "SigningCertUrl": envelope.get("SigningCertURL") or envelope.get("SigningCertUrl", ""),
            "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
                              f"{subscription_arn}",
            "MessageAttributes": {k: {"Type": v.get("Type", "String"), "Value": v.get("Value", "")}
                                  for k, v in (envelope.get("MessageAttributes") or {}).items()},
        },
    }]}


def _arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def drain_jobs(sqs: Any, queue_url: str, handler: Callable[[dict, Any], Any], *, wait: int = 0,
               max_batches: int = 1000, retry_after: Callable[[int], int] = lambda n: 0,
               function_name: str = "voix-dev-worker") -> dict[str, int]:
    """Feed the jobs queue to ``handler`` (the worker Lambda) until it is empty.

    Honours ``batchItemFailures``; a failed record becomes visible again after
    ``retry_after(receive_count)`` seconds, and SQS's redrive policy moves it to
    the dead-letter queue after its maximum number of receives, as in the cloud.
    """
    arn = _arn(sqs, queue_url)
    region = arn.split(":")[3]
    stats = {"batches": 0, "ok": 0, "failed": 0}
    for _ in range(max_batches):
        res = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait,
                                  AttributeNames=["All"], MessageAttributeNames=["All"])
        messages = res.get("Messages", [])
        if not messages:
            break
        stats["batches"] += 1
        try:
            result = handler(sqs_event(messages, arn, region), FakeLambdaContext(function_name)) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception as exc:  # the whole batch failed, as Lambda would report it
            log.warning("worker batch failed", extra={"error": str(exc), "records": len(messages)})
            failed = {m["MessageId"] for m in messages}
        for m in messages:
            if m["MessageId"] in failed:
                stats["failed"] += 1
                count = int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"],
                                              VisibilityTimeout=retry_after(count))
            else:
                stats["ok"] += 1
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return stats


def drain_sns_queue(sqs: Any, queue_url: str, handler: Callable[[dict, Any], Any], *, wait: int = 0,
                    subscription_arn: str = "arn:aws:sns:eu-west-2:123456789012:voix-dev-inbound-sms:local",
                    function_name: str = "voix-dev-inbound_sms") -> int:
    """Deliver SNS notifications (buffered on an SQS queue) to an ``on_sns_message`` handler."""
    delivered = 0
    while True:
        res = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
        messages = res.get("Messages", [])
        if not messages:
            return delivered
        for m in messages:
            try:
                handler(sns_event(json.loads(m["Body"]), subscription_arn), FakeLambdaContext(function_name))
            except Exception as exc:
                log.warning("inbound SMS handler failed, will retry", extra={"error": str(exc)})
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"],
                                              VisibilityTimeout=2)
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            delivered += 1
        wait = 0


def local_logging(level: str | int = "INFO") -> None:
    """One structured (Powertools JSON) line per event, in every process of the local stack.

    The functions log through the Powertools logger ``voix`` (its own handler); everything else
    (the local servers, the local scheduler's plumbing, botocore and moto warnings) goes through
    the root logger with the same JSON formatter, which drops ``voix`` records so none is printed
    twice. Powertools' warning that a local function published no metrics (they are disabled
    locally) is silenced.
    """
    import sys
    import warnings

    from aws_lambda_powertools.logging.filters import SuppressFilter
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    from chalicelib.observability import SERVICE, logger

    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(LambdaPowertoolsFormatter(service="local"))
    handler.addFilter(SuppressFilter(SERVICE))  # the voix logger prints its own
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug", "moto"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    _keys_per_thread(logger.registered_formatter)


def _keys_per_thread(formatter: Any) -> None:
    """Locally, one process runs many "Lambdas" at once (the worker, the inbound SMS, the schedules, and a
    thread per HTTP request): each thread keeps its own logging keys (function name, request id,
    correlation id), as each Lambda process does; otherwise one function's line carried another's."""
    import threading

    if getattr(type(formatter), "_voix_per_thread", False):
        return
    base = dict(formatter.__dict__.pop("log_format", {}))
    state = threading.local()

    class PerThread(type(formatter)):
        _voix_per_thread = True

        @property
        def log_format(self) -> dict[str, Any]:
            if not hasattr(state, "keys"):
                state.keys = dict(base)
            return state.keys

        @log_format.setter
        def log_format(self, value: dict[str, Any]) -> None:
            state.keys = value

    formatter.__class__ = PerThread
