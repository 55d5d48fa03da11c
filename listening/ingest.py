"""The one write path from the outside world into the desk.

`ingest(channel, posts, ...)` stores one page of posts in ONE transaction:

    lock the channel row → skip posts already stored → upsert the authors' identities (and
    customers for new ones) → score the posts on the radar → thread them into each customer's
    open case for the conversation, opening cases as needed → insert the mentions
    (ON CONFLICT DO NOTHING) → quarantine the rejects → advance the channel's cursor.

A crash anywhere rolls all of it back, cursor included, so the next poll fetches the same page
again; ingesting a page twice stores nothing twice.

This is the hot path of the desk (a busy brand gets thousands of posts a minute, an import
millions), so it is written for speed: a fixed number of statements per page whatever its
size, each one set-based SQL over arrays (`unnest`), and plain tuples instead of model
instances. The tables are still defined by the models in listening/ and cases/; the SQL below
names their columns explicitly, and tests/test_ingest.py checks the rows through the ORM.
"""

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from cases.models import CaseStatus
from listening.models import Channel, QuarantinedPost
from listening.posts import Author, InboundPost, Quarantined
from listening.radar import Score, score_post, suggest_triage

log = logging.getLogger(__name__)

SUBJECT_LENGTH = 200
CONVERSATION_KEY_LENGTH = 160


@dataclass(slots=True)
class IngestResult:
    received: int = 0
    created: int = 0
    duplicates: int = 0
    cases_opened: int = 0
    cases_updated: int = 0
    quarantined: int = 0
    case_ids: list[int] = field(default_factory=list)


class _Identity(NamedTuple):
    id: int
    customer_id: int
    followers: int
    verified: bool


@dataclass(slots=True)
class _CaseState:
    """The columns of a case that ingest reads and writes."""

    id: int | None
    customer_id: int
    conversation_key: str
    status: str
    priority: int
    priority_reasons: list[str]
    triage_suggestion: str
    triage_reason: str
    mention_count: int
    last_inbound_at: datetime
    sentiment: float


def ingest(
    channel: Channel,
    posts: Sequence[InboundPost],
    new_cursor: dict[str, Any] | None = None,
    quarantined: Iterable[Quarantined] = (),
    *,
    source: str = QuarantinedPost.Source.POLL,
    now: datetime | None = None,
) -> IngestResult:
    """Store one page for `channel` atomically; see the module docstring.

    `new_cursor` replaces the channel's cursor in the same transaction (None keeps it, as an
    import does). Safe to call again with the same page: stored posts count as duplicates.
    """
    now = now or timezone.now()
    result = IngestResult(received=len(posts))
    rejects = list(quarantined)
    with transaction.atomic(), connection.cursor() as cursor:
        # Serialise ingests of one channel (pollers, imports): the duplicate check and the
        # case threading below rely on no one else writing this channel's rows meanwhile.
        cursor.execute("SELECT 1 FROM listening_channel WHERE id = %s FOR UPDATE", [channel.pk])

        fresh = _unstored_posts(cursor, channel, posts)
        result.duplicates = len(posts) - len(fresh)
        if fresh:
            identities = _upsert_identities(cursor, channel.network, fresh, now)
            scores = [score_post(post) for post in fresh]
            case_ids = _thread_into_cases(cursor, channel, fresh, scores, identities, now, result)
            _insert_mentions(cursor, channel, fresh, scores, identities, case_ids, now)
            result.created = len(fresh)
        if rejects:
            QuarantinedPost.objects.bulk_create(
                [_quarantine_row(channel, item, source, now) for item in rejects]
            )
            result.quarantined = len(rejects)
        if new_cursor is not None:
            cursor.execute(
                "UPDATE listening_channel SET cursor = %s::jsonb WHERE id = %s",
                [json.dumps(new_cursor), channel.pk],
            )
            channel.cursor = new_cursor

    if result.created or result.quarantined:
        log.info(
            "ingested page",
            extra={
                "channel_id": channel.pk,
                "mentions_created": result.created,
                "duplicates": result.duplicates,
                "cases_opened": result.cases_opened,
                "quarantined": result.quarantined,
            },
        )
    return result


# Lookups go through LATERAL, one index probe per key: the plan stays right even when the
# table statistics do not know the channel's rows yet (a new channel, a big import).
_STORED_IDS_SQL = """
    SELECT m.external_id
    FROM unnest(%s::varchar[]) AS k (external_id)
    CROSS JOIN LATERAL (
        SELECT external_id FROM listening_mention
        WHERE channel_id = %s AND external_id = k.external_id
        LIMIT 1
    ) AS m
"""


