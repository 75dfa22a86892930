"""The dashboard in a real browser (Debian's Chromium, driven by Playwright) against the local stack."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from infra.simulate import send_twilio
from tests.conftest import running_stack, stack_api, wait_until

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
XSS = [  # from the OWASP XSS filter evasion cheat sheet, each setting window.__xss if it ever runs
    '<img src=x onerror="window.__xss=1;alert(1)">', "<script>window.__xss=2</script>",
    '"><svg onload="window.__xss=3">', "javascript:window.__xss=4",
    "<iframe src=\"javascript:parent.__xss=5\"></iframe>", "<body onload=window.__xss=6>",
    "<a href=\"javascript:window.__xss=7\">click</a>", "<details open ontoggle=window.__xss=8>",
    "';window.__xss=9;//", "</textarea><script>window.__xss=10</script>",
    "<math><mtext><img src=x onerror=window.__xss=11>",
    "<style>@import 'javascript:window.__xss=12';</style>", "{{constructor.constructor('window.__xss=13')()}}",
    "${window.__xss=14}", "<input autofocus onfocus=window.__xss=15>", "<video><source onerror=window.__xss=16>",
]
URGENT = " - the driver is drunk and dangerous"  # also opens a case: the text shows in the cases list
SEED = [
    ("+447700900008", "L8 it's freezing on this coach, heating broken"),
    ("+447700900008", "driver was lovely, thank you"),
    ("+33639980012", "le chauffeur roule comme un fou, j'ai peur"),
    ("+447700900101", "queued 25 minutes at the tills, I'm leaving"),
    ("+33639980101", "vendeuse adorable, merci"),
    ("+447700900101", "could you add more tills at lunchtime? would be great"),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not CHROMIUM:
        pytest.skip("no Chromium on this machine: `make test` installs Debian's chromium package (apt-get)")
    with running_stack(tmp_path_factory.mktemp("dash")) as (state, output):
        for i, (to, text) in enumerate(SEED):
            assert send_twilio(state, to, text, f"+4477009001{i:02d}")[0] == 200
        wait_until(lambda: len(stack_api(state, "/api/feedback")["items"]) == len(SEED)
                 and all(i["processed"] for i in stack_api(state, "/api/feedback")["items"]))
        yield state






@pytest.fixture(scope="module")
def browser(stack):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, stack):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.dialogs = []
    page.errors = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    context.close()


def sign_in(page, state, path="/?period=today"):
    page.goto(state["dashboard_url"] + path)
    page.fill("#token", state["operator_token"])
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("body[data-loaded]", timeout=15_000)


def test_sign_in_shows_counters_charts_and_breakdowns(page, stack):
    page.goto(stack["dashboard_url"])
    assert page.is_visible("#signin") and not page.is_visible("#app")
    sign_in(page, stack)
    assert int(page.text_content("#k-messages")) >= len(SEED)
    assert page.text_content("#k-urgent").strip() != "0"
    assert page.locator("#chart canvas").count() == 1
    assert page.locator("#topics li").count() >= 3 and page.locator("#sites li").count() >= 3
    assert page.locator("#scorecards tbody tr").count() >= 3
    # the token lives in session storage, never in the URL
    assert stack["operator_token"] not in page.url
    assert page.evaluate("sessionStorage.getItem('voix.operatorToken')") == stack["operator_token"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert page.errors == []


def test_a_wrong_token_is_refused_on_the_sign_in_screen(page, stack):
    page.goto(stack["dashboard_url"])
    page.fill("#token", "not-the-token")
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#signin-error:not([hidden])")
    assert "refused" in page.text_content("#signin-error")


def test_a_new_sms_appears_in_the_live_feed_within_two_seconds(page, stack):
    sign_in(page, stack)
    text = f"L8 live feed check {time.time_ns()}"
    status, _ = send_twilio(stack, "+447700900008", text, "+447700900777")
    returned = time.monotonic()
    assert status == 200
    page.wait_for_selector(f"#feed li:has-text('{text}')", timeout=2_000)
    assert time.monotonic() - returned < 2.0


def test_a_burst_between_two_polls_is_shown_whole(page, stack):
    """More messages than one page arrive between two polls: none is skipped."""
    import json

    sign_in(page, stack)
    empty = json.dumps({"items": [], "next_cursor": None})
    page.route("**/api/feedback?*", lambda route: route.fulfill(status=200, body=empty,
                                                                 content_type="application/json"))
    tag = time.time_ns()
    for i in range(30):  # thirty senders: no one's flood window is reached
        status, _ = send_twilio(stack, "+447700900008", f"L8 burst {tag} number {i}", f"+4477009006{i:02d}")
        assert status == 200
    page.unroute("**/api/feedback?*")
    shown = page.locator("#feed li", has_text=f"burst {tag} ")
    deadline = time.monotonic() + 10
    while shown.count() < 30 and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert shown.count() == 30


def test_export_downloads_the_csv_and_says_when_it_was_cut(page, stack):
    sign_in(page, stack)
    with page.expect_download() as download:
        page.click("#export")
    path = download.value.path()
    with open(path, encoding="utf-8") as f:
        assert f.readline().startswith("received_at,site,topic")
    page.wait_for_selector("#status:has-text('Export downloaded')")

    def cut(route):
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "x-voix-truncated": "true"})

    page.route("**/api/export.csv?*", cut)  # as if the period held more than the export's 10,000 rows
    with page.expect_download():
        page.click("#export")
    page.wait_for_selector("#status:has-text('newest 10,000 messages')")


def test_acknowledging_a_case_takes_it_off_the_open_list(page, stack):
    sign_in(page, stack)
    first = page.locator("#cases li.case").first
    button = first.locator("button", has_text="Acknowledge")
    case_id = button.get_attribute("aria-label").rsplit(" ", 1)[1]
    shown = stack_api(stack, "/api/cases?status=open")["items"]
    code = next(c["code"] for c in shown if c["id"] == case_id)
    assert first.locator(".code").inner_text() == f"code {code}"  # what staff text back: OK <code>
    assert re.fullmatch(r"(due in|overdue by) \d+(\.\d)? (s|min|h).*", first.locator(".due").inner_text())
    button.click()
    page.wait_for_selector(f"#status:has-text('Case {case_id} acknowledged')")
    assert page.locator(f"#cases button[aria-label='Acknowledge case {case_id}']").count() == 0
    acknowledged = stack_api(stack, "/api/cases?status=acknowledged")["items"]
    assert case_id in [c["id"] for c in acknowledged]


def test_filters_change_the_numbers_and_stay_in_the_url(page, stack):
    sign_in(page, stack)
    everything = int(page.text_content("#k-messages"))
    page.select_option("#f-site", "store-leeds")
    wait_until(lambda: page.text_content("#k-messages") != str(everything), 5)
    leeds = int(page.text_content("#k-messages"))
    assert 0 < leeds < everything
    assert "site=store-leeds" in page.url
    page.select_option("#f-nature", "complaint")
    wait_until(lambda: "nature=complaint" in page.url, 5)
    page.wait_for_timeout(300)
    assert int(page.text_content("#k-messages")) <= leeds
    # a shared link opens the same view
    shared = page.url
    page.goto(shared)
    page.wait_for_selector("body[data-loaded]")
    assert page.input_value("#f-site") == "store-leeds" and page.input_value("#f-nature") == "complaint"


def test_drill_down_network_site_topic_messages(page, stack):
    sign_in(page, stack)
    page.locator("#sites button", has_text="Coach line 8").click()
    wait_until(lambda: "site=line-8" in page.url, 5)
    page.locator("#topics button").first.click()
    wait_until(lambda: "topic=" in page.url, 5)
    page.wait_for_timeout(300)
    topic = page.url.split("topic=")[1].split("&")[0]
    badges = page.locator("#feed li .badge.topic-" + topic)
    assert badges.count() == page.locator("#feed li").count() > 0
    assert page.locator("#crumbs li").count() == 3


def test_customer_text_with_html_stays_inert(page, stack):
    for i, payload in enumerate(XSS):
        text = payload + (URGENT if i % 2 else "")
        assert send_twilio(stack, "+447700900008", "L8 " + text, f"+4477009002{i:02d}")[0] == 200
    wait_until(lambda: len([c for c in stack_api(stack, "/api/cases")["items"] if URGENT in c["text"]])
               == len(XSS) // 2, 30)
    sign_in(page, stack)
    page.wait_for_timeout(500)
    feed = page.locator("#feed li p.text").all_text_contents()
    cases = page.locator("#cases li p.text").all_text_contents()
    for i, payload in enumerate(XSS):
        text = "L8 " + payload + (URGENT if i % 2 else "")
        assert text in feed, payload
        if i % 2:
            assert text in cases, payload
    assert page.dialogs == []
    assert page.evaluate("window.__xss") is None
    assert page.locator("main img, main script, main svg, main iframe, main details, main math, main video,"
                        " main input:not([type]), main a[href^='javascript']").count() == 0


def test_phone_width_has_no_horizontal_scroll(browser, stack):
    context = browser.new_context(viewport={"width": 375, "height": 800}, is_mobile=True)
    page = context.new_page()
    sign_in(page, stack)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.is_visible("#k-messages")
    page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
    context.close()


def test_every_form_control_has_a_label(page, stack):
    sign_in(page, stack)
    unlabeled = page.evaluate("""[...document.querySelectorAll('select, input')]
        .filter(e => !e.labels || e.labels.length === 0).map(e => e.id)""")
    assert unlabeled == []


def test_page_weight_before_data_is_under_300_kb():
    total = sum(p.stat().st_size for p in (ROOT / "dashboard").rglob("*") if p.is_file() and "LICENSE" not in p.name)
    assert total <= 300 * 1024
