"""The desk on a phone and a tablet: the inbox is a list of cards, filters fold away, and no
page scrolls sideways (Debian's Chromium, driven by Playwright)."""

import pytest
from playwright.sync_api import expect

from socialdesk import roles
from tests.conftest import make_channel, make_user, sign_in
from tests.factories import make_case

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HOSTILE_LONG = "x" * 400  # one unbroken word: the classic cause of a sideways scroll


def overflow(page) -> int:
    """How far the page is wider than the window, in CSS pixels (0: no sideways scroll)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("width", [390, 820])
def test_the_inbox_is_a_list_of_cards_with_filters_folded(browser, live_server, width):
    channel = make_channel("x")
    for n in range(3):
        make_case(channel, handle=f"customer_{n}", text=f"My parcel {n} never came {HOSTILE_LONG}")
    make_user("alex", roles.AGENT)
    page = sign_in(browser, live_server, "alex", width=width, height=844)

    assert overflow(page) == 0
    cards = page.locator("tr.case-row")
    expect(cards).to_have_count(3)
    first = cards.first.bounding_box()
    assert first["y"] + 80 < 844, "the first case is on the first screen"
    assert first["width"] <= width
    expect(page.locator("table.cases-table thead")).not_to_be_in_viewport()
    for part in ("td.customer", "td.message", "td.triage", "td.status", "td.waiting"):
        expect(cards.first.locator(part)).to_be_visible()

    # The search stays; the other filters fold behind a button that counts those in use.
    expect(page.locator("#f-q")).to_be_visible()
    expect(page.locator("#f-status")).to_be_hidden()
    toggle = page.locator("[data-toggle-filters]")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    page.select_option("#f-priority", "high")  # filters apply on change
    page.wait_for_url("**priority=high**")
    expect(page.locator("[data-filter-count]")).to_have_text("1")
    assert overflow(page) == 0


def test_the_case_page_fits_a_phone(browser, live_server):
    case = make_case(make_channel("x"), handle="long_words", text=f"Broken again {HOSTILE_LONG}")
    make_user("alex", roles.AGENT)
    page = sign_in(browser, live_server, "alex", width=390, height=844)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    expect(page.locator("#case-page")).to_be_visible()
    expect(page.locator("#composer-area textarea, [data-composer-text]").first).to_be_visible()
    assert overflow(page) == 0


def test_the_wide_inbox_stays_a_table(browser, live_server):
    make_case(make_channel("x"), handle="wide")
    make_user("alex", roles.AGENT)
    page = sign_in(browser, live_server, "alex", width=1440, height=900)
    expect(page.locator("table.cases-table thead")).to_be_visible()
    expect(page.locator("#f-status")).to_be_visible()
    expect(page.locator("[data-toggle-filters]")).to_be_hidden()
