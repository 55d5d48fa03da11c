"""The bell in a real browser: the count arrives after the page, the drop-down lists the newest,
and opening one goes to the case and marks it read (Debian's Chromium, driven by Playwright)."""

import os

import pytest
from playwright.sync_api import expect

from cases.actions import do_add_note, do_assign_case
from notifications.actions import do_notify
from notifications.models import Kind, Notification
from socialdesk import roles
from tests.conftest import make_channel, make_user, sign_in
from tests.factories import make_case

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_bell_shows_the_count_and_opens_the_newest(browser, live_server):
    channel = make_channel("x")
    agent = make_user("alex", roles.AGENT)
    agent.first_name, agent.last_name = "Alex", "Rivera"
    agent.save(update_fields=["first_name", "last_name"])
    lead = make_user("sam", roles.SUPERVISOR)
    lead.first_name, lead.last_name = "Sam", "Okafor"
    lead.save(update_fields=["first_name", "last_name"])
    first = make_case(channel, text="My order #4417 arrived broken and nobody answers <b>me</b>")
    second = make_case(channel, handle="jo", text="Refund still not here after three weeks")
    do_assign_case(first, agent, actor=lead)
    do_add_note(second, "@alex can you call Jo back today? They are upset.", author=lead)
    do_notify([agent], Kind.SLA_WARNING, case=second, dedupe_key="sla:second:warn")

    page = sign_in(browser, live_server, "alex")
    badge = page.locator(".bell__badge")
    expect(badge).to_have_text("3")
    page.locator(".bell__button").click()
    items = page.locator(".bell__panel .notif")
    expect(items).to_have_count(3)
    expect(items.first).to_contain_text("is about to breach its SLA")
    expect(page.locator(".bell__panel")).to_contain_text("<b>me</b>")  # text, not markup
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=os.path.join(os.environ["SCREENSHOT_DIR"], "bell-open.png"))

    # A new notification reaches the bell by its poll, without a reload.
    do_notify([agent], Kind.SLA_BREACHED, case=second, dedupe_key="sla:second:breach")
    expect(badge).to_have_text("4", timeout=25_000)

    page.locator(".bell__panel .notif", has_text="assigned").locator(".notif__link").click()
    page.wait_for_url(f"**/cases/{first.pk}/")
    expect(page.locator(".bell__badge")).to_have_text("3")
    assert Notification.objects.filter(recipient=agent, read_at__isnull=False).count() == 1

    page.goto(f"{live_server.url}/notifications/")
    expect(page.locator(".notif-list .notif")).to_have_count(4)
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=os.path.join(os.environ["SCREENSHOT_DIR"], "notifications-list.png"))
    page.get_by_role("button", name="Mark all read").first.click()
    expect(page.locator(".bell__badge")).to_have_count(0)
    assert not Notification.objects.filter(recipient=agent, read_at__isnull=True).exists()

    page.get_by_role("link", name="E-mail settings").first.click()
    page.get_by_label("Your reply has been reviewed").uncheck()
    page.get_by_label("Send them as one daily digest").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Your notification e-mails are set.")
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=os.path.join(os.environ["SCREENSHOT_DIR"], "preferences.png"))
    agent.refresh_from_db()
    assert Kind.REVIEW_IN not in agent.notification_preference.email_kinds
    assert agent.notification_preference.daily_digest


def test_the_bell_panel_fits_a_phone(browser, live_server):
    agent = make_user("alex", roles.AGENT)
    case = make_case(make_channel("x"), text="Where is my parcel? " + "x" * 300)
    do_notify([agent], Kind.SLA_WARNING, case=case, dedupe_key="sla:phone")
    page = sign_in(browser, live_server, "alex", width=390, height=844)
    expect(page.locator(".bell__badge")).to_have_text("1")
    page.locator(".bell__button").click()
    panel = page.locator(".bell__panel")
    expect(panel.locator(".notif")).to_have_count(1)
    box = panel.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") == 0
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=os.path.join(os.environ["SCREENSHOT_DIR"], "bell-phone.png"))
