"""The operator API (``/api/*``), one module per resource.

| module | routes |
|---|---|
| ``feedback`` | ``/api/feedback``, ``PATCH /api/feedback/{id}``, ``/api/export.csv``, ``/api/audit/messages/{id}`` |
| ``metrics`` | ``/api/metrics``, ``/api/metrics/quality``, ``/api/scorecards`` |
| ``year`` | ``/api/metrics/year`` (13 months and their weeks) |
| ``cases`` | ``/api/cases``, ``/api/cases/{id}/ack``, ``/api/cases/{id}/resolve`` |
| ``offers`` | ``/api/offers``, ``/api/offers/budget``, ``/api/offers/{code}``, ``/api/offers/{code}/redeem`` |
| ``surveys`` | ``/api/surveys``, ``/api/surveys/{id}`` |
| ``customers`` | ``/api/customers/{number}`` (erasure) |
| ``tokens`` | ``/api/tokens`` |
| ``settings`` | ``/api/config``, ``/api/status`` |
| ``config_api`` | ``/api/config/{section}``, ``/api/config/history``, ``/api/config/rollback`` (live configuration) |
| ``studio`` | ``/api/config/rules/preview``, ``/api/config/rules/explain``, ``/api/config/rules/suggestions`` |

``requests`` and ``responses`` hold the pydantic models of what each route takes and answers;
``openapi`` builds the OpenAPI 3.1 document (``/api/openapi.json``) from them.
"""

from __future__ import annotations

from chalicelib.api.cases import CasesApi
from chalicelib.api.customers import CustomersApi
from chalicelib.api.feedback import FeedbackApi
from chalicelib.api.metrics import MetricsApi
from chalicelib.api.offers import OffersApi
from chalicelib.api.settings import SettingsApi
from chalicelib.api.studio import StudioApi
from chalicelib.api.surveys import SurveysApi
from chalicelib.api.tokens import TokensApi
from chalicelib.api.year import YearApi


class OperatorApi(FeedbackApi, MetricsApi, CasesApi, OffersApi, SurveysApi, CustomersApi, TokensApi, SettingsApi,
                  StudioApi, YearApi):
    """Every operator route's domain side: validates the query or body, reads or acts through the store
    and the case and offer services it is given (``chalicelib.services`` builds them), and answers
    through the response models. ``app.py`` maps each route to one method."""


__all__ = ["OperatorApi"]
