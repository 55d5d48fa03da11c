"""Teams are the unit of visibility: who sees which cases, transfers between teams, and the QA
queue of a reviewer's teams. (Per-route 404s: test_authz_matrix.py; routing:
test_assignment.py; the inbox's query counts with teams: test_inbox.py.)"""

import pytest
from django.urls import reverse

from cases.actions import case_version
from cases.models import Case, CaseEvent
from qa.models import Review
from socialdesk import roles
from tests.conftest import logged_in, make_channel, make_user
from tests.factories import make_case, make_review, make_team


@pytest.fixture
def teams(db, agent, supervisor):
    """Care (the agent's, led by the supervisor) and Billing (Bea's, led by the supervisor
    too), each with a channel, and a shared channel of no team."""
    bea = make_user("bea_agent", roles.AGENT)
    care = make_team("Care", [supervisor], [agent])
    billing = make_team("Billing", [supervisor], [bea])
    return {
        "care": care,
        "billing": billing,
        "bea": bea,
        "care_channel": make_channel(team=care),
        "billing_channel": make_channel(team=billing),
        "shared_channel": make_channel(),
    }


def inbox_ids(user, **params) -> set[int]:
    response = logged_in(user).get(reverse("cases:list"), {"status": "all", **params})
    assert response.status_code == 200
    return {case.pk for case in response.context["cases"]}


# ---------- who sees what ----------


def test_each_role_sees_its_teams_cases_and_the_shared_ones(teams, agent, supervisor, admin, qa):
    care = make_case(teams["care_channel"])
    billing = make_case(teams["billing_channel"])
    shared = make_case(teams["shared_channel"])
    assert inbox_ids(agent) == {care.pk, shared.pk}
    assert inbox_ids(teams["bea"]) == {billing.pk, shared.pk}
    assert inbox_ids(supervisor) == {care.pk, billing.pk, shared.pk}  # supervises both
    assert inbox_ids(admin) == {care.pk, billing.pk, shared.pk}
    assert inbox_ids(qa) == {shared.pk}  # in no team yet
    teams["billing"].members.add(qa)
    assert inbox_ids(qa) == {billing.pk, shared.pk}
    assert set(Case.objects.visible_to(agent).values_list("pk", flat=True)) == {care.pk, shared.pk}


def test_the_inbox_says_whose_cases_it_shows_and_filters_by_visible_channels(
    teams, agent, supervisor, admin, qa
):
    response = logged_in(agent).get(reverse("cases:list"))
    listed = {pk for pk, _, _ in response.context["choices"].channels}
    assert listed == {teams["care_channel"].pk, teams["shared_channel"].pk}
    assert "Cases of your team: Care." in response.content.decode()
    both = logged_in(supervisor).get(reverse("cases:list")).content.decode()
    assert "Cases of your teams: Billing, Care." in both
    assert "Every team's cases." in logged_in(admin).get(reverse("cases:list")).content.decode()
    assert "You are in no team yet" in logged_in(qa).get(reverse("cases:list")).content.decode()


def test_saved_view_counts_count_only_the_users_teams(teams, agent):
    for _ in range(2):
        make_case(teams["care_channel"])
    for _ in range(3):
        make_case(teams["billing_channel"])
    response = logged_in(agent).get(reverse("cases:list"))
    assert response.context["summary"]["open"] == 2


def test_the_case_page_of_a_visible_case_shows_its_team_and_the_transfer_dialog(teams, agent):
    case = make_case(teams["care_channel"])
    page = logged_in(agent).get(reverse("cases:detail", args=[case.pk]))
    html = page.content.decode()
    assert 'id="transfer-dialog"' in html
    choices = list(page.context["transfer_form"].fields["team"].queryset)
    assert choices == [teams["billing"]]  # every team but its own
    assert page.context["case_team"] == teams["care"]


# ---------- transfer ----------


def transfer(user, case, team, note="Billing question: a double charge."):
    return logged_in(user).post(
        reverse("cases:transfer", args=[case.pk]),
        {"team": team.pk, "note": note, "version": case_version(Case.objects.get(pk=case.pk))},
    )


def test_a_transfer_moves_the_case_to_the_other_teams_inbox_with_a_note(teams, agent):
    case = make_case(teams["care_channel"], assignee=agent)
    response = transfer(agent, case, teams["billing"])
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:list")  # it left the agent's teams
    case.refresh_from_db()
    assert case.team == teams["billing"]
    assert case.assignee is None  # the agent is not in Billing
    kinds = list(case.events.values_list("kind", flat=True))
    assert kinds == [CaseEvent.Kind.TRANSFERRED, CaseEvent.Kind.UNASSIGNED]
    event = case.events.get(kind=CaseEvent.Kind.TRANSFERRED)
    assert event.actor == agent
    assert event.data["from"] == "Care" and event.data["to"] == "Billing"
    assert event.data["note"] == "Billing question: a double charge."
    assert case.pk not in inbox_ids(agent)
    assert case.pk in inbox_ids(teams["bea"])
    assert logged_in(agent).get(reverse("cases:detail", args=[case.pk])).status_code == 404
    timeline = logged_in(teams["bea"]).get(reverse("cases:detail", args=[case.pk]))
    html = timeline.content.decode()
    assert "transferred the case from Care to Billing" in html
    assert "Billing question: a double charge." in html


