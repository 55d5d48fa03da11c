"""The demo's conversations: open comments on the Facebook page, and the Care team's answered
cases with their QA reviews (partly submitted, for the dashboards; partly pending, for the
review queue), a disputed review with a coaching session planned, a press enquiry whose answer
waits for approval, and a customer who edited one post and deleted the next.

They come in the way every post does, through `listening.ingest.ingest()`; only what the
desk's people did since (triage, assignment, answers, resolution) is then set on them. Each
set is made once: a second run finds its cases and leaves them.
"""

from datetime import datetime, timedelta

from django.utils import timezone

from cases.checks import run_checks
from cases.models import Case, CaseStatus, DeskSettings, Reply, Triage
from listening.models import Channel, Network
from listening.posts import Author
from socialdesk.demo.accounts import demo_users
from socialdesk.demo.posts import demo_post, ingest_demo, set_case
from socialdesk.demo.surveys import load_demo_surveys

# Open comments on the Facebook page, so the Facebook team's inbox has work in it:
# (conversation, customer handle, name, text, language, minutes ago).
DEMO_FACEBOOK_COMMENTS: list[tuple[str, str, str, str, str, int]] = [
    (
        "demo-fb-1",
        "lea.martin",
        "Léa Martin",
        "Ma commande est arrivée cassée et personne ne répond au téléphone. Que faire ?",
        "fr",
        18,
    ),
    (
        "demo-fb-2",
        "tom.becker",
        "Tom Becker",
        "Third week waiting for the delivery of order 88120. Is it ever coming?",
        "en",
        42,
    ),
]

_GOOD = {
    "right_person": 1,
    "spelling": 3,
    "punctuation": 3,
    "accuracy": 5,
    "tact_empathy": 5,
    "offline": 1,
    "network_norms": 3,
    "response_time": 3,
}
# (agent, customer post, our reply, case sentiment, minutes to reply, scores or None = pending)
DEMO_REVIEWS: list[tuple[str, str, str, float, int, dict[str, int | None] | None]] = [
    (
        "alex",
        "@acme_support my order arrived broken and nobody answers my emails",
        "So sorry your order arrived broken! Please send us a DM with your order number and "
        "we will sort out a replacement today.",
        -0.7,
        18,
        _GOOD,
    ),
    (
        "blair",
        "@acme_support charged twice for the same order, I want my money back",
        "We will recieve your refund request. Send us your adress in a DM",
        -0.6,
        95,
        {
            **_GOOD,
            "spelling": 1,
            "punctuation": 2,
            "accuracy": 3,
            "tact_empathy": 2,
            "response_time": 2,
        },
    ),
    (
        "alex",
        "@acme_support do you ship to Canada?",
        "Thanks for asking! Yes, we ship to Canada: delivery takes 5 to 7 working days.",
        0.3,
        12,
        {**_GOOD, "offline": None, "accuracy": 4},
    ),
    (
        "blair",
        "@acme_support the app keeps crashing, this is useless",
        "Sorry about the crashes! Could you DM us your phone model so we can look into it?",
        -0.5,
        40,
        {**_GOOD, "tact_empathy": 4},
    ),
    (
        "alex",
        "@acme_support still waiting for my refund after three weeks!!",
        "Sorry for the wait. Please DM us your order number and we will chase it.",
        -0.6,
        150,
        None,
    ),
    (
        "blair",
        "@acme_support where is my parcel? tracking has not moved in days",
        "ok, tracking is updated daily",
        -0.2,
        30,
        None,
    ),
]


def load_facebook_comments() -> None:
    """The Facebook team's open comments (once)."""
    facebook = Channel.objects.filter(network=Network.FACEBOOK).order_by("id").first()
    if facebook is None or Case.objects.filter(conversation_key="demo-fb-1").exists():
        return
    now = timezone.now()
    posts = [
        demo_post(
            conversation,
            f"{conversation}-comment",
            text,
            now - timedelta(minutes=minutes),
            Author(external_id=f"{conversation}-author", handle=handle, name=name),
            network=Network.FACEBOOK,
            kind="comment",
            lang=lang,
        )
        for conversation, handle, name, text, lang, minutes in DEMO_FACEBOOK_COMMENTS
    ]
    ingest_demo(facebook, posts, now)


