"""The one write path from the outside world into the desk.

`ingest(channel, posts, ...)` stores one page of posts in ONE transaction:

    lock the channel row, writing its new cursor → skip posts already stored (recording the
    edits among them: listening.content) → score the posts
    on the radar → hand them to the desk (cases.intake: authors' identities, threading into
    cases) → insert the mentions (ON CONFLICT DO NOTHING) → quarantine the rejects.

A crash anywhere rolls all of it back, cursor included, so the next poll fetches the same page
again; ingesting a page twice stores nothing twice.

This is the hot path of the desk (a busy brand gets thousands of posts a minute, an import
millions), so it is written for speed: a fixed number of statements per page whatever its
size, each one set-based SQL over the whole page, and plain tuples instead of model
instances. A page goes to PostgreSQL as ONE JSON document per statement (see
socialdesk.pgjson). Each app writes its own tables: this module the listening_* rows, and
cases.intake the cases_* rows, on this module's cursor inside its transaction. The tables are
still defined by the models; the SQL names their columns explicitly, and tests/test_ingest.py
checks the rows through the ORM.
"""

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from cases.intake import Intake, store_attachments, take_in
from csat.intake import record_answers
from listening.content import SourceEdit, record_edits, remove_texts
from listening.models import Channel, Mention, QuarantinedPost, Removal
from listening.posts import InboundPost, Quarantined
from listening.quarantine import store_rejects
from listening.radar import Score, score_post
from socialdesk.pgjson import page_json, storable_text

log = logging.getLogger(__name__)


def _max_length(name: str) -> int:
    return Mention._meta.get_field(name).max_length


_LANG = _max_length("lang")
_CONVERSATION_ID = _max_length("conversation_id")
_IN_REPLY_TO_ID = _max_length("in_reply_to_id")
_URL = _max_length("url")


@dataclass(slots=True)
class IngestResult:
    received: int = 0
    created: int = 0
    duplicates: int = 0
    edited: int = 0
    removed: int = 0
    cases_opened: int = 0
    cases_updated: int = 0
    quarantined: int = 0
    media: int = 0  # images stored, to be fetched
    case_ids: list[int] = field(default_factory=list)


def ingest(
    channel: Channel,
    posts: Sequence[InboundPost],
    new_cursor: dict[str, Any] | None = None,
    quarantined: Iterable[Quarantined] = (),
    *,
    source: str = QuarantinedPost.Source.POLL,
    now: datetime | None = None,
    gaps: Sequence[dict[str, str]] = (),
    read_from: dict[str, Any] | None = None,
    gone: Sequence[str] = (),
) -> IngestResult:
    """Store one page for `channel` atomically; see the module docstring.

    `new_cursor` replaces the channel's cursor in the same transaction (None keeps it, as an
    import does); `gaps` (see `listening.posts.gap`) are appended to the channel's
    intake_gaps in it too, and the posts in `gone` (read as "does not exist") lose their
    text as deleted at the source (listening.content). Safe to call again with the same
    page: stored posts count as duplicates.

    `read_from` is the cursor the page was read from. When given, the page is stored only if
    that is still the channel's cursor, else `CursorMoved` is raised and nothing is written:
    a poller that lost its lock (a flushed Redis, a process frozen past the lock's expiry)
    stops instead of writing a cursor over one another poller has moved on.
    """
    now = now or timezone.now()
    result = IngestResult(received=len(posts))
    rejects = list(quarantined)
    with transaction.atomic(), connection.cursor() as cursor:
        _lock_channel(cursor, channel, new_cursor, read_from)
        if gaps:
            _record_gaps(cursor, channel, gaps, now)

        fresh, edits = _unstored_posts(cursor, channel, posts, now)
        result.duplicates = len(posts) - len(fresh)
        if edits:
            result.edited = record_edits(cursor, channel, edits, now)
        if fresh:
            scores = [score_post(post) for post in fresh]
            intake = take_in(cursor, channel, fresh, scores, now)
            _insert_mentions(cursor, channel, fresh, scores, intake, now)
            if intake.survey_answers:
                record_answers(cursor, channel.pk, intake.survey_answers, now)
            result.media = len(store_attachments(cursor, channel, fresh, now))
            result.created = len(fresh)
            result.cases_opened, result.cases_updated = intake.opened, intake.updated
            result.case_ids = intake.cases
        if rejects:
            result.quarantined = store_rejects(cursor, channel, rejects, source, now)
        if gone:
            result.removed = remove_texts(
                cursor, channel, gone, how=Removal.READ_NOT_FOUND, removed_at=now, now=now
            )
    if new_cursor is not None:
        channel.cursor = new_cursor

    if result.created or result.quarantined or result.edited or result.removed:
        log.info(
            "ingested page",
            extra={
                "channel_id": channel.pk,
                "mentions_created": result.created,
                "duplicates": result.duplicates,
                "edited": result.edited,
                "removed": result.removed,
                "cases_opened": result.cases_opened,
                "quarantined": result.quarantined,
            },
        )
    return result


