"""Corrections that teach, in the dashboard (Chromium, Playwright, one local stack): a manager corrects a
message's labels from the live feed; the counts move once; the Label quality card shows the correction."""

from __future__ import annotations

import json
import urllib.request

import pytest

from infra.simulate import send_twilio

pytestmark = pytest.mark.browser

LINE_8 = "+447700900008"
HOT = "L8 it's far too hot on this bus, the heating is stuck on"
LATE = "L8 the bus was 25 minutes late again this morning"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from tests.conftest import CHROMIUM, running_stack, stack_api, wait_until

    if not CHROMIUM:
        pytest.skip("no Chromium on this machine: `make test` installs Debian's chromium package (apt-get)")
    with running_stack(tmp_path_factory.mktemp("corrections")) as (state, _output):
        for n, text in enumerate([HOT, LATE]):
            assert send_twilio(state, LINE_8, text, f"+44770090070{n}")[0] == 200

        def counted():
            done = {m["text"]: m for m in stack_api(state, "/api/feedback?site=line-8")["items"] if m["processed"]}
            return done if len(done) == 2 else None

        state["messages"] = wait_until(counted)
        yield state


@pytest.fixture
def page(browser, stack):
    from tests.conftest import browser_page

    with browser_page(browser) as page:
        yield page


def sign_in(page, state, token=None, path="/?period=today&site=line-8", name="Aline Martin"):
    page.goto(state["dashboard_url"] + path)
    page.fill("#token", token or state["operator_token"])
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("body[data-loaded]", timeout=15_000)
    page.fill("#who", name)


def item(page, message):
    return page.locator(f"#feed li[data-id='{message['id']}']")


def test_a_manager_corrects_a_topic_from_the_feed_the_counts_move_once_and_quality_shows_it(page, stack):
    from tests.conftest import stack_api, wait_until

    message = stack["messages"][HOT]
    old, new = message["topic"], "cleanliness"
    assert old != new
    before = stack_api(stack, "/api/metrics?site=line-8&bucket=day")["totals"]
    sign_in(page, stack)
    page.wait_for_selector("#quality[data-loaded]")
    assert page.text_content("#q-corrected") == "0"

    row = item(page, message)
    row.get_by_role("button", name="Correct the labels of this message").click()
    topic = row.get_by_label("Topic")
    assert page.evaluate("document.activeElement.name") == "topic"  # the form opens on its first select
    assert [topic.input_value(), row.get_by_label("Nature").input_value(), row.get_by_label("Urgency").input_value()] \
        == [old, message["nature"], message["urgency"]]
    topic.select_option(new)
    row.get_by_role("button", name="Save").click()

    row.locator(".badge.corrected").wait_for()
    assert row.locator(".badge.topic-cleanliness").inner_text() == new
    assert row.locator(".was").inner_text() == f"was: {old} / {message['nature']}"
    assert row.locator(".fix-note").inner_text() == f"Corrected: {new} / {message['nature']}."
    assert page.evaluate("document.activeElement.className").startswith("secondary fix-open")

    after = stack_api(stack, "/api/metrics?site=line-8&bucket=day")["totals"]
    assert after["messages"] == before["messages"]
    assert after["topic"].get(old, 0) == before["topic"][old] - 1
    assert after["topic"].get(new, 0) == before["topic"].get(new, 0) + 1
    assert after["nature"] == before["nature"] and after["urgency"] == before["urgency"]
    shown = next(m for m in stack_api(stack, "/api/feedback?site=line-8")["items"] if m["id"] == message["id"])
    assert shown["corrected"] and shown["corrected_by"] == "Aline Martin [operator]"

    # the Label quality card: one message corrected, the pair, the old label's precision
    wait_until(lambda: page.text_content("#q-corrected") == "1", 10)
    pair = page.locator(f"#quality [data-dimension='topic'] li[data-pair='{old}>{new}']")
    assert pair.inner_text() == f"{old} → {new}: 1 message"
    cells = page.locator(f"#quality [data-dimension='topic'] tr[data-label='{old}'] td").all_inner_texts()
    assert cells == ["1", "0", "0%", "–"]
    assert "From corrected messages only" in page.text_content("section[aria-labelledby='t-quality']")

    # a reload: the feed still shows it corrected, the counts have not moved again
    page.reload()
    page.wait_for_selector("body[data-loaded]", timeout=15_000)
    item(page, message).locator(".badge.corrected").wait_for()
    assert stack_api(stack, "/api/metrics?site=line-8&bucket=day")["totals"] == after
    assert page.errors == []


