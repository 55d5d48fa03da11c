"""The inbox: filters, search, sorting, keyset pages, saved views, bulk actions, live updates."""

import re
from datetime import time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases import inbox
from cases.models import Case, CaseEvent, CaseStatus, Label, SavedView
from listening.models import Network
from sla.models import BusinessHours, OpeningTime, Policy
from tests.conftest import logged_in, make_channel, make_user
from tests.factories import HOSTILE, add_mention, make_case, make_team

# The sidebar counts are cached under the change fingerprint.
pytestmark = pytest.mark.usefixtures("clean_cache")


def handles(html: str) -> list[str]:
    """The customer handles of the table's rows, in order."""
    return re.findall(r'<span class="handle">@([^<]+)</span>', html)


def get(user, **params) -> str:
    response = logged_in(user).get(reverse("cases:list"), params)
    assert response.status_code == 200
    return response.content.decode()


def poll_url(html: str) -> str:
    match = re.search(r'<section id="case-list"[^>]*hx-get="([^"]+)"', html)
    assert match, "the case list must poll"
    return match.group(1).replace("&amp;", "&")


# ---------- access ----------


@pytest.mark.parametrize(
    ("url_name", "method"),
    [("cases:list", "get"), ("cases:bulk", "post"), ("cases:save_view", "post")],
)
def test_anonymous_visitor_is_sent_to_login(client, db, url_name, method):
    response = getattr(client, method)(reverse(url_name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize("persona", ["agent", "qa", "supervisor", "admin"])
def test_every_role_with_cases_sees_the_inbox(request, persona, x_channel):
    make_case(x_channel, handle="seen_by_all")
    html = get(request.getfixturevalue(persona))
    assert handles(html) == ["seen_by_all"]


def test_outsider_gets_403_everywhere(outsider, x_channel):
    case = make_case(x_channel)
    client = logged_in(outsider)
    assert client.get(reverse("cases:list")).status_code == 403
    bulk = client.post(reverse("cases:bulk"), {"action": "assign_me", "ids": [case.pk]})
    assert bulk.status_code == 403
    assert client.post(reverse("cases:save_view"), {"name": "x"}).status_code == 403
    case.refresh_from_db()
    assert case.assignee is None


def test_qa_reads_the_inbox_but_has_no_bulk_actions(qa, x_channel):
    case = make_case(x_channel)
    html = get(qa)
    assert 'id="bulk-form"' not in html
    assert 'name="ids"' not in html
    response = logged_in(qa).post(reverse("cases:bulk"), {"action": "assign_me", "ids": [case.pk]})
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.assignee is None
    assert not CaseEvent.objects.exists()


# ---------- status, filters and search ----------


def test_default_view_is_open_cases_that_are_not_snoozed(agent, x_channel):
    later = timezone.now() + timedelta(hours=3)
    earlier = timezone.now() - timedelta(minutes=1)
    make_case(x_channel, handle="new_one", status=CaseStatus.NEW)
    make_case(x_channel, handle="open_one", status=CaseStatus.OPEN)
    make_case(x_channel, handle="pending_one", status=CaseStatus.PENDING)
    make_case(x_channel, handle="snoozed", status=CaseStatus.PENDING, snoozed_until=later)
    make_case(x_channel, handle="woke_up", status=CaseStatus.PENDING, snoozed_until=earlier)
    make_case(x_channel, handle="resolved", status=CaseStatus.RESOLVED)
    make_case(x_channel, handle="closed", status=CaseStatus.CLOSED)
    assert sorted(handles(get(agent))) == ["new_one", "open_one", "pending_one", "woke_up"]
    assert handles(get(agent, status="snoozed")) == ["snoozed"]
    assert handles(get(agent, status="resolved")) == ["resolved"]
    assert sorted(handles(get(agent, status="pending"))) == ["pending_one", "snoozed", "woke_up"]
    assert len(handles(get(agent, status="all"))) == 7


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"assignee": "mine"}, ["mine"]),
        ({"assignee": "unassigned"}, ["nobody", "fb_high"]),
        ({"priority": "high"}, ["fb_high"]),
        ({"priority": "medium"}, ["mine", "nobody"]),
        ({"priority": "low"}, ["colleague"]),
        ({"network": "facebook"}, ["fb_high"]),
        ({"suggestion": "escalate"}, ["fb_high"]),
        ({"decision": "ignore"}, ["colleague"]),
        ({"decision": "none"}, ["mine", "nobody", "fb_high"]),
        ({"language": "es"}, ["nobody"]),
        ({"label": "billing"}, ["mine"]),
        ({"network": "x", "assignee": "unassigned"}, ["nobody"]),
        ({"priority": "medium", "language": "es", "assignee": "unassigned"}, ["nobody"]),
    ],
)
def test_filters_narrow_the_list(agent, x_channel, facebook_channel, params, expected):
    colleague = make_user("colleague", "agent")
    billing = Label.objects.create(name="billing")
    make_case(x_channel, handle="mine", priority=60, assignee=agent, labels=[billing])
    make_case(x_channel, handle="nobody", priority=45, language="es", waited=timedelta(hours=1))
    make_case(
        x_channel,
        handle="colleague",
        priority=10,
        assignee=colleague,
        triage_decision="ignore",
        triage_decision_reason="spam",
    )
    make_case(facebook_channel, handle="fb_high", priority=90, triage="escalate")
    if params.get("label"):
        params = {**params, "label": billing.pk}
    assert sorted(handles(get(agent, **params))) == sorted(expected)


