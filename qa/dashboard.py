"""The supervisors' dashboard: quality with honest uncertainty, service times, volume, spikes.

Everything is aggregated in SQL (GROUP BY agent × week, criterion × week, channel, day, hour),
so the page costs the same dozen queries with 5 agents or 500 and 50 reviews or 50,000.

Quality. Only submitted reviews of *sampled* replies count (calibration and gold reviews
measure reviewers), and a review whose dispute was upheld counts with its corrected score or
not at all (annulled). Risk-weighted sampling picks some replies more often, so each review is
weighted by Review.weight = 1/p (its inclusion probability) and averages are Hájek means
Σwy/Σw with the linearised variance n/(n-1)·Σw²(y-ȳ)²/(Σw)², exactly qa.stats.weighted_mean_ci.
The SQL returns per-group sums (n, Σw, Σwy, Σw², Σw²y, Σw²y²), which add up across weeks and
agents, so a team's or a period's estimate is the sum of its parts' sums, without re-reading
reviews. Pass rate = weighted share of reviews scoring >= 80 with no critical failure; its 95 %
interval is Wilson's (qa.stats.wilson_interval) on Kish's effective sample size (Σw)²/Σw².

No number is shown where the evidence is too thin: fewer than MIN_REVIEWS reviews, or an
interval wider than ±MAX_HALF_WIDTH points, is "insufficient evidence". Agents are never ranked
1..N: each is placed above, within or below their team only when the two intervals do not
overlap.

Service. First-response and resolution time percentiles (p50, p90) per channel from cases
opened in the period (supervisors: cases assigned to their agents). Volume per day, channel and
sentiment (VADER compound: <= -0.05 negative, >= 0.05 positive). Spikes: a channel's hourly
mention count in the last 24 hours against its 7-day hourly baseline before that; an hour is
flagged above mean + 3 sd (and at least SPIKE_MIN_MENTIONS mentions, so one post on a silent
channel is not an alarm).
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Case as When_
from django.db.models import Count, F, FloatField, Q, Sum, Value, When
from django.db.models.functions import TruncWeek
from django.utils import timezone

from qa import coaching
from qa.models import Criterion, Review, Team
from qa.stats import Z95, wilson_interval
from qa.volume import MENTION_QUARTERS_SQL, NEGATIVE, POSITIVE

PASS_MARK = 80.0  # a review passes at this score with no critical failure
COACHING_THRESHOLD = 80.0  # agents whose whole interval lies under it are queued for coaching
MIN_REVIEWS = 5
MAX_HALF_WIDTH = 20.0  # points
PERIODS = (4, 12)  # weeks
DEFAULT_PERIOD = 4
SPIKE_SD = 3.0
SPIKE_MIN_MENTIONS = 5
BASELINE_HOURS = 7 * 24
WEAKEST = 3
SERVICE_CACHE_SECONDS = 300


# ---------- estimates from additive sums ----------


@dataclass
class Sums:
    """Sufficient statistics of weighted values y with weights w (and a 0/1 pass flag p)."""

    n: int = 0
    w: float = 0.0
    wy: float = 0.0
    w2: float = 0.0
    w2y: float = 0.0
    w2y2: float = 0.0
    wp: float = 0.0

    def __add__(self, other: Sums) -> Sums:
        return Sums(
            self.n + other.n,
            self.w + other.w,
            self.wy + other.wy,
            self.w2 + other.w2,
            self.w2y + other.w2y,
            self.w2y2 + other.w2y2,
            self.wp + other.wp,
        )

    def scaled(self, a: float, b: float) -> Sums:
        """The sums of a·y + b (how a criterion's raw value becomes 0..100)."""
        return Sums(
            self.n,
            self.w,
            a * self.wy + b * self.w,
            self.w2,
            a * self.w2y + b * self.w2,
            a * a * self.w2y2 + 2 * a * b * self.w2y + b * b * self.w2,
            self.wp,
        )

    @property
    def effective_n(self) -> float:
        return self.w * self.w / self.w2 if self.w2 > 0 else 0.0

    def mean(self, z: float = Z95) -> Estimate:
        """The Hájek mean and its 95 % interval: qa.stats.weighted_mean_ci from sums."""
        if self.n == 0 or self.w <= 0:
            return Estimate(self.n, None, None, None, 0.0)
        m = self.wy / self.w
        if self.n < 2:
            return Estimate(self.n, m, None, None, self.effective_n)
        squares = max(self.w2y2 - 2 * m * self.w2y + m * m * self.w2, 0.0)
        variance = self.n / (self.n - 1) * squares / (self.w * self.w)
        half = z * math.sqrt(variance)
        return Estimate(self.n, m, m - half, m + half, self.effective_n)

    def pass_rate(self, z: float = Z95) -> Estimate:
        """Weighted pass share in %, Wilson interval on the effective sample size."""
        if self.n == 0 or self.w <= 0:
            return Estimate(self.n, None, None, None, 0.0)
        p = min(max(self.wp / self.w, 0.0), 1.0)
        n_eff = self.effective_n
        # Wilson's formula only uses p = successes/n and n: a fractional effective n is fine.
        low, high = wilson_interval(p * n_eff, n_eff, z)  # type: ignore[arg-type]
        return Estimate(self.n, p * 100, low * 100, high * 100, n_eff)


@dataclass(frozen=True)
class Estimate:
    n: int
    mean: float | None
    low: float | None
    high: float | None
    effective_n: float

    @property
    def half_width(self) -> float | None:
        if self.low is None or self.high is None:
            return None
        return (self.high - self.low) / 2

    @property
    def insufficient(self) -> bool:
        hw = self.half_width
        return self.n < MIN_REVIEWS or hw is None or hw > MAX_HALF_WIDTH

    @property
    def shown_low(self) -> float | None:
        return None if self.low is None else max(0.0, self.low)

    @property
    def shown_high(self) -> float | None:
        return None if self.high is None else min(100.0, self.high)


def compare(agent: Estimate, team: Estimate) -> str:
    """'above' / 'below' the team when the intervals do not overlap, else 'within';
    'insufficient' when either lacks the evidence for any comparison."""
    if agent.insufficient or team.insufficient:
        return "insufficient"
    assert agent.low is not None and agent.high is not None  # noqa: S101 (insufficient else)
    assert team.low is not None and team.high is not None  # noqa: S101
    if agent.low > team.high:
        return "above"
    if agent.high < team.low:
        return "below"
    return "within"


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolation percentile, as PostgreSQL's percentile_cont (for tests and docs)."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def find_spikes(
    hourly: dict[datetime, int], current_hour: datetime
) -> tuple[list[tuple[datetime, int]], float, float, list[int]]:
    """(flagged hours of the last 24 with counts, baseline mean, baseline sd, last 24 counts).

    The baseline is the 168 hours before the last 24, hours without mentions counting as 0.
    """
    recent_start = current_hour - timedelta(hours=23)
    baseline_start = recent_start - timedelta(hours=BASELINE_HOURS)
    baseline = [hourly.get(baseline_start + timedelta(hours=i), 0) for i in range(BASELINE_HOURS)]
    mean = sum(baseline) / BASELINE_HOURS
    sd = math.sqrt(sum((c - mean) ** 2 for c in baseline) / BASELINE_HOURS)
    threshold = mean + SPIKE_SD * sd
    recent = [hourly.get(recent_start + timedelta(hours=i), 0) for i in range(24)]
    flagged = [
        (recent_start + timedelta(hours=i), c)
        for i, c in enumerate(recent)
        if c > threshold and c >= SPIKE_MIN_MENTIONS
    ]
    return flagged, mean, sd, recent


