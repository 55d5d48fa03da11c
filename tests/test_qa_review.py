"""Reviews: automatic pre-scores, the queue and the form per role, submitting, query counts."""

import itertools
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.models import Case, CaseEvent, DeskSettings, Note
from cases.sla import refresh_case_sla
from qa.autocheck import correction_rates, prescore_review, spelling_words
from qa.calibration import do_create_session
from qa.models import CalibrationSession, CriterionScore, Review
from qa.reviews import ReviewError, do_create_review, do_submit_review
from qa.rubrics import default_rubric
from sla.models import BusinessHours, OpeningTime, Policy
from socialdesk import roles
from tests.conftest import logged_in, make_user
from tests.factories import HOSTILE, add_mention, make_case, make_checked_reply, make_team

_n = itertools.count(1)


# An angry customer who waited three hours: the review's usual case.
ANGRY = {"sentiment": -0.7, "triage_decision": "engage", "waited": timedelta(hours=3)}


def by_code(review: Review) -> dict:
    criteria = list(review.rubric.criteria.all())
    autos = prescore_review(review, criteria)
    return {c.code: autos.get(c.pk) for c in criteria}


def all_top(review: Review) -> dict[str, str]:
    return {f"c{c.pk}": str(c.max_value) for c in review.rubric.criteria.all()}


@pytest.fixture
def qa2(db):
    return make_user("rory_qa", roles.QA)


@pytest.fixture
def review(x_channel, agent, qa) -> Review:
    case = make_case(x_channel, **ANGRY)
    reply = make_checked_reply(
        case, agent, "We will recieve your adress soon.", waited=timedelta(hours=3)
    )
    return do_create_review(reply=reply, reviewer=qa, kind=Review.Kind.SAMPLE)


# ---------- automatic pre-scores ----------


def test_spelling_words_are_read_from_the_stored_message():
    message = 'Check the spelling of "recieve" (receive?), "adress" (address?) and 2 more words.'
    assert spelling_words(message) == (["recieve", "adress"], 4)


def test_pre_scores_come_from_the_replys_checks_case_and_timing(review):
    autos = by_code(review)
    assert autos["spelling"].value == 1
    assert autos["spelling"].reason == "Spelling: 2 unknown words: recieve, adress"
    assert autos["offline"].value == 0 and "did not invite" in autos["offline"].reason
    assert autos["tact_empathy"].value == 2 and "upset" in autos["tact_empathy"].reason
    assert autos["punctuation"].value == 3
    assert autos["network_norms"].value == 3
    assert (
        autos["right_person"].value == 1
        and "as the radar suggested" in autos["right_person"].reason
    )
    assert autos["accuracy"] is None  # manual
    # 3 h after the customer's post against a 60-minute target
    assert autos["response_time"].value == 1
    assert autos["response_time"].reason.startswith("Response time: 3 h after")


def test_pre_scores_read_a_spanish_reply_in_spanish(x_channel, agent, qa):
    case = make_case(
        x_channel, **ANGRY, language="es", text="Pedido roto otra vez, quiero mi reembolso"
    )
    good = make_checked_reply(
        case,
        agent,
        "Lamentamos mucho las molestias. Envíanos un mensaje privado con tu número de pedido.",
    )
    autos = by_code(do_create_review(reply=good, reviewer=qa, kind=Review.Kind.SAMPLE))
    assert autos["spelling"].value == 3
    assert autos["offline"].value == 1
    assert autos["tact_empathy"].value == 4
    bad = make_checked_reply(case, agent, "Tu pedido ya esta en camino, recivirás un mensage.")
    autos = by_code(do_create_review(reply=bad, reviewer=qa, kind=Review.Kind.SAMPLE))
    assert autos["spelling"].value == 1 and "mensage" in autos["spelling"].reason
    assert autos["offline"].value == 0
    assert autos["tact_empathy"].value == 2 and "Lamentamos" in autos["tact_empathy"].reason


def test_pre_scores_make_no_suggestion_in_a_language_without_lists(x_channel, agent, qa):
    case = make_case(x_channel, **ANGRY, language="ja", text="注文が届きません")
    reply = make_checked_reply(case, agent, "ご迷惑をおかけしております。")
    autos = by_code(do_create_review(reply=reply, reviewer=qa, kind=Review.Kind.SAMPLE))
    assert autos["spelling"].value is None and "Not checked" in autos["spelling"].reason
    assert autos["offline"].value is None and "Not checked" in autos["offline"].reason
    assert not autos["offline"].na


