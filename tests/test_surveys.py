"""Outbound surveys: sending with consent, caps and quiet hours; answers matched, scored, reported."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest

from chalicelib import surveys
from tests.conftest import auth, drain, post_sms, table_items, twilio_params

NOON = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)  # London: not quiet
SURVEY = {
    "site": "line-8", "name": "Journey today",
    "questions": [
        {"kind": "nps", "text": {"en": "How likely are you to recommend line 8? Reply 0 to 10",
                                 "fr": "Recommanderiez-vous la ligne 8 ? 0 a 10"}},
        {"kind": "csat", "text": {"en": "How was your journey today? Reply 1 to 5", "fr": "Votre trajet ? 1 a 5"}},
    ],
    "follow_up": {"en": "Sorry to hear it. What should we have done better?", "fr": "Que faire de mieux ?"},
    "numbers": ["+447700900601", "07700 900602", "+447700900603", "not a number"],
    "numbers_csv": "number,name\n+447700900604,Dee\n",
}
_sid = iter(range(10**6))


def say(client, number, text):
    response = post_sms(client, twilio_params(text, sid=f"SM{next(_sid):032d}", frm=number))
    assert response.status_code == 200
    message = ElementTree.fromstring(response.body).find("Message")
    return message.text if message is not None else ""


@pytest.fixture()
def at_noon(svc, monkeypatch):
    """Sends go out whatever the hour CI runs at (quiet hours have their own test)."""
    monkeypatch.setattr(surveys, "quiet_delay", lambda *args: 0)
    return svc


def create(client, body=SURVEY):
    response = client.http.post("/api/surveys", headers={**auth(), "Content-Type": "application/json"},
                                body=json.dumps(body))
    return response


def test_answers_are_matched_to_their_question_scored_and_reported(client, at_noon):
    created = create(client)
    assert created.status_code == 202
    survey = created.json_body
    assert survey["queued"] == 4 and survey["rejected"] == ["not a number"]
    drain()
    outbox = at_noon.reply_sender.outbox
    assert sorted(m["to"] for m in outbox) == ["+447700900601", "+447700900602", "+447700900603", "+447700900604"]
    assert all(m["text"].startswith("How likely") and m["origin"] == "+447700900008" for m in outbox)

    a, b, c = "+447700900601", "+447700900602", "+447700900603"
    assert say(client, a, "9").startswith("How was your journey")  # the next question, as the reply
    assert say(client, a, "5") == "Thank you for your answers!"
    assert say(client, b, "11") == "Please reply with a number from 0 to 10."  # out of range: asked again
    say(client, b, "the driver was rude")  # words: feedback as usual, noted with the survey
    assert say(client, b, "3").startswith("How was your journey")
    assert say(client, b, "0") == "Please reply with a number from 1 to 5."
    assert say(client, b, "1").startswith("Sorry to hear it")  # a detractor gets the follow-up
    say(client, b, "the coach was 40 minutes late and nobody told us")
    assert say(client, c, "10/10").startswith("How was your journey")
    drain()
    assert say(client, a, "7") != "Thank you for your answers!"  # the survey is over for a: feedback now
    report = client.http.get(f"/api/surveys/{survey['id']}", headers=auth()).json_body
    nps, csat = report["questions"]
    assert report["sent"] == 4 and report["response_rate"] == 0.75
    assert {k: v for k, v in nps["distribution"].items() if v} == {"3": 1, "9": 1, "10": 1}
    assert nps["score"] == 33 and (nps["promoters"], nps["detractors"]) == (2, 1)  # (2 - 1) / 3
    assert {k: v for k, v in csat["distribution"].items() if v} == {"1": 1, "5": 1} and csat["score"] == 50
    assert report["follow_ups"] == 1 and report["text_replies"] == 1
    messages = {m["text"] for m in table_items("MSG#")}
    assert "the driver was rude" in messages and "9" not in messages  # answers are not feedback
    site = client.http.get("/api/surveys?site=line-8", headers=auth()).json_body
    assert site["scores"]["nps"]["score"] == 33 and site["sent"] == 4 and len(site["surveys"]) == 1


def test_a_redelivered_answer_counts_once(client, at_noon):
    survey = create(client).json_body
    drain()
    params = twilio_params("8", sid="SM" + "8" * 32, frm="+447700900601")
    post_sms(client, params)
    post_sms(client, params)
    report = client.http.get(f"/api/surveys/{survey['id']}", headers=auth()).json_body
    assert report["questions"][0]["n"] == 1


def test_a_worded_reply_noted_again_by_a_retried_job_is_kept_and_counted_once(client, at_noon):
    """The worker may note a text again (a retry after the case and alert, whatever counting said): the
    conversation's marker of that message alone keeps it once."""
    survey = create(client).json_body
    drain()
    say(client, "+447700900602", "the driver was rude")
    drain()
    [record] = [m for m in table_items("MSG#") if m["text"] == "the driver was rude"]
    assert not at_noon.surveys.note_text(record["customer_key"], record["id"], record["text"], record["received_at"])
    report = client.http.get(f"/api/surveys/{survey['id']}", headers=auth()).json_body
    assert report["text_replies"] == 1
    conversation = at_noon.store.surveys.get_conversation(record["customer_key"])
    assert [t["text"] for t in conversation["texts"]] == ["the driver was rude"] and conversation["texts_seen"] == 1


