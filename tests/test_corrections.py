"""Corrections that teach (issue 22): a manager relabels a message; its counts move once, the machine's labels
are kept, and the corrections measure the classifier (``/api/metrics/quality``).

The rules on the in-memory fakes (``domain``), then the routes on moto through the Chalice test client."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.corrections import Corrections, moves, quality
from chalicelib.errors import ApiError
from tests.conftest import auth, drain, post_sms, twilio_params

HOUR, DAY = "H#2026-11-20T10", "D#2026-11-20"
LABELS = {"topic": ("comfort", "cleanliness", "staff"), "nature": ("complaint", "suggestion"),
          "urgency": ("normal", "high")}


def counted(store, n, *, topic="comfort", nature="complaint", urgency="normal", site="line-8", processed=True):
    """A message stored and counted as the worker does it."""
    at = f"2026-11-20T10:{n:02d}:00.000Z"
    record = {"id": f"twilio-SM{n:04d}", "channel": "twilio", "received_at": at, "hour": at[:13], "day": at[:10],
              "site": site, "topic": topic, "nature": nature, "urgency": urgency, "language": "en",
              "text": f"message {n}", "ttl": 2_000_000_000}
    store.messages.put_message(record)
    if processed:
        store.counters.count_message(site=site, bucket=f"H#{record['hour']}", message_id=record["id"],
                                     fields=[f"nature_{nature}", f"topic_{topic}", f"urgency_{urgency}",
                                             "language_en", f"x_{topic}_{nature}_{urgency}"], expires_at=0)
        store.messages.mark_processed(record["id"], "2026-11-20T10:59:00.000Z", None)
    return record["id"]


def fields_of(store, site, bucket, fields):
    return store.counters.site_counts(site, [bucket], fields).get(bucket, {})


@pytest.fixture
def corrections(domain):
    return Corrections(config=domain.config, messages=domain.store.messages,
                       now=lambda: datetime.fromisoformat("2026-11-21T09:00:00+00:00"))


WATCHED = ["n", "topic_comfort", "topic_cleanliness", "nature_complaint", "urgency_normal",
           "x_comfort_complaint_normal", "x_cleanliness_complaint_normal", "q_n", "q_topic_comfort_cleanliness",
           "q_topic_comfort_comfort", "q_nature_complaint_complaint", "q_urgency_normal_normal"]


def test_a_correction_moves_the_counts_once_in_the_messages_own_hour_and_day(domain, corrections):
    message_id = counted(domain.store, 1)
    done = corrections.correct(message_id, {"topic": "cleanliness"}, by="Sam [operator]", note="a dirty seat")
    assert done["topic"] == "cleanliness" and done["nature"] == "complaint" and done["corrections"] == 1
    assert done["machine"] == {"topic": "comfort", "nature": "complaint", "urgency": "normal"}
    assert done["corrected_by"] == "Sam [operator]" and done["corrected_at"].startswith("2026-11-21T09:00")
    assert done["correction_note"] == "a dirty seat"
    expected = {"n": 1, "topic_comfort": 0, "topic_cleanliness": 1, "nature_complaint": 1, "urgency_normal": 1,
                "x_comfort_complaint_normal": 0, "x_cleanliness_complaint_normal": 1, "q_n": 1,
                "q_topic_comfort_cleanliness": 1, "q_nature_complaint_complaint": 1, "q_urgency_normal_normal": 1}
    for bucket in (HOUR, DAY):
        assert fields_of(domain.store, "line-8", bucket, WATCHED) == expected
        assert domain.store.counters.network_counts([bucket], WATCHED)[bucket] == expected
    # the same correction again (a retried or duplicated PATCH) changes nothing
    with pytest.raises(ApiError) as again:
        corrections.correct(message_id, {"topic": "cleanliness"}, by="Sam [operator]")
    assert again.value.status == 409 and "nothing to change" in again.value.message
    assert fields_of(domain.store, "line-8", HOUR, WATCHED) == expected


def test_a_second_correction_keeps_the_machines_labels_and_moves_the_tally_not_the_corrected_count(
        domain, corrections):
    message_id = counted(domain.store, 2)
    corrections.correct(message_id, {"topic": "cleanliness"}, by="Sam")
    done = corrections.correct(message_id, {"topic": "comfort", "urgency": "high"}, by="Lou")
    assert done["machine"] == {"topic": "comfort", "nature": "complaint", "urgency": "normal"}
    assert done["corrections"] == 2 and done["corrected_by"] == "Lou" and "correction_note" not in done
    counts = fields_of(domain.store, "line-8", DAY, WATCHED + ["urgency_high", "x_comfort_complaint_high",
                                                              "q_urgency_normal_high"])
    assert counts == {"n": 1, "topic_comfort": 1, "topic_cleanliness": 0, "nature_complaint": 1,
                      "urgency_normal": 0, "urgency_high": 1, "x_comfort_complaint_normal": 0,
                      "x_cleanliness_complaint_normal": 0, "x_comfort_complaint_high": 1, "q_n": 1,
                      "q_topic_comfort_cleanliness": 0, "q_topic_comfort_comfort": 1,
                      "q_nature_complaint_complaint": 1, "q_urgency_normal_normal": 0, "q_urgency_normal_high": 1}


def test_a_stale_correction_is_refused_and_moves_nothing(domain, corrections):
    """Two managers correcting at once: the second, made on the message as it was, is refused whole."""
    message_id = counted(domain.store, 3)
    before = domain.store.messages.get_message(message_id)
    corrections.correct(message_id, {"nature": "suggestion"}, by="Sam")
    after = fields_of(domain.store, "line-8", HOUR, WATCHED)
    labels = {"topic": "staff", "nature": "complaint", "urgency": "normal"}
    assert domain.store.messages.relabel_message(before, labels=labels, by="Lou", at="x", note=None,
                                                 counts={"topic_staff": 1}) is False
    assert fields_of(domain.store, "line-8", HOUR, WATCHED) == after
    assert domain.store.messages.get_message(message_id)["nature"] == "suggestion"


def test_a_correction_that_loses_a_race_is_a_409_and_moves_nothing_of_its_own(domain, corrections, monkeypatch):
    message_id = counted(domain.store, 6)
    original = domain.store.messages.relabel_message

    def racing(message, **kwargs):  # another manager's correction lands between the read and the write
        original(message, labels={"topic": "staff", "nature": "complaint", "urgency": "normal"}, by="Lou",
                 at="2026-11-21T08:59:00.000Z", note=None, counts={"topic_comfort": -1, "topic_staff": 1})
        return original(message, **kwargs)

    monkeypatch.setattr(domain.store.messages, "relabel_message", racing)
    with pytest.raises(ApiError) as lost:
        corrections.correct(message_id, {"topic": "cleanliness"}, by="Sam")
    assert lost.value.status == 409 and "changed meanwhile" in lost.value.message
    assert domain.store.messages.get_message(message_id)["topic"] == "staff"
    assert fields_of(domain.store, "line-8", HOUR, ["topic_cleanliness", "topic_staff"]) == {"topic_staff": 1}


@pytest.mark.parametrize("changes,status,words", [
    ({"topic": "weather"}, 400, "unknown topic"),
    ({"nature": "praise"}, 400, "unknown nature"),
    ({"topic": "comfort", "nature": "complaint"}, 409, "nothing to change"),
])
def test_refusals_say_why(domain, corrections, changes, status, words):
    message_id = counted(domain.store, 4)
    with pytest.raises(ApiError) as refused:
        corrections.correct(message_id, changes, by="Sam")
    assert refused.value.status == status and words in refused.value.message


def test_an_unknown_or_uncounted_message_is_refused(domain, corrections):
    with pytest.raises(ApiError) as unknown:
        corrections.correct("twilio-SM9999", {"topic": "staff"}, by="Sam")
    assert unknown.value.status == 404
    pending = counted(domain.store, 5, processed=False)
    with pytest.raises(ApiError) as early:
        corrections.correct(pending, {"topic": "staff"}, by="Sam")
    assert early.value.status == 409 and early.value.message == "not counted yet, retry in a moment"
    assert "corrections" not in domain.store.messages.get_message(pending)


def test_the_moves_of_a_first_and_a_later_correction():
    machine = {"topic": "comfort", "nature": "complaint", "urgency": "normal"}
    first = moves(machine, machine, {**machine, "nature": "suggestion"}, first=True)
    assert first == {"q_n": 1, "nature_complaint": -1, "nature_suggestion": 1, "x_comfort_complaint_normal": -1,
                     "x_comfort_suggestion_normal": 1, "q_topic_comfort_comfort": 1,
                     "q_nature_complaint_suggestion": 1, "q_urgency_normal_normal": 1}
    later = moves(machine, {**machine, "nature": "suggestion"}, machine, first=False)
    assert later == {"nature_suggestion": -1, "nature_complaint": 1, "x_comfort_suggestion_normal": -1,
                     "x_comfort_complaint_normal": 1, "q_nature_complaint_suggestion": -1,
                     "q_nature_complaint_complaint": 1}


def test_quality_on_a_small_known_set():
    """Three corrected messages: comfort->cleanliness, comfort kept (nature changed), staff->comfort."""
    rows = [{"q_n": 2, "q_topic_comfort_cleanliness": 1, "q_topic_comfort_comfort": 1,
             "q_nature_complaint_complaint": 1, "q_nature_complaint_suggestion": 1, "q_urgency_normal_normal": 2},
            {"q_n": 1, "q_topic_staff_comfort": 1, "q_nature_complaint_complaint": 1, "q_urgency_normal_high": 1,
             "q_topic_staff_staff": 0}]
    figures = quality(rows, LABELS)
    assert figures["corrected"] == 3
    topic = figures["topic"]
    assert topic["confusion"] == {"comfort": {"cleanliness": 1, "comfort": 1}, "staff": {"comfort": 1}}
    assert topic["labels"]["comfort"] == {"predicted": 2, "actual": 2, "precision": 0.5, "recall": 0.5}
    assert topic["labels"]["cleanliness"] == {"predicted": 0, "actual": 1, "precision": None, "recall": 0.0}
    assert topic["labels"]["staff"] == {"predicted": 1, "actual": 0, "precision": 0.0, "recall": None}
    nature = figures["nature"]["labels"]
    assert nature["complaint"] == {"predicted": 3, "actual": 2, "precision": 0.667, "recall": 1.0}
    assert nature["suggestion"] == {"predicted": 0, "actual": 1, "precision": None, "recall": 0.0}
    assert figures["urgency"]["labels"]["high"] == {"predicted": 0, "actual": 1, "precision": None, "recall": 0.0}
    assert quality([], LABELS)["topic"]["labels"]["comfort"]["precision"] is None


# -- the routes, on moto through the Chalice test client -------------------------------------------------
def SINCE():  # noqa: N802  (a constant, computed when asked: two days before now)
    return (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:00:00Z")


def _patch(client, message_id, body, headers=None):
    return client.http.request("PATCH", f"/api/feedback/{message_id}",
                               headers={**(headers or auth()), "Content-Type": "application/json"},
                               body=json.dumps(body))


def _metrics(client, **query):
    path = f"/api/metrics?bucket=day&site=line-8&since={SINCE()}" + "".join(
        f"&{k}={v}" for k, v in query.items())
    return client.http.get(path, headers=auth()).json_body["totals"]


@pytest.fixture
def one_message(client):
    post_sms(client, twilio_params(body="L8 it's far too hot on this bus", sid="SM" + "c1" * 16))
    drain()
    item = client.http.get("/api/feedback?site=line-8", headers=auth()).json_body["items"][0]
    assert item["processed"] and item["topic"] == "comfort" and item.get("corrected") is False
    return item


def test_over_the_api_a_correction_moves_the_counts_once_and_the_drill_down_finds_it(client, one_message):
    message_id, old = one_message["id"], one_message["topic"]
    before = _metrics(client)
    assert before["topic"][old] == 1 and before["topic"]["cleanliness"] == 0
    done = _patch(client, message_id, {"topic": "cleanliness", "by": "Sam", "note": "seat was dirty"})
    assert done.status_code == 200, done.body
    assert done.json_body["topic"] == "cleanliness" and done.json_body["corrected"] is True
    assert done.json_body["machine"]["topic"] == old and done.json_body["corrected_by"] == "Sam [operator]"
    for _ in range(2):  # a retried PATCH: nothing more moves
        assert _patch(client, message_id, {"topic": "cleanliness", "by": "Sam"}).status_code == 409
    after = _metrics(client)
    assert after["messages"] == before["messages"] and after["topic"][old] == 0 and after["topic"]["cleanliness"] == 1
    assert _metrics(client, topic="cleanliness", nature=one_message["nature"])["messages"] == 1
    assert _metrics(client, topic=old)["messages"] == 0
    hourly = client.http.get(f"/api/metrics?since={SINCE()}&bucket=day", headers=auth()).json_body
    assert hourly["totals"]["topic"]["cleanliness"] == 1 and hourly["totals"]["topic"][old] == 0  # the network too
    listed = client.http.get("/api/feedback?site=line-8&topic=cleanliness", headers=auth()).json_body["items"]
    assert [i["id"] for i in listed] == [message_id] and listed[0]["corrected"] is True
    assert client.http.get(f"/api/feedback?site=line-8&topic={old}", headers=auth()).json_body["items"] == []
    assert client.http.get("/api/feedback?topic=cleanliness", headers=auth()).json_body["items"][0]["id"] == message_id
    csv = client.http.get("/api/export.csv?site=line-8", headers=auth()).body.decode()
    assert ",cleanliness," in csv and f",{old}," not in csv

    figures = client.http.get("/api/metrics/quality?site=line-8", headers=auth()).json_body
    assert figures["corrected"] == 1
    assert figures["topic"]["confusion"] == {old: {"cleanliness": 1}}
    assert figures["topic"]["labels"][old] == {"predicted": 1, "actual": 0, "precision": 0.0, "recall": None}
    nature = one_message["nature"]
    assert figures["nature"]["confusion"] == {nature: {nature: 1}}
    network = client.http.get("/api/metrics/quality", headers=auth()).json_body
    assert network["corrected"] == 1 and network["site"] is None


def test_over_the_api_refusals(client, one_message):
    message_id = one_message["id"]
    assert _patch(client, message_id, {}).status_code == 400
    assert _patch(client, message_id, {"topic": "weather"}).status_code == 400
    assert _patch(client, message_id, {"urgency": "medium"}).status_code == 400
    assert _patch(client, message_id, {"topic": "staff", "extra": 1}).status_code == 400
    assert _patch(client, "twilio-SMnothing", {"topic": "staff"}).status_code == 404
    assert _patch(client, "not an id", {"topic": "staff"}).status_code == 404
    assert _patch(client, message_id, {"topic": one_message["topic"]}).status_code == 409
    too_long = client.http.get("/api/metrics/quality?since=2026-01-01T00:00:00Z&until=2026-03-01T00:00:00Z",
                               headers=auth())
    assert too_long.status_code == 400 and "31 days" in too_long.json_body["error"]
    assert client.http.get("/api/metrics/quality?site=nowhere", headers=auth()).status_code == 400
