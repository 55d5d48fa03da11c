"""The case page: timeline, customer card, radar, clocks, actions per role, presence."""

import re
from datetime import time, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases import presence, timeline
from cases.actions import case_version
from cases.models import (
    Case,
    CaseEvent,
    CaseStatus,
    DeskSettings,
    Identity,
    Label,
    Note,
    Reply,
)
from cases.sla import refresh_case_sla
from sla.models import BusinessHours, OpeningTime, Policy
from tests.conftest import logged_in, make_user
from tests.factories import HOSTILE, add_mention, make_case, make_customer, make_team

# Presence lives in the cache.
pytestmark = pytest.mark.usefixtures("clean_cache")


def current(case: Case, data: dict) -> dict:
    """A form's fields with the version of the case it was rendered from: the case as it is."""
    return {**data, "version": case_version(Case.objects.get(pk=case.pk))}


def detail(case: Case) -> str:
    return reverse("cases:detail", args=[case.pk])


HTMX = {"HX-Request": "true"}


# ---------- access per role ----------


def test_anonymous_visitor_is_sent_to_login(client, x_channel):
    case = make_case(x_channel)
    response = client.get(detail(case))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize(
    "name", ["triage", "assign", "set_status", "labels", "add_note", "presence"]
)
def test_anonymous_posts_change_nothing(client, x_channel, name):
    case = make_case(x_channel)
    response = client.post(reverse(f"cases:{name}", args=[case.pk]), {"decision": "engage"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    htmx = client.post(reverse(f"cases:{name}", args=[case.pk]), headers=HTMX)
    assert htmx.status_code == 200 and htmx["HX-Redirect"].startswith(reverse("login"))
    assert not CaseEvent.objects.exists()


def test_outsider_gets_403_everywhere(outsider, x_channel):
    case = make_case(x_channel)
    client = logged_in(outsider)
    assert client.get(detail(case)).status_code == 403
    for name in ["triage", "assign", "set_status", "labels", "add_note", "presence"]:
        response = client.post(reverse(f"cases:{name}", args=[case.pk]), {"assignee": "me"})
        assert response.status_code == 403, name
    case.refresh_from_db()
    assert case.assignee is None


@pytest.mark.parametrize("persona", ["agent", "qa", "supervisor", "admin"])
def test_every_role_reads_the_case(request, persona, x_channel):
    case = make_case(x_channel, text="where is my parcel")
    response = logged_in(request.getfixturevalue(persona)).get(detail(case))
    assert response.status_code == 200
    html = response.content.decode()
    assert "where is my parcel" in html
    assert f"Case #{case.pk}" in html


@pytest.mark.parametrize(
    ("persona", "actions"), [("agent", True), ("supervisor", True), ("admin", True), ("qa", False)]
)
def test_only_roles_that_change_cases_see_the_actions(request, persona, actions, x_channel):
    case = make_case(x_channel)
    html = logged_in(request.getfixturevalue(persona)).get(detail(case)).content.decode()
    assert ('id="case-actions"' in html) is actions
    assert ('id="triage-form"' in html) is actions
    assert ('id="note-form"' in html) is actions


def test_qa_is_refused_every_action(qa, x_channel):
    case = make_case(x_channel)
    client = logged_in(qa)
    posts = {
        "triage": {"decision": "ignore", "reason": "troll"},
        "assign": {"assignee": "me"},
        "set_status": {"status": "resolved"},
        "labels": {"label": []},
        "add_note": {"text": "qa note"},
    }
    for name, data in posts.items():
        assert client.post(reverse(f"cases:{name}", args=[case.pk]), data).status_code == 403
    case.refresh_from_db()
    assert (case.triage_decision, case.assignee, case.status) == ("", None, CaseStatus.NEW)
    assert not Note.objects.exists()
    # Presence is reading, not changing: QA may be seen on a case.
    assert (
        client.post(reverse("cases:presence", args=[case.pk]), {"state": "viewing"}).status_code
        == 200
    )


def test_missing_case_is_404(agent):
    assert logged_in(agent).get(reverse("cases:detail", args=[999999])).status_code == 404


def test_actions_refuse_get(agent, x_channel):
    case = make_case(x_channel)
    response = logged_in(agent).get(reverse("cases:triage", args=[case.pk]))
    assert response.status_code == 405


# ---------- full page and fragment ----------


def test_same_view_serves_full_page_and_htmx_fragment(agent, x_channel):
    case = make_case(x_channel, text="fragment me")
    client = logged_in(agent)
    page = client.get(detail(case))
    fragment = client.get(detail(case), headers=HTMX)
    page_html, fragment_html = page.content.decode(), fragment.content.decode()
    assert page.status_code == fragment.status_code == 200
    assert "<html" in page_html and 'class="topbar"' in page_html
    assert "css/case.css" in page_html and "js/case.js" in page_html
    assert "<html" not in fragment_html and "topbar" not in fragment_html
    assert fragment_html.strip().startswith('<div id="case-page"')
    assert "fragment me" in fragment_html
    assert "HX-Request" in fragment["Vary"]


def test_page_has_no_inline_script_or_style(agent, x_channel):
    case = make_case(x_channel)
    html = logged_in(agent).get(detail(case)).content.decode()
    assert " style=" not in html
    bodies = re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.DOTALL)
    assert bodies and all(not body.strip() for body in bodies)


# ---------- timeline ----------


def test_timeline_merges_posts_replies_notes_and_events_by_time(agent, x_channel):
    now = timezone.now()
    case = make_case(x_channel, text="first customer post", waited=timedelta(hours=2))
    Reply.objects.create(
        case=case,
        author=agent,
        text="our public answer",
        state=Reply.State.SENT,
        created_at=now - timedelta(minutes=90),
        sent_at=now - timedelta(minutes=89),
    )
    Note.objects.create(
        case=case, author=agent, text="checked the order", created_at=now - timedelta(minutes=60)
    )
    add_mention(case, "second customer post", posted_at=now - timedelta(minutes=30))
    CaseEvent.objects.create(
        case=case,
        actor=agent,
        kind=CaseEvent.Kind.STATUS,
        data={"from": "new", "to": "open"},
        created_at=now - timedelta(minutes=10),
    )
    html = logged_in(agent).get(detail(case)).content.decode()
    order = [
        html.index("first customer post"),
        html.index("our public answer"),
        html.index("checked the order"),
        html.index("second customer post"),
        html.index("changed the status from New to Open"),
    ]
    assert order == sorted(order)
    assert "Internal note" in html
    assert "badge--reply-sent" in html


def test_reply_states_and_failure_reason_are_shown(agent, x_channel, monkeypatch):
    case = make_case(x_channel)
    failed = Reply.objects.create(
        case=case,
        author=agent,
        text="did not go",
        state=Reply.State.FAILED,
        error="X answered 403: You are not permitted to reply to this post.",
    )
    Reply.objects.create(
        case=case, author=agent, text="needs a boss", state=Reply.State.AWAITING_APPROVAL
    )
    monkeypatch.setattr(timeline, "retry_url", lambda pk: f"/cases/replies/{pk}/retry/")
    html = logged_in(agent).get(detail(case)).content.decode()
    assert "You are not permitted to reply to this post." in html
    assert f'action="/cases/replies/{failed.pk}/retry/"' in html
    assert "Retry sending" in html
    assert "Awaiting approval" in html and "supervisor's approval" in html


def test_retry_button_only_when_the_composer_route_exists(agent, x_channel, monkeypatch):
    case = make_case(x_channel)
    Reply.objects.create(case=case, author=agent, text="x", state=Reply.State.FAILED, error="5xx")
    monkeypatch.setattr(timeline, "retry_url", lambda pk: "")
    html = logged_in(agent).get(detail(case)).content.decode()
    assert "Retry sending" not in html
    assert "5xx" in html


def test_retry_url_follows_the_url_conf():
    try:
        expected = reverse("cases:retry", args=[7])
    except Exception:
        expected = ""
    assert timeline.retry_url(7) == expected


def test_qa_sees_no_retry_button(qa, x_channel, monkeypatch):
    case = make_case(x_channel)
    Reply.objects.create(case=case, author=qa, text="x", state=Reply.State.FAILED, error="boom")
    monkeypatch.setattr(timeline, "retry_url", lambda pk: "/retry/")
    html = logged_in(qa).get(detail(case)).content.decode()
    assert "boom" in html and "Retry sending" not in html


def test_deleted_post_text_is_not_shown(agent, x_channel):
    case = make_case(x_channel, text="first")
    add_mention(case, "secret deleted text", deleted_at=timezone.now())
    html = logged_in(agent).get(detail(case)).content.decode()
    assert "secret deleted text" not in html
    assert "Deleted by its author" in html


def test_hostile_text_is_escaped_in_timeline_and_customer_card(agent, x_channel):
    customer = make_customer(
        name=HOSTILE, handle='"><script>x()</script>', profile_url="javascript:alert(1)"
    )
    case = make_case(
        x_channel, text=f"help {HOSTILE}", customer=customer, url="javascript:alert(2)"
    )
    Reply.objects.create(
        case=case, author=agent, text=HOSTILE, state=Reply.State.FAILED, error=HOSTILE
    )
    Note.objects.create(case=case, author=agent, text=HOSTILE)
    case.triage_decision, case.triage_decision_reason = "ignore", HOSTILE
    case.save()
    CaseEvent.objects.create(
        case=case, actor=agent, kind="triage", data={"decision": "ignore", "reason": HOSTILE}
    )
    old = make_case(x_channel, text=HOSTILE, customer=customer, status=CaseStatus.RESOLVED)
    assert old.pk
    html = logged_in(agent).get(detail(case)).content.decode()
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "<script>x()" not in html
    assert "javascript:" not in html
    assert html.count("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;") >= 6


def test_the_triage_line_gives_the_reason_only_when_there_is_one(agent, x_channel):
    def triage_line(case) -> str:
        html = logged_in(agent).get(detail(case)).content.decode()
        found = re.search(r'<p class="case-header__triage">(.*?)</p>', html, re.S)
        return " ".join(re.sub(r"<[^>]+>", "", found.group(1)).split())

    silent = make_case(x_channel, triage_decision="engage", triage_decided_by=agent)
    assert triage_line(silent) == f"Engage by {agent.get_username()}"  # no name: the username
    reasoned = make_case(
        x_channel, triage_decision="engage", triage_decision_reason="Known customer"
    )
    assert triage_line(reasoned) == "Engage: Known customer"


def test_mention_links_and_profile_links_are_shown_when_plain_http(agent, x_channel):
    customer = make_customer(profile_url="https://x.com/dana", verified=True, followers=25000)
    case = make_case(x_channel, customer=customer, url="https://x.com/dana/status/1")
    html = logged_in(agent).get(detail(case)).content.decode()
    assert 'href="https://x.com/dana/status/1"' in html
    assert 'href="https://x.com/dana"' in html
    assert 'rel="noopener noreferrer"' in html
    assert "25,000 followers" in html and "verified account" in html


# ---------- customer card and radar ----------


def test_customer_card_lists_identities_and_previous_cases(agent, x_channel, facebook_channel):
    customer, _ = make_customer(name="Robin Reach", handle="robin_x")
    Identity.objects.create(
        customer=customer,
        network="facebook",
        external_id="fb-robin",
        handle="robin.fb",
        name="Robin R.",
        followers=310,
    )
    earlier = make_case(
        facebook_channel,
        text="broken kettle last year",
        customer=(customer, customer.identities.first()),
        status=CaseStatus.RESOLVED,
        triage_decision="engage",
        resolved_at=timezone.now(),
    )
    Reply.objects.create(case=earlier, author=agent, text="sorry", state=Reply.State.SENT)
    case = make_case(x_channel, customer=(customer, customer.identities.get(network="x")))
    html = logged_in(agent).get(detail(case)).content.decode()
    assert "@robin_x" in html and "@robin.fb" in html and "310 followers" in html
    assert f'href="{detail(earlier)}"' in html
    assert "broken kettle last year" in html
    assert "1 reply sent" in html
    assert "badge--status-resolved" in html


def test_first_contact_says_so(agent, x_channel):
    html = logged_in(agent).get(detail(make_case(x_channel))).content.decode()
    assert "First contact: no earlier cases" in html


def test_radar_shows_priority_reasons_suggestion_and_sentiment(agent, x_channel):
    case = make_case(x_channel, priority=77, triage="escalate", sentiment=-0.8)
    Case.objects.filter(pk=case.pk).update(
        priority_reasons=["negative sentiment (-0.80)", "reach: 250.0k followers"],
        triage_reason="Angry customer with large reach.",
    )
    html = logged_in(agent).get(detail(case)).content.decode()
    assert "Priority 77" in html
    assert "<li>negative sentiment (-0.80)</li>" in html
    assert "<li>reach: 250.0k followers</li>" in html
    assert "Suggests: Escalate" in html
    assert "Angry customer with large reach." in html
    assert "Very negative" in html


# ---------- clocks ----------


def clocks_of(html: str) -> dict[str, str]:
    """clock name -> the <li> markup."""
    items = re.findall(r'(<li class="clock [^"]*".*?</li>)', html, flags=re.DOTALL)
    return {re.search(r'clock__name">([^<]+)<', item).group(1): item for item in items}


def test_sla_clock_counts_down_and_turns_overdue(agent, x_channel):
    DeskSettings.objects.update_or_create(pk=1, defaults={"first_response_sla_minutes": 60})
    fresh = make_case(x_channel, waited=timedelta(minutes=10))
    late = make_case(x_channel, waited=timedelta(minutes=90))
    client = logged_in(agent)
    running = clocks_of(client.get(detail(fresh)).content.decode())["First response"]
    assert "clock--running" in running and "data-deadline=" in running
    assert re.search(r"(49|50) min left", running)
    overdue = clocks_of(client.get(detail(late)).content.decode())["First response"]
    assert "clock--overdue" in overdue and "Overdue by 30 min" in overdue


def test_sla_clock_met_after_first_response(agent, x_channel):
    case = make_case(x_channel, waited=timedelta(minutes=30))
    Case.objects.filter(pk=case.pk).update(first_response_at=case.opened_at + timedelta(minutes=12))
    clock = clocks_of(logged_in(agent).get(detail(case)).content.decode())["First response"]
    assert "clock--met" in clock and "Answered after 12 min" in clock
    assert "data-deadline" not in clock


def test_sla_clocks_follow_the_cases_policy_in_its_teams_business_hours(agent, x_channel):
    hours = BusinessHours.objects.create(team=make_team("Care EU"), time_zone="Europe/Berlin")
    OpeningTime.objects.bulk_create(
        OpeningTime(hours=hours, weekday=day, opens=time(0), closes=time(0)) for day in range(7)
    )
    Policy.objects.create(
        name="Complaints",
        hours_team=hours.team,
        first_response_minutes=60,
        next_response_minutes=30,
        resolution_minutes=24 * 60,
        warn_percent=50,
    )
    case = make_case(x_channel, waited=timedelta(minutes=40))
    html = logged_in(agent).get(detail(case)).content.decode()
    assert "Service level: <strong>Complaints</strong>" in html
    clocks = clocks_of(html)
    first = clocks["First response"]
    # Past half of the hour: "soon" from the server already, with the warning point for the JS.
    assert "clock--soon" in first and "data-warn=" in first
    assert "in the business hours of Care EU (Europe/Berlin)" in first
    assert "Next response" not in clocks  # no reply yet: only the first answer counts
    assert "clock--running" in clocks["Resolution"] and "24 h" in clocks["Resolution"]


def test_a_follow_up_after_a_reply_shows_the_next_response_clock(agent, x_channel):
    Policy.objects.create(name="Chat", first_response_minutes=60, next_response_minutes=30)
    case = make_case(x_channel, waited=timedelta(hours=2), status="open")
    answered = case.opened_at + timedelta(minutes=20)
    follow_up = timezone.now() - timedelta(minutes=5)
    add_mention(case, "any news?", posted_at=follow_up)
    Case.objects.filter(pk=case.pk).update(first_response_at=answered, awaiting_since=follow_up)
    case.refresh_from_db()
    refresh_case_sla(case)
    clocks = clocks_of(logged_in(agent).get(detail(case)).content.decode())
    assert "clock--met" in clocks["First response"]
    assert "Answered after 20 min" in clocks["First response"]
    running = clocks["Next response"]
    assert "clock--running" in running and re.search(r"(24|25) min left", running)


def test_a_case_under_a_policy_costs_the_queries_of_one_under_the_desk_default(
    agent, x_channel, django_assert_num_queries
):
    plain = make_case(x_channel)
    hours = BusinessHours.objects.create(team=make_team("Care"), time_zone="Asia/Tokyo")
    label = Label.objects.create(name="press")
    Policy.objects.create(
        name="Press", label=label, hours_team=hours.team, first_response_minutes=15
    )
    covered = make_case(x_channel, labels=[label])
    assert covered.sla_policy_id is not None
    client = logged_in(agent)
    client.get(detail(plain))
    expected = count_queries(client, detail(plain))
    with django_assert_num_queries(expected):
        client.get(detail(covered))


def test_x_case_says_there_is_no_network_window(agent, x_channel):
    clocks = clocks_of(logged_in(agent).get(detail(make_case(x_channel))).content.decode())
    assert "X sets no reply window" in clocks["Reply window"]
    assert "Messenger window" not in clocks


def test_messenger_window_runs_24_hours_from_the_last_message(agent, facebook_channel):
    case = make_case(facebook_channel, is_private=True, kind="dm", waited=timedelta(hours=30))
    add_mention(case, "still there?", posted_at=timezone.now() - timedelta(hours=20), kind="dm")
    clock = clocks_of(logged_in(agent).get(detail(case)).content.decode())["Messenger window"]
    assert "clock--running" in clock
    assert re.search(r"(3 h 59 min|4 h) left", clock)


def test_messenger_window_expired(agent, facebook_channel):
    case = make_case(facebook_channel, is_private=True, kind="dm", waited=timedelta(hours=26))
    clock = clocks_of(logged_in(agent).get(detail(case)).content.decode())["Messenger window"]
    assert "clock--overdue" in clock and "Overdue by 2 h" in clock


def test_facebook_comment_has_the_seven_day_private_reply_clock(agent, facebook_channel):
    case = make_case(facebook_channel, kind="comment", waited=timedelta(days=2))
    clock = clocks_of(logged_in(agent).get(detail(case)).content.decode())["Private reply"]
    assert "clock--running" in clock
    assert re.search(r"4 d 23 h left|5 d left", clock)


def test_used_private_reply_stops_the_clock(agent, facebook_channel):
    case = make_case(facebook_channel, kind="comment", waited=timedelta(days=1))
    Reply.objects.create(
        case=case,
        author=agent,
        text="DM",
        is_private=True,
        state=Reply.State.SENT,
        in_reply_to=case.mentions.get(),
    )
    clock = clocks_of(logged_in(agent).get(detail(case)).content.decode())["Private reply"]
    assert "clock--met" in clock and "has been used" in clock


# ---------- actions through the page ----------


def test_triage_by_htmx_renders_the_panel_header_and_timeline(agent, x_channel):
    case = make_case(x_channel)
    response = logged_in(agent).post(
        reverse("cases:triage", args=[case.pk]),
        current(case, {"decision": "escalate", "reason": "Threatens legal action"}),
        headers=HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.strip().startswith('<section id="case-actions"')
    assert '<header id="case-header" class="case-header" hx-swap-oob="true">' in html
    assert re.search(r'<ol id="timeline" [^>]*hx-swap-oob="true">', html)
    assert "decided: Escalate" in html and "Threatens legal action" in html
    case.refresh_from_db()
    assert case.triage_decision == "escalate"
    assert case.triage_decided_by == agent
    assert case.status == CaseStatus.OPEN


def test_triage_needs_a_reason(agent, x_channel):
    case = make_case(x_channel)
    response = logged_in(agent).post(
        reverse("cases:triage", args=[case.pk]),
        current(case, {"decision": "engage", "reason": "  "}),
        headers=HTMX,
    )
    assert response.status_code == 200
    assert "Give a reason for the triage decision" in response.content.decode()
    case.refresh_from_db()
    assert case.triage_decision == ""


def test_ignore_resolves_the_case_when_asked(supervisor, x_channel):
    case = make_case(x_channel, triage="ignore")
    logged_in(supervisor).post(
        reverse("cases:triage", args=[case.pk]),
        current(case, {"decision": "ignore", "reason": "spam", "resolve": "1"}),
    )
    case.refresh_from_db()
    assert (case.triage_decision, case.status) == ("ignore", CaseStatus.RESOLVED)
    assert case.resolved_at is not None


def test_plain_form_post_redirects_back_to_the_case(agent, x_channel):
    case = make_case(x_channel)
    response = logged_in(agent).post(
        reverse("cases:assign", args=[case.pk]), current(case, {"assignee": "me"})
    )
    assert response.status_code == 302 and response["Location"] == detail(case)
    case.refresh_from_db()
    assert case.assignee == agent


def test_assign_take_and_unassign(agent, supervisor, x_channel):
    case = make_case(x_channel)
    client = logged_in(supervisor)
    url = reverse("cases:assign", args=[case.pk])
    html = client.post(
        url, current(case, {"assignee": str(agent.pk)}), headers=HTMX
    ).content.decode()
    case.refresh_from_db()
    assert case.assignee == agent
    assert "assigned the case to alice_agent" in html
    client.post(url, current(case, {"assignee": "me"}), headers=HTMX)
    case.refresh_from_db()
    assert case.assignee == supervisor
    client.post(url, current(case, {"assignee": ""}), headers=HTMX)
    case.refresh_from_db()
    assert case.assignee is None
    kinds = list(case.events.values_list("kind", flat=True))
    assert kinds == ["assigned", "assigned", "unassigned"]


def test_cannot_assign_to_someone_who_does_not_work_the_inbox(agent, qa, x_channel):
    case = make_case(x_channel)
    response = logged_in(agent).post(
        reverse("cases:assign", args=[case.pk]),
        current(case, {"assignee": str(qa.pk)}),
        headers=HTMX,
    )
    assert "Choose someone who works the inbox." in response.content.decode()
    case.refresh_from_db()
    assert case.assignee is None


def test_assignee_list_offers_people_who_work_the_inbox(agent, qa, supervisor, x_channel):
    html = logged_in(agent).get(detail(make_case(x_channel))).content.decode()
    select = re.search(r'<select id="assignee-select".*?</select>', html, flags=re.DOTALL).group(0)
    assert f'value="{agent.pk}"' in select and f'value="{supervisor.pk}"' in select
    assert f'value="{qa.pk}"' not in select


def test_snooze_with_a_preset(agent, x_channel):
    case = make_case(x_channel)
    before = timezone.now()
    logged_in(agent).post(
        reverse("cases:set_status", args=[case.pk]),
        current(case, {"status": "open", "snooze_preset": "1h"}),
        headers=HTMX,
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.PENDING
    assert timedelta(minutes=59) < case.snoozed_until - before < timedelta(minutes=61)
    assert case.events.filter(kind="snoozed").exists()


def test_snooze_until_a_chosen_time(agent, x_channel):
    case = make_case(x_channel)
    until = timezone.localtime(timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    logged_in(agent).post(
        reverse("cases:set_status", args=[case.pk]),
        current(case, {"status": "pending", "snooze_until": until.strftime("%Y-%m-%dT%H:%M")}),
        headers=HTMX,
    )
    case.refresh_from_db()
    assert case.snoozed_until == until


def test_snooze_in_the_past_is_refused(agent, x_channel):
    case = make_case(x_channel)
    past = timezone.localtime(timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = logged_in(agent).post(
        reverse("cases:set_status", args=[case.pk]),
        current(case, {"status": "pending", "snooze_until": past}),
        headers=HTMX,
    )
    assert "Snooze until a time in the future." in response.content.decode()
    case.refresh_from_db()
    assert case.status == CaseStatus.NEW


def test_resolve_and_reopen(agent, x_channel):
    case = make_case(x_channel)
    client = logged_in(agent)
    url = reverse("cases:set_status", args=[case.pk])
    client.post(url, current(case, {"status": "resolved"}), headers=HTMX)
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED and case.resolved_at
    html = client.get(detail(case)).content.decode()
    assert 'id="resolve-case"' not in html
    client.post(url, current(case, {"status": "open"}), headers=HTMX)
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.resolved_at is None


def test_labels_are_set_from_checkboxes(agent, x_channel):
    billing = Label.objects.create(name="billing", color="blue")
    vip = Label.objects.create(name="vip", color="purple")
    case = make_case(x_channel)
    client = logged_in(agent)
    url = reverse("cases:labels", args=[case.pk])
    html = client.post(
        url, current(case, {"label": [billing.pk, vip.pk]}), headers=HTMX
    ).content.decode()
    assert set(case.labels.all()) == {billing, vip}
    assert 'class="label label--blue">billing<' in html
    client.post(url, current(case, {"label": [vip.pk, "junk"]}), headers=HTMX)
    assert list(case.labels.all()) == [vip]


def test_note_by_htmx_resets_the_form_and_adds_to_timeline(agent, x_channel):
    case = make_case(x_channel)
    response = logged_in(agent).post(
        reverse("cases:add_note", args=[case.pk]), {"text": "Called the warehouse"}, headers=HTMX
    )
    html = response.content.decode()
    assert html.strip().startswith('<form id="note-form"')
    assert "Called the warehouse" in html and 'hx-swap-oob="true"' in html
    assert case.notes.get().text == "Called the warehouse"


def test_blank_note_says_what_to_fix(agent, x_channel):
    case = make_case(x_channel)
    response = logged_in(agent).post(
        reverse("cases:add_note", args=[case.pk]), {"text": " "}, headers=HTMX
    )
    assert "Write the note first." in response.content.decode()
    assert not case.notes.exists()


def test_actions_change_the_inbox_fingerprint(agent, x_channel):
    case = make_case(x_channel)
    Case.objects.filter(pk=case.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    logged_in(agent).post(reverse("cases:add_note", args=[case.pk]), {"text": "n"})
    case.refresh_from_db()
    assert timezone.now() - case.updated_at < timedelta(seconds=5)


# ---------- keyboard navigation ----------


def test_previous_and_next_follow_the_inbox_order(agent, x_channel):
    high = make_case(x_channel, priority=90)
    middle = make_case(x_channel, priority=50)
    low = make_case(x_channel, priority=10)
    make_case(x_channel, priority=70, status=CaseStatus.CLOSED)  # not in the inbox
    html = logged_in(agent).get(detail(middle) + "?from=status%3Dnew").content.decode()
    assert re.search(rf'href="{detail(low)}\?from=status%3Dnew" data-shortcut="next"', html)
    assert re.search(rf'href="{detail(high)}\?from=status%3Dnew" data-shortcut="prev"', html)
    assert 'href="/cases/?status=new"' in html
    first = logged_in(agent).get(detail(high)).content.decode()
    assert 'data-shortcut="prev"' not in first and 'data-shortcut="next"' in first


def test_shortcut_help_and_targets_are_on_the_page(agent, x_channel):
    html = logged_in(agent).get(detail(make_case(x_channel))).content.decode()
    assert '<dialog id="shortcuts-help"' in html
    for target in (
        'id="triage-engage"',
        'id="triage-ignore"',
        'id="triage-escalate"',
        'id="triage-reason"',
        'id="take-case"',
        'id="resolve-case"',
        'id="note-text"',
    ):
        assert target in html


# ---------- presence ----------


def test_others_viewing_and_typing_are_shown(agent, x_channel):
    blair = make_user("blair", "agent")
    blair.first_name = "Blair"
    blair.save()
    case = make_case(x_channel)
    logged_in(blair).get(detail(case))
    html = logged_in(agent).get(detail(case)).content.decode()
    assert "Blair is viewing" in html

    url = reverse("cases:presence", args=[case.pk])
    logged_in(blair).post(url, {"state": "typing"})
    typing = logged_in(agent).post(url, {"state": "viewing"}, headers=HTMX).content.decode()
    assert typing.strip().startswith('<div id="presence-list"')
    assert "Blair is typing…" in typing


def test_presence_poll_answers_204_when_nothing_changed(agent, x_channel):
    case = make_case(x_channel)
    client = logged_in(agent)
    url = reverse("cases:presence", args=[case.pk])
    first = client.post(url, {"state": "viewing"}, headers=HTMX).content.decode()
    seen = re.search(r'name="seen" value="([^"]*)"', first).group(1)
    assert client.post(url, {"state": "viewing", "seen": seen}, headers=HTMX).status_code == 204
    presence.touch(case.pk, make_user("blair", "agent"), "viewing")
    changed = client.post(url, {"state": "viewing", "seen": seen}, headers=HTMX)
    assert changed.status_code == 200 and "blair is viewing" in changed.content.decode()


def test_presence_poll_reports_what_others_did_since_the_page_opened(agent, supervisor, x_channel):
    case = make_case(x_channel)
    client = logged_in(agent)
    page = client.get(detail(case)).content.decode()
    since = re.search(r'name="since" value="([^"]+)"', page).group(1)
    url = reverse("cases:presence", args=[case.pk])
    assert "Since you opened" not in client.post(url, {"since": since}).content.decode()
    logged_in(supervisor).post(reverse("cases:add_note", args=[case.pk]), {"text": "careful"})
    Reply.objects.create(case=case, author=supervisor, text="hi", state=Reply.State.QUEUED)
    html = client.post(url, {"since": since}).content.decode()
    assert "Since you opened this case:" in html
    assert "sam_supervisor replied" in html and "1 new note" in html


def test_presence_rejects_unknown_state(agent, x_channel):
    case = make_case(x_channel)
    response = logged_in(agent).post(
        reverse("cases:presence", args=[case.pk]), {"state": "dancing"}
    )
    assert response.status_code == 400


def test_case_page_marks_the_agent_online(agent, x_channel):
    assert not presence.is_online(agent)
    logged_in(agent).get(detail(make_case(x_channel)))
    assert presence.is_online(agent)


# ---------- query counts ----------


def populate(case: Case, rows: int, author) -> None:
    for i in range(rows):
        add_mention(
            case,
            f"message {i} ünïcödé 日本語",
            posted_at=timezone.now() - timedelta(minutes=rows - i),
        )
    Reply.objects.bulk_create(
        [
            Reply(case=case, author=author, text=f"reply {i}", state=Reply.State.SENT)
            for i in range(rows // 5)
        ]
    )
    Note.objects.bulk_create(
        [Note(case=case, author=author, text=f"note {i}") for i in range(rows // 5)]
    )
    CaseEvent.objects.bulk_create(
        [
            CaseEvent(case=case, actor=author, kind="status", data={"from": "new", "to": "open"})
            for _ in range(rows // 5)
        ]
    )
    customer = case.customer
    for i in range(rows // 5):
        make_case(
            case.channel,
            customer=(customer, customer.identities.first()),
            status=CaseStatus.CLOSED,
            text=f"old {i}",
        )


def count_queries(client: Client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_case_page_query_count_does_not_grow_with_the_conversation(
    agent, x_channel, django_assert_num_queries
):
    Label.objects.create(name="billing")
    small = make_case(x_channel)
    populate(small, 5, agent)
    large = make_case(x_channel)
    populate(large, 50, agent)
    client = logged_in(agent)
    client.get(detail(small))  # warm up: the DeskSettings row, session
    at_five = count_queries(client, detail(small))
    with django_assert_num_queries(at_five):
        response = client.get(detail(large))
    assert response.content.decode().count("message ") >= 50
    assert at_five <= 25


@pytest.mark.parametrize("rows", [5, 50])
def test_case_page_costs_the_same_as_a_one_message_case(
    agent, x_channel, rows, django_assert_num_queries
):
    """Measured, not pinned: the composer's include adds queries of its own to this page."""
    case = make_case(x_channel)
    populate(case, rows, agent)
    fresh = make_case(x_channel)
    client = logged_in(agent)
    client.get(detail(fresh))
    expected = count_queries(client, detail(fresh))
    with django_assert_num_queries(expected):
        client.get(detail(case))


# ---------- the timeline refresh ----------


def test_timeline_view_serves_the_fragment_and_sends_plain_requests_to_the_page(agent, x_channel):
    case = make_case(x_channel, text="refresh me")
    client = logged_in(agent)
    url = reverse("cases:timeline", args=[case.pk])
    Reply.objects.create(case=case, author=agent, text="just sent", state=Reply.State.QUEUED)
    fragment = client.get(url, headers=HTMX)
    html = fragment.content.decode()
    assert html.strip().startswith('<ol id="timeline" class="timeline" aria-label')
    assert "refresh me" in html and "just sent" in html
    # The parts that show case state come along out of band: they never lag the timeline.
    for part in ("case-header", "case-clocks", "case-version", "case-actions"):
        assert re.search(rf'id="{part}"[^>]*hx-swap-oob="true"', html), part
    plain = client.get(url)
    assert plain.status_code == 302 and plain["Location"] == detail(case)


def test_timeline_view_checks_access(client, outsider, x_channel):
    case = make_case(x_channel)
    url = reverse("cases:timeline", args=[case.pk])
    assert client.get(url, headers=HTMX)["HX-Redirect"].startswith(reverse("login"))
    assert logged_in(outsider).get(url, headers=HTMX).status_code == 403


def test_page_refreshes_its_timeline_on_composer_and_presence_events(agent, x_channel):
    case = make_case(x_channel)
    html = logged_in(agent).get(detail(case)).content.decode()
    assert f'hx-get="{reverse("cases:timeline", args=[case.pk])}"' in html
    assert 'hx-trigger="sd:replies-changed from:body, sd:case-activity from:body"' in html


def test_presence_poll_triggers_a_timeline_refresh_on_others_activity(agent, supervisor, x_channel):
    case = make_case(x_channel)
    since = timezone.now().isoformat()
    url = reverse("cases:presence", args=[case.pk])
    quiet = logged_in(agent).post(
        url, {"since": since, "version": case_version(case)}, headers=HTMX
    )
    assert "HX-Trigger" not in quiet
    add_mention(case, "are you there?")
    Case.objects.filter(pk=case.pk).update(updated_at=timezone.now())
    busy = logged_in(agent).post(url, {"since": since}, headers=HTMX)
    assert "sd:case-activity" in busy["HX-Trigger"]
    assert "1 new customer post" in busy.content.decode()


@pytest.mark.parametrize("since", ["2026-12-07T10:00", "2026-13-45T10:00:00+00:00", "junk"])
def test_presence_poll_ignores_a_moment_the_desk_did_not_render(agent, x_channel, since):
    case = make_case(x_channel)
    url = reverse("cases:presence", args=[case.pk])
    response = logged_in(agent).post(url, {"state": "viewing", "since": since})
    assert response.status_code == 200
    assert "Since you opened" not in response.content.decode()


def test_snooze_until_an_impossible_date_says_what_to_fix(agent, x_channel):
    case = make_case(x_channel)
    response = logged_in(agent).post(
        reverse("cases:set_status", args=[case.pk]),
        current(case, {"status": "pending", "snooze_until": "2026-13-45T10:00"}),
        headers=HTMX,
    )
    assert response.status_code == 200
    assert "Enter the snooze time as date and time." in response.content.decode()
    case.refresh_from_db()
    assert case.snoozed_until is None
