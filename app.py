"""Voix: every entry point of the system, and nothing else.

Routes, event handlers and middleware only; the domain lives in ``chalicelib``.
"""

import functools
import os
from datetime import timedelta

from chalice import Chalice, ConvertToMiddleware, Cron, Rate, Response

from chalicelib.admin_routes import admin
from chalicelib.clock import scheduled_time, utcnow
from chalicelib.incident_routes import incident_routes
from chalicelib.web import FORM, MAX_API_BYTES, actor, error, json_body, json_errors, logger, services
from chalicelib.webhook_url import require_configured

require_configured()  # in the cloud, the URL Twilio signs is configuration: no start without it

# Cold start: importing this module loads Chalice and nothing heavy. Each handler imports what
# it uses on its first call (the webhook never loads the operator API, the worker never loads
# the webhook's channels, and X-Ray's SDK loads only where tracing is on).

app = Chalice(app_name="voix")
app.register_blueprint(admin)  # /api/config/*: the live configuration (chalicelib/admin_routes.py)
app.register_blueprint(incident_routes)  # /api/incidents: emerging issues (chalicelib/incident_routes.py)




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


@app.middleware("http")
def operator_auth(event, get_response):
    """Every /api/* route but GET /api/openapi.json needs the operator token (constant-time check) or an
    unexpired access token whose role allows the route."""
    public = event.method == "GET" and event.path == "/api/openapi.json"  # the API's contract: no data in it
    if event.path.startswith("/api/") and not public:
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


# -- inbound SMS: each channel's route or trigger (chalicelib.channels) --------------------------
def _webhook(channel: str) -> Response:
    from chalicelib.inbound import webhook

    request = app.current_request
    answer = webhook(channel, request.raw_body or b"", request.headers, request.path, request.context or {},
                     services())
    return Response(body=answer.body, status_code=200, headers={"Content-Type": answer.content_type})


@app.route("/sms/twilio", methods=["POST"], content_types=[FORM, "application/json", "text/plain"])
@json_errors
def twilio_webhook():
    """Twilio's "a message comes in" webhook: the reply goes back in the answer (TwiML)."""
    return _webhook("twilio")


@app.route("/sms/twilio/status", methods=["POST"], content_types=[FORM, "application/json", "text/plain"])
@json_errors
def twilio_status():
    """Twilio's signed delivery reports on a staff reply (its StatusCallback): a status only moves forward."""
    from chalicelib.inbound import twilio_status as report

    request = app.current_request
    report(request.raw_body or b"", request.headers, request.query_params or {}, services())
    return Response(body="", status_code=204)


@app.on_sns_message(topic=os.environ.get("INBOUND_SMS_TOPIC", "voix-dev-inbound-sms"))
def inbound_sms(event):
    """AWS End User Messaging two-way SMS, published to SNS; the reply goes out at once."""
    from chalicelib.inbound import event as channel_event

    channel_event("eum", event.message, services())


@app.on_sns_message(topic=os.environ.get("INBOUND_EMAIL_TOPIC", "voix-dev-inbound-email"))
def inbound_email(event):
    """SES receiving: each mail to a site's address, published to SNS; the reply goes out by SES, threaded."""
    from chalicelib.inbound import event as channel_event

    channel_event("email", event.message, services())


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
        logger().info("replayed pending messages", extra={"count": replayed})


@app.schedule(Rate(1, unit=Rate.MINUTES))
def escalate_cases(event):
    """Cases not acknowledged by their deadline go up a level: site manager, then central care."""
    moved = services().cases.escalate_due()
    if moved:
        logger().info("cases escalated", extra={"count": moved})


@app.schedule(Rate(1, unit=Rate.MINUTES))
def detect_incidents(event):
    """Emerging issues: a topic rising at a site or across the network, from the hour counters (alerted once)."""
    done = services().incidents.check()
    if done["opened"] or done["closed"]:
        logger().info("incidents", extra=done)


# -- one-click acknowledgement from an alert e-mail --------------------------------------------
def _html(page) -> Response:
    return Response(body=page.body, status_code=page.status, headers=page.headers)


@app.route("/ack/{token}", methods=["GET"])
@json_errors
def ack_link_page(token):
    """Shows the case and a button: link scanners that fetch every URL acknowledge nothing."""
    return _html(services().ack_page.show(token, app.current_request.headers.get("accept-language", "")))


@app.route("/ack/{token}", methods=["POST"], content_types=[FORM, "application/json", "text/plain"])
@json_errors
def ack_link_post(token):
    return _html(services().ack_page.acknowledge(token, app.current_request.headers.get("accept-language", "")))


@app.route("/unsubscribe/{token}", methods=["GET"])
@json_errors
def unsubscribe_page(token):
    """The List-Unsubscribe link of a reply by e-mail: a button, so that a fetch changes nothing."""
    return _html(services().unsubscribe_page.show(token))


@app.route("/unsubscribe/{token}", methods=["POST"],  # RFC 8058 lets the mail client post either form encoding
           content_types=[FORM, "multipart/form-data", "application/json", "text/plain"])
