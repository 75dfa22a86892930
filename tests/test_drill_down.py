"""Drill-down (network -> site -> topic -> the messages): right answers, read by keys made for the question."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from tests.conftest import auth

FILTERS = ["site", "topic", "nature"]


@pytest.fixture()
def history(client, svc):
    """400 messages over 3 days (the demo generator: classified, stored as the worker leaves them)."""
    from infra.demo_data import generate, write

    now = datetime.now(UTC)
    messages, counters, cases = generate(svc.config, 400, 3, now=now, seed=3)
    write(boto3.client("dynamodb"), "voix-dev", messages, counters, cases, config=svc.config, now=now)
    return now, messages


def _queries(svc):
    """Every Query the storage adapter sends, with what DynamoDB said it read."""
    seen: list[dict] = []

    def before(params, **_):
        seen.append({"params": dict(params)})

    def after(parsed, **_):
        seen[-1].update(count=parsed.get("Count"), scanned=parsed.get("ScannedCount"))

    events = svc.store.messages._db.meta.events
    events.register("provide-client-params.dynamodb.Query", before)
    events.register("after-call.dynamodb.Query", after)
    return seen


def _combos(messages):
    """Each combination of site, topic and nature, with values that hold messages (the busiest one)."""
    for size in (1, 2, 3):
        for dims in itertools.combinations(FILTERS, size):
            values: dict[tuple, int] = {}
            for m in messages:
                key = tuple(m[d] or "unknown" for d in dims)
                values[key] = values.get(key, 0) + 1
            yield dict(zip(dims, max(values, key=values.get), strict=True))


def _page_all(client, query, limit):
    ids, cursor = [], None
    while True:
        data = client.http.get(f"/api/feedback?{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else ""),
                               headers=auth()).json_body
        ids.extend(i["id"] for i in data["items"])
        cursor = data["next_cursor"]
        if not cursor:
            return ids


def test_every_drill_down_lists_exactly_the_matching_messages_newest_first(client, svc, history):
    now, messages = history
    since = f"{(now - timedelta(days=4)).isoformat()[:19]}Z"
    for wanted in _combos(messages):
        expected = [m for m in messages if all((m[d] or "unknown") == v for d, v in wanted.items())]
        expected.sort(key=lambda m: (m["received_at"], m["id"]), reverse=True)
        query = "&".join(f"{k}={v}" for k, v in wanted.items()) + f"&since={since}"
        assert _page_all(client, query, 25 if len(wanted) == 3 else 200) == [m["id"] for m in expected], wanted
        metrics = client.http.get(f"/api/metrics?{query}&bucket=day", headers=auth()).json_body
        assert metrics["totals"]["messages"] == len(expected), wanted


def test_a_drill_down_query_carries_no_filter_and_reads_only_matching_messages(client, svc, history):
    now, messages = history
    queries = _queries(svc)
    since = f"{(now - timedelta(days=4)).isoformat()[:19]}Z"
    for wanted in _combos(messages):
        queries.clear()
        query = "&".join(f"{k}={v}" for k, v in wanted.items()) + f"&since={since}"
        items = client.http.get(f"/api/feedback?{query}&limit=30", headers=auth()).json_body["items"]
        assert items and all(all(i[d] == v for d, v in wanted.items()) for i in items)
        assert queries, wanted
        for q in queries:
            assert "FilterExpression" not in q["params"], (wanted, q["params"])
            assert q["params"]["IndexName"] == "day_" + "_".join(d for d in FILTERS if d in wanted)
            assert q["scanned"] == q["count"], wanted  # nothing read and dropped
        assert sum(q["count"] for q in queries) == len(items)


def test_urgency_and_language_narrow_an_index_query_and_stay_right(client, svc, history):
    now, messages = history
    since = f"{(now - timedelta(days=4)).isoformat()[:19]}Z"
    expected = [m["id"] for m in sorted(messages, key=lambda m: (m["received_at"], m["id"]), reverse=True)
                if m["site"] == "line-8" and m["urgency"] == "high"]
    assert expected
    assert _page_all(client, f"site=line-8&urgency=high&since={since}", 7) == expected


def test_a_drill_down_cursor_only_continues_its_own_query(client, svc, history):
    now, messages = history
    since = f"{(now - timedelta(days=4)).isoformat()[:19]}Z"
    first = client.http.get(f"/api/feedback?site=line-8&topic=comfort&since={since}&limit=2",
                            headers=auth()).json_body
    cursor = first["next_cursor"]
    assert cursor
    same = client.http.get(f"/api/feedback?site=line-8&topic=comfort&since={since}&limit=2&cursor={cursor}",
                           headers=auth())
    assert same.status_code == 200 and not {i["id"] for i in same.json_body["items"]} & {
        i["id"] for i in first["items"]}
    for other in ("site=line-8&nature=complaint", "site=line-12&topic=comfort", "topic=comfort", "site=line-8", ""):
        response = client.http.get(f"/api/feedback?{other}&since={since}&limit=2&cursor={cursor}", headers=auth())
        assert response.status_code == 400 and "cursor" in response.json_body["error"], other


def test_a_cursor_that_names_only_a_day_is_refused_it_could_continue_any_query(client, svc, history):
    """A page that ends with its day ends with no DynamoDB key: its cursor names the query it continues."""
    from chalicelib.storage.dynamo import encode_cursor

    now, _ = history
    since = f"{(now - timedelta(days=4)).isoformat()[:19]}Z"
    day_only = encode_cursor({"d": (now - timedelta(days=1)).strftime("%Y-%m-%d"), "k": None})
    response = client.http.get(f"/api/feedback?site=line-8&nature=complaint&since={since}&cursor={day_only}",
                               headers=auth())
    assert response.status_code == 400 and "cursor" in response.json_body["error"]


def test_a_message_sent_through_the_webhook_is_found_by_every_drill_down(client, svc):
    from tests.conftest import drain, post_sms, twilio_params

    sent = post_sms(client, twilio_params(body="L8 it's far too hot on this bus", sid="SM" + "d" * 32))
    assert sent.status_code == 200
    drain()
    [message] = client.http.get("/api/feedback", headers=auth()).json_body["items"]
    for size in (1, 2, 3):
        for dims in itertools.combinations(FILTERS, size):
            query = "&".join(f"{d}={message[d]}" for d in dims)
            items = client.http.get(f"/api/feedback?{query}", headers=auth()).json_body["items"]
            assert [i["id"] for i in items] == [message["id"]], query
            assert items[0]["processed"] and items[0]["text"] == "L8 it's far too hot on this bus"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from tests.conftest import running_stack

    folder = tmp_path_factory.mktemp("drill")
    with running_stack(folder) as (state, output):
        yield state, folder / "stack.json", output


@pytest.mark.stack
def test_over_http_drill_downs_match_what_was_sent_and_a_backfill_adds_to_the_live_counters(stack):
    import os
    import subprocess
    import sys
    import urllib.request
    from pathlib import Path

    from chalicelib.classification import Classifier
    from chalicelib.config_loader import get_config
    from chalicelib.keywords import keyword
    from infra.simulate import demo_messages, send_twilio
    from tests.conftest import stack_api, wait_until

    state, state_file, _ = stack
    classifier = Classifier(get_config())
    texts = [m for m in demo_messages() if keyword(m["text"]) is None and not m["text"].strip().isdigit()][:24]
    texts.append({"to": "+447700900008", "text": "L8 the driver is speeding and on his phone"})
    sent = []
    for i, m in enumerate(texts):
        status, _ = send_twilio(state, m["to"], m["text"], f"+4477009006{i:02d}")
        assert status == 200
        c = classifier.classify(m["text"], m["to"])
        sent.append({"site": c.site or "unknown", "topic": c.topic, "nature": c.nature})
    wait_until(lambda: (lambda items: len(items) == len(sent) and all(i["processed"] for i in items))(
        stack_api(state, "/api/feedback?limit=200")["items"]), 60)
    urgent = wait_until(lambda: [c for c in stack_api(state, "/api/cases")["items"] if c["urgency"] == "high"])
    request = urllib.request.Request(f"{state['api_url']}/api/cases/{urgent[0]['id']}/ack", data=b"{}", method="POST",
                                     headers={"Authorization": f"Bearer {state['operator_token']}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as res:
        assert res.status == 200

    since = "since=" + (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:00:00Z")
    for wanted in _combos(sent):
        expected = sum(1 for s in sent if all(s[d] == v for d, v in wanted.items()))
        query = "&".join(f"{k}={v}" for k, v in wanted.items()) + f"&{since}"
        items = stack_api(state, f"/api/feedback?{query}&limit=200")["items"]
        assert len(items) == expected and all(all(i[d] == v for d, v in wanted.items() if d != "site") for i in items)
        assert stack_api(state, f"/api/metrics?{query}&bucket=day")["totals"]["messages"] == expected, wanted
    live = stack_api(state, f"/api/metrics?{since}&bucket=day")["totals"]
    assert live["messages"] == len(sent) and live["promises"]["kept"] == 1

    root = Path(__file__).resolve().parent.parent
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, "VOIX_STATE_FILE": str(state_file)}
    done = subprocess.run([sys.executable, "-m", "infra.demo_data", "--count", "2000", "--days", "1"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    after = stack_api(state, f"/api/metrics?{since}&bucket=day")["totals"]
    assert after["messages"] == len(sent) + 2000  # added to the live counters, hour by hour
    assert after["promises"]["kept"] == 1  # the live hour items kept what they counted
    hourly = stack_api(state, f"/api/metrics?{since}&bucket=hour")
    assert sum(p["messages"] for p in hourly["series"]) == len(sent) + 2000


@pytest.mark.stack
def test_the_local_stack_runs_the_hourly_ranking_of_the_sites(stack):
    """Its scheduler hands each handler an EventBridge-shaped event (without one, Chalice failed on every run)."""
    from tests.conftest import wait_until

    _, _, output = stack
    wait_until(lambda: any("ranked sites" in line for line in output), 90)
    assert not any("local scheduled" in line and "failed" in line for line in output)
