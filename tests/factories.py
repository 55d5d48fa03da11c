"""Small builders: network-neutral posts (ingest, radar, benchmarks), cases as ingest leaves
them (the desk's pages, actions and QA), replies, and QA's rubrics, reviews and teams."""

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from cases import sending
from cases.checks import run_checks
from cases.models import (
    CannedReply,
    CannedReplyVariant,
    Case,
    CaseStatus,
    Customer,
    Identity,
    Label,
    Reply,
)
from cases.sla import refresh_case_sla
from listening import polling
from listening.models import Channel, Mention, MentionKind, Network
from listening.posts import Author, InboundPost
from qa.models import Criterion, CriterionScore, Review, Rubric
from socialdesk.models import Team

BASE_TIME = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
COMPLAINT = "@acme_support my order arrived broken, I want a refund"
# Markup a customer (or anyone) might type: every page must show it as text.
HOSTILE = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'

_serial = itertools.count(1)


def author(n: int = 1, **fields) -> Author:
    defaults = {
        "external_id": f"u{n}",
        "handle": f"customer{n}",
        "name": f"Customer {n}",
        "followers": 120,
    }
    defaults.update(fields)
    return Author(**defaults)


def post(
    n: int, *, by: Author | None = None, conversation: str | None = None, **fields
) -> InboundPost:
    defaults = {
        "network": "x",
        "external_id": str(10_000 + n),
        "kind": "mention",
        "text": f"@acme_support question number {n}?",
        "posted_at": BASE_TIME + timedelta(minutes=n),
        "author": by or author(n),
        "conversation_id": conversation or str(10_000 + n),
        "lang": "en",
    }
    defaults.update(fields)
    return InboundPost(**defaults)


def make_customer(
    network: str = Network.X,
    *,
    name: str = "Dana Customer",
    handle: str = "dana",
    followers: int = 1200,
    verified: bool = False,
    profile_url: str = "",
) -> tuple[Customer, Identity]:
    """A customer known by one identity, on `network`."""
    n = next(_serial)
    customer = Customer.objects.create(display_name=name)
    identity = Identity.objects.create(
        customer=customer,
        network=network,
        external_id=f"user-{n}",
        handle=handle,
        name=name,
        followers=followers,
        verified=verified,
        profile_url=profile_url,
    )
    return customer, identity


def make_case(
    channel: Channel,
    *,
    text: str = COMPLAINT,
    waited: timedelta = timedelta(minutes=4),
    customer: tuple[Customer, Identity] | None = None,
    name: str = "Dana Customer",
    handle: str = "dana",
    followers: int = 1200,
    verified: bool = False,
    triage: str = "engage",
    kind: str = MentionKind.MENTION,
    url: str = "",
    labels: Iterable[Label] = (),
    **fields: Any,
) -> Case:
    """A case as ingest leaves it: customer, identity, the case and its first mention.

    The mention (`text`, `kind`, `url`) was posted `waited` ago by the identity of `customer`,
    or of a new customer made from `name`, `handle`, `followers` and `verified`. `fields` set
    the case's own fields (status, priority, assignee, is_private, ...) over the defaults of a
    new complaint; a private case's mention is private too.
    """
    n = next(_serial)
    customer, identity = customer or make_customer(
        channel.network, name=name, handle=handle, followers=followers, verified=verified
    )
    posted = timezone.now() - waited
    defaults = {
        "conversation_key": f"conv-{n}",
        "subject": text[:200],
        "status": CaseStatus.NEW,
        "priority": 50,
        "priority_reasons": ["urgency: broken, refund"],
        "triage_suggestion": triage,
        "triage_reason": "Customer with a concrete problem (broken, refund).",
        "mention_count": 1,
        "opened_at": posted,
        "last_inbound_at": posted,
        # Ingest starts the response clock at the first post; a reply stops it.
        "awaiting_since": None if fields.get("first_response_at") else posted,
    }
    case = Case.objects.create(customer=customer, channel=channel, **(defaults | fields))
    case.labels.set(labels)
    add_mention(case, text, author=identity, posted_at=posted, kind=kind, url=url)
    refresh_case_sla(case)
    return case


