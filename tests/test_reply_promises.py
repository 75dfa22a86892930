"""Promises measured by what was done (issue 21): the first-response time of a case (its alerts to the first
staff reply sent) and "customer care will answer you here, by text, within 2 hours" kept only by a reply sent
in time; counted once, in the hour the case opened, on the in-memory fakes."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.api.cases import promise_kept
from chalicelib.cases import CaseService
from chalicelib.clock import iso
from tests.test_conversation_rules import NOON, a_case, world  # noqa: F401  (the fixture)

HOUR = "H#2026-12-01T11"  # the case opened at 11:55 UTC


def counts(world, *fields):  # noqa: F811
    rows = world.store.counters.site_counts("line-8", [HOUR], list(fields))
    return {f: sum(int(r.get(f) or 0) for r in rows.values()) for f in fields}


def question(world, **extra):  # noqa: F811
    world.store.cases.put_case(a_case("CASE0002", nature="question", promise="reply",
                                      promised_at=iso(NOON + timedelta(minutes=115)), **extra))
    world.threads.opened("CASE0002", {**_record(), "id": "twilio-SM9"})


def _record():
    from tests.test_conversation_rules import record

    return record("twilio-SM9", at=NOON - timedelta(minutes=5))


def reply_and_send(world, case_id, text="Hello, the 9:10 runs today", minutes=0):  # noqa: F811
    world.clock.now = NOON + timedelta(minutes=minutes)
    message = world.service.reply(case_id, text, "Sam")
    assert world.service.send(case_id, message.id) == "sent"
    return message


def test_the_first_reply_is_timed_once_from_the_case_opening(world):  # noqa: F811
    reply_and_send(world, "CASE0001", minutes=10)
    reply_and_send(world, "CASE0001", text="And sorry again", minutes=20)  # a second reply: not counted again
    assert counts(world, "first_reply_n", "first_reply_s") == {"first_reply_n": 1, "first_reply_s": 15 * 60}
    assert counts(world, "promise_kept", "promise_missed") == {"promise_kept": 0, "promise_missed": 0}


def test_a_reply_promise_is_kept_by_a_reply_in_time_not_by_an_acknowledgement(world):  # noqa: F811
    question(world)
    cases = CaseService(config=world.config, cases=world.store.cases, counters=world.store.counters, now=world.clock)
    cases.act("CASE0002", "acknowledged", by="Sam")
    assert counts(world, "promise_kept", "ack_n") == {"promise_kept": 0, "ack_n": 1}
    assert promise_kept(world.store.cases.get_case("CASE0002")) is None  # acknowledged: still to be kept
    reply_and_send(world, "CASE0002", minutes=30)
    assert counts(world, "promise_kept", "promise_missed") == {"promise_kept": 1, "promise_missed": 0}
    assert promise_kept(world.store.cases.get_case("CASE0002")) is True


def test_a_late_reply_misses_the_promise_once(world):  # noqa: F811
    question(world)
    reply_and_send(world, "CASE0002", minutes=200)
    reply_and_send(world, "CASE0002", text="Still on it", minutes=210)
    assert counts(world, "promise_kept", "promise_missed") == {"promise_kept": 0, "promise_missed": 1}
    assert promise_kept(world.store.cases.get_case("CASE0002")) is False


def test_a_question_resolved_without_a_reply_missed_its_promise_and_a_later_reply_does_not_count_it_again(
        world):  # noqa: F811
    question(world)
    cases = CaseService(config=world.config, cases=world.store.cases, counters=world.store.counters, now=world.clock)
    cases.act("CASE0002", "resolved", by="Sam")
    assert counts(world, "promise_kept", "promise_missed") == {"promise_kept": 0, "promise_missed": 1}
    assert promise_kept(world.store.cases.get_case("CASE0002")) is False
    reply_and_send(world, "CASE0002", minutes=30)
    assert counts(world, "promise_kept", "promise_missed", "first_reply_n") == {
        "promise_kept": 0, "promise_missed": 1, "first_reply_n": 1}


def test_an_escalated_question_is_missed_once_whatever_follows(world):  # noqa: F811
    question(world)
    cases = CaseService(config=world.config, cases=world.store.cases, counters=world.store.counters, now=world.clock,
                        jobs=world.jobs)
    world.clock.now = NOON + timedelta(minutes=120)
    assert cases.escalate_due() >= 1
    reply_and_send(world, "CASE0002", minutes=125)
    assert counts(world, "promise_kept", "promise_missed") == {"promise_kept": 0, "promise_missed": 1}


def test_the_metrics_give_first_reply_time_and_reopenings(world):  # noqa: F811
    from chalicelib.api import OperatorApi

    reply_and_send(world, "CASE0001", minutes=10)
    api = OperatorApi(config=world.config, store=world.store, cases=world.cases, offers=world.offers,
                      now=lambda: NOON + timedelta(hours=1))
    totals = api.metrics({"site": "line-8", "since": "2026-12-01T00:00:00Z"})["totals"]
    assert totals["replied"] == 1 and totals["average_seconds_to_first_reply"] == 15 * 60
    assert totals["reopened"] == 0
    card = api.scorecards({"site": "line-8", "since": "2026-12-01T00:00:00Z"})["sites"][0]
    assert card["replied"] == 1 and card["average_seconds_to_first_reply"] == 15 * 60


def test_a_reopened_case_is_not_counted_missed_after_being_kept(world):  # noqa: F811
    world.store.cases.put_case(a_case("CASE0003", promised_at=iso(NOON + timedelta(minutes=115))))
    cases = CaseService(config=world.config, cases=world.store.cases, counters=world.store.counters, now=world.clock,
                        jobs=world.jobs)
    cases.act("CASE0003", "acknowledged", by="Sam")  # in time: kept
    world.clock.now = NOON + timedelta(minutes=30)
    cases.act("CASE0003", "resolved", by="Sam")
    world.store.cases.reopen_case("CASE0003", at=iso(NOON), promised_at=iso(NOON + timedelta(minutes=10)))
    assert promise_kept(world.store.cases.get_case("CASE0003")) is None  # open again: the new one is not measured
    world.clock.now = NOON + timedelta(hours=3)
    assert cases.escalate_due() == 1  # the reopened case, past its new deadline, goes up to its manager
    assert counts(world, "promise_kept", "promise_missed") == {"promise_kept": 1, "promise_missed": 0}
