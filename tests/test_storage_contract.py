"""The storage contract: the same assertions against the in-memory fakes (``tests/fakes.py``) and the
DynamoDB adapters (``chalicelib/storage/``, on moto with the real template). What the domain relies on
(stored once, counted once, conditional changes, quotas never over, cursors) holds for both, so the
domain tests that run on the fakes prove what they would prove on DynamoDB."""

from __future__ import annotations

import pytest

from chalicelib.errors import BadCursor, Conflict, NotFound
from chalicelib.ports import NO_SITE
from chalicelib.storage.cases import ATTEMPTS_KEPT
from chalicelib.storage.customers import HISTORY_KEPT
from chalicelib.storage.surveys import TEXT_CHARS, TEXTS_KEPT
from tests.fakes import fake_stores


@pytest.fixture(params=["fake", "dynamodb"])
def stores(request):
    if request.param == "fake":
        return fake_stores()
    import boto3

    from chalicelib.storage import dynamo_stores

    request.getfixturevalue("aws")
    return dynamo_stores(boto3.client("dynamodb"), "voix-dev", "voix-dev-counters")


def message(n, *, day="2026-11-20", hour=10, site="line-8", topic="comfort", nature="complaint", urgency="normal",
            customer="cust-a"):
    at = f"{day}T{hour:02d}:{n % 60:02d}:00.000Z"
    return {"id": f"twilio-SM{n:04d}", "channel": "twilio", "received_at": at, "hour": at[:13], "day": day,
            "site": site, "topic": topic, "nature": nature, "urgency": urgency, "language": "en",
            "text": f"message {n}", "reply": "thanks", "from_number": "+447700900123", "from_masked": "+44 77•• •••123",
            "customer_key": customer, "ttl": 2_000_000_000}


def case(n, *, status="open", created="2026-11-20T10:00:00.000Z", customer="cust-a", **extra):
    return {"id": f"C{n:04d}", "message_id": f"twilio-SM{n:04d}", "site": "line-8", "status": status,
            "created_at": created[:-5] + f"{n % 1000:03d}Z", "customer_key": customer, "escalation_level": 0,
            "recipients": {"r1": {"channel": "sms", "to": "+447700900001", "status": "pending", "attempts": []}},
            "ttl": 2_000_000_000, **extra}


def pick(item, *fields):
    return {f: item.get(f) for f in fields}


# -- messages --------------------------------------------------------------------------------------
def test_a_message_is_stored_once_and_a_duplicate_gets_the_stored_one_back(stores):
    assert stores.messages.put_message(message(1)) is None
    again = stores.messages.put_message({**message(1), "text": "a retry with other words"})
    assert again["text"] == "message 1" and again["id"] == "twilio-SM0001"
    assert stores.messages.get_message("twilio-SM0001")["text"] == "message 1"
    assert stores.messages.get_message("twilio-SM9999") is None


def test_a_message_is_pending_until_processed_and_then_forgets_the_number(stores):
    for n in (1, 2):
        stores.messages.put_message(message(n))
    assert [m["id"] for m in stores.messages.pending_messages("2026-11-21")] == ["twilio-SM0001", "twilio-SM0002"]
    assert stores.messages.pending_messages("2026-11-20T10:01:30") == [
        stores.messages.get_message("twilio-SM0001")]
    stores.messages.mark_processed("twilio-SM0001", "2026-11-20T10:05:00.000Z", "C0001")
    processed = stores.messages.get_message("twilio-SM0001")
    assert processed["case_id"] == "C0001" and "from_number" not in processed
    assert [m["id"] for m in stores.messages.pending_messages("2026-11-21")] == ["twilio-SM0002"]
    with pytest.raises(NotFound):
        stores.messages.mark_processed("twilio-SM9999", "2026-11-20T10:05:00.000Z", None)


def test_the_reply_status_of_a_message_is_kept(stores):
    stores.messages.put_message(message(1))
    stores.messages.set_reply_status("twilio-SM0001", "sent")
    assert stores.messages.get_message("twilio-SM0001")["reply_status"] == "sent"


def test_one_delivery_claims_a_reply_at_a_time_and_a_dead_ones_claim_is_taken_over(stores):
    stores.messages.put_message({**message(1), "reply_status": "pending"})
    assert stores.messages.claim_reply("twilio-SM0001", at="T10:00:00", stale_before="T09:59:30")
    assert not stores.messages.claim_reply("twilio-SM0001", at="T10:00:05", stale_before="T09:59:35")  # held
    assert stores.messages.claim_reply("twilio-SM0001", at="T10:00:31", stale_before="T10:00:01")  # the claim is stale
    stores.messages.set_reply_status("twilio-SM0001", "sent")
    assert not stores.messages.claim_reply("twilio-SM0001", at="T11:00:00", stale_before="T10:59:30")  # sent


def test_feedback_pages_through_every_matching_message_once_newest_first(stores):
    for n in range(1, 6):
        stores.messages.put_message(message(n, day="2026-11-19" if n < 3 else "2026-11-20"))
    stores.messages.put_message(message(6, site="store-leeds"))
    stores.messages.put_message(message(7, site=None, nature="compliment"))
    period = {"since": "2026-11-19T00:00:00.000Z", "until": "2026-11-20T23:59:59.999Z",
              "days": ["2026-11-20", "2026-11-19"]}
    seen, cursor = [], None
    for _ in range(10):
        page, cursor = stores.messages.feedback(site="line-8", filters={}, limit=2, cursor=cursor, **period)
        assert len(page) <= 2
        seen += [m["id"] for m in page]
        if cursor is None:
            break
    assert seen == [f"twilio-SM{n:04d}" for n in (5, 4, 3, 2, 1)]
    everything, _ = stores.messages.feedback(site=None, filters={}, limit=50, cursor=None, **period)
    assert len(everything) == 7
    unsited, _ = stores.messages.feedback(site=NO_SITE, filters={"nature": "compliment"}, limit=50, cursor=None,
                                          **period)
    assert [m["id"] for m in unsited] == ["twilio-SM0007"]
    urgent, _ = stores.messages.feedback(site=None, filters={"urgency": "urgent"}, limit=50, cursor=None, **period)
    assert urgent == []