@json_errors
def unsubscribe(token):
    """One-click unsubscribe (RFC 8058): the mail client posts List-Unsubscribe=One-Click."""
    return _html(services().unsubscribe_page.confirm(token))


@app.schedule(Cron(0, 6, "*", "*", "?", "*"))  # 06:00 UTC every day
def send_digests(event):
    """Yesterday's digest to each site manager and to central care (once each): the day the run was for."""
    logger().info("daily digests", extra=services().digest.send_all(at=scheduled_time(event)))


@app.schedule(Cron(5, "*", "*", "*", "?", "*"))  # five past every hour
def roll_up_counters(event):
    """Rank the sites of each standard window (busiest and quietest) for the network views."""
    from chalicelib.ranking import refresh

    svc = services()
    ranked = refresh(svc.store.counters, svc.config)
    logger().info("ranked sites", extra={"sites_with_messages": {w: r["of"] for w, r in ranked.items()}})


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
    return Response(body=services().api.create_survey(json_body(app.current_request)), status_code=202)


@app.route("/api/surveys", methods=["GET"])
@json_errors
def site_surveys():
    return services().api.site_surveys(app.current_request.query_params)


@app.route("/api/surveys/{survey_id}", methods=["GET"])
@json_errors
def survey_report(survey_id):
    return services().api.survey(survey_id)


@app.route("/api/tokens", methods=["POST"])
@json_errors
def mint_token():
    """A read-only, expiring token for a manager or a wall screen (operator only)."""
    svc = services()
    return Response(body=svc.api.mint_token(json_body(app.current_request), svc.link_key), status_code=201)


@app.route("/api/customers/{number}", methods=["DELETE"])
@json_errors
def erase_customer(number):
    """Right to erasure: every message, case, consent and survey record of one number (or e-mail address)."""
    svc = services()
    return svc.api.erase_customer(number, svc.customer_secret, int(os.environ.get("RETENTION_DAYS", "396")))


@app.route("/api/offers", methods=["POST"])
@json_errors
def issue_offer():
    """A member of staff issues a goodwill offer (within their daily limit unless approved)."""
    return services().api.issue_offer(json_body(app.current_request))


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
    return services().api.redeem_offer(code, json_body(app.current_request))


@app.route("/api/feedback", methods=["GET"])
@json_errors
def list_feedback():
    return services().api.feedback(app.current_request.query_params)


@app.route("/api/metrics", methods=["GET"])
@json_errors
def get_metrics():
    return services().api.metrics(app.current_request.query_params)


@app.route("/api/metrics/year", methods=["GET"])
@json_errors
def get_year():
    return services().api.year(app.current_request.query_params)


@app.route("/api/cases", methods=["GET"])
@json_errors
def list_cases():
    return services().api.cases(app.current_request.query_params)


@app.route("/api/cases/{case_id}", methods=["GET"])
@json_errors
def get_case(case_id):
    """One case and its conversation."""
    return services().api.case(case_id)


@app.route("/api/cases/{case_id}/reply", methods=["POST"])
@json_errors
def reply_to_customer(case_id):
    """Text the case's customer: checked, stored and queued here, sent once by the worker."""
    return Response(body=services().api.reply(case_id, json_body(app.current_request)), status_code=202)


@app.route("/api/cases/{case_id}/assign", methods=["POST"])
@json_errors
def assign_case(case_id):
    return services().api.assign(case_id, json_body(app.current_request), actor=actor(app.current_request))


@app.route("/api/cases/{case_id}/ack", methods=["POST"])
@json_errors
def acknowledge_case(case_id):
    request = app.current_request
    return services().api.case_action(case_id, "acknowledged", json_body(request), actor=actor(request))


@app.route("/api/cases/{case_id}/resolve", methods=["POST"])
@json_errors
def resolve_case(case_id):
    request = app.current_request
    return services().api.case_action(case_id, "resolved", json_body(request), actor=actor(request))


@app.route("/api/config", methods=["GET"])
@json_errors
def dashboard_config():
    return services().api.settings()


@app.route("/api/export.csv", methods=["GET"])
@json_errors
def export_csv():
    request = app.current_request
    body, truncated = services().api.export_csv(request.query_params,
                                                accept_language=request.headers.get("accept-language"))
    headers = {"Content-Type": "text/csv; charset=utf-8",
               "Content-Disposition": 'attachment; filename="voix-feedback.csv"'}
    if truncated:  # the newest rows only: the dashboard says so, a script can see it
        headers["X-Voix-Truncated"] = "true"
    return Response(body=body, status_code=200, headers=headers)


@app.route("/api/status", methods=["GET"])
@json_errors
def status():
    """Queue depths: anything in the dead-letter queue is an alert that could not be delivered."""
    svc = services()
    return svc.api.status(svc.queue_status())


@app.route("/api/openapi.json", methods=["GET"])
@json_errors
def openapi_document():
    """The API's contract (OpenAPI 3.1), generated from its models; the dashboard's /api.html reads it."""
    from chalicelib.api.openapi import document

    return document()


@app.route("/health", methods=["GET"])
@json_errors
def health():
    return {"status": "ok"}
