"""Works as the business runs it: noise pages nobody, a complaint about the staff on duty never goes to
them, and no reply promises what nobody can do (issue 13, findings 3, 4 and 5)."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
import shutil
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest

from chalicelib import surveys
from chalicelib.cases import CaseService, OwnCase, is_about
from chalicelib.classification import Classification, Classifier
from chalicelib.config_loader import DEFAULT_CONFIG_DIR, ConfigError, load_config
from chalicelib.configuration import NATURES
from chalicelib.recipients import about_whom, recipients_for
from chalicelib.replies import build_reply, delay, matching_rule, promise_minutes
from tests.conftest import auth, drain, post_sms, sent_emails, sent_sms, table_items, twilio_params

CONFIG = load_config()
CLASSIFIER = Classifier(CONFIG)
SECRET = b"test"
LINE8, LINE12, LEEDS, OPERA = "+447700900008", "+33639980012", "+447700900101", "+33639980101"
DRIVER8 = "+447700900801"
INVITE_EN = "Thanks for your message. Could you tell us a bit more: what happened, and where?"
INVITE_FR = "Merci pour votre message. Pouvez-vous nous en dire plus : que s'est-il passé, et où ?"
NOISE = ["ok", "", "   ", "hi", "test", "5", "OK 2042", "5 out of 5", "?", "ok?", "L8"]
SPANISH = "Hola, el autobús llega tarde otra vez"
TEXTING = "L8 the driver is texting on his phone while driving"


def classify(text, to=LINE8):
    return CLASSIFIER.classify(text, to)


# -- finding 3: noise ------------------------------------------------------------------------------
@pytest.mark.parametrize("text", NOISE)
def test_a_message_with_no_evidence_is_unclear_and_says_why(text):
    c = classify(text)
    assert (c.nature, c.urgency, c.about_staff) == ("unclear", "normal", False), c.rules
    assert any(rule.startswith("nature: unclear (no evidence") for rule in c.rules)
    assert recipients_for(CONFIG, c) == []  # no case, nobody paged


@pytest.mark.parametrize("text,to", [
    ("too hot", LINE8), ("rude driver", LINE8), ("bus late", LINE8), ("sale", OPERA), ("freezing!", LINE8),
    ("dirty toilets", LINE8), ("trop chaud", LINE12), ("chauffeur impoli", LINE12), ("en retard encore", LINE12),
    ("c'est sale", OPERA), ("queue way too long", LEEDS), ("wifi broken", LINE8),
    ("le bus passe tjrs par Macon le samedi ?", LINE12),  # a question without a question word
])
def test_real_short_complaints_and_questions_keep_their_nature(text, to):
    c = classify(text, to)
    assert c.nature in ("complaint", "question"), c.rules
    assert recipients_for(CONFIG, c)


@pytest.mark.parametrize("text,to,site_language,topic", [
    (SPANISH, LINE8, "en", "punctuality"), (SPANISH, LINE12, "fr", "punctuality"),
    ("Der Bus ist schmutzig und sehr laut", OPERA, "fr", "cleanliness"),
    ("Der Bus ist schmutzig und sehr laut", LEEDS, "en", "cleanliness"),
])
def test_another_language_is_recognised_classified_and_answered_in_the_site_language(text, to, site_language, topic):
    c = classify(text, to)
    assert c.language == "other" and any(r.startswith("language: other (") for r in c.rules), c.rules
    # a short lexicon and the learned model read it (issue 23): no longer "unclear"
    assert (c.topic, c.nature) == (topic, "complaint"), c.rules
    assert build_reply(CONFIG, c, "m", SECRET).text == build_reply(
        CONFIG, dataclasses.replace(c, language=site_language), "m", SECRET).text


@pytest.mark.parametrize("text", ["Hola, el conductor es muy amable", "Der Fahrer ist sehr nett, danke"])
def test_a_compliment_in_another_language_is_a_compliment(text):
    c = classify(text)
    assert (c.language, c.topic, c.nature, c.urgency) == ("other", "staff", "compliment", "normal"), c.rules


def test_the_invitation_is_in_the_customer_language():
    assert build_reply(CONFIG, classify("hi"), "m", SECRET).text == INVITE_EN
    assert build_reply(CONFIG, classify("bonjour", LINE8), "m", SECRET).text == INVITE_FR
    assert build_reply(CONFIG, classify("test", LINE12), "m", SECRET).text == INVITE_FR  # the site's


def say(client, text, frm="+447700900123", to=LINE8, sid=None):
    response = post_sms(client, twilio_params(text, sid=sid or f"SM{abs(hash((text, frm))):032d}"[:34], frm=frm,
                                              to=to))
    assert response.status_code == 200
    message = ElementTree.fromstring(response.body).find("Message")
    return message.text if message is not None else ""


def test_noise_is_stored_counted_listed_filterable_and_pages_nobody(client):
    for i, text in enumerate(NOISE):
        assert say(client, text, frm=f"+4477009003{i:02d}") == INVITE_EN, text
    drain()
    stored = table_items("MSG#")
    assert len(stored) == len(NOISE) and {m["nature"] for m in stored} == {"unclear"}
    assert table_items("CASE#") == [] and sent_sms() == [] and sent_emails() == []
    assert "unclear" in client.http.get("/api/config", headers=auth()).json_body["natures"]
    listed = client.http.get("/api/feedback?nature=unclear&limit=50", headers=auth()).json_body["items"]
    assert len(listed) == len(NOISE)
    metrics = client.http.get("/api/metrics?nature=unclear", headers=auth()).json_body["totals"]
    assert metrics["messages"] == len(NOISE)
    totals = client.http.get("/api/metrics", headers=auth()).json_body["totals"]
    assert totals["nature"]["unclear"] == len(NOISE) and totals["nature"]["complaint"] == 0
    [card] = client.http.get("/api/scorecards?site=line-8", headers=auth()).json_body["sites"]
    assert card["messages"] == len(NOISE) and card["complaints"] == 0


# -- finding 3: a late survey answer ----------------------------------------------------------------
def test_a_score_after_the_survey_closed_is_a_late_answer_not_feedback(client, svc, monkeypatch):
    monkeypatch.setattr(surveys, "quiet_delay", lambda *args: 0)
    customer = "+447700900611"
    body = {"site": "line-8", "name": "Journey", "numbers": [customer],
            "questions": [{"kind": "nps", "text": {"en": "Recommend line 8? 0 to 10", "fr": "Recommander ? 0 a 10"}}]}
    created = client.http.post("/api/surveys", headers={**auth(), "Content-Type": "application/json"},
                               body=json.dumps(body)).json_body
    drain()
    assert say(client, "9", frm=customer, sid="SM" + "a1" * 16) == "Thank you for your answers!"
    late = "Thank you! That survey has closed, but your answer is noted."
    assert say(client, "5 out of 5", frm=customer, sid="SM" + "a2" * 16) == late
    assert say(client, "5 out of 5", frm=customer, sid="SM" + "a2" * 16) == late  # Twilio's retry
    assert say(client, "8", frm=customer, sid="SM" + "a3" * 16) == late
    drain()
    assert table_items("MSG#") == [] and table_items("CASE#") == [] and sent_sms() == []
    report = client.http.get(f"/api/surveys/{created['id']}", headers=auth()).json_body
    assert report["late_answers"] == 2 and report["questions"][0]["n"] == 1  # the score itself is unchanged
    # surveyed longer ago than survey_late_answer_days: a bare number is (unclear) feedback again
    key = next(i["customer_key"] for i in table_items("SURVEYCUST#"))
    conversation = svc.store.surveys.get_conversation(key)
    days = CONFIG.deployment.survey_late_answer_days
    svc.store.surveys.put_conversation(key, {**{k: v for k, v in conversation.items() if k not in ("pk", "sk")},
                                             "sent_at": (datetime.now(UTC) - timedelta(days=days + 1)).isoformat()})
    assert say(client, "7", frm=customer, sid="SM" + "a4" * 16) == INVITE_EN
    drain()
    assert [m["nature"] for m in table_items("MSG#")] == ["unclear"] and table_items("CASE#") == []


def test_a_bare_number_from_someone_never_surveyed_is_unclear(client):
    assert say(client, "5", frm="+447700900612") == INVITE_EN
    drain()
    assert table_items("CASE#") == [] and sent_sms() == []


# -- finding 4: a complaint about the staff on duty -------------------------------------------------
def test_a_complaint_about_the_driver_goes_to_the_manager_and_care_never_the_driver():
    c = classify(TEXTING, "+447700900000")
    assert c.about_staff and c.urgency == "high"
    assert any(r.startswith("about: the staff on duty (safety: ") for r in c.rules), c.rules
    assert {(r.channel, r.to) for r in recipients_for(CONFIG, c)} == {
        ("email", "line8@example.com"), ("email", "care@example.com")}
    rude = classify("L8 the driver was really rude to my mum")
    assert rude.about_staff and DRIVER8 not in {r.to for r in recipients_for(CONFIG, rude)}
    # found on `make run`: the heat came first, the driver's conduct second, and the driver was texted
    ignored = classify("L8 it's far too hot on this coach and the driver ignored us")
    assert ignored.about_staff and DRIVER8 not in {r.to for r in recipients_for(CONFIG, ignored)}, ignored.rules
    assert not classify("my emails were ignored, the wifi never works").about_staff
    reply = build_reply(CONFIG, c, "m", SECRET).text
    assert "driver" not in reply and "999" in reply  # the reply does not say the driver is acting on it


@pytest.mark.parametrize("text,to", [
    ("Le chauffeur nous a hurlé dessus parce qu'on posait une question sur les bagages", "+33639980012"),
    ("asked driver for help with the step and he rolled his eyes", LINE8),
    ("vendeuse m'a ignorée 10 min pour finir sa conversation avec sa collègue", OPERA),
])
def test_a_staff_complaint_naming_the_staff_on_duty_is_not_sent_to_them_even_in_words_no_phrase_lists(text, to):
    # found on `make run`: "the driver yelled at us" (no conduct phrase lists "hurlé") was texted to the driver's phone
    c = classify(text, to)
    assert (c.topic, c.nature, c.about_staff) == ("staff", "complaint", True), c.rules
    assert any(r.startswith("about: the staff on duty (") for r in c.rules), c.rules
    assert not any(r.role == "site_staff" for r in recipients_for(CONFIG, c))
    reply = build_reply(CONFIG, c, "m", SECRET).text
    assert not any(word in reply for word in ("driver", "conducteur", "chauffeur")), reply


@pytest.mark.parametrize("text,to", [
    ("L8 the heating is broken, freezing", LINE8), ("L8 a man is smoking at the back", LINE8),
    ("L8 smoke coming from the engine", LINE8), ("je vais voir ailleurs, jamais de vendeur dispo", OPERA),
])
def test_a_complaint_not_about_the_staff_still_reaches_them(text, to):
    c = classify(text, to)
    assert not c.about_staff, c.rules
    assert any(r.channel == "sms" and r.role == "site_staff" for r in recipients_for(CONFIG, c))


def _config_with_routing(tmp_path, routing):
    folder = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, folder)
    (folder / "routing.toml").write_text(routing, encoding="utf-8")
    return folder


def test_a_routing_rule_sending_staff_complaints_to_the_staff_is_refused(tmp_path):
    folder = _config_with_routing(tmp_path, '[[routing]]\nname = "x"\nwhen = { about_staff = true }\n'
                                            'sms = ["site_staff"]\n')
    with pytest.raises(ConfigError, match="never to the person it is about"):
        load_config(folder)


def test_no_rule_can_send_a_complaint_about_the_staff_to_them(tmp_path):
    config = load_config(_config_with_routing(tmp_path, '[[routing]]\nname = "everything"\nsms = ["site_staff"]\n'
                                                        'email = ["site_manager"]\n'))
    c = Classifier(config).classify(TEXTING)
    assert [(r.channel, r.to) for r in recipients_for(config, c)] == [("email", "line8@example.com")]
    only_staff = load_config(_config_with_routing(tmp_path / "b", '[[routing]]\nname = "x"\nsms = ["site_staff"]\n'))
    assert [r.to for r in recipients_for(only_staff, c)] == ["care@example.com"]  # still reaches someone


def test_who_a_case_is_about_is_recorded_with_the_roster_and_they_may_not_act():
    c = classify("LEEDS the store manager was rude and ignored me", LEEDS)
    monday_ten = datetime(2026, 11, 23, 10, tzinfo=UTC)  # 10:00 in Leeds: Amy's early shift
    about = about_whom(CONFIG, c, monday_ten)
    assert about == {"role": "site_staff", "numbers": ["+447700900901"], "names": ["Amy (early)"]}
    case = {"about": about}
    assert is_about(case, "+447700900901") and is_about(case, "SMS +447700900901")
    assert is_about(case, "Amy") and is_about(case, "amy (early)")
    assert not is_about(case, "Sam") and not is_about(case, "+447700900801") and not is_about(case, None)


def test_the_driver_cannot_acknowledge_or_resolve_a_complaint_about_himself(client, svc):
    say(client, TEXTING, to="+447700900000")
    drain()
    assert sent_sms() == []  # nothing to the driver, so not the customer's number either
    mails = sent_emails()
    assert sorted(m.destinations["ToAddresses"][0] for m in mails) == ["care@example.com", "line8@example.com"]
    assert all("it was not sent to them" in m.body for m in mails)
    [case] = table_items("CASE#")
    assert case["about"]["numbers"] == [DRIVER8]
    for command in (f"RESOLU {case['code']}", f"OK {case['code']}"):
        reply = say(client, command, frm=DRIVER8, sid="SM" + hashlib.md5(command.encode()).hexdigest())
        assert "complaint about you" in reply
    assert svc.store.cases.get_case(case["id"])["status"] == "open"
    headers = {**auth(), "Content-Type": "application/json"}
    refused = client.http.post(f"/api/cases/{case['id']}/resolve", headers=headers, body=json.dumps({"by": DRIVER8}))
    assert refused.status_code == 403 and "about you" in refused.json_body["error"]
    assert svc.store.cases.get_case(case["id"])["status"] == "open"
    with pytest.raises(OwnCase):
        CaseService(config=svc.config, cases=svc.store.cases, counters=svc.store.counters).act(
            case["id"], "acknowledged", by=f"SMS {DRIVER8}")
    ok = client.http.post(f"/api/cases/{case['id']}/ack", headers=headers, body=json.dumps({"by": "Sam (manager)"}))
    assert ok.status_code == 200 and ok.json_body["status"] == "acknowledged"


# -- finding 5: promises ----------------------------------------------------------------------------
def _all_classifications():
    for site, nature, topic, (urgency, reason), about, language in itertools.product(
        [None, *(s.id for s in CONFIG.sites)], NATURES, ["comfort", "staff", "safety"],
        [("normal", None), ("high", "churn"), ("high", "safety")], [False, True], ["en", "fr", "other"],
    ):
        if (urgency == "high" and nature != "complaint") or (about and nature != "complaint"):
            continue
        yield Classification(site, topic, nature, urgency, language, [], reason, about)


def test_a_reply_promises_a_text_answer_only_where_a_staff_reply_keeps_the_promise():
    """Staff can text back now (issue 21), so a reply may promise an answer by text: only when its case measures
    that promise by a staff reply actually sent (``promise = "reply"``), never by an acknowledgement alone."""
    promising = re.compile(r"text you|will reply|will answer|vous r[ée]pond|follows up|assure le suivi", re.I)
    promised_by_text = set()
    for rule in CONFIG.replies.replies:
        for text in (rule.text.en, rule.text.fr, *((rule.no_offer.en, rule.no_offer.fr) if rule.no_offer else ())):
            if promising.search(text):
                assert rule.promise == "reply" and "{delay}" in text, (rule.name, text)
                promised_by_text.add(rule.name)
    # and every rule for a channel with no number to call (e-mail): a written answer, never a call (issue 24 review)
    written = {rule.name for rule in CONFIG.replies.replies if rule.when.can_call is False}
    assert written and promised_by_text == {"question"} | written


def test_a_call_back_is_promised_only_where_the_caller_gets_the_full_number():
    """The full number goes only into urgent alerts (and to nobody a complaint is about)."""
    from chalicelib.worker import alert_email, alert_sms

    for c in _all_classifications():
        reply = build_reply(CONFIG, c, "twilio-SM1", SECRET).text
        if not re.search(r"call you|vous appelle", reply):
            continue
        assert c.urgency == "high", (c, reply)
        recipients = recipients_for(CONFIG, c)
        assert recipients and not (c.about_staff and any(r.role == "site_staff" for r in recipients))
        case = {"site": c.site, "nature": c.nature, "topic": c.topic, "urgency": c.urgency, "text": "x",
                "urgency_reason": c.urgency_reason, "customer_number": "+447700900555", "id": "C",
                "customer_masked": "+44 77•• •••555", "received_at": "now"}
        for r in recipients:
            text = alert_sms(CONFIG, case) if r.channel == "sms" else alert_email(CONFIG, case)[1]
            assert "+447700900555" in text, (r, reply)


def test_a_channel_with_no_number_to_call_is_promised_a_written_answer_and_staff_are_told_so():
    """Review of issue 24: e-mail (``can_call`` false) never gets "will call you"; its rule promises a reply (kept
    by a staff reply in time), and the alert says a written answer is awaited, never "Call the customer back"."""
    from chalicelib.alert_texts import alert_email, alert_sms

    written = 0
    for c in _all_classifications():
        reply = build_reply(CONFIG, c, "email-x", SECRET, can_call=False).text
        assert not re.search(r"call you|vous appelle|rappel", reply, re.I), (c, reply)
        rule = matching_rule(CONFIG, c, can_call=False)
        if rule.when.can_call is False:
            written += 1
            assert rule.promise == "reply" and "write back" in rule.text.en and "par écrit" in rule.text.fr
    assert written
    case = {"site": "line-8", "nature": "complaint", "topic": "staff", "urgency": "high", "text": "x", "id": "C",
            "customer_masked": "a•••@gmail.com", "received_at": "2026-12-04T08:00:00.000Z", "code": "4821",
            "promise": "reply", "promised_at": "2026-12-04T08:10:00.000Z"}
    sms, (_, mail) = alert_sms(CONFIG, case), alert_email(CONFIG, case)
    assert "awaits a written answer" in sms and "Call the customer" not in sms  # (GSM-7: • is sent as -)
    assert "a written answer by" in mail and "acknowledged by" not in mail


def test_every_time_a_reply_names_is_the_promise_its_case_measures():
    for c in _all_classifications():
        rule = matching_rule(CONFIG, c)
        reply = build_reply(CONFIG, c, "twilio-SM1", SECRET).text
        named = re.search(r"within|sous|d'ici|now|maintenant", reply)
        if "{delay}" in rule.text.en:
            language = c.language if c.language in ("en", "fr") else (
                CONFIG.site(c.site).language if c.site else "en")
            assert delay(promise_minutes(CONFIG, c.site, c.urgency), language) in reply, (rule.name, reply)
        if named:  # a time promised: a case opens, and it measures that promise as kept or missed
            assert recipients_for(CONFIG, c), (rule.name, reply)
        assert "{minutes}" not in rule.text.en and "{hours}" not in rule.text.en, rule.name


# -- the same on the real local stack, over HTTP ----------------------------------------------------
def _moto(state):
    with urllib.request.urlopen(state["moto_endpoint"] + "/moto-api/data.json", timeout=10) as res:
        return json.loads(res.read())


def _sms_sent(state):
    return [(m["phone_number"], m["message"]) for m in _moto(state).get("sns", {}).get("SMS", [])]


def _emails_sent(state):
    """E-mails about cases: the daily digests the scheduler sends at the stack's start are not alerts."""
    from chalicelib.digest import is_digest

    return [m for m in _moto(state).get("ses", {}).get("Message", []) if not is_digest(m.get("body") or "")]