def test_feedback_by_channel_pages_through_a_rare_channel_once_whatever_the_other_filters(stores):
    for n in range(1, 13):  # one message in four by End User Messaging, the rest by Twilio
        record = message(n, nature="compliment" if n % 2 else "complaint")
        if n % 4 == 0:
            record = {**record, "id": f"eum-M{n:04d}", "channel": "eum"}
        stores.messages.put_message(record)
    period = {"since": "2026-11-20T00:00:00.000Z", "until": "2026-11-20T23:59:59.999Z", "days": ["2026-11-20"]}
    for site, filters, expected in ((None, {"channel": "eum"}, ["eum-M0012", "eum-M0008", "eum-M0004"]),
                                    ("line-8", {"channel": "eum", "nature": "complaint"}, ["eum-M0012", "eum-M0008",
                                                                                          "eum-M0004"]),
                                    ("line-8", {"channel": "eum", "nature": "compliment"}, []),
                                    (None, {"channel": "twilio", "urgency": "normal"}, [
                                        f"twilio-SM{n:04d}" for n in range(11, 0, -1) if n % 4])):
        seen, cursor = [], None
        for _ in range(20):
            page, cursor = stores.messages.feedback(site=site, filters=filters, limit=2, cursor=cursor, **period)
            assert len(page) <= 2
            seen += [m["id"] for m in page]
            if cursor is None:
                break
        assert seen == expected, filters


def test_feedback_refuses_a_cursor_it_did_not_write_or_of_another_query(stores):
    for n in range(1, 4):
        stores.messages.put_message(message(n))
    period = {"since": "2026-11-20T00:00:00.000Z", "until": "2026-11-20T23:59:59.999Z", "days": ["2026-11-20"]}
    page, cursor = stores.messages.feedback(site="line-8", filters={}, limit=1, cursor=None, **period)
    assert len(page) == 1 and cursor
    with pytest.raises(BadCursor):
        stores.messages.feedback(site="line-8", filters={}, limit=1, cursor="not-a-cursor!", **period)
    with pytest.raises(BadCursor):
        stores.messages.feedback(site="store-leeds", filters={}, limit=1, cursor=cursor, **period)


def test_a_relabel_moves_the_counts_once_and_the_drill_down_follows_it(stores):
    """A manager's correction (issue 22): one transaction of the message and its counts, once; refused for a
    message not counted yet or read before another correction; the drill-down finds it under its new labels."""
    record = message(41, topic="comfort", nature="complaint", urgency="normal")
    stores.messages.put_message(record)
    stores.counters.count_message(site="line-8", bucket="H#2026-11-20T10", message_id=record["id"], expires_at=0,
                                  fields=["topic_comfort", "nature_complaint", "urgency_normal",
                                          "x_comfort_complaint_normal"])
    labels = {"topic": "staff", "nature": "complaint", "urgency": "high"}
    counts = {"topic_comfort": -1, "topic_staff": 1, "urgency_normal": -1, "urgency_high": 1,
              "x_comfort_complaint_normal": -1, "x_staff_complaint_high": 1, "q_n": 1,
              "q_topic_comfort_staff": 1, "q_nature_complaint_complaint": 1, "q_urgency_normal_high": 1}

    def relabel(read, by="Sam", note="a rude driver"):
        return stores.messages.relabel_message(read, labels=labels, by=by, at="2026-11-21T09:00:00.000Z",
                                               note=note, counts=counts)

    assert relabel(stores.messages.get_message(record["id"])) is False  # not processed (counted) yet
    stores.messages.mark_processed(record["id"], "2026-11-20T10:59:00.000Z", None)
    read = stores.messages.get_message(record["id"])
    assert relabel(read) is True
    assert relabel(read) is False  # the same correction again, from the same read: nothing more
    got = stores.messages.get_message(record["id"])
    assert pick(got, "topic", "nature", "urgency", "corrections", "corrected_by", "correction_note") == {
        "topic": "staff", "nature": "complaint", "urgency": "high", "corrections": 1, "corrected_by": "Sam",
        "correction_note": "a rude driver"}
    assert got["machine"] == {"topic": "comfort", "nature": "complaint", "urgency": "normal"}
    fields = ["n", *counts]
    expected = {"n": 1, "topic_comfort": 0, "topic_staff": 1, "urgency_normal": 0, "urgency_high": 1,
                "x_comfort_complaint_normal": 0, "x_staff_complaint_high": 1, "q_n": 1, "q_topic_comfort_staff": 1,
                "q_nature_complaint_complaint": 1, "q_urgency_normal_high": 1}
    for bucket in ("H#2026-11-20T10", "D#2026-11-20"):
        assert stores.counters.site_counts("line-8", [bucket], fields)[bucket] == expected
        assert stores.counters.network_counts([bucket], fields)[bucket] == expected
    period = {"since": "2026-11-20T00:00:00.000Z", "until": "2026-11-20T23:59:59.999Z", "days": ["2026-11-20"]}
    for site, filters in ((None, {"topic": "staff"}), ("line-8", {"topic": "staff"}),
                          ("line-8", {"topic": "staff", "nature": "complaint", "urgency": "high"}),
                          (None, {"topic": "staff", "nature": "complaint"})):
        found, _ = stores.messages.feedback(site=site, filters=filters, limit=10, cursor=None, **period)
        assert [m["id"] for m in found] == [record["id"]], filters
    for site, filters in ((None, {"topic": "comfort"}), ("line-8", {"topic": "comfort", "nature": "complaint"})):
        found, _ = stores.messages.feedback(site=site, filters=filters, limit=10, cursor=None, **period)
        assert found == [], filters
    # a second correction: the machine's labels stay the first ones
    labels = {"topic": "comfort", "nature": "complaint", "urgency": "high"}
    counts = {"topic_staff": -1, "topic_comfort": 1}
    assert relabel(stores.messages.get_message(record["id"]), by="Lou", note=None) is True
    got = stores.messages.get_message(record["id"])
    assert got["corrections"] == 2 and got["topic"] == "comfort" and got["corrected_by"] == "Lou"
    assert "correction_note" not in got
    assert got["machine"] == {"topic": "comfort", "nature": "complaint", "urgency": "normal"}


# -- counters --------------------------------------------------------------------------------------
def test_a_message_is_counted_once_in_its_site_and_network_hour_and_day(stores):
    count = {"site": "line-8", "bucket": "H#2026-11-20T10", "fields": ["nature_complaint"], "expires_at": 7}
    assert stores.counters.count_message(message_id="m1", **count)
    assert not stores.counters.count_message(message_id="m1", **count)
    assert stores.counters.count_message(message_id="m2", **count)
    assert stores.counters.count_message(message_id="m3", **{**count, "site": "store-leeds",
                                                              "bucket": "H#2026-11-20T11"})
    stores.counters.add_counts(site="line-8", bucket="H#2026-11-20T10", counts={"promise_missed": 2}, expires_at=7)
    fields = ["n", "nature_complaint", "promise_missed"]
    assert stores.counters.site_counts("line-8", ["H#2026-11-20T10", "H#2026-11-20T11", "D#2026-11-20",
                                                  "D#2026-11-21"], fields) == {
        "H#2026-11-20T10": {"n": 2, "nature_complaint": 2, "promise_missed": 2},
        "D#2026-11-20": {"n": 2, "nature_complaint": 2, "promise_missed": 2}}
    assert stores.counters.network_counts(["H#2026-11-20T10", "H#2026-11-20T11", "H#2026-11-20T12",
                                           "D#2026-11-19", "D#2026-11-20"], fields) == {
        "H#2026-11-20T10": {"n": 2, "nature_complaint": 2, "promise_missed": 2},
        "H#2026-11-20T11": {"n": 1, "nature_complaint": 1},
        "D#2026-11-20": {"n": 3, "nature_complaint": 3, "promise_missed": 2}}
    with pytest.raises(ValueError):
        stores.counters.count_message(message_id="m4", **{**count, "fields": ["drop table"]})
    with pytest.raises(ValueError):
        stores.counters.count_message(message_id="m4", **{**count, "bucket": "D#2026-11-20"})
    with pytest.raises(ValueError):
        stores.counters.add_counts(site="line-8", bucket="H#yesterday", counts={"n": 1}, expires_at=7)