def _unstored_posts(cursor, channel: Channel, posts: Sequence[InboundPost]) -> list[InboundPost]:
    """The posts not stored yet for this channel, each once, in their original order."""
    by_id: dict[str, InboundPost] = {}
    for post in posts:
        by_id.setdefault(post.external_id, post)
    if not by_id:
        return []
    cursor.execute(_STORED_IDS_SQL, [list(by_id), channel.pk])
    stored = {external_id for (external_id,) in cursor.fetchall()}
    return [post for external_id, post in by_id.items() if external_id not in stored]


def _identity_key(author: Author) -> str:
    return author.external_id or "unknown"


def _conversation_key(post: InboundPost) -> str:
    return post.conversation_id[:CONVERSATION_KEY_LENGTH]


_KNOWN_IDENTITIES_SQL = """
    SELECT i.id, i.customer_id, i.external_id, i.handle, i.name, i.followers, i.verified,
           i.profile_url
    FROM unnest(%s::varchar[]) AS k (external_id)
    CROSS JOIN LATERAL (
        SELECT * FROM cases_identity WHERE network = %s AND external_id = k.external_id
    ) AS i
"""

_NEW_CUSTOMERS_SQL = """
    INSERT INTO cases_customer (display_name, created_at)
    SELECT name, %s FROM unnest(%s::varchar[]) WITH ORDINALITY AS k (name, n) ORDER BY n
    RETURNING id
"""

# Upsert keeps the customer of an existing identity; an empty handle or name (a page without
# `includes`, a deleted account) never erases what we knew.
_UPSERT_IDENTITIES_SQL = """
    INSERT INTO cases_identity
        (customer_id, network, external_id, handle, name, followers, verified, profile_url,
         updated_at)
    SELECT customer_id, %s, external_id, handle, name, followers, verified, profile_url, %s
    FROM unnest(%s::bigint[], %s::varchar[], %s::varchar[], %s::varchar[], %s::int[],
                %s::boolean[], %s::varchar[])
         AS k (customer_id, external_id, handle, name, followers, verified, profile_url)
    ON CONFLICT (network, external_id) DO UPDATE SET
        handle = COALESCE(NULLIF(EXCLUDED.handle, ''), cases_identity.handle),
        name = COALESCE(NULLIF(EXCLUDED.name, ''), cases_identity.name),
        followers = EXCLUDED.followers,
        verified = EXCLUDED.verified,
        profile_url = COALESCE(NULLIF(EXCLUDED.profile_url, ''), cases_identity.profile_url),
        updated_at = EXCLUDED.updated_at
    RETURNING id, customer_id, external_id, followers, verified
"""


def _upsert_identities(
    cursor, network: str, posts: list[InboundPost], now: datetime
) -> dict[str, _Identity]:
    """The identity of every author, created (with a new customer) or refreshed as needed."""
    latest: dict[str, Author] = {}
    for post in posts:
        latest[_identity_key(post.author)] = post.author  # later posts: fresher profile
    cursor.execute(_KNOWN_IDENTITIES_SQL, [list(latest), network])
    identities: dict[str, _Identity] = {}
    unchanged: set[str] = set()
    for id_, customer_id, key, handle, name, followers, verified, profile_url in cursor:
        author = latest[key]
        identities[key] = _Identity(id_, customer_id, followers, verified)
        if not (author.handle or author.name) or (
            (author.handle, author.name, author.followers, author.verified)
            == (handle, name, followers, verified)
            and author.profile_url in ("", profile_url)
        ):
            unchanged.add(key)

    new_keys = [key for key in latest if key not in identities]
    customer_ids: dict[str, int] = {}
    if new_keys:
        cursor.execute(_NEW_CUSTOMERS_SQL, [now, [_display_name(latest[key]) for key in new_keys]])
        customer_ids = dict(zip(new_keys, (row[0] for row in cursor.fetchall()), strict=True))
    upserts = [key for key in latest if key not in unchanged]
    if upserts:
        authors = [latest[key] for key in upserts]
        cursor.execute(
            _UPSERT_IDENTITIES_SQL,
            [
                network,
                now,
                [customer_ids.get(key) or identities[key].customer_id for key in upserts],
                upserts,
                [a.handle[:100] for a in authors],
                [a.name[:200] for a in authors],
                [max(0, min(a.followers, 2**31 - 1)) for a in authors],
                [a.verified for a in authors],
                [a.profile_url[:500] for a in authors],
            ],
        )
        for id_, customer_id, key, followers, verified in cursor:
            identities[key] = _Identity(id_, customer_id, followers, verified)
    return identities


