"""Emerging issues on the local stack (issue 25): a burst of real signed Twilio messages over a baseline seeded
in moto's counters is raised by the real scheduled job (``detect_incidents``, fired by the local scheduler every
minute), listed by ``/api/incidents``, alerted once per recipient, shown as a banner in Chromium until acknowledged.

Fails on the code before issue 25: no scheduled job, no route, no banner."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from infra.simulate import send_twilio
from tests.conftest import CHROMIUM, browser_page, running_stack, stack_api, stack_call, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.browser]
BURST = ["L8 the toilets are filthy", "L8 toilet is disgusting, no soap", "L8 the toilets stink, so dirty",
         "L8 bins overflowing and the floor is filthy", "L8 dirty floor and smelly toilet",
         "L8 the toilet is filthy again", "L8 rubbish everywhere, filthy coach", "L8 disgusting toilets on board",
         "L8 sticky floor and dirty seats", "L8 filthy floor by the toilet"]  # 10: past alpha at any minute


def seed_baseline(state):
    """One cleanliness message an hour at line-8, around this hour of the week, for six weeks (the adapter
    writes what the worker's count would)."""
    import boto3

    from chalicelib.storage.counters import CounterStore

    client = boto3.client("dynamodb", endpoint_url=state["moto_endpoint"], region_name="eu-west-2",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    counters = CounterStore(client, "voix-dev")
    now = datetime.now(UTC)
    for week in range(1, 7):
        for shift in (-1, 0, 1):
            hour = now - timedelta(days=7 * week, hours=shift)
            assert counters.count_batch(site="line-8", bucket=f"H#{hour:%Y-%m-%dT%H}", batch_id=f"seed-{week}-{shift}",
                                        counts={"n": 1, "topic_cleanliness": 1}, expires_at=0)


def outbox(state):
    with urllib.request.urlopen(state["dashboard_url"] + "/outbox.json", timeout=10) as res:
        return [i for i in json.loads(res.read())["items"] if "Emerging issue" in (i.get("subject") or "")]


def fired(output):
    return sum(1 for line in list(output) if re.search(r'"schedule":\s*"detect_incidents"', line))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not CHROMIUM:
        pytest.skip("no Chromium on this machine: `make test` installs Debian's chromium package (apt-get)")
    with running_stack(tmp_path_factory.mktemp("incidents")) as (state, output):
        seed_baseline(state)
        for i, text in enumerate(BURST):
            assert send_twilio(state, "+447700900008", text, f"+4477009002{i:02d}")[0] == 200
        wait_until(lambda: (lambda items: len(items) == len(BURST) and all(i["processed"] for i in items))(
            stack_api(state, "/api/feedback?site=line-8&topic=cleanliness")["items"]), seconds=60)
        yield state, output


def test_a_burst_is_raised_by_the_scheduled_job_listed_alerted_once_and_acknowledged_from_the_banner(stack, browser):
    state, output = stack
    site = wait_until(lambda: [i for i in stack_api(state, "/api/incidents")["items"] if i["site"] == "line-8"],
                      seconds=90)[0]  # the next firing of the scheduled job (every minute)
    assert (site["topic"], site["status"]) == ("cleanliness", "open") and site["observed"] >= 6
    assert len(site["examples"]) == 3 and all(e["text"].startswith("L8 ") for e in site["examples"])
    assert all(re.fullmatch(r"\+44 77•• •••\d{3}", e["from"]) for e in site["examples"])  # masked
    # the site's manager and central care, by e-mail, with the examples (the network's own goes to care)
    mails = wait_until(lambda: (lambda m: m if len(m) >= 2 else None)(
        [m for m in outbox(state) if "Coach line 8" in m["subject"]]), seconds=30)
    assert sorted(m["to"] for m in mails) == ["care@example.com", "line8@example.com"]
    assert site["examples"][0]["text"] in mails[0]["text"] and "+44 77••" in mails[0]["text"]
    seen = fired(output)

    # a viewer token (a wall screen) sees the banner; its Acknowledge says it needs the operator token
    status, minted = stack_call(state, "POST", "/api/tokens", {"ttl_minutes": 10, "label": "wall"})
    assert status == 201
    with browser_page(browser) as page:
        page.goto(state["dashboard_url"] + "/?period=today")
        page.fill("#token", minted["token"])
        page.click("#signin-form button[type=submit]")
        page.wait_for_selector(f"#incident-{site['id']} button", timeout=5_000).click()
        note = page.wait_for_selector(f"#incident-{site['id']} p.error", timeout=5_000)
        assert note.text_content() == "Acknowledging needs the operator token." and not page.errors

    with browser_page(browser) as page:
        page.goto(state["dashboard_url"] + "/?period=today")
        page.fill("#token", state["operator_token"])
        page.click("#signin-form button[type=submit]")
        banner = page.wait_for_selector(f"#incident-{site['id']}", timeout=5_000)  # asked for on sign-in
        assert "Emerging issue: cleanliness at Coach line 8" in banner.text_content()
        assert site["examples"][0]["text"] in banner.text_content()
        page.fill("#who", "Priya")
        banner.query_selector("button").click()
        page.wait_for_selector(f"#incident-{site['id']}", state="detached", timeout=15_000)
        assert not page.errors

    [acked] = [i for i in stack_api(state, "/api/incidents?status=acknowledged")["items"] if i["id"] == site["id"]]
    assert acked["acknowledged_by"] == "Priya [operator]"
    assert stack_call(state, "POST", f"/api/incidents/{site['id']}/ack", {})[0] == 409
    # a later check of the same rise opens nothing and alerts nobody again
    wait_until(lambda: fired(output) > seen, seconds=75)
    wait_until(lambda: stack_api(state, "/api/status")["queues"]["jobs"]["waiting"] == 0)
    assert len([m for m in outbox(state) if "Coach line 8" in m["subject"]]) == 2
    assert [i["id"] for i in stack_api(state, "/api/incidents?status=open")["items"] if i["site"]] == []