def test_the_network_filter_offers_and_narrows_to_instagram(agent, x_channel):
    instagram = make_channel("instagram")
    make_case(x_channel, handle="on_x")
    make_case(instagram, handle="on_instagram")
    assert '<option value="instagram"' in get(agent)
    assert handles(get(agent, network="instagram")) == ["on_instagram"]


def test_assignee_filter_for_a_person_and_channel_filter(agent, x_channel):
    other_channel = make_channel(Network.X)
    colleague = make_user("colleague", "agent")
    make_case(x_channel, handle="theirs", assignee=colleague)
    make_case(other_channel, handle="theirs_elsewhere", assignee=colleague)
    make_case(x_channel, handle="mine", assignee=agent)
    assert sorted(handles(get(agent, assignee=colleague.pk))) == ["theirs", "theirs_elsewhere"]
    assert handles(get(agent, assignee=colleague.pk, channel=other_channel.pk)) == [
        "theirs_elsewhere"
    ]


@pytest.fixture(params=["listed", "walked"])
def search_plan(request, monkeypatch):
    """Both search plans: ids listed from the trigram indexes, or a walk with EXISTS."""
    if request.param == "walked":
        monkeypatch.setattr(inbox, "SEARCH_CANDIDATES", 1)
    return request.param


def test_search_finds_mention_text_handle_and_name(agent, x_channel, search_plan):
    by_text = make_case(x_channel, handle="a_text", subject="Order question")
    add_mention(by_text, "The Parcel was left in the RAIN")
    make_case(x_channel, handle="b_first_post", text="Rainbow cable missing")
    make_case(x_channel, handle="c_rainmaker")
    make_case(x_channel, handle="d_name", name="Lorraine Dupont")
    make_case(x_channel, handle="e_other", text="nothing relevant")
    hidden = make_case(x_channel, handle="f_deleted", text="plain")
    add_mention(hidden, "rain text deleted at the source", deleted_at=timezone.now())
    found = sorted(handles(get(agent, q="rain")))
    assert found == ["a_text", "b_first_post", "c_rainmaker", "d_name"]


def test_search_treats_wildcards_literally(agent, x_channel, search_plan):
    make_case(x_channel, handle="percent", text="100% broken")
    make_case(x_channel, handle="plain", text="1000 broken")
    assert handles(get(agent, q="100%")) == ["percent"]


def test_search_folds_accents_and_case(agent, x_channel, search_plan):
    make_case(x_channel, handle="by_name", name="Ulrike Weiß")
    make_case(x_channel, handle="by_text", text="Das CAFÉ in Łódź hat geschlossen")
    make_case(x_channel, handle="unrelated", text="Weissbier ist aus")
    assert sorted(handles(get(agent, q="weiß"))) == ["by_name", "unrelated"]
    assert sorted(handles(get(agent, q="WEISS"))) == ["by_name", "unrelated"]
    assert handles(get(agent, q="cafe in lodz")) == ["by_text"]
    assert handles(get(agent, q="Café")) == ["by_text"]


