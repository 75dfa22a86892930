"""``/api/config/rules/preview``, ``/api/config/rules/explain``, ``/api/config/rules/suggestions``: the rules
studio (issue 22; the domain in :mod:`chalicelib.backtest`). Operator only; nothing is stored."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from chalicelib import backtest
from chalicelib.api import responses
from chalicelib.api.base import answer, parse
from chalicelib.api.config_api import ConfigApi
from chalicelib.api.requests import BacktestRequest, ExplainRequest, SuggestionsQuery
from chalicelib.classification import Classifier
from chalicelib.clock import iso
from chalicelib.configuration import Config
from chalicelib.live_config import build
from chalicelib.observability import logger as log


class StudioApi(ConfigApi):
    def _live(self) -> tuple[int, dict[str, dict[str, Any]], Config]:
        """The live version, its sections' data and its configuration; read only (before the first publish, the
        shipped files are version 1, left unstored: the studio stores nothing)."""
        from chalicelib.config_loader import read_raw

        head = self._store.config.head()
        if head is None:
            version, raw = 1, read_raw()
        else:
            version, raw = int(head["version"]), self._store.config.section_data(head["sections"])
        return version, raw, build(raw)

    def preview_rules(self, body: dict[str, Any] | None) -> dict[str, Any]:
        request: BacktestRequest = parse(BacktestRequest, body)
        version, raw, current = self._live()
        draft = build({**raw, "rules": request.data})  # InvalidConfig: 400 naming every field
        until = self._now()
        since = until - timedelta(days=request.days)
        site = self._site(request.site)
        started = time.perf_counter()
        items, complete = backtest.read_messages(self._store.messages, since=since, until=until, site=site)
        read_s = time.perf_counter() - started
        result = backtest.backtest(items, Classifier(current), Classifier(draft), examples=request.examples,
                                   words=tuple(current.deployment.forbidden_words))
        log.info("rules backtested", extra={"version": version, "read": result["read"], "changed": result["changed"],
                                            "complete": complete, "read_s": round(read_s, 3),
                                            "total_s": round(time.perf_counter() - started, 3)})
        return answer(responses.RulesPreview, {
            **result, "version": version, "since": iso(since), "until": iso(until), "site": request.site,
            "complete": complete, "cap": backtest.READ_CAP})

    def explain_rules(self, body: dict[str, Any] | None) -> dict[str, Any]:
        request: ExplainRequest = parse(ExplainRequest, body)
        _, raw, config = self._live()
        if request.data is not None:
            config = build({**raw, "rules": request.data})
        explained = backtest.explain(Classifier(config), config, request.text, request.to)
        return answer(responses.RulesExplanation, {**explained, "draft": request.data is not None})

    def rules_suggestions(self, params: dict[str, Any] | None) -> dict[str, Any]:
        query: SuggestionsQuery = parse(SuggestionsQuery, params)
        _, _, config = self._live()
        until = self._now()
        since = until - timedelta(days=query.days)
        items, complete = backtest.read_messages(self._store.messages, since=since, until=until,
                                                 site=self._site(query.site))
        found = backtest.suggestions(items, Classifier(config), config)
        return answer(responses.RulesSuggestions, {
            "since": iso(since), "until": iso(until), "read": len(items), "complete": complete,
            "corrected": sum(map(backtest.corrected, items)), "items": found})
