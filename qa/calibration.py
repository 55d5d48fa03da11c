"""Calibration: several reviewers score the same replies blind; how far do they agree?

* `do_create_session` gives every reviewer a pending Review (kind calibration) of every reply.
  They sit in each reviewer's ordinary queue, which never shows the kind: a calibration item
  looks like any other review, and nobody sees another reviewer's scores before submitting.
* `session_results` measures agreement per criterion with Krippendorff's alpha (ordinal for
  the 1-3 and 1-5 scales, nominal for yes/no; qa.agreement), overall on the review scores
  (interval), flags alpha under 0.667 (Krippendorff's floor for tentative conclusions; 0.800
  for reliable ones), and gives each reviewer's deviation from the consensus: per reply and
  criterion, the median of the OTHER reviewers. Deviations are on a 0..1 scale of the
  criterion ((value - consensus) / (max - min)), shown as % of the scale; > 0 = lenient.
* Gold replies: a reply with agreed scores (`do_add_gold`, e.g. a calibrated consensus via
  `consensus_scores`) planted blind into reviewers' queues (`do_plant_gold`, kind gold);
  `gold_results` compares what they gave with the agreed scores.
* Blind means blind: which replies are gold, and their agreed scores, are shown only to
  holders of qa.view_goldreply (supervisors, admins) and to a gold's creator (`sees_gold`,
  `visible_golds`); a session's results only to its reviewers, its creator and supervisors
  (`visible_sessions`). A gold is planted only in the queue of someone who cannot know it
  (`could_know_gold`). Nobody reviews a reply they wrote: not in a session, not as gold.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Q, QuerySet

from qa.agreement import TENTATIVE, krippendorff_alpha, verdict
from qa.models import CalibrationSession, Criterion, CriterionScore, GoldReply, Review, Rubric
from socialdesk import roles

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from cases.models import Reply

MAX_REPLIES = 50
GOLD_VIEW_PERM = "qa.view_goldreply"
ALL_SESSIONS_PERM = "qa.view_team_reviews"  # supervisors and admins see every session


class CalibrationError(ValueError):
    """A session or gold reply that cannot be made as asked; the message says what to fix."""


def reviewers_queryset():
    """Users who may score replies (socialdesk.roles.reviewers), by username."""
    return roles.reviewers().order_by("username")


def sees_gold(user: User) -> bool:
    """May `user` know which replies are gold and their agreed scores (not a reviewer)."""
    return user.has_perm(GOLD_VIEW_PERM)


def visible_golds(user: User) -> QuerySet[GoldReply]:
    """Every gold for those who see gold; else only the golds `user` made."""
    if sees_gold(user):
        return GoldReply.objects.all()
    return GoldReply.objects.filter(created_by=user)


def visible_sessions(user: User) -> QuerySet[CalibrationSession]:
    """Every session for supervisors; else those `user` reviews in or started.

    A reviewer outside a session never sees its replies with the reviewers' scores, so a
    reply of it made gold later cannot be recognised in their queue.
    """
    sessions = CalibrationSession.objects.all()
    if user.has_perm(ALL_SESSIONS_PERM):
        return sessions
    return sessions.filter(Q(reviewers=user) | Q(created_by=user)).distinct()


def could_know_gold(gold: GoldReply) -> set[int]:
    """Ids of the users who wrote, agreed or saw scores of the gold's reply: its author, the
    gold's creator, everyone who reviewed the reply, and who started or sat a session with it."""
    reply = gold.reply
    known = {gold.created_by_id, reply.author_id}
    known |= set(Review.objects.filter(reply=reply).values_list("reviewer_id", flat=True))
    sessions = CalibrationSession.objects.filter(replies=reply)
    known |= set(sessions.values_list("created_by_id", flat=True))
    known |= set(
        CalibrationSession.reviewers.through.objects.filter(
            calibrationsession__in=sessions
        ).values_list("user_id", flat=True)
    )
    return known


def level_for(criterion: Criterion) -> str:
    """Yes/no criteria are nominal; the 1-3 and 1-5 scales are ordinal."""
    return "nominal" if criterion.scale == Criterion.Scale.YES_NO else "ordinal"


# ---------- making sessions and gold replies ----------