def test_search_understands_a_leading_at_as_a_handle(agent, x_channel, search_plan):
    make_case(x_channel, handle="dana_k", text="where is my parcel")
    make_case(x_channel, handle="tagger", text="asking for a friend @dana_k")
    make_case(x_channel, handle="other", text="nothing to see")
    assert sorted(handles(get(agent, q="@dana_k"))) == ["dana_k", "tagger"]
    assert sorted(handles(get(agent, q="dana_k"))) == ["dana_k", "tagger"]
    assert handles(get(agent, q="@")) == ["tagger"]  # a lone "@" is text to find


def test_no_match_shows_the_filtered_empty_state(agent, x_channel):
    make_case(x_channel)
    html = get(agent, q="zebra", priority="high")
    assert "No cases match these filters." in html
    assert f'href="{reverse("cases:list")}">Clear filters</a>' in html


def test_empty_desk_explains_where_cases_come_from(agent):
    html = get(agent)
    assert "No open cases" in html
    assert "Mentions will appear here once channels are polled." in html


def test_unknown_filter_values_are_ignored_and_named(agent, x_channel):
    make_case(x_channel, handle="still_listed")
    html = get(agent, status="bogus", label="x1")
    assert handles(html) == ["still_listed"]
    assert "Unknown status &#x27;bogus&#x27;: ignored." in html


def test_every_filter_control_has_a_label(agent):
    html = get(agent)
    form = re.search(r'<form id="filters".*?</form>', html, re.DOTALL).group(0)
    for control_id in re.findall(r'<(?:select|input)[^>]*\bid="([^"]+)"', form):
        assert f'<label for="{control_id}">' in form, control_id


# ---------- sorting and keyset pages ----------


def test_sort_by_priority_then_longest_waiting_or_by_waiting(agent, x_channel):
    make_case(x_channel, handle="low_old", priority=20, waited=timedelta(hours=5))
    make_case(x_channel, handle="high_recent", priority=80, waited=timedelta(minutes=1))
    make_case(x_channel, handle="high_old", priority=80, waited=timedelta(minutes=30))
    assert handles(get(agent)) == ["high_old", "high_recent", "low_old"]
    assert handles(get(agent, sort="waiting")) == ["low_old", "high_old", "high_recent"]


@pytest.mark.parametrize("sort", ["priority", "waiting", "due"])
def test_keyset_pages_walk_every_case_once_and_keep_the_filters(agent, x_channel, sort):
    for i in range(55):
        make_case(x_channel, handle=f"c{i:02d}", priority=70 + i % 3, waited=timedelta(minutes=i))
    make_case(x_channel, handle="filtered_out", priority=10)
    client = logged_in(agent)
    first = client.get(reverse("cases:list"), {"priority": "high", "sort": sort}).content.decode()
    link = re.search(r'href="(/cases/\?[^"]+)">Next page', first)
    assert link
    url = link.group(1).replace("&amp;", "&")
    assert "priority=high" in url and "after=" in url
    second = client.get(url).content.decode()
    assert "Next page" not in second and "First page" in second
    rows = handles(first) + handles(second)
    assert len(handles(first)) == 50
    assert sorted(rows) == sorted(f"c{i:02d}" for i in range(55))
    assert "after=" in poll_url(second) and "priority=high" in poll_url(second)


@pytest.mark.parametrize(
    "params", [{"after": "p1.2.<script>"}, {"after": "w123.4"}, {"after": "p1.2", "sort": "x"}]
)
def test_a_forged_or_mismatched_page_key_is_a_clear_400(agent, params):
    response = logged_in(agent).get(reverse("cases:list"), params)
    assert response.status_code == 400
    assert b"page link is not valid" in response.content


# ---------- rows ----------


