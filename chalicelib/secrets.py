"""Secrets: from SSM Parameter Store (SecureString, cached) in the cloud, from the environment locally.

For a secret ``NAME`` the function reads ``NAME`` from the environment if it is
set (the local stack and tests set it), else the SSM parameter named by
``NAME_PARAM``. Nothing secret is ever in the repository.
"""

from __future__ import annotations

import os

CACHE_SECONDS = 300


class MissingSecret(RuntimeError):
    """A secret is neither in the environment nor readable from SSM."""


def get_secret(name: str) -> str:
    value = os.environ.get(name)
    if value:
        return value
    parameter = os.environ.get(f"{name}_PARAM")
    if parameter:
        from aws_lambda_powertools.utilities import parameters  # deferred: cold start

        _ssm_with_timeouts()
        try:
            return parameters.get_parameter(parameter, decrypt=True, max_age=CACHE_SECONDS)
        except parameters.exceptions.GetParameterError as exc:  # not created (an optional secret) or not readable
            raise MissingSecret(f"secret {name}: SSM parameter {parameter} cannot be read: {exc}") from exc
    raise MissingSecret(f"secret {name} is not configured (set {name} or {name}_PARAM)")


def _ssm_with_timeouts() -> None:
    """Powertools' SSM provider, with our client's timeouts and retries (``aws_clients``), made the one
    ``get_parameter`` uses; ``parameters.clear_caches()`` forgets it with its cache, as a cold start does."""
    from aws_lambda_powertools.utilities.parameters import SSMProvider
    from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

    from chalicelib import aws_clients

    if "ssm" not in DEFAULT_PROVIDERS:
        DEFAULT_PROVIDERS["ssm"] = SSMProvider(boto3_client=aws_clients.client("ssm"))