class CursorMoved(Exception):
    """The channel's cursor is no longer the one a page was read from: someone else moved it."""


def _lock_channel(
    cursor,
    channel: Channel,
    new_cursor: dict[str, Any] | None,
    read_from: dict[str, Any] | None = None,
) -> None:
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
    elif read_from is None:
        cursor.execute(
            "SET LOCAL synchronous_commit = off;"
            " UPDATE listening_channel SET cursor = %s::jsonb WHERE id = %s",
            [json.dumps(new_cursor), channel.pk],
        )
    else:
        # jsonb equality ignores key order and spacing: the same cursor, however it was written.
        cursor.execute(
            "SET LOCAL synchronous_commit = off;"
            " UPDATE listening_channel SET cursor = %s::jsonb WHERE id = %s AND cursor = %s::jsonb",
            [json.dumps(new_cursor), channel.pk, json.dumps(read_from)],
        )
        if cursor.rowcount != 1:
            raise CursorMoved(channel.pk)


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
    SELECT m.external_id, m.text_md5, m.removed
    FROM json_array_elements_text(%s::json) AS k (external_id)
    CROSS JOIN LATERAL (
        SELECT external_id, md5(text) AS text_md5, deleted_at IS NOT NULL AS removed
        FROM listening_mention
        WHERE channel_id = %s AND external_id = k.external_id
        LIMIT 1
    ) AS m
"""


def _unstored_posts(
    cursor, channel: Channel, posts: Sequence[InboundPost], now: datetime
) -> tuple[list[InboundPost], list[SourceEdit]]:
    """The posts not stored yet for this channel, each once, in their original order; and the
    edits the page shows of stored posts.

    An edit is a stored post read again with another text (Graph keeps a comment's id), or a
    new post that names a stored one as an earlier version (X's new id per edit, `edit_of`:
    the oldest the desk has). Only
    the rows already stored are compared, by a digest of their text, so a page of new posts
    costs what it did. Removed posts are never edited back.
    """
    by_id: dict[str, InboundPost] = {}
    for post in posts:
        by_id.setdefault(post.external_id, post)
    if not by_id:
        return [], []
    keys = list(by_id) + [i for p in by_id.values() for i in p.edit_of]
    cursor.execute(_STORED_IDS_SQL, [page_json(list(dict.fromkeys(keys))), channel.pk])
    stored = {external_id: (digest, removed) for external_id, digest, removed in cursor}
    fresh, edits = [], []
    for external_id, post in by_id.items():
        if external_id in stored:
            digest, removed = stored[external_id]
            if not removed and digest != _md5(post.text):
                edits.append(SourceEdit(external_id, post.text, now))
        elif earlier := next((i for i in post.edit_of if i in stored), None):
            if not stored[earlier][1]:
                edits.append(SourceEdit(earlier, post.text, post.posted_at))
        else:
            fresh.append(post)
    return fresh, edits


def _md5(text: str) -> str:
    """PostgreSQL's md5() of `text` as ingest would store it."""
    return hashlib.md5(storable_text(text).encode(), usedforsecurity=False).hexdigest()


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
    intake: Intake,
    now: datetime,
) -> None:
    rows = [
        {
            "case_id": case_id,
            "author_id": author_id,
            "external_id": post.external_id,
            "kind": post.kind,
            "is_private": post.is_private,
            "text": post.text,
            "lang": post.lang[:_LANG],
            "conversation_id": post.conversation_id[:_CONVERSATION_ID],
            "in_reply_to_id": post.in_reply_to_id[:_IN_REPLY_TO_ID],
            "url": post.url[:_URL],
            "metrics": post.metrics,
            "posted_at": post.posted_at.isoformat(),
            "sentiment": score.sentiment,
            "priority": score.priority,
            "priority_reasons": score.reasons,
        }
        for post, score, case_id, author_id in zip(
            posts, scores, intake.case_ids, intake.author_ids, strict=True
        )
    ]
    cursor.execute(_INSERT_MENTIONS_SQL, [channel.pk, now, page_json(rows)])