# ---------- what the page shows ----------


@dataclass
class AgentRow:
    agent_id: int
    name: str
    score: Estimate
    pass_rate: Estimate
    group: str = "insufficient"
    weekly: list[Estimate] = field(default_factory=list)


@dataclass
class TeamBlock:
    team_id: int | None
    name: str
    score: Estimate
    pass_rate: Estimate
    weekly: list[Estimate]
    agents: list[AgentRow]

    def grouped(self) -> dict[str, list[AgentRow]]:
        groups: dict[str, list[AgentRow]] = {
            "above": [],
            "within": [],
            "below": [],
            "insufficient": [],
        }
        for row in self.agents:
            groups[row.group].append(row)
        return groups


@dataclass
class CriterionRow:
    code: str
    name: str
    score: Estimate
    weekly: list[Estimate]


@dataclass
class ChannelTimes:
    channel_id: int
    name: str
    network: str
    cases: int
    responded: int
    first_p50: float | None  # minutes
    first_p90: float | None
    resolved: int
    resolution_p50: float | None  # hours
    resolution_p90: float | None


@dataclass
class Spike:
    channel_id: int
    name: str
    network: str
    hours: list[tuple[datetime, int]]  # flagged hours and their counts
    mean: float
    sd: float
    recent: list[int]  # the last 24 hourly counts, oldest first
    hours_start: datetime  # the hour of recent[0]

    @property
    def threshold(self) -> float:
        return self.mean + SPIKE_SD * self.sd

    @property
    def flagged_indexes(self) -> set[int]:
        return {int((h - self.hours_start).total_seconds() // 3600) for h, _ in self.hours}


@dataclass
class QueueItem:
    agent_id: int
    name: str
    reason: str
    detail: str
    session_id: int | None = None


@dataclass
class Dashboard:
    weeks: int
    period_start: datetime
    generated_at: datetime
    week_starts: list[date]
    sees_all: bool
    overall: Estimate
    overall_pass: Estimate
    teams: list[TeamBlock]
    agents: dict[int, AgentRow]
    criteria: list[CriterionRow]
    weakest: list[CriterionRow]
    times: list[ChannelTimes]
    volume_days: list[date]
    volume: dict[int, dict[date, tuple[int, int, int]]]  # channel -> day -> (neg, neu, pos)
    channels: dict[int, tuple[str, str]]
    spikes: list[Spike]
    queue: list[QueueItem]
    open_disputes: int
    service_at: datetime

    def volume_totals(self) -> list[tuple[int, int, int]]:
        out = []
        for day in self.volume_days:
            neg = neu = pos = 0
            for by_day in self.volume.values():
                a, b, c = by_day.get(day, (0, 0, 0))
                neg, neu, pos = neg + a, neu + b, pos + c
            out.append((neg, neu, pos))
        return out


def period_start(weeks: int, now: datetime) -> datetime:
    """Monday 00:00 (local time) of the oldest of the last `weeks` weeks, this one included."""
    today = timezone.localtime(now).date()
    monday = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    return timezone.make_aware(datetime.combine(monday, datetime.min.time()))


def _week_key(value: datetime | date) -> date:
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


# Narrow keys (criterion id, week) so PostgreSQL hashes ~100 groups instead of sorting
# 400,000 rows on disk, which is what the ORM's GROUP BY over the joined names led it to.
CRITERION_SQL = """
SELECT cs.criterion_id, date_trunc('week', r.submitted_at AT TIME ZONE %(tz)s) AS week,
    count(*), sum(r.weight), sum(r.weight * cs.value), sum(r.weight * r.weight),
    sum(r.weight * r.weight * cs.value), sum(r.weight * r.weight * cs.value * cs.value)
FROM qa_criterionscore cs
JOIN qa_review r ON r.id = cs.review_id
WHERE r.kind = %(kind)s AND r.status = %(status)s AND r.submitted_at >= %(start)s
    AND r.agent_response <> %(upheld)s AND cs.value IS NOT NULL {scope}
GROUP BY 1, 2
"""


def _criterion_sums(start: datetime, agent_ids: set[int] | None) -> dict[tuple[int, date], Sums]:
    params = {
        "tz": timezone.get_current_timezone_name(),
        "kind": Review.Kind.SAMPLE,
        "status": Review.Status.SUBMITTED,
        "start": start,
        "upheld": Review.AgentResponse.DISPUTE_UPHELD,
        "agents": sorted(agent_ids or []),
    }
    scope = "" if agent_ids is None else "AND r.agent_id = ANY(%(agents)s)"
    with connection.cursor() as cursor:
        cursor.execute(CRITERION_SQL.format(scope=scope), params)
        rows = cursor.fetchall()
    return {
        (cid, _week_key(week)): Sums(n, w, wy, w2, w2y, w2y2, 0.0)
        for cid, week, n, w, wy, w2, w2y, w2y2 in rows
    }


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


def _weighted_sums(weight: str, value: str, passed: When_ | None = None) -> dict:
    w, y = F(weight), F(value)
    sums = {
        "n": Count("id"),
        "w": Sum(w, output_field=FloatField()),
        "wy": Sum(w * y, output_field=FloatField()),
        "w2": Sum(w * w, output_field=FloatField()),
        "w2y": Sum(w * w * y, output_field=FloatField()),
        "w2y2": Sum(w * w * y * y, output_field=FloatField()),
    }
    if passed is not None:
        sums["wp"] = Sum(w * passed, output_field=FloatField())
    return sums


def _to_sums(row: dict) -> Sums:
    return Sums(
        row["n"],
        row["w"] or 0.0,
        row["wy"] or 0.0,
        row["w2"] or 0.0,
        row["w2y"] or 0.0,
        row["w2y2"] or 0.0,
        row.get("wp") or 0.0,
    )


def _total(parts: Iterable[Sums]) -> Sums:
    total = Sums()
    for part in parts:
        total = total + part
    return total


def build(
    user: AbstractBaseUser | AnonymousUser, weeks: int = DEFAULT_PERIOD, now: datetime | None = None
) -> Dashboard:
    """Everything the dashboard shows for `user` (their teams; admins everything).

    One read transaction with PostgreSQL's JIT off (compiling these aggregates costs 40 ms and
    more, longer than running them) and 32 MB of work_mem, so the criterion sums of 12 weeks
    hash in memory instead of sorting on disk.
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('jit', 'off', true), set_config('work_mem', '32MB', true)"
            )
        return _build(user, weeks, now)


def _build(
    user: AbstractBaseUser | AnonymousUser, weeks: int = DEFAULT_PERIOD, now: datetime | None = None
) -> Dashboard:
    now = now or timezone.now()
    start = period_start(weeks, now)
    first_week = start.date()
    week_starts = [first_week + timedelta(weeks=i) for i in range(weeks)]
    sees_all = coaching.sees_all_agents(user)

    # 1-2: teams in view and their members.
    teams = list(coaching.visible_teams(user).values_list("id", "name"))
    memberships = list(
        Team.members.through.objects.filter(team_id__in=[t for t, _ in teams]).values_list(
            "team_id", "user_id"
        )
    )
    scope_ids = {u for _, u in memberships}
    scope = Q() if sees_all else Q(agent_id__in=scope_ids)

    # 3: reviews, GROUP BY agent × week.
    reviews = Review.objects.filter(
        scope,
        kind=Review.Kind.SAMPLE,
        status=Review.Status.SUBMITTED,
        submitted_at__gte=start,
        score__isnull=False,
    )
    passed = When_(
        When(score__gte=PASS_MARK, critical_failed=False, then=Value(1.0)),
        default=Value(0.0),
        output_field=FloatField(),
    )
    agent_week: dict[int, dict[date, Sums]] = defaultdict(dict)
    for row in (
        reviews.annotate(week=TruncWeek("submitted_at"))
        .values("agent_id", "week")
        .annotate(**_weighted_sums("weight", "score", passed))
        .order_by()
    ):
        agent_week[row["agent_id"]][_week_key(row["week"])] = _to_sums(row)

    # 4-5: criterion values, GROUP BY criterion × week (normalised to 0..100 afterwards),
    # then the few criteria's names and scales.
    criterion_week = _criterion_sums(start, None if sees_all else scope_ids)
    meta = {
        c["id"]: c
        for c in Criterion.objects.filter(id__in={cid for cid, _ in criterion_week}).values(
            "id", "code", "name", "scale", "position"
        )
    }
    criteria_meta: dict[str, tuple[str, int]] = {}
    by_code: dict[str, dict[date, Sums]] = defaultdict(dict)
    for (criterion_id, week), sums in criterion_week.items():
        c = meta[criterion_id]
        low, high = (0, 1) if c["scale"] == "yes_no" else (1, 3 if c["scale"] == "1_3" else 5)
        scaled = sums.scaled(100 / (high - low), -100 * low / (high - low))
        by_code[c["code"]][week] = by_code[c["code"]].get(week, Sums()) + scaled
        criteria_meta.setdefault(c["code"], (c["name"], c["position"]))

    # 5: the agents' names.
    agent_ids = scope_ids | set(agent_week)
    User = get_user_model()
    names = {u.pk: _name(u) for u in User.objects.filter(pk__in=agent_ids)}

    agents: dict[int, AgentRow] = {}
    for agent_id in agent_ids:
        weekly = agent_week.get(agent_id, {})
        total = _total(weekly.values())
        agents[agent_id] = AgentRow(
            agent_id=agent_id,
            name=names.get(agent_id, f"#{agent_id}"),
            score=total.mean(),
            pass_rate=total.pass_rate(),
            weekly=[weekly.get(w, Sums()).mean() for w in week_starts],
        )

    members: dict[int, list[int]] = defaultdict(list)
    for team_id, user_id in memberships:
        members[team_id].append(user_id)
    blocks = []
    team_list: list[tuple[int | None, str]] = list(teams)
    if sees_all:
        in_teams = set(scope_ids)
        loose = [a for a in agent_week if a not in in_teams]
        if loose:
            team_list.append((None, "No team"))
            members[None] = loose  # type: ignore[index]
    for team_id, team_name in team_list:
        ids = members.get(team_id, [])  # type: ignore[arg-type]
        week_sums = [_total(agent_week.get(a, {}).get(w, Sums()) for a in ids) for w in week_starts]
        total = _total(week_sums)
        block = TeamBlock(
            team_id=team_id,
            name=team_name,
            score=total.mean(),
            pass_rate=total.pass_rate(),
            weekly=[s.mean() for s in week_sums],
            agents=[],
        )
        for a in sorted(ids, key=lambda i: names.get(i, "").lower()):
            row = agents[a]
            block.agents.append(
                AgentRow(
                    a,
                    row.name,
                    row.score,
                    row.pass_rate,
                    compare(row.score, block.score),
                    row.weekly,
                )
            )
        blocks.append(block)

    overall_sums = _total(s for weekly in agent_week.values() for s in weekly.values())

    criteria = []
    for code, weekly in by_code.items():
        name, position = criteria_meta[code]
        criteria.append(
            (
                position,
                CriterionRow(
                    code,
                    name,
                    _total(weekly.values()).mean(),
                    [weekly.get(w, Sums()).mean() for w in week_starts],
                ),
            )
        )
    criteria_rows = [row for _, row in sorted(criteria, key=lambda pc: (pc[0], pc[1].name))]
    weakest = sorted(
        (c for c in criteria_rows if c.score.mean is not None and not c.score.insufficient),
        key=lambda c: c.score.mean,  # type: ignore[arg-type,return-value]
    )[:WEAKEST]

    # 6: channels; 7-9: response times, volume and hourly counts, in SQL.
    from listening.models import Channel

    channels = {c.pk: (c.name, c.network) for c in Channel.objects.only("name", "network")}
    service = service_figures(start, None if sees_all else scope_ids, now, channels)
    times, volume, volume_days, spikes = service.times, service.volume, service.days, service.spikes

    # 10: overdue follow-ups; 11: open disputes.
    queue = []
    for row in sorted(agents.values(), key=lambda r: r.score.mean or 0.0):
        est = row.score
        if est.n >= MIN_REVIEWS and est.high is not None and est.high < COACHING_THRESHOLD:
            queue.append(
                QueueItem(
                    row.agent_id,
                    row.name,
                    "Under the threshold",
                    f"score {est.mean:.1f} (95% CI {est.low:.1f} to {est.high:.1f}, "
                    f"n = {est.n}): even the upper bound is under {COACHING_THRESHOLD:.0f}",
                )
            )
    for session in coaching.overdue_follow_ups(
        Q() if sees_all else Q(agent_id__in=scope_ids), timezone.localdate(now)
    )[:50]:
        queue.append(
            QueueItem(
                session.agent_id,
                _name(session.agent),
                "Follow-up overdue",
                f"follow-up was due {session.follow_up_on:%d %b %Y} "
                f"({session.get_status_display().lower()}, coach {_name(session.coach)})",
                session.pk,
            )
        )
    open_disputes = Review.objects.filter(
        scope, agent_response=Review.AgentResponse.DISPUTED
    ).count()

    return Dashboard(
        weeks=weeks,
        period_start=start,
        generated_at=now,
        week_starts=week_starts,
        sees_all=sees_all,
        overall=overall_sums.mean(),
        overall_pass=overall_sums.pass_rate(),
        teams=blocks,
        agents=agents,
        criteria=criteria_rows,
        weakest=weakest,
        times=times,
        volume_days=volume_days,
        volume=volume,
        channels=channels,
        spikes=spikes,
        queue=queue,
        open_disputes=open_disputes,
        service_at=service.computed_at,
    )


@dataclass
class Service:
    """The desk-wide figures read from the big tables (cases, mentions)."""

    times: list[ChannelTimes]
    volume: dict[int, dict[date, tuple[int, int, int]]]
    days: list[date]
    spikes: list[Spike]
    computed_at: datetime


def service_figures(
    start: datetime,
    agent_ids: set[int] | None,
    now: datetime,
    channels: dict[int, tuple[str, str]],
) -> Service:
    """Response times, volume and spikes, kept SERVICE_CACHE_SECONDS per period and scope.

    They read the period's cases from the index case_channel_opened and its mention counts
    from qa.volume (on a million cases and three million mentions, about 0.1 s in all), and
    change slowly; the QA figures above are always computed afresh.
    """
    scope = "all" if agent_ids is None else ",".join(map(str, sorted(agent_ids)))
    key = (
        "qa:dashboard-service:"
        + hashlib.sha256(f"{start.isoformat()}|{scope}".encode()).hexdigest()
    )
    if SERVICE_CACHE_SECONDS:
        cached = cache.get(key)
        if cached is not None:
            return cached
    volume, days = _volume(start, now)
    service = Service(
        _response_times(start, agent_ids, channels), volume, days, _spikes(now, channels), now
    )
    if SERVICE_CACHE_SECONDS:
        cache.set(key, service, SERVICE_CACHE_SECONDS)
    return service


# Per channel, the cases opened since the start from the index case_channel_opened alone
# (LATERAL: one index range per channel, already grouped), and one sort per percentile pair.
RESPONSE_SQL = """
SELECT ch.id, t.cases, t.responded, t.first_response[1], t.first_response[2],
    t.resolved, t.resolution[1], t.resolution[2]
FROM listening_channel ch
CROSS JOIN LATERAL (
    SELECT count(*) AS cases, count(c.first_response_at) AS responded,
        percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (
            ORDER BY date_part('epoch', c.first_response_at - c.opened_at)
        ) AS first_response,
        count(c.resolved_at) AS resolved,
        percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (
            ORDER BY date_part('epoch', c.resolved_at - c.opened_at)
        ) AS resolution
    FROM cases_case c
    WHERE c.channel_id = ch.id AND c.opened_at >= %s {scope}
) t
WHERE t.cases > 0
"""


def _response_times(
    start: datetime, agent_ids: set[int] | None, channels: dict[int, tuple[str, str]]
) -> list[ChannelTimes]:
    params: list = [start]
    scope = ""
    if agent_ids is not None:
        scope = "AND c.assignee_id = ANY(%s)"
        params.append(sorted(agent_ids))
    with connection.cursor() as cursor:
        cursor.execute(RESPONSE_SQL.format(scope=scope), params)
        rows = cursor.fetchall()

    def minutes(v):
        return None if v is None else v / 60

    def hours(v):
        return None if v is None else v / 3600

    out = [
        ChannelTimes(
            channel_id,
            *channels.get(channel_id, (f"#{channel_id}", "")),
            cases,
            responded,
            minutes(f50),
            minutes(f90),
            resolved,
            hours(r50),
            hours(r90),
        )
        for channel_id, cases, responded, f50, f90, resolved, r50, r90 in rows
    ]
    return sorted(out, key=lambda t: t.name.lower())


VOLUME_SQL = f"""
SELECT (q.quarter AT TIME ZONE %(tz)s)::date AS day, q.channel_id,
    sum(q.negative), sum(q.neutral), sum(q.positive)
FROM ({MENTION_QUARTERS_SQL}) q
GROUP BY 1, 2
HAVING sum(q.negative + q.neutral + q.positive) > 0
"""


def _volume(start: datetime, now: datetime):
    tz = timezone.get_current_timezone_name()
    params = {"tz": tz, "start": start, "end": now, "negative": NEGATIVE, "positive": POSITIVE}
    with connection.cursor() as cursor:
        cursor.execute(VOLUME_SQL, params)
        rows = cursor.fetchall()
    volume: dict[int, dict[date, tuple[int, int, int]]] = defaultdict(dict)
    for day, channel_id, neg, neu, pos in rows:
        volume[channel_id][day] = (neg, neu, pos)
    first, last = start.date(), timezone.localtime(now).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return dict(volume), days


HOURLY_SQL = f"""
SELECT q.channel_id, date_trunc('hour', q.quarter) AS hour,
    sum(q.negative + q.neutral + q.positive)
FROM ({MENTION_QUARTERS_SQL}) q
GROUP BY 1, 2
HAVING sum(q.negative + q.neutral + q.positive) > 0
"""


def _spikes(now: datetime, channels: dict[int, tuple[str, str]]) -> list[Spike]:
    # Django's connections run in UTC, so date_trunc('hour') gives UTC hours, like this.
    current_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    since = current_hour - timedelta(hours=23 + BASELINE_HOURS)
    with connection.cursor() as cursor:
        cursor.execute(
            HOURLY_SQL, {"start": since, "end": now, "negative": NEGATIVE, "positive": POSITIVE}
        )
        rows = cursor.fetchall()
    hourly: dict[int, dict[datetime, int]] = defaultdict(dict)
    for channel_id, hour, count in rows:
        hourly[channel_id][hour] = count
    spikes = []
    for channel_id, counts in hourly.items():
        flagged, mean, sd, recent = find_spikes(counts, current_hour)
        if flagged:
            name, network = channels.get(channel_id, (f"#{channel_id}", ""))
            spikes.append(
                Spike(
                    channel_id,
                    name,
                    network,
                    flagged,
                    mean,
                    sd,
                    recent,
                    hours_start=current_hour - timedelta(hours=23),
                )
            )
    return sorted(spikes, key=lambda s: -max(c for _, c in s.hours))


# ---------- the tables (shown under each chart, and exported as CSV) ----------


@dataclass
class Table:
    name: str
    title: str
    headers: list[str]
    rows: list[list[object]]


def _r(v: float | None, digits: int = 1) -> float | None:
    return None if v is None else round(v, digits)


def _est_cells(est: Estimate) -> list[object]:
    if est.insufficient:
        return [est.n, _r(est.effective_n), "insufficient evidence", None, None]
    return [est.n, _r(est.effective_n), _r(est.mean), _r(est.shown_low), _r(est.shown_high)]


EST_HEADERS = ["reviews", "effective n", "score", "95% low", "95% high"]
PASS_HEADERS = ["pass rate %", "pass 95% low", "pass 95% high"]


def _pass_cells(est: Estimate) -> list[object]:
    if est.insufficient:
        return ["insufficient evidence", None, None]
    return [_r(est.mean), _r(est.low), _r(est.high)]


GROUP_LABELS = {
    "above": "above the team",
    "within": "within the team",
    "below": "below the team",
    "insufficient": "insufficient evidence",
}


def tables(d: Dashboard) -> dict[str, Table]:
    weeks = [w.isoformat() for w in d.week_starts]
    out = [
        Table(
            "teams",
            "QA score per team",
            ["team", *EST_HEADERS, *PASS_HEADERS],
            [[t.name, *_est_cells(t.score), *_pass_cells(t.pass_rate)] for t in d.teams],
        ),
        Table(
            "team_weeks",
            "QA score per team and week",
            ["team", "week", *EST_HEADERS],
            [
                [t.name, weeks[i], *_est_cells(est)]
                for t in d.teams
                for i, est in enumerate(t.weekly)
            ],
        ),
        Table(
            "agents",
            "QA score per agent",
            ["team", "agent", *EST_HEADERS, *PASS_HEADERS, "compared with the team"],
            [
                [
                    t.name,
                    a.name,
                    *_est_cells(a.score),
                    *_pass_cells(a.pass_rate),
                    GROUP_LABELS[a.group],
                ]
                for t in d.teams
                for a in t.agents
            ],
        ),
        Table(
            "agent_weeks",
            "QA score per agent and week",
            ["agent", "week", *EST_HEADERS],
            [
                [a.name, weeks[i], *_est_cells(est)]
                for a in sorted(d.agents.values(), key=lambda a: a.name.lower())
                for i, est in enumerate(a.weekly)
                if est.n
            ],
        ),
        Table(
            "criteria",
            "Score per criterion (0-100)",
            ["criterion", *EST_HEADERS],
            [[c.name, *_est_cells(c.score)] for c in d.criteria],
        ),
        Table(
            "criterion_weeks",
            "Score per criterion and week (0-100)",
            ["criterion", "week", *EST_HEADERS],
            [
                [c.name, weeks[i], *_est_cells(est)]
                for c in d.criteria
                for i, est in enumerate(c.weekly)
            ],
        ),
        Table(
            "response_times",
            "First-response and resolution times per channel",
            [
                "channel",
                "network",
                "cases",
                "answered",
                "first response p50 (min)",
                "first response p90 (min)",
                "resolved",
                "resolution p50 (h)",
                "resolution p90 (h)",
            ],
            [
                [
                    t.name,
                    t.network,
                    t.cases,
                    t.responded,
                    _r(t.first_p50),
                    _r(t.first_p90),
                    t.resolved,
                    _r(t.resolution_p50),
                    _r(t.resolution_p90),
                ]
                for t in d.times
            ],
        ),
        Table(
            "volume",
            "Mentions per day, channel and sentiment",
            ["day", "channel", "negative", "neutral", "positive", "total"],
            [
                [day.isoformat(), d.channels.get(cid, (f"#{cid}", ""))[0], *v, sum(v)]
                for day in d.volume_days
                for cid in sorted(d.volume, key=lambda c: d.channels.get(c, ("", ""))[0])
                if (v := d.volume[cid].get(day))
            ],
        ),
        Table(
            "spikes",
            "Spike alerts (last 24 hours)",
            [
                "channel",
                "hour (UTC)",
                "mentions",
                "baseline mean per hour",
                "baseline sd",
                "threshold",
            ],
            [
                [
                    s.name,
                    h.strftime("%Y-%m-%d %H:00"),
                    c,
                    _r(s.mean, 2),
                    _r(s.sd, 2),
                    _r(s.threshold, 2),
                ]
                for s in d.spikes
                for h, c in s.hours
            ],
        ),
        Table(
            "coaching_queue",
            "Coaching queue",
            ["agent", "reason", "detail"],
            [[q.name, q.reason, q.detail] for q in d.queue],
        ),
    ]
    return {t.name: t for t in out}
