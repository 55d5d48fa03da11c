"""The supervisors' dashboard: quality with honest uncertainty, service times, volume, spikes.

Everything is aggregated in SQL (GROUP BY agent × week, criterion × week, channel, day, hour),
so the page costs the same dozen queries with 5 agents or 500 and 50 reviews or 50,000.

Quality. Only submitted reviews of *sampled* replies count (calibration and gold reviews
measure reviewers), and a review whose dispute was upheld counts with its corrected criteria
and score, or not at all (annulled; or upheld with an overall score alone, before disputes
corrected the criteria: its criteria are left out). Risk-weighted sampling picks some replies
more often, so each review is weighted by Review.weight = 1/p (its inclusion probability) and
averages are Hájek means Σwy/Σw with the linearised variance n/(n-1)·Σw²(y-ȳ)²/(Σw)²,
exactly qa.stats.weighted_mean_ci.
The SQL returns per-group sums (n, Σw, Σwy, Σw², Σw²y, Σw²y²), which add up across weeks and
agents, so a team's or a period's estimate is the sum of its parts' sums (qa.stats.Sums),
without re-reading reviews. Pass rate = weighted share of reviews scoring >= 80 with no
critical failure; its 95 % interval is Wilson's (qa.stats.wilson_interval) on Kish's effective
sample size (Σw)²/Σw².

No number is shown where the evidence is too thin: fewer than qa.stats.MIN_REVIEWS reviews, or
an interval wider than ±qa.stats.MAX_HALF_WIDTH points, is "insufficient evidence". Agents are
never ranked 1..N: each is placed above, within or below their team only when the two intervals
do not overlap.

Service. Response times, volume, spikes and service levels met per channel, kept a few
minutes: qa.service. The service levels per agent and team are the channel × assignee counts
added up (an agent in two teams counts in both).

Customer satisfaction. The surveys' response rate, mean score and share satisfied per agent
and team, beside the QA scores, with the same rules of evidence: csat.stats.

The same figures as tables for the CSV export: qa.export.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection, transaction
from django.db.models import Case as When_
from django.db.models import Count, F, FloatField, Q, Sum, Value, When
from django.db.models.functions import TruncWeek
from django.utils import timezone

from csat.stats import Satisfaction, satisfaction
from listening.spikes import Spike
from qa import coaching
from qa.models import Criterion, Review
from qa.service import ChannelTimes, Service, SlaCounts, service_figures
from qa.stats import MIN_REVIEWS, Estimate, Sums, compare, total
from socialdesk import roles
from socialdesk.models import Team

PASS_MARK = 80.0  # a review passes at this score with no critical failure
COACHING_THRESHOLD = 80.0  # agents whose whole interval lies under it are queued for coaching
PERIODS = (4, 12)  # weeks
DEFAULT_PERIOD = 4
WEAKEST = 3


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
class QueueItem:
    agent_id: int
    name: str
    reason: str
    detail: str
    session_id: int | None = None


@dataclass
class SlaRow:
    """Service levels met by one team, channel or agent in the period."""

    name: str
    counts: SlaCounts
    network: str = ""


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
    unranked: list[CriterionRow]  # too little evidence to say whether they are weak
    times: list[ChannelTimes]
    volume_days: list[date]
    volume: dict[int, dict[date, tuple[int, int, int]]]  # channel -> day -> (neg, neu, pos)
    channels: dict[int, tuple[str, str]]
    spikes: list[Spike]
    queue: list[QueueItem]
    open_disputes: int
    service_at: datetime
    sla_teams: list[SlaRow] = field(default_factory=list)
    sla_channels: list[SlaRow] = field(default_factory=list)
    sla_agents: list[SlaRow] = field(default_factory=list)
    satisfaction: Satisfaction | None = None  # customer satisfaction surveys (csat.stats)

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
# The corrected reviews are one uncorrelated IN list, read once: as a correlated EXISTS the
# planner costed the review scan twenty times too high and hashed all the criterion scores
# instead of the period's reviews, a third slower over 12 weeks.
CRITERION_SQL = """
SELECT cs.criterion_id, date_trunc('week', r.submitted_at AT TIME ZONE %(tz)s) AS week,
    count(*), sum(r.weight), sum(r.weight * cs.value), sum(r.weight * r.weight),
    sum(r.weight * r.weight * cs.value), sum(r.weight * r.weight * cs.value * cs.value)
