"""Closing the loop: agents answer their reviews, supervisors resolve disputes and coach.

Who sees whom (issue point 7): an agent sees only reviews of their own replies and their own
coaching sessions; a supervisor sees the agents of the teams they supervise (socialdesk.Team);
an admin (who holds `socialdesk.change_team`: they manage the teams) sees everyone. `team_agent_ids`
is the one place that rule lives; the coaching views and the dashboard both use it.

The do_* functions change rows; their docstrings state what the caller has checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from notifications.actions import do_notify, team_supervisors
from notifications.models import Kind as NotificationKind
from qa.models import CoachingSession, CriterionScore, Review
from socialdesk import roles
from socialdesk.models import Team

SEES_ALL_PERM = "socialdesk.change_team"  # admins: they manage the teams, so they see every one
MAX_NOTE = 2000


class CoachingError(ValueError):
    """A request that cannot be carried out; the message says why, for the user."""


# ---------- who sees whom ----------


def sees_all_agents(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(user.is_superuser or user.has_perm(SEES_ALL_PERM))


def team_agent_ids(user: AbstractBaseUser | AnonymousUser) -> set[int] | None:
    """Ids of the agents this user may watch and coach; None means everyone (admins).

    One query. A supervisor of no team watches nobody.
    """
    if sees_all_agents(user):
        return None
    if not user.is_authenticated:
        return set()
    return set(
        Team.members.through.objects.filter(team__supervisors=user).values_list(
            "user_id", flat=True
        )
    )


def visible_teams(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Team]:
    """The teams whose figures this user sees: supervised ones, or all for admins."""
    if sees_all_agents(user):
        return Team.objects.all()
    return Team.objects.filter(supervisors=user)


def dashboard_teams(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Team]:
    """The teams whose quality dashboard this user sees: those they supervise or belong to (a
    QA specialist is a member of the teams they review), or all for admins."""
    if sees_all_agents(user):
        return Team.objects.all()
    return Team.objects.filter(Q(supervisors=user) | Q(members=user)).distinct()


def scope_filter(user: AbstractBaseUser | AnonymousUser, field: str = "agent") -> Q:
    """A Q restricting `field` (a user foreign key) to the agents `user` may see."""
    ids = team_agent_ids(user)
    return Q() if ids is None else Q(**{f"{field}__in": ids})


def coachable_agents(user: AbstractBaseUser) -> QuerySet:
    """The agents `user` may coach: those who hold qa.view_own_reviews (agents; superusers only
    if they have the role) among the agents they watch (`team_agent_ids`), by name."""
    agents = roles.holders_of("qa.view_own_reviews", superusers=False)
    ids = team_agent_ids(user)
    if ids is not None:
        agents = agents.filter(pk__in=ids)
    return agents.order_by("first_name", "last_name", "username")


def agent_reviews(agent: AbstractBaseUser) -> QuerySet[Review]:
    """The agent's own submitted reviews of sampled replies (calibration and gold reviews
    measure the reviewers, not the agent), newest first, with what the page shows."""
    return (
        Review.objects.filter(agent=agent, kind=Review.Kind.SAMPLE, status=Review.Status.SUBMITTED)
        .select_related("reply__in_reply_to", "case__channel", "reviewer", "dispute_resolved_by")
        .prefetch_related("scores__criterion")
        .order_by("-submitted_at", "-id")
    )


# ---------- the agent answers ----------


def do_acknowledge_review(review: Review, agent: AbstractBaseUser, comment: str = "") -> Review:
    """The agent has read the review and accepts it.

    Preconditions: `review` is a submitted review of `agent`'s reply (the caller fetched it
    for this agent). Only a review not yet answered can be acknowledged.
    """
    return _respond(review, agent, Review.AgentResponse.ACKNOWLEDGED, comment)


def do_dispute_review(review: Review, agent: AbstractBaseUser, comment: str) -> Review:
    """The agent disputes the review; a supervisor of their team resolves it.

    Preconditions as for do_acknowledge_review. A dispute needs a comment saying why.
    """
    if not comment.strip():
        raise CoachingError("Say what you disagree with: a dispute needs a comment.")
    return _respond(review, agent, Review.AgentResponse.DISPUTED, comment)


def _respond(review: Review, agent: AbstractBaseUser, response: str, comment: str) -> Review:
    if review.agent_id != agent.pk or review.status != Review.Status.SUBMITTED:
        raise CoachingError("Only the reviewed agent can answer a submitted review.")
    now = timezone.now()
    with transaction.atomic():
        # Conditional update: two clicks (or two tabs) cannot both answer.
        updated = Review.objects.filter(
            pk=review.pk, agent_response=Review.AgentResponse.PENDING
        ).update(
            agent_response=response,
            agent_comment=comment.strip()[:MAX_NOTE],
            agent_responded_at=now,
        )
        if not updated:
            raise CoachingError("You have already answered this review.")
        if response == Review.AgentResponse.DISPUTED:
            # Whoever resolves it: the supervisors of the agent's teams, else the admins.
            do_notify(
                team_supervisors(agent.pk, SEES_ALL_PERM),
                NotificationKind.DISPUTE_OPENED,
                case=review.case,
                review=review,
                actor=agent,
                data={"comment": comment.strip()[:300]},
                dedupe_key=f"dispute:{review.pk}",
                now=now,
            )
    review.agent_response = response
    review.agent_comment = comment.strip()[:MAX_NOTE]
    review.agent_responded_at = now
    return review


# ---------- the supervisor resolves ----------


def do_resolve_dispute(
    review: Review,
    supervisor: AbstractBaseUser,
    *,
    uphold: bool,
    note: str,
    corrections: Mapping[int, int | None] | None = None,
) -> Review:
    """Settle a dispute. Upheld with `corrections` ({criterion id: value, None = N/A}): those
    criterion scores are corrected (each keeps its original value and the time of the
    correction) and the review is scored again from its criteria, so the overall score and the
    criterion scores (the dashboard's per-criterion figures) tell the same story. Upheld without
    corrections: the score is annulled (the review then counts in no average). The original
    score is written into the resolution note. Rejected: the scores stay.

    Preconditions: the caller checked that `supervisor` may resolve disputes and watches the
    review's agent. The review must be disputed and not yet resolved; a note is required.
    """
    if not note.strip():
        raise CoachingError("Write a note for the agent: why the dispute is upheld or rejected.")
    with transaction.atomic():
        locked = Review.objects.select_for_update().get(pk=review.pk)
        if locked.agent_response != Review.AgentResponse.DISPUTED:
            raise CoachingError("This review is not (or no longer) disputed.")
        text = note.strip()[:MAX_NOTE]
        fields = [
            "agent_response",
            "dispute_resolution",
            "dispute_resolved_by",
            "dispute_resolved_at",
        ]
        if uphold:
            original = "no score" if locked.score is None else f"{locked.score:.1f}"
            if corrections:
                changed = _correct_criteria(locked, corrections)
                score = "no score" if locked.score is None else f"{locked.score:.1f}"
                text += f"\n\nOriginal score {original} corrected to {score}: {changed}."
            else:
                text += f"\n\nOriginal score {original} annulled."
                locked.score = None
            fields += ["score", "critical_failed"]
        locked.agent_response = (
            Review.AgentResponse.DISPUTE_UPHELD if uphold else Review.AgentResponse.DISPUTE_REJECTED
        )
        locked.dispute_resolution = text
        locked.dispute_resolved_by = supervisor
        locked.dispute_resolved_at = timezone.now()
        locked.save(update_fields=fields)
    for field in fields:
        setattr(review, field, getattr(locked, field))
    return review


def _value_text(value: int | None) -> str:
    return "N/A" if value is None else str(value)


def _correct_criteria(review: Review, corrections: Mapping[int, int | None]) -> str:
    """Correct the review's criterion scores and score it again from them (sets score and
    critical_failed; the caller saves the review). Returns the changes in words. Raises
    CoachingError for a value outside its scale or an N/A the criterion does not allow."""
    from qa.reviews import ReviewError, check_values
    from qa.scoring import score_review

    rows = {s.criterion_id: s for s in review.scores.select_related("criterion")}
    values = {cid: row.value for cid, row in rows.items()}
    values.update({cid: v for cid, v in corrections.items() if cid in rows})
    criteria = [row.criterion for row in rows.values()]
    try:
        clean = check_values(review, criteria, values)
    except ReviewError as error:
        raise CoachingError(" ".join(error.errors.values())) from error
    now = timezone.now()
    changed = []
    for cid, row in rows.items():
        if values[cid] == row.value:
            continue
        if row.corrected_at is None:
            row.original_value = row.value
        changed.append(
            f"{row.criterion.name} {_value_text(row.value)} → {_value_text(values[cid])}"
        )
        row.value, row.corrected_at = values[cid], now
    if not changed:
        raise CoachingError("Change at least one criterion's score, or uphold without to annul.")
    CriterionScore.objects.bulk_update(
        [r for r in rows.values() if r.corrected_at == now],
        ["value", "original_value", "corrected_at"],
    )
    review.score, review.critical_failed = score_review(clean)
    return "; ".join(changed)


# ---------- coaching sessions ----------


def parse_action_items(text: str) -> list[str]:
    """One action item per non-empty line, bullets stripped."""
    items = []
    for line in text.splitlines():
        item = line.strip().lstrip("-*•").strip()
        if item:
            items.append(item)
    return items


def do_create_coaching(
    *,
    coach: AbstractBaseUser,
    agent: AbstractBaseUser,
    reviews: Iterable[Review] = (),
    scheduled_for: datetime | None = None,
    notes: str = "",
    action_items: str = "",
    follow_up_on: date | None = None,
) -> CoachingSession:
    """Plan a coaching session with `agent`, linked to the reviews that prompted it.

    Preconditions: the caller checked that `coach` may coach `agent` (their team, or admin).
    Every linked review must be of `agent`'s replies.
    """
    reviews = list(reviews)
    if any(r.agent_id != agent.pk for r in reviews):
        raise CoachingError("Link only reviews of this agent's replies.")
    scheduled_for = scheduled_for or timezone.now()
    if follow_up_on is not None and follow_up_on < timezone.localdate(scheduled_for):
        raise CoachingError("The follow-up date cannot be before the session.")
    with transaction.atomic():
        session = CoachingSession.objects.create(
            agent=agent,
            coach=coach,
            scheduled_for=scheduled_for,
            notes=notes.strip(),
            action_items="\n".join(parse_action_items(action_items)),
            follow_up_on=follow_up_on,
        )
        session.reviews.set(reviews)
    return session


def do_update_coaching(
    session: CoachingSession,
    *,
    notes: str,
    action_items: str,
    follow_up_on: date | None,
) -> CoachingSession:
    """Edit the notes, action items and follow-up date. Caller checked the coach's access."""
    session.notes = notes.strip()
    session.action_items = "\n".join(parse_action_items(action_items))
    session.follow_up_on = follow_up_on
    session.save(update_fields=["notes", "action_items", "follow_up_on"])
    return session


