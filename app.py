"""Voix: every entry point of the system, and nothing else.

Routes, event handlers and middleware only; the domain lives in ``chalicelib``.
"""

import functools
import os
from datetime import timedelta

from chalice import Chalice, ConvertToMiddleware, Cron, Rate, Response

from chalicelib.clock import utcnow
from chalicelib.errors import ApiError, Unavailable

# Cold start: importing this module loads Chalice and nothing heavy. Each handler imports what
# it uses on its first call (the webhook never loads the operator API, the worker never loads
# the webhook's channels, and X-Ray's SDK loads only where tracing is on).

app = Chalice(app_name="voix")


def services():
    from chalicelib.services import services as current

    return current()


class _Powertools:
    """Powertools' logger, tracer and metrics around every handler, set up on the first call."""

    def __init__(self):
        self._chain = None

    def __call__(self, event, get_response):
        if self._chain is None:
            from chalicelib.observability import logger, metrics, tracer

            self._chain = [ConvertToMiddleware(logger.inject_lambda_context(clear_state=True)),
                           ConvertToMiddleware(tracer.capture_lambda_handler), ConvertToMiddleware(metrics.log_metrics)]
        handler = get_response
        for middleware in reversed(self._chain):
            handler = functools.partial(middleware, get_response=handler)
        return handler(event)


app.register_middleware(_Powertools())


def _logger():
    from chalicelib.observability import logger

    return logger

MAX_WEBHOOK_BYTES = 16 * 1024
MAX_API_BYTES = 512 * 1024  # a survey's CSV of numbers is the largest body (at most 400,000 characters)
FORM = "application/x-www-form-urlencoded"


def error(status: int, message: str) -> Response:
    return Response(body={"error": message}, status_code=status, headers={"Content-Type": "application/json"})