def test_a_bulk_load_counts_several_sites_of_an_hour_once_in_one_batch(stores):
    per_site = {"line-8": {"n": 3, "nature_complaint": 1}, None: {"n": 2}, "store-leeds": {"n": 1}}
    assert stores.counters.count_sites(bucket="H#2026-11-20T10", batch_id="demo-1", per_site=per_site, expires_at=7)
    assert not stores.counters.count_sites(bucket="H#2026-11-20T10", batch_id="demo-1", per_site=per_site,
                                           expires_at=7)
    fields = ["n", "nature_complaint"]
    assert stores.counters.site_counts("line-8", ["H#2026-11-20T10", "D#2026-11-20"], fields) == {
        "H#2026-11-20T10": {"n": 3, "nature_complaint": 1}, "D#2026-11-20": {"n": 3, "nature_complaint": 1}}
    assert stores.counters.site_counts(NO_SITE, ["D#2026-11-20"], fields) == {"D#2026-11-20": {"n": 2}}
    assert stores.counters.network_counts(["H#2026-11-20T10", "D#2026-11-20"], fields) == {
        "H#2026-11-20T10": {"n": 6, "nature_complaint": 1}, "D#2026-11-20": {"n": 6, "nature_complaint": 1}}
    with pytest.raises(ValueError):
        stores.counters.count_sites(bucket="H#2026-11-20T10", batch_id="demo-2", expires_at=7,
                                    per_site={f"s{i}": {"n": 1} for i in range(49)})
    with pytest.raises(ValueError):
        stores.counters.count_sites(bucket="H#2026-11-20T10", batch_id="demo-2", expires_at=7,
                                    per_site={"line-8": {"drop table": 1}})


def test_a_message_is_counted_once_whatever_the_order_of_retries(stores):
    """A redelivered message counted again in another hour (a replay after the clock moved) still counts once
    where it was first counted; a different message with the same fields counts."""
    count = {"site": "line-8", "fields": ["topic_comfort"], "expires_at": 7}
    assert stores.counters.count_message(message_id="m1", bucket="H#2026-11-20T10", **count)
    for _ in range(3):
        assert not stores.counters.count_message(message_id="m1", bucket="H#2026-11-20T10", **count)
    assert stores.counters.network_counts(["D#2026-11-20"], ["n", "topic_comfort"]) == {
        "D#2026-11-20": {"n": 1, "topic_comfort": 1}}


def test_counts_without_a_site_are_kept_under_no_site(stores):
    stores.counters.count_message(site=None, bucket="H#2026-11-20T10", message_id="m1", fields=[], expires_at=7)
    assert stores.counters.site_counts(NO_SITE, ["H#2026-11-20T10"], ["n"]) == {"H#2026-11-20T10": {"n": 1}}
    assert stores.counters.site_counts(None, ["H#2026-11-20T10"], ["n"]) == {"H#2026-11-20T10": {"n": 1}}


def test_a_ranking_replaces_the_last_one_of_its_window(stores):
    first = {"window": "7d", "as_of": "x", "of": 1, "top": [{"site": "line-8", "messages": 3}], "bottom": []}
    stores.counters.put_ranking("7d", first)
    assert stores.counters.rankings(["7d", "30d"]) == {"7d": first}
    stores.counters.put_ranking("7d", {**first, "as_of": "y"})
    assert stores.counters.rankings(["7d"])["7d"]["as_of"] == "y"
    with pytest.raises(ValueError):
        stores.counters.put_ranking("7 days#", first)


# -- cases -----------------------------------------------------------------------------------------
def test_a_case_is_created_once(stores):
    assert stores.cases.put_case(case(1))
    assert not stores.cases.put_case({**case(1), "site": "elsewhere"})
    assert stores.cases.get_case("C0001")["site"] == "line-8"
    assert stores.cases.get_case("C9999") is None


def test_one_alert_delivery_is_claimed_at_a_time_and_none_once_sent(stores):
    stores.cases.put_case(case(1))
    assert stores.cases.claim_delivery("C0001", "r1", now=100, until=160)
    assert not stores.cases.claim_delivery("C0001", "r1", now=120, until=180)  # held
    assert stores.cases.claim_delivery("C0001", "r1", now=161, until=220)  # the claim ran out
    stores.cases.release_delivery("C0001", "r1")
    assert stores.cases.claim_delivery("C0001", "r1", now=162, until=222)
    stores.cases.record_delivery("C0001", "r1", "sent", {"at": "t", "ok": True})
    assert not stores.cases.claim_delivery("C0001", "r1", now=500, until=560)
    recipient = stores.cases.get_case("C0001")["recipients"]["r1"]
    assert recipient["status"] == "sent" and recipient["attempts"] == [{"at": "t", "ok": True}]


def test_a_recipient_keeps_its_last_delivery_attempts_and_counts_them_all(stores):
    stores.cases.put_case(case(1))
    for n in range(ATTEMPTS_KEPT + 3):
        stores.cases.record_delivery("C0001", "r1", "retrying", {"at": f"t{n:02d}", "ok": False, "try": n})
    recipient = stores.cases.get_case("C0001")["recipients"]["r1"]
    assert recipient["tries"] == ATTEMPTS_KEPT + 3 and recipient["status"] == "retrying"
    assert [a["try"] for a in recipient["attempts"]] == list(range(3, ATTEMPTS_KEPT + 3))


def test_held_alerts_leave_a_case_without_recipients(stores):
    stores.cases.put_case(case(1))
    stores.cases.put_case(case(2))
    stores.cases.decide_alerts("C0001", allowed=False)
    stores.cases.decide_alerts("C0002", allowed=True)
    held, allowed = stores.cases.get_case("C0001"), stores.cases.get_case("C0002")
    assert pick(held, "alerts_suppressed", "recipients", "alert_decision") == {
        "alerts_suppressed": True, "recipients": {}, "alert_decision": "held"}
    assert allowed["alert_decision"] == "allowed" and "r1" in allowed["recipients"]


