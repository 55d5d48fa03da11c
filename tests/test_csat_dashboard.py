"""Customer satisfaction on the supervisors' dashboard and the case page: response rate, mean
score and share satisfied per agent and team with their intervals, in constant queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.models import CaseEvent, CaseStatus, Reply
from csat.models import Survey
from csat.stats import Counts
from listening.models import Network
from qa import dashboard as dash
from qa import service
from qa.stats import wilson_interval
from socialdesk import roles
from tests.conftest import logged_in, make_channel, make_user
from tests.factories import HOSTILE, add_mention, make_case, make_reply, make_team

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_dashboard_cache(monkeypatch):
    monkeypatch.setattr(service, "SERVICE_CACHE_SECONDS", 0)


@pytest.fixture
def channel(db):
    return make_channel(Network.X, name="Acme Support")


@pytest.fixture
def team(db, agent, supervisor):
    return make_team("Team A", [supervisor], [agent])


def make_survey(channel, agent, team, score=None, *, comment="", sent=True, created=None):
    """A resolved private case of `agent` whose survey went out (answered with `score`, and
    `comment` after it, when given)."""
    case = make_case(channel, is_private=True, assignee=agent, status=CaseStatus.RESOLVED)
    now = timezone.now()
    reply = make_reply(
        case,
        agent,
        Reply.State.SENT if sent else Reply.State.FAILED,
        is_private=True,
        sent_at=now if sent else None,
        text="How did we do?",
    )
    survey = Survey.objects.create(
        case=case,
        channel=channel,
        customer=case.customer,
        conversation_key=case.conversation_key,
        agent=agent,
        team=team,
        state=Survey.State.QUEUED,
        reply=reply,
        created_at=created or now,
    )
    if score is not None:
        answer = add_mention(case, f"{score} - {comment}" if comment else str(score))
        Survey.objects.filter(pk=survey.pk).update(
            state=Survey.State.ANSWERED, score=score, answer=answer, answered_at=now
        )
        CaseEvent.objects.create(
            case=case,
            kind=CaseEvent.Kind.SURVEY_QUEUED,
            data={"reply_id": reply.pk, "survey_id": survey.pk},
        )
        CaseEvent.objects.create(
            case=case,
            kind=CaseEvent.Kind.SURVEY_ANSWERED,
            data={"survey_id": survey.pk, "score": score, "mention_id": answer.pk},
        )
    return case


def test_response_rate_score_and_satisfied_per_agent_and_team(team, agent, supervisor, channel):
    other = make_user("bo_agent", roles.AGENT)
    team.members.add(other)
    scores = [5, 5, 4, 4, 3, 2, 5, 4]  # 8 answers of 10 surveys sent
    for score in scores:
        make_survey(channel, agent, team, score)
    make_survey(channel, agent, team)
    make_survey(channel, agent, team)
    make_survey(channel, agent, team, sent=False)  # never reached the customer: not counted
    for score in (1, 2):
        make_survey(channel, other, team, score)
    old = timezone.now() - timedelta(weeks=10)
    make_survey(channel, agent, team, 1, created=old)  # before the period

    d = dash.build(supervisor, 4)
    (row,) = d.satisfaction.teams
    mine = {a.name: a.counts for a in row.agents}["alice_agent"]
    assert (mine.sent, mine.answered, mine.satisfied) == (10, 8, 6)
    rate = mine.response_rate
    low, high = wilson_interval(8, 10)
    assert rate.mean == pytest.approx(80.0)
    assert (rate.low, rate.high) == (pytest.approx(100 * low), pytest.approx(100 * high))
    score = mine.mean_score
    mean = sum(scores) / 8
    sd = (sum((s - mean) ** 2 for s in scores) / 7) ** 0.5
    assert score.mean == pytest.approx(mean)
    assert score.high - score.mean == pytest.approx(1.96 * sd / 8**0.5)
    assert mine.satisfied_share.mean == pytest.approx(75.0)
    # The team adds its agents up.
    assert (row.counts.sent, row.counts.answered, row.counts.satisfied) == (12, 10, 6)
    assert d.satisfaction.overall == row.counts
    assert [low.score for low in d.satisfaction.low_scores] == [2, 1, 2]


def test_too_few_surveys_show_no_figure():
    thin = Counts(sent=4, answered=3, score_sum=12, score_squares=48, satisfied=3)
    assert thin.response_rate.insufficient and thin.mean_score.insufficient


def test_the_page_shows_satisfaction_beside_the_qa_score_and_escapes_comments(
    team, agent, supervisor, channel
):
    for score in (5, 4, 4, 5, 3):
        make_survey(channel, agent, team, score)
    case = make_survey(channel, agent, team, 1, comment=HOSTILE)
    page = logged_in(supervisor).get(reverse("qa:dashboard")).content.decode()
    section = page[page.index('id="satisfaction"') :]
    assert "Customer satisfaction" in section and "Response rate" in section
    assert "100 %" in section  # every survey answered
    assert "3.7" in section  # the mean of 5, 4, 4, 5, 3, 1
    assert f'href="{reverse("cases:detail", args=[case.pk])}"' in section
    assert "<script>alert" not in page and "&lt;script&gt;alert" in section


def test_the_page_says_when_no_survey_was_sent(team, supervisor):
    page = logged_in(supervisor).get(reverse("qa:dashboard")).content.decode()
    assert "No satisfaction survey was sent in this period." in page


def test_a_supervisor_sees_only_their_teams_surveys(team, agent, supervisor, channel):
    stranger = make_user("sid_agent", roles.AGENT)
    elsewhere = make_team("Team B", [], [stranger])
    make_survey(channel, stranger, elsewhere, 1, comment="not yours")
    make_survey(channel, agent, team, 5)
    d = dash.build(supervisor, 4)
    assert d.satisfaction.overall.sent == 1
    assert [t.name for t in d.satisfaction.teams] == ["Team A"]


def test_dashboard_queries_do_not_grow_with_surveys(
    team, agent, supervisor, channel, django_assert_num_queries
):
    client = logged_in(supervisor)
    make_survey(channel, agent, team, 2, comment="slow")
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("qa:dashboard"))
    for score in (1, 2, 3, 4, 5) * 4:
        make_survey(channel, agent, team, score, comment="meh")
    with django_assert_num_queries(len(one)):
        client.get(reverse("qa:dashboard"))


def test_the_case_page_shows_the_score_and_the_escaped_comment(team, agent, supervisor, channel):
    case = make_survey(channel, agent, team, 2, comment=HOSTILE)
    page = logged_in(agent).get(reverse("cases:detail", args=[case.pk])).content.decode()
    card = page[page.index('id="survey-title"') :]
    assert "2 out of 5" in card
    assert "&lt;script&gt;alert" in card and "<script>alert" not in page
    assert "recorded the customer&#x27;s satisfaction score: 2 out of 5" in page
    assert "Satisfaction survey</span>" in page  # the survey's reply is marked on the timeline


def test_the_case_page_says_why_no_survey_was_sent(agent, channel):
    case = make_case(channel, assignee=agent, status=CaseStatus.RESOLVED)
    CaseEvent.objects.create(
        case=case,
        kind=CaseEvent.Kind.SURVEY_SKIPPED,
        data={"skip": "not_private", "why": "the conversation is not a private one"},
    )
    page = logged_in(agent).get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert "did not send a satisfaction survey: the conversation is not a private one" in page
    assert "Not sent: the conversation is not a private one." in page