def test_row_shows_what_an_agent_needs(agent, facebook_channel):
    label = Label.objects.create(name="vip", color="green")
    make_case(
        facebook_channel,
        handle="robin",
        name="Robin Reach",
        followers=250_000,
        verified=True,
        priority=77,
        priority_reasons=["negative sentiment (-0.80)", "reach: 250.0k followers"],
        triage="escalate",
        triage_decision="engage",
        triage_decision_reason="Known customer, real problem",
        assignee=agent,
        labels=[label],
        waited=timedelta(minutes=90),
    )
    html = get(agent)
    assert 'title="negative sentiment (-0.80); reach: 250.0k followers"' in html
    assert "badge--urgent" in html and "badge--net-facebook" in html
    assert "250,000 followers" in html and "verified account" in html
    assert "badge--triage-engage" in html and "Known customer, real problem" in html
    assert "Radar suggested escalate" in html
    assert 'case-label--green">vip</span>' in html
    assert "alice_agent" in html
    assert ">1 h 30 min</time>" in html
    assert "SLA overdue" in html  # 90 min without a first response, SLA 60 min
    assert 'href="/cases/' in html


def test_sla_badge_only_when_overdue_without_first_response(agent, x_channel):
    make_case(x_channel, handle="fresh", waited=timedelta(minutes=10))
    make_case(
        x_channel,
        handle="answered",
        waited=timedelta(hours=3),
        first_response_at=timezone.now() - timedelta(hours=2),
    )
    assert "SLA overdue" not in get(agent)


def test_sla_clock_on_each_row_from_the_policy_and_its_warning_point(agent, x_channel):
    Policy.objects.create(name="Two hours", first_response_minutes=120, warn_percent=50)
    make_case(x_channel, handle="calm", waited=timedelta(minutes=10))
    make_case(x_channel, handle="soon", waited=timedelta(minutes=70))
    make_case(x_channel, handle="late", waited=timedelta(minutes=150))
    html = get(agent, sort="due")
    assert handles(html) == ["late", "soon", "calm"]
    badges = re.findall(r'badge--sla-(\w+)" title="([^"]+)">([^<]+)<', html)
    assert [state for state, _, _ in badges] == ["breached", "warning", "ok"]
    assert badges[0][2] == "SLA overdue"
    assert re.fullmatch(r"SLA (49|50) min left", badges[1][2])  # seconds pass meanwhile
    assert re.fullmatch(r"SLA 1 h (49|50) min left", badges[2][2])
    assert badges[0][1].startswith("First response overdue by 30 min")
    assert handles(get(agent, sla="soon")) == ["late", "soon"]  # the default order
    assert handles(get(agent, sla="breached")) == ["late"]


def test_an_answered_case_waiting_on_the_customer_shows_no_sla_clock(agent, x_channel):
    make_case(
        x_channel,
        handle="answered",
        waited=timedelta(hours=3),
        first_response_at=timezone.now() - timedelta(hours=2),
    )
    assert "badge--sla" not in get(agent)


def test_hostile_text_from_a_network_is_escaped(agent, x_channel):
    make_case(x_channel, text=f"help {HOSTILE}", name=HOSTILE, handle='"><script>x()</script>')
    Label.objects.create(name="<b>label</b>")
    html = get(agent)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "<script>x()" not in html and "<b>label</b>" not in html
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in html
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag
    assert " style=" not in html


# ---------- live updates ----------


def test_same_view_serves_full_page_and_fragment(agent, x_channel):
    make_case(x_channel, handle="in_both")
    client = logged_in(agent)
    page = client.get(reverse("cases:list"), {"priority": "medium"})
    fragment = client.get(
        reverse("cases:list"), {"priority": "medium"}, headers={"HX-Request": "true"}
    )
    page_html, fragment_html = page.content.decode(), fragment.content.decode()
    assert "<html" in page_html and 'id="filters"' in page_html
    assert "<html" not in fragment_html and 'id="filters"' not in fragment_html
    assert fragment_html.strip().startswith('<section id="case-list"')
    assert 'id="views-nav" class="views-nav" aria-label="Saved views" hx-swap-oob="true"' in (
        fragment_html
    )
    assert handles(page_html) == handles(fragment_html) == ["in_both"]
    assert "HX-Request" in fragment["Vary"]
    assert "priority=medium" in poll_url(fragment_html)


