"""French and English everywhere (issue 25, the server's side): one catalogue per language, readers' languages in
the configuration, alerts, digests and the acknowledge page in the reader's language with times in the site's zone.

On the in-memory fakes; the catalogue checks read the files and the code on disk."""

from __future__ import annotations

import json
import re
import shutil
import string
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chalicelib import i18n, links
from chalicelib.ack_page import AckPage
from chalicelib.alert_texts import alert_email, alert_sms
from chalicelib.api import OperatorApi
from chalicelib.config_loader import DEFAULT_CONFIG_DIR, ConfigError, get_config, load_config
from chalicelib.configuration import DEFAULT_TOPICS, NATURES, URGENCIES
from chalicelib.digest import DigestService, is_digest
from chalicelib.i18n import format_date, format_datetime, from_header, reader_language, t

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = string.Formatter()


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in PLACEHOLDER.parse(text) if name is not None}


# -- the catalogues ---------------------------------------------------------------------------------------------
def test_no_key_is_missing_in_either_catalogue_and_placeholders_match():
    english, french = i18n.catalogue("en"), i18n.catalogue("fr")
    assert sorted(set(english) - set(french)) == [] and sorted(set(french) - set(english)) == []
    for key in english:
        assert fields(english[key]) == fields(french[key]), key
        assert english[key].strip() and french[key].strip(), key


def test_every_key_the_code_names_is_in_the_catalogues_and_every_name_has_a_label():
    named = set()
    for path in [*(ROOT / "chalicelib").rglob("*.py"), ROOT / "app.py"]:
        named |= set(re.findall(r"""["']((?:alert|digest|ack|format|language|staff)\.[a-z0-9_.]+)["']""",
                                path.read_text(encoding="utf-8")))
    assert len(named) > 50  # the grep finds the keys (alert_texts, digest, ack_page)
    assert sorted(named - set(i18n.catalogue("en"))) == []
    wanted = ([f"topic.{x}" for x in DEFAULT_TOPICS] + [f"nature.{x}" for x in NATURES]
              + [f"urgency.{x}" for x in URGENCIES] + [f"month.{m}" for m in range(1, 13)]
              + [f"status.{x}" for x in ("open", "acknowledged", "resolved")] + ["channel.twilio", "channel.eum"])
    assert sorted(set(wanted) - set(i18n.catalogue("en"))) == []


