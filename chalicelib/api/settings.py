"""``/api/config`` and ``/api/status``: what a dashboard needs to label things, and the queues' depth."""

from __future__ import annotations

from typing import Any

from chalicelib import channels
from chalicelib.api import responses
from chalicelib.api.base import ApiBase, answer
from chalicelib.configuration import NATURES, Config


def _deployment_zone(config: Config) -> str:
    """The time zone the whole network reads in: the one most of its sites share (UTC if none)."""
    zones = [s.timezone for s in config.sites]
    return max(sorted(set(zones)), key=zones.count) if zones else "UTC"


class SettingsApi(ApiBase):
    def settings(self) -> dict[str, Any]:
        """What a dashboard needs to label things: sites, topics, natures, channels."""
        return answer(responses.Settings, {
            "deployment": self._config.deployment.name,
            "sites": [{"id": s.id, "name": s.name, "kind": s.kind, "codes": s.codes, "timezone": s.timezone}
                      for s in self._config.sites],
            "timezone": _deployment_zone(self._config),
            "topics": list(self._config.topics), "natures": list(NATURES),
            "channels": {name: channels.get(name).label for name in channels.names()},
        })

    @staticmethod
    def status(queues: dict[str, Any]) -> dict[str, Any]:
        """Queue depths (``Services.queue_status``): anything in the dead-letter queue is an alert that
        could not be delivered."""
        return answer(responses.Status, {"queues": queues})
