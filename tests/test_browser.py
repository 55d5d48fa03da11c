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
from tests.factories import make_canned

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