def _display_name(author: Author) -> str:
    return (author.name or (f"@{author.handle}" if author.handle else "") or "Unknown author")[:200]


_OPEN_CASES_SQL = """
    SELECT c.id, c.customer_id, c.conversation_key, c.status, c.priority, c.priority_reasons,
           c.triage_suggestion, c.triage_reason, c.mention_count, c.last_inbound_at, c.sentiment
    FROM unnest(%s::bigint[], %s::varchar[]) AS k (customer_id, conversation_key)
    CROSS JOIN LATERAL (
        SELECT * FROM cases_case
        WHERE channel_id = %s AND customer_id = k.customer_id
          AND conversation_key = k.conversation_key AND status IN ('new', 'open', 'pending')
        LIMIT 1
        FOR UPDATE
    ) AS c
"""

_NEW_CASES_SQL = """
    INSERT INTO cases_case
        (channel_id, updated_at, opened_at, customer_id, conversation_key, subject, language,
         is_private, status, priority, priority_reasons, triage_suggestion, triage_reason,
         mention_count, last_inbound_at, sentiment, triage_decision, triage_decision_reason)
    SELECT %s, %s, opened_at, customer_id, conversation_key, subject, language, is_private,
           status, priority, priority_reasons, triage_suggestion, triage_reason,
           mention_count, last_inbound_at, sentiment, '', ''
    FROM unnest(%s::timestamptz[], %s::bigint[], %s::varchar[], %s::varchar[], %s::varchar[],
                %s::boolean[], %s::varchar[], %s::int[], %s::jsonb[], %s::varchar[],
                %s::varchar[], %s::int[], %s::timestamptz[], %s::float8[])
         WITH ORDINALITY
         AS k (opened_at, customer_id, conversation_key, subject, language, is_private, status,
               priority, priority_reasons, triage_suggestion, triage_reason, mention_count,
               last_inbound_at, sentiment, n)
    ORDER BY n
    RETURNING id
"""

_UPDATE_CASES_SQL = """
    UPDATE cases_case AS c SET
        status = k.status, priority = k.priority, priority_reasons = k.priority_reasons,
        triage_suggestion = k.triage_suggestion, triage_reason = k.triage_reason,
        mention_count = k.mention_count, last_inbound_at = k.last_inbound_at,
        sentiment = k.sentiment, updated_at = %s
    FROM unnest(%s::bigint[], %s::varchar[], %s::int[], %s::jsonb[], %s::varchar[],
                %s::varchar[], %s::int[], %s::timestamptz[], %s::float8[])
         AS k (id, status, priority, priority_reasons, triage_suggestion, triage_reason,
               mention_count, last_inbound_at, sentiment)
    WHERE c.id = k.id
"""


def _thread_into_cases(
    cursor,
    channel: Channel,
    posts: list[InboundPost],
    scores: list[Score],
    identities: dict[str, _Identity],
    now: datetime,
    result: IngestResult,
) -> dict[tuple[int, str], int]:
    """Case id per (customer, conversation): the open case, or a new one; summaries updated."""
    groups: dict[tuple[int, str], list[tuple[InboundPost, Score]]] = defaultdict(list)
    for post, score in zip(posts, scores, strict=True):
        customer_id = identities[_identity_key(post.author)].customer_id
        groups[(customer_id, _conversation_key(post))].append((post, score))

    cursor.execute(_OPEN_CASES_SQL, [[c for c, _ in groups], [k for _, k in groups], channel.pk])
    existing = {(row[1], row[2]): _CaseState(*row) for row in cursor.fetchall()}

    new_cases: list[tuple[_CaseState, InboundPost]] = []
    updated: list[_CaseState] = []
    for key, items in groups.items():
        state = existing.get(key)
        if state is None:
            first = min((post for post, _ in items), key=lambda post: post.posted_at)
            state = _CaseState(
                id=None,
                customer_id=key[0],
                conversation_key=key[1],
                status=CaseStatus.NEW,
                priority=0,
                priority_reasons=[],
                triage_suggestion="",
                triage_reason="",
                mention_count=0,
                last_inbound_at=first.posted_at,
                sentiment=0.0,
            )
            new_cases.append((state, first))
        else:
            if state.status == CaseStatus.PENDING:
                state.status = CaseStatus.OPEN  # the customer answered: back to the agents
            updated.append(state)
        _fold_posts(state, items, identities)

    if new_cases:
        states = [state for state, _ in new_cases]
        firsts = [first for _, first in new_cases]
        cursor.execute(
            _NEW_CASES_SQL,
            [
                channel.pk,
                now,
                [post.posted_at for post in firsts],
                [s.customer_id for s in states],
                [s.conversation_key for s in states],
                [_subject(post.text) for post in firsts],
                [post.lang[:16] for post in firsts],
                [post.is_private for post in firsts],
                *_case_columns(states),
            ],
        )
        for state, (case_id,) in zip(states, cursor.fetchall(), strict=True):
            state.id = case_id
        result.cases_opened = len(states)
    if updated:
        cursor.execute(_UPDATE_CASES_SQL, [now, [s.id for s in updated], *_case_columns(updated)])
        result.cases_updated = len(updated)

    case_ids = {key: state.id for key, state in existing.items()}
    case_ids.update({(s.customer_id, s.conversation_key): s.id for s, _ in new_cases})
    result.case_ids = list(case_ids.values())
    return case_ids


