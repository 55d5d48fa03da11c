"""How the demo writes its conversations: posts through the real ingest, then the cases as the
desk's people left them."""

from datetime import datetime

from cases.models import Case
from cases.sla import refresh_case_sla
from listening.ingest import ingest
from listening.models import Channel, Mention, Network, QuarantinedPost
from listening.posts import Author, InboundPost


def demo_post(
    conversation: str,
    external_id: str,
    text: str,
    posted: datetime,
    author: Author,
    *,
    network: str = Network.X,
    kind: str = "mention",
    lang: str = "en",
) -> InboundPost:
    return InboundPost(
        network=network,
        external_id=external_id,
        kind=kind,
        text=text,
        posted_at=posted,
        author=author,
        conversation_id=conversation,
        lang=lang,
        is_private=kind == "dm",
    )


def ingest_demo(channel: Channel, posts: list[InboundPost], now: datetime) -> dict[str, Case]:
    """The demo's posts stored the way every post is (customers, identities, cases, mentions),
    then their cases by conversation."""
    ingest(channel, posts, source=QuarantinedPost.Source.IMPORT, now=now)
    keys = [post.conversation_id for post in posts]
    stored = Case.objects.filter(channel=channel, conversation_key__in=keys)
    return {case.conversation_key: case for case in stored}


def set_case(case: Case, *, mention_priority: int = 0, **history) -> Case:
    """The demo case as the desk's people left it: triaged, assigned, answered, resolved. The
    radar's figures are the demo's own (its post's too), so the dashboards show the same
    numbers on every run."""
    if "first_response_at" in history:
        history.setdefault("awaiting_since", None)  # answered: nobody waits on the desk
    for name, value in history.items():
        setattr(case, name, value)
    Case.objects.filter(pk=case.pk).update(**history)
    refresh_case_sla(case)  # its service-level clocks follow the history
    Mention.objects.filter(case=case).update(
        sentiment=case.sentiment, priority=mention_priority, priority_reasons=[]
    )
    return case