def test_poll_is_204_until_a_case_changes_then_marks_new_and_changed_rows(agent, x_channel):
    case = make_case(x_channel, handle="first")
    client = logged_in(agent)
    url = poll_url(client.get(reverse("cases:list")).content.decode())
    unchanged = client.get(url, headers={"HX-Request": "true"})
    assert unchanged.status_code == 204 and unchanged.content == b""

    Case.objects.filter(pk=case.pk).update(priority=90, updated_at=timezone.now())
    make_case(x_channel, handle="second", priority=10)
    changed = client.get(url, headers={"HX-Request": "true"})
    html = changed.content.decode()
    assert changed.status_code == 200
    assert handles(html) == ["first", "second"]
    assert re.search(rf'class="case-row is-changed" data-case-id="{case.pk}"', html)
    assert re.search(r'class="case-row is-new" data-case-id="\d+"', html)
    assert poll_url(html) != url
    assert client.get(poll_url(html), headers={"HX-Request": "true"}).status_code == 204


def test_plain_reload_of_a_poll_url_gets_the_full_page(agent, x_channel):
    make_case(x_channel)
    client = logged_in(agent)
    url = poll_url(client.get(reverse("cases:list")).content.decode())
    response = client.get(url)
    assert response.status_code == 200 and b"<html" in response.content


def test_poll_after_the_session_expired_sends_the_tab_to_login(client, db):
    response = client.get(reverse("cases:list"), {"since": "1-2"}, headers={"HX-Request": "true"})
    assert response["HX-Redirect"].startswith("/accounts/login/?next=/cases/")


# ---------- saved views ----------


def test_default_views_are_shared_and_counted(agent, x_channel):
    later = timezone.now() + timedelta(hours=2)
    make_case(x_channel, assignee=agent, priority=75)
    make_case(x_channel)
    make_case(x_channel, triage_decision="escalate", triage_decision_reason="press")
    make_case(x_channel, status=CaseStatus.PENDING, snoozed_until=later)
    make_case(x_channel, status=CaseStatus.RESOLVED, assignee=agent)
    counts, summary = inbox.count_views(
        SavedView.objects.filter(owner=None), agent, timezone.now(), inbox.fingerprint()
    )
    assert {vc.view.name: vc.count for vc in counts} == {
        "Mine": 1,
        "Unassigned": 2,  # not the snoozed one: it is out of the inbox
        "High priority": 1,
        "Escalated": 1,
        "Snoozed": 1,
    }
    assert summary == {"open": 3, "new_last_hour": 3}
    html = get(agent)
    assert re.search(r'Mine</span>\s*<span class="views-nav__count">1</span>', html)
    assert re.search(r'Snoozed</span>\s*<span class="views-nav__count">1</span>', html)


def test_views_with_a_text_search_are_not_counted(agent, x_channel):
    make_case(x_channel, text="refund please")
    SavedView.objects.create(owner=agent, name="Refunds", query="q=refund")
    counts, _ = inbox.count_views(
        SavedView.objects.filter(owner=agent), agent, timezone.now(), inbox.fingerprint()
    )
    assert counts[0].count is None


def test_save_and_delete_an_own_view(agent, x_channel):
    client = logged_in(agent)
    response = client.post(
        reverse("cases:save_view"),
        {"name": "My urgent", "query": "priority=high&assignee=mine&after=p1.2.3&bogus=1"},
    )
    assert response.status_code == 303
    assert response["Location"] == "/cases/?assignee=mine&priority=high"
    view = SavedView.objects.get(name="My urgent")
    assert view.owner == agent and view.query == "assignee=mine&priority=high"
    html = client.get(response["Location"]).content.decode()
    assert '<h1 class="page-title">My urgent</h1>' in html
    assert "Delete view My urgent" in html

    assert client.post(reverse("cases:delete_view", args=[view.pk])).status_code == 303
    assert not SavedView.objects.filter(pk=view.pk).exists()


def test_saving_a_view_needs_a_name(agent):
    response = logged_in(agent).post(reverse("cases:save_view"), {"name": " ", "query": ""})
    assert response.status_code == 303
    assert not SavedView.objects.filter(owner=agent).exists()


def test_nobody_deletes_someone_elses_view_or_the_desks_without_permission(agent, supervisor):
    theirs = SavedView.objects.create(owner=supervisor, name="Theirs", query="priority=high")
    shared = SavedView.objects.get(owner=None, name="Mine")
    client = logged_in(agent)
    assert client.post(reverse("cases:delete_view", args=[theirs.pk])).status_code == 403
    assert client.post(reverse("cases:delete_view", args=[shared.pk])).status_code == 403
    assert SavedView.objects.filter(pk__in=[theirs.pk, shared.pk]).count() == 2
    html = get(agent)
    assert "Theirs" not in html  # another person's view is not listed


