"""Which sent replies QA reviews: stratified, risk-weighted sampling with known probabilities.

A run samples one *window* of time under one policy (`run_sampling`). Beat runs the last
complete period (`run_due_sampling` in qa.tasks); a supervisor may also sample the current
period so far ("run sampling now"). Windows of one policy tile time without overlapping: each
starts where the policy's previous run in that period ended, so a period sampled early is
completed later, and `SamplingRun`'s unique (policy, period_start) makes every run idempotent.

The design, per run:

1. Population: replies in state sent, `sent_at` in the window, never sampled before (a
   `Sample` holds a reply at most once, under any policy). Satisfaction surveys (csat) are
   the desk's text, not the agent's: never sampled.
2. Strata: one per channel. Each stratum h of N_h replies gets n_h = ceil(rate · N_h) picks,
   so a small channel is still represented.
3. Risk weight: a reply is risky when its case is negative (listening.radar), a guideline
   check warned or blocked when it was sent, a blocking check was overridden, or the case was
   escalated. Risky replies get weight `risk_weight`, others 1.
4. Inclusion probabilities proportional to weight: p_i = min(1, c · w_i) with c chosen so
   that Σ p_i = n_h (the usual sequential capping: items that would exceed 1 are taken with
   certainty and the rest re-solved).
5. The draw: randomized systematic πps sampling (Madow 1949): shuffle the stratum, lay the
   p_i end to end on [0, n_h), and take the items under the points u, u+1, ..., u+n_h-1 for
   one uniform u. Every item is picked with probability exactly p_i and the stratum gets
   exactly n_h picks. Sample.inclusion_probability = p_i and Review.weight = 1/p_i, so a
   Horvitz-Thompson (inverse-probability) mean of review scores is unbiased.
6. Per-agent minimum: an agent with fewer than `per_agent_minimum` picks in the period
   (earlier windows of the same period count) is topped up with k simple-random extra picks
   among their R replies not picked. Since any agent *might* need a top-up, every pick of an
   agent with a minimum to reach carries p' = p + (1 - p) · E[k / R]: the chance of the main
   draw, plus the chance of being missed by it and caught by the top-up, with the expectation
   taken over the main draw (see top_up_probabilities). The realised k/R would make the
   weights depend on the sample and bias the estimate; the expectation keeps it within about
   a percent (tested over 200 seeds).
7. Ignored cases: cases whose triage decision in the window was "ignore" (the agent chose not
   to engage), never sampled before, taken by simple random sampling at
   `ignored_case_rate` (rounded up), p = n/N; the sample's agent is the one who decided.

Each sample gets a pending Review (kind sample) for a QA specialist, assigned round-robin
starting with whoever has the fewest pending reviews, never to the sample's own agent: when
only they could review it, the sample stays without a review (the sampling page counts it as
unassigned for a supervisor). Deterministic for a given seed.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import logging
import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from cases.visibility import owning_teams, reaches, team_reach
from listening import radar
from qa.models import Review, Rubric, Sample, SamplingPolicy, SamplingRun
from socialdesk import roles

log = logging.getLogger(__name__)

# Periods are counted from this Monday, midnight in the desk's time zone: a 7-day policy's
# periods are calendar weeks, a 1-day policy's are days.
PERIOD_ANCHOR = dt.date(2024, 1, 1)


class SamplingError(Exception):
    """The run cannot happen (e.g. nobody to review); nothing was written."""


# ---------- periods and windows ----------


def period_bounds(policy: SamplingPolicy, at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The [start, end) of the policy's period that contains `at` (local midnights)."""
    days = max(1, policy.period_days)
    local_day = timezone.localdate(at)
    index = (local_day - PERIOD_ANCHOR).days // days
    start_day = PERIOD_ANCHOR + dt.timedelta(days=index * days)
    end_day = start_day + dt.timedelta(days=days)
    return _local_midnight(start_day), _local_midnight(end_day)


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def _window_start(policy: SamplingPolicy, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    """Where the next window in [start, end) begins: after the policy's last run inside it."""
    last = (
        SamplingRun.objects.filter(policy=policy, period_end__gt=start, period_start__lt=end)
        .order_by("-period_end")
        .values_list("period_end", flat=True)
        .first()
    )
    return max(start, last) if last else start


def due_window(policy: SamplingPolicy, now: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """The part of the last complete period not sampled yet, or None (beat's question)."""
    current_start, _ = period_bounds(policy, now)
    start, end = period_bounds(policy, current_start - dt.timedelta(seconds=1))
    start = _window_start(policy, start, end)
    return (start, end) if start < end else None


def current_window(policy: SamplingPolicy, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The current period so far, from where its last run ended ("run sampling now")."""
    start, end = period_bounds(policy, now)
    return _window_start(policy, start, end), min(now, end)


# ---------- the design (pure, no database) ----------


@dataclass(slots=True)
class Unit:
    """One item that may be sampled: a sent reply, or an ignored case (reply_id None)."""

    reply_id: int | None
    case_id: int
    agent_id: int
    channel_id: int
    risk_reasons: list[str] = field(default_factory=list)

    @property
    def is_risky(self) -> bool:
        return bool(self.risk_reasons)


@dataclass
class Pick:
    unit: Unit
    probability: float


def inclusion_probabilities(weights: Sequence[float], n: int) -> list[float]:
    """p_i = min(1, c · w_i) with Σ p_i = n (n capped at the number of items)."""
    size = len(weights)
    if n >= size:
        return [1.0] * size
    if n <= 0:
        return [0.0] * size
    probabilities = [0.0] * size
    open_items = list(range(size))
    certain = 0
    while True:
        total = sum(weights[i] for i in open_items)
        scale = (n - certain) / total
        over = [i for i in open_items if weights[i] * scale >= 1.0]
        if not over:
            for i in open_items:
                probabilities[i] = weights[i] * scale
            return probabilities
        for i in over:
            probabilities[i] = 1.0
        certain += len(over)
        over_set = set(over)
        open_items = [i for i in open_items if i not in over_set]


def systematic_draw(probabilities: Sequence[float], rng: random.Random) -> list[int]:
    """Randomized systematic πps: indices picked, each with exactly its probability.

    The probabilities must sum to a whole number n (inclusion_probabilities does); exactly n
    indices come back.
    """
    order = list(range(len(probabilities)))
    rng.shuffle(order)
    bounds = []
    running = 0.0
    for i in order:
        running += probabilities[i]
        bounds.append(running)
    n = round(running)
    if n <= 0:
        return []
    start = rng.random()
    picked = []
    for k in range(n):
        point = (start + k) * running / n  # rescaled so rounding never drops the last point
        position = bisect.bisect_right(bounds, point)
        picked.append(order[min(position, len(order) - 1)])
    return picked


def stratum_target(size: int, rate: float) -> int:
    """ceil(rate · size): every stratum with a reply gets at least one pick when rate > 0."""
    if size <= 0 or rate <= 0:
        return 0
    return min(size, math.ceil(rate * size - 1e-9))


def draw_replies(
    units: Sequence[Unit],
    *,
    rate: float,
    risk_weight: float,
    per_agent_minimum: int,
    rng: random.Random,
    already: dict[int, int] | None = None,
) -> list[Pick]:
    """The main stratified, risk-weighted draw and the per-agent top-up (steps 2-6 above).

    `already` counts each agent's picks in earlier windows of the same period.
    """
    strata: dict[int, list[Unit]] = defaultdict(list)
    for unit in units:
        strata[unit.channel_id].append(unit)
    picks: list[Pick] = []
    probability_of: dict[int, float] = {}  # id(unit) -> main-draw probability
    for channel_id in sorted(strata):
        members = strata[channel_id]
        weights = [risk_weight if u.is_risky else 1.0 for u in members]
        probabilities = inclusion_probabilities(weights, stratum_target(len(members), rate))
        for unit, p in zip(members, probabilities, strict=True):
            probability_of[id(unit)] = p
        for index in sorted(systematic_draw(probabilities, rng)):
            picks.append(Pick(members[index], probabilities[index]))

    if per_agent_minimum <= 0:
        return picks
    already = already or {}
    picked_ids = {id(p.unit) for p in picks}
    per_agent: dict[int, list[Pick]] = defaultdict(list)
    for pick in picks:
        per_agent[pick.unit.agent_id].append(pick)
    agent_units: dict[int, list[Unit]] = defaultdict(list)
    for unit in units:
        agent_units[unit.agent_id].append(unit)
    for agent_id in sorted(agent_units):
        wanted = per_agent_minimum - already.get(agent_id, 0)
        if wanted <= 0:
            continue
        mine = agent_units[agent_id]
        classes: dict[float, int] = defaultdict(int)
        for unit in mine:
            classes[probability_of[id(unit)]] += 1
        boosted = top_up_probabilities(classes, wanted)
        # Every pick of the agent carries p', whether the main draw or the top-up made it.
        for pick in per_agent[agent_id]:
            pick.probability = boosted[pick.probability]
        deficit = wanted - len(per_agent[agent_id])
        if deficit <= 0:
            continue
        pool = [u for u in mine if id(u) not in picked_ids]
        for unit in rng.sample(pool, min(deficit, len(pool))):
            picks.append(Pick(unit, boosted[probability_of[id(unit)]]))
    return picks


def _binomial_head(n: int, p: float, m: int) -> list[float]:
    """P(X = j) for j < m, X ~ Binomial(n, p)."""
    return [math.comb(n, j) * p**j * (1 - p) ** (n - j) if j <= n else 0.0 for j in range(m)]


def _convolve_head(a: list[float], b: list[float], m: int) -> list[float]:
    return [sum(a[i] * b[k - i] for i in range(k + 1)) for k in range(m)]


def top_up_probabilities(classes: dict[float, int], wanted: int) -> dict[float, float]:
    """p' = p + (1 - p) · E[(wanted - J) / (M - J)] for each main-draw probability p.

    `classes` maps a main-draw probability to how many of the agent's M replies have it. J is
    how many of the agent's *other* replies the main draw takes, approximated as a sum of
    independent Bernoulli(p) (a Poisson-binomial, computed by class in O(classes · wanted²));
    when J < wanted the top-up takes wanted - J of the M - J replies left, uniformly. Using
    the expectation, not this draw's realised k/R, keeps the weights independent of the
    sample, so the inverse-probability estimate stays (nearly) unbiased. With M <= wanted
    every reply is taken: p' = 1.
    """
    total = sum(classes.values())
    if total <= wanted:
        return dict.fromkeys(classes, 1.0)
    heads = {p: _binomial_head(n, p, wanted) for p, n in classes.items()}
    boosted = {}
    for p, n in classes.items():
        if p >= 1.0:
            boosted[p] = 1.0
            continue
        others = [1.0] + [0.0] * (wanted - 1)
        for q in classes:
            head = heads[q] if q != p else _binomial_head(n - 1, p, wanted)
            others = _convolve_head(others, head, wanted)
        share = sum(others[j] * (wanted - j) / (total - j) for j in range(wanted))
        boosted[p] = p + (1 - p) * share
    return boosted


def draw_ignored(units: Sequence[Unit], rate: float, rng: random.Random) -> list[Pick]:
    """Simple random sample of ignored cases, ceil(rate · N) of N, each with p = n / N."""
    n = stratum_target(len(units), rate)
    if n == 0:
        return []
    p = n / len(units)
    return [Pick(unit, p) for unit in rng.sample(list(units), n)]


# ---------- reading the population ----------

# The period's replies come from the partial index reply_sent, and each reply's case from one
# primary-key probe (LATERAL ... LIMIT 1 keeps it a probe): a hash join would read every case
# of the desk to find the period's. A reply's checks are unpacked only when the containment
# test, which calls no function per row, finds one that warned or blocked.
_REPLY_POPULATION_SQL = """
SELECT r.id, r.case_id, r.author_id, c.channel_id, c.sentiment,
       c.triage_decision = 'escalate' AS escalated,
       r.override_reason <> '' AS overridden,
       CASE WHEN r.checks @> '[{"severity": "warn"}]' OR r.checks @> '[{"severity": "block"}]'
       THEN ARRAY(
           SELECT DISTINCT e->>'code' FROM jsonb_array_elements(r.checks) e
           WHERE e->>'severity' IN ('warn', 'block') ORDER BY 1
       ) END AS flagged
FROM cases_reply r
CROSS JOIN LATERAL (
    SELECT channel_id, sentiment, triage_decision FROM cases_case WHERE id = r.case_id LIMIT 1
) c
WHERE r.state = 'sent' AND r.sent_at >= %s AND r.sent_at < %s
  AND NOT EXISTS (SELECT 1 FROM qa_sample s WHERE s.reply_id = r.id)
  AND NOT EXISTS (SELECT 1 FROM csat_survey v WHERE v.reply_id = r.id)
ORDER BY r.id
"""

_IGNORED_POPULATION_SQL = """
SELECT c.id, c.triage_decided_by_id, c.channel_id
FROM cases_case c
WHERE c.triage_decision = 'ignore' AND c.triage_decided_by_id IS NOT NULL
  AND c.triage_decided_at >= %s AND c.triage_decided_at < %s
  AND NOT EXISTS (SELECT 1 FROM qa_sample s WHERE s.case_id = c.id AND s.reply_id IS NULL)
ORDER BY c.id
"""


def risk_reasons(
    sentiment: float, escalated: bool, overridden: bool, flagged: Sequence[str] | None
) -> list[str]:
    """Why a reply counts as risky, in words a reviewer reads; empty when it does not."""
    reasons = []
    if radar.is_negative(sentiment):
        reasons.append(f"Negative case (sentiment {sentiment:+.2f})")
    if flagged:
        reasons.append("Guideline checks flagged: " + ", ".join(flagged))
    if overridden:
        reasons.append("Blocking check overridden")
    if escalated:
        reasons.append("Case escalated")
    return reasons


def reply_population(start: dt.datetime, end: dt.datetime) -> list[Unit]:
    with connection.cursor() as cursor:
        cursor.execute(_REPLY_POPULATION_SQL, [start, end])
        rows = cursor.fetchall()
    return [
        Unit(reply_id, case_id, author_id, channel_id, risk_reasons(s, esc, over, flagged))
        for reply_id, case_id, author_id, channel_id, s, esc, over, flagged in rows
    ]


def ignored_population(start: dt.datetime, end: dt.datetime) -> list[Unit]:
    with connection.cursor() as cursor:
        cursor.execute(_IGNORED_POPULATION_SQL, [start, end])
        rows = cursor.fetchall()
    return [Unit(None, case_id, agent_id, channel_id) for case_id, agent_id, channel_id in rows]


# ---------- reviewers and reviews ----------


def _round_robin(picks: Sequence[Pick], reviewers: list[int]) -> list[int | None]:
    """A reviewer per pick: cycle from the least loaded, never the pick's own agent and only a
    reviewer who sees the pick's case (its team's: cases.visibility.reaches); None when nobody
    else could review it."""
    pending = dict(
        Review.objects.filter(reviewer_id__in=reviewers, status=Review.Status.PENDING)
        .values("reviewer_id")
        .annotate(n=Count("id"))
        .values_list("reviewer_id", "n")
    )
    reach = team_reach(reviewers)
    owners = owning_teams({pick.unit.case_id for pick in picks}) if picks else {}
    cycle = sorted(reviewers, key=lambda pk: (pending.get(pk, 0), pk))
    assigned: list[int | None] = []
    position = 0
    for pick in picks:
        owner = owners.get(pick.unit.case_id)
        candidate = next(
            (
                reviewer
                for step in range(len(cycle))
                if (reviewer := cycle[(position + step) % len(cycle)]) != pick.unit.agent_id
                and reaches(reach[reviewer], owner)
            ),
            None,
        )
        assigned.append(candidate)
        if candidate is not None:
            position = (cycle.index(candidate) + 1) % len(cycle)
    return assigned


def _rubric() -> Rubric:
    try:
        from qa.rubrics import default_rubric
    except ImportError:  # written by the review engineer; a bare fallback until then
        rubric = Rubric.objects.filter(is_active=True).order_by("name").first()
        return rubric or Rubric.objects.create(name="Default")
    return default_rubric()


# ---------- writing samples and reviews ----------

# Set-based writes, the rows passed as one JSON document: building, validating and adapting ten
# thousand model instances for bulk_create cost more than the rest of a run, and so did parsing
# array parameters of thousands of elements. The sample ids come from the sequence first, so
# each review points at its sample without relying on the order of INSERT ... RETURNING.
_SAMPLE_IDS_SQL = """
SELECT nextval(pg_get_serial_sequence('qa_sample', 'id')) FROM generate_series(1, %s)
"""

_INSERT_SAMPLES_SQL = """
INSERT INTO qa_sample (id, run_id, reply_id, case_id, agent_id, channel_id, is_ignored_case,
    is_risky, risk_reasons, inclusion_probability, created_at)
SELECT u.sample_id, %(run)s, u.reply_id, u.case_id, u.agent_id, u.channel_id,
    u.reply_id IS NULL, u.is_risky, u.risk_reasons, u.probability, %(now)s
FROM json_to_recordset(%(rows)s::json) AS u (sample_id bigint, reply_id bigint, case_id bigint,
    agent_id int, channel_id bigint, is_risky boolean, risk_reasons jsonb, probability float8)
"""

_INSERT_REVIEWS_SQL = """
INSERT INTO qa_review (kind, sample_id, reply_id, case_id, agent_id, reviewer_id, rubric_id,
    status, critical_failed, weight, comment, created_at, agent_response, agent_comment,
    dispute_resolution)
SELECT %(kind)s, u.sample_id, u.reply_id, u.case_id, u.agent_id, u.reviewer_id, %(rubric)s,
    %(status)s, false, 1 / u.probability, '', %(now)s, %(agent_response)s, '', ''
FROM json_to_recordset(%(rows)s::json) AS u (sample_id bigint, reply_id bigint, case_id bigint,
    agent_id int, reviewer_id int, probability float8)
WHERE u.reviewer_id IS NOT NULL
"""


def write_samples(
    run: SamplingRun, picks: Sequence[Pick], reviewers: list[int], rubric: Rubric
) -> None:
    """The run's samples, and a pending review of each weighted 1/p, assigned round-robin
    (none for a sample only its own agent could review).

    Writes the rows Sample and Review objects with these values would be, created_at being the
    run's.
    """
    with connection.cursor() as cursor:
        cursor.execute(_SAMPLE_IDS_SQL, [len(picks)])
        sample_ids = [sample_id for (sample_id,) in cursor.fetchall()]
        rows = json.dumps(
            [
                {
                    "sample_id": sample_id,
                    "reply_id": pick.unit.reply_id,
                    "case_id": pick.unit.case_id,
                    "agent_id": pick.unit.agent_id,
                    "channel_id": pick.unit.channel_id,
                    "is_risky": pick.unit.is_risky,
                    "risk_reasons": pick.unit.risk_reasons,
                    "probability": pick.probability,
                    "reviewer_id": reviewer_id,
                }
                for sample_id, pick, reviewer_id in zip(
                    sample_ids, picks, _round_robin(picks, reviewers), strict=True
                )
            ]
        )
        cursor.execute(_INSERT_SAMPLES_SQL, {"rows": rows, "run": run.pk, "now": run.created_at})
        cursor.execute(
            _INSERT_REVIEWS_SQL,
            {
                "rows": rows,
                "rubric": rubric.pk,
                "now": run.created_at,
                "kind": Review.Kind.SAMPLE.value,
                "status": Review.Status.PENDING.value,
                "agent_response": Review.AgentResponse.PENDING.value,
            },
        )


# ---------- the run ----------


def _earlier_picks(policy: SamplingPolicy, window_start: dt.datetime) -> dict[int, int]:
    """Each agent's reply samples from this policy's earlier windows in the same period."""
    period_start, _ = period_bounds(policy, window_start)
    return dict(
        Sample.objects.filter(
            run__policy=policy,
            run__period_start__gte=period_start,
            run__period_start__lt=window_start,
            reply__isnull=False,
        )
        .values("agent_id")
        .annotate(n=Count("id"))
        .values_list("agent_id", "n")
    )


def run_sampling(
    policy: SamplingPolicy, period_start: dt.datetime, period_end: dt.datetime, *, seed: int
) -> SamplingRun:
    """Sample the window [period_start, period_end) under `policy`: samples and pending reviews.

    Idempotent: a run already made for (policy, period_start) is returned as it is. Runs of
    one policy are serialised by a transaction-scoped advisory lock. Raises SamplingError (and
    writes nothing) when there is nobody to assign reviews to. The transaction runs with
    PostgreSQL's JIT off (compiling the population query took longer than running it) and
    32 MB of work_mem (its sort by reply id stays in memory).
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x5A4D, policy.pk])
            cursor.execute(
                "SELECT set_config('jit', 'off', true), set_config('work_mem', '32MB', true)"
            )
        existing = SamplingRun.objects.filter(policy=policy, period_start=period_start).first()
        if existing is not None:
            return existing

        units = reply_population(period_start, period_end)
        ignored = ignored_population(period_start, period_end)
        rng = random.Random(seed)
        picks = draw_replies(
            units,
            rate=policy.rate,
            risk_weight=policy.risk_weight,
            per_agent_minimum=policy.per_agent_minimum,
            rng=rng,
            already=_earlier_picks(policy, period_start),
        )
        picks += draw_ignored(ignored, policy.ignored_case_rate, rng)
        reviewers = roles.reviewer_ids()
        if picks and not reviewers:
            raise SamplingError("Nobody holds qa.review_replies: add a QA specialist first.")

        run = SamplingRun.objects.create(
            policy=policy,
            period_start=period_start,
            period_end=period_end,
            seed=seed,
            population=len(units),
            sampled=len(picks),
            created_at=timezone.now(),
        )
        if picks:
            write_samples(run, picks, reviewers, _rubric())
    log.info(
        "sampling run",
        extra={
            "policy_id": policy.pk,
            "run_id": run.pk,
            "population": run.population,
            "sampled": run.sampled,
        },
    )
    return run
