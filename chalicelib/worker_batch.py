"""SQS batches for the worker: each record succeeds or fails on its own (Powertools batch)."""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.worker import BadJob, Worker


class BatchFailed(Exception):
    """Some records failed and the event source cannot take a partial answer: retry the batch."""


def handle_sqs_batch(event: dict[str, Any], worker: Worker) -> dict[str, Any]:
    """Run every record; return the failed ones as ``batchItemFailures``.

    The function's SQS event source reports partial failures when
    ``SQS_PARTIAL_BATCH=true`` (set where the mapping has ``ReportBatchItemFailures``,
    as the infra template does). Otherwise returning would delete the failed
    records, so the whole batch is failed instead: every step of the worker is
    idempotent, so re-running the records that succeeded is harmless.
    """

    def record_handler(record: SQSRecord) -> None:
        try:
            job = json.loads(record.body)
        except ValueError as exc:
            raise BadJob("job is not JSON") from exc
        worker.handle(job, int(record.attributes.approximate_receive_count or 1))

    processor = BatchProcessor(event_type=EventType.SQS)
    try:
        response = process_partial_response(event=event, record_handler=record_handler, processor=processor)
    except BatchProcessingError as exc:
        raise BatchFailed(str(exc)) from exc
    if response.get("batchItemFailures") and os.environ.get("SQS_PARTIAL_BATCH") != "true":
        raise BatchFailed(f"{len(response['batchItemFailures'])} record(s) failed")
    return dict(response)
