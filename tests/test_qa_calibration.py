"""Calibration sessions (blind), agreement results per role, reviewer drift, gold replies."""

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from qa import calibration as cal
from qa.drift import MIN_SIGMA, Observation, drift_charts, ewma_chart, reviewer_drift
from qa.models import CalibrationSession, GoldReply, Review
from qa.reviews import do_create_review, do_submit_review
from qa.rubrics import default_rubric
from socialdesk import roles
from tests.conftest import logged_in, make_user
from tests.factories import HOSTILE, make_sent_reply


def criteria():
    return list(default_rubric().criteria.order_by("position", "id"))


def values_for(review: Review, level: int) -> dict[int, int | None]:
    """A value per criterion: `level` 0 = bottom of each scale, 1 = middle, 2 = top."""
    out = {}
    for criterion in review.rubric.criteria.all():
        low, high = criterion.min_value, criterion.max_value
        out[criterion.pk] = [low, (low + high) // 2 if high - low > 1 else high, high][level]
    return out


def submit(review: Review, values: dict[int, int | None], at=None) -> Review:
    review = do_submit_review(review, values, "")
    if at is not None:
        Review.objects.filter(pk=review.pk).update(submitted_at=at)
    return review


@pytest.fixture
def qa2(db):
    return make_user("rory_qa", roles.QA)


@pytest.fixture
def qa3(db):
    return make_user("tess_qa", roles.QA)


@pytest.fixture
def session(x_channel, agent, qa, qa2, qa3) -> CalibrationSession:
    replies = [make_sent_reply(agent, x_channel, text=f"Reply {i}") for i in range(4)]
    return cal.do_create_session("Week 1", default_rubric(), replies, [qa, qa2, qa3], qa)


def reviews_of(session, reviewer) -> list[Review]:
    return list(Review.objects.filter(calibration=session, reviewer=reviewer).order_by("reply_id"))


def submit_all(session, reviewers, levels) -> None:
    """levels[r][i]: the level reviewer r gives reply i (see values_for)."""
    for reviewer, row in zip(reviewers, levels, strict=True):
        for review, level in zip(reviews_of(session, reviewer), row, strict=True):
            submit(review, values_for(review, level))


# ---------- creating a session ----------


def test_session_gives_every_reviewer_a_pending_calibration_review_of_every_reply(
    session, qa, qa2, qa3
):
    reviews = Review.objects.filter(calibration=session)
    assert reviews.count() == 4 * 3
    assert set(reviews.values_list("kind", flat=True)) == {Review.Kind.CALIBRATION}
    assert set(reviews.values_list("status", flat=True)) == {Review.Status.PENDING}
    for reviewer in (qa, qa2, qa3):
        mine = Review.objects.filter(reviewer=reviewer, status=Review.Status.PENDING)
        assert set(mine.values_list("reply_id", flat=True)) == set(
            session.replies.values_list("id", flat=True)
        )
    assert set(session.reviewers.all()) == {qa, qa2, qa3}


def test_session_needs_two_reviewers_who_may_review(x_channel, agent, qa):
    reply = make_sent_reply(agent, x_channel)
    with pytest.raises(cal.CalibrationError, match="two reviewers"):
        cal.do_create_session("Solo", default_rubric(), [reply], [qa], qa)
    with pytest.raises(cal.CalibrationError, match="Not QA reviewers: alice_agent"):
        cal.do_create_session("Mixed", default_rubric(), [reply], [qa, agent], qa)
    assert not CalibrationSession.objects.exists()
    assert not Review.objects.exists()


# ---------- results ----------


def test_perfect_agreement_scores_alpha_one_and_no_deviation(session, qa, qa2, qa3):
    submit_all(session, [qa, qa2, qa3], [[0, 1, 2, 1]] * 3)
    results = cal.session_results(session)
    assert results.complete
    varying = [c for c in results.criteria if c.alpha is not None]
    assert varying and all(c.alpha == pytest.approx(1.0) for c in varying)
    assert not results.flagged
    assert results.overall == pytest.approx(1.0)
    assert all(d.signed == 0 and d.exact == 1 for d in results.reviewers)


def test_disagreement_is_flagged_under_the_floor_and_the_lenient_reviewer_stands_out(
    session, qa, qa2, qa3
):
    submit_all(session, [qa, qa2, qa3], [[0, 1, 2, 0], [0, 1, 2, 0], [2, 2, 2, 2]])
    results = cal.session_results(session)
    assert results.flagged, "a reviewer who gives everything top marks breaks agreement"
    assert all(c.alpha < 0.667 for c in results.flagged)
    by_name = {d.reviewer.username: d for d in results.reviewers}
    assert by_name["tess_qa"].signed > 0.3  # lenient: well above the others' median
    assert by_name["quinn_qa"].signed < 0  # the median of the others includes tess
    assert by_name["quinn_qa"].absolute < by_name["tess_qa"].absolute
    # Items with the widest spread of scores come first.
    assert results.items[0].spread >= results.items[-1].spread


def test_level_follows_the_scale(db):
    by_scale = {c.scale: cal.level_for(c) for c in criteria()}
    assert by_scale.get("yes_no", "nominal") == "nominal"
    assert by_scale.get("1_5", "ordinal") == "ordinal"
    assert by_scale.get("1_3", "ordinal") == "ordinal"


def test_results_take_a_constant_number_of_queries(
    x_channel, agent, qa, qa2, qa3, django_assert_max_num_queries
):
    def make(n):
        replies = [make_sent_reply(agent, x_channel) for _ in range(n)]
        session = cal.do_create_session(f"S{n}", default_rubric(), replies, [qa, qa2, qa3], qa)
        submit_all(session, [qa, qa2, qa3], [[i % 3 for i in range(n)]] * 3)
        return session

    small, large = make(2), make(12)
    with django_assert_max_num_queries(6):
        cal.session_results(small)
    with django_assert_max_num_queries(6):
        cal.session_results(large)


# ---------- pages per role ----------


def page(session) -> str:
    return reverse("qa:calibration", args=[session.pk])


def test_anonymous_is_sent_to_login(client, session):
    for url in (reverse("qa:calibration_list"), page(session)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_agents_and_outsiders_may_not_see_calibration(session, agent, outsider):
    for user in (agent, outsider):
        client = logged_in(user)
        assert client.get(reverse("qa:calibration_list")).status_code == 403
        assert client.get(page(session)).status_code == 403
        assert client.post(reverse("qa:calibration_list"), {"name": "x"}).status_code == 403


def test_reviewer_sees_no_scores_before_everyone_submitted(session, qa, qa2, qa3):
    submit_all(session, [qa, qa2], [[2, 2, 2, 2], [0, 0, 0, 0]])
    response = logged_in(qa).get(page(session))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Results are blind until everyone has submitted" in body
    assert "8 of 12 reviews are in" in body
    assert "Agreement per criterion" not in body
    assert "Drift over time" not in body
    # The list shows no alpha for the running session either.
    listing = logged_in(qa).get(reverse("qa:calibration_list")).content.decode()
    assert "blind" in listing


def test_reviewer_sees_results_once_all_submitted(session, qa, qa2, qa3):
    submit_all(session, [qa, qa2, qa3], [[0, 1, 2, 0], [0, 1, 2, 0], [2, 2, 2, 2]])
    body = logged_in(qa2).get(page(session)).content.decode()
    assert "Agreement per criterion" in body
    assert "Below the 0.667 floor for tentative conclusions" in body
    # The drift charts are made of gold checks too: they are the supervisors'.
    assert "tess_qa" in body and "Drift over time" not in body


def test_supervisor_sees_interim_results_at_any_time(session, qa, qa2, supervisor):
    submit_all(session, [qa, qa2], [[0, 1, 2, 0], [0, 1, 2, 1]])
    body = logged_in(supervisor).get(page(session)).content.decode()
    assert "Interim results" in body
    assert "Agreement per criterion" in body
    # Supervisors run calibration for their QA team too.
    assert (
        "Start a session"
        in logged_in(supervisor).get(reverse("qa:calibration_list")).content.decode()
    )


def test_agent_cannot_start_a_session(agent):
    assert logged_in(agent).get(reverse("qa:calibration_list")).status_code == 403


def test_admin_sees_results(session, admin):
    body = logged_in(admin).get(page(session)).content.decode()
    assert "Agreement per criterion" in body


def test_qa_starts_a_session_from_the_form(x_channel, agent, qa, qa2):
    replies = [make_sent_reply(agent, x_channel, text=HOSTILE) for _ in range(2)]
    client = logged_in(qa)
    form_page = client.get(reverse("qa:calibration_list")).content.decode()
    assert "Start a session" in form_page
    assert HOSTILE not in form_page and "&lt;script&gt;" in form_page
    response = client.post(
        reverse("qa:calibration_list"),
        {
            "name": "Angry customers",
            "replies": [r.pk for r in replies],
            "reviewers": [qa.pk, qa2.pk],
        },
    )
    session = CalibrationSession.objects.get(name="Angry customers")
    assert response.status_code == 302
    assert response["Location"] == page(session)
    assert Review.objects.filter(calibration=session).count() == 4


def test_form_errors_say_what_to_fix(x_channel, agent, qa):
    reply = make_sent_reply(agent, x_channel)
    response = logged_in(qa).post(
        reverse("qa:calibration_list"), {"name": "", "replies": [reply.pk], "reviewers": [qa.pk]}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Pick at least two reviewers" in body
    assert not CalibrationSession.objects.exists()


def test_list_page_has_a_constant_number_of_queries(
    x_channel, agent, qa, qa2, django_assert_num_queries
):
    client = logged_in(qa)

    def sessions(n):
        for i in range(n):
            reply = make_sent_reply(agent, x_channel)
            cal.do_create_session(f"S{i}", default_rubric(), [reply], [qa, qa2], qa)

    sessions(5)
    with CaptureQueriesContext(connection) as five:
        assert client.get(reverse("qa:calibration_list")).status_code == 200
    sessions(15)
    with django_assert_num_queries(len(five.captured_queries)):
        assert client.get(reverse("qa:calibration_list")).status_code == 200


def test_session_page_has_a_constant_number_of_queries(
    x_channel, agent, qa, qa2, qa3, supervisor, django_assert_num_queries
):
    def make(n):
        replies = [make_sent_reply(agent, x_channel) for _ in range(n)]
        session = cal.do_create_session(f"S{n}", default_rubric(), replies, [qa, qa2, qa3], qa)
        submit_all(session, [qa, qa2, qa3], [[i % 3 for i in range(n)]] * 3)
        return session

    small, large = make(5), make(20)
    client = logged_in(supervisor)
    with CaptureQueriesContext(connection) as five:
        assert client.get(page(small)).status_code == 200
    with django_assert_num_queries(len(five.captured_queries)):
        assert client.get(page(large)).status_code == 200


# ---------- drift ----------


def test_ewma_alarms_for_a_reviewer_who_turns_lenient_and_not_for_a_steady_one():
    rng = random.Random(7)
    steady = [rng.gauss(0, 0.08) for _ in range(40)]
    lenient = [rng.gauss(0, 0.08) for _ in range(20)] + [rng.gauss(0.2, 0.08) for _ in range(20)]
    start = timezone.now()

    def obs(values):
        return [
            Observation(i, start + timedelta(hours=i), v, "calibration")
            for i, v in enumerate(values)
        ]

    charts = drift_charts({1: obs(steady), 2: obs(lenient)})
    assert not charts[1].alarm
    assert charts[2].alarm and charts[2].direction == "lenient"
    assert charts[2].alarm_index >= 20, "no alarm before the reviewer changed"


def test_ewma_limits_widen_to_the_asymptote():
    chart = ewma_chart([0.0] * 60, sigma=0.1)
    asymptote = 3 * 0.1 * (0.2 / 1.8) ** 0.5
    assert chart.points[0].limit == pytest.approx(3 * 0.1 * 0.2)
    assert chart.points[-1].limit == pytest.approx(asymptote, rel=1e-6)
    assert not chart.alarm
    assert ewma_chart([0.0], sigma=0).sigma == MIN_SIGMA


def test_drift_from_the_database_alarms_on_a_reviewer_who_becomes_lenient(
    x_channel, agent, qa, qa2, qa3
):
    """Ten one-reply sessions of four reviewers; tess agrees for five, then scores all top."""
    qa4 = make_user("uma_qa", roles.QA)
    start = timezone.now() - timedelta(days=30)
    for i in range(10):
        reply = make_sent_reply(agent, x_channel)
        session = cal.do_create_session(
            f"Day {i}", default_rubric(), [reply], [qa, qa2, qa3, qa4], qa
        )
        at = start + timedelta(days=i)
        for reviewer in (qa, qa2, qa4):
            submit(
                reviews_of(session, reviewer)[0],
                values_for(reviews_of(session, reviewer)[0], 1),
                at,
            )
        tess = reviews_of(session, qa3)[0]
        submit(tess, values_for(tess, 1 if i < 5 else 2), at + timedelta(minutes=5))
    charts = reviewer_drift([qa.pk, qa2.pk, qa3.pk, qa4.pk])
    assert len(charts[qa3.pk].points) == 10
    assert charts[qa3.pk].alarm and charts[qa3.pk].direction == "lenient"
    assert charts[qa3.pk].alarm_index >= 5
    assert not any(charts[r.pk].alarm for r in (qa, qa2, qa4))


# ---------- gold ----------


def gold_scores(level: int) -> dict[str, int | None]:
    out = {}
    for criterion in criteria():
        low, high = criterion.min_value, criterion.max_value
        out[criterion.code] = [low, (low + high) // 2 if high - low > 1 else high, high][level]
    return out


def test_gold_scores_are_checked_against_the_rubric(x_channel, agent, qa):
    reply = make_sent_reply(agent, x_channel)
    scores = gold_scores(1)
    first = criteria()[0]
    with pytest.raises(cal.CalibrationError, match="No agreed score"):
        cal.do_add_gold(reply, {k: v for k, v in scores.items() if k != first.code}, qa)
    with pytest.raises(cal.CalibrationError, match="takes"):
        cal.do_add_gold(reply, {**scores, first.code: 9}, qa)
    gold = cal.do_add_gold(reply, scores, qa)
    assert gold.scores == scores
    with pytest.raises(cal.CalibrationError, match="already"):
        cal.do_add_gold(reply, scores, qa)


def test_planted_gold_review_is_compared_with_the_gold_scores(x_channel, agent, qa, qa2, qa3):
    reply = make_sent_reply(agent, x_channel)
    gold = cal.do_add_gold(reply, gold_scores(1), qa)
    planted = cal.do_plant_gold(gold, [qa, qa2, qa3])
    # Not to the author of the gold scores (they know the answer), once per reviewer.
    assert {r.reviewer for r in planted} == {qa2, qa3}
    assert {r.kind for r in planted} == {Review.Kind.GOLD}
    assert {r.status for r in planted} == {Review.Status.PENDING}
    assert cal.do_plant_gold(gold, [qa2]) == []

    by_reviewer = {r.reviewer_id: r for r in planted}
    submit(by_reviewer[qa2.pk], values_for(by_reviewer[qa2.pk], 1))
    submit(by_reviewer[qa3.pk], values_for(by_reviewer[qa3.pk], 2))
    results = {g.review.reviewer_id: g for g in cal.gold_results([qa2.pk, qa3.pk])}
    assert results[qa2.pk].match == 1 and results[qa2.pk].signed == 0
    assert not results[qa2.pk].misses
    assert results[qa3.pk].match < 1 and results[qa3.pk].signed > 0
    assert results[qa3.pk].misses
    # Gold reviews feed the drift chart too.
    assert len(reviewer_drift([qa3.pk])[qa3.pk].points) == 1


def test_consensus_of_a_completed_session_becomes_gold(session, qa, qa2, qa3, supervisor):
    submit_all(session, [qa, qa2, qa3], [[1, 1, 1, 1], [1, 1, 1, 1], [2, 2, 2, 2]])
    reply = session.replies.order_by("id").first()
    response = logged_in(supervisor).post(
        reverse("qa:calibration_gold", args=[session.pk]), {"reply": reply.pk}
    )
    assert response.status_code == 302
    gold = GoldReply.objects.get(reply=reply)
    assert gold.scores == gold_scores(1)  # the median: two said "middle", one "top"


def test_gold_page_actions_need_the_gold_permission(session, supervisor, qa, qa2, x_channel, agent):
    """Gold is the supervisors' tool: a QA specialist can neither make nor plant one."""
    reply = make_sent_reply(agent, x_channel)
    gold = cal.do_add_gold(reply, gold_scores(1), supervisor)
    client = logged_in(qa)
    assert (
        client.post(reverse("qa:gold_plant", args=[gold.pk]), {"reviewers": [qa2.pk]}).status_code
        == 403
    )
    assert (
        client.post(
            reverse("qa:calibration_gold", args=[session.pk]), {"reply": reply.pk}
        ).status_code
        == 403
    )
    assert not Review.objects.filter(kind=Review.Kind.GOLD).exists()
    assert not GoldReply.objects.exclude(pk=gold.pk).exists()
    response = logged_in(supervisor).post(
        reverse("qa:gold_plant", args=[gold.pk]), {"reviewers": [qa2.pk]}
    )
    assert response.status_code == 302
    assert Review.objects.filter(kind=Review.Kind.GOLD, reviewer=qa2, reply=reply).count() == 1


# ---------- gold and calibration are blind to reviewers ----------


def test_reviewers_never_see_which_replies_are_gold(session, qa, qa2, qa3, supervisor):
    submit_all(session, [qa, qa2, qa3], [[1, 1, 1, 1], [1, 1, 1, 1], [2, 2, 2, 2]])
    reply = session.replies.order_by("id").first()
    logged_in(supervisor).post(
        reverse("qa:calibration_gold", args=[session.pk]), {"reply": reply.pk}
    )
    assert GoldReply.objects.filter(reply=reply).exists()

    # The supervisor sees the gold list, the badge and the gold checks.
    boss = logged_in(supervisor)
    assert f"Reply #{reply.pk} by" in boss.get(reverse("qa:calibration_list")).content.decode()
    boss_page = boss.get(page(session)).content.decode()
    assert ">Gold</span>" in boss_page and "Drift over time" in boss_page

    # A reviewer of the session sees its results, and nothing about gold.
    client = logged_in(qa)
    listing = client.get(reverse("qa:calibration_list")).content.decode()
    assert "Gold replies" not in listing and f"Reply #{reply.pk} by" not in listing
    results = client.get(page(session))
    assert results.context["visible"]
    html = results.content.decode()
    assert ">Gold</span>" not in html and "Gold checks" not in html and "Make gold" not in html
    assert not any(item.is_gold for item in results.context["results"].items)


def test_a_planted_gold_looks_like_any_review_before_and_after(session, supervisor, x_channel):
    other_agent = make_user("gina_agent", roles.AGENT)
    reviewer = make_user("uma_qa", roles.QA)
    gold_reply = make_sent_reply(other_agent, x_channel, text="Refunded, sorry for the wait.")
    sampled_reply = make_sent_reply(other_agent, x_channel, text="Ordinary sampled reply")
    gold = cal.do_add_gold(gold_reply, gold_scores(1), supervisor)
    (planted,) = cal.do_plant_gold(gold, [reviewer])
    sampled = do_create_review(reply=sampled_reply, reviewer=reviewer)
    client = logged_in(reviewer)

    def shown(review: Review) -> str:
        """The review page with the reply's own words and numbers taken out."""
        html = client.get(reverse("qa:review", args=[review.pk])).content.decode()
        for varying in (
            review.reply.text,
            str(review.pk),
            str(review.reply_id),
            str(review.case_id),
        ):
            html = html.replace(varying, "")
        return html

    queue = client.get(reverse("qa:queue")).content.decode()
    assert "gold" not in queue.lower()
    assert "gold" not in shown(planted).lower()
    submit(planted, values_for(planted, 1))
    submit(sampled, values_for(sampled, 1))
    assert "gold" not in shown(planted).lower()
    assert "gold" not in client.get(reverse("qa:calibration_list")).content.decode().lower()


def test_planting_skips_everyone_who_could_know_the_gold(session, qa, qa2, qa3, supervisor):
    """The session's creator and reviewers saw the reply scored, the gold's creator agreed it,
    the reply's author wrote it: only an outsider to all of that gets it."""
    writer = make_user("wes_qa", roles.QA)  # a QA specialist who also answers customers
    fresh = make_user("fay_qa", roles.QA)
    reply = session.replies.order_by("id").first()
    gold = cal.do_add_gold(reply, gold_scores(1), supervisor)
    own_gold = cal.do_add_gold(
        make_sent_reply(writer, reply.case.channel, text="Written by a reviewer"),
        gold_scores(1),
        supervisor,
    )
    planted = cal.do_plant_gold(gold, [qa, qa2, qa3, writer, fresh])
    assert [r.reviewer for r in planted] == [writer, fresh]
    assert [r.reviewer for r in cal.do_plant_gold(own_gold, [qa, writer, fresh])] == [qa, fresh]
    # Once planted, the reviewer has seen it: never twice.
    assert cal.do_plant_gold(gold, [fresh]) == []


def test_the_plant_page_says_who_was_left_out(session, qa, qa2, supervisor):
    reply = session.replies.order_by("id").first()
    gold = cal.do_add_gold(reply, gold_scores(1), supervisor)
    fresh = make_user("fay_qa", roles.QA)
    response = logged_in(supervisor).post(
        reverse("qa:gold_plant", args=[gold.pk]),
        {"reviewers": [qa.pk, qa2.pk, fresh.pk]},
        follow=True,
    )
    assert "planted in 1 queue. Left out 2" in response.content.decode()
    assert set(Review.objects.filter(kind=Review.Kind.GOLD).values_list("reviewer", flat=True)) == {
        fresh.pk
    }


def test_a_session_never_has_the_author_of_one_of_its_replies_among_its_reviewers(
    x_channel, agent, qa, qa2, qa3
):
    replies = [make_sent_reply(agent, x_channel), make_sent_reply(qa3, x_channel)]
    with pytest.raises(cal.CalibrationError, match="tess_qa"):
        cal.do_create_session("Mixed", default_rubric(), replies, [qa, qa2, qa3], qa)
    assert not CalibrationSession.objects.exists()
    assert not Review.objects.exists()
    response = logged_in(qa).post(
        reverse("qa:calibration_list"),
        {"name": "Mixed", "replies": [r.pk for r in replies], "reviewers": [qa.pk, qa3.pk]},
    )
    assert response.status_code == 400
    assert "cannot score them: tess_qa" in response.content.decode()


def test_a_reviewer_outside_a_session_cannot_open_it(session, qa, supervisor):
    stranger = make_user("sid_qa", roles.QA)
    assert logged_in(stranger).get(page(session)).status_code == 404
    names = [
        row.session.name
        for row in logged_in(stranger).get(reverse("qa:calibration_list")).context["rows"]
    ]
    assert names == []
    assert logged_in(qa).get(page(session)).status_code == 200
    assert logged_in(supervisor).get(page(session)).status_code == 200