def test_pre_scores_are_stored_on_the_review(review):
    rows = {s.criterion.code: s for s in review.scores.select_related("criterion")}
    assert len(rows) == 8
    assert rows["spelling"].auto_value == 1 and rows["spelling"].value is None
    assert rows["spelling"].auto_reason.startswith("Spelling: 2 unknown words")
    assert rows["accuracy"].auto_reason == ""


def test_a_good_reply_on_a_calm_case_is_pre_scored_well(x_channel, agent, qa):
    case = make_case(
        x_channel,
        text="@acme_support what time do you open?",
        sentiment=0.2,
        waited=timedelta(minutes=10),
        triage="engage",
    )
    Case.objects.filter(pk=case.pk).update(priority_reasons=[])
    case.refresh_from_db()
    reply = make_checked_reply(
        case,
        agent,
        "Thanks for asking! We open at nine every weekday.",
        waited=timedelta(minutes=10),
    )
    autos = by_code(do_create_review(reply=reply, reviewer=qa))
    assert autos["spelling"].value == 3
    assert autos["offline"].na and autos["offline"].value is None
    assert autos["response_time"].value == 3
    assert autos["tact_empathy"].value == 4


def test_personal_data_in_public_pre_scores_the_critical_criterion(x_channel, agent, qa):
    case = make_case(x_channel, **ANGRY)
    reply = make_checked_reply(
        case,
        agent,
        "Sorry! Call Jo on +44 7700 900123 or DM us.",
        override_reason="Customer asked for the number",
    )
    autos = by_code(do_create_review(reply=reply, reviewer=qa))
    assert autos["network_norms"].value == 1
    assert autos["network_norms"].reason.startswith("Personal data posted publicly (critical)")


def test_response_time_follows_the_desk_sla(x_channel, agent, qa):
    settings_row = DeskSettings.load()
    settings_row.first_response_sla_minutes = 15
    settings_row.save()
    case = make_case(x_channel, waited=timedelta(minutes=25))
    reply = make_checked_reply(
        case, agent, "Sorry about that, please DM us.", waited=timedelta(minutes=25)
    )
    assert by_code(do_create_review(reply=reply, reviewer=qa))["response_time"].value == 2


def test_response_time_follows_the_cases_policy_in_its_business_hours(x_channel, agent, qa):
    """A Friday-evening post answered first thing on Monday met a one-hour target counted in
    the team's hours; the customer's next post is held to the next-response target."""
    berlin = ZoneInfo("Europe/Berlin")
    team = make_team("Berlin desk")
    hours = BusinessHours.objects.create(team=team, time_zone="Europe/Berlin")
    OpeningTime.objects.bulk_create(
        OpeningTime(hours=hours, weekday=day, opens=time(9), closes=time(17)) for day in range(5)
    )
    Policy.objects.create(
        name="Office", hours_team=team, first_response_minutes=60, next_response_minutes=30
    )
    friday = datetime(2026, 12, 4, 16, 30, tzinfo=berlin)
    case = make_case(x_channel)
    Case.objects.filter(pk=case.pk).update(opened_at=friday, last_inbound_at=friday)
    case.mentions.update(posted_at=friday)
    case.refresh_from_db()
    refresh_case_sla(case)
    monday = datetime(2026, 12, 7, 9, 20, tzinfo=berlin)  # 30 + 20 business minutes later
    first = make_checked_reply(
        case, agent, "Sorry about that, please DM us.", waited=monday - friday
    )
    auto = by_code(do_create_review(reply=first, reviewer=qa))["response_time"]
    assert auto.value == 3, auto.reason
    assert "in business hours)" in auto.reason

    add_mention(case, "It is still broken.", posted_at=monday + timedelta(minutes=10))
    later = make_checked_reply(
        case,
        agent,
        "Sorry, we are on it, please DM us.",
        waited=monday - friday + timedelta(hours=2),
    )  # 110 minutes after the customer's post: past twice the 30-minute target
    auto = by_code(do_create_review(reply=later, reviewer=qa))["response_time"]
    assert auto.value == 1, auto.reason
    assert "target 30" in auto.reason


