"""The one write path from the outside world into the desk.

`ingest(channel, posts, ...)` stores one page of posts in ONE transaction:

    lock the channel row, writing its new cursor → skip posts already stored → upsert the
    authors' identities (and customers for new ones) → score the posts on the radar → thread
    them into each customer's open case for the conversation, opening cases as needed →
    insert the mentions (ON CONFLICT DO NOTHING) → quarantine the rejects.

A crash anywhere rolls all of it back, cursor included, so the next poll fetches the same page
again; ingesting a page twice stores nothing twice.

This is the hot path of the desk (a busy brand gets thousands of posts a minute, an import
millions), so it is written for speed: a fixed number of statements per page whatever its
size, each one set-based SQL over the whole page, and plain tuples instead of model
instances. A page goes to PostgreSQL as ONE JSON document per statement (`json_to_recordset`):
serialising it is one C call, where adapting a Python list per column costs about as much as
the insert itself, and PostgreSQL parses JSON faster than array literals. The tables are still
defined by the models in listening/ and cases/; the SQL below names their columns explicitly,
and tests/test_ingest.py checks the rows through the ORM.
"""

import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from django.db import connection, transaction
from django.utils import timezone

from listening.models import Channel, QuarantinedPost
from listening.posts import Author, InboundPost, Quarantined
from listening.quarantine import store_rejects
from listening.radar import Score, score_post, suggest_triage

log = logging.getLogger(__name__)

SUBJECT_LENGTH = 200
CONVERSATION_KEY_LENGTH = 160
# An escaped backslash is matched first, so "\\u0000" (a backslash, then "u0000") is kept.
_JSON_NUL = re.compile(r"(\\\\)|\\u0000")
_SURROGATE = re.compile("[\ud800-\udfff]")


def page_json(rows: list) -> str:
    """One page as a JSON document for `json_to_recordset`, storable whatever the network sent.

    A network's JSON may carry NUL or a lone UTF-16 surrogate, which no PostgreSQL text column
    accepts: NUL is dropped and a surrogate becomes U+FFFD here, so one bad character never
    blocks a page. orjson refuses surrogates outright, which leaves the common case one call.
    """
    try:
        text = orjson.dumps(rows).decode()
    except orjson.JSONEncodeError:
        text = orjson.dumps(_without_surrogates(rows)).decode()
    if "\\u0000" in text:
        text = _JSON_NUL.sub(lambda match: match.group(1) or "", text)
    return text


