"""Changes to a case that span models: each writes the case, a CaseEvent, and bumps updated_at.
Also the inbox's bulk changes (one of these per case) and the desk's engagement guidelines.

The inbox's live update compares a fingerprint built from `Case.updated_at`, so every function
here sets it: a change made on the case page shows in every open inbox within one poll.
Views call these after checking permissions; the functions check only the data.
"""

from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from cases.models import (
    OPEN_STATUSES,
    Case,
    CaseEvent,
    CaseStatus,
    EngagementGuidelines,
    Label,
    Note,
    Triage,
)


class ActionError(ValueError):
    """An action that cannot be done as asked; the message says why, for the agent."""


def _save_case(case: Case, fields: list[str]) -> None:
    case.updated_at = timezone.now()
    case.save(update_fields=[*fields, "updated_at"])


def _event(case: Case, kind: str, actor: User | None, **data: object) -> CaseEvent:
    return CaseEvent.objects.create(case=case, kind=kind, actor=actor, data=data)


def _name(user: User | None) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


@transaction.atomic
def do_assign_case(case: Case, assignee: User | None, *, actor: User | None) -> None:
    """Give the case to `assignee`, or unassign it with None.

    `actor` None means the desk itself (auto-assignment). Assigning to the current assignee
    changes nothing and writes no event. The caller has checked that `assignee` may work cases.
    """
    if (assignee.pk if assignee else None) == case.assignee_id:
        return
    previous = case.assignee
    case.assignee = assignee
    _save_case(case, ["assignee"])
    if assignee is None:
        _event(
            case,
            CaseEvent.Kind.UNASSIGNED,
            actor,
            previous=_name(previous),
            previous_id=previous.pk if previous else None,
        )
    else:
        _event(
            case,
            CaseEvent.Kind.ASSIGNED,
            actor,
            assignee=_name(assignee),
            assignee_id=assignee.pk,
            previous=_name(previous),
            auto=actor is None,
        )


@transaction.atomic
def do_set_status(
    case: Case, status: str, *, actor: User, snooze_until: datetime | None = None
) -> None:
    """Move the case to `status`; pending with `snooze_until` snoozes it until then.

    Preconditions: `status` is a CaseStatus value; `snooze_until` is given only with pending
    (ActionError otherwise). Resolving or closing sets resolved_at (closing keeps an earlier
    resolution time); reopening clears it. Reopening fails with ActionError when ingest has
    meanwhile opened another case for the same conversation (one open case per conversation).
    Leaving pending clears the snooze.
    """
    if status not in CaseStatus.values:
        raise ActionError(f"Unknown status {status!r}.")
    if snooze_until is not None and status != CaseStatus.PENDING:
        raise ActionError("Only a pending case can be snoozed.")
    previous = case.status
    if status == previous and snooze_until == case.snoozed_until:
        return
    reopening = status in OPEN_STATUSES and previous not in OPEN_STATUSES
    if reopening:
        clash = (
            Case.objects.filter(
                channel_id=case.channel_id,
                customer_id=case.customer_id,
                conversation_key=case.conversation_key,
                status__in=OPEN_STATUSES,
            )
            .exclude(pk=case.pk)
            .values_list("pk", flat=True)
            .first()
        )
        if clash:
            raise ActionError(
                f"This conversation continues in case #{clash}, which is open: work it there."
            )
    now = timezone.now()
    case.status = status
    case.snoozed_until = snooze_until
    if status == CaseStatus.RESOLVED or (status == CaseStatus.CLOSED and not case.resolved_at):
        case.resolved_at = now
    elif reopening:
        case.resolved_at = None
    _save_case(case, ["status", "snoozed_until", "resolved_at"])
    if status != previous:
        _event(case, CaseEvent.Kind.STATUS, actor, **{"from": previous, "to": status})
    if snooze_until is not None:
        _event(case, CaseEvent.Kind.SNOOZED, actor, until=snooze_until.isoformat())