def test_a_case_moves_only_from_the_statuses_allowed(stores):
    stores.cases.put_case(case(1, customer_number="+447700900123", call_back_until="2026-11-20T12:00:00.000Z"))
    acked = stores.cases.transition_case("C0001", allowed_from=["open"], to_status="acknowledged",
                                         at="2026-11-20T10:05:00.000Z", by="SMS +44 77•• •••001", note=None)
    assert pick(acked, "status", "acknowledged_at", "acknowledged_by") == {
        "status": "acknowledged", "acknowledged_at": "2026-11-20T10:05:00.000Z",
        "acknowledged_by": "SMS +44 77•• •••001"}
    with pytest.raises(Conflict) as refused:
        stores.cases.transition_case("C0001", allowed_from=["open"], to_status="acknowledged",
                                     at="2026-11-20T10:06:00.000Z", by=None, note=None)
    assert refused.value.args[0] == "acknowledged"
    with pytest.raises(NotFound):
        stores.cases.transition_case("C9999", allowed_from=["open"], to_status="resolved", at="x", by=None, note=None)
    resolved = stores.cases.transition_case("C0001", allowed_from=["open", "acknowledged"], to_status="resolved",
                                            at="2026-11-20T11:00:00.000Z", by=None, note="called back")
    assert resolved["acknowledged_at"] == "2026-11-20T10:05:00.000Z" and resolved["note"] == "called back"
    assert "customer_number" not in resolved
    assert stores.cases.lapsed_call_backs("2026-11-21T00:00:00.000Z") == []  # resolved: nobody calls back


def test_cases_are_listed_by_status_newest_first_page_by_page(stores):
    for n in range(1, 6):
        stores.cases.put_case(case(n))
    stores.cases.put_case(case(9, status="resolved"))
    seen, cursor = [], None
    for _ in range(10):
        page, cursor = stores.cases.cases("open", 2, cursor)
        seen += [c["id"] for c in page]
        if cursor is None:
            break
    assert seen == ["C0005", "C0004", "C0003", "C0002", "C0001"]
    _, cursor = stores.cases.cases("open", 2, None)
    with pytest.raises(BadCursor):
        stores.cases.cases("resolved", 2, cursor)
    with pytest.raises(BadCursor):
        stores.cases.cases("open", 2, "garbage")


def test_a_case_escalates_once_per_level(stores):
    stores.cases.put_case(case(1))
    new = {"r2": {"channel": "email", "to": "care@example.com", "status": "pending", "attempts": []}}
    up = stores.cases.escalate_case("C0001", from_level=0, to_level=1, at="t1", promised_at="p1", recipients=new)
    assert up["escalation_level"] == 1 and set(up["recipients"]) == {"r1", "r2"}
    assert up["escalations"] == [{"at": "t1", "level": 1, "to": ["r2"]}]
    assert stores.cases.escalate_case("C0001", from_level=0, to_level=1, at="t2", promised_at="p2",
                                      recipients=new) is None
    stores.cases.transition_case("C0001", allowed_from=["open"], to_status="acknowledged", at="t3", by=None,
                                 note=None)
    assert stores.cases.escalate_case("C0001", from_level=1, to_level=2, at="t4", promised_at="p4",
                                      recipients={}) is None


def test_a_lapsed_call_back_forgets_the_number(stores):
    stores.cases.put_case(case(1, customer_number="+447700900123", call_back_until="2026-11-20T11:00:00.000Z"))
    stores.cases.put_case(case(2, customer_number="+447700900124", call_back_until="2026-11-20T13:00:00.000Z"))
    stores.cases.put_case(case(3))
    assert stores.cases.lapsed_call_backs("2026-11-20T12:00:00.000Z") == ["C0001"]
    stores.cases.forget_customer_number("C0001")
    assert "customer_number" not in stores.cases.get_case("C0001")
    assert stores.cases.lapsed_call_backs("2026-11-20T12:00:00.000Z") == []
    assert stores.cases.get_case("C0002")["customer_number"] == "+447700900124"
    stores.cases.forget_customer_number("C9999")  # gone meanwhile: nothing to do


def test_a_short_code_names_one_case_until_it_runs_out(stores):
    assert stores.cases.claim_code("4821", "C0001", now=100, until=200)
    assert stores.cases.claim_code("4821", "C0001", now=110, until=210)  # the same case again
    assert not stores.cases.claim_code("4821", "C0002", now=150, until=250)
    assert stores.cases.case_for_code("4821", 200) == "C0001"
    assert stores.cases.case_for_code("4821", 211) is None
    assert stores.cases.claim_code("4821", "C0002", now=211, until=300)
    assert stores.cases.case_for_code("4821", 250) == "C0002"
    assert stores.cases.case_for_code("0000", 250) is None


# -- customers -------------------------------------------------------------------------------------
def test_consent_changes_once_per_message_and_keeps_its_history(stores):
    consent = stores.customers
    assert consent.set_consent("cust-a", "opted_out", at="t1", source="sms", message_id="m1", expires_at=7) is None
    assert consent.set_consent("cust-a", "opted_out", at="t1", source="sms", message_id="m1", expires_at=7) \
        == "opted_out"
    assert consent.set_consent("cust-a", "opted_in", at="t2", source="sms", message_id="m2", expires_at=7) \
        == "opted_out"
    item = consent.consent("cust-a")
    assert "ids" not in item and item["status"] == "opted_in" and [e["message"] for e in item["history"]] == [
        "m1", "m2"]
    assert consent.consent("cust-b") is None


def test_a_suppression_is_listed_until_lifted(stores):
    assert not stores.customers.suppressed("mark-1")
    stores.customers.suppress("mark-1", since="t", expires_at=7)
    assert stores.customers.suppressed("mark-1")
    stores.customers.lift_suppression("mark-1")
    assert not stores.customers.suppressed("mark-1")