def json_errors(view):
    """Domain and validation errors of a view become JSON 4xx answers; anything else a logged 500."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except ApiError as exc:
            return error(exc.status, exc.message)
        except Unavailable:
            _logger().exception("message refused: storage and queue unavailable")
            return error(503, "temporarily unavailable, please retry")
        except Exception:
            _logger().exception("unhandled error")
            return error(500, "internal error")

    return wrapper


@app.middleware("http")
def operator_auth(event, get_response):
    """Every /api/* route needs the operator token (constant-time check) or an unexpired access token
    whose role allows the route."""
    if event.path.startswith("/api/"):
        from chalicelib import access

        svc = services()
        header = event.headers.get("authorization") or ""
        if not access.bearer_ok(header, svc.operator_token_sha256):
            scheme, _, token = header.partition(" ")
            try:
                if scheme.lower() != "bearer":
                    raise access.Refused(401, "missing or invalid operator token")
                access.allowed(access.verify(svc.link_key, token.strip(), utcnow()), event.method, event.path)
            except access.Refused as exc:
                return error(exc.status, exc.message)
        if len(event.raw_body or b"") > MAX_API_BYTES:
            return error(413, f"body larger than {MAX_API_BYTES} bytes")
    return get_response(event)


# -- inbound SMS -----------------------------------------------------------------------------
@app.route("/sms/twilio", methods=["POST"], content_types=[FORM, "application/json", "text/plain"])
@json_errors
def twilio_webhook():
    from chalicelib.channels import twilio
    from chalicelib.observability import logger, record_message

    request = app.current_request
    raw = request.raw_body or b""
    if len(raw) > MAX_WEBHOOK_BYTES:
        return error(413, f"body larger than {MAX_WEBHOOK_BYTES} bytes")
    if not (request.headers.get("content-type") or "").lower().startswith(FORM):
        return error(415, f"expected {FORM}")
    try:
        params = twilio.parse_form(raw)
    except twilio.BadRequest as exc:
        return error(400, str(exc))
    svc = services()
    if not twilio.is_valid_signature(
        svc.twilio_auth_token, svc.webhook_url_for(request.headers, request.context or {}, request.path), params,
        request.headers.get("x-twilio-signature"), request.headers.get("x-twilio-webhooks-signature-settings"),
    ):
        return error(403, "invalid Twilio signature")
    try:
        twilio.check_shape(params, svc.twilio_account_sid)
    except twilio.NotFromTwilio as exc:
        return error(403, f"not a Twilio request: {exc}")
    try:
        message = twilio.to_inbound(params, utcnow())
    except twilio.BadRequest as exc:
        return error(400, str(exc))
    logger.set_correlation_id(message.id)
    result = svc.ingest.ingest(message)
    if result.kind == "feedback":
        record_message(result.record, result.duplicate)
    logger.info("sms received", extra={"kind": result.kind, "duplicate": result.duplicate,
                                       "site": result.record.get("site"), "topic": result.record.get("topic"),
                                       "nature": result.record.get("nature")})
    return Response(body=twilio.twiml(result.reply), status_code=200, headers={"Content-Type": "text/xml"})


@app.on_sns_message(topic=os.environ.get("INBOUND_SMS_TOPIC", "voix-dev-inbound-sms"))
def inbound_sms(event):
    """AWS End User Messaging two-way SMS, published to SNS; the reply goes out at once."""
    from chalicelib.channels import eum, twilio
    from chalicelib.observability import logger, record_message

    svc = services()
    try:
        message = eum.to_inbound(event.message, utcnow())
    except twilio.BadRequest as exc:
        logger.error("unreadable End User Messaging event dropped", extra={"reason": str(exc)})
        return
    logger.set_correlation_id(message.id)
    result = svc.ingest.ingest(message, reply_status="pending")
    if result.kind != "feedback":
        if result.reply:
            try:
                svc.reply_sender.send(to=message.from_number, origin=message.to_number, text=result.reply,
                                      reference=message.id)
            except eum.RecipientOptedOut:  # a STOP the carrier answered already: recorded, nothing to add
                logger.info("reply not sent: the number opted out at the carrier")
        return
    record_message(result.record, result.duplicate)
    if result.record.get("reply_status") not in ("sent", "opted_out"):
        status = "sent"
        try:
            svc.reply_sender.send(to=message.from_number, origin=message.to_number, text=result.reply,
                                  reference=message.id)
        except eum.RecipientOptedOut:  # the feedback is kept; the carrier will not deliver an answer
            status = "opted_out"
        if not result.parked:
            svc.store.messages.set_reply_status(message.id, status)


# -- worker ------------------------------------------------------------------------------------
@app.on_sqs_message(queue=os.environ.get("JOBS_QUEUE", "voix-dev-jobs"), batch_size=10)
def worker(event):
    from chalicelib.worker_batch import handle_sqs_batch

    return handle_sqs_batch(event.to_dict(), services().worker)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def sweep_pending(event):
    """Messages stored while SQS was down are handed to the worker once it is back."""
    from chalicelib.ingest import replay_pending

    svc = services()
    replayed = replay_pending(svc.store.messages, svc.jobs, older_than=timedelta(minutes=2))
    if replayed:
        _logger().info("replayed pending messages", extra={"count": replayed})


@app.schedule(Rate(1, unit=Rate.MINUTES))
def escalate_cases(event):
    """Cases not acknowledged by their deadline go up a level: site manager, then central care."""
    moved = services().cases.escalate_due()
    if moved:
        _logger().info("cases escalated", extra={"count": moved})


# -- one-click acknowledgement from an alert e-mail --------------------------------------------
ACK_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Voix case {code}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 2rem auto; padding: 0 1rem">
<h1>Case {code}</h1><p>{text}</p>{form}</body></html>"""


def ack_page(status: int, code: str, text: str, form: bool = False, token: str = "") -> Response:
    from html import escape

    button = (f'<form method="post" action="{escape(token)}"><button type="submit" '
              'style="font-size: 1.2rem; padding: .6rem 1.2rem">Acknowledge</button></form>') if form else ""
    return Response(body=ACK_PAGE.format(code=escape(code), text=escape(text), form=button), status_code=status,
                    headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                             "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                                        "form-action 'self'", "Referrer-Policy": "no-referrer"})


def _ack_link(token):
    """The case and recipient a link names, or the refusal page: (case, recipient, None) or (None, None, page)."""
    from chalicelib import links

    svc = services()
    try:
        link = links.verify(svc.link_key, token)
    except links.ExpiredLink:
        return None, None, ack_page(410, "", "This link has expired. Acknowledge the case on the dashboard.")
    except links.BadLink:
        return None, None, ack_page(403, "", "This link is not valid.")
    case = svc.store.cases.get_case(link.case_id)
    if case is None:
        return None, None, ack_page(404, "", "This case no longer exists.")
    return case, case.get("recipients", {}).get(link.recipient, {}).get("to", "unknown"), None


@app.route("/ack/{token}", methods=["GET"])
@json_errors
def ack_link_page(token):
    """Shows the case and a button: link scanners that fetch every URL acknowledge nothing."""
    case, _, refused = _ack_link(token)
    if refused:
        return refused
    code = case.get("code") or case["id"]
    if case["status"] != "open":
        return ack_page(200, code, f"This case is already {case['status']}.")
    from chalicelib.moderation import mask

    text = mask(case["text"], tuple(services().config.deployment.forbidden_words))  # as on the dashboard
    return ack_page(200, code, f"{case['nature']} about {case['topic']}: \u201c{text}\u201d", True, token)


@app.route("/ack/{token}", methods=["POST"], content_types=[FORM, "application/json", "text/plain"])
@json_errors
def ack_link_post(token):
    from chalicelib.errors import Conflict

    case, recipient, refused = _ack_link(token)
    if refused:
        return refused
    code = case.get("code") or case["id"]
    try:
        services().cases.act(case["id"], "acknowledged", by=f"e-mail link ({recipient})")
    except Conflict as exc:
        return ack_page(409, code, f"This case is already {exc.args[0]}.")
    return ack_page(200, code, "Acknowledged. Thank you: the customer is waiting for your call.")


@app.schedule(Cron(0, 6, "*", "*", "?", "*"))  # 06:00 UTC every day
def send_digests(event):
    """Yesterday's digest to each site manager and to central care (once each)."""
    _logger().info("daily digests", extra=services().digest.send_all())


@app.schedule(Cron(5, "*", "*", "*", "?", "*"))  # five past every hour
def roll_up_counters(event):
    """Network roll-ups of the last closed hours and days, from the per-site hour counters."""
    from chalicelib.rollup import scheduled

    svc = services()
    counts = scheduled(svc.store.counters, svc.config)
    _logger().info("rolled up counters", extra={"messages": {
        bucket: sum(int(c.get("n", 0)) for c in sites.values()) for bucket, sites in counts.items()}})


# -- operator API ------------------------------------------------------------------------------
@app.route("/api/audit/messages/{message_id}", methods=["GET"])
@json_errors
def audit_message(message_id):
    """The original text behind a masked one: needs the audit token as well as the operator token."""
    from chalicelib.access import bearer_ok
    from chalicelib.secrets import MissingSecret

    try:
        expected = services().audit_token_sha256
    except MissingSecret:
        return error(403, "auditing is not enabled on this deployment")
    if not bearer_ok("Bearer " + (app.current_request.headers.get("x-audit-token") or ""), expected):
        return error(403, "audit token required")
    return services().api.audit_message(message_id)


@app.route("/api/scorecards", methods=["GET"])
@json_errors
def scorecards():
    return services().api.scorecards(app.current_request.query_params)


@app.route("/api/surveys", methods=["POST"])
@json_errors
def create_survey():
    """Send a survey (one to three questions, NPS / CSAT / CES) to a list of numbers (JSON list or CSV text)."""
    svc = services()
    return Response(body=svc.api.create_survey(_json_body(), svc.surveys), status_code=202)


@app.route("/api/surveys", methods=["GET"])
@json_errors
def site_surveys():
    svc = services()
    return svc.api.site_surveys(app.current_request.query_params, svc.surveys)


@app.route("/api/surveys/{survey_id}", methods=["GET"])
@json_errors
def survey_report(survey_id):
    svc = services()
    return svc.api.survey(survey_id, svc.surveys)


@app.route("/api/tokens", methods=["POST"])
@json_errors
def mint_token():
    """A read-only, expiring token for a manager or a wall screen (operator only)."""
    svc = services()
    return Response(body=svc.api.mint_token(_json_body(), svc.link_key), status_code=201)


@app.route("/api/customers/{number}", methods=["DELETE"])
@json_errors
def erase_customer(number):
    """Right to erasure: every message, case, consent and survey record of one number."""
    svc = services()
    return svc.api.erase_customer(number, svc.customer_secret, int(os.environ.get("RETENTION_DAYS", "396")))


@app.route("/api/offers", methods=["POST"])
@json_errors
def issue_offer():
    """A member of staff issues a goodwill offer (within their daily limit unless approved)."""
    return services().api.issue_offer(_json_body())


@app.route("/api/offers/budget", methods=["GET"])
@json_errors
def offer_budget():
    return services().api.offer_budget(app.current_request.query_params)


@app.route("/api/offers/{code}", methods=["GET"])
@json_errors
def get_offer(code):
    return services().api.offer(code)


@app.route("/api/offers/{code}/redeem", methods=["POST"])
@json_errors
def redeem_offer(code):
    return services().api.redeem_offer(code, _json_body())


@app.route("/api/feedback", methods=["GET"])
@json_errors
def list_feedback():
    return services().api.feedback(app.current_request.query_params)


@app.route("/api/metrics", methods=["GET"])
@json_errors
def get_metrics():
    return services().api.metrics(app.current_request.query_params)


@app.route("/api/cases", methods=["GET"])
@json_errors
def list_cases():
    return services().api.cases(app.current_request.query_params)


def _json_body():
    from chalicelib.bodies import json_object

    return json_object(app.current_request.raw_body)


def _actor():
    """Who the request's credential names (checked already by ``operator_auth``): recorded on the case."""
    from chalicelib import access

    svc = services()
    return access.identity(app.current_request.headers.get("authorization"), svc.operator_token_sha256,
                           svc.link_key, utcnow())


@app.route("/api/cases/{case_id}/ack", methods=["POST"])
@json_errors
def acknowledge_case(case_id):
    return services().api.case_action(case_id, "acknowledged", _json_body(), actor=_actor())


@app.route("/api/cases/{case_id}/resolve", methods=["POST"])
@json_errors
def resolve_case(case_id):
    return services().api.case_action(case_id, "resolved", _json_body(), actor=_actor())


@app.route("/api/config", methods=["GET"])
@json_errors
def dashboard_config():
    return services().api.settings()


@app.route("/api/export.csv", methods=["GET"])
@json_errors
def export_csv():
    body, truncated = services().api.export_csv(app.current_request.query_params)
    headers = {"Content-Type": "text/csv; charset=utf-8",
               "Content-Disposition": 'attachment; filename="voix-feedback.csv"'}
    if truncated:  # the newest rows only: the dashboard says so, a script can see it
        headers["X-Voix-Truncated"] = "true"
    return Response(body=body, status_code=200, headers=headers)


@app.route("/api/status", methods=["GET"])
@json_errors
def status():
    """Queue depths: anything in the dead-letter queue is an alert that could not be delivered."""
    return {"queues": services().queue_status()}


@app.route("/health", methods=["GET"])
@json_errors
def health():
    return {"status": "ok"}