@transaction.atomic
def do_triage_case(case: Case, decision: str, reason: str, *, actor: User) -> None:
    """Record the agent's triage decision and why (QA asks "did we engage the right people").

    Preconditions: `decision` is a Triage value and `reason` is not blank (ActionError
    otherwise). A new case that is engaged or escalated becomes open: someone is on it.
    """
    reason = reason.strip()
    if decision not in Triage.values:
        raise ActionError(f"Unknown triage decision {decision!r}.")
    if not reason:
        raise ActionError("Give a reason for the triage decision: QA reviews it.")
    reason = reason[: Case._meta.get_field("triage_decision_reason").max_length]
    case.triage_decision = decision
    case.triage_decision_reason = reason
    case.triage_decided_by = actor
    case.triage_decided_at = timezone.now()
    fields = ["triage_decision", "triage_decision_reason", "triage_decided_by", "triage_decided_at"]
    opening = case.status == CaseStatus.NEW and decision != Triage.IGNORE
    if opening:
        case.status = CaseStatus.OPEN
        fields.append("status")
    _save_case(case, fields)
    _event(
        case,
        CaseEvent.Kind.TRIAGE,
        actor,
        decision=decision,
        reason=reason,
        suggestion=case.triage_suggestion,
    )
    if opening:
        _event(case, CaseEvent.Kind.STATUS, actor, **{"from": CaseStatus.NEW, "to": case.status})


@transaction.atomic
def do_set_labels(case: Case, labels: list[Label], *, actor: User) -> None:
    """Make the case's labels exactly `labels`; an event names what was added and removed."""
    current = {label.pk: label for label in case.labels.all()}
    wanted = {label.pk: label for label in labels}
    added = sorted(label.name for pk, label in wanted.items() if pk not in current)
    removed = sorted(label.name for pk, label in current.items() if pk not in wanted)
    if not added and not removed:
        return
    case.labels.set(list(wanted.values()))
    _save_case(case, [])
    _event(case, CaseEvent.Kind.LABELS, actor, added=added, removed=removed)


@transaction.atomic
def do_add_note(case: Case, text: str, *, author: User) -> Note:
    """Add an internal note (never sent to the customer). Precondition: `text` is not blank."""
    text = text.strip()
    if not text:
        raise ActionError("Write the note first.")
    note = Note.objects.create(case=case, author=author, text=text)
    _save_case(case, [])
    return note


# The inbox's bulk actions (cases/views/inbox.py names them for the menu).
BULK_ASSIGN, BULK_UNASSIGN, BULK_STATUS, BULK_LABEL = "assign", "unassign", "status", "label"


def do_bulk_change(
    cases: list[Case],
    action: str,
    *,
    actor: User,
    assignee: User | None = None,
    status: str = "",
    reason: str = "",
    label: Label | None = None,
) -> tuple[int, list[str]]:
    """Apply one bulk action to each case: (how many changed, "#id: why" for each refused).

    `action` is BULK_ASSIGN (to `assignee`), BULK_UNASSIGN, BULK_STATUS (to `status`), a
    Triage value (with `reason`) or BULK_LABEL (add `label`). Each case changes in its own
    transaction, so one refusal (a reopen that clashes) leaves the others done. Preconditions:
    the caller checked the actor's permission and that `assignee` works the inbox; the cases'
    labels are prefetched for BULK_LABEL.
    """
    done, failures = 0, []
    for case in cases:
        try:
            if action == BULK_ASSIGN:
                do_assign_case(case, assignee, actor=actor)
            elif action == BULK_UNASSIGN:
                do_assign_case(case, None, actor=actor)
            elif action == BULK_STATUS:
                do_set_status(case, status, actor=actor)
            elif action in Triage.values:
                do_triage_case(case, action, reason, actor=actor)
            elif action == BULK_LABEL and label is not None:
                current = list(case.labels.all())
                if label.pk not in {existing.pk for existing in current}:
                    do_set_labels(case, [*current, label], actor=actor)
            else:
                raise ActionError(f"Unknown bulk action {action!r}.")
            done += 1
        except ActionError as exc:
            failures.append(f"#{case.pk}: {exc}")
    return done, failures


@transaction.atomic
def do_update_guidelines(body: str, *, editor: User) -> EngagementGuidelines:
    """Save the desk's one guidelines text. Precondition: the editor may change it."""
    guidelines = EngagementGuidelines.objects.select_for_update().order_by("pk").first()
    if guidelines is None:
        guidelines = EngagementGuidelines()
    guidelines.body = body
    guidelines.updated_by = editor
    guidelines.updated_at = timezone.now()
    guidelines.save()
    return guidelines