def test_sending_skips_opted_out_numbers_and_respects_the_frequency_cap(client, at_noon):
    say(client, "+447700900601", "STOP")
    first = create(client).json_body
    drain()
    second = create(client).json_body
    drain()
    one = client.http.get(f"/api/surveys/{first['id']}", headers=auth()).json_body
    two = client.http.get(f"/api/surveys/{second['id']}", headers=auth()).json_body
    assert one["sent"] == 3 and one["skipped"]["opted_out"] == 1
    assert two["sent"] == 0 and two["skipped"] == {"opted_out": 1, "frequency_cap": 3}
    assert "+447700900601" not in [m["to"] for m in at_noon.reply_sender.outbox]


def test_quiet_hours_hold_the_send_until_morning(client, svc, monkeypatch):
    late = NOON.replace(hour=22)
    monkeypatch.setattr(svc.surveys, "_now", lambda: late)
    survey = create(client, {**SURVEY, "numbers": ["+447700900601"], "numbers_csv": None}).json_body
    import boto3

    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="voix-dev-jobs")["QueueUrl"]
    [job] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert svc.surveys.send_one(survey["id"], "+447700900601") == "quiet_hours"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=job["ReceiptHandle"])
    assert svc.reply_sender.outbox == []
    held = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert held["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"  # back on the queue, delayed
    # and the report says so: one send held by quiet hours until 09:00 at the site (London), not a bare "sent: 0"
    report = client.http.get(f"/api/surveys/{survey['id']}", headers=auth()).json_body
    assert report["sent"] == 0
    until = datetime.fromisoformat(report["held"].pop("until"))
    assert report["held"] == {"count": 1, "reason": "quiet_hours", "timezone": "Europe/London", "until_local": "09:00"}
    assert late < until < late + timedelta(hours=12)
    assert until.astimezone(ZoneInfo("Europe/London")).strftime("%H:%M") == "09:00"
    site = client.http.get("/api/surveys?site=line-8", headers=auth()).json_body
    assert site["held"] == 1 and site["surveys"][0]["held"]["until_local"] == "09:00"


@pytest.mark.parametrize("body,fragment", [
    ({**SURVEY, "numbers": [], "numbers_csv": None}, "give numbers"),
    ({**SURVEY, "site": "nowhere"}, "unknown site"),
    ({**SURVEY, "questions": SURVEY["questions"] * 2}, "questions"),
    ({**SURVEY, "questions": [{"kind": "stars", "text": {"en": "x", "fr": "x"}}]}, "kind"),
    ({**SURVEY, "window_hours": 0}, "window_hours"),
    ({**SURVEY, "surprise": 1}, "surprise"),
])
def test_bad_survey_requests_are_refused(client, body, fragment):
    response = create(client, body)
    assert response.status_code == 400 and fragment in response.json_body["error"]
    assert table_items("SURVEY#") == []


def test_unknown_survey_and_site_queries(client):
    assert client.http.get("/api/surveys/ABCDEF012345", headers=auth()).status_code == 404
    assert client.http.get("/api/surveys/..%2Fetc", headers=auth()).status_code == 404
    assert client.http.get("/api/surveys", headers=auth()).status_code == 400


# -- pure --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,value", [("9", 9), (" 10! ", 10), ("7/10", 7), ("4/5", 4), ("0", 0),
                                        ("nine", None), ("9 stars", None), ("-1", None), ("", None)])
def test_score_of(text, value):
    assert surveys.score_of(text) == value