def test_erasure_removes_everything_of_one_customer_and_leaves_tombstones(stores):
    stores.messages.put_message(message(1))
    stores.messages.put_message(message(2, customer="cust-b"))
    stores.cases.put_case(case(1, code="4821"))
    stores.cases.claim_code("4821", "C0001", now=100, until=10**10)
    stores.customers.set_consent("cust-a", "opted_out", at="t", source="sms", message_id="stop-1", expires_at=7)
    stores.surveys.put_conversation("cust-a", {"survey_id": "S1", "step": 0, "answers": {}})
    stores.surveys.advance_conversation("cust-a", step=0, value=3, detractor=True, ended=False, message_id="ans-1")
    stores.surveys.add_conversation_text("cust-a", "text-1", "the driver was rude", end=False)
    stores.offers.take_quota("customer#cust-a#1", 5, 7, customer_key="cust-a")
    stores.offers.claim_marker("survey_sent", "S1#cust-a", expires_at=7, customer_key="cust-a")

    def mark(kind, value):
        return f"{kind}:{value}"

    erased = stores.customers.erase_customer("cust-a", mark=mark, at="2026-11-20T12:00:00.000Z", expires_at=9)
    # the consent and the conversation go with the markers of the STOP and the text they took in
    assert erased == {"msg": 1, "case": 1, "consent": 1, "surveycust": 1, "quota": 1, "surveysent": 1,
                      "consentmsg": 1, "surveytext": 1, "history": 1}
    assert stores.messages.get_message("twilio-SM0001") is None and stores.cases.get_case("C0001") is None
    assert stores.messages.get_message("twilio-SM0002") is not None  # someone else's
    assert stores.cases.case_for_code("4821", 200) is None
    assert stores.customers.consent("cust-a") is None and stores.surveys.get_conversation("cust-a") is None
    assert stores.offers.quota_used("customer#cust-a#1") == 0
    for kind, value in (("message", "twilio-SM0001"), ("case", "C0001"), ("message", "stop-1"),
                        ("message", "ans-1"), ("message", "text-1")):
        assert stores.customers.tombstone(mark(kind, value)) is not None, (kind, value)
    assert stores.customers.tombstone("customer:cust-a")["erased_at"] == "2026-11-20T12:00:00.000Z"
    assert stores.customers.suppressed("opt-out:cust-a")  # the opt-out outlives the history
    assert stores.customers.erase_customer("cust-a", mark=mark, at="later", expires_at=9) == {}


# -- offers, quotas, markers -------------------------------------------------------------------------
def test_a_quota_never_goes_over_its_limit(stores):
    offers = stores.offers
    assert [offers.take_quota("site#line-8#2026-11-20", 2, 7) for _ in range(3)] == [True, True, False]
    assert offers.quota_used("site#line-8#2026-11-20") == 2
    offers.give_back_quota("site#line-8#2026-11-20")
    assert offers.quota_used("site#line-8#2026-11-20") == 1
    assert not offers.take_quota("site#store-leeds#2026-11-20", 0, 7)
    assert offers.quota_used("site#store-leeds#2026-11-20") == 0


def test_an_offer_is_issued_once_and_redeemed_once(stores):
    offer = {"code": "VX-ABCD", "site": "line-8", "status": "issued", "value": "a free coffee"}
    assert stores.offers.put_offer(offer) is None
    assert stores.offers.put_offer({**offer, "value": "other"})["value"] == "a free coffee"
    redeemed = stores.offers.redeem_offer("VX-ABCD", at="t", by=None)
    assert pick(redeemed, "status", "redeemed_at", "redeemed_by") == {
        "status": "redeemed", "redeemed_at": "t", "redeemed_by": "unknown"}
    with pytest.raises(Conflict) as twice:
        stores.offers.redeem_offer("VX-ABCD", at="t2", by="till 3")
    assert twice.value.args[0] == "redeemed"
    with pytest.raises(NotFound):
        stores.offers.redeem_offer("VX-ZZZZ", at="t", by=None)
    stores.offers.delete_offer("VX-ABCD")
    assert stores.offers.get_offer("VX-ABCD") is None


def test_consent_keeps_its_last_changes_and_each_message_once_however_many_there_were(stores):
    """GIVEN more changes than the item keeps WHEN the first STOP is delivered again THEN nothing changes:
    the message is known by its own marker, not by the history, which holds the latest changes only."""
    consent = stores.customers
    for n in range(HISTORY_KEPT + 5):
        consent.set_consent("cust-a", ("opted_out", "opted_in")[n % 2], at=f"t{n:03d}", source="sms",
                            message_id=f"m{n}", expires_at=7)
    before = consent.consent("cust-a")
    assert before["status"] == "opted_out" and before["updated_at"] == f"t{HISTORY_KEPT + 4:03d}"
    assert [e["message"] for e in before["history"]] == [f"m{n}" for n in range(5, HISTORY_KEPT + 5)]
    assert consent.set_consent("cust-a", "opted_in", at="t001", source="sms", message_id="m1", expires_at=7) \
        == "opted_in"  # a redelivery: the status it set, nothing changes
    assert consent.consent("cust-a") == before


def test_the_latest_consent_change_by_its_time_wins(stores):
    consent = stores.customers
    assert consent.set_consent("cust-a", "opted_in", at="t2", source="sms", message_id="m2", expires_at=7) is None
    # a STOP sent before that START, delivered after it: kept in the history, the status stays
    assert consent.set_consent("cust-a", "opted_out", at="t1", source="sms", message_id="m1", expires_at=9) \
        == "opted_out"
    item = consent.consent("cust-a")
    assert pick(item, "status", "updated_at", "ttl") == {"status": "opted_in", "updated_at": "t2", "ttl": 9}
    assert [e["message"] for e in item["history"]] == ["m1", "m2"]
    assert consent.set_consent("cust-a", "opted_out", at="t3", source="sms", message_id="m3", expires_at=7) \
        == "opted_in"
    assert consent.consent("cust-a")["status"] == "opted_out"


def test_a_marker_is_claimed_once_until_released(stores):
    assert stores.offers.claim_marker("digest", "2026-11-20#boss@example.com", expires_at=7)
    assert not stores.offers.claim_marker("digest", "2026-11-20#boss@example.com", expires_at=7)
    assert stores.offers.claim_marker("survey_sent", "2026-11-20#boss@example.com", expires_at=7)
    stores.offers.release_marker("digest", "2026-11-20#boss@example.com")
    assert stores.offers.claim_marker("digest", "2026-11-20#boss@example.com", expires_at=7)


# -- surveys ---------------------------------------------------------------------------------------
def test_surveys_keep_their_statistics_and_are_listed_per_site_newest_first(stores):
    for n, site in ((1, "line-8"), (2, "line-8"), (3, "store-leeds")):
        stores.surveys.put_survey({"id": f"S{n}", "site": site, "created_at": f"2026-11-2{n}T10:00:00.000Z"})
    stores.surveys.survey_add("S1", {"sent": 2})
    stores.surveys.survey_add("S1", {"sent": 1, "q0_n": 1})
    assert stores.surveys.get_survey("S1")["stats"] == {"sent": 3, "q0_n": 1}
    assert [s["id"] for s in stores.surveys.surveys_of_site("line-8")] == ["S2", "S1"]
    assert stores.surveys.get_survey("S9") is None


