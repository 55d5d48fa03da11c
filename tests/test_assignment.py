"""cases.assignment.auto_assign: round-robin over online agents, highest priority first, capped."""

from collections import Counter

import pytest

from cases import presence, tasks
from cases.assignment import auto_assign
from cases.models import Case, CaseEvent, CaseStatus, DeskSettings
from tests.conftest import make_user
from tests.factories import make_case

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
    online_agents("alex", "blair", "casey")
    for i in range(cases):
        make_case(x_channel, priority=i % 100)
    # settings, agents, their teams (who sees all, memberships), languages and skills,
    # savepoint, open counts, candidates, bulk update, bulk insert, release
    with django_assert_num_queries(11):
        assert auto_assign() == cases


def test_the_beat_task_runs_the_assignment(desk, x_channel):
    (alex,) = online_agents("alex")
    case = make_case(x_channel)

    assert tasks.auto_assign_cases() == 1

    case.refresh_from_db()
    assert case.assignee == alex
