"""A day in the life: the real local stack as `make run` starts it, driven only over HTTP.

moto in server mode, `chalice local`, the local worker and the local scheduler (EventBridge's
schedules of app.py, checked every second: ``VOIX_SCHEDULER_TICK=1``; each event delivered twice,
as EventBridge may: ``VOIX_SCHEDULER_DELIVERIES=2``), in subprocesses. The
deployment is the demo one with one change, read from a configuration folder
(``VOIX_CONFIG_DIR``): every site promises a call-back within one minute, so an urgent case
is overdue a minute after it opens, and the scheduled escalation (every minute) takes it up.

Customers text through the signed Twilio webhook; what was sent is read from moto's
``/moto-api/data.json`` and the stack's outbox; the tables through moto's endpoint.
Noise, a complaint about the driver on duty and a drill-down after a backfill are checked here
too, on the same running stack; their details are tested in test_noise_and_staff.py and
test_drill_down.py.
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.digest import is_digest
from infra.simulate import send_twilio
from tests.conftest import running_stack, stack_api, wait_until

pytestmark = pytest.mark.stack
CONFIG = Path(__file__).resolve().parent.parent / "chalicelib" / "config"


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    folder = tmp_path_factory.mktemp("day")
    config = folder / "config"
    shutil.copytree(CONFIG, config)
    sites = config / "sites.toml"
    text, changed = re.subn(r"(?m)^callback_minutes = \d+$", "callback_minutes = 1", sites.read_text())
    assert changed >= 1
    sites.write_text(text)
    started = datetime.now(UTC)
    with running_stack(folder, VOIX_CONFIG_DIR=str(config), VOIX_SCHEDULER_TICK="1",
                       VOIX_SCHEDULER_DELIVERIES="2") as (state, output):
        state["state_file"] = str(folder / "stack.json")  # for `make demo-data` against this stack
        yield state, output, tomllib.loads(text), started


def moto_data(state):
    with urllib.request.urlopen(state["moto_endpoint"] + "/moto-api/data.json", timeout=30) as res:
        return json.loads(res.read())


def sent_emails(state):
    return [m for m in moto_data(state).get("ses", {}).get("Message", [])]


def outbox(state):
    with urllib.request.urlopen(state["dashboard_url"] + "/outbox.json", timeout=30) as res:
        return json.loads(res.read())["items"]


def counters_item(state, pk, sk):
    import boto3

    db = boto3.client("dynamodb", endpoint_url=state["moto_endpoint"], region_name="eu-west-2",
                      aws_access_key_id="local", aws_secret_access_key="local")
    return db.get_item(TableName="voix-dev-counters", Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item")


def test_the_scheduled_job_ranks_the_sites_of_each_window(day):
    state, output, _, started = day
    # nothing has read the metrics: only roll_up_counters (run by the scheduler when the stack starts) writes these
    ranked = wait_until(lambda: counters_item(state, "RANK#7d", "RANK"), seconds=60)
    ranking = json.loads(ranked["r"]["S"])
    assert ranking["as_of"] >= started.strftime("%Y-%m-%dT%H:%M") and ranking["window"] == "7d"
    assert all(counters_item(state, f"RANK#{w}", "RANK") for w in ("today", "yesterday", "30d"))
    assert not counters_item(state, f"ROLL#{started:%Y-%m}", f"D#{started - timedelta(days=1):%Y-%m-%d}")
    assert not any("scheduled function failed" in line for line in output)


def test_an_overdue_urgent_case_escalates_and_its_email_is_delivered(day):
    state, output, _, _ = day
    status, body = send_twilio(state, "+447700900008", "L8 the driver is speeding and on his phone", "+447700900555")
    assert status == 200 and "<Message>" in body

    def opened():
        cases = [c for c in stack_api(state, "/api/cases?status=open")["items"] if c["urgency"] == "high"]
        return cases[0] if cases and all(a["status"] == "sent" for a in cases[0]["alerts"]) else None

    case = wait_until(opened, seconds=60)
    assert case["escalation_level"] == 0
    promised = datetime.fromisoformat(case["promised_at"].replace("Z", "+00:00"))
    assert promised - datetime.fromisoformat(case["created_at"].replace("Z", "+00:00")) == timedelta(minutes=1)

    # nobody acknowledges: past the deadline, the next run of escalate_cases (every minute) takes it up
    def escalated():
        found = [c for c in stack_api(state, "/api/cases?status=open")["items"] if c["id"] == case["id"]]
        return found[0] if found and found[0]["escalation_level"] == 1 else None

    moved = wait_until(escalated, seconds=200)
    assert moved["escalations"][0]["level"] == 1

    def escalation_email():
        return [m for m in sent_emails(state) if case["id"] in m["subject"] and "ESCALATED" in m["subject"]]

    emails = wait_until(escalation_email, seconds=60)
    assert len(emails) == 1 and emails[0]["destinations"]["ToAddresses"] == ["line8@example.com"]
    assert "speeding" in emails[0]["body"]
    # the outbox shows it too, with its case (once the worker has recorded the provider's id on the case: the
    # e-mail leaves first)
    def listed():
        found = [i for i in outbox(state) if i["channel"] == "email" and "ESCALATED" in (i["subject"] or "")]
        return found if found and all(i["case"] for i in found) else None

    assert [(i["to"], i["case"]["id"]) for i in wait_until(listed, seconds=30)] == [("line8@example.com", case["id"])]
    assert not any("scheduled function failed" in line for line in output)


def test_yesterdays_digest_is_sent_once_to_each_manager_and_to_care(day):
    state, output, config, _ = day
    # the run the stack caught up on when it started (06:00 UTC, at or before the start): its yesterday, the same
    # day in London and Paris at 06:00 UTC, whatever the time now (at 23:30 UTC it is already tomorrow in Paris)
    runs = wait_until(lambda: fired(output, "send_digests"), seconds=60)
    scheduled = datetime.fromisoformat(runs[0]["scheduled_time"].replace("Z", "+00:00"))
    assert (scheduled.hour, scheduled.minute) == (6, 0)
    yesterday = (scheduled - timedelta(days=1)).strftime("%Y-%m-%d")
    expected = {to for site in config["sites"] for to in site.get("manager_email", [])}
    expected |= set(config["deployment"]["care_email"])

    def digests():
        found = [m for m in sent_emails(state)
                 if m["subject"].startswith("[Voix]") and f", {yesterday}:" in m["subject"]]
        return found if {to for m in found for to in m["destinations"]["ToAddresses"]} == expected else None

    wait_until(digests, seconds=60)
    # every scheduled event is delivered twice (EventBridge delivers at least once) and the scheduler keeps
    # ticking (escalate_cases fires every minute; a third firing is two minutes of ticks after the digest's
    # own, which the escalation above waits for anyway): still one digest per recipient
    wait_until(lambda: len(fired(output, "escalate_cases")) >= 3, seconds=150)
    assert len(fired(output, "send_digests")) >= 2
    found = digests()
    assert sorted(to for m in found for to in m["destinations"]["ToAddresses"]) == sorted(expected)
    assert all(is_digest(m["body"]) for m in found)  # each in its reader's language (the day: in the subject)
    assert not any("scheduled function failed" in line for line in output)


def fired(output, name):
    """The scheduler's structured line for each firing of one schedule."""
    lines = [json.loads(line) for line in list(output) if line.startswith("{")]
    return [e for e in lines if e.get("message") == "scheduled event" and e.get("schedule") == name]


