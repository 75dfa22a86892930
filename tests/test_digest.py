"""The daily digest: per site manager and for central care, yesterday against the week before."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from chalicelib.api import OperatorApi
from chalicelib.digest import DigestService
from chalicelib.notify import DeliveryFailed, EmailAlerts
from tests.conftest import drain, post_sms, sent_emails, twilio_params


def service(svc, now, email=None):
    api = OperatorApi(config=svc.config, store=svc.store, cases=svc.cases, offers=svc.offers, now=lambda: now)
    import boto3

    email = email or EmailAlerts(boto3.client("sesv2"), svc.config.deployment.alert_from_email)
    return DigestService(config=svc.config, markers=svc.store.offers, api=api, email=email, now=lambda: now)


def count(svc, site, hour, nature, n):
    for i in range(n):
        svc.store.counters.count_message(site=site, bucket=f"H#{hour}", message_id=f"{site}-{hour}-{nature}-{i}",
                                         fields=[f"nature_{nature}", "topic_staff", "urgency_normal", "language_en",
                                        f"x_staff_{nature}_normal"], expires_at=0)


def test_digest_content_yesterday_against_a_week_before_with_open_cases_and_verbatims(client, svc):
    post_sms(client, twilio_params("LEEDS the idiot at the till ignored me, never again", sid="SM" + "1" * 32,
                                   to="+447700900000"))
    drain()
    now = datetime.now(UTC)
    tomorrow = now + timedelta(days=1)  # the digest of "yesterday" = today, seen from tomorrow
    today = now.date().isoformat()
    week_before = (now - timedelta(days=7)).strftime("%Y-%m-%dT10")
    count(svc, "store-leeds", week_before, "complaint", 4)
    digest = service(svc, tomorrow)
    leeds = next(s for s in digest.sections() if s.site == "store-leeds")
    subject, body = digest.build(leeds, now.replace(hour=0, minute=0, second=0, microsecond=0))
    assert subject.startswith(f"[Voix] Leeds Briggate store, {today}: 1 messages, 1 complaints, 1 open cases")
    complaints = next(line for line in body.splitlines() if line.startswith("Complaints"))
    assert complaints.split() == ["Complaints", "1", "4", "-75%"]
    assert "Open cases: 1" in body and "store-leeds" in body
    assert "i**** at the till" in body and "idiot" not in body  # verbatims, masked like everywhere
    network = next(s for s in digest.sections() if s.site is None)
    assert network.recipients == ["care@example.com"]
    _, care_body = digest.build(network, now.replace(hour=0, minute=0, second=0, microsecond=0))
    assert "By site:" in care_body and "Leeds Briggate store" in care_body


def test_each_digest_is_sent_once_and_a_failed_one_is_retried(client, svc):
    now = datetime.now(UTC) + timedelta(days=1)
    before = len(sent_emails())
    result = service(svc, now).send_all()
    recipients = {to for s in service(svc, now).sections() for to in s.recipients}
    assert result == {"sent": len(recipients), "failed": 0}
    digests = [m for m in sent_emails()[before:] if m.subject.startswith("[Voix]")]
    assert sorted(m.destinations["ToAddresses"][0] for m in digests) == sorted(recipients)
    assert service(svc, now).send_all() == {"sent": 0, "failed": 0}  # a re-run sends nothing twice

    class Flaky(EmailAlerts):
        def send(self, to, subject, text):
            raise DeliveryFailed("SES throttled")

    later = now + timedelta(days=1)
    assert service(svc, later, Flaky(None, "x")).send_all() == {"sent": 0, "failed": len(recipients)}
    assert service(svc, later).send_all() == {"sent": len(recipients), "failed": 0}  # nothing lost


def test_open_cases_are_counted_past_the_first_page(domain):
    now = datetime.now(UTC)

    def case(i, site):
        created = (now - timedelta(hours=3, seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        return {"id": f"C{i:05d}", "status": "open", "site": site, "created_at": created, "promised_at": created,
                "topic": "staff", "nature": "complaint", "urgency": "normal", "text": "rude", "recipients": {},
                "escalation_level": 0, "customer_masked": "+44******123"}

    for i in range(205):  # the newest 205 are line 8's: Leeds's two are past the first page of 200
        assert domain.store.cases.put_case(case(i, "line-8"))
    for i in range(205, 207):
        assert domain.store.cases.put_case(case(i, "store-leeds"))
    digest = service(domain, now)
    leeds = next(s for s in digest.sections() if s.site == "store-leeds")
    subject, body = digest.build(leeds, now.replace(hour=0, minute=0, second=0, microsecond=0))
    assert subject.endswith(", 2 open cases") and "Open cases: 2" in body
    network = next(s for s in digest.sections() if s.site is None)
    assert "Open cases: 207" in digest.build(network, now.replace(hour=0, minute=0, second=0, microsecond=0))[1]


def test_a_large_networks_digest_lists_yesterdays_busiest_and_quietest_sites(domain, tmp_path):
    """Past 50 sites the network digest names the sites the hourly job ranked for yesterday, with their figures."""
    from types import SimpleNamespace

    from chalicelib import ranking
    from chalicelib.config_loader import load_config
    from infra import sites

    config = load_config(sites.write(tmp_path / "sites-60", 60))
    now = datetime(2026, 11, 21, 6, tzinfo=UTC)
    for i, site in enumerate(config.sites):  # site i: i + 1 messages yesterday
        domain.store.counters.add_counts(site=site.id, bucket="H#2026-11-20T10", counts={"n": i + 1}, expires_at=0)
    ranking.refresh(domain.store.counters, config, now)
    svc = SimpleNamespace(config=config, store=domain.store, cases=domain.cases, offers=domain.offers)
    digest = service(svc, now, email=object())
    network = next(s for s in digest.sections() if s.site is None)
    _, body = digest.build(network, datetime(2026, 11, 20, tzinfo=UTC))
    assert "By site: the 10 busiest and the 10 quietest of 60 sites with messages (ranked at 06:00 UTC):" in body
    listed = body.split("By site:")[1].split("Open cases")[0]
    assert f"{config.sites[59].name:30} {60:>6}" in listed and f"{config.sites[0].name:30} {1:>6}" in listed
    assert config.sites[30].name not in listed  # neither among the busiest nor the quietest


def test_a_run_sends_the_day_it_was_scheduled_for_in_every_zone_even_caught_up_at_half_past_eleven(client, svc):
    # 23:30 UTC is already tomorrow in Paris: read from "now", London and Paris would get different days; the
    # run scheduled for 06:00 UTC (EventBridge's time) is for the day before that, in both
    run = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0) + timedelta(days=3)
    late = run.replace(hour=23, minute=30)
    before = len(sent_emails())
    digest = service(svc, late)
    recipients = {to for s in digest.sections() for to in s.recipients}
    assert {s.zone for s in digest.sections() if s.site} == {"Europe/London", "Europe/Paris"}
    assert digest.send_all(at=run) == {"sent": len(recipients), "failed": 0}
    days = {re.search(r", (\d{4}-\d\d-\d\d):", m.subject).group(1)
            for m in sent_emails()[before:] if m.subject.startswith("[Voix]")}
    assert days == {(run - timedelta(days=1)).date().isoformat()}
    assert digest.send_all(at=run) == {"sent": 0, "failed": 0}  # delivered twice: sent once


def test_the_scheduled_time_is_the_events_and_never_in_the_future():
    from types import SimpleNamespace

    from chalicelib.clock import scheduled_time

    now = datetime.now(UTC)
    run = (now - timedelta(days=2)).replace(hour=6, minute=0, second=0, microsecond=0)
    assert scheduled_time(SimpleNamespace(time=run.strftime("%Y-%m-%dT%H:%M:%SZ"))) == run
    for odd in (SimpleNamespace(time="yesterday"), SimpleNamespace(time=""), object(),
                SimpleNamespace(time=(now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"))):
        assert abs(scheduled_time(odd) - now) < timedelta(seconds=30)