def test_an_assignee_who_works_in_the_new_team_keeps_the_case(teams, supervisor, agent):
    case = make_case(teams["care_channel"], assignee=supervisor)
    response = transfer(supervisor, case, teams["billing"])
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:detail", args=[case.pk])  # still theirs
    case.refresh_from_db()
    assert case.assignee == supervisor
    assert not case.events.filter(kind=CaseEvent.Kind.UNASSIGNED).exists()


def test_a_transfer_needs_a_note_and_another_team(teams, agent):
    case = make_case(teams["care_channel"], assignee=agent)
    no_note = transfer(agent, case, teams["billing"], note="  ")
    assert no_note.status_code == 400
    assert "Write a note for the team" in no_note.content.decode()
    same = transfer(agent, case, teams["care"])
    assert same.status_code == 400
    assert "Choose one of the teams listed" in same.content.decode()
    case.refresh_from_db()
    assert case.team is None and case.assignee == agent
    assert not case.events.exists()


def test_a_transfer_from_a_form_older_than_the_case_is_refused(teams, agent):
    case = make_case(teams["care_channel"])
    stale = case_version(case)
    Case.objects.filter(pk=case.pk).update(status="open")
    case.refresh_from_db()
    case.updated_at = case.updated_at.replace(year=case.updated_at.year + 1)
    case.save(update_fields=["updated_at"])
    response = logged_in(agent).post(
        reverse("cases:transfer", args=[case.pk]),
        {"team": teams["billing"].pk, "note": "Theirs.", "version": stale},
    )
    assert response.status_code == 400
    assert "the case changed after this form was shown" in response.content.decode()
    case.refresh_from_db()
    assert case.team is None


def test_a_transfer_back_to_the_channels_team_is_allowed(teams, supervisor):
    case = make_case(teams["care_channel"], team=teams["billing"])
    assert transfer(supervisor, case, teams["care"]).status_code == 302
    case.refresh_from_db()
    assert case.team == teams["care"]


def test_qa_reads_but_cannot_transfer(teams, qa):
    teams["care"].members.add(qa)
    case = make_case(teams["care_channel"])
    assert transfer(qa, case, teams["billing"]).status_code == 403
    case.refresh_from_db()
    assert case.team is None


# ---------- the QA queue ----------


def test_the_review_queue_holds_only_the_reviewers_teams_cases(teams, agent, qa):
    teams["care"].members.add(qa)
    mine = make_review(
        agent,
        qa,
        status=Review.Status.PENDING,
        score=None,
        values={},
        channel=teams["care_channel"],
    )
    elsewhere = make_review(
        teams["bea"],
        qa,
        status=Review.Status.PENDING,
        score=None,
        values={},
        channel=teams["billing_channel"],
    )
    client = logged_in(qa)
    queue = client.get(reverse("qa:queue"))
    assert [row.pk for row in queue.context["rows"]] == [mine.pk]
    assert queue.context["counts"]["pending"] == 1
    assert client.get(reverse("qa:review", args=[mine.pk])).status_code == 200
    assert client.get(reverse("qa:review", args=[elsewhere.pk])).status_code == 404


# ---------- assigning by hand ----------


def test_a_case_is_assigned_only_to_someone_who_sees_it(teams, agent, supervisor, admin):
    case = make_case(teams["care_channel"])
    page = logged_in(supervisor).get(reverse("cases:detail", args=[case.pk]))
    offered = {person.username for person in page.context["assignees"]}
    assert agent.username in offered and supervisor.username in offered
    assert admin.username in offered  # sees every team
    assert teams["bea"].username not in offered  # Billing's
    refused = logged_in(supervisor).post(
        reverse("cases:assign", args=[case.pk]),
        {"assignee": teams["bea"].pk, "version": case_version(case)},
        headers={"HX-Request": "true"},
    )
    assert "bea_agent does not work in this case&#x27;s team" in refused.content.decode()
    case.refresh_from_db()
    assert case.assignee is None
    logged_in(supervisor).post(
        reverse("cases:bulk"), {"action": "assign", "assignee": teams["bea"].pk, "ids": [case.pk]}
    )
    case.refresh_from_db()
    assert case.assignee is None
    assert transfer(supervisor, case, teams["billing"]).status_code == 302
    logged_in(supervisor).post(
        reverse("cases:bulk"), {"action": "assign", "assignee": teams["bea"].pk, "ids": [case.pk]}
    )
    case.refresh_from_db()
    assert case.assignee == teams["bea"]
