"""`make replay-failed STAGE=prod`: give the inbound SMS and e-mail functions another try at what they gave up on.

End User Messaging publishes each inbound SMS to the SNS topic ``voix-<stage>-inbound-sms``, and SNS invokes
the inbound SMS function asynchronously. When the function fails (DynamoDB or SQS down, a bug), Lambda tries
twice more; after that, or when the event is over six hours old, Lambda sends an invocation record to the
function's on-failure destination, the queue ``voix-<stage>-inbound-sms-failed`` (14 days), and the alarm
``InboundSmsFailedAlarm`` fires. Once the cause is fixed, this command reads each record::

    {"version": "1.0", "timestamp": "...",
     "requestContext": {"requestId": "...", "functionArn": "...:function:voix-prod-InboundSms-...:$LATEST",
                        "condition": "RetriesExhausted", "approximateInvokeCount": 3},
     "requestPayload": {"Records": [{"EventSource": "aws:sns", "Sns": {"TopicArn": "...", "Message": "..."}}]},
     "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
     "responsePayload": {"errorMessage": "...", "errorType": "..."}}

and publishes each SNS message of ``requestPayload`` to its topic again, so that it reaches the function the way
it first did (and, failing again, comes back to the queue). The record is deleted only once every message in it
is published. A message already stored is not stored twice (End User Messaging's message id is the key). A
record of another shape is left in the queue and named; the command then exits 1. ``--dry-run`` only lists.

The inbound e-mail function is the same: SES receiving notifies ``voix-<stage>-inbound-email``, a failure ends in
``voix-<stage>-inbound-email-failed`` (alarm ``InboundEmailFailedAlarm``) and is replayed to its topic the same
way (the mail itself waits in the bucket, until it expires: ``InboundEmailRetentionDays``; SES's message id is
the key). Both queues are replayed, SMS first.

Uses your AWS credentials (like ``make deploy``); AWS_ENDPOINT_URL points it at the local stack's moto.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from typing import Any

VISIBILITY_SECONDS = 120  # a record being replayed is hidden from a second run for this long


class BadRecord(ValueError):
    pass


def sns_messages(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The SNS messages of one on-failure invocation record, as ``sns.publish`` arguments."""
    payload = record.get("requestPayload") if isinstance(record, dict) else None
    if not isinstance(record.get("requestContext") if isinstance(record, dict) else None, dict) or \
            not isinstance(payload, dict) or not isinstance(payload.get("Records"), list) or not payload["Records"]:
        raise BadRecord("not a Lambda on-failure record with an SNS event as its requestPayload")
    out = []
    for entry in payload["Records"]:
        sns = entry.get("Sns") if isinstance(entry, dict) else None
        if entry.get("EventSource") != "aws:sns" or not isinstance(sns, dict) or \
                not isinstance(sns.get("TopicArn"), str) or not isinstance(sns.get("Message"), str):
            raise BadRecord("a record of the requestPayload is not an SNS notification")
        message: dict[str, Any] = {"TopicArn": sns["TopicArn"], "Message": sns["Message"]}
        if sns.get("Subject"):
            message["Subject"] = sns["Subject"]
        attributes = {}
        for name, attribute in (sns.get("MessageAttributes") or {}).items():
            kind, value = attribute.get("Type", "String"), attribute.get("Value", "")
            attributes[name] = ({"DataType": kind, "BinaryValue": base64.b64decode(value)} if kind == "Binary"
                                else {"DataType": kind, "StringValue": value})
        if attributes:
            message["MessageAttributes"] = attributes
        out.append(message)
    return out


def replay(sqs: Any, sns: Any, queue_url: str, *, dry_run: bool = False, out=sys.stdout,
           noun: str = "SMS") -> dict[str, int]:
    """Replay every record of the on-failure queue; returns counts of records replayed and left."""
    counts = {"replayed": 0, "messages": 0, "left": 0}
    hidden = []
    while True:
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                       VisibilityTimeout=VISIBILITY_SECONDS).get("Messages", [])
        if not received:
            break
        for message in received:
            try:
                record = json.loads(message["Body"])
                messages = sns_messages(record)
            except (ValueError, AttributeError) as exc:
                counts["left"] += 1
                hidden.append(message["ReceiptHandle"])  # hidden for the rest of this run, then visible again
                print(f"left in the queue: message {message['MessageId']}: {exc}", file=out)
                continue
            context = record["requestContext"]
            print(f"{'would replay' if dry_run else 'replaying'} {len(messages)} {noun} of request "
                  f"{context.get('requestId', '?')} ({context.get('condition', '?')}, "
                  f"{context.get('approximateInvokeCount', '?')} tries, failed {record.get('timestamp', '?')})",
                  file=out)
            if dry_run:
                hidden.append(message["ReceiptHandle"])
                counts["left"] += 1
                continue
            for publish in messages:
                sns.publish(**publish)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            counts["replayed"] += 1
            counts["messages"] += len(messages)
    for handle in hidden:  # what is left is as it was found
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return counts


def main(argv: list[str] | None = None, out=sys.stdout) -> int:
    import boto3

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="prod", choices=["dev", "prod"])
    parser.add_argument("--dry-run", action="store_true", help="list the records, replay nothing")
    args = parser.parse_args(argv)
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    left = False
    for queue, noun in ((f"voix-{args.stage}-inbound-sms-failed", "SMS"),
                        (f"voix-{args.stage}-inbound-email-failed", "mail")):
        try:
            url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        except sqs.exceptions.QueueDoesNotExist:
            print(f"no queue {queue}: is the stack voix-{args.stage} deployed in this account and region?", file=out)
            return 2
        counts = replay(sqs, sns, url, dry_run=args.dry_run, out=out, noun=noun)
        print(f"{counts['replayed']} record(s) replayed ({counts['messages']} {noun}), {counts['left']} left in "
              f"{queue}", file=out)
        left = left or bool(counts["left"])
    return 1 if left and not args.dry_run else 0

if __name__ == "__main__":
    sys.exit(main())