def load_qa_content() -> None:
    """Rubric, sampling policy, and demo reviews of the Care team (once)."""
    from qa.models import Review, SamplingPolicy
    from qa.reviews import do_create_review, do_submit_review
    from qa.rubrics import default_rubric

    rubric = default_rubric()
    SamplingPolicy.objects.get_or_create(name="Weekly sample")
    users = demo_users()
    if Case.objects.filter(conversation_key__startswith="demo-qa-").exists():
        return
    channel = Channel.objects.filter(network=Network.X).order_by("id").first()
    if channel is None:
        return
    now = timezone.now()
    criteria = {c.code: c for c in rubric.criteria.all()}
    posts = [
        demo_post(
            f"demo-qa-{n}",
            f"demo-qa-post-{n}",
            post,
            now - timedelta(days=n, hours=2),
            Author(
                external_id=f"demo-qa-{n}",
                handle=f"demo_customer{n}",
                name=f"Demo customer {n}",
                followers=40 * n * n,
            ),
        )
        for n, (_, post, *_) in enumerate(DEMO_REVIEWS, start=1)
    ]
    cases = ingest_demo(channel, posts, now)
    reviews = []
    for n, (agent, _, text, sentiment, waited, scores) in enumerate(DEMO_REVIEWS, start=1):
        posted = posts[n - 1].posted_at
        case = set_case(
            cases[f"demo-qa-{n}"],
            status=CaseStatus.RESOLVED,
            priority=70 if sentiment < -0.3 else 35,
            priority_reasons=[],
            triage_suggestion="engage",
            triage_reason="",
            triage_decision="engage",
            triage_decided_by=users[agent],
            triage_decided_at=posted,
            assignee=users[agent],
            sentiment=sentiment,
            first_response_at=posted + timedelta(minutes=waited),
            resolved_at=posted + timedelta(minutes=waited + 5),
        )
        sent = posted + timedelta(minutes=waited)
        checks = run_checks(text, network=channel.network, is_private=False, case=case)
        reply = Reply.objects.create(
            case=case,
            author=users[agent],
            text=text,
            state=Reply.State.SENT,
            external_id=f"demo-qa-reply-{n}",
            checks=[c.as_dict() for c in checks],
            created_at=sent,
            queued_at=sent,
            sent_at=sent,
        )
        review = do_create_review(reply=reply, reviewer=users["quinn"], kind="sample")
        Review.objects.filter(pk=review.pk).update(created_at=sent + timedelta(hours=1))
        if scores is not None:
            values = {criteria[code].pk: value for code, value in scores.items()}
            review = do_submit_review(review, values, "")
            Review.objects.filter(pk=review.pk).update(submitted_at=sent + timedelta(hours=3))
        reviews.append(review)
    _coaching_content(users, reviews)
    _approval_content(users, channel, now)
    _source_changes_content(channel, now)
    load_demo_surveys(users, channel, now)


def _coaching_content(users: dict, reviews: list) -> None:
    """Blair disputes the review of her crash reply and has a session planned on spelling."""
    from qa.coaching import do_create_coaching, do_dispute_review

    spelling, crashes = reviews[1], reviews[3]
    do_dispute_review(
        crashes,
        users["blair"],
        "I apologised and asked for the phone model in the same reply: tact and empathy "
        "should be full marks.",
    )
    today = timezone.localdate()
    do_create_coaching(
        coach=users["sasha"],
        agent=users["blair"],
        reviews=[spelling],
        scheduled_for=timezone.now() + timedelta(days=1),
        notes="Two spelling mistakes in a public reply to an angry customer; it read as "
        "careless. The apology came late and the reply took over an hour and a half.",
        action_items="Read every public reply once more before sending\n"
        "Use the canned refund answer as a starting point\n"
        "Answer refund complaints within the hour",
        follow_up_on=today + timedelta(days=8),
    )


def _approval_content(users: dict, channel: Channel, now: datetime) -> None:
    """A journalist's question, escalated; alex's answer waits for a supervisor."""
    from cases.sending import do_queue_reply

    desk = DeskSettings.load()
    desk.approval_for_escalated = True
    desk.save(update_fields=["approval_for_escalated"])
    posted = now - timedelta(minutes=25)
    text = (
        "Reporter at the Daily Ledger here, @acme_support: can you comment on this "
        "morning's outage? Readers say orders were charged twice."
    )
    journalist = Author(
        external_id="demo-qa-press",
        handle="dana_ledger",
        name="Dana Reyes",
        followers=48_200,
        verified=True,
    )
    post = demo_post("demo-qa-press", "demo-qa-press-post", text, posted, journalist)
    case = set_case(
        ingest_demo(channel, [post], now)["demo-qa-press"],
        status=CaseStatus.OPEN,
        priority=78,
        priority_reasons=["press enquiry", "reach: 48.2k followers", "verified account"],
        triage_suggestion=Triage.ESCALATE,
        triage_reason="Press enquiry: hand to communications before anyone answers.",
        triage_decision=Triage.ESCALATE,
        triage_decision_reason="Journalist asking about the outage.",
        triage_decided_by=users["alex"],
        triage_decided_at=posted + timedelta(minutes=5),
        assignee=users["alex"],
        sentiment=-0.3,
        mention_priority=78,
    )
    answer = (
        "Hi Dana, thanks for reaching out. Our press team will get back to you within the "
        "hour: could you send us a DM with your email address?"
    )
    do_queue_reply(
        case,
        author=users["alex"],
        text=answer,
        is_private=False,
        checks=run_checks(answer, network=channel.network, is_private=False, case=case),
    )


def _source_changes_content(channel: Channel, now: datetime) -> None:
    """A customer who edited one post and deleted the next: how the timeline shows both."""
    from listening.content import do_record_source_edit, do_record_source_removal
    from listening.models import Removal

    customer = Author(
        external_id="demo-qa-edits", handle="sam_parcel", name="Sam Ortiz", followers=310
    )
    first = demo_post(
        "demo-qa-edits",
        "demo-qa-edits-1",
        "@acme_support my parcel never came and nobody answers the phone. Order 55210.",
        now - timedelta(minutes=50),
        customer,
    )
    second = demo_post(
        "demo-qa-edits",
        "demo-qa-edits-2",
        "@acme_support honestly your courier is a joke, worst company ever",
        now - timedelta(minutes=40),
        customer,
    )
    ingest_demo(channel, [first, second], now)
    do_record_source_edit(
        channel=channel,
        external_id=first.external_id,
        text="@acme_support my parcel came a week late: can I get the delivery fee back? "
        "Order 55210.",
        edited_at=now - timedelta(minutes=30),
    )
    do_record_source_removal(
        channel=channel,
        external_id=second.external_id,
        removed_at=now - timedelta(minutes=20),
        how=Removal.LOOKUP,
    )