def _case_columns(states: list[_CaseState]) -> list[list]:
    return [
        [s.status for s in states],
        [s.priority for s in states],
        [json.dumps(s.priority_reasons) for s in states],
        [s.triage_suggestion for s in states],
        [s.triage_reason[:300] for s in states],
        [s.mention_count for s in states],
        [s.last_inbound_at for s in states],
        [s.sentiment for s in states],
    ]


def _fold_posts(
    state: _CaseState, items: list[tuple[InboundPost, Score]], identities: dict[str, _Identity]
) -> None:
    """Fold new posts into a case: count, latest time, and the radar of its most urgent post."""
    state.mention_count += len(items)
    state.last_inbound_at = max(state.last_inbound_at, *(post.posted_at for post, _ in items))
    post, score = max(items, key=lambda item: item[1].priority)
    if score.priority >= state.priority or not state.triage_suggestion:
        identity = identities[_identity_key(post.author)]
        state.priority = score.priority
        state.priority_reasons = list(score.reasons)
        state.sentiment = score.sentiment
        state.triage_suggestion, state.triage_reason = suggest_triage(
            score, identity.followers, identity.verified
        )


def _subject(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SUBJECT_LENGTH else flat[: SUBJECT_LENGTH - 1] + "…"


_INSERT_MENTIONS_SQL = """
    INSERT INTO listening_mention
        (channel_id, received_at, case_id, author_id, external_id, kind, is_private, text, lang,
         conversation_id, in_reply_to_id, url, metrics, posted_at, sentiment, priority,
         priority_reasons)
    SELECT %s, %s, k.*
    FROM unnest(%s::bigint[], %s::bigint[], %s::varchar[], %s::varchar[], %s::boolean[],
                %s::text[], %s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[],
                %s::jsonb[], %s::timestamptz[], %s::float8[], %s::int[], %s::jsonb[]) AS k
    ON CONFLICT DO NOTHING
"""


def _insert_mentions(
    cursor,
    channel: Channel,
    posts: list[InboundPost],
    scores: list[Score],
    identities: dict[str, _Identity],
    case_ids: dict[tuple[int, str], int],
    now: datetime,
) -> None:
    authors = [identities[_identity_key(post.author)] for post in posts]
    cursor.execute(
        _INSERT_MENTIONS_SQL,
        [
            channel.pk,
            now,
            [
                case_ids[(author.customer_id, _conversation_key(post))]
                for post, author in zip(posts, authors, strict=True)
            ],
            [author.id for author in authors],
            [post.external_id for post in posts],
            [post.kind for post in posts],
            [post.is_private for post in posts],
            [post.text for post in posts],
            [post.lang[:16] for post in posts],
            [post.conversation_id[:128] for post in posts],
            [post.in_reply_to_id[:255] for post in posts],
            [post.url[:500] for post in posts],
            [json.dumps(post.metrics) for post in posts],
            [post.posted_at for post in posts],
            [score.sentiment for score in scores],
            [score.priority for score in scores],
            [json.dumps(score.reasons) for score in scores],
        ],
    )


def _quarantine_row(
    channel: Channel, item: Quarantined, source: str, now: datetime
) -> QuarantinedPost:
    if isinstance(item.payload, str):
        payload = item.payload
    else:
        payload = json.dumps(item.payload, ensure_ascii=False, default=str)
    return QuarantinedPost(
        channel_id=channel.pk,
        source=source,
        external_id=str(item.external_id or "")[:255],
        reason=item.reason,
        payload=payload,
        created_at=now,
    )
