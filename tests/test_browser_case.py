"""The case page never lies, in a real browser (Debian's Chromium driven by Playwright): after
the agent's own reply everything on the page follows the timeline, and a form from a page that
has not caught up is refused with what changed.
"""

import re

import pytest
from playwright.sync_api import expect

from cases import sending
from cases.models import Case, CaseStatus, Reply
from socialdesk import roles
from tests.conftest import make_channel, make_user, sign_in, wait_for
from tests.factories import AcceptingNetwork, make_case

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_after_a_reply_the_page_shows_the_case_as_it_is(
    browser, live_server, monkeypatch, tmp_path
):
    monkeypatch.setattr(sending, "get_connector", lambda _network: AcceptingNetwork())
    case = make_case(make_channel("x"), text="@acme my parcel never came")
    alex = make_user("alex", roles.AGENT)
    alex.first_name, alex.last_name = "Alex", "Agent"
    alex.save(update_fields=["first_name", "last_name"])
    url = f"{live_server.url}/cases/{case.pk}/"

    page = sign_in(browser, live_server, "alex")
    page.goto(url)
    header = page.locator("#case-header")
    expect(header.locator(".badge--status-new")).to_have_text("New")
    expect(page.locator("#case-clocks .clock").first).to_have_class(re.compile("clock--running"))

    # The same agent's other tab, opened before the reply and not catching up (its presence
    # poll never arrives), still offers the status form as it was.
    old_tab = sign_in(browser, live_server, "alex")
    old_tab.route("**/presence/", lambda route: route.abort())
    old_tab.goto(url)
    expect(old_tab.locator("#status-select")).to_have_value("new")

    # Half-written triage reason: the background refresh of the panel must keep it.
    page.fill("#triage-reason", "A customer with a concrete problem")
    page.locator("#composer-text").fill("Sorry about that! Please send us a DM with the order.")
    page.locator("#composer-form button[data-composer-send]").last.click()
    expect(page.locator("#composer-notice")).to_contain_text("Reply queued")
    reply = Reply.objects.get(case=case)
    assert sending.send_reply(reply.pk) == sending.SendOutcome.SENT  # the worker's step

    # Within a presence poll the whole page follows the timeline.
    expect(page.locator("#timeline")).to_contain_text("changed the status from New to Pending")
    expect(header.locator(".badge--status-pending")).to_have_text("Pending", timeout=15_000)
    expect(header).not_to_contain_text("New")
    expect(page.locator("#status-select")).to_have_value("pending")
    first_response = page.locator("#case-clocks .clock").first
    expect(first_response).to_have_class(re.compile("clock--met"))
    expect(first_response.locator("[data-clock-value]")).to_have_text("Met")
    expect(page.locator("#composer-notice")).not_to_contain_text("Reply queued")
    expect(page.locator("#composer-notice")).to_contain_text("Your reply was sent")
    expect(page.locator("#presence-list")).not_to_contain_text("by others")
    expect(page.locator("#triage-reason")).to_have_value("A customer with a concrete problem")
    page.screenshot(path=str(tmp_path / "case-1440.png"), full_page=True)

    # The old tab's "Set status" (still New) is refused, saying what changed; nothing reverts.
    old_tab.locator("#status-form button[type=submit]").first.click()
    error = old_tab.locator("#case-actions .alert--error")
    expect(error).to_contain_text("Not saved: the case changed after this form was shown")
    expect(error).to_contain_text("SocialDesk changed the status from New to Pending")
    expect(old_tab.locator("#case-header .badge--status-pending")).to_be_visible()
    wait_for(lambda: Case.objects.get(pk=case.pk).status == CaseStatus.PENDING)
    assert Case.objects.get(pk=case.pk).status == CaseStatus.PENDING
    old_tab.screenshot(path=str(tmp_path / "case-stale-1440.png"), full_page=True)

    phone = sign_in(browser, live_server, "alex", width=390, height=844)
    phone.goto(url)
    expect(phone.locator("#case-header .badge--status-pending")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth - window.innerWidth") == 0
    phone.screenshot(path=str(tmp_path / "case-390.png"), full_page=True)


def test_collision_edit_and_a_sent_back_reply_where_the_agent_works(
    browser, live_server, tmp_path, supervisor
):
    case = make_case(make_channel("x"), text="@acme where is my refund?")
    make_user("alex", roles.AGENT)
    blair = make_user("blair", roles.AGENT)
    url = f"{live_server.url}/cases/{case.pk}/"

    page = sign_in(browser, live_server, "alex")
    page.goto(url)
    page.locator("#composer-text").fill("Hi! Your refund is on its way.")
    # A colleague answers while Alex writes.
    Reply.objects.create(case=case, author=blair, text="Refund sent today", state="sent")
    page.locator("#composer-form button[data-composer-send]").last.click()
    collision = page.locator(".composer__collision")
    expect(collision).to_contain_text("Someone else replied since you opened this case.")
    expect(collision.get_by_role("button", name="Discard my draft")).to_be_visible()
    page.screenshot(path=str(tmp_path / "collision-1440.png"), full_page=True)

    collision.get_by_role("button", name="Edit my reply").click()
    expect(page.locator(".composer__collision")).to_have_count(0)
    expect(page.locator("#composer-text")).to_have_value("Hi! Your refund is on its way.")
    page.locator("#composer-text").fill("Hi! As Blair said, your refund is on its way.")
    page.locator("#composer-form button[data-composer-send]").last.click()
    expect(page.locator("#composer-notice")).to_contain_text("Reply queued")
    mine = Reply.objects.get(case=case, author__username="alex")
    assert mine.text == "Hi! As Blair said, your refund is on its way."

    # A supervisor sends it back: the inbox and the composer say so, with the note.
    Reply.objects.filter(pk=mine.pk).update(state=Reply.State.AWAITING_APPROVAL)
    mine.refresh_from_db()
    assert sending.do_send_back_reply(mine, approver=supervisor, note="Add the refund date.")
    phone = sign_in(browser, live_server, "alex", width=390, height=844)
    banner = phone.get_by_role("status").filter(has_text="Sent back to you (1)")
    expect(banner).to_be_visible()
    phone.screenshot(path=str(tmp_path / "inbox-sent-back-390.png"))
    banner.get_by_role("link", name=f"case #{case.pk}").click()
    notice = phone.locator("#composer-notice")
    expect(notice).to_contain_text("sent your reply back for changes")
    expect(notice).to_contain_text("Add the refund date.")
    expect(phone.locator("#composer-text")).to_have_value(mine.text)
    phone.screenshot(path=str(tmp_path / "sent-back-390.png"), full_page=True)
    phone.locator("#composer .composer__main").screenshot(path=str(tmp_path / "composer-390.png"))


def test_edited_and_deleted_posts_read_clearly_on_the_timeline(browser, live_server, tmp_path):
    from django.utils import timezone

    from listening.content import do_record_source_edit, do_record_source_removal
    from listening.models import Removal
    from tests.factories import add_mention

    channel = make_channel("x")
    case = make_case(channel, text="@acme my parcel never came, order 5521. Fix this <b>now</b>")
    alex = make_user("alex", roles.AGENT)
    Reply.objects.create(
        case=case,
        author=alex,
        text="So sorry about that! Could you DM us your order number?",
        state=Reply.State.SENT,
        sent_at=timezone.now(),
    )
    first = case.mentions.get()
    do_record_source_edit(
        channel=channel,
        external_id=first.external_id,
        text="@acme my parcel came two weeks late, order 5521.",
        edited_at=timezone.now(),
    )
    gone = add_mention(case, "@acme and your courier was rude to me, I'm done with you")
    Reply.objects.create(
        case=case,
        author=alex,
        in_reply_to=gone,
        text="We're sorry to hear that. We've passed it on to the courier.",
        state=Reply.State.FAILED,
        error="The customer deleted the post.",
    )
    do_record_source_removal(
        channel=channel,
        external_id=gone.external_id,
        removed_at=timezone.now(),
        how=Removal.REPLY_NOT_FOUND,
    )

    page = sign_in(browser, live_server, "alex")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    edited = page.locator(f"#mention-{first.pk}")
    expect(edited.locator(".tl__text").first).to_have_text(
        "@acme my parcel came two weeks late, order 5521."
    )
    earlier = edited.locator(".tl__text--earlier")
    expect(earlier).to_be_hidden()
    edited.locator("summary").click()
    expect(earlier).to_have_text("@acme my parcel never came, order 5521. Fix this <b>now</b>")
    removed = page.locator(f"#mention-{gone.pk}")
    expect(removed).to_contain_text("Deleted by its author")
    expect(removed).not_to_contain_text("courier was rude")
    expect(page.locator(".tl--reply-failed")).to_contain_text("The customer deleted the post.")
    expect(page.locator(".tl--reply-failed button")).to_have_count(0)  # no retry offered
    page.locator("#timeline").screenshot(path=str(tmp_path / "timeline-edited-deleted.png"))


def test_a_transfer_from_the_dialog_sends_the_case_to_the_other_teams_inbox(
    browser, live_server, tmp_path
):
    from tests.factories import make_team

    alex, bea = make_user("alex", roles.AGENT), make_user("bea", roles.AGENT)
    care, billing = make_team("Care", [], [alex]), make_team("Billing", [], [bea])
    case = make_case(make_channel("x", team=care), text="@acme charged twice for one order")

    page = sign_in(browser, live_server, "alex")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    dialog = page.locator("#transfer-dialog")
    expect(dialog).to_be_hidden()
    page.get_by_role("link", name="Transfer to another team…").click()
    expect(dialog).to_be_visible()
    # Shortcuts stay in the dialog: "i" would otherwise pick a triage decision.
    page.keyboard.press("i")
    expect(page.locator("#triage-ignore")).not_to_be_checked()
    dialog.get_by_label("Team", exact=True).select_option(label="Billing")
    dialog.get_by_label("Note for the team").fill("A billing question: a double charge.")
    dialog.get_by_role("button", name="Transfer case").click()

    expect(page.locator(".messages")).to_contain_text("it left your inbox")
    assert page.url.endswith("/cases/")
    case.refresh_from_db()
    assert case.team == billing
    bea_page = sign_in(browser, live_server, "bea")
    bea_page.goto(f"{live_server.url}/cases/{case.pk}/")
    expect(bea_page.locator("#timeline")).to_contain_text(
        "transferred the case from Care to Billing"
    )
    expect(bea_page.locator("#timeline")).to_contain_text("A billing question: a double charge.")