LINE8 = "+447700900008"
DRIVER8 = "+447700900801"  # line 8's driver on duty (sites.toml: staff_sms)
INVITE_EN = "Thanks for your message. Could you tell us a bit more: what happened, and where?"


def sms_sent(state):
    return [(m["phone_number"], m["message"]) for m in moto_data(state).get("sns", {}).get("SMS", [])]


def message_of(twiml: str) -> str:
    from xml.etree import ElementTree

    found = ElementTree.fromstring(twiml).find("Message")
    return found.text if found is not None else ""


def test_noise_is_stored_and_counted_but_opens_no_case_and_texts_nobody(day):
    state, _, _, _ = day
    before_sms, before_cases = sms_sent(state), {c["id"] for c in stack_api(state, "/api/cases")["items"]}
    # (a Spanish complaint is no longer noise: the learned model reads it, issue 23: tests/test_learned.py)
    noise = ["ok", "", "hi", "test", "5", "OK 2042", "Hallo, guten Tag"]
    for i, text in enumerate(noise):
        status, body = send_twilio(state, LINE8, text, f"+4477009007{i:02d}")
        assert status == 200 and message_of(body) == INVITE_EN, (text, body)  # answered in line 8's English

    def stored():
        items = [i for i in stack_api(state, "/api/feedback?limit=200")["items"]
                 if i["from"].endswith(tuple(f"7{i:02d}" for i in range(len(noise))))]
        return items if len(items) == len(noise) and all(i["processed"] for i in items) else None

    items = wait_until(stored, seconds=60)
    assert {i["nature"] for i in items} == {"unclear"}
    assert {c["id"] for c in stack_api(state, "/api/cases")["items"]} == before_cases  # no case opened
    assert sms_sent(state) == before_sms  # nobody paged
    assert stack_api(state, "/api/metrics?site=line-8&nature=unclear")["totals"]["messages"] >= len(noise)