# The composer's usual case: an angry customer waiting for an answer.
ANGRY_TEXT = "@acme_support my order arrived broken AGAIN, worst service ever, I want a refund"
ANGRY_CASE = {
    "text": ANGRY_TEXT,
    "waited": timedelta(minutes=5),
    "status": CaseStatus.OPEN,
    "priority": 60,
    "sentiment": -0.7,
}


def make_angry_case(channel: Channel, *, mentions: int = 1, **fields: Any) -> Case:
    """An angry open case (`fields` change it) whose customer wrote `mentions` posts a minute
    apart, the newest with the case's text."""
    case = make_case(channel, mention_count=mentions, **(ANGRY_CASE | fields))
    latest = case.mentions.get()
    for i in range(mentions - 1):
        add_mention(
            case,
            f"{latest.text} (earlier message {i})",
            author=latest.author,
            kind=latest.kind,
            posted_at=latest.posted_at - timedelta(minutes=mentions - 1 - i),
        )
    return case


def make_bare_case(channel: Channel, **fields: Any) -> Case:
    """A case with a customer and nothing else (no identity, no mention): for builders that
    make thousands."""
    n = next(_serial)
    customer = Customer.objects.create(display_name=f"Customer {n}")
    return Case.objects.create(
        customer=customer, channel=channel, conversation_key=f"conv-{n}", **fields
    )


def add_mention(
    case: Case,
    text: str,
    *,
    author: Identity | None = None,
    posted_at: datetime | None = None,
    **fields: Any,
) -> Mention:
    """A post in the case's conversation: by default the customer's reply, just now."""
    n = next(_serial)
    defaults = {"kind": MentionKind.REPLY, "is_private": case.is_private, "priority": case.priority}
    return Mention.objects.create(
        channel=case.channel,
        case=case,
        author=author or case.customer.identities.first(),
        external_id=f"post-{n}",
        text=text,
        conversation_id=case.conversation_key,
        posted_at=posted_at or timezone.now(),
        **(defaults | fields),
    )


def make_canned(
    title: str,
    text: str = "",
    *,
    variants: dict[str, str] | None = None,
    labels: Iterable[str] = (),
    is_private: bool = False,
) -> CannedReply:
    """A canned reply with a default `text`, `variants` {network: text} and labels by name
    (created when missing)."""
    canned = CannedReply.objects.create(title=title, text=text, is_private=is_private)
    for network, wording in (variants or {}).items():
        CannedReplyVariant.objects.create(canned=canned, network=network, text=wording)
    canned.labels.set([Label.objects.get_or_create(name=name)[0] for name in labels])
    return canned


def make_reply(
    case: Case, author: Any, state: str, *, text: str = "Sorry to hear that!", **fields: Any
) -> Reply:
    """A reply on `case` in `state`; `fields` set its times, error and the like."""
    return Reply.objects.create(case=case, author=author, text=text, state=state, **fields)


def make_sent_reply(
    author: Any,
    channel: Channel | None = None,
    *,
    text: str = "Sorry about that! Please DM us.",
    **case_fields: Any,
) -> Reply:
    """A reply `author` sent just now to the first post of a new case assigned to them, on
    `channel` (a new X channel by default); `case_fields` set the case's own fields."""
    from tests.conftest import make_channel

    case = make_case(channel or make_channel(Network.X), **({"assignee": author} | case_fields))
    now = timezone.now()
    return make_reply(
        case,
        author,
        Reply.State.SENT,
        text=text,
        external_id=f"sent-{next(_serial)}",
        in_reply_to=case.mentions.first(),
        queued_at=now,
        sent_at=now,
    )


def make_queued_reply(
    channel: Channel,
    author: Any,
    *,
    private: bool = False,
    text: str = "Sorry about that: we are on it.",
    **fields: Any,
) -> Reply:
    """A reply `author` queued just now to the first post of a new case on `channel`;
    `fields` set the reply's own (attempts, ...)."""
    case = make_case(channel)
    return make_reply(
        case,
        author,
        Reply.State.QUEUED,
        text=text,
        in_reply_to=case.mentions.first(),
        is_private=private,
        queued_at=timezone.now(),
        **fields,
    )


