"""``/api/surveys``: sending a survey, its report, and the reports of a site."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from chalicelib.api import responses
from chalicelib.api.base import ApiBase, answer, parse
from chalicelib.api.requests import SiteQuery
from chalicelib.errors import ApiError

SURVEY_ID = re.compile(r"^[0-9A-F]{12}$")


class SurveysApi(ApiBase):
    def _survey_service(self) -> Any:
        """The survey service ``chalicelib.services`` wired in (one per process)."""
        if self._surveys is None:
            raise RuntimeError("no survey service: chalicelib.services wires it into the operator API")
        return self._surveys()

    def create_survey(self, body: dict[str, Any] | None) -> dict[str, Any]:
        from chalicelib.surveys import SurveyRequest

        request = parse(SurveyRequest, body)
        self._site(request.site)
        try:
            created = self._survey_service().create(request)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from exc
        return answer(responses.SurveyCreated,
                      {k: created[k] for k in ("id", "name", "site", "created_at", "queued", "rejected")})

    def survey(self, survey_id: str) -> dict[str, Any]:
        found = self._store.surveys.get_survey(survey_id) if SURVEY_ID.match(survey_id or "") else None
        if found is None:
            raise ApiError(404, "no such survey")
        return answer(responses.SurveyReport, self._survey_service().report(found))

    def site_surveys(self, params: dict[str, Any] | None) -> dict[str, Any]:
        try:
            site = SiteQuery.model_validate(params or {}).site
        except ValidationError as exc:
            raise ApiError(400, "site: a known site is required (and nothing else)") from exc
        if self._config.site(site) is None:
            raise ApiError(400, "site: a known site is required (and nothing else)")
        return answer(responses.SiteSurveys, self._survey_service().site_report(site))
