"""The inbox in a real browser: "?" opens the shortcuts on every page that has them, and a saved
view is deleted only when its owner confirms."""

import pytest
from playwright.sync_api import expect

from socialdesk import roles
from tests.conftest import make_channel, make_user, sign_in
from tests.factories import make_case

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_question_mark_opens_the_shortcuts_on_the_inbox_and_the_case_page(browser, live_server):
    case = make_case(make_channel("x"), handle="dana")
    make_user("alex", roles.AGENT)
    page = sign_in(browser, live_server, "alex")
    help_dialog = page.locator("#shortcuts-help")

    # Typed into the search field, "?" is text, not a shortcut.
    page.locator("#f-q").fill("")
    page.locator("#f-q").press("?")
    expect(page.locator("#f-q")).to_have_value("?")
    expect(help_dialog).to_be_hidden()

    page.keyboard.press("Escape")  # leaves the field
    page.keyboard.press("?")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Select the case for a bulk action")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()

    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(help_dialog).to_be_visible()
    help_dialog.get_by_role("button", name="Close").click()

    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.keyboard.press("?")
    expect(page.locator("#shortcuts-help")).to_be_visible()
    expect(page.locator("#shortcuts-help")).to_contain_text("Assign the case to me")


def test_deleting_a_saved_view_asks_first(browser, live_server):
    from cases.models import SavedView

    alex = make_user("alex", roles.AGENT)
    SavedView.objects.create(owner=alex, name="Refunds", query="q=refund")
    page = sign_in(browser, live_server, "alex")
    delete = page.get_by_role("button", name="Delete view Refunds")

    page.once("dialog", lambda dialog: dialog.dismiss())
    delete.click()
    expect(page.get_by_role("link", name="Refunds")).to_be_visible()
    assert SavedView.objects.filter(name="Refunds").exists()

    page.once("dialog", lambda dialog: dialog.accept())
    delete.click()
    expect(page.get_by_role("link", name="Refunds")).to_have_count(0)
    assert not SavedView.objects.filter(name="Refunds").exists()
