"""Creating and submitting reviews: the QA specialist's half of the safety net."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from cases.models import Case, Reply
from notifications.actions import do_notify
from notifications.models import Kind as NotificationKind
from qa.autocheck import AutoScore, prescore_review, stored_auto
from qa.models import CalibrationSession, Criterion, CriterionScore, Review, Sample
from qa.rubrics import default_rubric
from qa.scoring import score_review

MAX_COMMENT = 5000


class ReviewError(Exception):
    """A submit that cannot be accepted. `errors` maps criterion ids (or None) to a message."""

    def __init__(self, errors: dict[int | None, str]):
        self.errors = errors
        super().__init__("; ".join(errors.values()))


def na_allowed(criterion: Criterion, review: Review) -> bool:
    """N/A where the rubric allows it, and for everything about the reply on an ignored case
    (there is no reply to judge; whether ignoring was right still is)."""
    return criterion.allow_na or (review.reply_id is None and criterion.auto_check != "triage")


def _agent_for(case: Case, reply: Reply | None) -> User:
    if reply is not None:
        return reply.author
    agent = case.triage_decided_by or case.assignee
    if agent is None:
        raise ValueError(f"{case} has no reply, triage decision or assignee to review.")
    return agent


@transaction.atomic
def do_create_review(
    *,
    reply: Reply | None = None,
    case: Case | None = None,
    reviewer: User,
    kind: str = Review.Kind.SAMPLE,
    sample: Sample | None = None,
    calibration: CalibrationSession | None = None,
    weight: float = 1.0,
) -> Review:
    """A pending review of `reply` (or of an ignored `case`) in `reviewer`'s queue, with the
    automatic pre-scores stored on one CriterionScore per criterion (value None until submit).

    Preconditions: a reply or a case; the rubric is the calibration session's, else the active
    default rubric. The agent reviewed is the reply's author, or who triaged / holds the case;
    never the reviewer (ValueError: nobody scores their own work).
    """
    if reply is None and case is None:
        raise ValueError("Review a reply or a case.")
    case = reply.case if reply is not None else case
    agent = _agent_for(case, reply)
    if agent.pk == reviewer.pk:
        raise ValueError(f"{reviewer.get_username()} cannot review their own work.")
    rubric = calibration.rubric if calibration is not None else default_rubric()
    review = Review.objects.create(
        kind=kind,
        sample=sample,
        calibration=calibration,
        reply=reply,
        case=case,
        agent=agent,
        reviewer=reviewer,
        rubric=rubric,
        weight=weight,
    )
    criteria = list(rubric.criteria.all())
    autos = prescore_review(review, criteria)
    CriterionScore.objects.bulk_create(
        [
            CriterionScore(
                review=review,
                criterion=criterion,
                auto_value=autos[criterion.pk].value if criterion.pk in autos else None,
                auto_reason=autos[criterion.pk].reason[:300] if criterion.pk in autos else "",
            )
            for criterion in criteria
        ]
    )
    return review


def check_values(
    review: Review, criteria: list[Criterion], values: Mapping[int, int | None]
) -> dict[Criterion, int | None]:
    """Every criterion scored, in its scale, or N/A where allowed; else ReviewError."""
    errors: dict[int | None, str] = {}
    clean: dict[Criterion, int | None] = {}
    for criterion in criteria:
        if criterion.pk not in values:
            errors[criterion.pk] = f"{criterion.name}: choose a score" + (
                " or N/A." if na_allowed(criterion, review) else "."
            )
            continue
        value = values[criterion.pk]
        if value is None:
            if not na_allowed(criterion, review):
                errors[criterion.pk] = f"{criterion.name} cannot be N/A: choose a score."
                continue
        elif not criterion.min_value <= value <= criterion.max_value:
            errors[criterion.pk] = (
                f"{criterion.name}: choose from {criterion.min_value} to {criterion.max_value}."
            )
            continue
        clean[criterion] = value
    unknown = set(values) - {c.pk for c in criteria}
    if unknown:
        errors[None] = "Some scores are for criteria of another rubric: reload the page."
    if errors:
        raise ReviewError(errors)
    return clean


@transaction.atomic
def do_submit_review(
    review: Review,
    values: Mapping[int, int | None],
    comment: str,
    *,
    accepted: Collection[int] = (),
) -> Review:
    """Store the reviewer's values ({criterion id: value, None = N/A}), score, critical_failed
    and submitted_at. Raises ReviewError (nothing written) for missing or invalid values or a
    review already submitted. Keeps the pre-scores; fills them in if the review had none (a
    review bulk-created by the sampler). Nobody submits a review of their own work.

    `accepted`: the criteria whose answer the reviewer took from the suggestion; each answer is
    stored as the reviewer's own choice or as an accepted suggestion (an id in `accepted` whose
    value is not the suggestion's is the reviewer's choice)."""
    review = (
        Review.objects.select_for_update(of=("self",))
        .select_related("rubric", "case", "reply", "reviewer")
        .get(pk=review.pk)
    )
    if review.status != Review.Status.PENDING:
        raise ReviewError({None: "This review was already submitted."})
    if review.agent_id == review.reviewer_id:
        raise ReviewError({None: "This is your own work: another reviewer scores it."})
    if len(comment) > MAX_COMMENT:
        raise ReviewError({None: f"Keep the comment under {MAX_COMMENT} characters."})
    criteria = list(review.rubric.criteria.all())
    clean = check_values(review, criteria, values)
    score, failed = score_review(clean)
    existing = {s.criterion_id: s for s in review.scores.all()}
    missing = [c for c in criteria if c.pk not in existing]
    autos: dict[int, AutoScore] = prescore_review(review, missing) if missing else {}
    for criterion in missing:
        auto = autos.get(criterion.pk)
        existing[criterion.pk] = CriterionScore(
            review=review,
            criterion=criterion,
            auto_value=auto.value if auto else None,
            auto_reason=auto.reason[:300] if auto else "",
        )
    for criterion, value in clean.items():
        row = existing[criterion.pk]
        row.value = value
        auto = stored_auto(row, na_allowed=na_allowed(criterion, review))
        took = (
            criterion.pk in accepted
            and auto is not None
            and auto.suggests
            and (value is None if auto.na else value == auto.value)
        )
        row.answer = CriterionScore.Answer.SUGGESTION if took else CriterionScore.Answer.CHOSEN
    CriterionScore.objects.bulk_create([existing[c.pk] for c in missing])
    CriterionScore.objects.bulk_update(
        [existing[c.pk] for c in criteria if c not in missing], ["value", "answer"]
    )
    review.status = Review.Status.SUBMITTED
    review.score = score
    review.critical_failed = failed
    review.comment = comment.strip()
    review.submitted_at = timezone.now()
    review.save(update_fields=["status", "score", "critical_failed", "comment", "submitted_at"])
    if review.kind == Review.Kind.SAMPLE:  # calibration and gold measure the reviewers
        do_notify(
            [review.agent_id],
            NotificationKind.REVIEW_IN,
            case=review.case,
            review=review,
            actor=review.reviewer,
            data={"score": review.score},
            dedupe_key=f"review-in:{review.pk}",
        )
    return review
