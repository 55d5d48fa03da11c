"""Customer satisfaction as the dashboard shows it: each figure as text, its interval, and why
there is none when the evidence is too thin (qa.stats' rules, as for QA's service levels)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from qa.stats import Estimate

if TYPE_CHECKING:
    from qa.dashboard import Dashboard


@dataclass
class Cell:
    text: str  # "62 %", "4.3" or "—"
    detail: str  # "95% 50–73 · 40 surveys", or why there is no figure
    insufficient: bool


@dataclass
class SatisfactionRow:
    """One team's or agent's satisfaction, with their QA score beside it."""

    name: str
    sent: int
    response: Cell
    score: Cell
    satisfied: Cell
    qa: Estimate | None
    agent_id: int | None = None
    is_team: bool = False


def score_cell(est: Estimate) -> Cell:
    """A mean score from 1 to 5 and its 95 % interval."""
    why = est.insufficient_reason("answer")
    if why:
        return Cell("—", why, True)
    low, high = max(1.0, est.low or 1.0), min(5.0, est.high or 5.0)
    return Cell(f"{est.mean:.1f}", f"95% {low:.1f}–{high:.1f} · {est.n} answers", False)


def share_cell(est: Estimate, unit: str) -> Cell:
    """A share in % and its 95 % Wilson interval, out of `est.n` `unit`s."""
    why = est.insufficient_reason(unit)
    if why:
        return Cell("—", why, True)
    return Cell(
        f"{est.mean:.0f} %",
        f"95% {est.shown_low:.0f}–{est.shown_high:.0f} · {est.n} {unit}s",
        False,
    )


def rows(d: Dashboard) -> list[SatisfactionRow]:
    """Each team's figures, then its agents', with the QA score of each beside."""
    shown: list[SatisfactionRow] = []
    if d.satisfaction is None:
        return shown
    qa_by_team = {block.team_id: block.score for block in d.teams}
    for team in d.satisfaction.teams:
        groups = [(team.name, team.counts, qa_by_team.get(team.team_id), None, True)]
        groups += [
            (a.name, a.counts, getattr(d.agents.get(a.agent_id), "score", None), a.agent_id, False)
            for a in team.agents
        ]
        for name, c, qa_score, agent_id, is_team in groups:
            shown.append(
                SatisfactionRow(
                    name,
                    c.sent,
                    share_cell(c.response_rate, "survey"),
                    score_cell(c.mean_score),
                    share_cell(c.satisfied_share, "answer"),
                    qa_score,
                    agent_id,
                    is_team,
                )
            )
    return shown


def overall(d: Dashboard) -> dict[str, Cell] | None:
    """The key figures over every survey the viewer sees; None without any survey sent."""
    if d.satisfaction is None or not d.satisfaction.any:
        return None
    c = d.satisfaction.overall
    return {
        "response": share_cell(c.response_rate, "survey"),
        "score": score_cell(c.mean_score),
        "satisfied": share_cell(c.satisfied_share, "answer"),
        "sent": c.sent,
        "answered": c.answered,
    }
