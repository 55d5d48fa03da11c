"""The demo's satisfaction surveys (manage.py load_demo): switched on, and resolved DM
conversations whose surveys went out over the last weeks, most of them answered."""

from datetime import datetime, timedelta

from cases.models import CaseEvent, CaseStatus, DeskSettings, Reply
from csat.actions import survey_text
from csat.models import Survey
from listening.ingest import ingest
from listening.models import Channel, QuarantinedPost
from listening.posts import Author
from socialdesk.demo.posts import demo_post, ingest_demo, set_case

# Resolved DM conversations with a satisfaction survey: (agent, the customer's DM, their
# answer to the survey, or "" for none).
DEMO_SURVEYS: list[tuple[str, str, str]] = [
    ("alex", "My card was charged twice for order 8812", "5 - sorted in minutes, thanks!"),
    ("alex", "Can't log in since the update", "4"),
    ("alex", "Where is my refund?", "5/5"),
    ("alex", "The app crashes at checkout", "4 stars, quick answer"),
    ("alex", "Wrong size delivered", ""),
    ("alex", "How do I change my address?", "5"),
    ("alex", "Coupon code not working", "3. Took a while"),
    ("blair", "Package says delivered but nothing here", "2 - I had to explain it three times"),
    ("blair", "Cancel my subscription please", "4"),
    ("blair", "Order stuck in processing for a week", "1 - still no parcel"),
    ("blair", "Is the store open on Sunday?", "5️⃣"),
    ("blair", "Refund for the broken lamp?", "3"),
    ("blair", "Damaged box, item fine", ""),
    ("blair", "Need an invoice for my company", "4/5"),
]


def load_demo_surveys(users: dict, channel: Channel, now: datetime) -> None:
    """Surveys switched on, and resolved DM conversations whose surveys went out over the
    last weeks; most customers answered, through ingest as a real answer comes in."""
    desk = DeskSettings.load()
    desk.csat_enabled = True
    desk.save(update_fields=["csat_enabled"])
    team = channel.team
    # Four rounds of the list, a conversation every eight hours: enough answers per agent
    # for the dashboard's intervals. Every fifth answer of the later rounds stays unsent.
    rounds = [
        (n, agent, complaint, "" if r and n % 5 == 0 else answer)
        for r in range(4)
        for n, (agent, complaint, answer) in enumerate(DEMO_SURVEYS, start=1 + r * 100)
    ]
    customers = {
        n: Author(external_id=f"demo-csat-{n}", handle=f"dm_customer{n}", name=f"DM customer {n}")
        for n, *_ in rounds
    }
    posts = [
        demo_post(
            f"dm:demo-csat-{n}",
            f"demo-csat-post-{n}",
            complaint,
            now - timedelta(hours=8 * i + 3),
            customers[n],
            kind="dm",
        )
        for i, (n, _agent, complaint, _answer) in enumerate(rounds, start=1)
    ]
    cases = ingest_demo(channel, posts, now)
    answers = []
    for post, (n, agent, _complaint, answer) in zip(posts, rounds, strict=True):
        posted = post.posted_at
        case = set_case(
            cases[post.conversation_id],
            status=CaseStatus.RESOLVED,
            triage_decision="engage",
            triage_decided_by=users[agent],
            triage_decided_at=posted,
            assignee=users[agent],
            first_response_at=posted + timedelta(minutes=12),
            resolved_at=posted + timedelta(minutes=40),
        )
        target = case.mentions.get()
        for minutes, text, key in (
            (12, "Sorry about that! I've sorted it on our side: you're all set.", "reply"),
            (41, survey_text("en"), "survey"),
        ):
            sent = posted + timedelta(minutes=minutes)
            reply = Reply.objects.create(
                case=case,
                author=users[agent],
                in_reply_to=target,
                text=text,
                is_private=True,
                state=Reply.State.SENT,
                external_id=f"demo-csat-{key}-{n}",
                created_at=sent,
                queued_at=sent,
                sent_at=sent,
            )
        survey = Survey.objects.create(
            case=case,
            channel=channel,
            customer=case.customer,
            conversation_key=case.conversation_key,
            agent=users[agent],
            team=team,
            state=Survey.State.QUEUED,
            language="en",
            reply=reply,
            created_at=sent,
            due_at=sent,
            decided_at=sent,
        )
        CaseEvent.objects.create(
            case=case,
            kind=CaseEvent.Kind.SURVEY_QUEUED,
            data={"reply_id": reply.pk, "survey_id": survey.pk},
            created_at=sent,
        )
        if answer:
            answers.append(
                demo_post(
                    post.conversation_id,
                    f"demo-csat-answer-{n}",
                    answer,
                    sent + timedelta(minutes=7),
                    customers[n],
                    kind="dm",
                )
            )
    ingest(channel, answers, source=QuarantinedPost.Source.IMPORT, now=now)
