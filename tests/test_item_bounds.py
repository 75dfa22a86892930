"""No path writes an item that grows without bound (issue 16): each path is driven many times through the
real adapters on moto (the ``aws`` fixture, where the 400 KB limit is enforced on every update by
``infra/moto_speedups.py``), and the stored item is measured as DynamoDB counts it (``infra/item_sizes.py``)
after K and after 4K events: it must not grow, but for a few bytes of counters' digits.

Counters and roll-ups are covered by their own tests (``item_size`` is there for them too).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.clock import iso
from infra.item_sizes import item_size, value_size

TABLE, COUNTERS = "voix-dev", "voix-dev-counters"
DIGITS = 8  # bytes an item may still gain as its revision / tries / used numbers get longer digits
START = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def db(aws):
    """A DynamoDB client on moto patched as the local stack runs it (the ``aws`` fixture applies
    ``infra/moto_speedups.py``: the 400 KB limit on every update, rolled back; transactions that copy only
    the items they name)."""
    import boto3
    from moto.dynamodb.models import DynamoDBBackend

    from infra import moto_speedups

    assert DynamoDBBackend.update_item is not moto_speedups.ORIGINALS["update_item"]  # the limit is checked
    return boto3.client("dynamodb")


def stored(db, key, table=TABLE):
    """The item as DynamoDB holds it (low-level: names and typed values)."""
    from chalicelib.storage.dynamo import to_item

    return db.get_item(TableName=table, Key=to_item(key), ConsistentRead=True)["Item"]


def drive(events, step, measure, checkpoints):
    """Run ``step(n)`` for n = 1..events; the size of ``measure()`` at each checkpoint."""
    sizes = {}
    for n in range(1, events + 1):
        step(n)
        if n in checkpoints:
            sizes[n] = measure()
    return sizes


# -- the helper --------------------------------------------------------------------------------------
def test_item_size_counts_names_and_values_as_dynamodb_does():
    assert item_size({"pk": {"S": "CONSENT#ab"}}) == 2 + 10
    assert value_size({"S": "é"}) == 2  # UTF-8 bytes
    assert value_size({"N": "12345"}) == 4 and value_size({"N": "-0.0100"}) == 3  # significant digits
    assert value_size({"BOOL": True}) == 1 and value_size({"NULL": True}) == 1
    assert value_size({"SS": ["ab", "cde"]}) == 5
    assert value_size({"L": [{"S": "ab"}, {"N": "1"}]}) == 3 + (1 + 2) + (1 + 2)
    assert value_size({"M": {"at": {"S": "t1"}}}) == 3 + 1 + 2 + 2
    with pytest.raises(ValueError):
        value_size({"X": 1})


def test_the_limit_is_the_one_moto_enforces_here(db):
    """The sizes measured here are the ones the limit applies to: an item of ``item_size`` well over 400 KB
    is refused by the table of the tests, one just under it is not."""
    from botocore.exceptions import ClientError

    under = {"pk": {"S": "X#1"}, "sk": {"S": "X"}, "v": {"S": "a" * 399_000}}
    assert item_size(under) < 400_000
    db.put_item(TableName=TABLE, Item=under)
    with pytest.raises(ClientError):
        db.update_item(TableName=TABLE, Key={"pk": {"S": "X#1"}, "sk": {"S": "X"}}, UpdateExpression="SET w = :w",
                       ExpressionAttributeValues={":w": {"S": "b" * 10_000}})


# -- consent -----------------------------------------------------------------------------------------
def test_consent_stays_bounded_over_1000_stop_and_start_and_the_last_opt_out_is_recorded(db):
    """STOP / START skip the flood limit: 1,000 of them with distinct message ids (about 150 KB of history
    as it was kept before; a size that grows shows between the 250th and the 1,000th) leave an item of
    constant size, and the last one, an opt-out, is in force."""
    from chalicelib.storage.customers import HISTORY_KEPT, CustomerStore, consent_key

    store = CustomerStore(db, TABLE, COUNTERS)

    def change(n):
        status = "opted_out" if n % 2 == 0 else "opted_in"
        store.set_consent("cust-a", status, at=iso(START + timedelta(seconds=n)), source="twilio:keyword",
                          message_id=f"twilio-SM{n:032d}", expires_at=2_000_000_000)

    sizes = drive(1000, change, lambda: item_size(stored(db, consent_key("cust-a"))), {250, 1000})
    assert sizes[1000] <= sizes[250] + DIGITS < 8_000, sizes
    consent = store.consent("cust-a")
    assert consent["status"] == "opted_out" and consent["updated_at"] == iso(START + timedelta(seconds=1000))
    assert len(consent["history"]) == HISTORY_KEPT and consent["history"][-1]["message"] == f"twilio-SM{1000:032d}"
    # the first STOP, redelivered after all that, changes nothing
    assert store.set_consent("cust-a", "opted_in", at=iso(START + timedelta(seconds=1)), source="twilio:keyword",
                             message_id=f"twilio-SM{1:032d}", expires_at=2_000_000_000) == "opted_in"
    assert store.consent("cust-a") == consent


# -- survey conversations ----------------------------------------------------------------------------
def test_a_survey_conversation_stays_bounded_over_400_worded_replies(db):
    """400 long replies within a conversation's window (256 KB as they were kept before): the
    conversation keeps the latest, cut short, at a constant size; each is taken in once."""
    from chalicelib.storage.surveys import TEXTS_KEPT, SurveyStore, conversation_key

    store = SurveyStore(db, TABLE, COUNTERS)
    store.put_conversation("cust-a", {"survey_id": "S1", "site": "line-8", "step": 1, "answers": {"0": 9},
                                      "expires_at": iso(START + timedelta(hours=168)), "ttl": 2_000_000_000})

    def reply(n):
        assert store.add_conversation_text("cust-a", f"twilio-SM{n:032d}", f"{n} " + "x" * 600, end=False)

    sizes = drive(400, reply, lambda: item_size(stored(db, conversation_key("cust-a"))), {100, 400})
    assert sizes[400] <= sizes[100] + DIGITS < 16_000, sizes
    assert not store.add_conversation_text("cust-a", f"twilio-SM{1:032d}", "1 again", end=False)  # once
    conversation = store.get_conversation("cust-a")
    assert len(conversation["texts"]) == TEXTS_KEPT and conversation["texts_seen"] == 400
    assert conversation["texts"][-1]["text"].startswith("400 ") and conversation["answers"] == {"0": 9}


# -- cases -------------------------------------------------------------------------------------------
def open_case(store, case_id="C0001"):
    store.put_case({
        "id": case_id, "message_id": "twilio-SM1", "site": "line-8", "status": "open", "urgency": "normal",
        "topic": "comfort", "nature": "complaint", "created_at": iso(START), "promised_at": iso(START),
        "customer_key": "cust-a", "escalation_level": 0, "alert_decision": "allowed", "ttl": 2_000_000_000,
        "recipients": {"r1": {"channel": "sms", "to": "+447700900001", "role": "driver", "status": "pending",
                              "attempts": []}}})


def test_an_alert_retried_300_times_leaves_its_case_the_same_size(db):
    from chalicelib.storage.cases import ATTEMPTS_KEPT, CaseStore, case_key

    store = CaseStore(db, TABLE, COUNTERS)
    open_case(store)

    def retry(n):
        assert store.claim_delivery("C0001", "r1", now=n * 100, until=n * 100 + 60)
        store.record_delivery("C0001", "r1", "retrying", {
            "at": iso(START + timedelta(seconds=n)), "ok": False, "error": "carrier said no " * 18, "try": n})

    sizes = drive(300, retry, lambda: item_size(stored(db, case_key("C0001"))), {150, 300})
    assert sizes[300] <= sizes[150] + DIGITS < 16_000, sizes
    recipient = store.get_case("C0001")["recipients"]["r1"]
    assert recipient["tries"] == 300 and len(recipient["attempts"]) == ATTEMPTS_KEPT


def test_a_case_escalated_run_after_run_stops_growing_at_its_last_level(db):
    """The scheduled escalation, run 200 times past every deadline on one open case: it moves up to the
    last level and no further; its escalation history and recipients stop there."""
    from chalicelib.cases import MAX_LEVEL, CaseService
    from chalicelib.config_loader import get_config
    from chalicelib.storage.cases import CaseStore, case_key
    from chalicelib.storage.counters import CounterStore

    clock = {"now": START}
    cases = CaseStore(db, TABLE, COUNTERS)
    service = CaseService(config=get_config(), cases=cases, counters=CounterStore(db, TABLE, COUNTERS),
                          now=lambda: clock["now"])
    open_case(cases)

    def run(n):
        clock["now"] = START + timedelta(hours=n)
        service.escalate_due()

    sizes = drive(200, run, lambda: item_size(stored(db, case_key("C0001"))), {50, 200})
    assert sizes[200] == sizes[50], sizes
    case = cases.get_case("C0001")
    assert case["escalation_level"] == MAX_LEVEL and len(case["escalations"]) == MAX_LEVEL


# -- quotas and markers ------------------------------------------------------------------------------
def test_quotas_and_markers_keep_a_count_not_a_list(db):
    """A per-sender alert limit taken 400 times and given back 200, a site's offer budget, a survey cap:
    one number each, whatever the traffic."""
    from chalicelib.storage.offers import OfferStore, marker_key, quota_key

    store = OfferStore(db, TABLE, COUNTERS)
    names = ["alerts#cust-a#2026-11-20T10", "site#line-8#2026-11-20", "survey#cust-a#1"]

    def use(n):
        for name in names:
            assert store.take_quota(name, 10**6, 2_000_000_000, customer_key="cust-a")
            if n % 2:
                store.give_back_quota(name)
        store.claim_marker("survey_sent", f"S{n}#cust-a", expires_at=2_000_000_000, customer_key="cust-a")

    sizes = drive(400, use, lambda: [item_size(stored(db, quota_key(name))) for name in names], {100, 400})
    assert all(late <= early + DIGITS < 200 for early, late in zip(sizes[100], sizes[400], strict=True)), sizes
    assert store.quota_used(names[0]) == 200
    assert item_size(stored(db, marker_key("survey_sent", "S400#cust-a"))) < 200


# -- the markers that keep messages once -------------------------------------------------------------
def test_each_message_kept_once_leaves_one_small_marker_of_its_own(db):
    from chalicelib.storage.customers import CONSENT_MARKER, CustomerStore
    from chalicelib.storage.once import marker_key
    from chalicelib.storage.surveys import TEXT_MARKER, SurveyStore

    CustomerStore(db, TABLE, COUNTERS).set_consent("cust-a", "opted_out", at=iso(START), source="twilio:keyword",
                                                   message_id="twilio-SM" + "1" * 32, expires_at=2_000_000_000)
    surveys = SurveyStore(db, TABLE, COUNTERS)
    surveys.put_conversation("cust-a", {"survey_id": "S1", "step": 1, "answers": {}, "ttl": 2_000_000_000})
    surveys.add_conversation_text("cust-a", "twilio-SM" + "2" * 32, "x" * 2000, end=False)
    for key, owner in ((marker_key(CONSENT_MARKER, "twilio-SM" + "1" * 32), "cust-a"),
                       (marker_key(TEXT_MARKER, "twilio-SM" + "2" * 32), "cust-a")):
        item = stored(db, key)
        assert item["customer_key"] == {"S": owner} and item["ttl"] == {"N": "2000000000"}  # erased, then expires
        assert item_size(item) < 200


# -- bounded, and still safe when two writers meet ------------------------------------------------------
class Racing:
    """A DynamoDB client whose first transaction lets ``competitor`` write first (between the read and the
    write of a read-modify-write): the race two concurrent STOP / START or replies would run."""

    def __init__(self, client, competitor):
        self._client, self._competitor = client, competitor

    def __getattr__(self, name):
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs):
        if self._competitor is not None:
            competitor, self._competitor = self._competitor, None
            competitor()
        return self._client.transact_write_items(**kwargs)


def test_two_consent_changes_at_once_are_both_kept_and_the_latest_by_time_wins(db):
    from chalicelib.storage.customers import CustomerStore

    plain = CustomerStore(db, TABLE, COUNTERS)
    plain.set_consent("cust-a", "opted_in", at=iso(START), source="sms", message_id="m0", expires_at=2_000_000_000)

    def start_later():
        assert plain.set_consent("cust-a", "opted_in", at=iso(START + timedelta(seconds=2)), source="sms",
                                 message_id="m2", expires_at=2_000_000_000) == "opted_in"

    racing = CustomerStore(Racing(db, start_later), TABLE, COUNTERS)
    # a STOP sent before that START, its write racing it: it retries, lands in the history, START stays
    assert racing.set_consent("cust-a", "opted_out", at=iso(START + timedelta(seconds=1)), source="sms",
                              message_id="m1", expires_at=2_000_000_000) == "opted_out"
    consent = plain.consent("cust-a")
    assert [e["message"] for e in consent["history"]] == ["m0", "m1", "m2"] and consent["status"] == "opted_in"

    def stop_later():
        plain.set_consent("cust-a", "opted_out", at=iso(START + timedelta(seconds=4)), source="sms",
                          message_id="m4", expires_at=2_000_000_000)

    racing = CustomerStore(Racing(db, stop_later), TABLE, COUNTERS)
    racing.set_consent("cust-a", "opted_in", at=iso(START + timedelta(seconds=3)), source="sms", message_id="m3",
                       expires_at=2_000_000_000)
    consent = plain.consent("cust-a")
    assert [e["message"] for e in consent["history"]] == ["m0", "m1", "m2", "m3", "m4"]
    assert consent["status"] == "opted_out"  # the opt-out, later by its time, is never lost


def test_two_replies_taken_in_at_once_are_both_kept(db):
    from chalicelib.storage.surveys import SurveyStore

    plain = SurveyStore(db, TABLE, COUNTERS)
    plain.put_conversation("cust-a", {"survey_id": "S1", "step": 1, "answers": {}, "ttl": 2_000_000_000})
    racing = SurveyStore(Racing(db, lambda: plain.add_conversation_text("cust-a", "m1", "first", end=False)),
                         TABLE, COUNTERS)
    assert racing.add_conversation_text("cust-a", "m2", "second", end=False)
    conversation = plain.get_conversation("cust-a")
    assert [t["message"] for t in conversation["texts"]] == ["m1", "m2"] and conversation["texts_seen"] == 2
