"""AWS SDK clients as the functions need them: explicit timeouts, standard retries, JSON logs.

Every client of the functions is made here, on first use (never at import: moto, the Chalice
test client and cold start depend on it). Each attempt is bounded by ``CONNECT_TIMEOUT`` and
``READ_TIMEOUT``, well below the shortest function timeout (``lambda_timeout``, 10 s, in
``.chalice/config.json``), so a stalled endpoint fails a call instead of the whole invocation;
botocore's ``standard`` retry mode retries throttling and transient errors with backoff. The
SDK's own log lines (botocore, boto3, urllib3) go through Powertools' JSON handler.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from chalicelib.observability import logger

CONNECT_TIMEOUT = 2  # seconds, per attempt
READ_TIMEOUT = 5  # seconds, per attempt: DynamoDB, SQS, SNS, SES, SSM answer in milliseconds
LIBRARY_LOGGERS = {"boto3", "botocore", "urllib3", "s3transfer"}


def client_config() -> Any:
    from botocore.config import Config

    # one request at a time in Lambda; the local stack serves many threads from one process
    return Config(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT, retries={"mode": "standard"},
                  max_pool_connections=32)


@cache
def library_logs() -> None:
    """Once the SDK is imported (its loggers exist), its warnings and errors log as Powertools JSON."""
    from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

    level = max(logging.WARNING, logger.log_level)  # never debug: botocore logs request bodies (numbers) there
    copy_config_to_registered_loggers(source_logger=logger, log_level=level, include=set(LIBRARY_LOGGERS))


def client(service: str) -> Any:
    """A boto3 client for ``service`` with the timeouts and retries above."""
    import boto3

    library_logs()
    return boto3.client(service, config=client_config())
