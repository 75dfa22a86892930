"""The benchmark suite's own logic (its figures come from `make bench`, never from a test)."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import backtest, classification, cost, run, write_units
from chalicelib import classification as engine
from chalicelib.config_loader import load_config


def test_the_corpus_is_distinct_and_the_ten_times_rules_change_only_the_size():
    config = load_config()
    big = classification.ten_times(config)
    assert sum(len(g.phrases) for g in big.rules.lexicon) == 10 * sum(len(g.phrases) for g in config.rules.lexicon)
    texts = classification.corpus(500)
    assert len({t["text"] for t in texts}) == 500
    small_engine, big_engine = engine.Classifier(config), engine.Classifier(big)
    for m in texts:  # the copies never match: same answers, only bigger tables
        assert small_engine.classify(m["text"], m["to"]) == big_engine.classify(m["text"], m["to"])
    naive = classification.NaiveClassifier(config)
    group = next(g for g in config.rules.lexicon if g.topic and not g.phrases[0].endswith("*"))
    assert naive.classify(f"well {group.phrases[0].upper()} again", None)["topic"] != "other"
    assert naive.classify("zzz qqq", None) == {"topic": "other", "score": 0}
    assert classification.rate(small_engine, texts[:50], 1) > 0


def test_the_backtest_reads_every_message_through_the_port_and_times_a_pass():
    from datetime import UTC, datetime, timedelta

    from chalicelib.backtest import read_messages

    now = datetime(2026, 12, 1, tzinfo=UTC)
    items = backtest.stored(2500, now)
    assert len({m["text"] for m in items}) == 2500 and items[0]["received_at"] > items[-1]["received_at"]
    read, complete = read_messages(backtest.ListMessages(items), since=now - timedelta(days=30), until=now)
    assert complete and [m["id"] for m in read] == [m["id"] for m in items]  # three pages of 1,000
    result = backtest.run(300, 1)
    assert result["messages"] == 300 and result["complete"] and result["cpu_s"] > 0 and result["median_s"] > 0
    assert sum(result["changes"].values()) >= result["changed"]


CALLS = {
    "plain webhook": {"total": 2, "by_api": {"PutItem": 1, "SendMessage": 1}},
    "alerting webhook": {"total": 2, "by_api": {"PutItem": 1, "SendMessage": 1}},
    "duplicate webhook": {"total": 1, "by_api": {"PutItem": 1}},
    "plain worker": {"total": 3, "by_api": {"UpdateItem": 2, "GetItem": 1}},
    "alerting worker": {"total": 8, "by_api": {"UpdateItem": 4, "GetItem": 2, "PutItem": 1, "Publish": 1}},
}


WRITES = {"messages": 2, "other": {"plain": {"PutItem": 2.0, "PutItem (indexes)": 12.0},
                                   "alerting": {"PutItem": 4.0, "UpdateItem": 6.0}},
          "counting": {10: {"per_message": 10.0, "transactions": 10},
                       1000: {"per_message": 16.0, "transactions": 1000}}}


def test_the_cost_follows_its_formula():
    estimate = cost.estimate(CALLS, {"plain": 20.0, "alerting": 40.0}, webhook_ms=5.0, writes=WRITES)
    lines = {name: usd for name, _, usd in estimate["lines"]}
    assert lines["API Gateway (REST)"] == cost.PRICES["api_gateway_rest_per_million"]
    # the measured units: a plain message's 14 and an alerting one's 10, weighted, plus the count's at each volume
    share = cost.ASSUMPTIONS["alerting_share"]
    other = 14 * (1 - share) + 10 * share
    assert abs(estimate["by_volume"][10]["wru"] - (other + 10)) < 1e-9
    assert abs(estimate["wru"] - (other + 16)) < 1e-9  # the lines are the busiest volume's
    price = cost.PRICES["dynamodb_write_unit_per_million"]
    assert abs(lines["DynamoDB writes"] - (other + 16) * price) < 1e-9
    assert abs(estimate["by_volume"][1000]["aws"] - estimate["by_volume"][10]["aws"] - 6 * price) < 1e-9
    assert estimate["carrier"] == 1_000_000 * (cost.PRICES["carrier_inbound_sms"] + cost.PRICES["carrier_outbound_sms"])
    assert abs(estimate["aws"] - sum(lines.values())) < 1e-9


def test_item_sizes_and_write_units_follow_the_aws_rules():
    # names count, strings by their UTF-8 bytes, numbers 1 byte plus 1 per two significant digits
    assert write_units.item_size({"pk": {"S": "abc"}}) == 5
    assert write_units.item_size({"n": {"N": "12345"}, "é": {"S": "é"}}) == 1 + 4 + 2 + 2
    assert write_units.number_size("100") == 2 and write_units.number_size("-0.5") == 3
    assert write_units.item_size({"l": {"L": [{"S": "ab"}, {"BOOL": True}]}}) == 1 + 3 + 3 + 2
    assert write_units.item_size({"m": {"M": {"k": {"N": "7"}}}}) == 1 + 3 + 1 + 1 + 2
    assert write_units.item_size({"s": {"SS": ["a", "bb"]}}) == 4
    assert [write_units.units(n) for n in (0, 1, 1024, 1025)] == [1, 1, 1, 2]
    keys, gsi = ["pk", "sk"], (["g"], "INCLUDE", ["x"])
    before = {"pk": {"S": "p"}, "sk": {"S": "s"}, "g": {"S": "1"}, "x": {"S": "a"}, "y": {"S": "b"}}
    assert write_units.index_units(keys, [gsi], None, before) == 1  # enters the index
    assert write_units.index_units(keys, [gsi], before, {**before, "y": {"S": "c"}}) == 0  # not projected
    assert write_units.index_units(keys, [gsi], before, {**before, "x": {"S": "c"}}) == 1
    assert write_units.index_units(keys, [gsi], before, {**before, "g": {"S": "2"}}) == 2  # a delete and a put
    assert write_units.index_units(keys, [gsi], before, {k: v for k, v in before.items() if k != "g"}) == 1


def test_the_results_page_marks_each_bar():
    results = {
        "quick": False, "machine": "test machine", "date": "2026-11-23", "minutes": 1.0,
        "classification": {"messages": 10, "repeats": 1, "phrases": 1, "phrases_10x": 10, "engine": 60_000.0,
                           "engine_10x": 30_000.0, "naive": 3_000.0, "naive_10x": 300.0, "engine_10x_ratio": 0.5,
                           "stages_us": {"words": 6.0, "evidence": 5.5}, "reference_loop_ms": 80.0,
                           "engine_vs_naive": 20.0},
        "webhook": {"requests": 2, "calls": CALLS, "worker_ms": {"plain": 1.0, "alerting": 2.0},
                    "latency_ms": {k: {"p50": 1.0, "p99": 2.0, "n": 1} for k in ("plain", "alerting", "duplicate")}},
        "scale": {"ingest": {1000: 50.0, 100_000: 45.0}, "batch": 1, "repeats": 1, "reads": 1,
                  "metrics": {1: {"messages": 10_000, "median_s": 0.01, "first_s": 0.1, "counter_items": 5},
                              100: {"messages": 1_000_000, "median_s": 0.02, "first_s": 0.2, "counter_items": 5}}},
        "cold_start": {"runs": 1, "seconds": {"boto3": 0.3, "app": 0.05}, "ratio": 0.17, "zip_bytes": None},
        "counting": {"count": 20_000, "window": 1000, "first_ms": 26.0, "last_ms": 25.0, "ratio": 1.04,
                     "largest_item_bytes": {1000: 1332, 20_000: 1361}},
        "cost": cost.estimate(CALLS, {"plain": 20.0, "alerting": 40.0}, 5.0, WRITES),
        "drill_down": {"reads": 1, "worst_ratio": 1.25, **{size: {
            "messages": n, "stored": n, "stored_days": 30, "load_s": 1.0, "oldest_day_read": "2026-11-20",
            "levels": {"site + topic": {"metrics": 0.02, "previous": 0.01, "feed": 0.03, "poll": 0.001,
                                        "feed_items": 30, "total_s": 0.061}}}
            for size, n in (("small", 10_000), ("big", 1_000_000))}},
        "conversation_read": {"reads": 3, "ratio": 1.6, "same_reads": True, **{size: {
            "cases": n, "per_case": 3, "target_messages": 1000, "table_items": 4 * n + 1001, "median_s": 0.0102,
            "requests": {"GetItem": 1, "Query": 1}, "request_count": 2, "items": 51, "item_bytes": 14_739,
            "read_units": 3.0} for size, n in (("small", 10), ("big", 100_000))}},
        "backtest": {"messages": 50_000, "complete": True, "repeats": 3, "read_s": 0.01, "median_s": 5.4,
                     "range_s": [3.7, 6.5], "cpu_s": 2.16, "per_second": 9_259.0, "changed": 46,
                     "changes": {"topic": 0, "nature": 36, "urgency": 0, "language": 10}, "added_phrases": 4},
        "year_view": {"seeded_messages": 2_000_000, "sites": 4, "transactions": 397, "seed_s": 400.0, "months": 13,
                      "weeks": 53, "answer_bytes": 38_726, "reads": 5, "date": "2026-12-04",
                      "network": {"median_s": 0.37}, "site": {"site": "line-8", "median_s": 1.2},
                      "weeks_from_days": {"days": 369, "network_median_s": 0.34, "site_median_s": 0.28}},
    }
    page = run.render(results)
    assert re.search(r"year view \(13 months and their weeks\) at 2,000,000 messages ≤ 1 s \| network 370 ms, one site "
                     r"1200 ms \| \*\*FAIL\*\*", page)
    assert "| one site (line-8) | 1200 ms |" in page and "Measured 2026-12-04." in page
    assert re.search(r"backtest of 50,000 messages ≤ 5 s on one core \(CPU time\) \| 2.2 s \(wall clock 5.4 s\) "
                     r"\| \*\*pass\*\*", page)
    assert "it changes 46 messages (topic 0, nature 36, urgency 0, language 10)" in page
    assert re.search(r"at 100,000 vs 10 cases: same requests and items, time ≤ 1.5 \| 2 vs 2 requests, 51 vs 51 "
                     r"items, time 1.60 \| \*\*FAIL\*\*", page)
    assert "| 100,000 | 401,001 | 10.2 ms | 2: GetItem 1, Query 1 | 51 | 14,739 | 3 |" in page
    assert re.search(r"drill-down at 1,000,000 vs 10,000 messages ≤ 1.5 \(worst level\) \| 1.25 \| \*\*pass\*\*", page)
    assert "| 1,000,000 | 1,000,000 (30 days) | site + topic | 20.0 ms | 10.0 ms | 30.0 ms | 1.0 ms | 61.0 ms |" in page
    assert re.search(r"classification ≥ 50,000 messages/s/core \| 60,000 \| \*\*pass\*\*", page)
    assert re.search(r"10x the rules \| 0.50 of it \| \*\*FAIL\*\*", page)
    assert re.search(r"≤ 1.5 \| 2.00 \| \*\*FAIL\*\*", page)
    assert re.search(r"≥ 0.8 \| 0.90 \| \*\*pass\*\*", page)
    assert re.search(r"first / last 1,000 of 20,000 ≥ 0.8 \| 1.04 \(largest item \+29 bytes\) \| \*\*pass\*\*", page)
    assert "| its count, at 1,000 messages per site-hour | 16.0 |" in page
    assert "test machine" in page
    assert "Per message: 16.7 µs in all; the site and the normal words 6.0 µs, the evidence 5.5 µs" in page
    assert "`sum(range(10**7))` takes 80 ms" in page


def reference_tokens(text: str) -> list[str]:
    """The tokeniser as first written (slow and obviously right), for the fast one to match."""
    text = text.casefold().translate(engine._APOSTROPHES)
    for pattern, replacement in ((re.compile(r"\bcan't\b"), "can not"), (re.compile(r"\bwon't\b"), "will not"),
                                 (re.compile(r"n't\b"), " not")):
        text = pattern.sub(replacement, text)
    decomposed = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in decomposed if not unicodedata.combining(c)).replace("\ufe0f", "")
    return engine._TOKEN.findall(text.translate(engine._LETTERS))  # ł ı ø đ æ œ: no accent for NFKD to take off


TEXTS = st.text(alphabet=st.sampled_from(list("aeiouncstw' `’‘´ʼ!?.,£€😡👍️") + list("éèêàùçâîôûëïÉÈÊÀÇœæßøÅłŁđ")
                                         + ["\u0301", "ﬁ", "Ａ", "²", "ǅ", "ı", "İ"]), max_size=60)


@settings(max_examples=400, deadline=None)
@given(text=TEXTS | st.text(max_size=40))
def test_the_fast_tokeniser_gives_the_same_tokens_as_the_reference(text):
    assert engine._raw_tokens(text) == reference_tokens(text)