def make_sent_replies(
    author: Any,
    channel: Channel,
    count: int,
    *,
    sent_at: datetime,
    case_fields: dict[str, Any] | None = None,
    state: str = Reply.State.SENT,
    **fields: Any,
) -> list[Reply]:
    """`count` replies `author` sent at `sent_at` on `channel`, one bare case each
    (`case_fields`), bulk-created."""
    replies = [
        Reply(
            case=make_bare_case(channel, **(case_fields or {})),
            author=author,
            text="Thanks, we are on it.",
            state=state,
            sent_at=sent_at,
            **fields,
        )
        for _ in range(count)
    ]
    return Reply.objects.bulk_create(replies)


def make_checked_reply(
    case: Case,
    author: Any,
    text: str,
    *,
    waited: timedelta = timedelta(minutes=20),
    override_reason: str = "",
    is_private: bool = False,
) -> Reply:
    """A reply sent `waited` after the case opened, with the guideline checks the composer
    would have shown."""
    sent = case.opened_at + waited
    checks = [
        r.as_dict()
        for r in run_checks(text, network=case.channel.network, is_private=is_private, case=case)
    ]
    return Reply.objects.create(
        case=case,
        author=author,
        text=text,
        is_private=is_private,
        state=Reply.State.SENT,
        external_id=f"rev-{next(_serial)}",
        checks=checks,
        override_reason=override_reason,
        created_at=sent,
        queued_at=sent,
        sent_at=sent,
    )


# ---- replies as the connector tests send them -----------------------------------------------


def make_x_reply(
    channel: Channel, *, private: bool = False, text: str = "Sorry! DM us. ^AB", link: bool = True
) -> Reply:
    """A reply being sent on X to Clara's mention (or DM), with the ids the connector tests'
    recorded payloads use; `link=False` leaves out what it answers."""
    return _sending_reply(
        channel,
        "Clara",
        Identity(network="x", external_id="2244994945", handle="clara_g"),
        conversation="dm:1000-2244994945" if private else "1861000000000000101",
        post_id="1861000000000000410" if private else "1861000000000000105",
        kind="dm" if private else "reply",
        private=private,
        posted_at=datetime(2026, 11, 23, 10, 15, tzinfo=UTC),
        text=text,
        link=link,
    )


def make_facebook_reply(
    channel: Channel, *, kind: str = "comment", private: bool = False, text: str = "Sorry!"
) -> Reply:
    """A reply being sent on Facebook to Ahmed's comment (or message, `kind="dm"`), with the ids
    the connector tests' recorded payloads use."""
    is_dm = kind == "dm"
    return _sending_reply(
        channel,
        "Ahmed",
        Identity(network="facebook", external_id="10233344455", name="Ahmed Ali"),
        conversation="msg:t_3141592653589793" if is_dm else "2000_7710002",
        post_id="m_kP8Z1wQ0bA7c2fJ9xLq3RtYvN5dE6" if is_dm else "7710002_55501",
        kind=kind,
        private=private,
        posted_at=datetime(2026, 11, 23, 10, 20, tzinfo=UTC),
        text=text,
    )


def _sending_reply(
    channel: Channel,
    customer: str,
    identity: Identity,
    *,
    conversation: str,
    post_id: str,
    kind: str,
    private: bool,
    posted_at: datetime,
    text: str,
    link: bool = True,
) -> Reply:
    """`customer` known by `identity`, a case with their one post, and a new agent's reply to it
    in SENDING. The case and the post are private when the post is a DM."""
    is_dm = kind == "dm"
    identity.customer = Customer.objects.create(display_name=customer)
    identity.save()
    case = Case.objects.create(
        customer=identity.customer, channel=channel, conversation_key=conversation, is_private=is_dm
    )
    mention = Mention.objects.create(
        channel=channel,
        case=case,
        author=identity,
        external_id=post_id,
        kind=kind,
        is_private=is_dm,
        text="help",
        conversation_id=conversation,
        posted_at=posted_at,
    )
    author = User.objects.create_user(username=f"agent{Reply.objects.count()}")
    return Reply.objects.create(
        case=case,
        author=author,
        in_reply_to=mention if link else None,
        text=text,
        is_private=private,
        state=Reply.State.SENDING,
        sending_started_at=datetime(2026, 11, 23, 10, 30, tzinfo=UTC),
    )