def _without_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {key: _without_surrogates(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_surrogates(item) for item in value]
    return value


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


def ingest(
    channel: Channel,
    posts: Sequence[InboundPost],
    new_cursor: dict[str, Any] | None = None,
    quarantined: Iterable[Quarantined] = (),
    *,
    source: str = QuarantinedPost.Source.POLL,
    now: datetime | None = None,
    gaps: Sequence[dict[str, str]] = (),
) -> IngestResult:
    """Store one page for `channel` atomically; see the module docstring.

    `new_cursor` replaces the channel's cursor in the same transaction (None keeps it, as an
    import does); `gaps` (see `listening.posts.gap`) are appended to the channel's
    intake_gaps in it too. Safe to call again with the same page: stored posts count as
    duplicates.
    """
    now = now or timezone.now()
    result = IngestResult(received=len(posts))
    rejects = list(quarantined)
    with transaction.atomic(), connection.cursor() as cursor:
        _lock_channel(cursor, channel, new_cursor)
        if gaps:
            _record_gaps(cursor, channel, gaps, now)

        fresh = _unstored_posts(cursor, channel, posts)
        result.duplicates = len(posts) - len(fresh)
        if fresh:
            identities = _upsert_identities(cursor, channel.network, fresh, now)
            scores = [score_post(post) for post in fresh]
            case_ids = _thread_into_cases(cursor, channel, fresh, scores, identities, now, result)
            _insert_mentions(cursor, channel, fresh, scores, identities, case_ids, now)
            result.created = len(fresh)
        if rejects:
            result.quarantined = store_rejects(cursor, channel, rejects, source, now)
    if new_cursor is not None:
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


def _lock_channel(cursor, channel: Channel, new_cursor: dict[str, Any] | None) -> None:
    """Serialise the ingests of one channel (pollers, imports) until the page commits.

    The duplicate check and the case threading rely on no one else writing this channel's rows
    meanwhile. A new cursor is written right away, which takes the same row lock in one round
    trip: it commits with the page's rows or not at all.

    A polled page (one with a cursor) commits without waiting for its WAL flush: if the server
    crashed before the page was durable, the page and its cursor would vanish together and the
    next poll would fetch them again, and whatever anyone did with those rows meanwhile was
    flushed, with everything before it, by their own commit. An import has no cursor to
    replay from, so it waits.
    """
    if new_cursor is None:
        cursor.execute("SELECT 1 FROM listening_channel WHERE id = %s FOR UPDATE", [channel.pk])
    else:
        cursor.execute(
            "SET LOCAL synchronous_commit = off;"
            " UPDATE listening_channel SET cursor = %s::jsonb WHERE id = %s",
            [json.dumps(new_cursor), channel.pk],
        )


def _record_gaps(cursor, channel: Channel, gaps: Sequence[dict[str, str]], now: datetime) -> None:
    """Append intake gaps to the channel (the row is already locked by `_lock_channel`)."""
    rows = [{**item, "detected_at": item.get("detected_at") or now.isoformat()} for item in gaps]
    cursor.execute(
        "UPDATE listening_channel"
        " SET intake_gaps = COALESCE(intake_gaps, '[]'::jsonb) || %s::jsonb WHERE id = %s",
        [page_json(rows), channel.pk],
    )
    log.warning(
        "intake gap recorded",
        extra={"channel_id": channel.pk, "gaps": [row["stream"] for row in rows]},
    )


# Lookups go through LATERAL, one index probe per key: the plan stays right even when the
# table statistics do not know the channel's rows yet (a new channel, a big import). The
# LIMIT 1 in each keeps it a probe: without it PostgreSQL may scan the whole index and join.
_STORED_IDS_SQL = """
    SELECT m.external_id
    FROM json_array_elements_text(%s::json) AS k (external_id)
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
    cursor.execute(_STORED_IDS_SQL, [page_json(list(by_id)), channel.pk])
    stored = {external_id for (external_id,) in cursor.fetchall()}
    return [post for external_id, post in by_id.items() if external_id not in stored]


def _identity_key(author: Author) -> str:
    return author.external_id or "unknown"


def _conversation_key(post: InboundPost) -> str:
    return post.conversation_id[:CONVERSATION_KEY_LENGTH]


_KNOWN_IDENTITIES_SQL = """
    SELECT i.id, i.customer_id, i.external_id, i.handle, i.name, i.followers, i.verified,
           i.profile_url
    FROM json_array_elements_text(%s::json) AS k (external_id)
    CROSS JOIN LATERAL (
        SELECT * FROM cases_identity WHERE network = %s AND external_id = k.external_id
        LIMIT 1
    ) AS i
"""

_NEW_CUSTOMERS_SQL = """
    INSERT INTO cases_customer (display_name, created_at)
    SELECT name, %s FROM json_array_elements_text(%s::json) WITH ORDINALITY AS k (name, n)
    ORDER BY n
    RETURNING id
"""

# Upsert keeps the customer of an existing identity; an empty handle or name (a page without
# `includes`, a deleted account) never erases what we knew. Rows go in key order, so two
# pollers seeing the same authors lock them in the same order and cannot deadlock.
_UPSERT_IDENTITIES_SQL = """
    INSERT INTO cases_identity
        (customer_id, network, external_id, handle, name, followers, verified, profile_url,
         updated_at)
    SELECT customer_id, %s, external_id, handle, name, followers, verified, profile_url, %s
    FROM json_to_recordset(%s::json)
         AS k (customer_id bigint, external_id varchar, handle varchar, name varchar,
               followers int, verified boolean, profile_url varchar)
    ORDER BY external_id
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
    cursor.execute(_KNOWN_IDENTITIES_SQL, [page_json(list(latest)), network])
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
        names = [_display_name(latest[key]) for key in new_keys]
        cursor.execute(_NEW_CUSTOMERS_SQL, [now, page_json(names)])
        customer_ids = dict(zip(new_keys, (row[0] for row in cursor.fetchall()), strict=True))
    upserts = [
        {
            "customer_id": customer_ids.get(key) or identities[key].customer_id,
            "external_id": key,
            "handle": author.handle[:100],
            "name": author.name[:200],
            "followers": max(0, min(author.followers, 2**31 - 1)),
            "verified": author.verified,
            "profile_url": author.profile_url[:500],
        }
        for key, author in latest.items()
        if key not in unchanged
    ]
    if upserts:
        cursor.execute(_UPSERT_IDENTITIES_SQL, [network, now, page_json(upserts)])
        for id_, customer_id, key, followers, verified in cursor:
            identities[key] = _Identity(id_, customer_id, followers, verified)
    return identities


def _display_name(author: Author) -> str:
    return (author.name or (f"@{author.handle}" if author.handle else "") or "Unknown author")[:200]


# One statement threads the page into cases: a conversation without an open case gets a new
# one, an open case (the partial unique index case_one_open_per_conversation) takes the page's
# posts in: count, latest time, and the radar of its most urgent post so far (the newer on a
# tie, or whatever the page has if the case has no triage yet). A pending case goes back to
# open: the customer answered. In DO UPDATE, `cases_case` is the row as it was and EXCLUDED
# the page's summary. (xmax = 0) is true for the rows this statement inserted.
_UPSERT_CASES_SQL = """
    INSERT INTO cases_case
        (channel_id, updated_at, opened_at, customer_id, conversation_key, subject, language,
         is_private, status, priority, priority_reasons, triage_suggestion, triage_reason,
         mention_count, last_inbound_at, sentiment, triage_decision, triage_decision_reason)
    SELECT %s, %s, opened_at, customer_id, conversation_key, subject, language, is_private,
           'new', priority, priority_reasons, triage_suggestion, triage_reason,
           mention_count, last_inbound_at, sentiment, '', ''
    FROM json_to_recordset(%s::json)
         AS k (opened_at timestamptz, customer_id bigint, conversation_key varchar,
               subject varchar, language varchar, is_private boolean, priority int,
               priority_reasons jsonb, triage_suggestion varchar, triage_reason varchar,
               mention_count int, last_inbound_at timestamptz, sentiment float8)
    ON CONFLICT (channel_id, customer_id, conversation_key)
        WHERE status IN ('new', 'open', 'pending')
    DO UPDATE SET
        status = CASE cases_case.status WHEN 'pending' THEN 'open' ELSE cases_case.status END,
        mention_count = cases_case.mention_count + EXCLUDED.mention_count,
        last_inbound_at = GREATEST(cases_case.last_inbound_at, EXCLUDED.last_inbound_at),
        updated_at = EXCLUDED.updated_at,
        priority = CASE WHEN {page_leads} THEN EXCLUDED.priority ELSE cases_case.priority END,
        priority_reasons = CASE WHEN {page_leads}
            THEN EXCLUDED.priority_reasons ELSE cases_case.priority_reasons END,
        sentiment = CASE WHEN {page_leads} THEN EXCLUDED.sentiment ELSE cases_case.sentiment END,
        triage_suggestion = CASE WHEN {page_leads}
            THEN EXCLUDED.triage_suggestion ELSE cases_case.triage_suggestion END,
        triage_reason = CASE WHEN {page_leads}
            THEN EXCLUDED.triage_reason ELSE cases_case.triage_reason END
    RETURNING id, customer_id, conversation_key, (xmax = 0) AS opened
""".format(
    page_leads="(EXCLUDED.priority >= cases_case.priority OR cases_case.triage_suggestion = '')"
)


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

    rows = [_case_summary(key, items, identities) for key, items in groups.items()]
    cursor.execute(_UPSERT_CASES_SQL, [channel.pk, now, page_json(rows)])
    case_ids = {}
    for case_id, customer_id, conversation_key, opened in cursor.fetchall():
        case_ids[(customer_id, conversation_key)] = case_id
        result.cases_opened += opened
    result.cases_updated = len(case_ids) - result.cases_opened
    result.case_ids = list(case_ids.values())
    return case_ids


def _case_summary(
    key: tuple[int, str], items: list[tuple[InboundPost, Score]], identities: dict[str, _Identity]
) -> dict[str, Any]:
    """What one page says about one conversation, for a new case or an open one."""
    first = min((post for post, _ in items), key=lambda post: post.posted_at)
    post, score = max(items, key=lambda item: item[1].priority)
    identity = identities[_identity_key(post.author)]
    triage, reason = suggest_triage(score, identity.followers, identity.verified)
    return {
        "opened_at": first.posted_at.isoformat(),
        "customer_id": key[0],
        "conversation_key": key[1],
        "subject": _subject(first.text),
        "language": first.lang[:16],
        "is_private": first.is_private,
        "priority": score.priority,
        "priority_reasons": score.reasons,
        "triage_suggestion": triage,
        "triage_reason": reason[:300],
        "mention_count": len(items),
        "last_inbound_at": max(post.posted_at for post, _ in items).isoformat(),
        "sentiment": score.sentiment,
    }


def _subject(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SUBJECT_LENGTH else flat[: SUBJECT_LENGTH - 1] + "…"


_INSERT_MENTIONS_SQL = """
    INSERT INTO listening_mention
        (channel_id, received_at, case_id, author_id, external_id, kind, is_private, text, lang,
         conversation_id, in_reply_to_id, url, metrics, posted_at, sentiment, priority,
         priority_reasons)
    SELECT %s, %s, k.*
    FROM json_to_recordset(%s::json)
         AS k (case_id bigint, author_id bigint, external_id varchar, kind varchar,
               is_private boolean, text text, lang varchar, conversation_id varchar,
               in_reply_to_id varchar, url varchar, metrics jsonb, posted_at timestamptz,
               sentiment float8, priority int, priority_reasons jsonb)
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
    rows = []
    for post, score in zip(posts, scores, strict=True):
        author = identities[_identity_key(post.author)]
        rows.append(
            {
                "case_id": case_ids[(author.customer_id, _conversation_key(post))],
                "author_id": author.id,
                "external_id": post.external_id,
                "kind": post.kind,
                "is_private": post.is_private,
                "text": post.text,
                "lang": post.lang[:16],
                "conversation_id": post.conversation_id[:128],
                "in_reply_to_id": post.in_reply_to_id[:255],
                "url": post.url[:500],
                "metrics": post.metrics,
                "posted_at": post.posted_at.isoformat(),
                "sentiment": score.sentiment,
                "priority": score.priority,
                "priority_reasons": score.reasons,
            }
        )
    cursor.execute(_INSERT_MENTIONS_SQL, [channel.pk, now, page_json(rows)])