@transaction.atomic
def do_create_session(
    name: str,
    rubric: Rubric,
    replies: Sequence[Reply],
    reviewers: Sequence[User],
    created_by: User,
) -> CalibrationSession:
    """A calibration session and one pending calibration Review per reviewer x reply.

    Preconditions: `rubric` is the active version (the one qa.reviews gives new reviews); the
    replies are sent; at least two distinct reviewers, each allowed to review replies, none
    of them the author of one of the replies (nobody scores their own reply).
    """
    from qa.reviews import do_create_review

    name = name.strip()
    replies = list(dict.fromkeys(replies))
    reviewers = list(dict.fromkeys(reviewers))
    if not name:
        raise CalibrationError("Give the session a name.")
    if not replies:
        raise CalibrationError("Pick at least one reply.")
    if len(replies) > MAX_REPLIES:
        raise CalibrationError(f"Pick at most {MAX_REPLIES} replies.")
    if len(reviewers) < 2:
        raise CalibrationError("Pick at least two reviewers: agreement needs two or more.")
    unable = [r.get_username() for r in reviewers if not r.has_perm("qa.review_replies")]
    if unable:
        raise CalibrationError(f"Not QA reviewers: {', '.join(unable)}.")
    authors = {reply.author_id for reply in replies}
    own = [r.get_username() for r in reviewers if r.pk in authors]
    if own:
        raise CalibrationError(
            f"Wrote one of these replies, so cannot score them: {', '.join(own)}. "
            "Leave them out of the reviewers or the replies."
        )
    session = CalibrationSession.objects.create(name=name, rubric=rubric, created_by=created_by)
    session.replies.set(replies)
    session.reviewers.set(reviewers)
    for reply in replies:
        for reviewer in reviewers:
            review = do_create_review(
                reply=reply,
                reviewer=reviewer,
                kind=Review.Kind.CALIBRATION,
                calibration=session,
            )
            if review.rubric_id != rubric.pk:
                raise CalibrationError(f"{rubric} is not the rubric new reviews use.")
    return session


def check_gold_scores(rubric: Rubric, scores: dict[str, int | None]) -> dict[str, int | None]:
    """Agreed scores by criterion code, every criterion given, each in its scale (or N/A)."""
    clean: dict[str, int | None] = {}
    for criterion in rubric.criteria.all():
        if criterion.code not in scores:
            raise CalibrationError(f"No agreed score for {criterion.name}.")
        value = scores[criterion.code]
        if value is None:
            if not criterion.allow_na:
                raise CalibrationError(f"{criterion.name} cannot be N/A.")
        elif not criterion.min_value <= int(value) <= criterion.max_value:
            raise CalibrationError(
                f"{criterion.name} takes {criterion.min_value} to {criterion.max_value}."
            )
        clean[criterion.code] = None if value is None else int(value)
    unknown = set(scores) - set(clean)
    if unknown:
        raise CalibrationError(f"Unknown criteria: {', '.join(sorted(unknown))}.")
    return clean


def do_add_gold(
    reply: Reply, scores: dict[str, int | None], created_by: User, rubric: Rubric | None = None
) -> GoldReply:
    """Make `reply` a gold reply with these agreed scores ({criterion code: value or None}).

    `rubric` defaults to the active default rubric. A reply is gold at most once.
    """
    from qa.rubrics import default_rubric

    rubric = rubric or default_rubric()
    clean = check_gold_scores(rubric, scores)
    if GoldReply.objects.filter(reply=reply).exists():
        raise CalibrationError("This reply is already a gold reply.")
    return GoldReply.objects.create(reply=reply, rubric=rubric, scores=clean, created_by=created_by)


@transaction.atomic
def do_plant_gold(gold: GoldReply, reviewers: Iterable[User]) -> list[Review]:
    """A pending gold Review of the reply in each reviewer's queue, blind like any other.

    Skips everyone who could know the answer or recognise the reply (`could_know_gold`: the
    reply's author, the gold's creator, anyone who reviewed the reply already, in a session or
    as gold). Returns the reviews made.
    """
    from qa.reviews import do_create_review

    reviewers = list(dict.fromkeys(reviewers))
    unable = [r.get_username() for r in reviewers if not r.has_perm("qa.review_replies")]
    if unable:
        raise CalibrationError(f"Not QA reviewers: {', '.join(unable)}.")
    known = could_know_gold(gold)
    return [
        do_create_review(reply=gold.reply, reviewer=reviewer, kind=Review.Kind.GOLD)
        for reviewer in reviewers
        if reviewer.pk not in known
    ]


# ---------- results ----------


@dataclass
class CriterionAgreement:
    criterion: Criterion
    level: str
    alpha: float | None
    units: int  # replies at least two reviewers scored (not N/A)

    @property
    def verdict(self) -> str:
        return verdict(self.alpha)

    @property
    def flagged(self) -> bool:
        return self.alpha is not None and self.alpha < TENTATIVE


