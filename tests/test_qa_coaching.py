"""Agents' reviews, disputes and coaching sessions: who sees what, and the flows."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from qa import coaching
from qa.models import CoachingSession, Review
from qa.scoring import score_review
from socialdesk import roles
from tests.conftest import logged_in, make_user
from tests.factories import HOSTILE, make_review, make_sent_reply, make_team


@pytest.fixture
def desk(db, agent, qa, supervisor, admin):
    """Two teams: the supervisor leads A (agent, bob); C (carol) has another supervisor."""
    bob = make_user("bob_agent", roles.AGENT)
    carol = make_user("carol_agent", roles.AGENT)
    other_sup = make_user("olga_supervisor", roles.SUPERVISOR)
    make_team("Team A", [supervisor], [agent, bob])
    make_team("Team C", [other_sup], [carol])
    return {
        "agent": agent,
        "bob": bob,
        "carol": carol,
        "qa": qa,
        "supervisor": supervisor,
        "admin": admin,
        "other_sup": other_sup,
    }


# ---------- access ----------


@pytest.mark.parametrize(
    "name,args",
    [
        ("qa:my_reviews", []),
        ("qa:disputes", []),
        ("qa:coaching_list", []),
        ("qa:coaching", [1]),
        ("qa:dashboard", []),
    ],
)
def test_anonymous_visitors_are_sent_to_login(client, db, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_agent_sees_only_their_own_submitted_reviews(desk):
    mine = make_review(desk["agent"], desk["qa"], comment="Mine: well done")
    make_review(desk["bob"], desk["qa"], comment="Bob's: needs work")
    make_review(desk["agent"], desk["qa"], status=Review.Status.PENDING, comment="Not yet out")
    make_review(desk["agent"], desk["qa"], kind=Review.Kind.CALIBRATION, comment="Calibration")
    page = logged_in(desk["agent"]).get(reverse("qa:my_reviews")).content.decode()
    assert "Mine: well done" in page
    assert f"review-{mine.pk}" in page
    assert "Bob&#x27;s: needs work" not in page and "needs work" not in page
    assert "Not yet out" not in page
    assert "Calibration" not in page.split("<main")[1].split("My coaching")[1]


def test_agent_cannot_answer_another_agents_review(desk):
    bobs = make_review(desk["bob"], desk["qa"])
    response = logged_in(desk["agent"]).post(
        reverse("qa:respond", args=[bobs.pk]), {"action": "acknowledge"}
    )
    assert response.status_code == 404
    bobs.refresh_from_db()
    assert bobs.agent_response == Review.AgentResponse.PENDING


@pytest.mark.parametrize("persona", ["qa", "supervisor", "outsider"])
def test_people_without_own_reviews_cannot_open_my_reviews(desk, outsider, persona):
    user = outsider if persona == "outsider" else desk[persona]
    assert logged_in(user).get(reverse("qa:my_reviews")).status_code == 403


def test_qa_specialist_cannot_see_or_resolve_disputes(desk):
    review = make_review(desk["agent"], desk["qa"])
    coaching.do_dispute_review(review, desk["agent"], "The customer was not angry.")
    client = logged_in(desk["qa"])
    assert client.get(reverse("qa:disputes")).status_code == 403
    response = client.post(
        reverse("qa:resolve_dispute", args=[review.pk]), {"decision": "uphold", "note": "x"}
    )
    assert response.status_code == 403
    review.refresh_from_db()
    assert review.agent_response == Review.AgentResponse.DISPUTED


def test_agent_cannot_resolve_their_own_dispute(desk):
    review = make_review(desk["agent"], desk["qa"])
    coaching.do_dispute_review(review, desk["agent"], "Unfair")
    response = logged_in(desk["agent"]).post(
        reverse("qa:resolve_dispute", args=[review.pk]), {"decision": "uphold", "note": "me"}
    )
    assert response.status_code == 403


def test_supervisor_sees_disputes_of_their_teams_only(desk):
    ours = make_review(desk["agent"], desk["qa"])
    theirs = make_review(desk["carol"], desk["qa"])
    coaching.do_dispute_review(ours, desk["agent"], "Ours: the link was right")
    coaching.do_dispute_review(theirs, desk["carol"], "Theirs: I did invite a DM")
    page = logged_in(desk["supervisor"]).get(reverse("qa:disputes")).content.decode()
    assert "Ours: the link was right" in page
    assert "Theirs" not in page
    response = logged_in(desk["supervisor"]).post(
        reverse("qa:resolve_dispute", args=[theirs.pk]), {"decision": "uphold", "note": "ok"}
    )
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.agent_response == Review.AgentResponse.DISPUTED


def test_admin_sees_every_teams_disputes(desk):
    for who in ("agent", "carol"):
        review = make_review(desk[who], desk["qa"])
        coaching.do_dispute_review(review, desk[who], f"dispute by {who}")
    page = logged_in(desk["admin"]).get(reverse("qa:disputes")).content.decode()
    assert "dispute by agent" in page and "dispute by carol" in page


def test_supervisor_of_no_team_sees_no_disputes(desk):
    review = make_review(desk["agent"], desk["qa"])
    coaching.do_dispute_review(review, desk["agent"], "please look")
    lonely = make_user("lonely_supervisor", roles.SUPERVISOR)
    page = logged_in(lonely).get(reverse("qa:disputes")).content.decode()
    assert "please look" not in page
    assert "No open disputes" in page


# ---------- acknowledge, dispute, resolve ----------


def test_agent_acknowledges_a_review_once(desk):
    review = make_review(desk["agent"], desk["qa"])
    client = logged_in(desk["agent"])
    response = client.post(
        reverse("qa:respond", args=[review.pk]), {"action": "acknowledge", "comment": "Thanks"}
    )
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.agent_response == Review.AgentResponse.ACKNOWLEDGED
    assert review.agent_comment == "Thanks"
    assert review.agent_responded_at is not None
    client.post(reverse("qa:respond", args=[review.pk]), {"action": "dispute", "comment": "no"})
    review.refresh_from_db()
    assert review.agent_response == Review.AgentResponse.ACKNOWLEDGED  # not changed afterwards
    page = client.get(reverse("qa:my_reviews")).content.decode()
    assert "Acknowledged" in page and "qa-answer-form" not in page


def test_a_dispute_needs_a_comment(desk):
    review = make_review(desk["agent"], desk["qa"])
    client = logged_in(desk["agent"])
    client.post(reverse("qa:respond", args=[review.pk]), {"action": "dispute", "comment": " "})
    review.refresh_from_db()
    assert review.agent_response == Review.AgentResponse.PENDING
    page = client.get(reverse("qa:my_reviews")).content.decode()
    assert "a dispute needs a comment" in page
    client.post(
        reverse("qa:respond", args=[review.pk]),
        {"action": "dispute", "comment": "The customer asked for a public answer."},
    )
    review.refresh_from_db()
    assert review.agent_response == Review.AgentResponse.DISPUTED
    assert review.agent_comment == "The customer asked for a public answer."


def test_upheld_dispute_annuls_the_score_and_notes_it(desk):
    review = make_review(desk["agent"], desk["qa"], score=45.0)
    coaching.do_dispute_review(review, desk["agent"], "Wrong criterion")
    response = logged_in(desk["supervisor"]).post(
        reverse("qa:resolve_dispute", args=[review.pk]),
        {"decision": "uphold", "note": "Agreed, the offline invite was there."},
    )
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.agent_response == Review.AgentResponse.DISPUTE_UPHELD
    assert review.score is None
    assert review.dispute_resolved_by == desk["supervisor"]
    assert "Agreed, the offline invite was there." in review.dispute_resolution
    assert "Original score 45.0 annulled." in review.dispute_resolution
    page = logged_in(desk["agent"]).get(reverse("qa:my_reviews")).content.decode()
    assert "Dispute upheld" in page and "Original score 45.0 annulled." in page


def test_upheld_dispute_corrects_the_criteria_and_scores_again_from_them(desk):
    review = make_review(
        desk["agent"],
        desk["qa"],
        score=0.0,
        critical_failed=True,
        values={"right_person": 0, "tact": 4, "spelling": 3},
    )
    right_person = review.scores.get(criterion__code="right_person")
    coaching.do_dispute_review(review, desk["agent"], "The customer was real")
    response = logged_in(desk["supervisor"]).post(
        reverse("qa:resolve_dispute", args=[review.pk]),
        {"decision": "uphold", "note": "Right person", f"c{right_person.criterion_id}": "1"},
    )
    assert response.status_code == 302
    review.refresh_from_db()
    right_person.refresh_from_db()
    assert (right_person.value, right_person.original_value) == (1, 0)
    assert right_person.corrected_at is not None
    scores = {s.criterion: s.value for s in review.scores.select_related("criterion")}
    assert (review.score, review.critical_failed) == score_review(scores)
    assert review.score > 0 and not review.critical_failed
    assert "Original score 0.0 corrected to" in review.dispute_resolution
    assert "→ 1" in review.dispute_resolution
    page = logged_in(desk["agent"]).get(reverse("qa:my_reviews")).content.decode()
    assert "corrected on dispute, was 0" in page


def test_rejected_dispute_keeps_the_score(desk):
    review = make_review(desk["agent"], desk["qa"], score=55.0)
    coaching.do_dispute_review(review, desk["agent"], "Too harsh")
    logged_in(desk["supervisor"]).post(
        reverse("qa:resolve_dispute", args=[review.pk]),
        {"decision": "reject", "note": "The reply had two spelling errors."},
    )
    review.refresh_from_db()
    assert review.agent_response == Review.AgentResponse.DISPUTE_REJECTED
    assert review.score == 55.0
    assert review.dispute_resolution == "The reply had two spelling errors."


def test_resolving_needs_a_note_and_an_open_dispute(desk):
    review = make_review(desk["agent"], desk["qa"], score=55.0)
    with pytest.raises(coaching.CoachingError, match="not .*disputed"):
        coaching.do_resolve_dispute(review, desk["supervisor"], uphold=False, note="n")
    coaching.do_dispute_review(review, desk["agent"], "Too harsh")
    client = logged_in(desk["supervisor"])
    client.post(reverse("qa:resolve_dispute", args=[review.pk]), {"decision": "reject"})
    review.refresh_from_db()
    assert review.agent_response == Review.AgentResponse.DISPUTED
    tact = review.scores.get(criterion__code="tact").criterion_id
    with pytest.raises(coaching.CoachingError, match="from 1 to 5"):
        coaching.do_resolve_dispute(
            review, desk["supervisor"], uphold=True, note="n", corrections={tact: 9}
        )


def test_hostile_text_is_escaped_on_review_pages(desk):
    reply = make_sent_reply(desk["agent"], text=HOSTILE)
    review = make_review(desk["agent"], desk["qa"], reply=reply)
    coaching.do_dispute_review(review, desk["agent"], HOSTILE)
    for user, url in ((desk["agent"], "qa:my_reviews"), (desk["supervisor"], "qa:disputes")):
        page = logged_in(user).get(reverse(url)).content.decode()
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in page


def test_my_reviews_query_count_does_not_grow(desk, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = logged_in(desk["agent"])
    counts = []
    for n in (3, 17):
        for _ in range(n):
            make_review(desk["agent"], desk["qa"])
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("qa:my_reviews")).status_code == 200
        counts.append(len(ctx))
    assert counts[0] == counts[1]


# ---------- coaching sessions ----------


def test_supervisor_plans_a_session_for_a_team_agent(desk):
    low = make_review(desk["agent"], desk["qa"], score=40)
    make_review(desk["agent"], desk["qa"], score=95)
    client = logged_in(desk["supervisor"])
    form = client.get(
        reverse("qa:coaching_list"), {"agent": desk["agent"].pk, "review": low.pk}
    ).content.decode()
    assert f'value="{low.pk}" checked' in form
    response = client.post(
        reverse("qa:coaching_list"),
        {
            "agent": desk["agent"].pk,
            "reviews": [low.pk],
            "scheduled_for": "2030-01-07T10:00",
            "notes": "Talked about empathy.",
            "action_items": "- Acknowledge the feeling first\n\n* Offer a DM\n",
            "follow_up_on": "2030-01-21",
        },
    )
    session = CoachingSession.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("qa:coaching", args=[session.pk])
    assert session.agent == desk["agent"] and session.coach == desk["supervisor"]
    assert list(session.reviews.all()) == [low]
    assert session.action_items == "Acknowledge the feeling first\nOffer a DM"
    assert session.follow_up_on == date(2030, 1, 21)
    page = client.get(response["Location"]).content.decode()
    assert "<li>Offer a DM</li>" not in page  # the coach sees the edit form
    assert "Acknowledge the feeling first" in page and f"Case #{low.case_id}" in page


def test_supervisor_cannot_coach_another_teams_agent(desk):
    client = logged_in(desk["supervisor"])
    response = client.post(
        reverse("qa:coaching_list"), {"agent": desk["carol"].pk, "notes": "sneaky"}
    )
    assert response.status_code == 400
    assert "Choose one of your agents." in response.content.decode()
    assert not CoachingSession.objects.exists()


def test_a_bad_date_is_named_beside_its_field_and_nothing_is_lost(desk):
    client = logged_in(desk["supervisor"])
    response = client.post(
        reverse("qa:coaching_list"),
        {
            "agent": desk["agent"].pk,
            "scheduled_for": "next tuesday",
            "follow_up_on": "2030-02-30",
            "notes": "Keep this text.",
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="scheduled_for-error"' in html and "Give the session time as" in html
    assert 'id="follow_up_on-error"' in html and "Give the follow-up date as YYYY-MM-DD." in html
    assert "Keep this text." in html
    assert not CoachingSession.objects.exists()


def test_reviews_of_another_agent_cannot_be_linked(desk):
    bobs = make_review(desk["bob"], desk["qa"])
    with pytest.raises(coaching.CoachingError):
        coaching.do_create_coaching(coach=desk["supervisor"], agent=desk["agent"], reviews=[bobs])
    logged_in(desk["supervisor"]).post(
        reverse("qa:coaching_list"), {"agent": desk["agent"].pk, "reviews": [bobs.pk]}
    )
    assert list(CoachingSession.objects.get().reviews.all()) == []  # silently not linkable


def test_session_is_marked_done_then_followed_up(desk):
    session = coaching.do_create_coaching(coach=desk["supervisor"], agent=desk["agent"])
    client = logged_in(desk["supervisor"])
    url = reverse("qa:coaching", args=[session.pk])
    client.post(url, {"action": "status", "status": "followed_up"})
    session.refresh_from_db()
    assert session.status == CoachingSession.Status.PLANNED  # must be done first
    client.post(url, {"action": "status", "status": "done"})
    session.refresh_from_db()
    assert session.status == CoachingSession.Status.DONE
    client.post(url, {"action": "status", "status": "followed_up"})
    session.refresh_from_db()
    assert session.status == CoachingSession.Status.FOLLOWED_UP


def test_coach_edits_notes_and_follow_up(desk):
    session = coaching.do_create_coaching(coach=desk["supervisor"], agent=desk["agent"])
    logged_in(desk["supervisor"]).post(
        reverse("qa:coaching", args=[session.pk]),
        {
            "action": "edit",
            "notes": "New notes",
            "action_items": "one\ntwo",
            "follow_up_on": "2031-02-03",
        },
    )
    session.refresh_from_db()
    assert (session.notes, session.action_items, session.follow_up_on) == (
        "New notes",
        "one\ntwo",
        date(2031, 2, 3),
    )


def test_agent_sees_own_sessions_read_only(desk):
    mine = coaching.do_create_coaching(
        coach=desk["supervisor"],
        agent=desk["agent"],
        notes="Keep it up",
        action_items="Use the customer's name",
    )
    bobs = coaching.do_create_coaching(coach=desk["supervisor"], agent=desk["bob"], notes="Bob")
    client = logged_in(desk["agent"])
    listing = client.get(reverse("qa:coaching_list")).content.decode()
    assert reverse("qa:coaching", args=[mine.pk]) in listing
    assert reverse("qa:coaching", args=[bobs.pk]) not in listing
    assert "Plan a session" not in listing
    page = client.get(reverse("qa:coaching", args=[mine.pk])).content.decode()
    assert "Keep it up" in page and "<li>Use the customer&#x27;s name</li>" in page
    assert "Mark done" not in page
    assert client.get(reverse("qa:coaching", args=[bobs.pk])).status_code == 404
    response = client.post(
        reverse("qa:coaching", args=[mine.pk]), {"action": "status", "status": "done"}
    )
    assert response.status_code == 403
    mine.refresh_from_db()
    assert mine.status == CoachingSession.Status.PLANNED


def test_supervisor_cannot_open_another_teams_session(desk):
    theirs = coaching.do_create_coaching(coach=desk["other_sup"], agent=desk["carol"])
    client = logged_in(desk["supervisor"])
    assert client.get(reverse("qa:coaching", args=[theirs.pk])).status_code == 404
    assert logged_in(desk["admin"]).get(reverse("qa:coaching", args=[theirs.pk])).status_code == 200


def test_qa_specialist_has_no_coaching_pages(desk):
    assert logged_in(desk["qa"]).get(reverse("qa:coaching_list")).status_code == 403


def test_follow_up_cannot_precede_the_session(desk):
    with pytest.raises(coaching.CoachingError, match="before the session"):
        coaching.do_create_coaching(
            coach=desk["supervisor"],
            agent=desk["agent"],
            scheduled_for=timezone.now(),
            follow_up_on=timezone.localdate() - timedelta(days=1),
        )
