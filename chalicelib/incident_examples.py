"""An incident's examples: the ids of up to three of the messages that raised it, never a copy of them.

The detector stores only message ids (``examples_from``); the API and the alert read the messages again
each time they show them (``example_reader``), so a message erased since (its customer's erasure deletes it)
or expired is left out, and nothing erased comes back through an incident.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.incidents import EXAMPLES
from chalicelib.observability import logger as log

TEXT_SHOWN = 320  # an example's text is cut to this many characters
ASKED = EXAMPLES + 5  # messages asked for: withheld ones (suspect, automatic e-mail) are never examples


def examples_from(messages: Any, config: Any) -> Callable[[str | None, str, str, str], list[dict[str, Any]]]:
    """The ids of up to three of a site's (or the network's) latest messages on a topic in a period, leaving
    out withheld ones (never counted): one query of the drill-down index of that site and topic."""
    from chalicelib.clock import days_between, parse_time

    def examples(site: str | None, topic: str, since: str, until: str) -> list[dict[str, Any]]:
        days = days_between(parse_time(since), parse_time(until))
        try:
            items, _ = messages.feedback(site=site, since=since, until=until, days=days, filters={"topic": topic},
                                         limit=ASKED, cursor=None)
        except Exception as exc:  # an incident without examples rather than none
            log.warning("incident examples not read: %s", exc)
            return []
        return [{"id": i["id"]} for i in items if not i.get("withheld")][:EXAMPLES]

    return examples


def example_reader(messages: Any, config: Any) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    """An incident's examples as the dashboard shows them now (number and forbidden words masked), each read
    again by its id: one erased or expired since (or stored without an id) is left out."""
    from chalicelib.api.feedback import public_message

    words = tuple(config.deployment.forbidden_words)

    def read(examples: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for example in (examples or [])[:EXAMPLES]:
            if not isinstance(example, dict) or not example.get("id"):
                continue
            try:
                found = messages.get_message(str(example["id"]))
            except Exception as exc:  # shown without it rather than not at all
                log.warning("incident example not read: %s", exc)
                continue
            if found is None or found.get("withheld"):
                continue
            shown = public_message(found, words)
            out.append({"received_at": shown["received_at"], "from": shown["from"],
                        "text": str(shown["text"] or "")[:TEXT_SHOWN]})
        return out

    return read
