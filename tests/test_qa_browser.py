"""The QA loop in a real browser (Debian's Chromium driven by Playwright): a QA specialist
scores a sampled reply, the agent acknowledges the review, a supervisor opens the dashboard.

Screenshots go to $QA_SCREENSHOTS (default: the test's tmp dir) for a person to look at.
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cases.checks import run_checks
from cases.models import Reply
from qa.calibration import do_create_session
from qa.models import CriterionScore, Review, Sample, SamplingPolicy, SamplingRun
from qa.reviews import do_create_review
from qa.rubrics import default_rubric
from socialdesk import roles
from tests.conftest import make_channel, make_user, sign_in
from tests.factories import make_case, make_review, make_team

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("QA_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_qa_scores_a_sampled_reply_agent_acknowledges_supervisor_sees_it(
    browser, live_server, shots
):
    agent = make_user("alex_agent", roles.AGENT)
    agent.first_name, agent.last_name = "Alex", "Agent"
    agent.save()
    qa = make_user("quinn_qa", roles.QA)
    supervisor = make_user("sam_supervisor", roles.SUPERVISOR)
    make_team("Care East", [supervisor], [agent])
    channel = make_channel("x", name="Acme Support", handle="acme_support")
    case = make_case(
        channel,
        text="@acme_support my order arrived broken, I want a refund",
        assignee=agent,
        status="open",
    )
    reply = Reply.objects.create(
        case=case,
        author=agent,
        state=Reply.State.SENT,
        sent_at=timezone.now(),
        in_reply_to=case.mentions.first(),
        text="@dana So sorry your order arrived broken! Please send us a DM with your order "
        "number and we will refund you today.",
    )
    policy = SamplingPolicy.objects.create(name="Weekly")
    run = SamplingRun.objects.create(
        policy=policy,
        period_start=timezone.now() - timedelta(days=7),
        period_end=timezone.now(),
        seed=1,
        population=20,
        sampled=1,
    )
    sample = Sample.objects.create(
        run=run,
        reply=reply,
        case=case,
        agent=agent,
        channel=channel,
        is_risky=True,
        risk_reasons=["negative case"],
        inclusion_probability=0.5,
    )
    review = do_create_review(reply=reply, reviewer=qa, sample=sample, weight=2.0)
    # Earlier history, so the dashboard has something to draw.
    for score in (92, 85, 78, 95, 88, 90):
        make_review(
            agent, qa, score=score, channel=channel, submitted_at=timezone.now() - timedelta(days=9)
        )

    # 1. The QA specialist scores the reply: the best value on every criterion.
    page = sign_in(browser, live_server, "quinn_qa")
    page.goto(f"{live_server.url}/qa/reviews/{review.pk}/")
    expect(page.get_by_text("So sorry your order arrived broken!").first).to_be_visible()
    criteria = page.locator("fieldset[data-criterion]")
    assert criteria.count() >= 5
    best = {"yes_no": "1", "1_3": "3", "1_5": "5"}
    for i in range(criteria.count()):
        fieldset = criteria.nth(i)
        top = best[fieldset.get_attribute("data-scale")]
        fieldset.locator(f'label.scale__label[for$="-{top}"]').click()
    page.fill("#review-comment", "Warm, quick, and took it to a DM. Well done.")
    page.screenshot(path=str(shots / "qa_review_form_1440.png"), full_page=False)
    page.get_by_role("button", name=re.compile("Submit review")).click()
    page.wait_for_load_state("networkidle")
    review.refresh_from_db()
    assert review.status == Review.Status.SUBMITTED
    assert review.score == 100.0

    # 2. The agent reads it and acknowledges it.
    page = sign_in(browser, live_server, "alex_agent")
    page.goto(f"{live_server.url}/qa/mine/")
    card = page.locator(f"#review-{review.pk}")
    expect(card.get_by_text("Warm, quick, and took it to a DM. Well done.")).to_be_visible()
    expect(card.locator(".qa-score")).to_contain_text("100")
    page.screenshot(path=str(shots / "qa_my_reviews_1440.png"), full_page=False)
    card.locator("textarea[name=comment]").fill("Thanks, will keep doing this.")
    card.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("acknowledged.").first).to_be_visible()
    expect(page.locator(f"#review-{review.pk} .badge--response-acknowledged")).to_be_visible()
    review.refresh_from_db()
    assert review.agent_response == Review.AgentResponse.ACKNOWLEDGED

    # 3. The supervisor opens the dashboard and sees the agent's team and score.
    page = sign_in(browser, live_server, "sam_supervisor")
    page.goto(f"{live_server.url}/qa/dashboard/")
    expect(page.get_by_role("heading", name="Quality dashboard")).to_be_visible()
    expect(page.get_by_role("heading", name="Care East")).to_be_visible()
    assert page.locator("svg.chart").count() >= 4
    page.screenshot(path=str(shots / "qa_dashboard_1440.png"), full_page=True)
    page.get_by_role("link", name="Last 12 weeks").click()
    expect(page).to_have_url(re.compile(r"weeks=12"))
    expect(page.locator(".qa-period__link.is-active")).to_have_text("Last 12 weeks")
    small = sign_in(browser, live_server, "sam_supervisor", 1366, 768)
    small.goto(f"{live_server.url}/qa/dashboard/")
    small.screenshot(path=str(shots / "qa_dashboard_1366.png"), full_page=False)


def test_a_calibration_review_is_blind_and_offers_the_suggestions(browser, live_server, shots):
    agent = make_user("alex_agent", roles.AGENT)
    qa = make_user("quinn_qa", roles.QA)
    qa2 = make_user("rory_qa", roles.QA)
    admin = make_user("ada_admin", roles.ADMIN)
    channel = make_channel("x", name="Acme Support", handle="acme_support")
    case = make_case(
        channel, text="@acme_support still no refund, this is ridiculous", sentiment=-0.7
    )
    text = "We will recieve your adress soon."
    sent = timezone.now()
    reply = Reply.objects.create(
        case=case,
        author=agent,
        state=Reply.State.SENT,
        sent_at=sent,
        created_at=sent,
        in_reply_to=case.mentions.first(),
        text=text,
        checks=[c.as_dict() for c in run_checks(text, network="x", is_private=False, case=case)],
    )
    session = do_create_session("Week 12", default_rubric(), [reply], [qa, qa2], admin)
    review = session.reviews.get(reviewer=qa)

    page = sign_in(browser, live_server, "quinn_qa")
    page.goto(f"{live_server.url}/qa/reviews/{review.pk}/")
    criteria = page.locator("fieldset[data-criterion]")
    expect(criteria.first).to_be_visible()
    assert page.locator(".scale__input:checked").count() == 0
    expect(page.locator("#score-preview")).to_contain_text("0 of 8 criteria answered.")
    spelling = page.locator("fieldset[data-criterion]", has_text="Spelling")
    expect(spelling.get_by_text("Suggested: 1 Poor")).to_be_visible()
    page.screenshot(path=str(shots / "qa_calibration_review_1440.png"), full_page=False)

    # One click takes a suggestion; the key `s` takes the next criterion's.
    spelling.get_by_role("button", name=re.compile("Use suggestion")).click()
    expect(spelling.locator(".scale__input:checked")).to_have_value("1")
    expect(page.locator("#score-preview")).to_contain_text("1 of 8 criteria answered.")
    best = {"yes_no": "1", "1_3": "3", "1_5": "5"}
    for i in range(criteria.count()):
        fieldset = criteria.nth(i)
        if fieldset.locator(".scale__input:checked").count():
            continue
        if fieldset.locator("[data-use-suggestion]").count():
            fieldset.locator(".scale__input").first.focus()
            page.keyboard.press("s")
        else:
            top = best[fieldset.get_attribute("data-scale")]
            fieldset.locator(f'label.scale__label[for$="-{top}"]').click()
    expect(page.locator("#score-preview")).to_contain_text("8 of 8 criteria answered.")
    page.get_by_role("button", name=re.compile("Submit review")).click()
    page.wait_for_load_state("networkidle")
    review.refresh_from_db()
    assert review.status == Review.Status.SUBMITTED
    answers = dict(review.scores.values_list("criterion__code", "answer"))
    assert answers["spelling"] == CriterionScore.Answer.SUGGESTION
    assert answers["accuracy"] == CriterionScore.Answer.CHOSEN
