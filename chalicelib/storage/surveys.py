"""Surveys (``SURVEY#<id>``, listed per site on ``gsi1``: ``SURVEYS#<site>``; its recipients'
numbers ``SURVEYTO#<id>`` / ``<customer key>``) and each customer's open
survey conversation (``SURVEYCUST#<customer key>`` / ``ACTIVE``, with a ``SURVEYTEXT#<message id>``
marker per worded reply it took in)."""

from __future__ import annotations

import itertools
from typing import Any

from chalicelib.storage.dynamo import ENDED, from_item, plain_numbers, to_item
from chalicelib.storage.once import SEEN, WRITTEN, Once, revision_condition

TEXT_MARKER = "SURVEYTEXT"
TEXTS_KEPT = 20  # worded replies kept with a conversation, the latest
TEXT_CHARS = 500  # of each, as kept there


def survey_key(survey_id: str) -> dict[str, str]:
    return {"pk": f"SURVEY#{survey_id}", "sk": "SURVEY"}


def recipient_key(survey_id: str, customer: str) -> dict[str, str]:
    return {"pk": f"SURVEYTO#{survey_id}", "sk": customer}


def conversation_key(customer: str) -> dict[str, str]:
    return {"pk": f"SURVEYCUST#{customer}", "sk": "ACTIVE"}


