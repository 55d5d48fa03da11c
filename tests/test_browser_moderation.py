"""Hiding a comment from the case page, in a real browser (Debian's Chromium driven by
Playwright): the page says the change is under way, and once the worker has hidden the comment
on the simulated Facebook it shows it hidden, still readable, with who hid it."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cases import moderation
from cases.models import Moderation, Reply
from listening.models import Mention, MentionKind, Network
from socialdesk import roles
from tests.conftest import make_channel, make_user, sign_in
from tests.factories import make_case, make_reply
from tests.simulator import running_simulator

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_agent_hides_a_comment_from_the_case_page(browser, live_server, settings, tmp_path):
    with running_simulator(seed=9) as sim:
        settings.FACEBOOK_GRAPH_URL = sim.url
        settings.FACEBOOK_GRAPH_VERSION = "v23.0"
        comment = sim.publish("facebook", kind="comment")[0]
        page_channel = make_channel(Network.FACEBOOK, external_account_id="2000", name="Acme")
        case = make_case(
            page_channel,
            text="You are all <b>crooks</b>, this brand is a scam!!!",
            kind=MentionKind.COMMENT,
            name="Riley Troll",
        )
        mention = case.mentions.get()
        Mention.objects.filter(pk=mention.pk).update(external_id=comment)
        sam = make_user("sam", roles.SUPERVISOR)
        sam.first_name, sam.last_name = "Sam", "Lead"
        sam.save(update_fields=["first_name", "last_name"])
        # An earlier reply of the brand, deleted from Facebook by a supervisor.
        deleted = make_reply(
            case,
            sam,
            Reply.State.SENT,
            text="We're sorry, send us your order number here.",
            external_id=f"{comment}_reply",
            sent_at=timezone.now(),
            deleted_at=timezone.now(),
        )
        Moderation.objects.create(
            case=case, reply=deleted, action="delete", state="done", requested_by=sam
        )
        alex = make_user("alex", roles.AGENT)
        alex.first_name, alex.last_name = "Alex", "Agent"
        alex.save(update_fields=["first_name", "last_name"])

        page = sign_in(browser, live_server, "alex")
        page.goto(f"{live_server.url}/cases/{case.pk}/")
        post = page.locator(f"#mention-{mention.pk}")
        expect(post.locator(".tl__text")).to_have_text(
            "You are all <b>crooks</b>, this brand is a scam!!!"
        )
        post.get_by_role("button", name="Hide this comment on Facebook").click()
        expect(post).to_contain_text("Hiding on Facebook…")
        expect(post.get_by_role("button", name="Hide this comment on Facebook")).to_have_count(0)
        assert sim.state.fb.comments[comment].hidden is False  # the worker has not run yet
        post.screenshot(path=str(tmp_path / "comment-hiding.png"))

        row = Moderation.objects.get(mention=mention)
        assert moderation.run_moderation(row.pk) == moderation.Outcome.DONE  # the worker's step
        assert sim.state.fb.comments[comment].hidden is True

        # Within a presence poll the page shows it hidden, still readable, and who hid it.
        expect(post.locator(".badge--hidden")).to_have_text("Hidden", timeout=15_000)
        expect(post).to_contain_text("only its author and their friends see it there")
        expect(post.locator(".tl__text")).to_contain_text("crooks")
        expect(page.locator("#timeline")).to_contain_text("Alex Agent hid a comment")
        expect(post.get_by_role("button", name="Unhide this comment on Facebook")).to_be_visible()
        expect(page.locator(f"#reply-{deleted.pk} .badge--deleted")).to_have_text("Deleted")
        expect(page.locator(f"#reply-{deleted.pk}")).to_contain_text("Deleted from Facebook")
        page.screenshot(path=str(tmp_path / "case-hidden-comment-1440.png"), full_page=True)

        phone = sign_in(browser, live_server, "alex", width=390, height=844)
        phone.goto(f"{live_server.url}/cases/{case.pk}/")
        expect(phone.locator(f"#mention-{mention.pk} .badge--hidden")).to_be_visible()
        # The timeline fits the phone's width (the composer beside it is not this test's).
        overflow = "e => e.scrollWidth - e.clientWidth"
        assert phone.locator("#timeline").evaluate(overflow) == 0
        right = phone.locator(f"#mention-{mention.pk}").evaluate(
            "e => e.getBoundingClientRect().right - window.innerWidth"
        )
        assert right <= 0
        phone.screenshot(path=str(tmp_path / "case-hidden-comment-390.png"), full_page=True)


def test_a_refused_hide_says_why_and_offers_to_try_again(browser, live_server, tmp_path):
    case = make_case(
        make_channel(Network.FACEBOOK), text="Thanks for the help!", kind=MentionKind.COMMENT
    )
    mention = case.mentions.get()
    alex = make_user("alex", roles.AGENT)
    Moderation.objects.create(
        case=case,
        mention=mention,
        action="hide",
        state="failed",
        requested_by=alex,
        error="Graph API error 100 (400): A comment posted by the Page itself cannot be hidden",
    )
    page = sign_in(browser, live_server, "alex")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    post = page.locator(f"#mention-{mention.pk}")
    expect(post.get_by_role("alert")).to_contain_text("Could not hide the comment on Facebook.")
    expect(post.get_by_role("alert")).to_contain_text("cannot be hidden")
    expect(post.get_by_role("button", name="Hide this comment on Facebook")).to_have_count(0)
    post.screenshot(path=str(tmp_path / "comment-hide-failed.png"))
    post.get_by_role("button", name="Try again").click()
    expect(post).to_contain_text("Hiding on Facebook…")
    assert Moderation.objects.get(mention=mention).state == "queued"
