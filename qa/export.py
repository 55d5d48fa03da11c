"""The dashboard's figures as tables: shown under each chart, and exported as CSV.

Numbers are rounded for people (one decimal, two for the spike baselines). An estimate without
enough evidence leaves its figures empty, as the page shows none, and a column of its own says
why (a word in a score column would break a spreadsheet's sums and sorting).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from qa.dashboard import AgentRow, CriterionRow, Dashboard, TeamBlock
from qa.stats import Estimate


@dataclass
class Table:
    name: str
    title: str
    headers: list[str]
    rows: list[list[object]]


def _r(v: float | None, digits: int = 1) -> float | None:
    return None if v is None else round(v, digits)


def _est_cells(est: Estimate) -> list[object]:
    why = est.insufficient_because
    if why:
        return [est.n, _r(est.effective_n), None, None, None, why]
    return [est.n, _r(est.effective_n), _r(est.mean), _r(est.shown_low), _r(est.shown_high), ""]


EST_HEADERS = ["reviews", "effective n", "score", "95% low", "95% high", "no score because"]
PASS_HEADERS = ["pass rate %", "pass 95% low", "pass 95% high", "no pass rate because"]


def _pass_cells(est: Estimate) -> list[object]:
    why = est.insufficient_because
    if why:
        return [None, None, None, why]
    return [_r(est.mean), _r(est.low), _r(est.high), ""]


def _share_cells(est: Estimate) -> list[object]:
    """A service-level share: %, its interval, or why there is none (counted in cases)."""
    why = est.insufficient_reason("case")
    if why:
        return [None, None, None, why]
    return [_r(est.mean), _r(est.shown_low), _r(est.shown_high), ""]


GROUP_LABELS = {
    "above": "above the team",
    "within": "within the team",
    "below": "below the team",
    "insufficient": "insufficient evidence",
}


def _weekly_table(
    name: str,
    title: str,
    what: str,
    rows: Iterable[TeamBlock | AgentRow | CriterionRow],
    weeks: list[str],
    every_week: bool,
) -> Table:
    """One line per row and week: the row's name, the week's Monday and its estimate."""
    return Table(
        name,
        title,
        [what, "week", *EST_HEADERS],
        [
            [row.name, weeks[i], *_est_cells(est)]
            for row in rows
            for i, est in enumerate(row.weekly)
            if every_week or est.n
        ],
    )


def tables(d: Dashboard) -> dict[str, Table]:
    weeks = [w.isoformat() for w in d.week_starts]
    out = [
        Table(
            "teams",
            "QA score per team",
            ["team", *EST_HEADERS, *PASS_HEADERS],
            [[t.name, *_est_cells(t.score), *_pass_cells(t.pass_rate)] for t in d.teams],
        ),
        _weekly_table(
            "team_weeks", "QA score per team and week", "team", d.teams, weeks, every_week=True
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
        _weekly_table(
            "agent_weeks",
            "QA score per agent and week",
            "agent",
            sorted(d.agents.values(), key=lambda a: a.name.lower()),
            weeks,
            every_week=False,  # only the weeks with reviews: agents are many
        ),
        Table(
            "criteria",
            "Score per criterion (0-100)",
            ["criterion", *EST_HEADERS],
            [[c.name, *_est_cells(c.score)] for c in d.criteria],
        ),
        _weekly_table(
            "criterion_weeks",
            "Score per criterion and week (0-100)",
            "criterion",
            d.criteria,
            weeks,
            every_week=True,
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
            "service_levels",
            "Service levels met per team, channel and agent",
            [
                "scope",
                "name",
                "first responses with an outcome",
                "met",
                "met %",
                "95% low",
                "95% high",
                "no first-response share because",
                "resolutions with an outcome",
                "met",
                "met %",
                "95% low",
                "95% high",
                "no resolution share because",
            ],
            [
                [
                    scope,
                    row.name,
                    row.counts.first,
                    row.counts.first_met,
                    *_share_cells(row.counts.first_share),
                    row.counts.resolution,
                    row.counts.resolution_met,
                    *_share_cells(row.counts.resolution_share),
                ]
                for scope, rows in (
                    ("team", d.sla_teams),
                    ("channel", d.sla_channels),
                    ("agent", d.sla_agents),
                )
                for row in rows
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