def test_triage_that_differs_from_the_radar_is_left_to_the_reviewer(x_channel, agent, qa):
    case = make_case(x_channel, triage="ignore", triage_decision="engage")
    reply = make_checked_reply(case, agent, "Sorry to hear that, please DM us.")
    auto = by_code(do_create_review(reply=reply, reviewer=qa))["right_person"]
    assert auto.value is None and not auto.na
    assert "the radar suggested ignore" in auto.reason


def test_an_ignored_case_is_reviewed_without_a_reply(x_channel, agent, qa):
    case = make_case(
        x_channel,
        triage="engage",
        triage_decision="ignore",
        triage_decided_by=agent,
        status="resolved",
    )
    review = do_create_review(case=case, reviewer=qa)
    assert review.agent == agent and review.reply is None
    autos = by_code(review)
    assert autos["spelling"].na and autos["right_person"].value is None
    values = {c.pk: None for c in review.rubric.criteria.all()}
    right = review.rubric.criteria.get(code="right_person")
    values[right.pk] = 0
    review = do_submit_review(review, values, "Should have engaged: a real customer.")
    assert review.score == 0.0 and not review.critical_failed


# ---------- submitting ----------


def test_submit_stores_values_score_and_keeps_the_pre_scores(review):
    criteria = {c.code: c for c in review.rubric.criteria.all()}
    values = {c.pk: c.max_value for c in criteria.values()}
    values[criteria["spelling"].pk] = 2  # corrects the pre-score of 1
    values[criteria["offline"].pk] = None
    review = do_submit_review(review, values, "  Good save.  ")
    # weights: 2+1+1+3+2+1+1 = 11 (offline N/A); spelling 2/3 -> 0.5 -> (11 - 0.5) / 11
    assert review.score == round(100 * 10.5 / 11, 1)
    assert (review.status, review.comment, review.critical_failed) == (
        "submitted",
        "Good save.",
        False,
    )
    assert review.submitted_at is not None
    spelling = CriterionScore.objects.get(review=review, criterion=criteria["spelling"])
    assert (spelling.value, spelling.auto_value) == (2, 1)
    rates = {r.code: r for r in correction_rates()}
    assert rates["spelling"].corrected == 1 and rates["offline"].corrected == 1
    assert rates["punctuation"].corrected == 0 and rates["punctuation"].pre_scored == 1


def test_a_calibration_review_arrives_with_nothing_selected(x_channel, agent, qa, qa2, admin):
    reply = make_checked_reply(
        make_case(x_channel, **ANGRY), agent, "We will recieve your adress soon."
    )
    session = do_create_session("Week 12", default_rubric(), [reply], [qa, qa2], admin)
    review = session.reviews.get(reviewer=qa)
    page = logged_in(qa).get(reverse("qa:review", args=[review.pk])).content.decode()
    assert " checked" not in page
    assert "Suggested: 1 Poor" in page and "Use suggestion: 1 Poor" in page
    assert "0 of 8 criteria answered." in page


def test_each_answer_says_whether_the_reviewer_chose_it_or_took_the_suggestion(review, qa):
    criteria = {c.code: c for c in review.rubric.criteria.all()}
    data = all_top(review)
    spelling, punctuation = criteria["spelling"], criteria["punctuation"]
    data[f"c{spelling.pk}"] = "1"  # the suggestion, taken with "Use suggestion"
    data[f"s{spelling.pk}"] = "1"
    data[f"s{punctuation.pk}"] = "1"  # took it, then chose another value: the reviewer's own
    data[f"c{punctuation.pk}"] = "1"
    response = logged_in(qa).post(reverse("qa:review", args=[review.pk]), data)
    assert response.status_code == 302
    answers = dict(review.scores.values_list("criterion__code", "answer"))
    assert answers["spelling"] == CriterionScore.Answer.SUGGESTION
    assert answers["punctuation"] == answers["accuracy"] == CriterionScore.Answer.CHOSEN
    page = logged_in(qa).get(reverse("qa:review", args=[review.pk])).content.decode()
    assert page.count("suggestion accepted") == 1


