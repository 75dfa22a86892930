"""The operator's administration routes (a Chalice blueprint, registered by ``app.py``): the live configuration,
the rules studio, corrections of a message's labels and the quality figures they give (issue 22). Wiring only:
each route calls one method of the operator API (``chalicelib.api``)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.web import actor, json_body, json_errors, services

admin = Blueprint(__name__)


@admin.route("/api/config/history", methods=["GET"])
@json_errors
def config_history():
    return services().api.config_history(admin.current_request.query_params)


@admin.route("/api/config/rollback", methods=["POST"])
@json_errors
def config_rollback():
    return services().api.rollback_config(json_body(admin.current_request), actor=actor(admin.current_request))


@admin.route("/api/config/rules/preview", methods=["POST"])
@json_errors
def preview_rules():
    return services().api.preview_rules(json_body(admin.current_request))


@admin.route("/api/config/rules/explain", methods=["POST"])
@json_errors
def explain_rules():
    return services().api.explain_rules(json_body(admin.current_request))


@admin.route("/api/config/rules/suggestions", methods=["GET"])
@json_errors
def rules_suggestions():
    return services().api.rules_suggestions(admin.current_request.query_params)


@admin.route("/api/config/{section}", methods=["GET"])
@json_errors
def config_section(section):
    if section == "history":  # a router that tried the variable route first
        return services().api.config_history(admin.current_request.query_params)
    return services().api.config_section(section)


@admin.route("/api/config/{section}", methods=["PUT"])
@json_errors
def publish_config(section):
    return services().api.publish_config(section, json_body(admin.current_request), actor=actor(admin.current_request))


@admin.route("/api/feedback/{message_id}", methods=["PATCH"])
@json_errors
def correct_message(message_id):
    return services().api.correct_message(message_id, json_body(admin.current_request),
                                          actor=actor(admin.current_request))


@admin.route("/api/metrics/quality", methods=["GET"])
@json_errors
def quality():
    return services().api.quality(admin.current_request.query_params)
