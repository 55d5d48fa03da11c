"""The case page never lies: after any change every part that shows case state follows the
timeline, and a form rendered from an older version of the case is refused, saying what changed.
"""

import re

import pytest
from django.urls import reverse

from cases import presence, sending
from cases.actions import case_version, do_assign_case, do_set_status
from cases.models import Case, CaseEvent, CaseStatus, Reply
from cases.timeline import describe_event
from tests.conftest import logged_in
from tests.factories import AcceptingNetwork, make_case

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def send_and_post(client, case: Case) -> Reply:
    """The agent sends a reply from the composer and the worker posts it."""
    client.post(
        reverse("cases:send", args=[case.pk]), {"text": "Sorry, we are on it."}, headers=HTMX
    )
    reply = Reply.objects.get(case=case)
    assert sending.send_reply(reply.pk) == sending.SendOutcome.SENT
    return reply


@pytest.fixture
def network(monkeypatch):
    monkeypatch.setattr(sending, "get_connector", lambda _network: AcceptingNetwork())


def post_after_a_colleague(agent, supervisor, case: Case, name: str, data: dict) -> str:
    """Agent and supervisor have the page open; the supervisor opens the case, then the agent
    posts `data` to `name` from the page as it was."""
    version = case_version(case)
    do_set_status(case, CaseStatus.OPEN, actor=supervisor)
    url = reverse(name, args=[case.pk])
    return logged_in(agent).post(url, {**data, "version": version}, headers=HTMX).content.decode()


def test_a_stale_status_form_is_refused_and_says_who_changed_what(agent, supervisor, x_channel):
    case = make_case(x_channel)
    version = case_version(case)
    html = post_after_a_colleague(
        agent, supervisor, case, "cases:set_status", {"status": "resolved"}
    )
    assert "Not saved: the case changed after this form was shown" in html
    assert "changed the status from New to Open" in html
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN  # the other person's change stands
    # The answer shows the case as it is now, with the new version in every form.
    assert 'badge--status-open">Open<' in html
    assert f'name="version" value="{case_version(case)}"' in html
    assert f'value="{version}"' not in html


def test_a_refused_triage_keeps_the_reason_the_agent_wrote(agent, supervisor, x_channel):
    case = make_case(x_channel)
    data = {"decision": "engage", "reason": "Asks where the parcel is"}
    html = post_after_a_colleague(agent, supervisor, case, "cases:triage", data)
    assert "Not saved" in html
    assert ">Asks where the parcel is</textarea>" in html
    case.refresh_from_db()
    assert case.triage_decision == ""


def test_a_form_without_its_version_changes_nothing(agent, x_channel):
    case = make_case(x_channel)
    response = logged_in(agent).post(
        reverse("cases:assign", args=[case.pk]), {"assignee": "me"}, headers=HTMX
    )
    assert "this form does not say which version" in response.content.decode()
    case.refresh_from_db()
    assert case.assignee is None


def test_after_the_agents_reply_is_posted_the_page_shows_pending_and_a_stopped_clock(
    agent, x_channel, network
):
    case = make_case(x_channel)
    client = logged_in(agent)
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    old_version = re.search(r'name="version" value="([^"]+)"', page).group(1)
    send_and_post(client, case)

    # The refresh the page makes brings header, clocks, actions and version with the timeline.
    html = client.get(reverse("cases:timeline", args=[case.pk]), headers=HTMX).content.decode()
    header = re.search(r'<header id="case-header".*?</header>', html, re.DOTALL).group(0)
    assert "Pending" in header and "New" not in header
    clocks = re.search(r'<section id="case-clocks".*?</section>', html, re.DOTALL).group(0)
    assert "clock--met" in clocks and "data-deadline" not in clocks.split("Reply window")[0]
    assert '<option value="pending" selected>' in html
    assert "Reply queued: it is being posted" not in html

    # The status form the page showed before the reply is refused, naming the desk's change.
    stale = client.post(
        reverse("cases:set_status", args=[case.pk]),
        {"status": "new", "version": old_version},
        headers=HTMX,
    ).content.decode()
    assert "SocialDesk changed the status from New to Pending" in stale
    case.refresh_from_db()
    assert case.status == CaseStatus.PENDING


def test_the_desks_reaction_to_my_reply_is_not_a_change_by_others(agent, x_channel, network):
    case = make_case(x_channel)
    since = case.updated_at
    send_and_post(logged_in(agent), case)
    activity = presence.activity_since(case, since, agent)
    assert not any("by others" in item for item in activity)


def test_the_presence_poll_asks_for_a_refresh_when_the_case_moved_on(agent, x_channel):
    case = make_case(x_channel)
    url = reverse("cases:presence", args=[case.pk])
    client = logged_in(agent)
    quiet = client.post(url, {"version": case_version(case)}, headers=HTMX)
    assert "HX-Trigger" not in quiet
    shown = case_version(case)
    do_set_status(case, CaseStatus.OPEN, actor=agent)  # e.g. from another tab
    moved = client.post(url, {"version": shown}, headers=HTMX)
    assert "sd:case-activity" in moved["HX-Trigger"]


def test_a_reply_waiting_for_approval_is_logged_as_sent_for_approval(agent, x_channel):
    case = make_case(x_channel)
    waiting = CaseEvent(case=case, kind="reply_queued", data={"awaiting_approval": True})
    queued = CaseEvent(case=case, kind="reply_queued", data={"awaiting_approval": False})
    assert describe_event(waiting) == "sent a reply for approval"
    assert describe_event(queued) == "queued a reply"
    assert CaseEvent.objects.count() == 0  # described, never saved


def test_after_auto_assignment_the_header_names_the_assignee(agent, x_channel):
    case = make_case(x_channel)
    client = logged_in(agent)
    do_assign_case(case, agent, actor=None)  # the desk's auto-assignment, while the page is open
    html = client.get(reverse("cases:timeline", args=[case.pk]), headers=HTMX).content.decode()
    assert "auto-assigned to" in html
    header = re.search(r'<header id="case-header".*?</header>', html, re.DOTALL).group(0)
    assert "Assigned to <strong>you</strong>" in header and "Unassigned" not in header
