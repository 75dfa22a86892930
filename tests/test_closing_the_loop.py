"""Closing the loop: opt-outs, staff acknowledgement by SMS and by signed link, promises, escalation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest

from chalicelib import keywords, links
from tests.conftest import auth, drain, post_sms, sent_emails, sent_sms, table_items, twilio_params

OPT_OUT_WORDS = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "OPT-OUT", "REVOKE",
                 "REMOVE", "TD", "ARRET", "ARRÊT"]
_sids = iter(range(10**6))


def sid():
    return f"SM{next(_sids):032d}"


def reply_of(response):
    root = ElementTree.fromstring(response.body)
    message = root.find("Message")
    return message.text if message is not None else ""


# -- keywords (pure) -----------------------------------------------------------------------------
@pytest.mark.parametrize("word", OPT_OUT_WORDS)
@pytest.mark.parametrize("form", [str.upper, str.lower, str.title, lambda w: f"  {w.lower()}. "])
def test_every_opt_out_keyword_in_any_case_opts_out(word, form):
    assert keywords.keyword(form(word)) == "opt_out"


@pytest.mark.parametrize("text,expected", [
    ("start", "opt_in"), ("UNSTOP", "opt_in"), ("Yes", "opt_in"), ("help", "help"), ("INFO", "help"),
    ("aide", "help"), ("Arrêt!", "opt_out"), ("arret", "opt_out"),
    ("please stop the music", None), ("STOP IT NOW the bus is too hot", None), ("stopped", None), ("", None),
    # as customers write it: French forms, politeness, emoji and symbols around the word
    ("STOP SMS", "opt_out"), ("Stop svp", "opt_out"), ("Stop 🛑", "opt_out"), ("ARRÊTER", "opt_out"),
    ("désabonner", "opt_out"), ("Désinscrire.", "opt_out"), ("Stop, merci", "opt_out"), ("(STOP)", "opt_out"),
    ("STOP please!", "opt_out"), ("stop s'il vous plaît", "opt_out"), ("Merci, stop", "opt_out"),
    ("merci", None), ("no stop", None), ("stop it", None), ("thank you", None), ("help me please", None),
])
def test_a_keyword_is_the_whole_message(text, expected):
    assert keywords.keyword(text) == expected


@pytest.mark.parametrize("text,action,code", [
    ("OK 4821", "acknowledged", "4821"), ("ok4821", "acknowledged", "4821"), ("Fait 4821", "acknowledged", "4821"),
    ("FAIT #4821.", "acknowledged", "4821"), ("done 4821", "acknowledged", "4821"),
    ("résolu 4821", "resolved", "4821"), ("resolved 4821", "resolved", "4821"),
])
def test_staff_commands(text, action, code):
    assert keywords.staff_command(text) == keywords.StaffCommand(action, code)


@pytest.mark.parametrize("text", ["OK", "OK 482", "OK 48211", "ok thanks", "4821"])
def test_not_staff_commands(text):
    assert keywords.staff_command(text) is None


# -- consent through the webhook -------------------------------------------------------------------
def consent_items():
    return table_items("CONSENT#")


def test_stop_opts_out_once_with_time_and_source_then_feedback_is_still_answered(client):
    first = post_sms(client, twilio_params("Stop", sid=sid()))
    assert first.status_code == 200 and "unsubscribed" in reply_of(first)
    [consent] = consent_items()
    assert consent["status"] == "opted_out" and consent["source"] == "twilio:keyword"
    assert consent["history"][0]["at"] and consent["history"][0]["status"] == "opted_out"
    assert "+447700900123" not in str(consent)  # keyed by the HMAC of the number, never the number
    again = post_sms(client, twilio_params("STOP", sid=sid()))
    assert reply_of(again) == ""  # one confirmation, not one per STOP
    assert table_items("MSG#") == []  # keywords are not feedback
    feedback = post_sms(client, twilio_params("L8 the driver was lovely", sid=sid()))
    assert "Thank" in reply_of(feedback) or reply_of(feedback)  # the customer wrote to us: answered
    assert len(table_items("MSG#")) == 1
    back = post_sms(client, twilio_params("start", sid=sid()))
    assert "subscribed again" in reply_of(back)
    [consent] = consent_items()
    assert consent["status"] == "opted_in"
    assert [h["status"] for h in consent["history"]] == ["opted_out", "opted_out", "opted_in"]  # every event


def test_a_redelivered_stop_is_recorded_once(client):
    params = twilio_params("STOP", sid=sid())
    post_sms(client, params)
    post_sms(client, params)
    [consent] = consent_items()
    assert len(consent["history"]) == 1


def test_twilio_advanced_opt_out_answered_already_so_voix_records_and_stays_silent(client):
    response = post_sms(client, twilio_params("STOP", sid=sid(), OptOutType="STOP"))
    assert response.status_code == 200 and reply_of(response) == ""
    [consent] = consent_items()
    assert consent["status"] == "opted_out" and consent["source"] == "twilio:carrier"


def test_help_answers_help_text_in_the_site_language(client):
    english = post_sms(client, twilio_params("HELP", sid=sid()))
    french = post_sms(client, twilio_params("aide", sid=sid(), to="+33639980101", From="+33612345678"))
    assert "STOP" in reply_of(english) and "Repondez STOP" in reply_of(french)
    assert consent_items() == [] and table_items("MSG#") == []


def test_stop_while_dynamodb_is_down_is_parked_and_applied_by_the_worker(client, svc, monkeypatch):
    from chalicelib.errors import Unavailable

    def down(*args, **kwargs):
        raise Unavailable("throttled")

    real = svc.store.customers.set_consent
    monkeypatch.setattr(svc.store.customers, "set_consent", down)
    response = post_sms(client, twilio_params("STOP", sid=sid()))
    assert response.status_code == 200 and consent_items() == []
    monkeypatch.setattr(svc.store.customers, "set_consent", real)
    drain()
    [consent] = consent_items()
    assert consent["status"] == "opted_out"


# -- staff acknowledgement by SMS ----------------------------------------------------------------
def open_case(client, body="L8 it's far too hot on this bus"):
    post_sms(client, twilio_params(body, sid=sid()))
    drain()
    return max(table_items("CASE#"), key=lambda c: c["created_at"])


def test_staff_reply_ok_code_acknowledges_the_case_and_is_not_feedback(client):
    case = open_case(client)
    assert f"Reply OK {case['code']}" in sent_sms()[0][1]
    response = post_sms(client, twilio_params(f"ok {case['code']}", sid=sid(), From="+447700900801"))
    assert f"case {case['code']} acknowledged" in reply_of(response)
    [after] = table_items("CASE#")
    assert after["status"] == "acknowledged" and after["acknowledged_by"] == "SMS +447700900801"
    assert len(table_items("MSG#")) == 1  # the staff reply was not stored as customer feedback
    again = post_sms(client, twilio_params(f"FAIT {case['code']}", sid=sid(), From="+447700900801"))
    assert "already acknowledged" in reply_of(again)
    metrics = client.http.get("/api/metrics", headers=auth()).json_body
    assert metrics["totals"]["messages"] == 1 and metrics["totals"]["acknowledged"] == 1
    assert metrics["totals"]["promises"] == {"kept": 1, "missed": 0, "share_kept": 1.0}


def test_staff_reply_with_a_wrong_code_or_from_another_site_changes_nothing(client):
    case = open_case(client)
    wrong = "0000" if case["code"] != "0000" else "0001"
    assert "no case" in reply_of(post_sms(client, twilio_params(f"OK {wrong}", sid=sid(), From="+447700900801")))
    # the Leeds store's staff may not acknowledge a case of coach line 8
    other = post_sms(client, twilio_params(f"OK {case['code']}", sid=sid(), From="+447700900901"))
    assert "not one of yours" in reply_of(other)
    chat = post_sms(client, twilio_params("on my way", sid=sid(), From="+447700900801"))
    assert "reply OK and its code" in reply_of(chat)
    [after] = table_items("CASE#")
    assert after["status"] == "open" and len(table_items("MSG#")) == 1


def test_short_codes_are_unique_among_live_cases(domain):
    from chalicelib.cases import CaseService

    cases = CaseService(config=domain.config, cases=domain.store.cases, counters=domain.store.counters)
    now = datetime.now(UTC)
    codes = [cases.claim_code(f"CASE{i:04d}", now) for i in range(300)]
    assert len(set(codes)) == 300 and all(re.fullmatch(r"\d{4}", c) for c in codes)
    assert cases.claim_code("CASE0007", now) == codes[7]  # a retry gets its own code back


def test_a_staff_ok_acknowledges_its_case_once_and_counts_the_promise_kept(domain):
    """"OK <code>" on the storage fakes (no AWS): the recipient acknowledges, a second OK is told the case
    is already acknowledged, another number is refused, an unknown code is said so; the hour the case
    opened counts one acknowledgement and one promise kept."""
    from chalicelib.cases import CaseService

    driver, stranger = "+447700900001", "+447700900999"
    opened = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    now = {"t": opened + timedelta(minutes=3)}
    cases = CaseService(config=domain.config, cases=domain.store.cases, counters=domain.store.counters,
                        now=lambda: now["t"])
    domain.store.cases.put_case({
        "id": "C1", "status": "open", "site": "line-8", "urgency": "normal", "escalation_level": 0,
        "created_at": "2026-11-20T10:00:00.000Z", "promised_at": "2026-11-20T10:10:00.000Z", "ttl": 0,
        "recipients": {"r1": {"channel": "sms", "to": driver, "status": "sent", "attempts": []}}})
    code = cases.claim_code("C1", opened)
    ok = keywords.staff_command(f"OK {code}")
    assert cases.staff_reply(stranger, ok) == f"Voix: case {code} is not one of yours."
    assert cases.staff_reply(driver, ok) == f"Voix: case {code} acknowledged. Thank you."
    assert cases.staff_reply(driver, ok) == f"Voix: case {code} is already acknowledged."
    assert cases.staff_reply(driver, keywords.staff_command("OK 0000")).startswith("Voix: no case 0000")
    case = domain.store.cases.get_case("C1")
    assert case["status"] == "acknowledged" and case["acknowledged_by"] == f"SMS {driver}"
    [row] = domain.store.counters.site_counts("line-8", ["H#2026-11-20T10"], ["ack_n", "promise_kept"]).values()
    assert row == {"ack_n": 1, "promise_kept": 1}


# -- one-click link -------------------------------------------------------------------------------
def urgent_case(client):
    post_sms(client, twilio_params("LEEDS queued 20 minutes, nobody at the tills, I'm leaving",
                                   to="+447700900000", sid=sid()))
    drain()
    [case] = table_items("CASE#")
    return case


def link_in(email_body):
    return re.search(r"(https?://\S+/ack/(\S+))", email_body).group(2)


def test_the_email_link_acknowledges_on_post_only(client):
    case = urgent_case(client)
    bodies = [m.body for m in sent_emails()]
    token = link_in(bodies[0])
    page = client.http.get(f"/ack/{token}")
    assert page.status_code == 200 and b"Acknowledge" in page.body and b"<form" in page.body
    assert table_items("CASE#")[0]["status"] == "open"  # a link scanner's GET changes nothing
    done = client.http.post(f"/ack/{token}", headers={"Content-Type": "application/x-www-form-urlencoded"}, body="")
    assert done.status_code == 200 and b"Acknowledged" in done.body
    [after] = table_items("CASE#")
    assert after["status"] == "acknowledged" and after["acknowledged_by"].startswith("e-mail link (")
    twice = client.http.post(f"/ack/{token}", headers={"Content-Type": "application/x-www-form-urlencoded"}, body="")
    assert twice.status_code == 409 and case["id"]


def test_a_tampered_or_foreign_link_is_refused(client):
    urgent_case(client)
    token = link_in(sent_emails()[0].body)
    payload, signature = token.split(".")
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    forged = links.sign(b"another-key", table_items("CASE#")[0]["id"], "x")
    for bad in (f"{flipped}.{signature}", f"{payload}.{signature[::-1]}", forged, "nonsense", "a" * 500):
        for method in ("get", "post"):
            response = getattr(client.http, method)(f"/ack/{bad}", headers={
                "Content-Type": "application/x-www-form-urlencoded"}, body="") if method == "post" else \
                client.http.get(f"/ack/{bad}")
            assert response.status_code in (403, 404), (bad, method)
    assert table_items("CASE#")[0]["status"] == "open"


def test_an_expired_link_is_refused():
    key = b"k" * 32
    issued = datetime(2026, 1, 1, tzinfo=UTC)
    token = links.sign(key, "CASEID01", "r1", now=issued)
    assert links.verify(key, token, now=issued + timedelta(days=6)).case_id == "CASEID01"
    with pytest.raises(links.ExpiredLink):
        links.verify(key, token, now=issued + timedelta(days=8))
    with pytest.raises(links.BadLink):
        links.verify(b"x" * 32, token, now=issued)


def test_an_expired_link_gets_410_through_the_api(client, svc):
    case = urgent_case(client)
    old = links.sign(svc.link_key, case["id"], "r", now=datetime.now(UTC) - timedelta(days=30))
    assert client.http.get(f"/ack/{old}").status_code == 410
    french = client.http.get(f"/ack/{old}", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.8"})
    assert french.status_code == 410 and "Ce lien a expir\u00e9" in french.body.decode()  # the browser's language
    assert client.http.post(f"/ack/{old}", headers={"Content-Type": "application/x-www-form-urlencoded"},
                            body="").status_code == 410


# -- escalation with a controllable clock -------------------------------------------------------------
def test_an_unacknowledged_urgent_case_escalates_to_the_manager_then_to_care(client, svc):
    from chalicelib.cases import CaseService

    case = urgent_case(client)  # store-leeds: callback_minutes applies to urgent cases
    created = datetime.fromisoformat(case["created_at"].replace("Z", "+00:00"))
    deadline = datetime.fromisoformat(case["promised_at"].replace("Z", "+00:00"))
    minutes = svc.config.site("store-leeds").callback_minutes
    assert deadline - created == timedelta(minutes=minutes)
    before = len(sent_emails())

    def at(moment):
        return CaseService(config=svc.config, cases=svc.store.cases, counters=svc.store.counters, jobs=svc.jobs,
                           now=lambda: moment)

    assert at(deadline - timedelta(seconds=1)).escalate_due() == 0  # not yet
    assert at(deadline + timedelta(seconds=1)).escalate_due() == 1
    assert at(deadline + timedelta(seconds=2)).escalate_due() == 0  # once per level
    drain()
    [level1] = table_items("CASE#")
    assert level1["escalation_level"] == 1 and level1["escalations"][0]["level"] == 1
    new_mail = sent_emails()[before:]
    assert new_mail and all("ESCALATED" in m.subject for m in new_mail)
    next_deadline = datetime.fromisoformat(level1["promised_at"].replace("Z", "+00:00"))
    assert at(next_deadline + timedelta(seconds=1)).escalate_due() == 1
    drain()
    [level2] = table_items("CASE#")
    assert level2["escalation_level"] == 2
    assert at(next_deadline + timedelta(days=1)).escalate_due() == 0  # top level reached
    metrics = client.http.get("/api/metrics", headers=auth()).json_body
    assert metrics["totals"]["promises"] == {"kept": 0, "missed": 1, "share_kept": 0.0}
    # acknowledging it now counts no second verdict on the same promise
    assert client.http.post(f"/api/cases/{case['id']}/ack", headers=auth()).status_code == 200
    metrics = client.http.get("/api/metrics", headers=auth()).json_body
    assert metrics["totals"]["promises"]["missed"] == 1 and metrics["totals"]["promises"]["kept"] == 0


def test_an_acknowledged_case_never_escalates(client, svc):
    from chalicelib.cases import CaseService

    case = urgent_case(client)
    assert client.http.post(f"/api/cases/{case['id']}/ack", headers=auth()).status_code == 200
    late = datetime.now(UTC) + timedelta(days=1)
    assert CaseService(config=svc.config, cases=svc.store.cases, counters=svc.store.counters, jobs=svc.jobs,
                       now=lambda: late).escalate_due() == 0
    public = client.http.get("/api/cases?status=acknowledged", headers=auth()).json_body["items"][0]
    assert public["promise_kept"] is True and public["escalation_level"] == 0 and public["code"] == case["code"]


def test_the_acknowledge_page_shows_customer_html_as_text(client, svc):
    from html.parser import HTMLParser

    from chalicelib import links
    from tests.test_dashboard_browser import XSS

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.handlers = [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            self.handlers += [name for name, _ in attrs if name.startswith("on")]

    for i, payload in enumerate(XSS):
        post_sms(client, twilio_params(body=f"L8 the driver is drunk and dangerous {payload}", sid=f"SM{i:032d}",
                                       frm=f"+4477009005{i:02d}"))
    drain()
    cases = table_items("CASE#")
    assert len(cases) == len(XSS)
    for case in cases:
        page = client.http.get(f"/ack/{links.sign(svc.link_key, case['id'], next(iter(case['recipients'])))}")
        assert page.status_code == 200
        parser = Tags()
        parser.feed(page.body.decode())
        assert sorted(set(parser.tags)) == ["body", "button", "form", "h1", "head", "html", "meta", "p", "title"]
        assert parser.handlers == []
        assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'none': no script runs


def test_the_acknowledge_page_masks_forbidden_words_like_the_dashboard(client):
    post_sms(client, twilio_params(body="LEEDS the idiot at the till shoved me, I am hurt", to="+447700900000",
                                   sid=sid()))
    drain()
    token = link_in(sent_emails()[0].body)
    page = client.http.get(f"/ack/{token}").body.decode()
    assert "i**** at the till" in page and "idiot" not in page
