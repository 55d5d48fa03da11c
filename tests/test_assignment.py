"""cases.assignment.auto_assign: round-robin over online agents, highest priority first, capped;
routed by team, language and skill."""

from collections import Counter

import pytest

from cases import presence, tasks
from cases.assignment import auto_assign
from cases.models import AgentProfile, Case, CaseEvent, CaseStatus, DeskSettings, Label
from tests.conftest import make_channel, make_user
from tests.factories import make_case, make_team

pytestmark = pytest.mark.usefixtures("clean_cache")


@pytest.fixture
def desk(db) -> DeskSettings:
    row = DeskSettings.load()
    row.auto_assign, row.max_open_cases_per_agent = True, 3
    row.save()
    return row


def online_agents(*names: str):
    users = [make_user(name, "agent") for name in names]
    for user in users:
        presence.mark_online(user)
    return users


def assigned_to(user) -> list[int]:
    return list(Case.objects.filter(assignee=user).values_list("priority", flat=True))


def test_highest_priority_first_and_round_robin(desk, x_channel):
    alex, blair = online_agents("alex", "blair")
    for priority in (10, 90, 50, 70):
        make_case(x_channel, priority=priority)
    assert auto_assign() == 4
    # alex and blair alternate down the priority order.
    by_priority = dict(
        Case.objects.values_list("priority", "assignee__username").order_by("-priority")
    )
    assert [by_priority[p] for p in (90, 70, 50, 10)] in (
        ["alex", "blair", "alex", "blair"],
        ["blair", "alex", "blair", "alex"],
    )
    events = CaseEvent.objects.filter(kind=CaseEvent.Kind.ASSIGNED)
    assert events.count() == 4
    assert all(e.actor is None and e.data["auto"] for e in events)


def test_least_recently_assigned_goes_next_across_runs(desk, x_channel):
    alex, blair = online_agents("alex", "blair")
    make_case(x_channel, priority=80)
    assert auto_assign() == 1
    first = Case.objects.get().assignee
    make_case(x_channel, priority=80)
    assert auto_assign() == 1
    second = Case.objects.exclude(assignee=first).get().assignee
    assert {first, second} == {alex, blair}


def test_offline_agents_and_other_roles_get_nothing(desk, x_channel, supervisor):
    [alex] = online_agents("alex")
    make_user("offline_olga", "agent")
    presence.mark_online(supervisor)
    for _ in range(2):
        make_case(x_channel)
    assert auto_assign() == 2
    assert Counter(Case.objects.values_list("assignee__username", flat=True)) == {"alex": 2}


def test_nobody_online_assigns_nothing(desk, x_channel):
    make_user("alex", "agent")
    make_case(x_channel)
    assert auto_assign() == 0
    assert Case.objects.get().assignee is None


def test_cap_counts_open_cases_already_held(desk, x_channel):
    [alex] = online_agents("alex")
    make_case(x_channel, assignee=alex, status=CaseStatus.OPEN)
    make_case(x_channel, assignee=alex, status=CaseStatus.PENDING)
    make_case(x_channel, assignee=alex, status=CaseStatus.RESOLVED)  # does not count
    for priority in (60, 40, 20):
        make_case(x_channel, priority=priority)
    assert auto_assign() == 1  # cap 3: one more
    assert Case.objects.filter(assignee=alex, status__in=["new", "open", "pending"]).count() == 3
    assert Case.objects.get(priority=60).assignee == alex
    assert auto_assign() == 0


def test_cap_spreads_the_rest(desk, x_channel):
    alex, blair = online_agents("alex", "blair")
    for _ in range(3):
        make_case(x_channel, assignee=alex, status=CaseStatus.OPEN)
    for _ in range(5):
        make_case(x_channel)
    assert auto_assign() == 3
    assert Case.objects.filter(assignee=blair).count() == 3
    assert Case.objects.filter(assignee__isnull=True).count() == 2


def test_only_new_unassigned_engage_or_escalate_cases(desk, x_channel):
    [alex] = online_agents("alex")
    desk.max_open_cases_per_agent = 10
    desk.save()
    wanted = [make_case(x_channel, triage="engage"), make_case(x_channel, triage="escalate")]
    make_case(x_channel, triage="ignore")
    make_case(x_channel, triage="")
    make_case(x_channel, status=CaseStatus.OPEN)
    make_case(x_channel, triage="engage", triage_decision="ignore")
    assert auto_assign() == 2
    assert set(Case.objects.filter(assignee=alex)) == set(wanted)


def test_switched_off_in_desk_settings(desk, x_channel):
    desk.auto_assign = False
    desk.save()
    online_agents("alex")
    make_case(x_channel)
    assert auto_assign() == 0


def test_assignment_bumps_updated_at_for_the_inbox(desk, x_channel):
    online_agents("alex")
    case = make_case(x_channel)
    before = case.updated_at
    auto_assign()
    case.refresh_from_db()
    assert case.updated_at > before