# ---------- bulk actions ----------


def bulk(user, cases, **data):
    data.setdefault("next", "priority=medium")
    return logged_in(user).post(reverse("cases:bulk"), {"ids": [c.pk for c in cases], **data})


def test_bulk_assign_to_me_then_to_a_person_then_unassign(agent, x_channel):
    colleague = make_user("colleague", "agent")
    cases = [make_case(x_channel) for _ in range(3)]
    response = bulk(agent, cases, action="assign_me")
    assert response.status_code == 303
    assert response["Location"] == "/cases/?priority=medium"
    assert Case.objects.filter(assignee=agent).count() == 3
    assert CaseEvent.objects.filter(kind=CaseEvent.Kind.ASSIGNED).count() == 3

    bulk(agent, cases[:2], action="assign", assignee=colleague.pk)
    assert Case.objects.filter(assignee=colleague).count() == 2
    bulk(agent, cases, action="unassign")
    assert not Case.objects.filter(assignee__isnull=False).exists()


def test_bulk_cannot_assign_to_someone_who_does_not_work_cases(agent, qa, x_channel):
    case = make_case(x_channel)
    client = logged_in(agent)
    response = client.post(
        reverse("cases:bulk"), {"ids": [case.pk], "action": "assign", "assignee": qa.pk}
    )
    assert response.status_code == 303
    case.refresh_from_db()
    assert case.assignee is None
    page = client.get(response["Location"]).content.decode()
    assert "Choose the person to assign the cases to." in page


def test_bulk_status_triage_and_label(supervisor, x_channel):
    cases = [make_case(x_channel) for _ in range(2)]
    bulk(supervisor, cases, action="status", status="resolved")
    assert set(Case.objects.values_list("status", flat=True)) == {"resolved"}

    no_reason = bulk(supervisor, cases, action="escalate", reason="")
    assert no_reason.status_code == 303
    assert not Case.objects.exclude(triage_decision="").exists()
    bulk(supervisor, cases, action="escalate", reason="Legal threat in the thread")
    assert set(Case.objects.values_list("triage_decision_reason", flat=True)) == {
        "Legal threat in the thread"
    }

    outage = Label.objects.create(name="outage")
    billing = Label.objects.create(name="billing")
    cases[0].labels.add(billing)
    bulk(supervisor, cases, action="label", label=outage.pk)
    assert set(cases[0].labels.values_list("name", flat=True)) == {"billing", "outage"}
    assert set(cases[1].labels.values_list("name", flat=True)) == {"outage"}


def test_bulk_ignore_resolves_like_the_case_page_triage(supervisor, x_channel):
    cases = [make_case(x_channel) for _ in range(2)]
    bulk(supervisor, cases, action="ignore", reason="Spam from a bot network")
    assert set(Case.objects.values_list("triage_decision", "status")) == {("ignore", "resolved")}
    page = logged_in(supervisor).get(reverse("cases:list")).content.decode()
    assert f"/cases/{cases[0].pk}/" not in page  # out of the inbox's open cases


def test_bulk_without_selection_or_action_changes_nothing(agent, x_channel):
    case = make_case(x_channel)
    client = logged_in(agent)
    nothing = client.post(reverse("cases:bulk"), {"action": "assign_me"})
    assert nothing.status_code == 303
    no_action = client.post(reverse("cases:bulk"), {"ids": [case.pk], "action": "explode"})
    assert no_action.status_code == 303
    case.refresh_from_db()
    assert case.assignee is None
    assert "Choose an action" in client.get(no_action["Location"]).content.decode()


def test_bulk_changes_show_in_the_next_poll(agent, x_channel):
    case = make_case(x_channel)
    client = logged_in(agent)
    url = poll_url(client.get(reverse("cases:list")).content.decode())
    bulk(agent, [case], action="assign_me")
    assert client.get(url, headers={"HX-Request": "true"}).status_code == 200


# ---------- query counts ----------


