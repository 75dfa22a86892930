"""The OpenAPI 3.1 document of the operator API, generated from its request and response models.

``ROUTES`` is the only hand-written part: method, path, the models of the query or body and of the
answer, and the error statuses. The schemas come from pydantic (``models_json_schema``), so a bound
or a field changed in ``requests`` or ``responses`` is changed in the document too. Served at
``GET /api/openapi.json``; read by a person on the dashboard's ``/api.html`` page.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.api import incident_models as im
from chalicelib.api import requests as rq
from chalicelib.api import responses as rs
from chalicelib.surveys import SurveyRequest

REF = "#/components/schemas/{model}"
ERRORS = {400: "Invalid query, body or path parameter", 401: "Missing, invalid or expired token",
          403: "The token may not do this", 404: "Not found", 409: "The state forbids it",
          410: "Gone: erased with its customer", 413: "Body too large",
          415: "Unsupported media type: the body must be application/json", 429: "A limit is reached: wait",
          503: "Temporarily unavailable: retry"}
ALWAYS = (401, 403, 413)  # the operator-auth middleware may answer any route so


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    summary: str
    answer: type[BaseModel] | None  # None: not JSON (see ``media``)
    status: int = 200
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_required: bool = False
    errors: tuple[int, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()  # (name, description) of required request headers
    media: str = "application/json"
    tags: tuple[str, ...] = ()


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/feedback", "Messages, newest first, filtered and paged", rs.FeedbackPage,
          query=rq.FeedbackQuery, errors=(400,), tags=("feedback",)),
    Route("PATCH", "/api/feedback/{message_id}", "Relabel a message (operator only): its counts move once, the "
          "machine's labels are kept beside the correction", rs.Message, body=rq.Relabel, body_required=True,
          errors=(400, 404, 409, 503), tags=("feedback",)),
    Route("GET", "/api/export.csv", "The filtered messages as CSV (spreadsheet-safe cells)", None,
          query=rq.ExportQuery, errors=(400,), media="text/csv", tags=("feedback",)),
    Route("GET", "/api/audit/messages/{message_id}", "A message with its unmasked text (audit token too)",
          rs.AuditedMessage, errors=(404,), headers=(("X-Audit-Token", "The audit token"),), tags=("feedback",)),
    Route("GET", "/api/metrics", "Totals, a series per hour or day, per-site totals", rs.Metrics,
          query=rq.MetricsQuery, errors=(400, 503), tags=("figures",)),
    Route("GET", "/api/metrics/quality", "Observed quality, corrections taken as ground truth: confusion "
          "matrices, precision and recall over the corrected messages only (at most 31 days)", rs.Quality,
          query=rq.QualityQuery, errors=(400, 503), tags=("figures",)),
    Route("GET", "/api/metrics/year", "The year at a glance: 13 months and their ISO weeks, by nature, urgency "
          "and topic (read from month and week items)", rs.Year, query=rq.YearQuery, errors=(400, 503),
          tags=("figures",)),
    Route("GET", "/api/scorecards", "Per site and per member of staff on duty (at most 31 days)", rs.Scorecards,
          query=rq.ScorecardQuery, errors=(400, 503), tags=("figures",)),
    Route("GET", "/api/cases", "Cases in one status (open: most urgent, then soonest due, first)", rs.CasePage,
          query=rq.CasesQuery, errors=(400,), tags=("cases",)),
    Route("GET", "/api/cases/{case_id}", "One case with its conversation (the opening message, then the latest 50)",
          rs.CaseDetail, errors=(404,), tags=("cases",)),
    Route("POST", "/api/cases/{case_id}/reply", "Text the case's customer (sent by the worker, once)",
          rs.ReplyQueued, status=202, body=rq.ReplyBody, body_required=True, errors=(400, 404, 409, 410, 429, 503),
          tags=("cases",)),
    Route("POST", "/api/cases/{case_id}/assign", "Assign (or reassign) a case to a named person", rs.Case,
          body=rq.AssignBody, body_required=True, errors=(400, 404, 409), tags=("cases",)),
    Route("POST", "/api/cases/{case_id}/ack", "Acknowledge a case", rs.Case, body=rq.CaseAction,
          errors=(400, 404, 409), tags=("cases",)),
    Route("POST", "/api/cases/{case_id}/resolve", "Resolve a case", rs.Case, body=rq.CaseAction,
          errors=(400, 404, 409), tags=("cases",)),
    Route("POST", "/api/offers", "Issue a goodwill offer (within the staff member's daily limit)", rs.Offer,
          body=rq.OfferRequest, body_required=True, errors=(400, 404, 409), tags=("offers",)),
    Route("GET", "/api/offers/budget", "A site's offer budget today", rs.OfferBudget, query=rq.SiteQuery,
          errors=(400,), tags=("offers",)),
    Route("GET", "/api/offers/{code}", "An offer, by its code as typed at the till", rs.Offer, errors=(404,),
          tags=("offers",)),
    Route("POST", "/api/offers/{code}/redeem", "Redeem an offer", rs.Offer, body=rq.RedeemRequest,
          errors=(400, 404, 409), tags=("offers",)),
    Route("POST", "/api/surveys", "Send a survey (one to three questions) to a list of numbers", rs.SurveyCreated,
          status=202, body=SurveyRequest, body_required=True, errors=(400,), tags=("surveys",)),
    Route("GET", "/api/surveys", "The survey reports of a site", rs.SiteSurveys, query=rq.SiteQuery,
          errors=(400,), tags=("surveys",)),
    Route("GET", "/api/surveys/{survey_id}", "A survey's report", rs.SurveyReport, errors=(404,),
          tags=("surveys",)),
    Route("POST", "/api/tokens", "Mint an expiring read-only token (operator only)", rs.Token, status=201,
          body=rq.TokenRequest, errors=(400,), tags=("access",)),
    Route("DELETE", "/api/customers/{number}", "Erase everything about one customer (international number, or "
          "e-mail address)",
          rs.Erased, errors=(400,), tags=("access",)),
    Route("GET", "/api/config", "Sites, topics and natures, to label the dashboard", rs.Settings,
          tags=("settings",)),
    Route("GET", "/api/status", "Depth of the jobs queue and of its dead-letter queue", rs.Status,
          tags=("settings",)),
    Route("GET", "/api/config/history", "The configuration's versions, newest first (author, time, comment, "
          "diff)", rs.ConfigHistory, query=rq.ConfigHistoryQuery, errors=(400,), tags=("configuration",)),
    Route("POST", "/api/config/rollback", "Publish an earlier version's configuration as the next version",
          rs.ConfigVersion, body=rq.ConfigRollback, body_required=True, errors=(400, 404, 409),
          tags=("configuration",)),
    Route("POST", "/api/config/rules/preview", "Backtest a draft of the rules on the stored messages of the last "
          "days (at most 50,000, the newest): what would change, examples, accuracy on corrected messages; "
          "nothing stored", rs.RulesPreview, body=rq.BacktestRequest, body_required=True, errors=(400,),
          tags=("configuration",)),
    Route("POST", "/api/config/rules/explain", "Classify one text with the live rules or a draft: which rules "
          "fired and why", rs.RulesExplanation, body=rq.ExplainRequest, body_required=True, errors=(400,),
          tags=("configuration",)),
    Route("GET", "/api/config/rules/suggestions", "Phrases frequent in the corrected messages of a label and "
          "absent from the rules", rs.RulesSuggestions, query=rq.SuggestionsQuery, errors=(400,),
          tags=("configuration",)),
    Route("GET", "/api/incidents", "Emerging issues in one status (a topic rising at a site or across the "
          "network against the same hours of earlier weeks), newest first", im.IncidentPage,
          query=im.IncidentsQuery, errors=(400,), tags=("incidents",)),
    Route("POST", "/api/incidents/{incident_id}/ack", "Acknowledge an open incident (its banner goes)",
          im.Incident, body=im.IncidentAck, errors=(400, 404, 409), tags=("incidents",)),
    Route("GET", "/api/config/{section}", "A section (sites, rules, replies, routing) of the latest version",
          rs.ConfigSection, errors=(404,), tags=("configuration",)),
    Route("PUT", "/api/config/{section}", "Publish a section's new data as the next version (validated; 409 if "
          "base_version is not the latest)", rs.ConfigVersion, body=rq.ConfigPublish, body_required=True,
          errors=(400, 404, 409), tags=("configuration",)),
)
DOCUMENT_PATH = "/api/openapi.json"  # public: served without a token (it holds no data)


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a string, never null: drop the ``null`` branch pydantic adds."""
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    if len(options) == 1:
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        return {**options[0], **rest}
    return schema