def test_scores():
    assert surveys.score("nps", {10: 5, 9: 1, 8: 2, 3: 2})["score"] == 40  # (6 - 2) / 10
    assert surveys.score("csat", {5: 3, 4: 1, 2: 4})["score"] == 50
    assert surveys.score("ces", {7: 1, 5: 1})["score"] == 6.0
    assert surveys.score("nps", {})["score"] is None


def test_quiet_delay():
    base = datetime(2026, 7, 1, tzinfo=UTC)  # London is UTC+1 in July
    assert surveys.quiet_delay(base.replace(hour=12), "Europe/London", 21, 9) == 0
    assert surveys.quiet_delay(base.replace(hour=20), "Europe/London", 21, 9) == 12 * 3600  # 21:00 local
    assert surveys.quiet_delay(base.replace(hour=7, minute=30), "Europe/London", 21, 9) == 30 * 60
    assert surveys.quiet_delay(base.replace(hour=13), "Europe/London", 13, 15) == 3600  # 14:00 local


def test_numbers_from_csv():
    assert surveys.numbers_from_csv("phone\n+447700900601\n\n07700900602\n") == ["+447700900601", "07700900602"]
    assert surveys.numbers_from_csv("+447700900601,Ann\n+447700900602,Bob") == ["+447700900601", "+447700900602"]
    assert surveys.numbers_from_csv("") == []


def test_stop_in_the_middle_of_a_survey_ends_it(client, at_noon):
    survey = create(client, {**SURVEY, "numbers": ["+447700900601"], "numbers_csv": None}).json_body
    drain()
    assert say(client, "+447700900601", "9").startswith("How was your journey")
    assert "unsubscribed" in say(client, "+447700900601", "stop")
    assert not say(client, "+447700900601", "4").startswith("Thank you for your answers")  # no longer an answer
    report = client.http.get(f"/api/surveys/{survey['id']}", headers=auth()).json_body
    assert report["questions"][1]["n"] == 0


def test_an_answer_delivered_twice_is_one_answer_to_one_question(client, at_noon):
    survey = create(client, {**SURVEY, "numbers": ["+447700900601"], "numbers_csv": None}).json_body
    drain()
    params = twilio_params("9", sid="SM" + "9" * 32, frm="+447700900601")
    first = post_sms(client, params)
    again = post_sms(client, params)  # Twilio (or SNS) delivers the same message again
    assert first.body == again.body and b"How was your journey" in again.body
    report = client.http.get(f"/api/surveys/{survey['id']}", headers=auth()).json_body
    assert [q["n"] for q in report["questions"]] == [1, 0]  # not taken as the answer to question 2
    assert report["questions"][0]["distribution"]["9"] == 1
    assert say(client, "+447700900601", "4").startswith("Thank you")  # the real second answer
    report = client.http.get(f"/api/surveys/{survey['id']}", headers=auth()).json_body
    assert [q["n"] for q in report["questions"]] == [1, 1]


def test_a_sites_scores_cover_every_survey_not_the_latest_hundred(client, svc):
    question = {"kind": "csat", "text": {"en": "How was it? 1 to 5", "fr": "1 a 5"}}
    for i in range(105):
        svc.store.surveys.put_survey({"id": f"S{i:04d}", "site": "line-8", "name": f"survey {i}",
                                      "created_at": f"2026-11-{1 + i % 20:02d}T10:00:{i % 60:02d}.000Z",
                                      "questions": [question], "stats": {"sent": 1, "q0_n": 1, "q0_v5": 1}})
    report = client.http.get("/api/surveys?site=line-8", headers=auth()).json_body
    assert len(report["surveys"]) == 105 and report["sent"] == 105
    assert report["scores"]["csat"]["distribution"]["5"] == 105


def test_national_numbers_are_read_in_the_country_of_the_sites_number(client, at_noon, svc, monkeypatch):
    from chalicelib.configuration import Site

    belgian = Site(id="line-8", name="Line 8", short_name={"en": "line 8", "fr": "ligne 8"}, kind="coach",
                   language="fr", numbers=["+3225550100"], codes=["L8"])
    config_type, original = type(svc.config), type(svc.config).site
    monkeypatch.setattr(config_type, "site", lambda self, site_id: belgian if site_id == "line-8" else original(
        self, site_id))
    created = create(client, {**SURVEY, "numbers": ["0470 12 34 56"], "numbers_csv": None})
    assert created.status_code == 202, created.json_body
    drain()
    assert [m["to"] for m in at_noon.reply_sender.outbox] == ["+32470123456"]  # not +33470123456