def test_a_conversation_takes_each_answer_and_each_worded_reply_once(stores):
    surveys = stores.surveys
    surveys.put_conversation("cust-a", {"survey_id": "S1", "step": 0, "answers": {}})
    assert surveys.advance_conversation("cust-a", step=0, value=9, detractor=False, ended=False, message_id="m1")
    assert not surveys.advance_conversation("cust-a", step=0, value=2, detractor=True, ended=False, message_id="m2")
    assert surveys.advance_conversation("cust-a", step=1, value=3, detractor=True, ended=True, message_id="m3",
                                        follow_up_at="2026-11-20T10:00:00.000Z")
    assert surveys.add_conversation_text("cust-a", "m4", "the driver was rude", end=False)
    assert not surveys.add_conversation_text("cust-a", "m4", "the driver was rude", end=False)
    conversation = surveys.get_conversation("cust-a")
    assert pick(conversation, "step", "detractor", "follow_up_at", "expires_at") == {
        "step": 2, "detractor": True, "follow_up_at": "2026-11-20T10:00:00.000Z",
        "expires_at": "1970-01-01T00:00:00.000Z"}
    assert conversation["answers"] == {"0": 9, "1": 3} and conversation["answered"] == ["0:m1", "1:m3"]
    assert conversation["texts"] == [{"message": "m4", "text": "the driver was rude"}]
    assert not surveys.add_conversation_text("cust-b", "m5", "nobody asked", end=False)
    surveys.end_conversation("cust-b")  # none open: nothing happens
    assert surveys.get_conversation("cust-b") is None


def test_a_conversation_keeps_its_last_texts_cut_short_and_each_message_once_however_many(stores):
    surveys = stores.surveys
    surveys.put_conversation("cust-a", {"survey_id": "S1", "step": 0, "answers": {}, "ttl": 7})
    for n in range(TEXTS_KEPT + 5):
        assert surveys.add_conversation_text("cust-a", f"m{n}", "x" * (TEXT_CHARS + 100), end=False)
    # the first text, retried long after it left the kept window, is still recognised
    assert not surveys.add_conversation_text("cust-a", "m0", "again", end=False)
    conversation = surveys.get_conversation("cust-a")
    assert [t["message"] for t in conversation["texts"]] == [f"m{n}" for n in range(5, TEXTS_KEPT + 5)]
    assert {len(t["text"]) for t in conversation["texts"]} == {TEXT_CHARS}
    assert conversation["texts_seen"] == TEXTS_KEPT + 5


# -- the layout stays in the adapters ----------------------------------------------------------------
def test_no_code_outside_the_adapters_knows_a_key_an_index_or_imports_an_adapter():
    """Domain code hands over records, quota names and marker kinds; keys, index attributes and item
    prefixes are built in ``chalicelib/storage/`` only (``services.py`` builds the adapters)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    layout = re.compile(r"""["'](?:gsi\d|day_site|day_topic|day_nature|PENDING|CALLBACK)"""
                        r"""|(?:MSG|CASE|CASES|CODE|CONSENT|CONSENTMSG|QUOTA|OFFER|SURVEY|SURVEYS|SURVEYCUST"""
                        r"""|SURVEYSENT|SURVEYTEXT|DIGEST"""
                        r"""|ERASED|SUPPRESS|MET|ROLL|DAY)#""")
    offenders = []
    for path in [root / "app.py", *sorted((root / "chalicelib").glob("*.py"))]:
        text = path.read_text(encoding="utf-8")
        if path.name != "services.py" and re.search(r"chalicelib\.storage|from chalicelib import storage", text):
            offenders.append(f"{path.name}: imports an adapter")
        offenders += [f"{path.name}:{n}: {line.strip()}" for n, line in enumerate(text.splitlines(), 1)
                      if layout.search(line)]
    assert offenders == []


# -- counting: batches and plain additions, in the site's and the network's hour and day ---------------------
def test_a_batch_is_counted_once_and_plain_additions_each_time_in_every_item(stores):
    hour, day = "H#2026-11-20T10", "D#2026-11-20"
    batch = {"site": "line-8", "bucket": hour, "batch_id": "demo-1-line-8", "expires_at": 7}
    assert stores.counters.count_batch(counts={"n": 5, "topic_comfort": 3}, **batch)
    assert not stores.counters.count_batch(counts={"n": 5, "topic_comfort": 3}, **batch)  # a retried backfill
    for _ in range(2):  # an acknowledgement counted twice is two acknowledgements
        stores.counters.add_counts(site="line-8", bucket=hour, counts={"ack_n": 1}, expires_at=7)
    stores.counters.add_counts(site="line-8", bucket=hour, counts={}, expires_at=7)
    expected = {bucket: {"n": 5, "topic_comfort": 3, "ack_n": 2} for bucket in (hour, day)}
    fields = ["n", "topic_comfort", "ack_n"]
    assert stores.counters.site_counts("line-8", [hour, day], fields) == expected
    assert stores.counters.network_counts([hour, day], fields) == expected
    assert stores.counters.site_counts("store-leeds", [hour, day], fields) == {}
    with pytest.raises(ValueError):
        stores.counters.add_counts(site="line-8", bucket=hour, counts={"drop table": 1}, expires_at=7)


def test_a_count_without_an_expiry_never_sets_one_that_has_passed(stores):
    """An expiry of 0 would have DynamoDB's TTL take the counters at once: a count without one keeps theirs."""
    count = {"site": "line-8", "bucket": "H#2026-11-20T10", "fields": [], "expires_at": 0}
    assert stores.counters.count_message(message_id="m1", **{**count, "expires_at": 9})
    assert stores.counters.count_message(message_id="m2", **count)
    stores.counters.add_counts(site="line-8", bucket="H#2026-11-20T10", counts={"promise_kept": 1}, expires_at=0)
    assert stores.counters.site_counts("line-8", ["H#2026-11-20T10", "D#2026-11-20"], ["n", "promise_kept", "ttl"]) == {
        "H#2026-11-20T10": {"n": 2, "promise_kept": 1, "ttl": 9}, "D#2026-11-20": {"n": 2, "promise_kept": 1, "ttl": 9}}


# -- conversations (issue 21) ---------------------------------------------------------------------------------
def conversation_message(n, *, case_id="C0001", direction="in", status=None, customer="cust-a", at=None):
    from chalicelib.conversations import ConversationMessage

    return ConversationMessage(
        case_id=case_id, id=f"m{n:05d}", direction=direction,
        at=at or f"2026-11-20T10:{n // 60 % 60:02d}:{n % 60:02d}Z",
        text=f"message {n}", channel="twilio", status=status or ("received" if direction == "in" else "queued"),
        customer_key=customer, author=None if direction == "in" else "Sam", expires_at=2_000_000_000)


