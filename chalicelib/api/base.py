"""What every operator API resource shares: the services it is given, query parsing and the site check."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from chalicelib.cases import CaseService
from chalicelib.clock import utcnow
from chalicelib.configuration import Config
from chalicelib.errors import ApiError
from chalicelib.offers import OfferService
from chalicelib.ports import NO_SITE, Stores

Out = TypeVar("Out", bound=BaseModel)


def validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "request"
    if first["type"] == "extra_forbidden":
        return f"unknown parameter {where!r}"
    return f"{where}: {first['msg']}"


def parse(model: type[BaseModel], data: dict[str, Any] | None) -> Any:
    """A query or body as its request model; a 400 naming the first problem otherwise."""
    try:
        return model.model_validate(data or {})
    except ValidationError as exc:
        raise ApiError(400, validation_message(exc)) from exc


def answer(model: type[Out], data: dict[str, Any]) -> dict[str, Any]:
    """A response body built through its model (``chalicelib.api.responses``), so the answer and the
    OpenAPI document cannot drift apart: a missing, extra or mistyped field fails here, not in a client.
    Keys the model marks optional appear only when the answer gives them."""
    return model.model_validate(data).model_dump(mode="json", by_alias=True, exclude_unset=True)


class ApiBase:
    """The configuration, the store and the domain services an operator API resource works with.

    The services come from ``chalicelib.services`` (built once there, never here). The survey service comes
    as a getter, built on the first survey route: building it reads the customer-key secret and makes the
    outbound sender's client, which no other route needs."""

    def __init__(self, *, config: Config, store: Stores, cases: CaseService, offers: OfferService,
                 surveys: Callable[[], Any] | None = None, now: Callable[[], datetime] = utcnow,
                 replies: Callable[[], Any] | None = None):
        self._config = config
        self._store = store
        self._cases = cases
        self._offers = offers
        self._surveys = surveys
        self._replies = replies  # the conversation service, built on the first reply (it reads the key secret)
        self._now = now
        self._words = tuple(config.deployment.forbidden_words)

    def _site(self, site: str | None) -> str | None:
        if site is None:
            return None
        if site in ("unknown", NO_SITE):
            return NO_SITE
        if self._config.site(site) is None:
            raise ApiError(400, f"unknown site {site!r}")
        return site
