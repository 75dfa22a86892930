"""``GET /api/incidents`` and ``POST /api/incidents/{id}/ack``: emerging issues (``chalicelib.incidents``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.api.base import answer, parse
from chalicelib.api.incident_models import Incident as IncidentModel
from chalicelib.api.incident_models import IncidentAck, IncidentPage, IncidentsQuery
from chalicelib.clock import iso, utcnow
from chalicelib.errors import ApiError, Conflict, NotFound


def _public(incident: dict[str, Any], examples: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
            ) -> dict[str, Any]:
    """The incident as the API shows it (a network incident's site, absent from its item, is null), its examples
    read again by message id (one erased since is left out: ``chalicelib.incident_examples``)."""
    return {"site": None, **{k: v for k, v in incident.items() if k in IncidentModel.model_fields},
            "examples": examples(incident.get("examples") or [])}


class IncidentsApi:
    def __init__(self, *, incidents: Any, examples: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
                 now: Callable[[], datetime] = utcnow):
        self._incidents = incidents
        self._examples = examples
        self._now = now

    def incidents(self, params: dict[str, Any] | None) -> dict[str, Any]:
        query: IncidentsQuery = parse(IncidentsQuery, params)
        items = self._incidents.incidents(query.status, query.limit)
        return answer(IncidentPage, {"items": [_public(i, self._examples) for i in items]})

    def acknowledge(self, incident_id: str, body: dict[str, Any] | None, actor: str = "operator") -> dict[str, Any]:
        data: IncidentAck = parse(IncidentAck, body)
        by = f"{data.by} [{actor}]" if data.by else actor
        try:
            found = self._incidents.set_status(incident_id, allowed_from=["open"], to_status="acknowledged",
                                               at=iso(self._now()), by=by)
        except NotFound as exc:
            raise ApiError(404, "no such incident") from exc
        except Conflict as exc:
            raise ApiError(409, f"the incident is {exc}") from exc
        return answer(IncidentModel, _public(found, self._examples))
