"""The local stack's events are AWS's: EventBridge schedules, SQS and SNS records, field for field.

Shapes from AWS's documented sample events (Lambda developer guide: "Using Lambda with
Amazon SQS / Amazon SNS / EventBridge Scheduler"); SQS and SNS envelopes come from moto.
The running stack is checked in tests/test_day_in_the_life.py.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from infra.local_scheduler import Cron, Schedule, Scheduler, scheduled_event, schedules_of
from infra.local_worker import FakeLambdaContext, sns_event, sqs_event
from tests.conftest import sent_emails

# The keys of AWS's sample events
SCHEDULED_KEYS = {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
SQS_RECORD_KEYS = {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
                   "eventSource", "eventSourceARN", "awsRegion"}
SQS_ATTRIBUTES = {"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"}
SNS_RECORD_KEYS = {"EventVersion", "EventSubscriptionArn", "EventSource", "Sns"}
SNS_KEYS = {"SignatureVersion", "Timestamp", "Signature", "SigningCertUrl", "MessageId", "Message",
            "MessageAttributes", "Type", "UnsubscribeUrl", "TopicArn", "Subject"}


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_scheduler_takes_every_schedule_from_the_chalice_app():
    import app

    found = {s.name: s.expression for s in schedules_of(app.app, app)}
    assert found == {"sweep_pending": "rate(1 minute)", "escalate_cases": "rate(1 minute)",
                     "detect_incidents": "rate(1 minute)",
                     "send_digests": "cron(0 6 * * ? *)", "roll_up_counters": "cron(5 * * * ? *)"}


def test_a_scheduled_event_is_eventbridges_and_chalice_reads_it(aws):
    import app

    event = scheduled_event("arn:aws:events:eu-west-2:123456789012:rule/voix-dev-escalate_cases",
                            at("2026-11-28T06:00:00"), "eu-west-2")
    assert set(event) == SCHEDULED_KEYS
    assert event["version"] == "0" and event["source"] == "aws.events" and event["detail-type"] == "Scheduled Event"
    assert event["time"] == "2026-11-28T06:00:00Z" and event["detail"] == {} and event["account"] == "123456789012"
    app.escalate_cases(event, FakeLambdaContext("voix-dev-escalate_cases"))  # Chalice's CloudWatchEvent parses it
    with pytest.raises(KeyError):  # what the local scheduler used to send
        app.escalate_cases({"detail-type": "Scheduled Event", "resources": [], "detail": {}}, FakeLambdaContext())


@pytest.mark.parametrize("expression, after, expected", [
    ("0 6 * * ? *", "2026-11-28T05:59:59", "2026-11-28T06:00:00"),
    ("0 6 * * ? *", "2026-11-28T06:00:00", "2026-11-29T06:00:00"),
    ("5 * * * ? *", "2026-11-28T23:30:00", "2026-11-29T00:05:00"),
    ("0 9 ? * MON-FRI *", "2026-11-28T10:00:00", "2026-11-30T09:00:00"),  # a Saturday: Monday next
    ("0 9 ? * 1 *", "2026-11-28T10:00:00", "2026-11-29T09:00:00"),  # 1 is Sunday
    ("0/15 8-9 1 JAN,JUL ? *", "2026-11-28T00:00:00", "2027-01-01T08:00:00"),
    ("30 23 31 * ? *", "2026-11-28T00:00:00", "2026-12-31T23:30:00"),
])
def test_cron_expressions_fire_when_eventbridge_fires_them(expression, after, expected):
    assert Cron.parse(expression).next_after(at(after)) == at(expected)


@pytest.mark.parametrize("expression", ["0 6 * * * *", "0 6 ? * ? *", "61 6 * * ? *", "0 6 L * ? *", "0 6 * *"])
def test_a_cron_expression_eventbridge_would_refuse_is_refused(expression):
    with pytest.raises(ValueError):
        Cron.parse(expression)


class Clock:
    def __init__(self, start):
        self.now = at(start)

    def __call__(self):
        return self.now


def recording():
    events = []
    return events, lambda event, context: events.append((event, context.function_name))


def test_each_schedule_fires_when_due_with_the_time_it_was_due_for():
    clock = Clock("2026-11-28T07:30:20")
    minute, daily = recording(), recording()
    scheduler = Scheduler([Schedule("escalate_cases", "rate(1 minute)", minute[1]),
                           Schedule("send_digests", "cron(0 6 * * ? *)", daily[1])], tick=1, now=clock)
    assert scheduler.run_due() == ["escalate_cases", "send_digests"]  # at start: a rate at once, a cron caught up
    assert daily[0][0][0]["time"] == "2026-11-28T06:00:00Z"
    assert daily[0][0][0]["resources"] == ["arn:aws:events:eu-west-2:123456789012:rule/voix-dev-send_digests"]
    assert daily[0][0][1] == "voix-dev-send_digests"
    for _ in range(59):  # a minute of one-second ticks
        clock.now += timedelta(seconds=1)
        scheduler.run_due()
    assert len(minute[0]) == 1
    clock.now += timedelta(seconds=1)
    assert scheduler.run_due() == ["escalate_cases"]
    assert minute[0][1][0]["time"] == "2026-11-28T07:31:20Z"
    clock.now = at("2026-11-29T06:00:00")  # the machine slept for most of a day: one firing each, not a backlog
    assert scheduler.run_due() == ["escalate_cases", "send_digests"]
    assert len(daily[0]) == 2 and daily[0][1][0]["time"] == "2026-11-29T06:00:00Z"
    assert minute[0][-1][0]["time"] == "2026-11-29T05:59:20Z"
    assert len({event["id"] for event, _ in minute[0] + daily[0]}) == len(minute[0] + daily[0])


def test_a_cron_named_not_to_catch_up_waits_for_its_next_occurrence_and_a_wrong_name_is_refused(monkeypatch):
    clock = Clock("2026-11-28T07:30:20")
    minute, daily = recording(), recording()
    monkeypatch.setenv("VOIX_SCHEDULER_NO_CATCH_UP", "send_digests")
    scheduler = Scheduler([Schedule("escalate_cases", "rate(1 minute)", minute[1]),
                           Schedule("send_digests", "cron(0 6 * * ? *)", daily[1])], tick=1, now=clock)
    assert scheduler.run_due() == ["escalate_cases"]  # no digest for the 06:00 missed
    clock.now = at("2026-11-29T06:00:00")
    assert scheduler.run_due() == ["escalate_cases", "send_digests"]
    assert daily[0][0][0]["time"] == "2026-11-29T06:00:00Z"
    monkeypatch.setenv("VOIX_SCHEDULER_NO_CATCH_UP", "send_digest")  # a typo would silently do nothing
    with pytest.raises(ValueError, match="send_digest"):
        Scheduler([Schedule("send_digests", "cron(0 6 * * ? *)", daily[1])], tick=1, now=clock)


def test_a_failing_scheduled_function_is_logged_and_fired_again_when_next_due():
    clock = Clock("2026-11-28T07:30:00")
    calls = []

    def failing(event, context):
        calls.append(event)
        raise RuntimeError("DynamoDB unavailable")

    scheduler = Scheduler([Schedule("sweep_pending", "rate(1 minute)", failing)], tick=1, now=clock)
    scheduler.run_due()
    clock.now += timedelta(minutes=1)
    scheduler.run_due()
    assert len(calls) == 2


def test_each_event_can_be_delivered_twice_as_eventbridge_may():
    clock = Clock("2026-11-28T07:30:00")
    events, handler = recording()
    Scheduler([Schedule("sweep_pending", "rate(1 minute)", handler)], tick=1, deliveries=2, now=clock).run_due()
    assert len(events) == 2 and events[0][0] is events[1][0]


def test_the_digest_is_sent_once_however_often_the_scheduler_fires_it(aws):
    import app
    from chalicelib.digest import is_digest
    from chalicelib.services import services

    # three days' runs (the scheduler's clock running fast, from ten days ago), each delivered three times
    first = (datetime.now(UTC) - timedelta(days=10)).replace(hour=6, minute=0, second=30, microsecond=0)
    clock = Clock(first.strftime("%Y-%m-%dT%H:%M:%S"))
    schedules = [s for s in schedules_of(app.app, app) if s.name == "send_digests"]
    scheduler = Scheduler(schedules, tick=1, deliveries=3, now=clock)
    for _ in range(3):
        assert scheduler.run_due() == ["send_digests"]
        clock.now += timedelta(days=1)
    recipients = [to for section in services().digest.sections() for to in section.recipients]
    sent = [(m.subject, to) for m in sent_emails() if is_digest(m.body) for to in m.destinations["ToAddresses"]]
    # each run sent the day it was scheduled for (its yesterday), once to each recipient
    days = [(first + timedelta(days=d - 1)).strftime("%Y-%m-%d") for d in range(3)]
    for day in days:
        assert sorted(to for subject, to in sent if f", {day}:" in subject) == sorted(recipients), day
    assert len(sent) == 3 * len(recipients)


def test_an_sqs_record_is_the_one_lambda_receives(aws):
    import boto3

    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="voix-dev-jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody='{"type": "message"}',
                     MessageAttributes={"kind": {"DataType": "String", "StringValue": "alert"}})
    received = sqs.receive_message(QueueUrl=url, AttributeNames=["All"], MessageAttributeNames=["All"])["Messages"]
    record = sqs_event(received, "arn:aws:sqs:eu-west-2:123456789012:voix-dev-jobs", "eu-west-2")["Records"][0]
    assert set(record) == SQS_RECORD_KEYS | {"md5OfMessageAttributes"}
    assert set(record["attributes"]) == SQS_ATTRIBUTES
    assert record["md5OfBody"] == hashlib.md5(b'{"type": "message"}').hexdigest()
    assert record["messageAttributes"] == {"kind": {"stringValue": "alert", "stringListValues": [],
                                                    "binaryListValues": [], "dataType": "String"}}
    assert record["eventSource"] == "aws:sqs" and record["awsRegion"] == "eu-west-2"


def test_an_sns_record_is_the_one_lambda_receives(aws):
    import boto3

    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="inbound")["TopicArn"]
    url = sqs.create_queue(QueueName="inbound-buffer")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]
    sns.publish(TopicArn=topic, Message='{"messageBody": "hello"}',
                MessageAttributes={"source": {"DataType": "String", "StringValue": "eum"}})
    envelope = json.loads(sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"])
    record = sns_event(envelope, subscription)["Records"][0]
    assert set(record) == SNS_RECORD_KEYS and record["EventSubscriptionArn"] == subscription
    message = record["Sns"]
    assert set(message) == SNS_KEYS
    assert message["Signature"] == envelope["Signature"] and message["Signature"]
    assert message["SigningCertUrl"] == envelope["SigningCertURL"] and message["SigningCertUrl"].startswith("https://")
    assert message["UnsubscribeUrl"].endswith("SubscriptionArn=" + subscription)
    assert message["MessageAttributes"] == {"source": {"Type": "String", "Value": "eum"}}
    assert message["Subject"] is None and message["Type"] == "Notification" and message["TopicArn"] == topic
