"""cases.actions: every change writes the case, a CaseEvent and bumps updated_at."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.actions import (
    ActionError,
    do_add_note,
    do_assign_case,
    do_set_labels,
    do_set_status,
    do_triage_case,
)
from cases.models import Case, CaseEvent, CaseStatus, Label
from tests.factories import make_case


@pytest.fixture
def case(x_channel) -> Case:
    made = make_case(x_channel)
    Case.objects.filter(pk=made.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    made.refresh_from_db()
    return made


def bumped(case: Case) -> bool:
    case.refresh_from_db()
    return timezone.now() - case.updated_at < timedelta(seconds=5)


def events(case: Case) -> list[tuple[str, dict]]:
    return [(e.kind, e.data) for e in CaseEvent.objects.filter(case=case)]


def test_assign_writes_an_event_naming_both_people(case, agent, supervisor):
    do_assign_case(case, agent, actor=supervisor)
    assert bumped(case) and case.assignee == agent
    [(kind, data)] = events(case)
    assert kind == "assigned"
    assert data["assignee"] == "alice_agent" and data["assignee_id"] == agent.pk
    assert data["auto"] is False
    assert CaseEvent.objects.get().actor == supervisor


def test_assigning_the_same_person_again_changes_nothing(case, agent):
    do_assign_case(case, agent, actor=agent)
    do_assign_case(case, agent, actor=agent)
    assert len(events(case)) == 1


def test_unassign_records_who_had_it(case, agent):
    do_assign_case(case, agent, actor=agent)
    do_assign_case(case, None, actor=agent)
    case.refresh_from_db()
    assert case.assignee is None
    assert events(case)[-1] == ("unassigned", {"previous": "alice_agent", "previous_id": agent.pk})


def test_auto_assignment_has_no_actor(case, agent):
    do_assign_case(case, agent, actor=None)
    event = CaseEvent.objects.get()
    assert event.actor is None and event.data["auto"] is True


def test_resolving_sets_resolved_at_and_reopening_clears_it(case, agent):
    do_set_status(case, CaseStatus.RESOLVED, actor=agent)
    assert bumped(case) and case.resolved_at is not None
    do_set_status(case, CaseStatus.OPEN, actor=agent)
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.resolved_at is None
    assert [kind for kind, _ in events(case)] == ["status", "status"]
    assert events(case)[0][1] == {"from": "new", "to": "resolved"}


def test_closing_keeps_an_earlier_resolution_time(case, agent):
    do_set_status(case, CaseStatus.RESOLVED, actor=agent)
    resolved_at = case.resolved_at
    do_set_status(case, CaseStatus.CLOSED, actor=agent)
    case.refresh_from_db()
    assert case.resolved_at == resolved_at


def test_snooze_sets_pending_until_and_leaving_pending_clears_it(case, agent):
    until = timezone.now() + timedelta(hours=3)
    do_set_status(case, CaseStatus.PENDING, actor=agent, snooze_until=until)
    case.refresh_from_db()
    assert (case.status, case.snoozed_until) == (CaseStatus.PENDING, until)
    assert [kind for kind, _ in events(case)] == ["status", "snoozed"]
    do_set_status(case, CaseStatus.OPEN, actor=agent)
    case.refresh_from_db()
    assert case.snoozed_until is None


def test_snooze_only_with_pending(case, agent):
    with pytest.raises(ActionError, match="Only a pending case"):
        do_set_status(case, CaseStatus.OPEN, actor=agent, snooze_until=timezone.now())


def test_unknown_status_is_refused(case, agent):
    with pytest.raises(ActionError):
        do_set_status(case, "archived", actor=agent)


def test_same_status_writes_nothing(case, agent):
    do_set_status(case, CaseStatus.NEW, actor=agent)
    assert events(case) == [] and not bumped(case)


def test_reopening_when_the_conversation_continues_elsewhere_is_refused(case, agent, x_channel):
    do_set_status(case, CaseStatus.RESOLVED, actor=agent)
    newer = Case.objects.create(
        customer=case.customer, channel=x_channel, conversation_key=case.conversation_key
    )
    with pytest.raises(ActionError, match=f"case #{newer.pk}"):
        do_set_status(case, CaseStatus.OPEN, actor=agent)
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED


def test_triage_keeps_decision_reason_person_and_time(case, agent):
    do_triage_case(case, "escalate", "  Mentions a lawyer  ", actor=agent)
    case.refresh_from_db()
    assert case.triage_decision == "escalate"
    assert case.triage_decision_reason == "Mentions a lawyer"
    assert case.triage_decided_by == agent and case.triage_decided_at is not None
    assert case.status == CaseStatus.OPEN  # somebody is on it now
    assert events(case) == [
        ("triage", {"decision": "escalate", "reason": "Mentions a lawyer", "suggestion": "engage"}),
        ("status", {"from": "new", "to": "open"}),
    ]


def test_ignore_does_not_open_the_case_when_asked_to_keep_it(case, agent):
    do_triage_case(case, "ignore", "spam", actor=agent, resolve_ignored=False)
    case.refresh_from_db()
    assert case.status == CaseStatus.NEW and [k for k, _ in events(case)] == ["triage"]


def test_ignore_resolves_the_case_by_default(case, agent):
    do_triage_case(case, "ignore", "spam", actor=agent)
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED and case.resolved_at is not None
    assert [k for k, _ in events(case)] == ["triage", "status"]


@pytest.mark.parametrize(
    ("decision", "reason"), [("engage", ""), ("engage", "   "), ("maybe", "x")]
)
def test_triage_needs_a_known_decision_and_a_reason(case, agent, decision, reason):
    with pytest.raises(ActionError):
        do_triage_case(case, decision, reason, actor=agent)
    case.refresh_from_db()
    assert case.triage_decision == "" and events(case) == []


def test_labels_event_names_what_was_added_and_removed(case, agent):
    billing, outage, vip = (Label.objects.create(name=n) for n in ("billing", "outage", "vip"))
    do_set_labels(case, [billing, vip], actor=agent)
    assert bumped(case)
    do_set_labels(case, [outage, vip], actor=agent)
    assert set(case.labels.all()) == {outage, vip}
    assert [data for _, data in events(case)] == [
        {"added": ["billing", "vip"], "removed": []},
        {"added": ["outage"], "removed": ["billing"]},
    ]
    do_set_labels(case, [vip, outage], actor=agent)
    assert len(events(case)) == 2


def test_note_is_stored_and_bumps_the_case(case, agent):
    note = do_add_note(case, "  Refund approved by billing  ", author=agent)
    assert note.text == "Refund approved by billing" and note.author == agent
    assert bumped(case)
    with pytest.raises(ActionError):
        do_add_note(case, "\n ", author=agent)
