"""The supervisors' dashboard (/qa/dashboard/) and its CSV export (/qa/dashboard/csv/).

Supervisors and QA specialists (qa.view_team_dashboard) see their teams (qa.coaching.
dashboard_teams); admins everything. The figures are
computed by qa.dashboard.build (a dozen GROUP BY queries): the QA figures on every request
(a resolved dispute shows at once), the service figures (response times, volume, spikes) of
the channels the viewer sees, kept a few minutes (qa.dashboard.SERVICE_CACHE_SECONDS). The page
says when each was computed.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext, pgettext
from django.views.decorators.http import require_GET

from csat import display as csat_display
from qa import charts, export, stats
from qa import dashboard as dash
from socialdesk.access import require_perm
from socialdesk.params import parse_int, require_id

VIEW_PERM = "qa.view_team_dashboard"


def access_dashboard(request: HttpRequest) -> None:
    require_perm(request, VIEW_PERM, message="The dashboard is for supervisors and QA specialists.")


def parse_weeks(request: HttpRequest) -> int:
    weeks = parse_int(request.GET.get("weeks", ""))
    return weeks if weeks in dash.PERIODS else dash.DEFAULT_PERIOD


def get_dashboard(request: HttpRequest, weeks: int) -> dash.Dashboard:
    return dash.build(request.user, weeks)


@dataclass
class TeamView:
    block: dash.TeamBlock
    trend: SafeString
    intervals: SafeString
    groups: dict[str, list[dash.AgentRow]]


@dataclass
class ShareCell:
    """A service-level share as the page shows it."""

    text: str  # "92 %" or "—"
    detail: str  # "95% 85–96 · 40 cases" or why there is no figure
    insufficient: bool


def _share(est: stats.Estimate) -> ShareCell:
    why = est.insufficient_reason("case")
    if why:
        return ShareCell("—", why, True)
    return ShareCell(
        f"{est.mean:.0f} %",
        ngettext(
            "95%% %(low).0f–%(high).0f · %(n)d case",
            "95%% %(low).0f–%(high).0f · %(n)d cases",
            est.n,
        )
        % {"low": est.shown_low, "high": est.shown_high, "n": est.n},
        False,
    )


def _sla_rows(rows: list[dash.SlaRow]) -> list[tuple[dash.SlaRow, ShareCell, ShareCell]]:
    return [(r, _share(r.counts.first_share), _share(r.counts.resolution_share)) for r in rows]


def _sla_chart(rows: list[dash.SlaRow], title: str) -> SafeString:
    intervals = []
    for row in rows:
        est = row.counts.first_share
        css = "insufficient" if est.insufficient else "within"
        intervals.append(charts.Interval(row.name, est.mean, est.shown_low, est.shown_high, css))
    return charts.interval_chart(intervals, title=title)


def _week_label(d) -> str:
    return f"{d.day} {d:%b}"


def _points(weekly: list[dash.Estimate], labels: list[str]) -> list[charts.Point]:
    return [
        charts.Point(label, e.mean, e.low, e.high, e.insufficient)
        for label, e in zip(labels, weekly, strict=True)
    ]


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    access_dashboard(request)
    weeks = parse_weeks(request)
    agent_id = require_id(request.GET, "agent")
    d = get_dashboard(request, weeks)
    selected = None
    if agent_id is not None:
        selected = d.agents.get(agent_id)
        if selected is None:
            raise Http404("No such agent in your teams.")
    labels = [_week_label(w) for w in d.week_starts]
    teams = []
    for block in d.teams:
        band = None
        if not block.score.insufficient:
            band = (block.score.shown_low or 0.0, block.score.shown_high or 100.0)
        teams.append(
            TeamView(
                block,
                charts.line_chart(
                    _points(block.weekly, labels), title=f"{block.name}: QA score per week"
                ),
                charts.interval_chart(
                    [
                        charts.Interval(
                            a.name, a.score.mean, a.score.shown_low, a.score.shown_high, a.group
                        )
                        for a in block.agents
                    ],
                    title=f"{block.name}: each agent's score and 95% interval against the "
                    "team's (shaded)",
                    band=band,
                ),
                block.grouped(),
            )
        )
    criteria = [
        (
            c,
            charts.line_chart(
                _points(c.weekly, labels), title=f"{c.name} per week", width=360, height=150
            ),
        )
        for c in d.criteria
    ]
    times_chart = charts.bar_chart(
        [t.name for t in d.times],
        [
            charts.Series("p50", [t.first_p50 or 0 for t in d.times], "chart__bar--a"),
            charts.Series("p90", [t.first_p90 or 0 for t in d.times], "chart__bar--b"),
        ],
        title="First-response time per channel, median and 90th percentile (minutes)",
        stacked=False,
        unit=" min",
    )
    totals = d.volume_totals()
    volume_chart = charts.bar_chart(
        [_week_label(day) for day in d.volume_days],
        [
            charts.Series("negative", [t[0] for t in totals], "chart__bar--neg"),
            charts.Series("neutral", [t[1] for t in totals], "chart__bar--neu"),
            charts.Series("positive", [t[2] for t in totals], "chart__bar--pos"),
        ],
        title="Mentions per day by sentiment, all channels",
        width=760,
    )
    spikes = [
        (
            s,
            charts.spark_bars(
                s.recent,
                s.flagged_indexes,
                threshold=s.threshold,
                title=f"{s.name}: mentions per hour, last 24 hours; flagged hours highlighted",
            ),
        )
        for s in d.spikes
    ]
    agent_chart = None
    if selected is not None:
        agent_chart = charts.line_chart(
            _points(selected.weekly, labels), title=f"{selected.name}: QA score per week"
        )
    context = {
        "d": d,
        "sla_chart": _sla_chart(
            d.sla_teams + d.sla_channels,
            title=gettext(
                # xgettext:no-python-format
                "First responses within the service level, per team and channel: share "
                "and 95% interval"
            ),
        ),
        "sla_sections": [
            (gettext("Teams"), pgettext("column", "Team"), _sla_rows(d.sla_teams)),
            (gettext("Channels"), pgettext("column", "Channel"), _sla_rows(d.sla_channels)),
            (gettext("Agents"), pgettext("column", "Agent"), _sla_rows(d.sla_agents)),
        ],
        "satisfaction_rows": csat_display.rows(d),
        "satisfaction_overall": csat_display.overall(d),
        "has_sla": any(r.counts.first or r.counts.resolution for r in d.sla_channels),
        "weeks": weeks,
        "periods": dash.PERIODS,
        "teams": teams,
        "criteria": criteria,
        "times_chart": times_chart,
        "has_first_response": any(t.first_p50 is not None for t in d.times),
        "volume_chart": volume_chart,
        "spikes": spikes,
        "selected": selected,
        "agent_chart": agent_chart,
        "week_labels": labels,
        "tables": export.tables(d),
        "MIN_REVIEWS": stats.MIN_REVIEWS,
        "MAX_HALF_WIDTH": stats.MAX_HALF_WIDTH,
        "THRESHOLD": dash.COACHING_THRESHOLD,
        "PASS_MARK": dash.PASS_MARK,
    }
    if request.htmx:
        return render(request, "qa/dashboard.html#dashboard-body", context)
    return render(request, "qa/dashboard.html", context)


def _csv_cell(value: object) -> object:
    """Numbers as they are; text that a spreadsheet would run as a formula is defused."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@require_GET
def dashboard_csv(request: HttpRequest) -> HttpResponse:
    access_dashboard(request)
    weeks = parse_weeks(request)
    name = request.GET.get("table", "")
    d = get_dashboard(request, weeks)
    table = export.tables(d).get(name)
    if table is None:
        raise Http404("No such table.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = d.generated_at.strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="qa-{table.name}-{weeks}w-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow([_csv_cell(v) for v in row])
    return response


urlpatterns = [
    path("dashboard/", dashboard, name="dashboard"),
    path("dashboard/csv/", dashboard_csv, name="dashboard_csv"),
]