def test_a_question_is_sent_in_plain_gsm_characters(client, at_noon):
    question = {"kind": "csat", "text": {"en": "How’s your journey today? Reply 1 to 5 – thanks", "fr": "1 a 5"}}
    created = create(client, {**SURVEY, "questions": [question], "numbers": ["+447700900601"], "numbers_csv": None})
    assert created.status_code == 202
    drain()
    [sent] = at_noon.reply_sender.outbox
    assert sent["text"] == "How's your journey today? Reply 1 to 5 - thanks"  # one GSM-7 segment, not two UCS-2


def test_the_survey_cap_is_a_rolling_window(client, svc, monkeypatch):
    from datetime import timedelta

    monkeypatch.setattr(surveys, "quiet_delay", lambda *args: 0)
    days = svc.config.deployment.survey_cap_days
    block_end = datetime.fromtimestamp((int(NOON.timestamp()) // (days * 86_400) + 1) * days * 86_400 - 3600, UTC)
    moments = {"now": block_end}
    monkeypatch.setattr(svc.surveys, "_now", lambda: moments["now"])
    first = create(client, {**SURVEY, "numbers": ["+447700900601"], "numbers_csv": None}).json_body
    assert svc.surveys.send_one(first["id"], "+447700900601") == "sent"  # an hour before its block ends
    moments["now"] = block_end + timedelta(hours=2)
    second = create(client, {**SURVEY, "numbers": ["+447700900601"], "numbers_csv": None}).json_body
    assert svc.surveys.send_one(second["id"], "+447700900601") == "cap"  # the next block, not the next window


def test_a_survey_asks_each_customer_once_within_the_cap_and_never_an_opted_out_or_erased_one(domain):
    """The send rules on the storage fakes (no AWS): consent, a suppression kept through an erasure, an
    erasure after the survey was asked for, once per survey and customer, the frequency cap."""
    from functools import partial

    from chalicelib.clock import iso
    from chalicelib.erasure import mark
    from chalicelib.phone import customer_key

    secret, asked, queued = b"test-secret", [], []

    class Sender:
        def send(self, *, to, origin, text, reference):
            asked.append(to)

    class Jobs:
        def send_many(self, jobs):
            queued.extend(jobs)

    ok, stopped, erased = "+447700900601", "+447700900602", "+447700900603"
    service = surveys.SurveyService(
        config=domain.config, surveys=domain.store.surveys, customers=domain.store.customers,
        quotas=domain.store.offers, jobs=Jobs(), sender=Sender(), secret=secret, now=lambda: NOON)
    request = surveys.SurveyRequest.model_validate({**SURVEY, "numbers": [ok, stopped, erased], "numbers_csv": None})
    first = service.create(request)
    keys = {n: customer_key(n, secret) for n in (ok, stopped, erased)}
    # the jobs name each customer by key, never by number; the numbers wait in the store for their sends
    assert [job["recipient"] for job in queued] == [keys[ok], keys[stopped], keys[erased]]
    assert not any(n in str(queued) or n[1:] in str(queued) for n in (ok, stopped, erased))
    domain.store.customers.set_consent(customer_key(stopped, secret), "opted_out", at=iso(NOON), source="sms",
                                       message_id="stop-1", expires_at=0)
    domain.store.customers.erase_customer(customer_key(erased, secret), mark=partial(mark, secret),
                                          at=iso(NOON + timedelta(seconds=1)), expires_at=0)
    assert domain.store.surveys.recipient_number(first["id"], keys[erased]) is None  # erased with the customer
    assert [service.send_one(first["id"], keys[n]) for n in (ok, stopped, erased)] == ["sent", "opted_out", "erased"]
    assert all(domain.store.surveys.recipient_number(first["id"], k) is None for k in keys.values())  # done: gone
    assert service.send_one(first["id"], keys[ok]) == "already_sent" and asked == [ok]
    assert service.send_one(first["id"], ok) == "already_sent"  # a job queued before keys (a number) still works
    assert domain.store.surveys.get_survey(first["id"])["stats"] == {
        "sent": 1, "skipped_opted_out": 1, "skipped_erased": 1}
    second = service.create(request)
    assert service.send_one(second["id"], keys[ok]) == "cap" and asked == [ok]  # one survey per number per period
