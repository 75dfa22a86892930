"""The dashboard's case page in Chromium (Playwright): the conversation, the reply box, assign, resolve."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.sms_segments import is_gsm7, plain, segments
from infra.simulate import send_twilio
from tests.conftest import free_port

pytestmark = pytest.mark.browser

GSM_EXTENDED = "^{}\\[~]|€\f"
SAMPLES = [
    "", "a", "a" * 160, "a" * 161, "a" * 306, "a" * 307, "a" * 459, "a" * 460,
    "€" * 80, "€" * 81, "a" * 159 + "€", "a" * 152 + "[", "{name}", "\f", "Straße, Grüße, Ça va ? ¿Qué?",
    "ça va", "naïve", "J\u2019arrive", "Привет", "你好", "\t", "\u00a0", "line\nbreak\r\n",
    "😀", "a" * 68 + "😀", "a" * 69 + "😀", "😀" * 35, "😀" * 36, "é" * 160 + "ç",
    "Sorry, I'm coming to your seat 🙏", "Désolé, j'arrive à votre place", "Ümit wartet 20 Min. am Schalter",
]


def random_samples(count=60, seed=21):
    """Texts mixing GSM-7 basic and extension characters, accents outside GSM-7 and emoji, around the
    segment boundaries (153/160 septets, 67/70 code units)."""
    pool = ["a", "Z", " ", "é", "ñ", "ß", "@", "\n", *GSM_EXTENDED, "ç", "ï", "\u2019", "Ж", "😀", "🇫🇷"]
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        length = rng.choice([60, 66, 67, 70, 71, 134, 140, 152, 153, 159, 160, 161, 200, 306, 320])
        weights = [40, 5, 10, 3, 2, 2, 1, 1, *[1] * len(GSM_EXTENDED), *([0] * 6 if rng.random() < .5 else [1] * 6)]
        out.append("".join(rng.choices(pool, weights=weights, k=length)))
    return out


@pytest.fixture(scope="module")
def static():
    """The dashboard's files as the dashboard server serves them (no API behind it)."""
    from infra.dashboard_server import serve

    port = free_port()
    server = serve(port, "http://127.0.0.1:9")
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


def test_the_reply_counter_counts_segments_and_encoding_as_the_python_does(browser, static):
    """dashboard/sms.js against chalicelib/sms_segments.py, on a table of samples and seeded random texts."""
    page = browser.new_page()
    page.goto(static + "/")
    samples = SAMPLES + random_samples()
    measured = page.evaluate("""async (samples) => {
        const sms = await import('/sms.js');
        return samples.map((s) => { const m = sms.measure(s); return [m.segments, m.encoding, sms.plain(s)]; });
    }""", samples)
    expected = [[segments(s), "GSM-7" if is_gsm7(s) else "UCS-2", plain(s)] for s in samples]
    assert [(s, *m) for s, m in zip(samples, measured, strict=True)] == \
        [(s, *e) for s, e in zip(samples, expected, strict=True)]
    assert {e[1] for e in expected} == {"GSM-7", "UCS-2"} and max(e[0] for e in expected) >= 3
    page.close()


# -- on the running local stack (its Twilio stand-in sends the replies and posts the status callbacks) --------
LINE_8 = "+447700900008"
CUSTOMER = "+447700900555"
URGENT = "L8 the driver is on his phone at the wheel, I'm scared"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from tests.conftest import CHROMIUM, running_stack, stack_api, wait_until

    if not CHROMIUM:
        pytest.skip("no Chromium on this machine: `make test` installs Debian's chromium package (apt-get)")
    with running_stack(tmp_path_factory.mktemp("case-page")) as (state, _output):
        assert send_twilio(state, LINE_8, URGENT, CUSTOMER)[0] == 200
        assert send_twilio(state, LINE_8, "L8 queued 20 minutes for the coach, so slow", "+447700900556")[0] == 200
        state["case"] = wait_until(lambda: next((c for c in stack_api(state, "/api/cases?status=open")["items"]
                                                 if c["text"] == URGENT), None))
        yield state