def _post(state, path, body):
    request = urllib.request.Request(state["api_url"] + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {state['operator_token']}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from tests.conftest import running_stack

    with running_stack(tmp_path_factory.mktemp("noise")) as (state, output):
        yield state


def _twiml(body):
    message = ElementTree.fromstring(body).find("Message")
    return message.text if message is not None else ""


@pytest.mark.stack
def test_on_the_stack_noise_opens_no_case_texts_no_staff_and_invites_more(stack):
    from infra.simulate import send_twilio
    from tests.conftest import stack_api, wait_until

    state = stack
    noise = ["ok", "", "hi", "test", "5", "OK 2042"]
    for i, text in enumerate(noise):
        status, body = send_twilio(state, LINE8, text, f"+4477009007{i:02d}")
        assert status == 200 and _twiml(body) == INVITE_EN, (text, body)

    def processed():
        items = stack_api(state, "/api/feedback?nature=unclear")["items"]
        return items if len(items) == len(noise) and all(i["processed"] for i in items) else None

    items = wait_until(processed)
    assert {i["nature"] for i in items} == {"unclear"}
    assert stack_api(state, "/api/cases")["items"] == []
    assert _sms_sent(state) == [] and _emails_sent(state) == []
    assert stack_api(state, "/api/metrics")["totals"]["nature"]["unclear"] == len(noise)


@pytest.mark.stack
def test_on_the_stack_a_complaint_about_the_driver_never_reaches_him_and_he_cannot_close_it(stack):
    from infra.simulate import send_twilio
    from tests.conftest import stack_api, wait_until

    state = stack
    customer = "+447700900799"
    status, body = send_twilio(state, LINE8, TEXTING, customer)
    assert status == 200 and "999" in _twiml(body) and "driver" not in _twiml(body)

    def alerted():
        cases = [c for c in stack_api(state, "/api/cases")["items"] if c["text"] == TEXTING]
        return cases[0] if cases and cases[0]["alerts"] and {a["status"] for a in cases[0]["alerts"]} == {"sent"} \
            else None

    case = wait_until(alerted)
    assert {a["to"] for a in case["alerts"]} == {"line8@example.com", "care@example.com"}
    assert not any(number == DRIVER8 for number, _ in _sms_sent(state))
    assert not any(customer in message for _, message in _sms_sent(state))
    mailed = {to for m in _emails_sent(state) for to in m["destinations"]["ToAddresses"]}
    assert {"line8@example.com", "care@example.com"} <= mailed
    for command in (f"RESOLU {case['code']}", f"OK {case['code']}"):
        status, body = send_twilio(state, LINE8, command, DRIVER8)
        assert status == 200 and "complaint about you" in _twiml(body)
    status, refused = _post(state, f"/api/cases/{case['id']}/resolve", {"by": DRIVER8})
    assert status == 403 and "about you" in refused["error"]
    [still] = [c for c in stack_api(state, "/api/cases")["items"] if c["id"] == case["id"]]
    assert still["status"] == "open"
    # the control: a complaint the driver can fix is texted to him (so the SMS read above is the real outbox)
    send_twilio(state, LINE8, "L8 freezing on this coach, the heating is broken", "+447700900798")
    assert wait_until(lambda: [m for number, m in _sms_sent(state) if number == DRIVER8 and "freezing" in m])


@pytest.mark.parametrize("text,value,scale", [
    ("5", 5, None), ("9/10", 9, 10), ("5 out of 5", 5, 5), ("8 sur 10", 8, 10), (" 10! ", 10, None),
    ("OK 2042", None, None), ("5 stars", None, None), ("ok", None, None),
])
def test_a_score_is_read_with_the_scale_it_names(text, value, scale):
    assert surveys.score_of(text) == value and surveys.out_of(text) == scale


def test_a_staff_complaint_in_another_language_is_not_sent_to_the_staff_on_duty():
    # found on `make run`: "the driver has been alerted" answered an Italian complaint about the driver
    c = classify("L'autista ci ha lasciati alla fermata sotto la pioggia senza aprire le porte", LINE8)
    assert (c.language, c.topic, c.nature) == ("other", "staff", "complaint"), c.rules
    assert c.about_staff and "about: the staff on duty (topic staff, in another language)" in c.rules
    assert DRIVER8 not in {r.to for r in recipients_for(CONFIG, c)}
    assert "driver" not in build_reply(CONFIG, c, "m", SECRET).text