FROM qa_criterionscore cs
JOIN qa_review r ON r.id = cs.review_id
WHERE r.kind = %(kind)s AND r.status = %(status)s AND r.submitted_at >= %(start)s
    AND cs.value IS NOT NULL {scope}
    AND (r.agent_response <> %(upheld)s OR (r.score IS NOT NULL AND r.id IN (
        SELECT c.review_id FROM qa_criterionscore c WHERE c.corrected_at IS NOT NULL
    )))
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
    week_starts = [start.date() + timedelta(weeks=i) for i in range(weeks)]
    sees_all = coaching.sees_all_agents(user)

    teams, memberships = _teams_in_view(user)  # queries 1-2
    scope_ids = {u for _, u in memberships}
    scope = Q() if sees_all else Q(agent_id__in=scope_ids)
    agent_week = _agent_week_sums(scope, start)  # 3
    criteria = _criterion_rows(start, None if sees_all else scope_ids, week_starts)  # 4-5
    agents = _agent_rows(scope_ids | set(agent_week), agent_week, week_starts)  # 6
    if sees_all:
        loose = [a for a in agent_week if a not in scope_ids]
        if loose:
            teams.append((None, "No team"))
            memberships.extend((None, a) for a in loose)
    blocks = _team_blocks(teams, memberships, agents, agent_week, week_starts)
    overall = total(s for weekly in agent_week.values() for s in weekly.values())

    # 7: channels, and which of them the user sees (cases.visibility.visible_channels); 8-11:
    # response times, service levels, volume and hourly counts, in SQL, for every channel (so
    # one cached copy serves every viewer), then narrowed to the user's.
    from django.db.models import Exists, OuterRef

    from cases.visibility import visible_channels
    from listening.models import Channel

    rows = Channel.objects.only("name", "network").annotate(
        seen=Exists(visible_channels(user).filter(pk=OuterRef("pk")))
    )
    everywhere: dict[int, tuple[str, str]] = {}
    channels: dict[int, tuple[str, str]] = {}
    for c in rows:
        everywhere[c.pk] = (c.name, c.network)
        if c.seen:
            channels[c.pk] = (c.name, c.network)
    service = service_figures(start, None if sees_all else scope_ids, now, everywhere)
    sla_teams, sla_channels, sla_agents = _sla_rows(service, teams, memberships, channels)

    return Dashboard(
        weeks=weeks,
        period_start=start,
        generated_at=now,
        week_starts=week_starts,
        sees_all=sees_all,
        overall=overall.mean(),
        overall_pass=overall.pass_rate(),
        teams=blocks,
        agents=agents,
        criteria=criteria,
        weakest=_weakest(criteria),
        unranked=_unranked(criteria),
        times=[t for t in service.times if t.channel_id in channels],
        volume_days=service.days,
        volume={cid: days for cid, days in service.volume.items() if cid in channels},
        channels=channels,
        spikes=[spike for spike in service.spikes if spike.channel_id in channels],
        queue=_coaching_queue(agents, scope, now),  # 12
        open_disputes=Review.objects.filter(  # 13
            scope, agent_response=Review.AgentResponse.DISPUTED
        ).count(),
        service_at=service.computed_at,
        sla_teams=sla_teams,
        sla_channels=sla_channels,
        sla_agents=sla_agents,
        # 14-15: customer satisfaction per agent and team, and the period's low scores.
        satisfaction=satisfaction(
            user, start, teams, memberships, {a: r.name for a, r in agents.items()}, sees_all
        ),
    )


def _sla_rows(
    service: Service,
    teams: list[tuple[int | None, str]],
    memberships: list[tuple[int | None, int]],
    channels: dict[int, tuple[str, str]],
) -> tuple[list[SlaRow], list[SlaRow], list[SlaRow]]:
    """The channel × assignee counts added up per team, channel and agent."""
    by_channel: dict[int, SlaCounts] = defaultdict(SlaCounts)
    by_agent: dict[int, SlaCounts] = defaultdict(SlaCounts)
    for (channel_id, assignee_id), c in service.sla.items():
        by_channel[channel_id] += c
        if assignee_id is not None:
            by_agent[assignee_id] += c
    members: dict[int | None, set[int]] = defaultdict(set)
    for team_id, user_id in memberships:
        members[team_id].add(user_id)
    team_rows = [
        SlaRow(name, sum((by_agent[u] for u in members[t] if u in by_agent), SlaCounts()))
        for t, name in teams
    ]
    names = service.agent_names
    channel_rows = []
    for pk, c in by_channel.items():
        name, network = channels.get(pk, (f"#{pk}", ""))
        channel_rows.append(SlaRow(name, c, network))
    agent_rows = [SlaRow(names.get(pk, f"#{pk}"), c) for pk, c in by_agent.items()]
    return (
        team_rows,
        sorted(channel_rows, key=lambda r: r.name.lower()),
        sorted(agent_rows, key=lambda r: r.name.lower()),
    )