# ---- QA ------------------------------------------------------------------------------------

TEST_RUBRIC = "Test rubric"
# A critical yes/no, a 1-5 weighted twice and a 1-3 that allows N/A, in this order.
TEST_CRITERIA = [
    {
        "code": "right_person",
        "name": "Engaged the right person",
        "scale": Criterion.Scale.YES_NO,
        "critical": True,
    },
    {"code": "tact", "name": "Tact and empathy", "scale": Criterion.Scale.FIVE, "weight": 2},
    {"code": "spelling", "name": "Spelling", "scale": Criterion.Scale.THREE, "allow_na": True},
]


def make_rubric(name: str = TEST_RUBRIC) -> Rubric:
    """A rubric of the TEST_CRITERIA."""
    rubric = Rubric.objects.create(name=name)
    for position, criterion in enumerate(TEST_CRITERIA, start=1):
        Criterion.objects.create(rubric=rubric, position=position, **criterion)
    return rubric


def make_review(
    agent: Any,
    reviewer: Any,
    *,
    score: float | None = 90.0,
    weight: float = 1.0,
    rubric: Rubric | None = None,
    values: dict[str, int | None] | None = None,
    submitted_at: datetime | None = None,
    critical_failed: bool = False,
    status: str = Review.Status.SUBMITTED,
    kind: str = Review.Kind.SAMPLE,
    reply: Reply | None = None,
    channel: Channel | None = None,
    comment: str = "Good reply.",
) -> Review:
    """`reviewer`'s review of `reply` (by default a new reply `agent` sent) on the test rubric,
    with its criterion `values` (by default a good score on each)."""
    rubric = rubric or Rubric.objects.filter(name=TEST_RUBRIC).first() or make_rubric()
    reply = reply or make_sent_reply(agent, channel)
    review = Review.objects.create(
        kind=kind,
        reply=reply,
        case=reply.case,
        agent=agent,
        reviewer=reviewer,
        rubric=rubric,
        status=status,
        score=score,
        weight=weight,
        critical_failed=critical_failed,
        comment=comment,
        submitted_at=(submitted_at or timezone.now())
        if status == Review.Status.SUBMITTED
        else None,
    )
    values = values if values is not None else {"right_person": 1, "tact": 4, "spelling": 3}
    criteria = {c.code: c for c in rubric.criteria.all()}
    CriterionScore.objects.bulk_create(
        CriterionScore(review=review, criterion=criteria[code], value=v)
        for code, v in values.items()
    )
    return review


def make_team(name: str, supervisors: Iterable[Any] = (), members: Iterable[Any] = ()) -> Team:
    team = Team.objects.create(name=name)
    team.supervisors.set(supervisors)
    team.members.set(members)
    return team


# ---- sending -------------------------------------------------------------------------------


def ingest_one(sim: Any, channel: Channel, kind: str) -> Mention:
    """Publish one customer post of `kind` on the simulator `sim` and poll it into a case."""
    account = channel.external_account_id
    (post_id,) = sim.publish(channel.network, 1, account_id=account, kind=kind)
    assert polling.poll_channel(channel.pk) == polling.PollOutcome.OK
    return Mention.objects.select_related("case", "author").get(
        channel=channel, external_id=post_id
    )


def queue_reply(
    case: Case, author: Any, text: str = "Sorry about that! We're on it.", **kw
) -> Reply:
    """A public reply queued the way the composer queues it (cases.sending.do_queue_reply)."""
    return sending.do_queue_reply(case, author=author, text=text, is_private=False, **kw)


def queue_committed(django_capture_on_commit_callbacks, case, author, **kw) -> Reply:
    """queue_reply, with its on-commit work (the send task's message) run."""
    with django_capture_on_commit_callbacks(execute=True):
        return queue_reply(case, author, **kw)


class AcceptingNetwork:
    """A connector whose network accepts every reply (`sending.get_connector`'s stand-in when
    the sending protocol is not what a test is about)."""

    def publish(self, reply) -> str:
        return "1800000000000000001"