def test_a_conversation_message_is_stored_once_and_read_back_in_order(stores):
    first, second = conversation_message(2), conversation_message(1, direction="out")
    assert stores.conversations.add_message(first) is True
    assert stores.conversations.add_message(second) is True
    assert stores.conversations.add_message(first) is False  # a retry stores nothing more
    assert stores.conversations.conversation("C0001") == [second, first]  # by time, oldest first
    assert stores.conversations.conversation("C0002") == []


def test_a_long_conversation_is_one_item_a_message_and_reads_its_latest(stores):
    for n in range(120):
        stores.conversations.add_message(conversation_message(n, direction="out" if n % 2 else "in"))
    latest = stores.conversations.conversation("C0001", limit=50)
    assert [m.id for m in latest] == [f"m{n:05d}" for n in range(70, 120)]
    assert stores.conversations.sent_since("C0001", "2026-11-20T10:01:00Z") == 30  # n = 60..119, the odd ones


def test_a_delivery_status_only_moves_forward_and_a_duplicate_changes_nothing(stores):
    message = conversation_message(1, direction="out")
    stores.conversations.add_message(message)
    assert stores.conversations.set_status(message, "sent", at="2026-11-20T10:00:02Z") is True
    assert stores.conversations.set_status(message, "delivered", at="2026-11-20T10:00:03Z") is True
    assert stores.conversations.set_status(message, "sent", at="2026-11-20T10:00:04Z") is False  # late, out of order
    assert stores.conversations.set_status(message, "delivered", at="2026-11-20T10:00:05Z") is False  # twice
    assert stores.conversations.set_status(message, "undelivered", at="2026-11-20T10:00:06Z", error="30003") is False
    [stored] = stores.conversations.conversation("C0001")
    assert (stored.status, stored.status_at, stored.error) == ("delivered", "2026-11-20T10:00:03Z", None)
    failed = conversation_message(2, direction="out")
    stores.conversations.add_message(failed)
    assert stores.conversations.set_status(failed, "undelivered", at="2026-11-20T10:00:07Z", error="30003") is True
    assert stores.conversations.conversation("C0001")[-1].error == "30003"
    assert stores.conversations.set_status(conversation_message(9, direction="out"), "sent", at="x") is False  # none


def test_a_conversation_is_erased_with_its_customer(stores):
    stores.conversations.add_message(conversation_message(1))
    stores.conversations.add_message(conversation_message(2, direction="out"))
    stores.conversations.add_message(conversation_message(3, case_id="C0002", customer="cust-b"))
    erased = stores.customers.erase_customer("cust-a")
    assert erased.get("conv") == 2
    assert stores.conversations.conversation("C0001") == []
    assert len(stores.conversations.conversation("C0002")) == 1


def test_a_reply_is_read_back_by_its_id_claimed_once_and_sent_once(stores):
    from chalicelib.conversations import new_reply_id, reply_at

    reply_id = new_reply_id("2026-11-20T10:00:01.000Z")
    reply = conversation_message(1, direction="out", at=reply_at(reply_id))
    reply = type(reply)(**{**reply.as_dict(), "id": reply_id})
    stores.conversations.add_message(reply)
    assert stores.conversations.get_message("C0001", reply_at(reply_id), reply_id) == reply
    assert stores.conversations.get_message("C0001", reply_at(reply_id), "r-nothing") is None
    assert stores.conversations.claim_send(reply, now=100, until=160) is True
    assert stores.conversations.claim_send(reply, now=120, until=180) is False  # another worker holds it
    stores.conversations.release_send(reply)  # nothing was sent: a retry may claim it at once
    assert stores.conversations.claim_send(reply, now=121, until=181) is True
    assert stores.conversations.record_sent(reply, "SM" + "a" * 32) is True
    assert stores.conversations.claim_send(reply, now=999, until=1059) is False  # sent
    stored = stores.conversations.get_message("C0001", reply.at, reply_id)
    assert stored.provider_id == "SM" + "a" * 32 and stored.status == "queued"
    assert stores.conversations.conversation("C0001")[0].provider_id == "SM" + "a" * 32
    refused = conversation_message(2, direction="out")
    stores.conversations.add_message(refused)
    stores.conversations.set_status(refused, "failed", at="2026-11-20T10:00:09Z", error="opted out")
    assert stores.conversations.claim_send(refused, now=100, until=160) is False  # refused: never sent
    assert stores.conversations.record_sent(conversation_message(7, direction="out"), "SMx") is False  # none


def test_the_way_back_to_a_customer_expires_and_a_thread_names_the_latest_case(stores):
    from chalicelib.conversations import Contact

    contact = Contact(case_id="C0001", number="+447700900123", origin="+447700900008", channel="twilio",
                      customer_key="cust-a", expires_at=2_000)
    stores.conversations.set_contact(contact)
    assert stores.conversations.contact("C0001", now=1_999) == contact
    assert stores.conversations.contact("C0001", now=2_000) is None  # expired, even before TTL takes it
    assert stores.conversations.contact("C0002", now=0) is None
    stores.conversations.set_thread("cust-a", "+447700900008", "C0001", expires_at=5_000)
    stores.conversations.set_thread("cust-a", "+447700900008", "C0003", expires_at=5_000)
    assert stores.conversations.thread("cust-a", "+447700900008", now=10) == "C0003"
    assert stores.conversations.thread("cust-a", "+33100000000", now=10) is None
    assert stores.conversations.thread("cust-a", "+447700900008", now=5_000) is None
    stores.conversations.set_thread("cust-b", "+447700900008", "C0009", expires_at=5_000)
    erased = stores.customers.erase_customer("cust-a")
    assert erased.get("replyto") == 1 and erased.get("thread") == 1
    assert stores.conversations.contact("C0001", now=0) is None
    assert stores.conversations.thread("cust-b", "+447700900008", now=10) == "C0009"


def test_the_way_back_to_an_e_mail_customer_keeps_their_thread(stores):
    from chalicelib.conversations import Contact, MailThread

    thread = MailThread(subject="Visit", message_id="<b@mail.example>", references=("<a@mail.example>",),
                        language="fr")
    contact = Contact(case_id="C0002", number="ann@mail.example", origin="leeds@feedback.voix.example",
                      channel="email", customer_key="cust-e", expires_at=2_000, thread=thread)
    stores.conversations.set_contact(contact)
    assert stores.conversations.contact("C0002", now=1_000) == contact


