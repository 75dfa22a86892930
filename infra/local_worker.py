"""Deliver queued messages to the very handler functions the Lambdas run (local stack, tests)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("voix.local")


@dataclass
class FakeLambdaContext:
    """What Powertools reads from a Lambda context."""

    function_name: str = "voix-local"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-2:123456789012:function:voix-local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/voix-local"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m.get("Attributes", {}), "messageAttributes": m.get("MessageAttributes", {}),
        "md5OfBody": m.get("MD5OfBody", ""), "eventSource": "aws:sqs", "eventSourceARN": queue_arn,
        "awsRegion": region,
    } for m in messages]}


def sns_event(envelope: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """The Lambda event SNS would send, from the envelope SNS put on an SQS queue."""
    return {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": subscription_arn,
        "Sns": {
            "Type": envelope.get("Type", "Notification"), "MessageId": envelope.get("MessageId", ""),
            "TopicArn": envelope.get("TopicArn", ""), "Subject": envelope.get("Subject"),
            "Message": envelope.get("Message", ""), "Timestamp": envelope.get("Timestamp", ""),
            "SignatureVersion": "1", "Signature": "", "SigningCertUrl": "", "UnsubscribeUrl": "",
            "MessageAttributes": envelope.get("MessageAttributes", {}),
        },
    }]}


def _arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def drain_jobs(sqs: Any, queue_url: str, handler: Callable[[dict, Any], Any], *, wait: int = 0,
               max_batches: int = 1000, retry_after: Callable[[int], int] = lambda n: 0) -> dict[str, int]:
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
            result = handler(sqs_event(messages, arn, region), FakeLambdaContext()) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception as exc:  # the whole batch failed, as Lambda would report it
            log.warning("worker batch failed: %s", exc)
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
                    subscription_arn: str = "local") -> int:
    """Deliver SNS notifications (buffered on an SQS queue) to an ``on_sns_message`` handler."""
    delivered = 0
    while True:
        res = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
        messages = res.get("Messages", [])
        if not messages:
            return delivered
        for m in messages:
            try:
                handler(sns_event(json.loads(m["Body"]), subscription_arn), FakeLambdaContext())
            except Exception as exc:
                log.warning("inbound SMS handler failed, will retry: %s", exc)
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"],
                                              VisibilityTimeout=2)
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            delivered += 1
        wait = 0
