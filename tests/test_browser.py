"""The agent's main journey in a real browser (Debian's Chromium driven by Playwright).

The desk runs for real: pytest-django's live server, a Celery worker with beat polling the
simulator and sending through the real tweepy client, and two agents in two browser contexts.
"""

import re

import pytest
from playwright.sync_api import expect

from cases.models import Reply
from listening.models import Mention
from socialdesk import roles
from tests.conftest import make_channel, make_user, sign_in, wait_for
from tests.factories import make_canned, make_case

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_agent_triages_and_answers_a_new_mention_exactly_once(
    browser, live_server, simulator, worker, tmp_path
):
    make_channel(
        "x",
        external_account_id="1000",
        handle="@acme_support",
        poll_interval=1,
        credentials={"bearer_token": "browser-x-token"},
    )
    make_canned(
        "Sorry, let's fix it",
        variants={
            "x": "Hi {customer_name}, sorry about this. Please send us a DM with your order number."
        },
    )
    for username in ("alex", "blair"):
        user = make_user(username, roles.AGENT)
        user.first_name, user.last_name = username.title(), "Agent"
        user.save(update_fields=["first_name", "last_name"])

    alex = sign_in(browser, live_server, "alex")
    expect(alex).to_have_url(re.compile(r"/cases/$"))
    expect(alex.locator("tr.case-row")).to_have_count(0)

    # A customer writes; the worker polls it in; the inbox shows it without a reload.
    simulator.publish("x", 1, account_id="1000", kind="mention")
    wait_for(lambda: Mention.objects.count() == 1, message="the mention to be polled in")
    row = alex.locator("tr.case-row")
    expect(row).to_have_count(1, timeout=30_000)
    alex.screenshot(path=str(tmp_path / "inbox.png"))

    row.locator("a.case-link").click()
    expect(alex.locator("#case-page")).to_be_visible()

    # Triage: engage, with the reason QA will read later.
    alex.locator("label[for=triage-engage]").click()
    alex.fill("#triage-reason", "A customer with a concrete problem: answer publicly, then DM.")
    alex.locator("#triage-form button[type=submit]").click()
    expect(alex.locator("#case-page")).to_contain_text("Engage")

    # A second agent opens the same case and sees Alex there.
    blair = sign_in(browser, live_server, "blair")
    expect(blair).to_have_url(re.compile(r"/cases/$"))
    blair.goto(alex.url)
    expect(blair.locator("#presence-list")).to_contain_text("Alex Agent is viewing", timeout=15_000)

    # Reply with the canned reply, see the guideline warnings while typing, send.
    alex.locator("[data-canned-open]").click()
    alex.locator("#canned-results [role=option]", has_text="Sorry, let's fix it").click()
    text_box = alex.locator("#composer-text")
    expect(text_box).to_have_value(re.compile(r"^Hi .+, sorry about this"))
    text_box.press("End")
    text_box.type(" Thanks!!")
    expect(alex.locator("#composer-checks .check-item--warn").first).to_be_visible()
    expect(alex.locator("#composer-checks-summary")).to_contain_text("warning")
    alex.screenshot(path=str(tmp_path / "composer.png"))
    sent_text = text_box.input_value()
    alex.locator("#composer-form button[data-composer-send]").last.click()

    wait_for(
        lambda: Reply.objects.filter(state=Reply.State.SENT).exists(),
        message="the worker to send the reply",
    )
    received = simulator.replies("x")
    assert [r["text"] for r in received] == [sent_text]
    reply = Reply.objects.get()
    assert reply.external_id == received[0]["id"]
    assert {c["code"] for c in reply.checks if c["severity"] == "warn"}

    # The timeline shows it sent, and nothing is posted twice on later polls or recoveries.
    expect(alex.locator("#case-page")).to_contain_text(sent_text[:40], timeout=15_000)
    alex.wait_for_timeout(4000)
    assert len(simulator.replies("x")) == 1


def test_agent_inserts_a_canned_reply_by_keyboard(browser, live_server, tmp_path):
    channel = make_channel("x", external_account_id="1000", handle="@acme_support")
    case = make_case(channel, name="Priya Sharma", handle="priya")
    make_canned("Outage: we're on it", "We're on it.", labels=["outage"])
    make_canned(
        "Thanks for the kind words",
        "Thank you so much, {customer_name}! {agent_name}",
        variants={"x": "{handle} Thank you, {customer_name}, that made our day! {agent_name}"},
        labels=["thanks"],
    )
    make_user("alex", roles.AGENT)

    for width, height in ((1440, 900), (390, 844)):
        page = sign_in(browser, live_server, "alex", width=width, height=height)
        page.goto(f"{live_server.url}/cases/{case.pk}/")
        text_box = page.locator("#composer-text")
        text_box.fill("Hello. ")

        # Ctrl+K in the reply box opens the picker with the search focused.
        text_box.press("Control+k")
        search = page.locator("#canned-search")
        expect(search).to_be_focused()
        expect(page.locator("#canned-results [role=option]")).to_have_count(2)
        search.type("THANK")
        options = page.locator("#canned-results [role=option]")
        expect(options).to_have_count(1)
        expect(options.first).to_have_attribute("aria-selected", "true")
        page.screenshot(path=str(tmp_path / f"picker_{width}.png"))
        panel = page.locator("#canned-picker-panel").bounding_box()
        assert panel["x"] >= 0 and panel["x"] + panel["width"] <= width  # on the screen

        # Esc closes and goes back to the box; Ctrl+K again, the arrows, Enter inserts.
        search.press("Escape")
        expect(page.locator("#canned-picker-panel")).to_be_hidden()
        expect(text_box).to_be_focused()
        text_box.press("Control+k")
        expect(options).to_have_count(1)
        search.press("ArrowDown")
        search.press("Enter")
        expect(page.locator("#canned-picker-panel")).to_be_hidden()
        expect(text_box).to_have_value("Hello. @priya Thank you, Priya, that made our day! alex")
        expect(text_box).to_be_focused()
        expect(page.locator("#composer-form [data-composer-send]")).to_be_enabled()

        # The library: searched as the agent types, accents and case folded.
        page.goto(f"{live_server.url}/cases/canned/")
        page.fill("#canned-q", "OUTÅGE")
        expect(page.locator(".canned-card")).to_have_count(1)
        page.fill("#canned-q", "")
        expect(page.locator(".canned-card")).to_have_count(2)
        page.screenshot(path=str(tmp_path / f"library_{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.context.close()
