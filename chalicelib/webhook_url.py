"""The URL Twilio signs, which the webhook checks each signature against.

In the cloud it is configuration (``TWILIO_WEBHOOK_URL``, set by ``make package`` from the stack's own
domain): a function started without it refuses to start, so that no request is ever checked against a URL
built from the request's own ``Host`` and ``X-Forwarded-Proto`` headers, which the caller chooses. Only the
local stack (``VOIX_LOCAL=1``, set by ``infra/local.py``) may derive it from the request.
"""

from __future__ import annotations

import os
from typing import Any

MISSING = ("TWILIO_WEBHOOK_URL is not set: the URL Twilio signs is required configuration outside the local "
           "stack (make package sets it; see docs/deploy.md)")


def is_local() -> bool:
    return os.environ.get("VOIX_LOCAL") == "1"


def require_configured() -> None:
    """At import, in Lambda: no URL configured (and not the local stack), no start, no request served."""
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and not is_local() and not os.environ.get("TWILIO_WEBHOOK_URL"):
        raise RuntimeError(MISSING)


def configured() -> str:
    """TWILIO_WEBHOOK_URL; on the local stack, the local server's URL when unset."""
    url = os.environ.get("TWILIO_WEBHOOK_URL")
    if url:
        return url
    if is_local():
        return f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/sms/twilio"
    raise RuntimeError(MISSING)


def for_request(headers: dict[str, str], context: dict[str, Any], path: str) -> str:
    """The URL Twilio signed for this request: the configured one; derived from the request on the local stack only."""
    if os.environ.get("TWILIO_WEBHOOK_URL") or not is_local() or not headers.get("host") or not context.get("stage"):
        return configured()
    proto = headers.get("x-forwarded-proto", "http").split(",")[0].strip()
    return f"{proto}://{headers['host']}/{context['stage']}{path}"


def status_url() -> str:
    """Where Twilio posts a staff reply's delivery reports, and the URL it signs them for (before ``?ref=``):
    TWILIO_STATUS_URL, else the webhook's URL followed by ``/status``."""
    return os.environ.get("TWILIO_STATUS_URL") or configured().rstrip("/") + "/status"
