"""``/api/config/{section}``, ``/api/config/history``, ``/api/config/rollback``: the live configuration, read and
published by operators (issue 22; the rules in :mod:`chalicelib.live_config`). Every change is audited with its
author; a viewer token may not read or change it."""

from __future__ import annotations

from typing import Any

from chalicelib.api import responses
from chalicelib.api.base import ApiBase, answer, parse
from chalicelib.api.requests import ConfigHistoryQuery, ConfigPublish, ConfigRollback
from chalicelib.live_config import ConfigService
from chalicelib.observability import logger as log


class ConfigApi(ApiBase):
    def _config_service(self) -> ConfigService:
        from chalicelib.config_loader import read_raw

        return ConfigService(store=self._store.config, seed=read_raw, now=self._now)

    def config_section(self, section: str) -> dict[str, Any]:
        version, data = self._config_service().section(section)
        return answer(responses.ConfigSection, {"section": section, "version": version, "data": data})

    def publish_config(self, section: str, body: dict[str, Any] | None, actor: str = "operator") -> dict[str, Any]:
        request: ConfigPublish = parse(ConfigPublish, body)
        author = f"{request.by} [{actor}]" if request.by else actor
        published = self._config_service().publish(section, request.data, base_version=request.base_version,
                                                   author=author, comment=request.comment or "")
        log.info("configuration published", extra={"version": published["version"], "section": section,
                                                   "author": author, "changed": published["changed"]})
        return answer(responses.ConfigVersion, published)

    def config_history(self, params: dict[str, Any] | None) -> dict[str, Any]:
        query: ConfigHistoryQuery = parse(ConfigHistoryQuery, params)
        service = self._config_service()
        latest, _ = service.head()
        items = service.history(query.limit, query.before)
        return answer(responses.ConfigHistory, {"latest": latest, "items": items})

    def rollback_config(self, body: dict[str, Any] | None, actor: str = "operator") -> dict[str, Any]:
        request: ConfigRollback = parse(ConfigRollback, body)
        author = f"{request.by} [{actor}]" if request.by else actor
        published = self._config_service().rollback(request.version, author=author, comment=request.comment or "")
        log.info("configuration rolled back", extra={"version": published["version"], "to": request.version,
                                                     "author": author})
        return answer(responses.ConfigVersion, published)