def test_a_case_keeps_its_first_reply_reopens_once_and_is_raised_once(stores):
    stores.cases.put_case(case(1, status="resolved", resolved_at="2026-11-20T11:00:00.000Z", resolved_by="Sam",
                               urgency="normal"))
    assert stores.cases.set_first_reply("C0001", "2026-11-20T10:05:00.000Z") is True
    assert stores.cases.set_first_reply("C0001", "2026-11-20T10:09:00.000Z") is False  # counted once
    assert stores.cases.get_case("C0001")["first_reply_at"] == "2026-11-20T10:05:00.000Z"
    assert stores.cases.set_first_reply("C0404", "2026-11-20T10:05:00.000Z") is False
    reopened = stores.cases.reopen_case("C0001", at="2026-11-21T09:00:00.000Z", promised_at="2026-11-21T11:00:00.000Z")
    assert pick(reopened, "status", "reopened_at", "reopen_count", "resolved_at", "promised_at") == {
        "status": "open", "reopened_at": "2026-11-21T09:00:00.000Z", "reopen_count": 1, "resolved_at": None,
        "promised_at": "2026-11-21T11:00:00.000Z"}
    assert stores.cases.reopen_case("C0001", at="2026-11-21T09:00:01.000Z", promised_at="x") is None  # open already
    assert [c["id"] for c in stores.cases.cases("open", 10, None)[0]] == ["C0001"]
    raised = stores.cases.raise_urgency(
        "C0001", at="2026-11-21T09:01:00.000Z", reason="safety", text="he is drunk",
        promised_at="2026-11-21T09:11:00.000Z",
        recipients={"r2-up": {"channel": "sms", "to": "+447700900002", "status": "pending", "attempts": []}},
        number="+447700900123", call_back_until="2026-11-21T09:40:00.000Z",
        about={"role": "site_staff", "numbers": ["+447700900801"], "names": ["Sam"]})
    assert pick(raised, "urgency", "urgency_reason", "alert_text", "customer_number", "about_staff") == {
        "urgency": "high", "urgency_reason": "safety", "alert_text": "he is drunk", "customer_number": "+447700900123",
        "about_staff": True}
    assert raised["about"]["names"] == ["Sam"]
    assert set(raised["recipients"]) == {"r1", "r2-up"}
    assert stores.cases.lapsed_call_backs("2026-11-21T10:00:00.000Z") == ["C0001"]
    assert stores.cases.raise_urgency("C0001", at="x", reason=None, text="again", promised_at="y",
                                      recipients={}) is None  # urgent already


def test_a_customer_s_cases_are_read_newest_first_bounded_and_erased_with_them(stores):
    for n in range(1, 5):
        stores.cases.put_case(case(n, customer="cust-h", created=f"2026-11-2{n}T10:00:00.000Z"))
    stores.cases.put_case(case(9, customer="cust-other"))
    stores.cases.put_case(case(1, customer="cust-h", created="2026-11-21T10:00:00.000Z"))  # a retry: no double
    assert [c["id"] for c in stores.cases.customer_cases("cust-h", 3)] == ["C0004", "C0003", "C0002"]
    assert [c["id"] for c in stores.cases.customer_cases("cust-h")] == ["C0004", "C0003", "C0002", "C0001"]
    assert stores.cases.customer_cases("nobody") == []
    stores.customers.erase_customer("cust-h")
    assert stores.cases.customer_cases("cust-h") == []
    assert [c["id"] for c in stores.cases.customer_cases("cust-other")] == ["C0009"]


def test_a_case_is_assigned_and_reassigned_until_it_is_resolved(stores):
    stores.cases.put_case(case(1))
    done = stores.cases.assign_case("C0001", to="Priya", by="Sam", at="2026-11-20T10:05:00.000Z")
    assert pick(done, "assignee", "assigned_by", "assigned_at", "status") == {
        "assignee": "Priya", "assigned_by": "Sam", "assigned_at": "2026-11-20T10:05:00.000Z", "status": "open"}
    assert stores.cases.assign_case("C0001", to="Lou", by="Sam", at="2026-11-20T10:06:00.000Z")["assignee"] == "Lou"
    assert stores.cases.get_case("C0001")["assignee"] == "Lou"
    with pytest.raises(NotFound):
        stores.cases.assign_case("NOPE0001", to="Lou", by="Sam", at="2026-11-20T10:06:00.000Z")
    stores.cases.transition_case("C0001", allowed_from=["open"], to_status="resolved", at="2026-11-20T10:07:00.000Z",
                                 by="Sam", note=None)
    with pytest.raises(Conflict) as refused:
        stores.cases.assign_case("C0001", to="Lou", by="Sam", at="2026-11-20T10:08:00.000Z")
    assert refused.value.args[0] == "resolved"


def test_a_case_s_promise_is_settled_once(stores):
    stores.cases.put_case(case(1))
    assert stores.cases.settle_promise("C0001") is True
    assert stores.cases.settle_promise("C0001") is False
    assert stores.cases.settle_promise("C0404") is False


def test_configuration_versions_are_published_in_order_against_the_latest(stores):
    from chalicelib.live_config import StaleVersion

    assert stores.config.head() is None and stores.config.head_version() is None
    big = {"sites": [{"id": f"s{i}", "name": f"Store number {i}", "staff_sms": ["+447700900801"]} for i in range(2000)]}
    first = stores.config.publish(version=1, base=0, sections={"sites": big, "rules": {"topics": ["a"]}}, manifest={},
                                  author="seed", at="2026-12-04T09:00:00.000Z", comment="v1", changes=[], changed=0)
    assert first["version"] == 1 and first["sections"] == {"rules": 1, "sites": 1}
    assert stores.config.head() == {"version": 1, "sections": {"rules": 1, "sites": 1}}
    change = [{"path": "rules.topics[1]", "old": None, "new": "b"}]
    second = stores.config.publish(version=2, base=1, sections={"rules": {"topics": ["a", "b"]}},
                                   manifest={"rules": 1, "sites": 1}, author="Marie", at="2026-12-04T09:05:00.000Z",
                                   comment="b", changes=change, changed=1)
    assert second["sections"] == {"rules": 2, "sites": 1} and second["touched"] == ["rules"]
    with pytest.raises(StaleVersion):
        stores.config.publish(version=2, base=1, sections={"rules": {"topics": ["c"]}}, manifest={"rules": 1},
                              author="Paul", at="2026-12-04T09:06:00.000Z", comment="", changes=[], changed=1)
    assert stores.config.head_version() == 2
    data = stores.config.section_data({"rules": 2, "sites": 1})
    assert data["rules"] == {"topics": ["a", "b"]} and len(data["sites"]["sites"]) == 2000
    data["rules"]["topics"].append("mutated")  # a copy: the stored version does not change
    assert stores.config.section_data({"rules": 2})["rules"] == {"topics": ["a", "b"]}
    assert stores.config.section_data({"rules": 1})["rules"] == {"topics": ["a"]}
    assert stores.config.version(2)["changes"] == change and stores.config.version(3) is None
    assert [v["version"] for v in stores.config.history()] == [2, 1]
    assert [v["version"] for v in stores.config.history(limit=1)] == [2]
    assert [v["version"] for v in stores.config.history(before=2)] == [1]
