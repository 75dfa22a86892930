"""Powertools, set up once: structured logs, EMF metrics, X-Ray traces (when the function has active tracing)."""

from __future__ import annotations

import logging
import os

from aws_lambda_powertools import Logger, Metrics, Tracer, single_metric
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "voix"

logger = Logger(service=SERVICE)
# Chalice gives its app logger, named after the app ("voix", the service name: the same logger),
# a plain stdout handler of its own: every line came out twice, plain then JSON. Only Powertools'
# JSON handler stays; the modules of chalicelib log through ``logger`` (one line, correlation id).
for _handler in list(logging.getLogger(SERVICE).handlers):
    if _handler is not logger.registered_handler:
        logging.getLogger(SERVICE).removeHandler(_handler)
metrics = Metrics(namespace="Voix", service=SERVICE)


class _Untraced:
    """Where nothing collects traces (no X-Ray daemon: Lambda without active tracing, the local stack,
    the tests), the X-Ray SDK is not loaded at all: it costs about 0.2 s of cold start."""

    def capture_lambda_handler(self, handler=None, **_):
        return handler if handler is not None else (lambda function: function)


def _tracing() -> bool:
    return (os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() != "true"
            and bool(os.environ.get("AWS_XRAY_DAEMON_ADDRESS")))  # set by Lambda when tracing is active


tracer = Tracer(service=SERVICE) if _tracing() else _Untraced()

__all__ = ["MetricUnit", "logger", "metrics", "record_alert", "record_message", "record_survey_answer", "tracer"]


def _disabled() -> bool:
    return os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() == "true"


def record_message(record: dict, duplicate: bool) -> None:
    """EMF metrics for one inbound message: by site, topic and nature."""
    if _disabled():
        return
    if duplicate:
        metrics.add_metric(name="DuplicateMessages", unit=MetricUnit.Count, value=1)
        return
    metrics.add_metric(name="Messages", unit=MetricUnit.Count, value=1)
    for dimension in ("site", "topic", "nature", "urgency"):
        with single_metric(name="MessagesBy" + dimension.capitalize(), unit=MetricUnit.Count, value=1,
                           namespace=metrics.namespace) as metric:
            metric.add_dimension(name=dimension, value=str(record.get(dimension) or "unknown"))


def record_alert(channel: str, ok: bool) -> None:
    if _disabled():
        return
    metrics.add_metric(name="AlertsSent" if ok else "AlertsFailed", unit=MetricUnit.Count, value=1)
    with single_metric(name="AlertsSent" if ok else "AlertsFailed", unit=MetricUnit.Count, value=1,
                       namespace=metrics.namespace) as metric:
        metric.add_dimension(name="channel", value=channel)


def record_survey_answer(site: str, kind: str, value: int) -> None:
    """EMF metrics for one survey answer: a count and the score, by site and question kind."""
    if _disabled():
        return
    for name, unit, amount in (("SurveyAnswers", MetricUnit.Count, 1), ("SurveyScore", MetricUnit.NoUnit, value)):
        with single_metric(name=name, unit=unit, value=amount, namespace=metrics.namespace) as metric:
            metric.add_dimension(name="site", value=site)
            metric.add_dimension(name="kind", value=kind)