def test_correction_rates_leave_out_answers_submitted_pre_selected(review, x_channel, agent, qa):
    do_submit_review(review, {c.pk: c.max_value for c in review.rubric.criteria.all()}, "")
    text = "We will recieve your adress soon."
    older = do_create_review(
        reply=make_checked_reply(make_case(x_channel, **ANGRY), agent, text), reviewer=qa
    )
    do_submit_review(older, {c.pk: c.max_value for c in older.rubric.criteria.all()}, "")
    older.scores.update(answer=CriterionScore.Answer.PREFILLED)
    rates = {r.code: r for r in correction_rates()}
    assert (rates["spelling"].pre_scored, rates["spelling"].corrected) == (1, 1)


def test_submit_refuses_missing_and_na_where_not_allowed(review):
    criteria = {c.code: c for c in review.rubric.criteria.all()}
    values = {c.pk: c.max_value for c in criteria.values()}
    del values[criteria["accuracy"].pk]
    values[criteria["spelling"].pk] = None
    values[criteria["tact_empathy"].pk] = 9
    with pytest.raises(ReviewError) as caught:
        do_submit_review(review, values, "")
    errors = caught.value.errors
    assert errors[criteria["accuracy"].pk] == "Accurate and complete information: choose a score."
    assert errors[criteria["spelling"].pk] == "Spelling cannot be N/A: choose a score."
    assert "from 1 to 5" in errors[criteria["tact_empathy"].pk]
    review.refresh_from_db()
    assert review.status == "pending" and review.score is None


def test_a_review_is_submitted_once(review):
    values = {c.pk: c.max_value for c in review.rubric.criteria.all()}
    do_submit_review(review, values, "")
    with pytest.raises(ReviewError, match="already submitted"):
        do_submit_review(review, values, "")


def test_a_critical_failure_scores_zero(review):
    values = {c.pk: c.max_value for c in review.rubric.criteria.all()}
    norms = review.rubric.criteria.get(code="network_norms")
    values[norms.pk] = 1
    review = do_submit_review(review, values, "")
    assert (review.score, review.critical_failed) == (0.0, True)


def test_a_review_the_sampler_bulk_created_gets_its_pre_scores_on_submit(x_channel, agent, qa):
    case = make_case(x_channel, **ANGRY)
    reply = make_checked_reply(case, agent, "We will recieve your adress soon.")
    review = Review.objects.create(
        reply=reply, case=case, agent=agent, reviewer=qa, rubric=default_rubric()
    )
    with CaptureQueriesContext(connection) as ctx:
        page = logged_in(qa).get(reverse("qa:review", args=[review.pk])).content.decode()
    assert "Spelling: 2 unknown words: recieve, adress" in page
    # The wait shown beside the reply and the response-time pre-score are one measure: the
    # service-level rules are read once for both.
    assert "Customer waited" in page and "Response time:" in page
    assert sum("FROM sla_policy" in q["sql"] for q in ctx.captured_queries) == 1
    do_submit_review(review, {c.pk: c.max_value for c in review.rubric.criteria.all()}, "")
    spelling = review.scores.get(criterion__code="spelling")
    assert (spelling.auto_value, spelling.value) == (1, 3)


# ---------- access ----------


def test_anonymous_is_sent_to_login(client, review):
    for url in (reverse("qa:queue"), reverse("qa:review", args=[review.pk])):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    response = client.post(reverse("qa:review", args=[review.pk]), all_top(review))
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.status == "pending"


@pytest.mark.parametrize("persona", ["outsider", "agent", "supervisor"])
def test_only_reviewers_reach_the_queue_and_form(request, persona, review):
    client = logged_in(request.getfixturevalue(persona))
    assert client.get(reverse("qa:queue")).status_code == 403
    assert client.get(reverse("qa:review", args=[review.pk])).status_code == 403
    assert client.post(reverse("qa:review", args=[review.pk]), all_top(review)).status_code == 403
    review.refresh_from_db()
    assert review.status == "pending"


def test_a_reviewer_sees_only_their_own_reviews(review, qa2, admin):
    for user in (qa2, admin):
        client = logged_in(user)
        assert client.get(reverse("qa:review", args=[review.pk])).status_code == 404
        assert (
            client.post(reverse("qa:review", args=[review.pk]), all_top(review)).status_code == 404
        )
        queue = client.get(reverse("qa:queue"))
        assert queue.status_code == 200
        assert reverse("qa:review", args=[review.pk]) not in queue.content.decode()