class SurveyStore(Once):
    """Surveys with their statistics, and the one conversation a customer may have open."""

    def put_survey(self, survey: dict[str, Any]) -> None:
        item = {**survey_key(survey["id"]), "type": "survey", "stats": {},
                "gsi1pk": f"SURVEYS#{survey['site']}", "gsi1sk": f"{survey['created_at']}#{survey['id']}", **survey}
        self._call("put_item", Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")

    def get_survey(self, survey_id: str) -> dict[str, Any] | None:
        return self._get(survey_key(survey_id))

    def surveys_of_site(self, site: str, limit: int = 1000) -> list[dict[str, Any]]:
        """A site's surveys, newest first, page by page (its scores are over all of them)."""
        items = self._query_pages(IndexName="gsi1", KeyConditionExpression="gsi1pk = :pk", ScanIndexForward=False,
                                  ExpressionAttributeValues=to_item({":pk": f"SURVEYS#{site}"}))
        return [plain_numbers(from_item(i)) for i in itertools.islice(items, limit)]

    def survey_add(self, survey_id: str, counts: dict[str, int]) -> None:
        """Add to a survey's statistics (``stats`` map: sent, q0_n, q0_v9, follow_ups...)."""
        names = {"#s": "stats", **{f"#k{i}": k for i, k in enumerate(counts)}}
        values = {":zero": 0, **{f":v{i}": v for i, v in enumerate(counts.values())}}
        sets = [f"#s.#k{i} = if_not_exists(#s.#k{i}, :zero) + :v{i}" for i in range(len(counts))]
        self._call("update_item", Key=to_item(survey_key(survey_id)),
                   UpdateExpression="SET " + ", ".join(sets), ConditionExpression="attribute_exists(pk)",
                   ExpressionAttributeNames=names, ExpressionAttributeValues=to_item(values))

    def put_recipients(self, survey_id: str, numbers: dict[str, str], *, expires_at: int) -> None:
        """A survey's recipients (customer key -> full number), one item each under the customer's key, so
        the send jobs name a key, never a number, and an erasure deletes the number with the customer; each is
        deleted once its send is done (sent or skipped), and expires at ``expires_at`` otherwise."""
        self._batch_write([{"PutRequest": {"Item": to_item({**recipient_key(survey_id, key), "customer_key": key,
                                                             "number": number, "ttl": expires_at})}}
                           for key, number in numbers.items()])

    def recipient_number(self, survey_id: str, customer: str) -> str | None:
        """The number a survey is to be sent to, or None once the customer was erased (or it expired)."""
        item = self._get(recipient_key(survey_id, customer))
        return item.get("number") if item else None

    def forget_recipient(self, survey_id: str, customer: str) -> None:
        """The survey was sent to this customer, or will not be: the number goes."""
        self._call("delete_item", Key=to_item(recipient_key(survey_id, customer)))

    def put_conversation(self, customer: str, conversation: dict[str, Any]) -> None:
        """A customer's open survey conversation (one at a time: a newer survey replaces it)."""
        self._call("put_item", Item=to_item({**conversation_key(customer), "customer_key": customer, **conversation}))

    def get_conversation(self, customer: str) -> dict[str, Any] | None:
        return self._get(conversation_key(customer))

    def advance_conversation(self, customer: str, *, step: int, value: int, detractor: bool, ended: bool,
                             follow_up_at: str | None = None, message_id: str | None = None) -> bool:
        """Record the answer to question ``step`` once (False if it was answered already).

        ``answered`` (a string set of ``"<step>:<message id>"``) keeps which message answered
        which step, so that the same message delivered again is recognised rather than taken
        for the answer to the next question.
        """
        sets = ["answers.#step = :value", "step = :next", "detractor = :detractor"]
        values: dict[str, Any] = {":value": value, ":next": step + 1, ":detractor": detractor, ":step": step}
        add = ""
        if message_id:
            add = " ADD answered :answered"
            values[":answered"] = {f"{step}:{message_id}"}
        if follow_up_at:
            sets.append("follow_up_at = :follow")
            values[":follow"] = follow_up_at
        if ended:
            sets.append("expires_at = :now")
            values[":now"] = ENDED
        return self._if("update_item", Key=to_item(conversation_key(customer)),
                        UpdateExpression="SET " + ", ".join(sets) + add, ConditionExpression="step = :step",
                        ExpressionAttributeNames={"#step": str(step)}, ExpressionAttributeValues=to_item(values))

    def add_conversation_text(self, customer: str, message_id: str, text: str, *, end: bool) -> bool:
        """Keep a customer's worded reply with their conversation, once per message (False if it was
        kept before, or there is no conversation).

        The conversation keeps the last :data:`TEXTS_KEPT` texts, each cut to :data:`TEXT_CHARS`
        characters (the message itself is stored in full), and ``texts_seen``, how many it took in;
        a ``SURVEYTEXT#<message id>`` marker written in the same transaction keeps it once per
        message on its own, so a retried job never adds a text twice.
        """
        def attempt() -> tuple[str, bool]:
            item = self._get(conversation_key(customer), plain=False)
            if item is None:  # no conversation: nothing to keep
                return SEEN, False
            if message_id in (item.get("text_ids") or ()):  # kept before markers were
                return SEEN, False
            texts = [*item.get("texts", []), {"message": message_id, "text": text[:TEXT_CHARS]}][-TEXTS_KEPT:]
            guard = revision_condition(item, "texts_seen")  # and still this survey's conversation
            guard["ConditionExpression"] += " AND survey_id = :survey"
            update = "SET texts = :texts, texts_seen = :seen"
            values = {":texts": texts, ":seen": int(item.get("texts_seen", 0)) + 1, ":survey": item["survey_id"]}
            if end:
                update += ", expires_at = :ended"
                values[":ended"] = ENDED
            change = {"Update": {"Key": to_item(conversation_key(customer)), "UpdateExpression": update, **guard,
                                 "ExpressionAttributeValues": {**guard.get("ExpressionAttributeValues", {}),
                                                               **to_item(values)}}}
            outcome = self._take_once(TEXT_MARKER, message_id, customer_key=customer,
                                      expires_at=item.get("ttl"), change=change)
            return outcome, outcome == WRITTEN

        return self._retry(attempt)

    def end_conversation(self, customer: str) -> None:
        """Close a customer's survey conversation, if any (they opted out)."""
        self._if("update_item", Key=to_item(conversation_key(customer)),
                 UpdateExpression="SET expires_at = :ended", ConditionExpression="attribute_exists(pk)",
                 ExpressionAttributeValues=to_item({":ended": ENDED}))