def test_the_form_is_keyboard_usable_asks_for_a_name_and_words_its_errors(page, stack):
    from tests.conftest import wait_until

    message = stack["messages"][LATE]
    sign_in(page, stack, name="")
    row = item(page, message)
    button = row.get_by_role("button", name="Correct the labels of this message")
    button.focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.name") == "topic"
    page.keyboard.press("Escape")  # closes it, the focus back on the control
    assert row.locator("form").count() == 0 and page.evaluate("document.activeElement.textContent") == "Correct"

    page.keyboard.press("Enter")
    row.get_by_role("button", name="Save").click()
    assert row.locator(".fix-note").inner_text() == "Nothing to change: choose a different label, or Cancel."
    row.get_by_label("Nature").select_option("compliment")
    # the dashboard refreshes (every 15 s; here at once): the open form, its choice and the focus stay
    row.get_by_label("Nature").focus()
    loaded = page.get_attribute("body", "data-loaded")
    page.evaluate("document.getElementById('mine').dispatchEvent(new Event('change'))")
    wait_until(lambda: page.get_attribute("body", "data-loaded") != loaded, 10)
    wait_until(lambda: page.evaluate("document.activeElement.name") == "nature", 5)
    assert row.get_by_label("Nature").input_value() == "compliment"
    row.get_by_role("button", name="Save").click()
    assert "Type your name" in row.locator(".fix-note").inner_text()
    assert page.evaluate("document.activeElement.id") == "who"

    page.fill("#who", "Sam")
    page.route("**/api/feedback/*", lambda route: route.fulfill(
        status=409, content_type="application/json", body=json.dumps({"error": "not counted yet, retry in a moment"}))
        if route.request.method == "PATCH" else route.continue_())
    row.get_by_role("button", name="Save").click()
    page.wait_for_selector(f"#feed li[data-id='{message['id']}'] .fix-note.error:has-text('still being counted')")
    assert row.locator(".fix-note").inner_text() == "This message is still being counted: try again in a moment."
    assert row.locator(".badge.corrected").count() == 0
    assert page.errors == []


def test_a_viewer_token_is_told_corrections_need_the_operator_token(page, stack):
    request = urllib.request.Request(stack["api_url"] + "/api/tokens", method="POST", data=b'{"ttl_minutes": 60}',
                                     headers={"Authorization": f"Bearer {stack['operator_token']}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as res:
        viewer = json.loads(res.read())["token"]
    message = stack["messages"][LATE]
    sign_in(page, stack, token=viewer)
    row = item(page, message)
    row.get_by_role("button", name="Correct the labels of this message").click()
    row.get_by_label("Urgency").select_option("high")
    row.get_by_role("button", name="Save").click()
    row.locator(".fix-note.error").wait_for()
    assert row.locator(".fix-note").inner_text() == "Corrections need the operator token."


def test_the_form_and_the_quality_card_fit_a_phone(browser, stack):
    context = browser.new_context(viewport={"width": 375, "height": 800}, is_mobile=True)
    page = context.new_page()
    sign_in(page, stack)
    page.wait_for_selector("#quality[data-loaded]")
    item(page, stack["messages"][LATE]).get_by_role("button", name="Correct the labels of this message").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert item(page, stack["messages"][LATE]).get_by_role("button", name="Save").is_visible()
    context.close()
