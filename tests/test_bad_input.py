"""Bad input across every endpoint: a clear 4xx JSON error, never a 500, nothing half-written.

One table of requests (run in tests/test_bad_input_matrix.py, each against a deployment holding a message and a
case, whose tables must be byte-for-byte the same afterwards); here, that the table reaches every route, then
Hypothesis throws arbitrary bodies at the webhook.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.channels.twilio import compute_signature
from tests.conftest import TWILIO_TOKEN, WEBHOOK_URL, auth, post_sms, table_items, twilio_params

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def signed_form(params) -> tuple[bytes, dict]:
    pairs = list(params.items()) if isinstance(params, dict) else params
    return urlencode(pairs).encode(), {"Content-Type": FORM,
                                       "X-Twilio-Signature": compute_signature(TWILIO_TOKEN, WEBHOOK_URL, pairs)}


def sms(**change):
    params = twilio_params(sid="SM" + "4" * 32)
    for key, value in change.items():
        if value is None:
            params.pop(key)
        else:
            params[key] = value
    return signed_form(params)


def survey(**change):
    body = {"site": "line-8", "name": "Today", "numbers": ["+447700900601"],
            "questions": [{"kind": "nps", "text": {"en": "0 to 10?", "fr": "0 a 10 ?"}}]}
    body.update(change)
    return json.dumps(body)


# (name, method, path, body, content type, expected status)
CASES = [
    # the Twilio webhook
    ("sms: empty body", "POST", "/sms/twilio", (b"", {"Content-Type": FORM, "X-Twilio-Signature": "x"}), 400),
    ("sms: 20 kB", "POST", "/sms/twilio", sms(Body="x" * 20_000), 413),
    ("sms: JSON", "POST", "/sms/twilio", (b'{"Body": "hi"}', {"Content-Type": JSON}), 415),
    ("sms: no content type", "POST", "/sms/twilio", (b"Body=hi", {"Content-Type": "text/plain"}), 415),
    ("sms: invalid UTF-8 escaped", "POST", "/sms/twilio", (b"Body=%FF%FE", {"Content-Type": FORM}), 400),
    ("sms: invalid UTF-8 raw", "POST", "/sms/twilio", (b"Body=\xff\xfe", {"Content-Type": FORM}), 400),
    ("sms: malformed form", "POST", "/sms/twilio", (b"Body&&==", {"Content-Type": FORM}), 400),
    ("sms: 1,601 characters", "POST", "/sms/twilio", sms(Body="x" * 1601), 400),
    ("sms: no From", "POST", "/sms/twilio", sms(From=None), 403),
    ("sms: From letters", "POST", "/sms/twilio", sms(From="SHOP"), 400),
    ("sms: From too short", "POST", "/sms/twilio", sms(From="+1"), 400),
    ("sms: From too long", "POST", "/sms/twilio", sms(From="+44770090012345678901234"), 400),
    ("sms: From no such country", "POST", "/sms/twilio", sms(From="+999 123 456"), 400),
    ("sms: From with a NUL", "POST", "/sms/twilio", sms(From="+447700\x00900123"), 400),
    ("sms: To garbage", "POST", "/sms/twilio", sms(To="12"), 400),
    ("sms: MessageSid traversal", "POST", "/sms/twilio", sms(MessageSid="../../etc/passwd"), 403),
    ("sms: MessageSid 200 chars", "POST", "/sms/twilio", sms(MessageSid="S" * 200), 403),
    ("sms: NumMedia negative", "POST", "/sms/twilio", sms(NumMedia="-3"), 403),
    ("sms: unsigned", "POST", "/sms/twilio", (urlencode(twilio_params()).encode(), {"Content-Type": FORM}), 403),
    ("whatsapp: From only", "POST", "/sms/twilio", sms(From="whatsapp:+447700900123"), 403),
    ("whatsapp: To only", "POST", "/sms/twilio", sms(To="whatsapp:+447700900008"), 403),
    ("whatsapp: From letters", "POST", "/sms/twilio", sms(From="whatsapp:SHOP", To="whatsapp:+447700900008"), 400),
    ("whatsapp: WaId letters", "POST", "/sms/twilio", sms(From="whatsapp:+447700900123", To="whatsapp:+447700900008",
                                                          WaId="abc"), 403),
    ("whatsapp: MessageType markup", "POST", "/sms/twilio", sms(From="whatsapp:+447700900123",
                                                                To="whatsapp:+447700900008", MessageType="<b>"), 403),
    ("whatsapp: 11 media", "POST", "/sms/twilio", sms(From="whatsapp:+447700900123", To="whatsapp:+447700900008",
                                                      Body="", NumMedia="11"), 400),
    ("whatsapp: another channel's prefix", "POST", "/sms/twilio", sms(From="eum:+447700900123",
                                                                      To="eum:+447700900008"), 400),
    ("whatsapp: an unknown channel", "POST", "/sms/twilio", sms(From="messenger:1234567890",
                                                                To="messenger:1234567891"), 400),
    # the operator API: queries
    ("feedback: negative limit", "GET", "/api/feedback?limit=-1", None, 400),
    ("feedback: zero limit", "GET", "/api/feedback?limit=0", None, 400),
    ("feedback: huge limit", "GET", "/api/feedback?limit=10000000000000000000000", None, 400),
    ("feedback: limit not a number", "GET", "/api/feedback?limit=ten", None, 400),
    ("feedback: unknown parameter", "GET", "/api/feedback?sort=desc", None, 400),
    ("feedback: forged cursor", "GET", "/api/feedback?cursor=eyJwayI6IkNBU0UjMSJ9", None, 400),
    ("feedback: garbage cursor", "GET", "/api/feedback?cursor=%00%01", None, 400),
    ("feedback: bad since", "GET", "/api/feedback?since=yesterday", None, 400),
    ("feedback: since after until", "GET",
     "/api/feedback?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", None, 400),
    ("feedback: year 1", "GET", "/api/feedback?until=0001-01-01", None, 400),
    ("feedback: year 1 with both ends", "GET", "/api/feedback?since=0001-01-01T00:00:00&until=0001-01-02", None, 400),
    ("feedback: year 9999 shifted", "GET",
     "/api/feedback?since=9999-12-31T23:00:00&until=9999-12-31T23:59:59-05:00", None, 400),
    ("metrics: year 1 east of UTC", "GET", "/api/metrics?since=0001-01-01T05:00:00%2B14:00&until=0001-01-02",
     None, 400),
    ("scorecards: year 1", "GET", "/api/scorecards?until=0001-01-03", None, 400),
    ("export: year 1", "GET", "/api/export.csv?until=0001-01-01", None, 400),
    ("feedback: site traversal", "GET", "/api/feedback?site=..%2F..%2Fetc", None, 400),
    ("feedback: nature injection", "GET", "/api/feedback?nature=%3Cscript%3E", None, 400),
    ("feedback: control character", "GET", "/api/feedback?site=line-8%00", None, 400),
    ("feedback: unknown channel", "GET", "/api/feedback?channel=pigeon", None, 400),
    ("feedback: channel injection", "GET", "/api/feedback?channel=twilio%22%20OR%201", None, 400),
    ("export: long channel", "GET", "/api/export.csv?channel=" + "c" * 100, None, 400),
    ("metrics: unknown channel", "GET", "/api/metrics?channel=TWILIO", None, 400),
    ("metrics: channel and topic", "GET", "/api/metrics?channel=twilio&topic=comfort", None, 400),
    ("metrics: weekly buckets", "GET", "/api/metrics?bucket=week", None, 400),
    ("metrics: ten years", "GET", "/api/metrics?since=2016-01-01T00:00:00Z", None, 400),
    ("metrics: long topic", "GET", "/api/metrics?topic=" + "t" * 100, None, 400),
    ("cases: unknown status", "GET", "/api/cases?status=deleted", None, 400),
    ("cases: limit 201", "GET", "/api/cases?limit=201", None, 400),
    ("export: unknown site", "GET", "/api/export.csv?site=nowhere", None, 400),
    ("export: unknown locale", "GET", "/api/export.csv?locale=de", None, 400),
    ("scorecards: unknown site", "GET", "/api/scorecards?site=nowhere", None, 400),
    ("year: unknown site", "GET", "/api/metrics/year?site=nowhere", None, 400),
    ("year: a filter it has not", "GET", "/api/metrics/year?topic=comfort", None, 400),
    ("year: long site", "GET", "/api/metrics/year?site=" + "s" * 100, None, 400),
    ("surveys: no site", "GET", "/api/surveys", None, 400),
    ("surveys: traversal id", "GET", "/api/surveys/..%2F..%2Fetc", None, 404),
    ("offers: budget without site", "GET", "/api/offers/budget?site=", None, 400),
    ("offers: unknown code", "GET", "/api/offers/not-a-code", None, 404),
    ("audit: traversal id", "GET", "/api/audit/messages/..%2F..%2Fx", (None, {"X-Audit-Token": "test-audit"}), 404),
    # the operator API: bodies
    ("ack: traversal id", "POST", "/api/cases/..%2F..%2Fetc/ack", "{}", 404),
    ("ack: malformed JSON", "POST", "/api/cases/{case}/ack", "{bad", 400),
    ("ack: JSON list", "POST", "/api/cases/{case}/ack", "[1, 2]", 400),
    ("ack: invalid UTF-8", "POST", "/api/cases/{case}/ack", b'{"by": "\xff"}', 400),
    ("ack: text/plain", "POST", "/api/cases/{case}/ack", ('{"by": "x"}', {"Content-Type": "text/plain"}), 415),
    ("resolve: name too long", "POST", "/api/cases/{case}/resolve", json.dumps({"by": "x" * 81}), 400),
    ("resolve: control character", "POST", "/api/cases/{case}/resolve", json.dumps({"note": "a\x07b"}), 400),
    ("resolve: unknown field", "POST", "/api/cases/{case}/resolve", json.dumps({"status": "open"}), 400),
    ("surveys: empty", "POST", "/api/surveys", "{}", 400),
    ("surveys: malformed JSON", "POST", "/api/surveys", '{"site": ', 400),
    ("surveys: four questions", "POST", "/api/surveys",
     survey(questions=[{"kind": "nps", "text": {"en": "?", "fr": "?"}}] * 4), 400),
    ("surveys: numbers not a list", "POST", "/api/surveys", survey(numbers="+447700900601"), 400),
    ("surveys: unknown site", "POST", "/api/surveys", survey(site="nowhere"), 400),
    ("surveys: 600 kB", "POST", "/api/surveys", survey(numbers_csv="1" * 600_000), 413),
    ("surveys: window of a year", "POST", "/api/surveys", survey(window_hours=9000), 400),
    ("surveys: a question of 3 SMS", "POST", "/api/surveys",
     survey(questions=[{"kind": "nps", "text": {"en": "How likely? " * 30, "fr": "0 a 10"}}]), 400),
    ("surveys: an empty follow-up", "POST", "/api/surveys", survey(follow_up={"en": " ", "fr": "Pourquoi ?"}), 400),
    ("surveys: CSV field over the csv limit", "POST", "/api/surveys",
     survey(numbers_csv='"' + "1" * 140_000 + '"'), 400),
    ("offers: no staff", "POST", "/api/offers", json.dumps({"site": "line-8"}), 400),
    ("offers: unknown site", "POST", "/api/offers", json.dumps({"site": "nowhere", "by": "amy"}), 400),
    ("offers: bad case id", "POST", "/api/offers", json.dumps({"site": "line-8", "by": "amy", "case_id": "x"}), 400),
    ("offers: null body", "POST", "/api/offers", "null", 400),
    ("redeem: empty name", "POST", "/api/offers/VAAAAAA/redeem", json.dumps({"by": ""}), 400),
    ("redeem: traversal code", "POST", "/api/offers/..%2Fx/redeem", "{}", 404),
    ("tokens: negative ttl", "POST", "/api/tokens", json.dumps({"ttl_minutes": -1}), 400),
    ("tokens: operator role", "POST", "/api/tokens", json.dumps({"role": "operator"}), 400),
    ("config: unknown section", "GET", "/api/config/secrets", None, 404),
    ("config: history limit 0", "GET", "/api/config/history?limit=0", None, 400),
    ("config: publish, malformed JSON", "PUT", "/api/config/sites", "{bad", 400),
    ("config: publish, no base version", "PUT", "/api/config/sites", json.dumps({"data": {}}), 400),
    ("config: publish, data not an object", "PUT", "/api/config/sites",
     json.dumps({"data": "sites", "base_version": 1}), 400),
    ("config: publish on a stale version", "PUT", "/api/config/replies",
     json.dumps({"data": {"replies": []}, "base_version": 7}), 409),
    ("config: rollback to version 0", "POST", "/api/config/rollback", json.dumps({"version": 0}), 400),
    ("config: rollback to a version never published", "POST", "/api/config/rollback", json.dumps({"version": 9}), 404),
    ("relabel: unknown field", "PATCH", "/api/feedback/twilio-SMnothing", json.dumps({"colour": "red"}), 400),
    ("relabel: malformed JSON", "PATCH", "/api/feedback/twilio-SMnothing", "{bad", 400),
    ("incidents: unknown status", "GET", "/api/incidents?status=deleted", None, 400),
    ("incidents: limit 101", "GET", "/api/incidents?limit=101", None, 400),
    ("incidents: unknown parameter", "GET", "/api/incidents?site=line-8", None, 400),
    ("incident ack: traversal id", "POST", "/api/incidents/..%2F..%2Fetc/ack", "{}", 404),
    ("incident ack: no such incident", "POST", "/api/incidents/AAAAAAAAAAAA/ack", "{}", 404),
    ("incident ack: malformed JSON", "POST", "/api/incidents/AAAAAAAAAAAA/ack", "{bad", 400),
    ("incident ack: unknown field", "POST", "/api/incidents/AAAAAAAAAAAA/ack", json.dumps({"note": "x"}), 400),
    ("incident ack: control character", "POST", "/api/incidents/AAAAAAAAAAAA/ack", json.dumps({"by": "a\x07b"}), 400),
    ("erase: letters", "DELETE", "/api/customers/abc", None, 400),
    ("erase: national number", "DELETE", "/api/customers/07700900123", None, 400),
    ("erase: too short", "DELETE", "/api/customers/%2B1", None, 400),
    ("erase: address without domain", "DELETE", "/api/customers/ann%40", None, 400),
    ("erase: address with a name", "DELETE", "/api/customers/Ann%20%3Cann%40example.com%3E", None, 400),
    ("erase: two addresses", "DELETE", "/api/customers/a%40b.com%2Cc%40d.com", None, 400),
    ("erase: huge address", "DELETE", "/api/customers/" + "a" * 300 + "%40example.com", None, 400),
]


def test_the_matrix_is_wide_enough():
    assert len(CASES) >= 40
    from tests.test_access import ROUTES

    covered = {(m, p.split("?")[0]) for _, m, p, _, _ in CASES}
    for method, route in ROUTES:
        if route in ("/api/config", "/api/status", "/api/feedback"):  # no input but the token, or above
            continue
        assert any(m == method and p.split("/")[:3] == route.split("/")[:3] for m, p in covered), route


def test_a_1600_character_concatenated_sms_is_accepted_whole(client):
    body = "L8 " + "the heating is broken and it is freezing on this coach, " * 40
    body = body[:1600]
    response = post_sms(client, twilio_params(body=body, sid="SM" + "2" * 32))
    assert response.status_code == 200
    [message] = table_items("MSG#")
    assert message["text"] == body.strip()


FIELD_NAMES = st.sampled_from(["Body", "From", "To", "MessageSid", "NumMedia", "AccountSid", "MediaUrl0", "X"])
VALUES = st.one_of(st.text(max_size=300), st.sampled_from(["+447700900123", "+447700900008", "SM" + "3" * 32, "0"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=st.lists(st.tuples(FIELD_NAMES, VALUES), max_size=10), raw=st.binary(max_size=400),
       use_raw=st.booleans(), content_type=st.sampled_from([FORM, FORM + "; charset=utf-8", JSON, "text/plain"]))
def test_the_webhook_never_fails_on_arbitrary_bodies(client, pairs, raw, use_raw, content_type):
    if use_raw:
        body, signature = raw, compute_signature(TWILIO_TOKEN, WEBHOOK_URL, [])
    else:
        body = urlencode(pairs).encode()
        signature = compute_signature(TWILIO_TOKEN, WEBHOOK_URL, pairs)
    response = client.http.post("/sms/twilio", body=body,
                                headers={"Content-Type": content_type, "X-Twilio-Signature": signature})
    assert response.status_code in (200, 400, 403, 413, 415), response.body
    if response.status_code == 200:
        assert response.body.startswith(b"<?xml") and b"<Response" in response.body
    else:
        assert response.json_body["error"]


# -- issue 14.4: deeply nested JSON is a 400, never a RecursionError's 500 ---------------------------
NESTED = "[" * 1100 + "]" * 1100  # 2.2 kB: the probe's body
NESTED_OBJECT = '{"a":' * 1100 + "1" + "}" * 1100


@pytest.mark.parametrize("path", ["/api/tokens", "/api/offers", "/api/offers/ABCD1234/redeem",
                                  "/api/cases/c-1/ack", "/api/cases/c-1/resolve", "/api/surveys"])
@pytest.mark.parametrize("body", [NESTED, NESTED_OBJECT, '{"a": ' + "[" * 30 + "]" * 30 + "}"],
                         ids=["nested-list", "nested-object", "nested-inside"])
def test_deeply_nested_json_is_a_400_on_every_json_route(client, path, body):
    response = client.http.post(path, headers={**auth(), "Content-Type": "application/json"}, body=body)
    assert response.status_code == 400, (path, response.body)
    assert "nested too deeply" in response.json_body["error"]
    assert table_items() == []


# -- issue 14.5: every key of every cursor is checked against its query --------------------------------
def _cursor(state) -> str:
    import base64

    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


@pytest.mark.parametrize("route,state", [
    ("/api/cases", {"k": {"gsi1pk": {"S": "CASES#open"}}}),  # the probe's forged cursor
    ("/api/cases", {"k": {"gsi1pk": {"S": "CASES#open"}, "gsi1sk": {"S": "x"}, "pk": {"S": "MSG#1"},
                          "sk": {"S": "CASE"}}}),
    ("/api/cases", {"k": {"gsi1pk": {"S": "CASES#open"}, "gsi1sk": {"S": "x"}, "pk": {"S": "CASE#1"},
                          "sk": {"S": "CASE"}, "gsi2pk": {"S": "DAY#x"}}}),
    ("/api/feedback?site=line-8", {"k": {"gsi1pk": {"S": "SITE#line-8"}, "gsi1sk": {"S": "2026"}}}),
    ("/api/feedback?site=line-8", {"k": {"gsi1pk": {"S": "SITE#line-8"}, "gsi1sk": {"S": "2026"},
                                         "pk": {"S": "CASE#1"}, "sk": {"S": "MSG"}}}),
])
def test_a_forged_cursor_is_a_400(client, route, state):
    separator = "&" if "?" in route else "?"
    response = client.http.get(f"{route}{separator}cursor={_cursor(state)}", headers=auth())
    assert response.status_code == 400, response.body
    assert "cursor" in response.json_body["error"]


KEY_NAMES = st.sampled_from(["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "x"])
KEY_VALUES = st.one_of(st.sampled_from(["CASES#open", "CASE#1", "CASE", "MSG#twilio-SM1", "MSG", "SITE#line-8",
                                        "2026-11-28T10:00:00Z#x", ""]), st.text(max_size=20))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(["/api/cases", "/api/cases?status=resolved", "/api/feedback",
                              "/api/feedback?site=line-8"]),
       key=st.dictionaries(KEY_NAMES, st.builds(lambda v: {"S": v}, KEY_VALUES), max_size=6),
       day=st.one_of(st.none(), st.text(max_size=12)))
def test_no_cursor_gives_a_500(client, route, key, day):
    state = {"k": key} if day is None else {"k": key, "d": day}
    separator = "&" if "?" in route else "?"
    response = client.http.get(f"{route}{separator}cursor={_cursor(state)}", headers=auth())
    assert response.status_code in (200, 400), (route, state, response.body)


# -- issue 20: what the second outside probe found ------------------------------------------------------------
@pytest.mark.parametrize("route", ["/api/feedback", "/api/feedback?site=line-8", "/api/cases",
                                   "/api/cases?status=acknowledged", "/api/cases?status=resolved"])
@pytest.mark.parametrize("raw", [b"[" * 1000, b'{"k": ' * 200, b'{"d": NaN}', b'{"d": 1e999999}',
                                 b'{"d": "' + b"\xff\xfe" + b'"}', b'{"k": [[[[[[[[[[]]]]]]]]]]}'],
                         ids=["brackets", "objects", "nan", "infinity", "bad-utf8", "lists"])
def test_a_forged_cursor_of_any_depth_or_content_is_a_400_not_a_500(client, route, raw):
    import base64

    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert len(cursor) <= 2048
    separator = "&" if "?" in route else "?"
    response = client.http.get(f"{route}{separator}cursor={cursor}", headers=auth())
    assert response.status_code == 400, response.body
    assert "cursor" in response.json_body["error"]


HOSTILE_BODIES = [
    b"[" * 5000, b"{" * 5000, b'{"a":' * 3000, ("[" * 5000).encode(), b"1e999999", b"9" * 5000,
    b'{"originationNumber": NaN}', b"\xff\xfe\xfd", b"\x00", b"", b"null", b"[]", b"123", b'"text"',
    b'{"originationNumber": 447700900123, "destinationNumber": [], "messageBody": {}, "inboundMessageId": 1}',
    b'{"originationNumber": "+447700900123", "destinationNumber": "+447700900008", "messageBody": "hi", '
    b'"inboundMessageId": "' + b"9" * 5000 + b'"}',
    b"From=%FF&To=%FE&Body=%00&MessageSid=" + b"[" * 3000,
]


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
def test_every_channel_reads_a_hostile_body_as_a_bad_request(body):
    """Issue 20, item 2: whatever breaks a parser (nesting, huge numbers, bad UTF-8, wrong types) is a
    BadRequest for every registered channel, never another exception out of its handler."""
    from datetime import UTC, datetime

    from chalicelib import channels

    names = channels.names()
    assert {"twilio", "eum"} <= set(names)
    for name in names:
        channel = channels.get(name)
        for form in (body, body.decode("utf-8", "replace")):
            request = channels.Request(body=form, headers={"content-type": "application/x-www-form-urlencoded"})
            with pytest.raises(channels.BadRequest):
                channel.read(request, datetime(2026, 12, 1, tzinfo=UTC))


def test_a_nested_end_user_messaging_event_is_logged_and_dropped(svc, caplog):
    from chalicelib.inbound import event

    event("eum", "[" * 5000, svc)  # the probe's SNS message: used to raise RecursionError out of the handler
    event("eum", '{"originationNumber": 1e999999}', svc)
    assert table_items() == []
    assert "unreadable event dropped" in caplog.text


@pytest.mark.parametrize("number", ["%2B447700900123%2F..", "%2B%2B447700900123", "%2B447700900123abc",
                                    "%2B44770090%2C0123", "%2B447700900123%20ext%2012", "%2B447700900123%23",
                                    "%2B447700900123%0A", "%2B447700900123%2F"])
def test_erasure_takes_exactly_a_number_and_nothing_forgiven(client, number):
    """Issue 20, item 7: phonenumbers would read these as +447700900123; an erasure is irreversible."""
    post_sms(client, twilio_params(body="L8 too hot", sid="SM" + "ab" * 16, frm="+447700900123"))
    before = table_items("MSG#")
    response = client.http.delete(f"/api/customers/{number}", headers=auth())
    assert response.status_code == 400, response.body
    assert "not a phone number" in response.json_body["error"]
    assert table_items("MSG#") == before


@pytest.mark.parametrize("number", ["%2B447700900123", "%2B44%207700%20900123", "%2B44%20(0)7700-900.123",
                                    "00447700900123"])
def test_erasure_accepts_the_spellings_a_person_types(client, number):
    post_sms(client, twilio_params(body="L8 too hot", sid="SM" + "cd" * 16, frm="+447700900123"))
    response = client.http.delete(f"/api/customers/{number}", headers=auth())
    assert response.status_code == 200, response.body
    assert response.json_body["erased"].get("msg") == 1