@dataclass(frozen=True)
class Cell:
    """A deviation on 0..1 of the scale, as shown: % of the scale and a tone for the colour."""

    value: float | None

    @property
    def pct(self) -> int | None:
        return None if self.value is None else round(self.value * 100)

    @property
    def tone(self) -> str:
        """'lenient' / 'strict' past a tenth of the scale, 'close' within it, '' for none."""
        if self.value is None:
            return ""
        if self.value >= 0.1:
            return "lenient"
        if self.value <= -0.1:
            return "strict"
        return "close"


@dataclass
class ReviewerDeviation:
    reviewer: User
    submitted: int = 0
    assigned: int = 0
    signed: float | None = None  # mean (value - consensus) on 0..1; > 0 = lenient
    absolute: float | None = None
    exact: float | None = None  # share of scores equal to the consensus
    by_criterion: dict[int, float | None] = field(default_factory=dict)
    cells: list[Cell] = field(default_factory=list)  # by_criterion in criteria order

    @property
    def signed_cell(self) -> Cell:
        return Cell(self.signed)


@dataclass
class ItemResult:
    reply: Reply
    scores: list[float | None]  # review score per reviewer, reviewers' order
    spread: float | None  # highest minus lowest score
    consensus: dict[str, int | None]  # median of all reviewers per criterion code
    is_gold: bool = False


@dataclass
class SessionResults:
    session: CalibrationSession
    criteria: list[CriterionAgreement]
    overall: float | None
    reviewers: list[ReviewerDeviation]
    items: list[ItemResult]
    assigned: int
    submitted: int

    @property
    def complete(self) -> bool:
        return self.assigned > 0 and self.submitted == self.assigned

    @property
    def overall_verdict(self) -> str:
        return verdict(self.overall)

    @property
    def overall_flagged(self) -> bool:
        return self.overall is not None and self.overall < TENTATIVE

    @property
    def flagged(self) -> list[CriterionAgreement]:
        return [c for c in self.criteria if c.flagged]


def _median(values: list[int]) -> int | None:
    """Median rounded to a scale value (half up); None for no values."""
    if not values:
        return None
    return int(statistics.median(values) + 0.5)


