"""Reviewer drift: is a reviewer slowly becoming more lenient (or stricter) than the others?

Each submitted calibration or gold review gives one observation: the reviewer's signed
deviation from the consensus, averaged over the criteria both scored, each criterion put on
0..1 first ((value - consensus) / (max - min)), so a yes/no and a 1-5 criterion weigh alike.
The consensus is the median of the OTHER reviewers of the same reply in the same calibration
session, or the gold reply's agreed score. Positive = more lenient than the consensus.

The observations, in `submitted_at` order, feed an EWMA control chart (Roberts 1959; the
form in Montgomery, "Introduction to Statistical Quality Control"):

    z_i = lambda * x_i + (1 - lambda) * z_(i-1),   z_0 = 0 (the target: no deviation)
    limits_i = +- L * sigma * sqrt(lambda / (2 - lambda) * (1 - (1 - lambda)^(2i)))

with lambda = 0.2 and L = 3. The limits start narrow and widen to the asymptotic
+- 3 sigma sqrt(lambda / (2 - lambda)). sigma is the spread of single deviations, estimated
over all reviewers from the moving range (mean |x_i - x_(i-1)| / 1.128), which a step change
in one reviewer barely inflates; it has a floor so that a desk of perfectly agreeing reviewers
does not alarm on the first half-point. An alarm is the first point outside the limits.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

LAMBDA = 0.2
L_SIGMA = 3.0
MIN_SIGMA = 0.05  # 5 % of a scale: below it, a deviation is noise in any rubric
D2 = 1.128  # d2 for moving ranges of two: sigma = mean moving range / d2


@dataclass(frozen=True)
class Observation:
    review_id: int
    at: datetime
    deviation: float  # signed, on a 0..1 scale; > 0 = more lenient than the consensus
    kind: str  # "calibration" or "gold"


@dataclass(frozen=True)
class ChartPoint:
    value: float  # the observation
    ewma: float
    limit: float  # the control limit is +- limit
    out: bool


@dataclass
class DriftChart:
    points: list[ChartPoint] = field(default_factory=list)
    sigma: float = MIN_SIGMA
    alarm_index: int | None = None  # first point outside the limits

    @property
    def alarm(self) -> bool:
        return self.alarm_index is not None

    @property
    def direction(self) -> str:
        """'lenient' or 'strict' for the first alarm, '' without one."""
        if self.alarm_index is None:
            return ""
        return "lenient" if self.points[self.alarm_index].ewma > 0 else "strict"

    @property
    def last_ewma(self) -> float | None:
        return self.points[-1].ewma if self.points else None


def ewma_chart(
    values: Sequence[float],
    *,
    sigma: float,
    lam: float = LAMBDA,
    width: float = L_SIGMA,
    target: float = 0.0,
) -> DriftChart:
    """The EWMA chart of `values` around `target` with time-varying limits (see module doc)."""
    if not 0 < lam <= 1:
        raise ValueError("lambda must be in (0, 1].")
    sigma = max(sigma, MIN_SIGMA)
    chart = DriftChart(sigma=sigma)
    z = target
    for i, x in enumerate(values, start=1):
        z = lam * x + (1 - lam) * z
        limit = width * sigma * (lam / (2 - lam) * (1 - (1 - lam) ** (2 * i))) ** 0.5
        out = abs(z - target) > limit
        chart.points.append(ChartPoint(value=x, ewma=z, limit=limit, out=out))
        if out and chart.alarm_index is None:
            chart.alarm_index = i - 1
    return chart


def pooled_sigma(series: Iterable[Sequence[float]]) -> float:
    """Spread of single deviations from the moving ranges of every series (floored)."""
    ranges = [abs(b - a) for values in series for a, b in zip(values, values[1:], strict=False)]
    if not ranges:
        return MIN_SIGMA
    return max(statistics.fmean(ranges) / D2, MIN_SIGMA)


def drift_charts(observations: dict[int, list[Observation]]) -> dict[int, DriftChart]:
    """One EWMA chart per reviewer id, with one sigma pooled over all of them."""
    series = {
        reviewer: [o.deviation for o in sorted(obs, key=lambda o: (o.at, o.review_id))]
        for reviewer, obs in observations.items()
    }
    sigma = pooled_sigma(series.values())
    return {reviewer: ewma_chart(values, sigma=sigma) for reviewer, values in series.items()}


# ---- from the database ----


def load_observations(reviewer_ids: Iterable[int]) -> dict[int, list[Observation]]:
    """Every submitted calibration and gold review of these reviewers as an Observation.

    Two queries whatever the number of reviews: calibration scores of every session one of the
    reviewers took part in (the consensus needs the others' scores), and their gold reviews.
    """
    from qa.models import CalibrationSession, Criterion, CriterionScore, GoldReply, Review

    reviewer_ids = set(reviewer_ids)
    observations: dict[int, list[Observation]] = {r: [] for r in reviewer_ids}
    if not reviewer_ids:
        return observations

    # Calibration: (session, reply, criterion) -> {review: value}.
    sessions = CalibrationSession.objects.filter(reviewers__in=reviewer_ids).values("id")
    rows = CriterionScore.objects.filter(
        review__kind=Review.Kind.CALIBRATION,
        review__status=Review.Status.SUBMITTED,
        review__calibration__in=sessions,
        value__isnull=False,
    ).values_list(
        "review_id",
        "review__reviewer_id",
        "review__submitted_at",
        "review__calibration_id",
        "review__reply_id",
        "criterion__code",
        "criterion__scale",
        "value",
    )
    cells: dict[tuple, dict[int, int]] = defaultdict(dict)
    reviews: dict[int, tuple[int, datetime]] = {}
    scales: dict[tuple, str] = {}
    for review_id, reviewer, at, session, reply, code, scale, value in rows:
        key = (session, reply, code)
        cells[key][review_id] = value
        scales[key] = scale
        reviews[review_id] = (reviewer, at)
    deviations: dict[int, list[float]] = defaultdict(list)
    for key, by_review in cells.items():
        low, high = Criterion.SCALE_BOUNDS[scales[key]]
        for review_id, value in by_review.items():
            if reviews[review_id][0] not in reviewer_ids:
                continue
            others = [v for other, v in by_review.items() if other != review_id]
            if not others:
                continue
            gap = value - statistics.median(others)
            deviations[review_id].append(gap / (high - low))
    for review_id, gaps in deviations.items():
        reviewer, at = reviews[review_id]
        observations[reviewer].append(
            Observation(review_id, at, statistics.fmean(gaps), Review.Kind.CALIBRATION)
        )

    # Gold: the reviewer's values against the agreed ones, matched by criterion code.
    gold_rows = CriterionScore.objects.filter(
        review__kind=Review.Kind.GOLD,
        review__status=Review.Status.SUBMITTED,
        review__reviewer_id__in=reviewer_ids,
        value__isnull=False,
    ).values_list(
        "review_id",
        "review__reviewer_id",
        "review__submitted_at",
        "review__reply_id",
        "criterion__code",
        "criterion__scale",
        "value",
    )
    gold_rows = list(gold_rows)
    golds = dict(
        GoldReply.objects.filter(reply_id__in={row[3] for row in gold_rows}).values_list(
            "reply_id", "scores"
        )
    )
    gold_gaps: dict[int, list[float]] = defaultdict(list)
    gold_reviews: dict[int, tuple[int, datetime]] = {}
    for review_id, reviewer, at, reply, code, scale, value in gold_rows:
        agreed = golds.get(reply, {}).get(code)
        if agreed is None:
            continue
        low, high = Criterion.SCALE_BOUNDS[scale]
        gold_gaps[review_id].append((value - agreed) / (high - low))
        gold_reviews[review_id] = (reviewer, at)
    for review_id, gaps in gold_gaps.items():
        reviewer, at = gold_reviews[review_id]
        observations[reviewer].append(
            Observation(review_id, at, statistics.fmean(gaps), Review.Kind.GOLD)
        )
    for obs in observations.values():
        obs.sort(key=lambda o: (o.at, o.review_id))
    return observations


def reviewer_drift(reviewer_ids: Iterable[int]) -> dict[int, DriftChart]:
    """Each reviewer's drift chart over all their calibration and gold reviews."""
    return drift_charts(load_observations(reviewer_ids))
