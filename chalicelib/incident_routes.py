"""Emerging issues' routes (a Chalice blueprint, registered by ``app.py``): wiring only."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.web import actor, json_body, json_errors, services

incident_routes = Blueprint(__name__)


@incident_routes.route("/api/incidents", methods=["GET"])
@json_errors
def list_incidents():
    return services().incidents_api.incidents(incident_routes.current_request.query_params)


@incident_routes.route("/api/incidents/{incident_id}/ack", methods=["POST"])
@json_errors
def acknowledge_incident(incident_id):
    request = incident_routes.current_request
    return services().incidents_api.acknowledge(incident_id, json_body(request), actor=actor(request))