@pytest.fixture
def page(browser, stack):
    from tests.conftest import browser_page

    with browser_page(browser) as page:
        yield page


def sign_in(page, state, path="/?period=today", name="Aline Martin"):
    page.goto(state["dashboard_url"] + path)
    page.fill("#token", state["operator_token"])
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("body[data-loaded]", timeout=15_000)
    if name:
        page.fill("#who", name)


def thread(page):
    return page.locator("#case-thread li.msg").evaluate_all(
        "ms => ms.map(m => [m.classList.contains('in') ? 'in' : 'out', m.querySelector('.bubble').textContent,"
        " m.dataset.status])")


def outbound(case_id, n, status, **fields):
    return {"id": f"{case_id}-{n:03d}", "direction": "out", "at": "2026-12-01T10:00:00Z", "author": "Sam",
            "text": f"reply {n}", "segments": 1, "encoding": "GSM-7", "status": status,
            "status_at": "2026-12-01T10:00:05Z", "error": None, "scheduled_for": None, "channel": "twilio", **fields}


def test_each_delivery_status_has_its_mark_and_words_failures_say_the_carriers_error(page, stack):
    case = stack["case"]
    later = (datetime.now(UTC) + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    crafted = [outbound(case["id"], 1, "queued"), outbound(case["id"], 2, "sent"),
               outbound(case["id"], 3, "delivered"),
               outbound(case["id"], 4, "failed", error="30008 Unknown error"),
               outbound(case["id"], 5, "undelivered", error="30003 Unreachable destination handset"),
               outbound(case["id"], 6, "scheduled", scheduled_for=later.isoformat().replace("+00:00", "Z"))]

    def with_statuses(route):
        if route.request.method != "GET":
            route.continue_()
            return
        response = route.fetch()
        route.fulfill(response=response, json={**response.json(), "conversation": crafted})

    page.route(f"**/api/cases/{case['id']}", with_statuses)
    sign_in(page, stack, f"/?period=today#case={case['id']}")
    page.wait_for_selector("#case[data-loaded]")
    ticks = page.locator("#case-thread li.msg.out .tick").all_inner_texts()
    london = later.astimezone(ZoneInfo("Europe/London")).strftime("%H:%M")  # the site's time
    assert ticks[:5] == ["… Queued", "✓ Sent", "✓✓ Delivered", "✕ Failed: 30008 Unknown error",
                         "✕ Not delivered: 30003 Unreachable destination handset"]
    assert ticks[5].startswith("◷ Scheduled for ") and ticks[5].endswith(london), ticks[5]
    assert page.locator("#case-thread .msg.out .length").first.inner_text() == "1 SMS · GSM-7"


def test_the_case_page_works_from_the_keyboard_with_a_label_for_every_control(page, stack):
    case = stack["case"]
    sign_in(page, stack, f"/?period=today#case={case['id']}", name=None)  # a shared link opens the case
    page.wait_for_selector("#case[data-loaded]")
    assert page.evaluate("document.activeElement.id") == "case-title"
    order = []
    for _ in range(6):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id"))
    assert order == ["case-thread", "case-template", "case-text", "case-send", "case-assignee", "case-assign-button"]
    page.focus("#case-text")
    page.keyboard.press("Control+Enter")  # no name yet: said, and the name box takes the focus
    assert page.text_content("#case-error") == "Type your name in “Your name” first: the reply is recorded with it."
    assert page.evaluate("document.activeElement.id") == "who"
    page.keyboard.type("Aline Martin")
    page.focus("#case-text")
    page.keyboard.press("Control+Enter")  # nothing written: said, nothing sent
    assert page.text_content("#case-error") == "Write a reply first."
    unlabeled = page.evaluate("""[...document.querySelectorAll('#case select, #case input, #case textarea')]
        .filter(e => !e.labels || e.labels.length === 0).map(e => e.id)""")
    assert unlabeled == []
    assert page.get_attribute("#case-thread", "aria-live") == "polite"  # a new message is read out
    page.focus("#case-back")
    page.keyboard.press("Enter")
    page.wait_for_selector("body:not(.case-open)")
    assert page.evaluate("document.activeElement.dataset.case") == case["id"]  # back on the case's line


def test_templates_fill_in_the_name_and_a_case_is_assigned_by_name(page, stack):
    from tests.conftest import stack_api

    case = stack["case"]
    sign_in(page, stack, f"/?period=today#case={case['id']}", name="Priya Shah")
    page.wait_for_selector("#case[data-loaded]")
    templates = stack_api(stack, f"/api/cases/{case['id']}")["templates"]
    assert templates, "the case offers no template"
    named = next((x for x in templates if "{name}" in x["text"]), templates[0])
    page.select_option("#case-template", named["id"])
    assert page.input_value("#case-text") == named["text"].replace("{name}", "Priya Shah")
    assert page.evaluate("document.activeElement.id") == "case-text"
    page.fill("#case-assignee", "Sam Okafor")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#case-status:has-text('Case {case['code']} assigned to Sam Okafor.')")
    page.wait_for_selector("#case-facts[data-assignee='Sam Okafor']")
    assert stack_api(stack, f"/api/cases/{case['id']}")["assignee"] == "Sam Okafor"
    assert page.errors == []


def test_the_case_page_fits_a_phone(browser, stack):
    case = stack["case"]
    context = browser.new_context(viewport={"width": 375, "height": 800}, is_mobile=True)
    page = context.new_page()
    sign_in(page, stack, f"/?period=today#case={case['id']}")
    page.wait_for_selector("#case[data-loaded]")
    page.fill("#case-text", "A reply long enough to wrap on a phone, " * 3)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.is_visible("#case-send") and page.is_visible("#case-resolve")
    context.close()


def test_a_manager_opens_the_urgent_case_replies_sees_it_delivered_reads_the_answer_and_resolves(page, stack):
    from tests.conftest import stack_api, wait_until

    case = stack["case"]
    sign_in(page, stack)
    page.locator(f"#cases a[data-case='{case['id']}']").click()  # the case's "Open" link in the open list
    page.wait_for_selector("#case[data-loaded]")
    assert page.url.endswith(f"#case={case['id']}")
    assert page.evaluate("document.activeElement.id") == "case-title"  # focus moved to the page it opened
    assert page.text_content("#case-title") == f"Case {case['code']}"
    assert not page.is_visible("#k-messages")  # the dashboard's cards make way for the case
    assert thread(page)[0] == ["in", URGENT, "received"]

    # the counter follows the typing: an emoji turns the reply into UCS-2
    page.focus("#case-text")
    reply = "Sorry, I'm on my way to your seat now. Which row are you in?"
    page.keyboard.type(reply)
    assert page.text_content("#case-count").startswith(f"{len(reply)} characters · 1 SMS · GSM-7")
    page.keyboard.type(" 🙏")
    assert page.get_attribute("#case-count", "data-encoding") == "UCS-2"
    for _ in range(2):
        page.keyboard.press("Backspace")
    assert page.get_attribute("#case-count", "data-encoding") == "GSM-7"

    page.keyboard.press("Control+Enter")  # sends; the box empties and keeps the focus
    page.wait_for_selector("#case-status:has-text('Reply queued: 1 SMS, GSM-7')")
    assert page.input_value("#case-text") == "" and page.evaluate("document.activeElement.id") == "case-text"
    mine = page.locator("#case-thread li.msg.out", has_text=reply)
    mine.locator(".tick.st-delivered").wait_for(timeout=15_000)  # the stand-in's signed callbacks, polled
    assert mine.locator(".author").inner_text() == "Aline Martin"
    assert mine.locator(".tick").inner_text() == "✓✓ Delivered"
    page.wait_for_selector("#case-facts dt:has-text('First reply')")  # its time, minutes after the alert
    assert any("min after the alert" in fact for fact in page.locator("#case-facts dd").all_inner_texts())

    # the customer answers: the same thread shows it within two seconds
    answer = "Row 12, by the window. Thank you"
    status, _ = send_twilio(stack, LINE_8, answer, CUSTOMER)
    answered = time.monotonic()
    assert status == 200
    page.locator("#case-thread li.msg.in", has_text=answer).wait_for(timeout=2_000)
    assert time.monotonic() - answered < 2.0
    assert [m[0] for m in thread(page)] == ["in", "out", "in"]

    page.click("#case-resolve")
    page.wait_for_selector(f"#case-status:has-text('Case {case['code']} resolved by Aline Martin [operator]')")
    page.wait_for_selector("#case-badges .badge.status-resolved")
    assert not page.is_visible("#case-resolve")
    shown = stack_api(stack, f"/api/cases/{case['id']}")
    assert shown["status"] == "resolved"
    assert [(m["direction"], m["status"]) for m in shown["conversation"]] == \
        [("in", "received"), ("out", "delivered"), ("in", "received")]

    page.click("#case-back")  # back to the list, the focus where it was
    page.wait_for_selector("body:not(.case-open)")
    wait_until(lambda: page.locator(f"#cases li[data-id='{case['id']}']").count() == 0, 20)
    assert page.is_visible("#k-messages") and "#case=" not in page.url
    assert page.errors == []


def test_only_mine_lists_the_open_cases_assigned_to_the_name_typed(page, stack):
    from tests.conftest import stack_api

    sign_in(page, stack, name="Nadia Brun")
    assert page.locator("#cases li.case").count() >= 1
    case = {"id": page.locator("#cases li.case").first.get_attribute("data-id")}
    page.check("#mine")
    page.wait_for_selector("#cases li.muted:has-text('No open case assigned to Nadia Brun.')")
    request = page.request.post(f"{stack['api_url']}/api/cases/{case['id']}/assign",
                                headers={"Authorization": f"Bearer {stack['operator_token']}"},
                                data={"to": "Nadia Brun", "by": "test"})
    assert request.status == 200
    page.uncheck("#mine")
    page.check("#mine")
    page.wait_for_selector(f"#cases li.case[data-id='{case['id']}'] .assignee:has-text('assigned to Nadia Brun')")
    assert page.locator("#cases li.case").count() == 1
    assert [c["id"] for c in stack_api(stack, "/api/cases?assignee=Nadia%20Brun")["items"]] == [case["id"]]
    assert page.errors == []


def test_a_whatsapp_case_says_so_and_a_reply_after_the_window_with_no_template_shows_why(page, stack):
    import boto3

    from infra.simulate import send_whatsapp
    from tests.conftest import stack_api, wait_until

    customer = "+33639980557"
    assert send_whatsapp(stack, "+33639980012", "L12 il y a de la fumée qui sort du moteur, j'ai peur", customer)[0] \
        == 200
    case = wait_until(lambda: next((c for c in stack_api(stack, "/api/cases?status=open")["items"]
                                    if c["text"].startswith("L12 il y a de la fum")), None), seconds=60)
    sign_in(page, stack, f"/?period=today#case={case['id']}")
    page.wait_for_selector("#case[data-loaded]")
    assert page.text_content("label[for=case-text]").startswith("Your reply (sent on WhatsApp")
    db = boto3.client("dynamodb", endpoint_url=stack["moto_endpoint"], region_name="eu-west-2",
                      aws_access_key_id="local", aws_secret_access_key="local")
    then = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")  # the customer wrote then
    db.update_item(TableName="voix-dev", Key={"pk": {"S": f"CASE#{case['id']}"}, "sk": {"S": "CASE"}},
                   UpdateExpression="SET received_at = :t", ExpressionAttributeValues={":t": {"S": then}})
    page.fill("#case-text", "Désolé, nous arrivons")
    page.click("#case-send")
    page.wait_for_selector("#case-error:has-text('24-hour window closed')")
    assert page.text_content("#case-error") == (
        "WhatsApp's 24-hour window closed (the customer last wrote 2 days ago) and no approved template exists for "
        "fr: nothing can be sent until they write again")
    assert page.input_value("#case-text") == "Désolé, nous arrivons"  # kept, to send when the customer writes again
    assert page.errors == []
