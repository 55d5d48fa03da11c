"""Changes to a case that span models: each writes the case, a CaseEvent, and bumps updated_at.
Also the inbox's bulk changes (one of these per case) and the desk's engagement guidelines.

The inbox's live update compares a fingerprint built from `Case.updated_at`, so every function
here sets it: a change made on the case page shows in every open inbox within one poll.
Views call these after checking permissions; the functions check only the data. A change
made from a form on the case page also names the version of the case the form was rendered
from (`Case.updated_at`): `check_case_version`, under the case's row lock (`lock_case`),
refuses it when the case changed since, so nobody overwrites a change they never saw.
"""

from datetime import datetime
from typing import TYPE_CHECKING

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from cases.models import (
    OPEN_STATUSES,
    Case,
    CaseEvent,
    CaseStatus,
    EngagementGuidelines,
    Label,
    Moderation,
    Note,
    Triage,
)
from cases.sla import refresh_case_sla
from notifications.actions import do_notify, mentioned_users
from notifications.models import Kind as NotificationKind
from socialdesk.params import parse_moment

if TYPE_CHECKING:
    from socialdesk.models import Team


class ActionError(ValueError):
    """An action that cannot be done as asked; the message says why, for the agent."""


class StaleCase(ActionError):
    """The form was rendered from an older version of the case; the message says what changed."""


def case_version(case: Case) -> str:
    """The version a form on the case page carries back: when the case last changed."""
    return case.updated_at.isoformat()


def lock_case(case: Case) -> None:
    """Take the case's row lock and re-read it. Precondition: inside a transaction."""
    case.refresh_from_db(from_queryset=Case.objects.select_for_update())


def check_case_version(case: Case, expected: str, *, viewer: User) -> None:
    """Refuse (StaleCase) a change from a form rendered before the case last changed.

    `expected` is the form's `case_version`. Precondition: the caller holds the row lock
    (`lock_case`), so the case cannot change between this check and the change itself.
    """
    seen = parse_moment(expected)
    if seen is not None and seen == case.updated_at:
        return
    if seen is None:
        raise StaleCase("Not saved: this form does not say which version of the case it shows.")
    changes = what_changed(case, seen, viewer=viewer)
    raise StaleCase(
        "Not saved: the case changed after this form was shown"
        + (f" ({'; '.join(changes)})" if changes else "")
        + ". It now shows the case as it is: check it and choose again."
    )


def what_changed(case: Case, since: datetime, *, viewer: User) -> list[str]:
    """Who changed what on the case after `since`, in words, oldest first."""
    from cases.timeline import describe_event  # the timeline's own wording

    found = []
    events = CaseEvent.objects.filter(case=case, created_at__gt=since).select_related("actor")
    for event in events:
        if event.actor is None:
            who = "SocialDesk"
        else:
            who = "you" if event.actor_id == viewer.pk else _name(event.actor)
        found.append(f"{who} {describe_event(event)}")
    from cases.moderation import WHAT  # it builds on this module

    asked = Moderation.objects.filter(case=case, requested_at__gt=since).select_related(
        "requested_by"
    )
    for row in asked.order_by("requested_at", "id"):
        who = "you" if row.requested_by_id == viewer.pk else _name(row.requested_by) or "someone"
        found.append(f"{who} asked the network to {WHAT[row.action]}")
    posts = case.mentions.filter(received_at__gt=since).count()
    if posts:
        found.append(f"{posts} new customer post{'s' if posts != 1 else ''}")
    notes = Note.objects.filter(case=case, created_at__gt=since).count()
    if notes:
        found.append(f"{notes} new note{'s' if notes != 1 else ''}")
    return found


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
    changes nothing and writes no event. The caller has checked that `assignee` may work cases;
    ActionError when `assignee` does not see the case (another team's: Case.objects.visible_to).
    """
    if (assignee.pk if assignee else None) == case.assignee_id:
        return
    if assignee is not None and not Case.objects.visible_to(assignee).filter(pk=case.pk).exists():
        raise ActionError(
            gettext(
                "%(name)s does not work in this case's team: choose someone who does, "
                "or transfer the case to their team first."
            )
            % {"name": _name(assignee)}
        )
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
        event = _event(
            case,
            CaseEvent.Kind.ASSIGNED,
            actor,
            assignee=_name(assignee),
            assignee_id=assignee.pk,
            previous=_name(previous),
            auto=actor is None,
        )
        do_notify(
            [assignee],
            NotificationKind.ASSIGNED,
            case=case,
            actor=actor,
            dedupe_key=f"assigned:{event.pk}",
        )


MAX_TRANSFER_NOTE = 1000


def owning_team(case: Case) -> "Team | None":
    """The team the case belongs to: its transfer team, else its channel's (cases.visibility.
    visible_q); None when it is every team's."""
    if case.team_id is not None:
        return case.team
    return case.channel.team