def _parameters(route: Route, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    out = [{"name": name[1:-1], "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
           for name in route.path.split("/") if name.startswith("{")]
    out += [{"name": name, "in": "header", "required": True, "description": text, "schema": {"type": "string"}}
            for name, text in route.headers]
    if route.query is not None:
        model = schemas[route.query.__name__]
        for name, schema in model.get("properties", {}).items():
            schema = _not_null(dict(schema))
            parameter = {"name": name, "in": "query", "required": name in model.get("required", []),
                         "schema": {k: v for k, v in schema.items()
                                    if k not in ("title", "description") and not (k == "default" and v is None)}}
            if schema.get("description"):
                parameter["description"] = schema["description"]
            out.append(parameter)
    return out


def _error(text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}}}


def _operation(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    if route.answer is not None:
        content = {"application/json": {"schema": {"$ref": REF.format(model=route.answer.__name__)}}}
    else:
        content = {route.media: {"schema": {"type": "string"}}}
    ok: dict[str, Any] = {"description": route.summary, "content": content}
    if route.path == "/api/export.csv":
        ok["headers"] = {"X-Voix-Truncated": {"description": "true: the period held more rows than one export; "
                                                             "the newest are given", "schema": {"type": "string"}}}
    operation: dict[str, Any] = {
        "operationId": (route.method.lower() + route.path.replace("/api", "").replace("/", "_")
                        .replace("{", "").replace("}", "").replace(".", "_")),
        "summary": route.summary, "tags": list(route.tags),
        "responses": {str(route.status): ok, **{str(s): _error(ERRORS[s])
                                               for s in sorted({*route.errors, *ALWAYS,
                                                                *((415,) if route.body else ())})}},
    }
    parameters = _parameters(route, schemas)
    if parameters:
        operation["parameters"] = parameters
    body = route.body
    if body is not None:
        operation["requestBody"] = {"required": route.body_required, "content": {
            "application/json": {"schema": {"$ref": REF.format(model=body.__name__)}}}}
    return operation


@cache
def document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document (built once per process: it depends on the code only)."""
    models: list[tuple[type[BaseModel], str]] = [(rs.Error, "serialization")]
    models += [(r.answer, "serialization") for r in ROUTES if r.answer is not None]
    models += [(m, "validation") for r in ROUTES for m in (r.query, r.body) if m is not None]
    _, top = models_json_schema(list(dict.fromkeys(models)), ref_template=REF)
    schemas = top.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas)
    paths[DOCUMENT_PATH] = {"get": {
        "operationId": "get_openapi_json", "summary": "This document", "tags": ["documentation"], "security": [],
        "responses": {"200": {"description": "The OpenAPI 3.1 document of this API",
                              "content": {"application/json": {"schema": {"type": "object"}}}}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Voix operator API", "version": "1",
                 "description": "Feedback, figures, cases, offers, surveys and erasure. Every route needs the "
                                "operator token, or a viewer token (read-only routes of the dashboard), as "
                                "`Authorization: Bearer <token>`. Errors are `{\"error\": \"...\"}`."},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "The operator token or a viewer token"}}},
    }