@pytest.mark.parametrize("cases", [5, 50])
def test_a_run_costs_a_fixed_number_of_queries(desk, x_channel, cases, django_assert_num_queries):
    desk.max_open_cases_per_agent = 100
    desk.save()
    alex, blair, casey = online_agents("alex", "blair", "casey")
    x_channel.team = make_team("Care", [], [alex, blair])
    x_channel.save(update_fields=["team"])
    profile(casey, ["en"], [Label.objects.create(name="billing")])
    other = make_channel()
    for i in range(cases):
        make_case(x_channel if i % 2 else other, priority=i % 100, language="en")
    # settings, agents, their teams (who sees all, memberships), languages and skills,
    # savepoint, open counts, candidates, bulk update, bulk insert, the assignees'
    # notification preferences, the notifications, release
    with django_assert_num_queries(13):
        assert auto_assign() == cases


def test_the_beat_task_runs_the_assignment(desk, x_channel):
    (alex,) = online_agents("alex")
    case = make_case(x_channel)

    assert tasks.auto_assign_cases() == 1

    case.refresh_from_db()
    assert case.assignee == alex


# ---------- routing by team, language and skill ----------


def profile(user, languages=(), skills=()) -> AgentProfile:
    row = AgentProfile.objects.create(user=user, languages=list(languages))
    row.skills.set(skills)
    return row


def test_a_teams_cases_go_only_to_its_agents(desk):
    alex, blair, casey = online_agents("alex", "blair", "casey")
    care, billing = make_team("Care", [], [alex]), make_team("Billing", [], [blair])
    care_channel, billing_channel = make_channel(team=care), make_channel(team=billing)
    shared = make_channel()  # no team: every team's
    for _ in range(2):
        make_case(care_channel)
        make_case(billing_channel)
    make_case(shared)
    assert auto_assign() == 5
    assert set(Case.objects.filter(channel=care_channel).values_list("assignee", flat=True)) == {
        alex.pk
    }
    assert set(Case.objects.filter(channel=billing_channel).values_list("assignee", flat=True)) == {
        blair.pk
    }
    # casey is in no team: only the shared channel's case could be theirs, and it was
    assert Case.objects.get(channel=shared).assignee == casey


def test_a_transferred_case_goes_to_its_new_team_not_its_channels(desk):
    alex, blair = online_agents("alex", "blair")
    care, billing = make_team("Care", [], [alex]), make_team("Billing", [], [blair])
    case = make_case(make_channel(team=care), team=billing)
    assert auto_assign() == 1
    case.refresh_from_db()
    assert case.assignee == blair


def test_a_case_of_a_team_with_nobody_online_waits_and_does_not_block_the_rest(desk):
    desk.max_open_cases_per_agent = 1
    desk.save()
    [alex] = online_agents("alex")
    care, nights = make_team("Care", [], [alex]), make_team("Nights", [], [])
    night_cases = [make_case(make_channel(team=nights), priority=90) for _ in range(3)]
    wanted = make_case(make_channel(team=care), priority=10)
    assert auto_assign() == 1
    wanted.refresh_from_db()
    assert wanted.assignee == alex
    waiting = Case.objects.filter(pk__in=[c.pk for c in night_cases])
    assert all(case.assignee_id is None for case in waiting)


def test_language_goes_to_who_speaks_it_and_generalists_take_any(desk):
    desk.max_open_cases_per_agent = 10
    desk.save()
    anglo, franco, anyone = online_agents("anglo", "franco", "anyone")
    profile(anglo, ["en"])
    profile(franco, ["fr", "en"])
    channel = make_channel()
    french = [make_case(channel, language="fr", priority=90) for _ in range(4)]
    german = make_case(channel, language="de-AT", priority=10)
    assert auto_assign() == 5
    french_assignees = Counter(
        Case.objects.filter(pk__in=[c.pk for c in french]).values_list("assignee", flat=True)
    )
    assert french_assignees == {franco.pk: 2, anyone.pk: 2}  # the two who may, in turn
    german.refresh_from_db()
    assert german.assignee == anyone  # nobody lists German: the generalist


def test_language_nobody_online_speaks_waits(desk):
    [anglo] = online_agents("anglo")
    profile(anglo, ["en"])
    case = make_case(make_channel(), language="ja")
    make_case(make_channel(), language="EN-gb")
    assert auto_assign() == 1
    case.refresh_from_db()
    assert case.assignee is None


def test_skilled_agents_get_the_cases_with_their_labels_first(desk):
    desk.max_open_cases_per_agent = 10
    desk.save()
    billing = Label.objects.create(name="billing")
    alex, blair = online_agents("alex", "blair")
    profile(blair, skills=[billing])
    labelled = [make_case(make_channel(), labels=[billing]) for _ in range(3)]
    plain = make_case(make_channel(), priority=10)
    assert auto_assign() == 4
    assert {Case.objects.get(pk=c.pk).assignee for c in labelled} == {blair}
    plain.refresh_from_db()
    assert plain.assignee == alex  # no skill asked: whoever waited longest


def test_the_skilled_agents_cap_sends_the_rest_to_others(desk):
    billing = Label.objects.create(name="billing")
    alex, blair = online_agents("alex", "blair")
    profile(blair, skills=[billing])
    for _ in range(5):
        make_case(make_channel(), labels=[billing])
    assert auto_assign() == 5
    # cap 3: blair takes three, then nobody skilled is free and alex takes the rest
    assert Counter(Case.objects.values_list("assignee__username", flat=True)) == {
        "blair": 3,
        "alex": 2,
    }
