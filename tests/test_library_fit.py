"""Libraries used as they are meant to be: every AWS client bounded in time with standard retries,
and every log line, the SDK's included, through Powertools."""

from __future__ import annotations

import ast
import json
import logging
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("dynamodb", "sqs", "sns", "sesv2", "pinpoint-sms-voice-v2", "ssm")


def shortest_function_timeout() -> int:
    """The smallest ``lambda_timeout`` any function has in any stage of .chalice/config.json."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    timeouts = [config["lambda_timeout"]]
    for stage in config["stages"].values():
        timeouts.append(stage.get("lambda_timeout", config["lambda_timeout"]))
        for function in stage.get("lambda_functions", {}).values():
            timeouts.append(function.get("lambda_timeout", stage.get("lambda_timeout", config["lambda_timeout"])))
    return min(timeouts)


def assert_bounded(client) -> None:
    config = client.meta.config
    limit = shortest_function_timeout()
    assert config.connect_timeout and config.read_timeout, client.meta.service_model.service_name
    assert config.connect_timeout + config.read_timeout < limit, (config.connect_timeout, config.read_timeout, limit)
    assert config.retries["mode"] == "standard"


def test_the_functions_clients_time_out_below_the_shortest_function_timeout_and_retry_in_standard_mode(aws):
    from chalicelib.services import Services

    for service in SERVICES:
        assert_bounded(Services.client(service))


def test_every_client_the_services_build_is_bounded(aws, monkeypatch):
    import boto3

    from chalicelib.services import services

    made = []
    real = boto3.client

    def recording(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(boto3, "client", recording)
    monkeypatch.setenv("REPLY_SENDER", "eum")
    svc = services()
    for built in ("store", "jobs", "worker", "digest", "surveys", "reply_sender", "ingest", "api"):
        getattr(svc, built)
    assert sorted({c.meta.service_model.service_name for c in made}) == sorted(SERVICES[:-1])
    for client in made:
        assert_bounded(client)


def test_secrets_from_ssm_use_a_bounded_client(aws, monkeypatch):
    import boto3
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

    from chalicelib.secrets import get_secret

    boto3.client("ssm").put_parameter(Name="/voix/test/secret", Value="s3cret", Type="SecureString")
    monkeypatch.delenv("LINK_SIGNING_KEY")
    monkeypatch.setenv("LINK_SIGNING_KEY_PARAM", "/voix/test/secret")
    parameters.clear_caches()
    try:
        assert get_secret("LINK_SIGNING_KEY") == "s3cret"
        assert_bounded(DEFAULT_PROVIDERS["ssm"].client)
    finally:
        parameters.clear_caches()


def _calls(tree: ast.AST, owner: str, name: str) -> list[int]:
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute) and node.func.attr == name
            and isinstance(node.func.value, ast.Name) and node.func.value.id == owner]


def test_only_aws_clients_makes_clients_and_nothing_logs_around_powertools():
    """boto3 clients are made in one place (their timeouts); no module keeps a logger of its own
    or prints (the command line, ``__main__``, ``config_cli``, ``model_cli`` and ``year_backfill``, prints its
    results by design)."""
    offenders = []
    for path in sorted([*(ROOT / "chalicelib").rglob("*.py"), ROOT / "app.py"]):
        name = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if name != "chalicelib/aws_clients.py":
            offenders += [f"{name}:{line} boto3.client" for line in _calls(tree, "boto3", "client")]
            offenders += [f"{name}:{line} boto3.resource" for line in _calls(tree, "boto3", "resource")]
        if name != "chalicelib/observability.py":
            offenders += [f"{name}:{line} logging.getLogger" for line in _calls(tree, "logging", "getLogger")]
        if name not in ("chalicelib/__main__.py", "chalicelib/config_cli.py", "chalicelib/model_cli.py",
                        "chalicelib/year_backfill.py"):
            offenders += [f"{name}:{node.lineno} print" for node in ast.walk(tree) if isinstance(node, ast.Call)
                          and isinstance(node.func, ast.Name) and node.func.id == "print"]
    assert offenders == []


@pytest.mark.parametrize("library", ["botocore", "boto3", "urllib3"])
def test_the_sdks_warnings_log_as_powertools_json_and_its_debug_lines_not_at_all(aws, library, capsys):
    from chalicelib.aws_clients import client
    from chalicelib.observability import logger

    client("sqs")
    sdk = logging.getLogger(library)
    assert sdk.handlers == logger.handlers and sdk.propagate is False
    assert sdk.getEffectiveLevel() >= logging.WARNING  # botocore's debug lines carry request bodies
    record = sdk.makeRecord(library, logging.WARNING, __file__, 1, "connection pool is full", None, None)
    line = json.loads(logger.registered_formatter.format(record))
    assert line["level"] == "WARNING" and line["message"] == "connection pool is full"
    assert line["service"] == "voix"
