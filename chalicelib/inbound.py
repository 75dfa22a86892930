"""Any channel's way in: a webhook request or an event becomes a message, which the ingest service answers.

Channel-neutral: the channel (:mod:`chalicelib.channels`) checks and reads the request; the routes and
triggers in ``app.py`` are one call each to :func:`webhook` or :func:`event`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib import channels
from chalicelib.clock import utcnow
from chalicelib.errors import ApiError
from chalicelib.observability import logger

MAX_WEBHOOK_BYTES = 16 * 1024


def webhook(name: str, raw: bytes, headers: Mapping[str, str], path: str, context: Mapping[str, Any],
            svc: Any) -> channels.Answer:
    """A request to channel ``name``'s webhook: the answer to give (the reply in it where the channel
    replies so), or :class:`ApiError` with the 4xx it deserves (nothing stored)."""
    channel = channels.get(name)
    if len(raw) > MAX_WEBHOOK_BYTES:
        raise ApiError(413, f"body larger than {MAX_WEBHOOK_BYTES} bytes")
    request = channels.Request(body=raw, headers=headers, path=path, context=context)
    try:
        channel.verify(request, svc)
        message = channel.read(request, utcnow())
    except channels.Refused as exc:
        raise ApiError(exc.status, exc.message) from exc
    except channels.BadRequest as exc:
        raise ApiError(400, str(exc)) from exc
    logger.set_correlation_id(message.id)
    result = svc.ingest.receive(message)
    if channel.answer is None:  # the reply went out by the channel's API
        return channels.Answer("", "text/plain")
    return channel.answer(result.reply)


def event(name: str, body: str, svc: Any) -> None:
    """An event that channel ``name`` delivers to the function (End User Messaging through SNS): answered by
    the channel's API. An unreadable event is logged and dropped (a redelivery would not read better)."""
    channel = channels.get(name)
    request = channels.Request(body=body)
    if name == "eum" and delivery_event(body, svc):
        return
    try:
        channel.verify(request, svc)
        message = channel.read(request, utcnow())
    except (channels.BadRequest, channels.Refused) as exc:
        logger.error("unreadable event dropped", extra={"channel": name, "reason": str(exc)})
        return
    logger.set_correlation_id(message.id)
    svc.ingest.receive(message)


def delivery_event(body: str, svc: Any) -> bool:
    """An End User Messaging delivery event on the inbound topic (chalicelib/channels/eum.py): a staff
    reply's status moves forward (late, repeated or out-of-order events change nothing). True if ``body`` was
    an event (applied, or not about a reply), False if it is something else (an inbound SMS)."""
    from chalicelib.channels.eum import delivery_event as read_event

    is_event, found = read_event(body)
    if found is not None:
        moved = svc.conversations.delivered(found.case_id, found.reply_id, found.status,
                                            provider_id=found.provider_id, error=found.error)
        logger.info("delivery event", extra={"case_id": found.case_id, "reply_id": found.reply_id,
                                             "status": found.status, "applied": moved})
    return is_event


def twilio_status(raw: bytes, headers: Mapping[str, str], query: Mapping[str, str], svc: Any) -> None:
    """A Twilio status callback on a staff reply: checked like the webhook, then applied if it moves the
    reply's status forward (late, repeated or out-of-order reports change nothing; an erased reply is gone)."""
    from chalicelib.channels.twilio import status_report
    from chalicelib.replying import carrier_error

    if len(raw) > MAX_WEBHOOK_BYTES:
        raise ApiError(413, f"body larger than {MAX_WEBHOOK_BYTES} bytes")
    try:
        report = status_report(raw, headers, query, svc)
    except channels.Refused as exc:
        raise ApiError(exc.status, exc.message) from exc
    if report is None:
        return
    moved = svc.conversations.delivered(report.case_id, report.reply_id, report.status, provider_id=report.provider_id,
                                        error=carrier_error(report.error_code, report.error_message))
    logger.info("delivery report", extra={"case_id": report.case_id, "reply_id": report.reply_id,
                                          "status": report.status, "applied": moved, "error_code": report.error_code})