def test_the_driver_is_never_texted_about_himself(day):
    state, _, _, _ = day
    status, body = send_twilio(state, LINE8, "L8 the driver is texting on his phone while driving", "+447700900790")
    assert status == 200 and message_of(body)

    def opened():
        cases = [c for c in stack_api(state, "/api/cases?status=open")["items"] if "texting" in c["text"]]
        return cases[0] if cases and cases[0]["alerts"] and all(a["status"] == "sent" for a in cases[0]["alerts"]) \
            else None

    case = wait_until(opened, seconds=60)
    assert DRIVER8 not in {a["to"] for a in case["alerts"]}
    assert {a["to"] for a in case["alerts"]} >= {"line8@example.com", "care@example.com"}
    assert all(to != DRIVER8 and "texting" not in text for to, text in sms_sent(state))
    # and from his phone he cannot close it
    status, body = send_twilio(state, LINE8, f"RESOLU {case['code']}", DRIVER8)
    assert status == 200 and "about you" in message_of(body)
    assert [c["status"] for c in stack_api(state, "/api/cases?status=open")["items"] if c["id"] == case["id"]] == \
        ["open"]


def test_a_drill_down_after_a_backfill_lists_what_the_counters_count(day):
    """Site, then topic: the list under each filter holds exactly what the metrics count (the timing is in
    `make bench`: benchmarks/drill_down.py)."""
    import os
    import subprocess
    import sys

    state, _, _, _ = day
    root = Path(__file__).resolve().parent.parent
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, "VOIX_STATE_FILE": state["state_file"]}
    done = subprocess.run([sys.executable, "-m", "infra.demo_data", "--count", "1500", "--days", "2"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    since = "since=" + (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:00:00Z")
    site = stack_api(state, f"/api/metrics?site=line-8&{since}&bucket=day")
    topics = {t: n for t, n in site["totals"]["topic"].items() if n}
    assert sum(topics.values()) == site["totals"]["messages"] > 100
    for topic, count in sorted(topics.items(), key=lambda kv: -kv[1])[:3]:
        listed, cursor = [], None
        while True:
            page = stack_api(state, f"/api/feedback?site=line-8&topic={topic}&{since}&limit=200"
                                    + (f"&cursor={cursor}" if cursor else ""))
            listed += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(listed) == count, topic
        assert all(i["site"] == "line-8" and i["topic"] == topic for i in listed)
        assert [i["received_at"] for i in listed] == sorted((i["received_at"] for i in listed), reverse=True)
