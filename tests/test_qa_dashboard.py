"""The supervisors' dashboard: numbers against hand computation, access, CSV, query counts."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.models import Case
from listening.models import Mention, Network
from qa import coaching, export, service
from qa import dashboard as dash
from qa.stats import Estimate, weighted_mean_ci, wilson_interval
from socialdesk import roles
from tests.conftest import logged_in, make_channel, make_user
from tests.factories import add_mention, make_case, make_review, make_rubric, make_team


@pytest.fixture(autouse=True)
def _no_dashboard_cache(monkeypatch):
    monkeypatch.setattr(service, "SERVICE_CACHE_SECONDS", 0)


@pytest.fixture
def channel(db):
    return make_channel(Network.X, name="Acme Support")


@pytest.fixture
def team(db, agent, supervisor):
    return make_team("Team A", [supervisor], [agent])


def reviews_for(agent, qa, channel, scores, weights=None, **fields):
    weights = weights or [1.0] * len(scores)
    return [
        make_review(agent, qa, score=s, weight=w, channel=channel, **fields)
        for s, w in zip(scores, weights, strict=True)
    ]


def csv_rows(client, table, weeks=4):
    response = client.get(reverse("qa:dashboard_csv"), {"table": table, "weeks": weeks})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


# ---------- the page's numbers ----------


def test_agent_score_is_the_weighted_mean_with_its_interval(team, agent, qa, supervisor, channel):
    scores, weights = [100, 90, 80, 70, 60, 100], [1, 1, 2, 2, 4, 1]
    reviews_for(agent, qa, channel, scores, weights)
    d = dash.build(supervisor, 4)
    row = d.agents[agent.pk]
    mean, low, high, eff = weighted_mean_ci(scores, weights)
    assert row.score.mean == pytest.approx(mean)  # 78.18
    assert row.score.low == pytest.approx(low)
    assert row.score.high == pytest.approx(high)
    assert row.score.n == 6
    rows = csv_rows(logged_in(supervisor), "agents")
    assert rows[0][:7] == [
        "team",
        "agent",
        "reviews",
        "effective n",
        "score",
        "95% low",
        "95% high",
    ]
    assert rows[1][:5] == ["Team A", "alice_agent", "6", str(round(eff, 1)), str(round(mean, 1))]


def test_pass_rate_has_a_wilson_interval(team, agent, qa, supervisor, channel):
    reviews_for(agent, qa, channel, [95] * 8 + [50, 70])
    d = dash.build(supervisor, 4)
    rate = d.agents[agent.pk].pass_rate
    assert rate.mean == pytest.approx(80.0)
    assert rate.low == pytest.approx(49.0, abs=0.05)  # Wilson 8 of 10: 0.490 .. 0.943
    assert rate.high == pytest.approx(94.3, abs=0.05)
    low, high = wilson_interval(8, 10)
    assert (rate.low, rate.high) == (pytest.approx(low * 100), pytest.approx(high * 100))
    assert rate.insufficient  # ±22.6 points: wider than ±20


def test_critical_failure_never_passes(team, agent, qa, supervisor, channel):
    reviews_for(agent, qa, channel, [90] * 5)
    reviews_for(agent, qa, channel, [90] * 5, critical_failed=True)  # score kept for the test
    rate = dash.build(supervisor, 4).agents[agent.pk].pass_rate
    assert rate.mean == pytest.approx(50.0)


def test_too_few_reviews_show_insufficient_evidence(team, agent, qa, supervisor, channel):
    reviews_for(agent, qa, channel, [97, 98, 99, 100])
    client = logged_in(supervisor)
    page = client.get(reverse("qa:dashboard")).content.decode()
    assert "Insufficient evidence" in page
    assert "98.5" not in page  # the mean of four reviews is never shown as a figure
    rows = csv_rows(client, "agents")
    assert rows[0][4:8] == ["score", "95% low", "95% high", "no score because"]
    assert rows[1][4:8] == ["", "", "", "insufficient evidence: 4 reviews, under 5"]
    assert rows[0][11] == "no pass rate because" and rows[1][8] == ""


def test_agents_are_grouped_by_interval_overlap(supervisor, qa, channel):
    high, mid, low = (make_user(n, roles.AGENT) for n in ("hana_high", "mo_mid", "lou_low"))
    make_team("Team A", [supervisor], [high, mid, low])
    reviews_for(high, qa, channel, [100, 98, 96, 100, 98, 96, 100, 98, 96, 100])
    reviews_for(mid, qa, channel, [80, 70, 60, 75, 65, 85, 55, 80, 70, 60])
    reviews_for(low, qa, channel, [40, 45, 50, 40, 45, 50, 40, 45, 50, 45])
    block = dash.build(supervisor, 4).teams[0]
    groups = {a.name: a.group for a in block.agents}
    assert groups == {"hana_high": "above", "mo_mid": "within", "lou_low": "below"}
    page = logged_in(supervisor).get(reverse("qa:dashboard")).content.decode()
    assert "Above the team" in page and "Below the team" in page
    groups_html = page[page.index("<h4>Above the team") :]
    assert groups_html.index("hana_high") < groups_html.index("mo_mid")
    assert groups_html.index("mo_mid") < groups_html.index("lou_low")


def test_criteria_are_weighted_and_the_weakest_listed(team, agent, qa, supervisor, channel):
    rubric = make_rubric()
    for _ in range(6):
        make_review(
            agent,
            qa,
            rubric=rubric,
            channel=channel,
            values={"right_person": 1, "tact": 2, "spelling": 3},
        )
    make_review(
        agent,
        qa,
        rubric=rubric,
        channel=channel,
        weight=3,
        values={"right_person": 1, "tact": 5, "spelling": None},
    )
    d = dash.build(supervisor, 4)
    by_code = {c.code: c for c in d.criteria}
    # tact (1-5): six 2s (25 points) and one 5 (100) weighted 3: (6*25 + 3*100) / 9 = 50
    assert by_code["tact"].score.mean == pytest.approx(50.0)
    assert by_code["right_person"].score.mean == pytest.approx(100.0)
    assert by_code["spelling"].score.n == 6  # N/A left out
    assert by_code["spelling"].score.mean == pytest.approx(100.0)
    # ±38 points: too uncertain to call it the weakest
    assert by_code["tact"].score.insufficient
    assert "tact" not in [c.code for c in d.weakest]
    assert [c.code for c in d.unranked] == ["tact"]
    page = logged_in(supervisor).get(reverse("qa:dashboard")).content.decode()
    assert "ranked by the upper end of their 95% interval" in page
    assert "Not ranked, too little evidence:</strong> Tact" in page


def test_weakest_are_ranked_by_what_the_evidence_supports():
    def row(code: str, mean: float, half: float, n: int = 20) -> dash.CriterionRow:
        return dash.CriterionRow(code, code, Estimate(n, mean, mean - half, mean + half, n), [])

    rows = [
        row("sure_low", 62, 2),  # at best 64
        row("maybe_lower", 58, 18),  # lower mean, but could be 76
        row("perfect", 100, 0),
        row("thin", 20, 40),  # far too uncertain to rank
        row("few", 10, 5, n=3),
    ]
    assert [c.code for c in dash._weakest(rows)] == ["sure_low", "maybe_lower", "perfect"]
    assert [c.code for c in dash._unranked(rows)] == ["few", "thin"]


def test_weakest_criterion_comes_first(team, agent, qa, supervisor, channel):
    rubric = make_rubric()
    for tact in (2, 2, 3, 2, 3, 2):
        make_review(
            agent,
            qa,
            rubric=rubric,
            channel=channel,
            values={"right_person": 1, "tact": tact, "spelling": 2},
        )
    d = dash.build(supervisor, 4)
    assert [c.code for c in d.weakest] == ["tact", "spelling", "right_person"]
    assert d.weakest[0].score.mean == pytest.approx(100 / 3)  # 2,2,3,2,3,2 on 1-5
    page = logged_in(supervisor).get(reverse("qa:dashboard")).content.decode()
    assert "Weakest #1" in page


def test_annulled_reviews_count_nowhere(team, agent, qa, supervisor, channel):
    reviews_for(agent, qa, channel, [90] * 5)
    bad = make_review(agent, qa, score=0.0, channel=channel)
    coaching.do_dispute_review(bad, agent, "wrong")
    coaching.do_resolve_dispute(bad, supervisor, uphold=True, note="yes")
    d = dash.build(supervisor, 4)
    assert d.agents[agent.pk].score.n == 5
    assert d.agents[agent.pk].score.mean == pytest.approx(90.0)
    assert {c.code: c.score.n for c in d.criteria}["tact"] == 5


def test_a_dispute_upheld_per_criterion_counts_with_the_corrected_values(
    team, agent, qa, supervisor, channel
):
    reviews_for(agent, qa, channel, [90] * 5)
    bad = make_review(agent, qa, score=50.0, channel=channel, values={"tact": 1})
    tact = bad.scores.get().criterion_id
    coaching.do_dispute_review(bad, agent, "I was kind")
    coaching.do_resolve_dispute(bad, supervisor, uphold=True, note="yes", corrections={tact: 5})
    d = dash.build(supervisor, 4)
    assert {c.code: c.score.n for c in d.criteria}["tact"] == 6
    assert d.agents[agent.pk].score.n == 6


def test_weeks_and_the_period(team, agent, qa, supervisor, channel):
    now = timezone.now()
    make_review(agent, qa, score=50, channel=channel, submitted_at=now - timedelta(weeks=2))
    make_review(agent, qa, score=70, channel=channel, submitted_at=now - timedelta(weeks=8))
    four = dash.build(supervisor, 4, now)
    twelve = dash.build(supervisor, 12, now)
    assert four.agents[agent.pk].score.n == 1
    assert twelve.agents[agent.pk].score.n == 2
    assert sum(e.n for e in four.teams[0].weekly) == 1
    week_of = dash.period_start(4, now).date()
    assert week_of.weekday() == 0
    rows = csv_rows(logged_in(supervisor), "team_weeks", weeks=12)
    assert len(rows) == 1 + 12
    assert sum(int(r[2]) for r in rows[1:]) == 2


def test_response_time_percentiles_per_channel(team, agent, supervisor, channel):
    opened = timezone.now() - timedelta(days=2)
    for minutes in (10, 20, 30, 40):
        case = make_case(channel, assignee=agent)
        Case.objects.filter(pk=case.pk).update(
            opened_at=opened,
            first_response_at=opened + timedelta(minutes=minutes),
            resolved_at=opened + timedelta(hours=minutes / 10),
        )
    make_case(channel, assignee=agent)  # not answered yet: left out of the percentiles
    times = dash.build(supervisor, 4).times
    assert len(times) == 1
    t = times[0]
    assert (t.cases, t.responded, t.resolved) == (5, 4, 4)
    assert t.first_p50 == pytest.approx(25) and t.first_p90 == pytest.approx(37)
    assert t.resolution_p50 == pytest.approx(2.5) and t.resolution_p90 == pytest.approx(3.7)
    rows = csv_rows(logged_in(supervisor), "response_times")
    assert rows[1][:6] == ["Acme Support", "x", "5", "4", "25.0", "37.0"]


def test_supervisors_response_times_cover_their_agents_cases(
    team, agent, supervisor, admin, channel
):
    stranger = make_user("stan_agent", roles.AGENT)
    case = make_case(channel, assignee=stranger)
    Case.objects.filter(pk=case.pk).update(first_response_at=case.opened_at + timedelta(hours=1))
    assert dash.build(supervisor, 4).times == []
    assert dash.build(admin, 4).times[0].cases == 1


def test_volume_by_channel_day_and_sentiment(supervisor, team, channel):
    case = make_case(channel)  # its first mention is neutral (0.0)
    for s in (-0.6, -0.05, 0.04, 0.5, 0.9):
        add_mention(case, "text", sentiment=s)
    rows = csv_rows(logged_in(supervisor), "volume")
    today = timezone.localdate().isoformat()
    # -0.05 is on the bound, so neutral, as everywhere on the desk (listening.radar)
    assert rows[1] == [today, "Acme Support", "1", "3", "2", "6"]


def test_volume_and_spikes_show_only_the_channels_of_the_viewers_teams(
    supervisor, admin, team, channel
):
    other_team = make_team("Team B")
    theirs = make_channel(Network.FACEBOOK, name="Acme Page", team=other_team)
    for target in (channel, theirs):
        case = make_case(target)
        add_mention(case, "text", sentiment=-0.6)
    mine = dash.build(supervisor, 4)
    assert set(mine.channels) == {channel.pk}  # the team's channel is shared: no team owns it
    assert set(mine.volume) == {channel.pk}
    assert set(dash.build(admin, 4).volume) == {channel.pk, theirs.pk}
    volume = csv_rows(logged_in(supervisor), "volume")
    assert {row[1] for row in volume[1:]} == {"Acme Support"}


def test_spike_alert_from_the_radar(supervisor, team, channel):
    case = make_case(channel)  # one mention 4 minutes ago
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    for i in range(24):  # baseline: one mention an hour, three days ago
        add_mention(case, "baseline", posted_at=hour - timedelta(days=3, hours=i, minutes=-5))
    for m in range(6):
        add_mention(case, "storm", posted_at=hour - timedelta(hours=2) + timedelta(minutes=m))
    d = dash.build(supervisor, 4, now)
    assert len(d.spikes) == 1
    spike = d.spikes[0]
    assert spike.hours == [(hour - timedelta(hours=2), 6)]
    assert spike.mean == pytest.approx(24 / 168)
    page = logged_in(supervisor).get(reverse("qa:dashboard")).content.decode()
    assert "Spike alerts" in page and "6 mentions at" in page
    rows = csv_rows(logged_in(supervisor), "spikes")
    assert rows[1][0] == "Acme Support" and rows[1][2] == "6"


def test_coaching_queue_lists_agents_under_threshold_and_overdue_follow_ups(
    supervisor, qa, channel
):
    weak, fine = make_user("wes_weak", roles.AGENT), make_user("fay_fine", roles.AGENT)
    make_team("Team A", [supervisor], [weak, fine])
    reviews_for(weak, qa, channel, [50, 60, 55, 65, 60, 58])
    reviews_for(fine, qa, channel, [90, 95, 85, 92, 88, 91])
    session = coaching.do_create_coaching(
        coach=supervisor,
        agent=fine,
        scheduled_for=timezone.now() - timedelta(days=20),
        follow_up_on=timezone.localdate() - timedelta(days=3),
    )
    queue = dash.build(supervisor, 4).queue
    assert [(q.name, q.reason) for q in queue] == [
        ("wes_weak", "Under the threshold"),
        ("fay_fine", "Follow-up overdue"),
    ]
    assert queue[1].session_id == session.pk
    page = logged_in(supervisor).get(reverse("qa:dashboard")).content.decode()
    assert reverse("qa:coaching", args=[session.pk]) in page


# ---------- access ----------


@pytest.mark.parametrize("persona", ["agent", "outsider"])
def test_dashboard_is_for_supervisors_and_qa(db, agent, outsider, persona):
    user = {"agent": agent, "outsider": outsider}[persona]
    client = logged_in(user)
    assert client.get(reverse("qa:dashboard")).status_code == 403
    assert client.get(reverse("qa:dashboard_csv"), {"table": "agents"}).status_code == 403


def test_supervisor_sees_only_their_teams_admin_everyone(
    team, agent, qa, supervisor, admin, channel
):
    carol = make_user("carol_agent", roles.AGENT)
    make_team("Team C", [make_user("olga", roles.SUPERVISOR)], [carol])
    reviews_for(agent, qa, channel, [90] * 5)
    reviews_for(carol, qa, channel, [40] * 5)
    mine = logged_in(supervisor)
    page = mine.get(reverse("qa:dashboard")).content.decode()
    assert "alice_agent" in page and "carol_agent" not in page and "Team C" not in page
    assert [r[1] for r in csv_rows(mine, "agents")[1:]] == ["alice_agent"]
    assert mine.get(reverse("qa:dashboard"), {"agent": carol.pk}).status_code == 404
    assert mine.get(reverse("qa:dashboard"), {"agent": agent.pk}).status_code == 200
    everyone = logged_in(admin)
    assert [r[1] for r in csv_rows(everyone, "agents")[1:]] == ["alice_agent", "carol_agent"]


def test_qa_specialist_sees_the_dashboard_of_their_own_team(team, agent, qa, supervisor, channel):
    carol = make_user("carol_agent", roles.AGENT)
    make_team("Team C", [], [carol])
    team.members.add(qa)
    reviews_for(agent, qa, channel, [90] * 5)
    reviews_for(carol, qa, channel, [40] * 5)
    client = logged_in(qa)
    page = client.get(reverse("qa:dashboard")).content.decode()
    assert "Your teams: Team A" in page and "alice_agent" in page
    body = page.split('id="dashboard-body"')[1]
    assert "carol_agent" not in body and "quinn_qa" not in body  # not graded among the agents
    assert reverse("qa:disputes") not in page  # disputes and coaching stay the supervisors'
    assert [r[1] for r in csv_rows(client, "agents")[1:]] == ["alice_agent"]
    assert client.get(reverse("qa:dashboard"), {"agent": carol.pk}).status_code == 404


def test_qa_specialist_in_no_team_sees_an_empty_dashboard(db, qa):
    page = logged_in(qa).get(reverse("qa:dashboard")).content.decode()
    assert "You are in no team yet" in page


def test_csv_unknown_table_is_404_and_formulas_are_defused(team, agent, qa, supervisor, channel):
    agent.first_name = '=HYPERLINK("http://evil")'
    agent.save()
    reviews_for(agent, qa, channel, [90] * 5)
    client = logged_in(supervisor)
    assert client.get(reverse("qa:dashboard_csv"), {"table": "nope"}).status_code == 404
    rows = csv_rows(client, "agents")
    assert rows[1][1].startswith("'=HYPERLINK")


def test_every_table_exports(team, agent, qa, supervisor, channel):
    reviews_for(agent, qa, channel, [90] * 5)
    client = logged_in(supervisor)
    d = dash.build(supervisor, 4)
    for name, table in export.tables(d).items():
        rows = csv_rows(client, name)
        assert rows[0] == table.headers
        assert len(rows) == 1 + len(table.rows)


def test_period_switch_answers_htmx_with_the_fragment(team, supervisor):
    client = logged_in(supervisor)
    response = client.get(reverse("qa:dashboard"), {"weeks": 12}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'id="dashboard-body"' in body and "<html" not in body
    assert 'aria-current="page">Last 12 weeks' in body


def test_charts_are_accessible_svg_without_inline_style(team, agent, qa, supervisor, channel):
    reviews_for(agent, qa, channel, [90, 80, 70, 85, 95])
    page = logged_in(supervisor).get(reverse("qa:dashboard")).content.decode()
    assert page.count('<svg class="chart') >= 4
    assert 'role="img"' in page and "<title>Team A: QA score per week</title>" in page
    assert "style=" not in page
    assert "Data table:" in page


# ---------- constant queries ----------


def _dashboard_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("qa:dashboard"))
    assert response.status_code == 200
    return len(ctx)


def _add_agents(count, supervisor, qa, channel, start):
    agents = [make_user(f"agent_{start + i}", roles.AGENT) for i in range(count)]
    make_team(f"Team {start}", [supervisor], agents)
    for a in agents:
        reviews_for(a, qa, channel, [80, 60])
        coaching.do_create_coaching(
            coach=supervisor,
            agent=a,
            scheduled_for=timezone.now() - timedelta(days=9),
            follow_up_on=timezone.localdate() - timedelta(days=1),
        )
    for _ in range(count):
        case = make_case(channel)
        Case.objects.filter(pk=case.pk).update(first_response_at=timezone.now())
        Mention.objects.filter(case=case).update(sentiment=-0.4)


def test_dashboard_queries_do_not_grow_with_agents(
    supervisor, qa, channel, django_assert_num_queries
):
    client = logged_in(supervisor)
    _add_agents(5, supervisor, qa, channel, 0)
    five = _dashboard_queries(client)
    _add_agents(15, supervisor, qa, channel, 100)
    with django_assert_num_queries(five):
        client.get(reverse("qa:dashboard"))
    # The service levels met: one GROUP BY, cached with the service figures; customer
    # satisfaction: a GROUP BY and the low scores (csat.stats).
    assert five <= 23


def test_csv_downloads_are_visible_outside_the_folded_tables(team, agent, qa, supervisor, channel):
    reviews_for(agent, qa, channel, [90] * 5)
    page = logged_in(supervisor).get(reverse("qa:dashboard")).content.decode()
    for name in set(export.tables(dash.build(supervisor, 4))) - {"spikes"}:  # none in 24 h
        link = page.index(f'href="{reverse("qa:dashboard_csv")}?table={name}&amp;')
        assert "<details" not in page[page.rindex('<div class="qa-data">', 0, link) : link]


# ---------- service levels met ----------


def _sla_case(channel, assignee, *, answered_after=None, waited=timedelta(hours=3), **fields):
    """A case opened `waited` ago under the desk default (first response within 60 min),
    answered `answered_after` its opening (None: not yet)."""
    case = make_case(channel, waited=waited, assignee=assignee, **fields)
    if answered_after is not None:
        Case.objects.filter(pk=case.pk).update(
            first_response_at=case.opened_at + answered_after, status="pending"
        )
    return case


def test_service_levels_met_per_team_channel_and_agent(team, agent, supervisor, channel):
    other = make_user("bo_agent", roles.AGENT)
    make_team("Team B", [], [other])
    team.members.add(other)  # in both teams: counted in both
    facebook = make_channel(Network.FACEBOOK, name="Acme Page")
    for _ in range(8):
        _sla_case(channel, agent, answered_after=timedelta(minutes=20))  # met
    for _ in range(2):
        _sla_case(channel, agent, answered_after=timedelta(minutes=90))  # missed
    _sla_case(channel, agent)  # open, 3 h without a reply: missed
    _sla_case(channel, agent, waited=timedelta(minutes=10))  # open, still in time: no outcome
    _sla_case(channel, agent, status="closed")  # closed without a reply: no outcome
    for _ in range(4):
        _sla_case(facebook, other, answered_after=timedelta(minutes=5))
    d = dash.build(supervisor, 4)

    teams = {row.name: row.counts for row in d.sla_teams}
    assert (teams["Team A"].first, teams["Team A"].first_met) == (15, 12)
    share = teams["Team A"].first_share
    low, high = wilson_interval(12, 15)
    assert share.mean == pytest.approx(80.0)
    assert (share.low, share.high) == (pytest.approx(low * 100), pytest.approx(high * 100))
    channels = {row.name: row.counts for row in d.sla_channels}
    assert (channels["Acme Support"].first, channels["Acme Support"].first_met) == (11, 8)
    assert channels["Acme Page"].first_share.insufficient  # 4 cases: under 5
    agents = {row.name: row.counts for row in d.sla_agents}
    assert (agents["alice_agent"].first, agents["bo_agent"].first) == (11, 4)

    client = logged_in(supervisor)
    page = client.get(reverse("qa:dashboard")).content.decode()
    assert "Service levels met" in page and "80 %" in page
    assert "insufficient evidence: 4 cases, under 5" in page
    rows = csv_rows(client, "service_levels")
    assert rows[1][:5] == ["team", "Team A", "15", "12", "80.0"]


def test_resolution_met_counts_resolved_cases_and_open_ones_past_due(agent, supervisor, team):
    from sla.models import Policy

    x = make_channel(Network.X, name="Resolutions")
    Policy.objects.create(name="Resolve", first_response_minutes=60, resolution_minutes=120)
    for minutes in (30, 60, 100, 150, 200):
        case = make_case(x, waited=timedelta(hours=5), assignee=agent)
        Case.objects.filter(pk=case.pk).update(
            status="resolved", resolved_at=case.opened_at + timedelta(minutes=minutes)
        )
    make_case(x, waited=timedelta(hours=5), assignee=agent)  # open past due: missed
    counts = next(row.counts for row in dash.build(supervisor, 4).sla_channels)
    assert (counts.resolution, counts.resolution_met) == (6, 3)