NEXT_STATUS = {
    CoachingSession.Status.PLANNED: {CoachingSession.Status.DONE},
    CoachingSession.Status.DONE: {
        CoachingSession.Status.FOLLOWED_UP,
        CoachingSession.Status.PLANNED,
    },
    CoachingSession.Status.FOLLOWED_UP: {CoachingSession.Status.DONE},
}


def do_set_coaching_status(session: CoachingSession, status: str) -> CoachingSession:
    """Mark a session done, followed up, or back one step. Caller checked the coach's access.

    Planned → done → followed up; a step back is allowed (a mistaken click).
    """
    if status not in NEXT_STATUS.get(session.status, set()):
        wanted = dict(CoachingSession.Status.choices).get(status, status)
        raise CoachingError(
            f"A session that is {session.get_status_display().lower()} cannot become "
            f"{str(wanted).lower()}."
        )
    session.status = status
    session.save(update_fields=["status"])
    return session


def overdue_follow_ups(scope: Q, today: date | None = None) -> QuerySet[CoachingSession]:
    """Sessions whose follow-up date has passed without a follow-up, oldest first."""
    today = today or timezone.localdate()
    return (
        CoachingSession.objects.filter(scope, follow_up_on__lt=today)
        .exclude(status=CoachingSession.Status.FOLLOWED_UP)
        .select_related("agent", "coach")
        .order_by("follow_up_on", "id")
    )
