"""HTTP plumbing shared by ``app.py`` and its blueprints (``chalicelib/admin_routes.py``): the services, JSON
errors, the request's JSON body and the identity its credential names. Light to import (cold start)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib.clock import utcnow
from chalicelib.errors import ApiError, Unavailable

MAX_API_BYTES = 512 * 1024  # a survey's CSV of numbers is the largest body (at most 400,000 characters)
FORM = "application/x-www-form-urlencoded"


def services() -> Any:
    from chalicelib.services import services as current

    return current()


def logger() -> Any:
    from chalicelib.observability import logger as log

    return log


def error(status: int, message: str) -> Response:
    return Response(body={"error": message}, status_code=status, headers={"Content-Type": "application/json"})


def json_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """Domain and validation errors of a view become JSON 4xx answers; anything else a logged 500."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except ApiError as exc:
            return error(exc.status, exc.message)
        except Unavailable:
            logger().exception("message refused: storage and queue unavailable")
            return error(503, "temporarily unavailable, please retry")
        except Exception:
            logger().exception("unhandled error")
            return error(500, "internal error")

    return wrapper


def json_body(request: Any) -> Any:
    from chalicelib.bodies import json_object

    return json_object(request.raw_body)


def actor(request: Any) -> str:
    """Who the request's credential names (checked already by ``operator_auth``): recorded with what it does."""
    from chalicelib import access

    svc = services()
    return access.identity(request.headers.get("authorization"), svc.operator_token_sha256, svc.link_key, utcnow())