def _teams_in_view(
    user: AbstractBaseUser | AnonymousUser,
) -> tuple[list[tuple[int | None, str]], list[tuple[int | None, int]]]:
    """The (id, name) of the teams `user` sees, and their agents' (team id, member id) pairs.

    Agents are the members who work the inbox: a QA specialist belongs to the teams they
    review without being one of its agents. The viewer is not among the agents of their own
    view either (nobody's figures are theirs to read here)."""
    teams: list[tuple[int | None, str]] = list(
        coaching.dashboard_teams(user).values_list("id", "name")
    )
    memberships: list[tuple[int | None, int]] = list(
        Team.members.through.objects.filter(
            team_id__in=[t for t, _ in teams], user_id__in=roles.inbox_workers().values("id")
        )
        .exclude(user_id=user.pk)
        .values_list("team_id", "user_id")
    )
    return teams, memberships


def _agent_week_sums(scope: Q, start: datetime) -> dict[int, dict[date, Sums]]:
    """The sums of the counted reviews' scores (and passes), GROUP BY agent × week."""
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
    return agent_week


def _criterion_rows(
    start: datetime, agent_ids: set[int] | None, week_starts: list[date]
) -> list[CriterionRow]:
    """Each criterion's score 0..100, in rubric order: its values GROUP BY criterion × week
    (one query), scaled to 0..100 by the criteria's scales (a second)."""
    criterion_week = _criterion_sums(start, agent_ids)
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
        low, high = Criterion.SCALE_BOUNDS[c["scale"]]
        scaled = sums.scaled(100 / (high - low), -100 * low / (high - low))
        by_code[c["code"]][week] = by_code[c["code"]].get(week, Sums()) + scaled
        criteria_meta.setdefault(c["code"], (c["name"], c["position"]))
    rows = [
        CriterionRow(
            code,
            criteria_meta[code][0],
            total(weekly.values()).mean(),
            [weekly.get(w, Sums()).mean() for w in week_starts],
        )
        for code, weekly in by_code.items()
    ]
    return sorted(rows, key=lambda row: (criteria_meta[row.code][1], row.name))


def _weakest(criteria: list[CriterionRow]) -> list[CriterionRow]:
    """The WEAKEST criteria the evidence shows to be weak: those with enough evidence, ranked
    by the upper end of their 95% interval, lowest first (even at their best plausible score
    they are low). Criteria without enough evidence are never ranked: see `_unranked`."""
    return sorted(
        (c for c in criteria if not c.score.insufficient),
        key=lambda c: (c.score.high, c.score.mean),
    )[:WEAKEST]


def _unranked(criteria: list[CriterionRow]) -> list[CriterionRow]:
    """The criteria with reviews but too little evidence to rank, fewest reviews first."""
    return sorted(
        (c for c in criteria if c.score.n and c.score.insufficient), key=lambda c: c.score.n
    )


def _agent_rows(
    agent_ids: set[int], agent_week: dict[int, dict[date, Sums]], week_starts: list[date]
) -> dict[int, AgentRow]:
    """Each agent's score and pass rate over the period and per week (their names: a query)."""
    User = get_user_model()
    names = {u.pk: _name(u) for u in User.objects.filter(pk__in=agent_ids)}
    agents: dict[int, AgentRow] = {}
    for agent_id in agent_ids:
        weekly = agent_week.get(agent_id, {})
        period = total(weekly.values())
        agents[agent_id] = AgentRow(
            agent_id=agent_id,
            name=names.get(agent_id, f"#{agent_id}"),
            score=period.mean(),
            pass_rate=period.pass_rate(),
            weekly=[weekly.get(w, Sums()).mean() for w in week_starts],
        )
    return agents


def _team_blocks(
    teams: list[tuple[int | None, str]],
    memberships: list[tuple[int | None, int]],
    agents: dict[int, AgentRow],
    agent_week: dict[int, dict[date, Sums]],
    week_starts: list[date],
) -> list[TeamBlock]:
    """Each team's score from its members' sums, its members placed against it by name."""
    members: dict[int | None, list[int]] = defaultdict(list)
    for team_id, user_id in memberships:
        members[team_id].append(user_id)
    blocks = []
    for team_id, team_name in teams:
        ids = members.get(team_id, [])
        week_sums = [total(agent_week.get(a, {}).get(w, Sums()) for a in ids) for w in week_starts]
        period = total(week_sums)
        block = TeamBlock(
            team_id=team_id,
            name=team_name,
            score=period.mean(),
            pass_rate=period.pass_rate(),
            weekly=[s.mean() for s in week_sums],
            agents=[],
        )
        for a in sorted(ids, key=lambda i: agents[i].name.lower()):
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
    return blocks


def _coaching_queue(agents: dict[int, AgentRow], scope: Q, now: datetime) -> list[QueueItem]:
    """Agents whose whole interval lies under COACHING_THRESHOLD, lowest first, then overdue
    coaching follow-ups (one query)."""
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
    for session in coaching.overdue_follow_ups(scope, timezone.localdate(now))[:50]:
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
    return queue