def test_admin_reviews_what_is_assigned_to_them(x_channel, agent, admin):
    reply = make_checked_reply(make_case(x_channel, **ANGRY), agent, "Sorry, please DM us.")
    review = do_create_review(reply=reply, reviewer=admin)
    client = logged_in(admin)
    assert (
        reverse("qa:review", args=[review.pk]) in client.get(reverse("qa:queue")).content.decode()
    )
    assert client.get(reverse("qa:review", args=[review.pk])).status_code == 200


def test_qa_cannot_change_the_case_or_reply(review, qa):
    client = logged_in(qa)
    page = client.get(reverse("qa:review", args=[review.pk])).content.decode()
    for name in ("triage", "assign", "set_status", "labels", "add_note"):
        assert reverse(f"cases:{name}", args=[review.case_id]) not in page
    response = client.post(
        reverse("cases:triage", args=[review.case_id]), {"decision": "ignore", "reason": "x"}
    )
    assert response.status_code == 403


# ---------- the queue ----------


def test_queue_lists_pending_reviews_oldest_first_and_blind(x_channel, agent, qa, qa2):
    now = timezone.now()
    reviews = []
    for i, kind in enumerate([Review.Kind.GOLD, Review.Kind.SAMPLE, Review.Kind.CALIBRATION]):
        reply = make_checked_reply(
            make_case(x_channel, **ANGRY, priority=80), agent, f"Reply number {i}."
        )
        session = None
        if kind == Review.Kind.CALIBRATION:
            session = CalibrationSession.objects.create(
                name="Blind", rubric=default_rubric(), created_by=qa2
            )
        r = do_create_review(reply=reply, reviewer=qa, kind=kind, calibration=session)
        Review.objects.filter(pk=r.pk).update(created_at=now - timedelta(hours=10 - i))
        reviews.append(r)
    done = do_create_review(
        reply=make_checked_reply(make_case(x_channel, **ANGRY), agent, "Done one."), reviewer=qa
    )
    do_submit_review(done, {c.pk: c.max_value for c in done.rubric.criteria.all()}, "")
    page = logged_in(qa).get(reverse("qa:queue")).content.decode()
    positions = [page.index(reverse("qa:review", args=[r.pk])) for r in reviews]
    assert positions == sorted(positions)
    assert reverse("qa:review", args=[done.pk]) not in page
    for word in ("Gold", "gold", "Calibration", "calibration", "Sampled", "Blind"):
        assert word not in page.split("<main", 1)[1]
    assert "alice_agent" in page and x_channel.name in page
    assert '<span class="qa-stat__value">3</span><span class="qa-stat__label">to review' in page
    assert (
        '<span class="qa-stat__value">1</span><span class="qa-stat__label">submitted today' in page
    )


