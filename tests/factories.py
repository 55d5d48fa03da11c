"""Small builders: network-neutral posts (ingest, radar, benchmarks) and cases as ingest leaves
them (the desk's pages, actions and QA)."""

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from cases.models import Case, CaseStatus, Customer, Identity, Label, Reply
from listening.models import Channel, Mention, MentionKind, Network
from listening.posts import Author, InboundPost

BASE_TIME = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
COMPLAINT = "@acme_support my order arrived broken, I want a refund"

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
    }
    case = Case.objects.create(customer=customer, channel=channel, **(defaults | fields))
    case.labels.set(labels)
    add_mention(case, text, author=identity, posted_at=posted, kind=kind, url=url)
    return case


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


def make_reply(case: Case, author: Any, state: str, **fields: Any) -> Reply:
    """A reply on `case` in `state`; `fields` set its times, error and the like."""
    return Reply.objects.create(
        case=case, author=author, text="Sorry to hear that!", state=state, **fields
    )