def test_the_dashboard_serves_the_same_catalogues_and_the_command_copies_them(tmp_path, capsys):
    """``python -m chalicelib locales`` writes dashboard/locales/: the copies in the repository are up to date."""
    from chalicelib.__main__ import main

    for language in i18n.LANGUAGES:
        shipped = (ROOT / "chalicelib" / "locales" / f"{language}.json").read_bytes()
        assert (ROOT / "dashboard" / "locales" / f"{language}.json").read_bytes() == shipped, \
            "run `python -m chalicelib locales`"
    assert main(["locales", "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "fr.json").read_text(encoding="utf-8"))["topic"]["cleanliness"] == "propreté"
    assert str(tmp_path / "en.json") in capsys.readouterr().out


def test_lookup_falls_back_along_the_chain_and_names_fall_back_to_themselves():
    assert i18n.chain("fr-FR") == ("fr", "en") and i18n.chain("en_GB") == ("en",) and i18n.chain(None) == ("en",)
    assert i18n.language_of("de") == "en" and i18n.language_of("FR") == "fr"
    assert t("ack.heading", "fr-CA", code="12") == "Dossier 12" and t("ack.heading", "es", code="12") == "Case 12"
    assert i18n.label("topic", "cleanliness", "fr") == "propreté" and i18n.label("topic", "wifi", "fr") == "wifi"
    with pytest.raises(KeyError):
        t("no.such.key", "fr")
    assert from_header("de-DE,fr;q=0.8,en;q=0.5") == "fr" and from_header("en-GB,fr;q=0.9") == "en"
    assert from_header("fr;q=0.2, en;q=0.7") == "en" and from_header("fr;q=x, de") == "fr"
    assert from_header("") == "en" and from_header(None) == "en"


def test_dates_and_times_in_the_sites_zone_written_the_readers_way():
    winter, summer = "2026-12-04T13:05:00.000Z", "2026-07-01T12:00:00Z"
    assert format_datetime(winter, "fr", "Europe/Paris") == "4 déc. 2026, 14:05"
    assert format_datetime(winter, "en", "Europe/London") == "4 Dec 2026, 13:05"
    assert format_datetime(summer, "fr", "Europe/Paris") == "1 juil. 2026, 14:00"  # summer time, 24-hour clock
    assert format_datetime(datetime(2026, 2, 9, 23, 30), "en", "Europe/Paris") == "10 Feb 2026, 00:30"
    assert format_datetime(None, "en") == "" and format_datetime("soon", "en") == "soon"
    assert format_date(datetime(2026, 8, 15).date(), "fr") == "15 août 2026"


# -- who reads which language ----------------------------------------------------------------------------------
@pytest.fixture
def config_dir(tmp_path):
    target = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def with_readers(config_dir: Path):
    """Line 12 (a French site) with an English-reading manager; care with a French reader."""
    sites = config_dir / "sites.toml"
    edit(sites, 'care_email = ["care@example.com"]', 'care_email = ["care@example.com", "Soins@Example.com"]\n'
                'languages = { "soins@example.com" = "fr" }')
    edit(sites, 'manager_email = ["ligne12@example.com"]',
         'manager_email = ["ligne12@example.com", "boss@example.com"]\n'
         'languages = { "Boss@example.com" = "en", "+33 6 39 98 08 01" = "en" }')
    return load_config(config_dir)


def test_readers_languages_default_to_the_sites_and_the_deployments(config_dir):
    config = with_readers(config_dir)
    line_12 = config.site("line-12")
    assert line_12.languages == {"boss@example.com": "en", "+33639980801": "en"}  # keys as the lists hold them
    assert reader_language(config, "ligne12@example.com", "line-12") == "fr"  # the site's language
    assert reader_language(config, "boss@example.com", "line-12") == "en"
    assert reader_language(config, "+33639980801", "line-12") == "en"
    assert reader_language(config, "line8@example.com", "line-8") == "en"
    assert reader_language(config, "+447700900801", "line-12") == "en"  # line 8's driver: their own site's
    assert reader_language(config, "+33639980901", None) == "fr"  # the Paris store's, with no case
    assert reader_language(config, "care@example.com", "line-12") == "en"  # care: the deployment's default
    assert reader_language(config, "soins@example.com", "line-8") == "fr"
    assert reader_language(config, None, "store-paris") == "fr" and reader_language(config, None, None) == "en"


@pytest.mark.parametrize("old, new, says", [
    ('manager_email = ["ligne12@example.com"]', 'manager_email = ["ligne12@example.com"]\n'
     'languages = { "nobody@example.com" = "en" }', "'nobody@example.com' is none of the site's"),
    ('manager_email = ["ligne12@example.com"]', 'manager_email = ["ligne12@example.com"]\n'
     'languages = { "ligne12@example.com" = "de" }', "languages.ligne12@example.com"),
    ('manager_email = ["ligne12@example.com"]', 'manager_email = ["ligne12@example.com"]\n'
     'languages = { "ligne 12" = "en" }', "neither a phone number"),
    ('manager_email = ["ligne12@example.com"]', 'manager_email = ["ligne12@example.com"]\n'
     'languages = { "+33 1" = "en" }', "not a valid phone number"),
    ('care_email = ["care@example.com"]', 'care_email = ["care@example.com"]\nlanguages = { "+447700900801" = "fr" }',
     "deployment.languages: '+447700900801' is none of care_email"),
])
def test_a_readers_language_for_no_known_reader_or_no_known_language_fails_fast(config_dir, old, new, says):
    edit(config_dir / "sites.toml", old, new)
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir)
    assert says in str(caught.value)


def test_the_live_configuration_accepts_readers_languages_and_refuses_a_bad_one():
    from chalicelib.config_loader import read_raw
    from chalicelib.live_config import ConfigService, InvalidConfig
    from tests.fakes import fake_stores

    service = ConfigService(store=fake_stores().config, seed=read_raw, now=lambda: datetime(2026, 12, 4, tzinfo=UTC))
    _, sites = service.section("sites")
    index, line_12 = next((i, s) for i, s in enumerate(sites["sites"]) if s["id"] == "line-12")
    line_12["languages"] = {"ligne12@example.com": "xx"}
    with pytest.raises(InvalidConfig) as refused:
        service.publish("sites", sites, base_version=1, author="Marie")
    assert any(p.startswith(f"sites[{index}].languages") for p in refused.value.problems), refused.value.problems
    line_12["languages"] = {"ligne12@example.com": "en"}
    assert service.publish("sites", sites, base_version=1, author="Marie")["version"] == 2


# -- what readers receive ----------------------------------------------------------------------------------------
CASE = {"id": "C00042", "code": "4821", "site": "line-12", "status": "open", "nature": "complaint",
        "topic": "cleanliness", "urgency": "high", "urgency_reason": "safety", "text": "sol sale et glissant",
        "received_at": "2026-12-04T13:05:00.000Z", "promised_at": "2026-12-04T13:15:00.000Z",
        "customer_masked": "+33******123", "customer_number": "+33612345123", "reply": "Merci",
        "escalation_level": 0, "recipients": {"r1": {"to": "ligne12@example.com"}, "r2": {"to": "care@example.com"}}}


def test_a_french_manager_gets_a_french_alert_email_with_paris_times_and_care_gets_english():
    config = get_config()
    subject, body = alert_email(config, CASE, "https://voix.example/ack/x", to="ligne12@example.com")
    assert subject == "[Voix] URGENT Ligne 12 Paris–Lyon : plainte (propreté), dossier C00042"
    assert "Reçu : 4 déc. 2026, 14:05" in body and "Thème : propreté   Nature : plainte   Urgence : haute" in body
    assert "Prendre en charge en un clic : https://voix.example/ack/x" in body
    assert "pris en charge avant le 4 déc. 2026, 14:15" in body and "Received" not in body
    subject, body = alert_email(config, {**CASE, "escalation_level": 1, "assignee": "Paul"}, to="care@example.com")
    assert subject == ("[Voix] ESCALATED (not acknowledged in time) URGENT Ligne 12 Paris–Lyon: complaint about "
                       "cleanliness (case C00042)")
    assert "Received: 4 Dec 2026, 14:05" in body and "Assigned to: Paul" in body  # the site's zone, care's language


def test_an_english_driver_gets_english_and_a_french_one_french():
    config = get_config()
    english = alert_sms(config, {**CASE, "site": "line-8", "topic": "staff"}, "+447700900801")
    assert english.startswith('VOIX URGENT L8 complaint/staff: "') and "Reply OK 4821" in english
    french = alert_sms(config, {**CASE, "escalation_level": 1, "assignee": "Paul"}, "+33639980801")
    assert french.startswith('ESCALADE VOIX URGENT L12 plainte/propreté: "') and "Repondez OK 4821" in french
    assert "Assigne a Paul." in french
    codeless = alert_sms(config, {**CASE, "code": None, "urgency": "normal"}, "ligne12@example.com")
    assert codeless.endswith('" Client +33******123. Dossier C00042')


def test_the_worker_writes_each_alert_in_its_recipients_language():
    from chalicelib.worker import Worker
    from tests.fakes import fake_stores

    class Outbox:
        def __init__(self):
            self.sent = []

        def send(self, to, *content):
            self.sent.append((to, *content))
            return "id"

    store, sms, email = fake_stores(), Outbox(), Outbox()
    recipients = {"e1": "ligne12@example.com", "e2": "care@example.com"}
    store.cases.put_case({**CASE, "recipients": {r: {"channel": "email", "to": to, "role": "x", "status": "pending",
                                                      "attempts": []} for r, to in recipients.items()}})
    worker = Worker(config=get_config(), store=store, jobs=None, sms=sms, email=email, max_receives=3)
    for recipient in recipients:
        worker.deliver("C00042", recipient, 1)
    assert [(to, subject.split(" : ")[-1][:7]) for to, subject, _ in email.sent] == [
        ("ligne12@example.com", "plainte"), ("care@example.com", "[Voix] ")]
    assert "complaint about cleanliness" in email.sent[1][1]


def test_the_acknowledge_page_is_in_the_readers_language_and_a_bad_link_in_the_browsers():
    config, key, acted = get_config(), b"k", []
    page = AckPage(link_key=key, find_case={"C00042": dict(CASE)}.get, acknowledge=lambda *a, **k: acted.append(a),
                   forbidden_words=[], reader=lambda case, to: reader_language(config, to, case.get("site")))
    french = page.show(links.sign(key, "C00042", "r1"))
    assert '<html lang="fr">' in french.body and "<title>Voix dossier 4821</title>" in french.body
    assert "<h1>Dossier 4821</h1>" in french.body and ">Prendre en charge</button>" in french.body
    assert "Plainte (propreté) : « sol sale et glissant »" in french.body
    english = page.show(links.sign(key, "C00042", "r2"))  # care reads English
    assert '<html lang="en">' in english.body and "Complaint about cleanliness: “sol sale" in english.body
    done = page.acknowledge(links.sign(key, "C00042", "r1"))
    assert "Pris en charge. Merci" in done.body and acted
    closed = AckPage(link_key=key, find_case={"C00042": {**CASE, "status": "resolved"}}.get,
                     acknowledge=None, forbidden_words=[], reader=lambda case, to: "fr")
    assert "Ce dossier est déjà résolu." in closed.show(links.sign(key, "C00042", "r1")).body
    refused = page.show("nonsense", "fr-FR,fr;q=0.9,en;q=0.8")
    assert refused.status == 403 and '<html lang="fr">' in refused.body
    assert "<h1>Voix</h1><p>Ce lien n&#x27;est pas valide." in refused.body
    assert "This link is not valid." in page.show("nonsense").body


def test_the_digest_is_by_the_sites_local_day_in_each_readers_language(domain, config_dir):
    """Line 12's manager reads French, Paris's day (23:00 UTC the day before to 23:00 UTC); an English reader of
    the same site reads English; line 8's manager English, London's day."""
    config = with_readers(config_dir)
    counters = domain.store.counters
    for bucket, n in (("H#2026-12-02T22", 1), ("H#2026-12-02T23", 2), ("H#2026-12-03T22", 4), ("H#2026-12-03T23", 8)):
        for site in ("line-12", "line-8"):  # each hour: n complaints about cleanliness
            counters.add_counts(site=site, bucket=bucket, expires_at=0, counts={
                "n": n, "nature_complaint": n, "topic_cleanliness": n, "urgency_normal": n,
                "x_cleanliness_complaint_normal": n})
    assert domain.store.cases.put_case({**CASE, "created_at": "2026-12-03T13:05:00.000Z"})
    now = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)

    class Outbox:
        sent: list = []

        def send(self, to, subject, body):
            self.sent.append((to, subject, body))

    api = OperatorApi(config=config, store=domain.store, cases=domain.cases, offers=domain.offers, now=lambda: now)
    result = DigestService(config=config, markers=domain.store.offers, api=api, email=Outbox(), now=lambda: now
                           ).send_all()
    assert result["failed"] == 0
    mail = {to: (subject, body) for to, subject, body in Outbox.sent}
    subject, body = mail["ligne12@example.com"]
    assert subject == "[Voix] Ligne 12 Paris–Lyon, 2026-12-03: 6 messages, 6 plaintes, 1 dossiers ouverts"
    assert body.startswith("Résumé quotidien Voix - Ligne 12 Paris–Lyon - 3 déc. 2026 (Europe/Paris)")
    assert "4821  line-12  haute   ouvert le 3 déc. 2026, 14:05  plainte/propreté" in body
    assert mail["boss@example.com"][0].startswith("[Voix] Ligne 12 Paris–Lyon, 2026-12-03: 6 messages, 6 complaints")
    assert "opened 3 Dec 2026, 14:05  complaint/cleanliness" in mail["boss@example.com"][1]
    line_8 = mail["line8@example.com"]  # London's day: 00:00 to 24:00 UTC in winter
    assert line_8[0].startswith("[Voix] Coach line 8 Leeds–London, 2026-12-03: 12 messages, 12 complaints")
    assert "(Europe/London)" in line_8[1]
    assert mail["Soins@Example.com"][0].startswith("[Voix] Réseau Voix demo, 2026-12-03:")
    assert mail["care@example.com"][0].startswith("[Voix] Voix demo network, 2026-12-03:")
    assert all(is_digest(body) for _, _, body in Outbox.sent)  # what the outbox and stack tests tell apart
    assert not is_digest(alert_email(config, CASE, to="ligne12@example.com")[1])


def test_staff_commands_are_answered_in_the_staff_members_language(domain):
    from chalicelib.keywords import StaffCommand

    now = int(datetime.now(UTC).timestamp())
    assert domain.store.cases.put_case({**CASE, "created_at": "2026-12-04T13:05:00.000Z"})
    assert domain.store.cases.claim_code("4821", "C00042", now=now, until=now + 3600)
    french, english = "+33639980801", "+447700900801"  # line 12's driver; line 8's, not one of this case's
    assert domain.cases.staff_reply(english, StaffCommand("acknowledged", "4821")) == \
        "Voix: case 4821 is not one of yours."
    assert domain.cases.staff_reply(french, StaffCommand("acknowledged", "9999")).startswith("Voix : aucun dossier")
    assert domain.cases.staff_reply(french, StaffCommand("acknowledged", "4821")) == \
        "Voix : dossier 4821 pris en charge. Merci. Client : +33612345123."
    assert domain.cases.staff_reply(french, StaffCommand("resolved", "4821")) == "Voix : dossier 4821 résolu. Merci."
    assert domain.cases.staff_reply(french, StaffCommand("resolved", "4821")) == \
        "Voix : le dossier 4821 est déjà résolu."