def test_queue_htmx_refresh_returns_the_list_alone(review, qa):
    response = logged_in(qa).get(reverse("qa:queue"), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="queue-list"')
    assert "<html" not in body


def test_empty_queue_says_so(qa):
    page = logged_in(qa).get(reverse("qa:queue")).content.decode()
    assert "Nothing to review" in page


def _fill_queue(channel, agent, qa, n):
    for i in range(n):
        reply = make_checked_reply(make_case(channel), agent, f"Reply {i}, sorry. Please DM us.")
        do_create_review(reply=reply, reviewer=qa)


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_queue_query_count_is_constant(x_channel, agent, qa):
    client = logged_in(qa)
    _fill_queue(x_channel, agent, qa, 5)
    five = _count_queries(client, reverse("qa:queue"))
    _fill_queue(x_channel, agent, qa, 45)
    assert _count_queries(client, reverse("qa:queue")) == five


# ---------- the form ----------


def test_form_shows_the_reply_in_its_whole_case_context(x_channel, agent, qa, supervisor):
    case = make_case(x_channel, **ANGRY)
    add_mention(
        case, "still waiting, this is ridiculous", posted_at=case.opened_at + timedelta(minutes=5)
    )
    reply = make_checked_reply(
        case,
        agent,
        "We will recieve your adress soon.",
        override_reason="Needed it",
        waited=timedelta(hours=3),
    )
    add_mention(case, "thanks, sent you a DM", posted_at=reply.sent_at + timedelta(minutes=3))
    Note.objects.create(case=case, author=supervisor, text="Checked order 4411.")
    CaseEvent.objects.create(
        case=case,
        actor=agent,
        kind=CaseEvent.Kind.TRIAGE,
        data={"decision": "engage", "reason": "real customer"},
    )
    review = do_create_review(reply=reply, reviewer=qa)
    page = logged_in(qa).get(reverse("qa:review", args=[review.pk])).content.decode()
    for text in (
        "still waiting, this is ridiculous",
        "thanks, sent you a DM",
        "Checked order 4411.",
        "real customer",
        "We will recieve your adress soon.",
        "Needed it",
        "Customer waited <strong>3 h</strong>",
        "How the score is computed",
        "Spelling: 2 unknown words: recieve, adress",
        'data-reviewed-reply="reply-',
    ):
        assert text in page, text
    spelling = review.rubric.criteria.get(code="spelling")
    # the pre-score is offered as a suggestion, never selected
    assert f'id="c{spelling.pk}-1" value="1" data-key="1">' in page
    assert "Suggested: 1 Poor" in page and f'name="s{spelling.pk}" value=""' in page
    assert " checked" not in page
    accuracy = review.rubric.criteria.get(code="accuracy")
    assert f'name="c{accuracy.pk}" id="c{accuracy.pk}-5" value="5" data-key="5">' in page
    assert 'value="na"' in page  # offline may be N/A
    assert "Retry sending" not in page


def test_posting_a_complete_form_submits_and_moves_to_the_next(x_channel, agent, qa, review):
    following = do_create_review(
        reply=make_checked_reply(make_case(x_channel, **ANGRY), agent, "Sorry, DM us."), reviewer=qa
    )
    response = logged_in(qa).post(
        reverse("qa:review", args=[review.pk]), {**all_top(review), "comment": "Great"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("qa:review", args=[following.pk])
    review.refresh_from_db()
    assert (review.status, review.score, review.comment) == ("submitted", 100.0, "Great")


def test_posting_an_incomplete_form_says_what_to_fix(qa, review):
    data = all_top(review)
    accuracy = review.rubric.criteria.get(code="accuracy")
    spelling = review.rubric.criteria.get(code="spelling")
    del data[f"c{accuracy.pk}"]
    data[f"c{spelling.pk}"] = "na"
    response = logged_in(qa).post(
        reverse("qa:review", args=[review.pk]), {**data, "comment": "keep me"}
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "The review was not submitted." in page
    assert "Accurate and complete information: choose a score." in page
    assert "Spelling cannot be N/A: choose a score." in page
    assert "keep me" in page
    review.refresh_from_db()
    assert review.status == "pending"


def test_junk_values_are_refused(qa, review):
    data = all_top(review)
    accuracy = review.rubric.criteria.get(code="accuracy")
    data[f"c{accuracy.pk}"] = "lots"
    response = logged_in(qa).post(reverse("qa:review", args=[review.pk]), data)
    assert response.status_code == 400
    assert "Choose one of the values shown." in response.content.decode()


def test_preview_returns_the_score_without_saving(qa, review):
    data = {**all_top(review), "preview": "1"}
    norms = review.rubric.criteria.get(code="network_norms")
    response = logged_in(qa).post(
        reverse("qa:review", args=[review.pk]), data, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="score-preview"') and ">100<" in body
    data[f"c{norms.pk}"] = "1"
    body = (
        logged_in(qa)
        .post(reverse("qa:review", args=[review.pk]), data, headers={"HX-Request": "true"})
        .content.decode()
    )
    assert "A critical criterion failed" in body and ">0<" in body
    review.refresh_from_db()
    assert review.status == "pending"


def test_a_submitted_review_is_shown_read_only(qa, review):
    do_submit_review(review, {c.pk: c.max_value for c in review.rubric.criteria.all()}, "Fine")
    client = logged_in(qa)
    page = client.get(reverse("qa:review", args=[review.pk])).content.decode()
    assert "Submitted" in page and "data-submit" not in page and " disabled" in page
    response = client.post(reverse("qa:review", args=[review.pk]), all_top(review))
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.comment == "Fine"


def test_hostile_text_is_escaped(x_channel, agent, qa):
    case = make_case(x_channel, **ANGRY, text=HOSTILE, triage_decision_reason=HOSTILE)
    case.customer.identities.update(name=HOSTILE, handle="x<b>y")
    reply = make_checked_reply(case, agent, HOSTILE, override_reason=HOSTILE)
    Note.objects.create(case=case, author=agent, text=HOSTILE)
    review = do_create_review(reply=reply, reviewer=qa)
    client = logged_in(qa)
    for url in (reverse("qa:queue"), reverse("qa:review", args=[review.pk])):
        page = client.get(url).content.decode()
        assert HOSTILE not in page and "x<b>y" not in page
        assert "&lt;script&gt;" in page


def _case_with_items(channel, agent, qa, n):
    case = make_case(channel, **ANGRY)
    for i in range(n):
        add_mention(case, f"message {i}", posted_at=case.opened_at + timedelta(minutes=i))
        Note.objects.create(case=case, author=agent, text=f"note {i}")
        CaseEvent.objects.create(
            case=case, actor=agent, kind=CaseEvent.Kind.STATUS, data={"from": "new", "to": "open"}
        )
    for i in range(n - 1):
        make_checked_reply(case, agent, f"Earlier reply {i}.", waited=timedelta(minutes=i))
    return do_create_review(reply=make_checked_reply(case, agent, "Sorry, DM us."), reviewer=qa)


def test_form_query_count_is_constant(x_channel, agent, qa):
    client = logged_in(qa)
    small = _case_with_items(x_channel, agent, qa, 5)
    big = _case_with_items(x_channel, agent, qa, 50)
    assert _count_queries(client, reverse("qa:review", args=[small.pk])) == _count_queries(
        client, reverse("qa:review", args=[big.pk])
    )


def test_an_ignored_case_review_page_asks_about_the_triage(x_channel, agent, qa):
    case = make_case(
        x_channel,
        triage="engage",
        triage_decision="ignore",
        triage_decided_by=agent,
        triage_decision_reason="Looked like spam",
    )
    review = do_create_review(case=case, reviewer=qa)
    page = logged_in(qa).get(reverse("qa:review", args=[review.pk])).content.decode()
    assert "The case under review" in page and "Looked like spam" in page
    spelling = review.rubric.criteria.get(code="spelling")
    assert f'id="c{spelling.pk}-na" value="na" data-key="0">' in page
    assert "Suggested: N/A" in page and " checked" not in page
    queue = logged_in(qa).get(reverse("qa:queue")).content.decode()
    assert "No reply: the case was ignored." in queue


def test_load_demo_sets_up_qa(db, settings):
    from io import StringIO

    from django.core.management import call_command

    from qa.models import SamplingPolicy
    from socialdesk.models import Team

    settings.DEBUG = True
    call_command("load_demo", stdout=StringIO())
    call_command("load_demo", stdout=StringIO())  # idempotent
    assert default_rubric().criteria.count() == 8
    assert SamplingPolicy.objects.count() == 1
    team = Team.objects.get(name="Care team")
    # quinn belongs to the team she reviews (and sees its dashboard) without being its agent
    assert sorted(team.members.values_list("username", flat=True)) == ["alex", "blair", "quinn"]
    assert list(team.supervisors.values_list("username", flat=True)) == ["sasha"]
    reviews = Review.objects.filter(reviewer__username="quinn")
    assert reviews.filter(status="submitted", score__isnull=False).count() == 4
    assert reviews.filter(status="pending").count() == 2


# ---------- nobody scores their own reply ----------


def test_a_review_of_ones_own_reply_cannot_be_made(x_channel, qa):
    own = make_checked_reply(make_case(x_channel, **ANGRY), qa, "Sorry about that, please DM us.")
    with pytest.raises(ValueError, match="own work"):
        do_create_review(reply=own, reviewer=qa)
    assert not Review.objects.exists()


def test_a_reviewer_cannot_open_or_submit_a_review_of_their_own_reply(x_channel, qa):
    """A review made before the rule (or written straight into the table) is still refused."""
    own = make_checked_reply(make_case(x_channel, **ANGRY), qa, "Sorry about that, please DM us.")
    review = Review.objects.create(
        reply=own, case=own.case, agent=qa, reviewer=qa, rubric=default_rubric()
    )
    client = logged_in(qa)
    assert review.pk not in [r.pk for r in client.get(reverse("qa:queue")).context["rows"]]
    url = reverse("qa:review", args=[review.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, all_top(review)).status_code == 403
    with pytest.raises(ReviewError, match="own work"):
        do_submit_review(review, {c.pk: c.max_value for c in review.rubric.criteria.all()}, "")
    review.refresh_from_db()
    assert review.status == Review.Status.PENDING and review.score is None