def session_results(session: CalibrationSession) -> SessionResults:
    """Agreement and deviations of a session, in five queries whatever its size.

    Only submitted reviews count; pending ones are missing ratings.
    """
    criteria = list(
        Criterion.objects.filter(rubric_id=session.rubric_id).order_by("position", "id")
    )
    reviews = list(
        Review.objects.filter(calibration=session)
        .select_related("reviewer", "reply", "reply__author", "reply__case__channel")
        .order_by("reviewer__username", "id")
    )
    values: dict[tuple[int, int], int | None] = {}  # (review, criterion) -> value
    for review_id, criterion_id, value in CriterionScore.objects.filter(
        review__calibration=session, review__status=Review.Status.SUBMITTED
    ).values_list("review_id", "criterion_id", "value"):
        values[(review_id, criterion_id)] = value
    gold_replies = set(
        GoldReply.objects.filter(reply__in=session.replies.all()).values_list("reply_id", flat=True)
    )

    reviewer_order: list[User] = []
    replies: dict[int, Reply] = {}
    by_pair: dict[tuple[int, int], Review] = {}
    for review in reviews:
        if review.reviewer not in reviewer_order:
            reviewer_order.append(review.reviewer)
        replies.setdefault(review.reply_id, review.reply)
        by_pair[(review.reply_id, review.reviewer_id)] = review
    submitted = [r for r in reviews if r.status == Review.Status.SUBMITTED]

    def value(reply_id: int, reviewer_id: int, criterion_id: int) -> int | None:
        review = by_pair.get((reply_id, reviewer_id))
        if review is None or review.status != Review.Status.SUBMITTED:
            return None
        return values.get((review.pk, criterion_id))

    # Agreement per criterion: units = replies, raters = reviewers.
    agreements = []
    for criterion in criteria:
        data = [[value(reply, r.pk, criterion.pk) for r in reviewer_order] for reply in replies]
        units = sum(1 for unit in data if sum(v is not None for v in unit) >= 2)
        level = level_for(criterion)
        agreements.append(
            CriterionAgreement(criterion, level, krippendorff_alpha(data, level), units)
        )

    def score(reply_id: int, reviewer_id: int) -> float | None:
        review = by_pair.get((reply_id, reviewer_id))
        if review is None or review.status != Review.Status.SUBMITTED:
            return None
        return review.score

    score_data = [[score(reply, r.pk) for r in reviewer_order] for reply in replies]
    overall = krippendorff_alpha(score_data, "interval")

    # Deviation of each reviewer from the median of the others.
    deviations = []
    for reviewer in reviewer_order:
        gaps: list[float] = []
        per_criterion: dict[int, list[float]] = defaultdict(list)
        for criterion in criteria:
            low, high = Criterion.SCALE_BOUNDS[criterion.scale]
            for reply in replies:
                mine = value(reply, reviewer.pk, criterion.pk)
                others = [
                    v
                    for other in reviewer_order
                    if other.pk != reviewer.pk
                    and (v := value(reply, other.pk, criterion.pk)) is not None
                ]
                if mine is None or not others:
                    continue
                gap = (mine - statistics.median(others)) / (high - low)
                gaps.append(gap)
                per_criterion[criterion.pk].append(gap)
        mine_reviews = [r for r in reviews if r.reviewer_id == reviewer.pk]
        deviation = ReviewerDeviation(
            reviewer=reviewer,
            assigned=len(mine_reviews),
            submitted=sum(r.status == Review.Status.SUBMITTED for r in mine_reviews),
        )
        if gaps:
            deviation.signed = statistics.fmean(gaps)
            deviation.absolute = statistics.fmean(abs(g) for g in gaps)
            deviation.exact = sum(g == 0 for g in gaps) / len(gaps)
        deviation.by_criterion = {
            c.pk: statistics.fmean(per_criterion[c.pk]) if per_criterion[c.pk] else None
            for c in criteria
        }
        deviation.cells = [Cell(deviation.by_criterion[c.pk]) for c in criteria]
        deviations.append(deviation)

    items = []
    for reply_id, reply in replies.items():
        scores = [score(reply_id, r.pk) for r in reviewer_order]
        present = [s for s in scores if s is not None]
        consensus = {
            c.code: _median(
                [v for r in reviewer_order if (v := value(reply_id, r.pk, c.pk)) is not None]
            )
            for c in criteria
        }
        items.append(
            ItemResult(
                reply=reply,
                scores=scores,
                spread=max(present) - min(present) if len(present) >= 2 else None,
                consensus=consensus,
                is_gold=reply_id in gold_replies,
            )
        )
    items.sort(key=lambda item: -(item.spread or 0))
    return SessionResults(
        session=session,
        criteria=agreements,
        overall=overall,
        reviewers=deviations,
        items=items,
        assigned=len(reviews),
        submitted=len(submitted),
    )


def consensus_scores(session: CalibrationSession, reply: Reply) -> dict[str, int | None]:
    """The session's consensus on one reply: per criterion code the median of the reviewers.

    A criterion every reviewer marked N/A stays None (N/A).
    """
    results = session_results(session)
    for item in results.items:
        if item.reply.pk == reply.pk:
            return item.consensus
    raise CalibrationError("That reply is not part of this session.")


@dataclass
class GoldResult:
    review: Review
    agreed: int  # criteria where the reviewer gave the agreed value
    compared: int  # criteria both scored
    signed: float | None  # mean (value - agreed) on 0..1; > 0 = lenient
    misses: list[str] = field(default_factory=list)  # criterion names that differ

    @property
    def match(self) -> float | None:
        return self.agreed / self.compared if self.compared else None

    @property
    def signed_cell(self) -> Cell:
        return Cell(self.signed)


def gold_results(reviewer_ids: Iterable[int]) -> list[GoldResult]:
    """Each submitted gold review of these reviewers against the agreed scores (3 queries)."""
    reviews = list(
        Review.objects.filter(
            kind=Review.Kind.GOLD, status=Review.Status.SUBMITTED, reviewer_id__in=reviewer_ids
        )
        .select_related("reviewer", "reply__gold")
        .prefetch_related("scores__criterion")
        .order_by("-submitted_at", "-id")
    )
    results = []
    for review in reviews:
        agreed_scores = review.reply.gold.scores
        result = GoldResult(review=review, agreed=0, compared=0, signed=None)
        gaps = []
        for score in review.scores.all():
            agreed = agreed_scores.get(score.criterion.code)
            if score.value is None or agreed is None:
                if (score.value is None) != (agreed is None):
                    result.misses.append(score.criterion.name)
                continue
            low, high = Criterion.SCALE_BOUNDS[score.criterion.scale]
            result.compared += 1
            if score.value == agreed:
                result.agreed += 1
            else:
                result.misses.append(score.criterion.name)
            gaps.append((score.value - agreed) / (high - low))
        result.signed = statistics.fmean(gaps) if gaps else None
        results.append(result)
    return results
