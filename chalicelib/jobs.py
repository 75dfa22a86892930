"""The work queue between the webhook and the worker (SQS, with a dead-letter queue)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError


class QueueError(Exception):
    """SQS could not take the job."""


class JobQueue:
    """Sends jobs to one SQS queue. Takes a client and the queue's name (or URL)."""

    def __init__(self, client: Any, queue: str):
        self._sqs = client
        self._queue = queue
        self._url: str | None = queue if queue.startswith("http") else None

    @property
    def url(self) -> str:
        if self._url is None:
            try:
                self._url = self._sqs.get_queue_url(QueueName=self._queue)["QueueUrl"]
            except (ClientError, BotoCoreError) as exc:
                raise QueueError(f"queue {self._queue!r} not found: {exc}") from exc
        return self._url

    def send(self, job: dict[str, Any], delay_seconds: int = 0) -> None:
        """Queue one job; ``delay_seconds`` (at most SQS's 900) holds it back."""
        extra = {"DelaySeconds": max(0, min(900, int(delay_seconds)))} if delay_seconds else {}
        try:
            self._sqs.send_message(QueueUrl=self.url, MessageBody=json.dumps(job, separators=(",", ":")), **extra)
        except (ClientError, BotoCoreError) as exc:
            raise QueueError(f"SQS send failed: {exc}") from exc

    def send_many(self, jobs: list[dict[str, Any]]) -> None:
        for start in range(0, len(jobs), 10):
            chunk = jobs[start:start + 10]
            try:
                res = self._sqs.send_message_batch(QueueUrl=self.url, Entries=[
                    {"Id": str(i), "MessageBody": json.dumps(job, separators=(",", ":"))}
                    for i, job in enumerate(chunk)
                ])
            except (ClientError, BotoCoreError) as exc:
                raise QueueError(f"SQS send failed: {exc}") from exc
            if res.get("Failed"):
                raise QueueError(f"SQS refused {len(res['Failed'])} job(s): {res['Failed'][0].get('Message')}")


def queue_depth(client: Any, queue: str) -> dict[str, int]:
    """Approximate numbers of waiting and in-flight messages of a queue (name or URL)."""
    try:
        url = queue if queue.startswith("http") else client.get_queue_url(QueueName=queue)["QueueUrl"]
        attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    except (ClientError, BotoCoreError) as exc:
        raise QueueError(f"cannot read queue {queue!r}: {exc}") from exc
    return {"waiting": int(attributes.get("ApproximateNumberOfMessages", 0)),
            "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0))}
