"""Customer satisfaction on the supervisors' dashboard: per agent and team, with intervals.

Counted: the surveys planned in the period (Survey.created_at, i.e. resolved then) whose
private message the network confirmed (their Reply is sent). Per group:

* response rate = answered / sent, with Wilson's 95 % interval (qa.stats.wilson_interval);
* mean score (1-5) with the usual 95 % interval of a mean, mean ± 1.96·s/√n (qa.stats.Sums
  with equal weights);
* satisfied = share of answers scoring 4 or 5 (the industry's "CSAT %"), Wilson interval.

No figure is shown from fewer than qa.stats.MIN_REVIEWS surveys (or answers), as for QA. A
survey counts for the agent credited when it was planned and for the case's team then
(csat.actions). Two queries whatever the number of surveys: the GROUP BY agent × team and
the period's lowest scores, for the supervisor to read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection
from django.utils.translation import gettext

from cases.models import visible_q
from csat.answers import comment_of
from csat.models import Survey
from qa.stats import MIN_REVIEWS, Additive, Estimate, Sums, wilson_interval

LOW_SCORE = 2  # a score at or under this is listed for the supervisor
SATISFIED = 4  # a score at or over this is "satisfied"
LOW_SCORES_SHOWN = 10


@dataclass
class Counts(Additive):
    """What a group's surveys add up to; sums add across agents and teams."""

    sent: int = 0
    answered: int = 0
    score_sum: int = 0
    score_squares: int = 0
    satisfied: int = 0

    @property
    def response_rate(self) -> Estimate:
        return _share(self.answered, self.sent)

    @property
    def satisfied_share(self) -> Estimate:
        return _share(self.satisfied, self.answered)

    @property
    def mean_score(self) -> Estimate:
        n = self.answered
        return Sums(n, n, self.score_sum, n, self.score_sum, self.score_squares).mean()


def _share(successes: int, n: int) -> Estimate:
    """A share in % with Wilson's 95 % interval."""
    if n == 0:
        return Estimate(0, None, None, None, 0.0)
    low, high = wilson_interval(successes, n)
    return Estimate(n, 100 * successes / n, 100 * low, 100 * high, float(n))


def enough(est: Estimate) -> bool:
    """Whether the dashboard shows a figure for `est`: MIN_REVIEWS values and an interval."""
    return est.n >= MIN_REVIEWS and est.low is not None


@dataclass
class Row:
    name: str
    counts: Counts
    agent_id: int | None = None


@dataclass
class TeamRow:
    team_id: int | None
    name: str
    counts: Counts
    agents: list[Row] = field(default_factory=list)


@dataclass
class LowScore:
    case_id: int
    score: int
    comment: str
    answered_at: datetime
    agent: str


@dataclass
class Satisfaction:
    overall: Counts
    teams: list[TeamRow]
    low_scores: list[LowScore]

    @property
    def any(self) -> bool:
        return self.overall.sent > 0


_GROUPS_SQL = """
SELECT s.agent_id, s.team_id,
    count(*) AS sent,
    count(*) FILTER (WHERE s.state = 'answered') AS answered,
    coalesce(sum(s.score), 0), coalesce(sum(s.score * s.score), 0),
    count(*) FILTER (WHERE s.score >= %(satisfied)s) AS satisfied
FROM csat_survey s JOIN cases_reply r ON r.id = s.reply_id
WHERE s.created_at >= %(start)s AND s.state IN ('queued', 'answered') AND r.state = 'sent'
    {scope}
GROUP BY 1, 2
"""


def group_counts(
    start: datetime, agent_ids: set[int] | None, team_ids: set[int] | None
) -> dict[tuple[int | None, int | None], Counts]:
    """Counts per (agent, team) of the surveys sent since `start`; only the given agents'
    or teams' surveys when the viewer does not see all (None: all)."""
    params = {
        "start": start,
        "satisfied": SATISFIED,
        "agents": sorted(agent_ids or []),
        "teams": sorted(team_ids or []),
    }
    scope = ""
    if agent_ids is not None or team_ids is not None:
        scope = "AND (s.agent_id = ANY(%(agents)s) OR s.team_id = ANY(%(teams)s))"
    with connection.cursor() as cursor:
        cursor.execute(_GROUPS_SQL.format(scope=scope), params)
        rows = cursor.fetchall()
    return {(agent, team): Counts(*figures) for agent, team, *figures in rows}


def satisfaction(
    user: AbstractBaseUser | AnonymousUser,
    start: datetime,
    teams: list[tuple[int | None, str]],
    memberships: list[tuple[int | None, int]],
    names: dict[int, str],
    sees_all: bool,
) -> Satisfaction:
    """The dashboard's satisfaction figures for the viewer's `teams` and their agents
    (`memberships`, as qa.dashboard gives them; `names` the agents' names): two queries."""
    agent_ids = {user_id for _team, user_id in memberships}
    team_ids = {team_id for team_id, _name in teams if team_id is not None}
    counts = group_counts(start, None if sees_all else agent_ids, None if sees_all else team_ids)
    by_agent: dict[int, Counts] = defaultdict(Counts)
    by_team: dict[int | None, Counts] = defaultdict(Counts)
    overall = Counts()
    for (agent_id, team_id), c in counts.items():
        if agent_id is not None:
            by_agent[agent_id] += c
        by_team[team_id] += c
        if sees_all or agent_id in agent_ids or team_id in team_ids:
            overall += c
    members: dict[int | None, list[int]] = defaultdict(list)
    for team_id, user_id in memberships:
        members[team_id].append(user_id)
    rows = []
    for team_id, name in teams:
        if team_id is None:  # qa.dashboard's agents without a team: listed under no team here
            continue
        agents = [
            Row(names.get(a, f"#{a}"), by_agent[a], a)
            for a in sorted(members.get(team_id, []), key=lambda a: names.get(a, "").lower())
            if by_agent[a].sent
        ]
        if by_team[team_id].sent or agents:
            rows.append(TeamRow(team_id, name, by_team[team_id], agents))
    if sees_all and by_team[None].sent:  # cases no team owned
        rows.append(TeamRow(None, gettext("No team"), by_team[None], []))
    return Satisfaction(overall, rows, low_scores(user, start))


def low_scores(user: AbstractBaseUser | AnonymousUser, start: datetime) -> list[LowScore]:
    """The period's latest low scores on cases `user` sees, with the customer's comment (the
    answer's text as stored: removed with it when the post is deleted or erased)."""
    rows = (
        Survey.objects.filter(
            visible_q(user, "case__"),
            created_at__gte=start,
            state=Survey.State.ANSWERED,
            score__lte=LOW_SCORE,
        )
        .select_related("agent", "answer")
        .order_by("-answered_at", "-id")[:LOW_SCORES_SHOWN]
    )
    shown = []
    for survey in rows:
        answer = survey.answer
        text = answer.text if answer is not None and answer.deleted_at is None else ""
        agent = survey.agent
        shown.append(
            LowScore(
                survey.case_id,
                survey.score,
                comment_of(text),
                survey.answered_at,
                (agent.get_full_name() or agent.get_username()) if agent else "",
            )
        )
    return shown