@pytest.mark.parametrize("rows", [5, 50])
@pytest.mark.parametrize("params", [{}, {"q": "broken", "network": "x", "label": "1"}])
@pytest.mark.parametrize("teams", [False, True], ids=["shared channels", "team channels"])
def test_query_count_does_not_grow_with_rows(
    agent, x_channel, rows, params, teams, django_assert_num_queries
):
    other = make_channel(Network.FACEBOOK)
    if teams:  # x_channel is the agent's team's; the other channel another team's
        x_channel.team = make_team("Care", [], [agent])
        other.team = make_team("Billing")
        x_channel.save(update_fields=["team"])
        other.save(update_fields=["team"])
    label = Label.objects.create(name="billing")
    for i in range(rows):
        make_case(x_channel if i % 2 else other, priority=i, labels=[label], assignee=agent)
    if "label" in params:
        params = {**params, "label": label.pk}
    expected = rows // 2 if params or teams else rows
    client = logged_in(agent)
    # session, user, user perms, group perms, fingerprint, [search ids], page, choices, counts,
    # the replies sent back to the agent, the top bar's groups
    with django_assert_num_queries(11 if params else 10):
        response = client.get(reverse("cases:list"), params)
    assert len(handles(response.content.decode())) == expected


@pytest.mark.parametrize("rows", [5, 50])
@pytest.mark.parametrize("params", [{}, {"sort": "due"}, {"sla": "soon"}])
def test_query_count_with_ten_teams_and_sla_clocks(agent, rows, params, django_assert_num_queries):
    """Each row's clock comes from its own columns: ten teams' hours and policies, cases under
    each, and the page costs what it costs without them."""
    channels = [make_channel(Network.X) for _ in range(10)]
    for i, channel in enumerate(channels):
        hours = BusinessHours.objects.create(team=make_team(f"Team {i}"), time_zone="Asia/Tokyo")
        OpeningTime.objects.create(hours=hours, weekday=i % 7, opens=time(8), closes=time(0))
        Policy.objects.create(
            name=f"Team {i}", channel=channel, hours_team=hours.team, first_response_minutes=30
        )
    for i in range(rows):
        make_case(channels[i % 10], waited=timedelta(minutes=i * 7), assignee=agent)
    client = logged_in(agent)
    # session, user, user perms, group perms, fingerprint, page, choices, counts, the replies
    # sent back to the agent, the top bar's groups: as without service levels
    with django_assert_num_queries(10):
        html = client.get(reverse("cases:list"), params).content.decode()
    shown = len(handles(html))
    assert html.count("badge--sla-") == shown and (shown > 0 or "sla" in params)


@pytest.mark.parametrize("rows", [5, 50])
def test_unchanged_poll_costs_one_query_after_auth(
    agent, x_channel, rows, django_assert_num_queries
):
    for _ in range(rows):
        make_case(x_channel)
    client = logged_in(agent)
    url = poll_url(client.get(reverse("cases:list")).content.decode())
    # session, user, user permissions, group permissions, the fingerprint
    with django_assert_num_queries(5):
        assert client.get(url, headers={"HX-Request": "true"}).status_code == 204


def test_rows_with_images_show_a_paperclip_at_no_extra_query(agent, x_channel):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cases.models import MentionMedia

    client = logged_in(agent)

    def page() -> tuple[str, int]:
        # Warm first: the same caches for both measures. The view counts are cached per
        # minute (cases.inbox.count_views), so a measure that crossed a minute is taken again.
        for _ in range(3):
            minute = timezone.now().replace(second=0, microsecond=0)
            client.get(reverse("cases:list"))
            with CaptureQueriesContext(connection) as queries:
                html = client.get(reverse("cases:list")).content.decode()
            if timezone.now().replace(second=0, microsecond=0) == minute:
                return html, len(queries)
        raise AssertionError("three measures in a row crossed a minute")

    cases = [make_case(x_channel) for _ in range(6)]
    plain_html, plain = page()
    for case in cases[::2]:
        MentionMedia.objects.create(
            mention=case.mentions.get(),
            position=0,
            kind="photo",
            source_url="https://pbs.twimg.com/media/a.jpg",
        )
    for case in cases[1:5]:  # more cases, more images: still the same queries
        case.mentions.get().media.create(
            position=1, kind="gif", source_url="https://pbs.twimg.com/media/b.jpg"
        )
    html, with_images = page()

    assert 'has-images" title=' not in plain_html
    assert html.count('has-images" title=') == 5
    assert with_images == plain