@transaction.atomic
def do_transfer_case(case: Case, team: "Team", note: str, *, actor: User) -> None:
    """Hand the case to `team` with a note for them: it leaves the other teams' inboxes, and
    its assignee lets it go unless they work in `team` (member or supervisor).

    Preconditions: the caller holds the case's row lock (`lock_case`) and has checked that
    `actor` may change the case. ActionError without a note, or when the case already belongs
    to `team`. Writes a TRANSFERRED event (the note on it) and, when the assignee lets go, an
    UNASSIGNED one.
    """
    note = note.strip()
    if not note:
        raise ActionError(
            gettext("Write a note for the team you transfer the case to: why it is theirs.")
        )
    if len(note) > MAX_TRANSFER_NOTE:
        raise ActionError(
            gettext("Keep the note under %(limit)d characters.") % {"limit": MAX_TRANSFER_NOTE}
        )
    previous = owning_team(case)
    if previous is not None and previous.pk == team.pk:
        raise ActionError(gettext("The case already belongs to %(team)s.") % {"team": team.name})
    case.team = team
    fields = ["team"]
    let_go = case.assignee
    if let_go is not None and not team.works_in(let_go):
        case.assignee = None
        fields.append("assignee")
    else:
        let_go = None
    _save_case(case, fields)
    _event(
        case,
        CaseEvent.Kind.TRANSFERRED,
        actor,
        **{"from": previous.name if previous else "", "to": team.name, "to_id": team.pk},
        note=note,
    )
    if let_go is not None:
        _event(
            case, CaseEvent.Kind.UNASSIGNED, actor, previous=_name(let_go), previous_id=let_go.pk
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
    Leaving pending clears the snooze. Resolving plans the case's satisfaction survey when
    surveys are switched on (csat.actions: at most one per case).
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
    refresh_case_sla(case)  # resolving stops the clocks, reopening starts them again
    if status != previous:
        _event(case, CaseEvent.Kind.STATUS, actor, **{"from": previous, "to": status})
    if status == CaseStatus.RESOLVED and previous != status:
        from csat.actions import do_plan_survey  # csat builds on cases

        do_plan_survey(case, now)
    if snooze_until is not None:
        _event(case, CaseEvent.Kind.SNOOZED, actor, until=snooze_until.isoformat())


@transaction.atomic
def do_triage_case(
    case: Case, decision: str, reason: str, *, actor: User, resolve_ignored: bool = True
) -> None:
    """Record the agent's triage decision and why (QA asks "did we engage the right people").

    Preconditions: `decision` is a Triage value and `reason` is not blank (ActionError
    otherwise). A new case that is engaged or escalated becomes open: someone is on it. An
    open case that is ignored is resolved (it leaves the inbox) unless `resolve_ignored` is
    False: the one rule for the case page's triage form and the inbox's bulk triage.
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
    if decision == Triage.IGNORE and resolve_ignored and case.is_open:
        do_set_status(case, CaseStatus.RESOLVED, actor=actor)


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
    refresh_case_sla(case)  # a label can choose another service-level policy
    _event(case, CaseEvent.Kind.LABELS, actor, added=added, removed=removed)


@transaction.atomic
def do_add_note(case: Case, text: str, *, author: User, mentions: str | None = None) -> Note:
    """Add an internal note (never sent to the customer). Precondition: `text` is not blank.

    The colleagues it names as `@username` are notified; `mentions` narrows that to the part
    of the text the author wrote (a note that quotes a reply quotes customers' handles too).
    """
    text = text.strip()
    if not text:
        raise ActionError("Write the note first.")
    note = Note.objects.create(case=case, author=author, text=text)
    _save_case(case, [])
    named = mentioned_users(text if mentions is None else mentions)
    do_notify(
        named,
        NotificationKind.MENTIONED,
        case=case,
        actor=author,
        data={"note": (text if mentions is None else mentions)[:300]},
        dedupe_key=f"mention:note:{note.pk}",
    )
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
