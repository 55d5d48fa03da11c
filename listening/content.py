"""Customer text follows the source: edits, deletions, retention and the deletion check.

The networks' terms (listening.networks, `deletion_duty`) oblige the desk to drop what an
author deleted, and an edited post should read as its author now means it. Two verbs are the
one way in for whoever learns of a change (ingest re-reading a post, the sender told "not
found", the scheduled check, the networks' webhooks):

    do_record_source_edit(channel=, external_id=, text=, edited_at=)       -> bool
    do_record_source_removal(channel=, external_id=, removed_at=, how=)    -> bool

Both work in bulk underneath (`record_edits`, `remove_texts`: one statement per step whatever
the number of posts), on the caller's cursor when it has one (ingest's transaction).

An edit replaces `Mention.text` and keeps the replaced text in `earlier_texts`, with when it
was replaced; the case gets a "post edited" event. A removal blanks the text wherever it is
stored: the mention's text and earlier versions (the inbox search's folded copy is an index
expression on the text, so it goes with it), the quarantined raw item, and the case's subject
when that post opened the case; `deleted_at` and `removed_how` keep the fact that the post
existed. A removal is final: a later edit or re-read never brings the text back.
"""

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from cases.content import ChangedPost, blank_expired_subjects, note_changed_posts, note_edits
from cases.models import CaseEvent, DeskSettings
from listening.models import SOURCE_REMOVALS, Channel, Mention, Removal
from socialdesk.pgjson import page_json

log = logging.getLogger(__name__)

# Retention blanks this many mentions a statement, so no transaction holds a huge lock set.
RETENTION_BATCH = 5_000
# The deletion check looks at posts this recent: X lets authors delete at any time, but a
# desk's duty bites while the post is still worked and shown.
DELETION_CHECK_WINDOW = timedelta(days=7)
# The check runs hourly (socialdesk.settings CELERY_BEAT_SCHEDULE): a day's budget in 24 runs.
DELETION_CHECK_RUNS_PER_DAY = 24


class SourceEdit(NamedTuple):
    external_id: str
    text: str
    edited_at: datetime


def do_record_source_edit(
    *, channel: Channel, external_id: str, text: str, edited_at: datetime
) -> bool:
    """The author edited post `external_id` of `channel` to `text` at `edited_at`.

    True when the stored text changed (the earlier one kept in `earlier_texts`, a "post
    edited" event on the case). False when the post is unknown, removed, already reads
    `text`, or was edited later than `edited_at` (an out-of-order report).
    """
    with transaction.atomic(), connection.cursor() as cursor:
        return bool(record_edits(cursor, channel, [SourceEdit(external_id, text, edited_at)]))


def do_record_source_removal(
    *, channel: Channel, external_id: str, removed_at: datetime, how: str
) -> bool:
    """The post `external_id` of `channel` is gone at the source (deleted by its author).

    `how` is how the desk learned it: a `Removal` value among SOURCE_REMOVALS (webhook,
    reply_not_found, read_not_found, lookup). Blanks its text everywhere it is stored, keeps
    that it existed (deleted_at = `removed_at`, removed_how = `how`) and writes a "post
    deleted" event on its case. True when a stored post was removed now; False when it is
    unknown or was removed before. Raises ValueError for another `how`.
    """
    if how not in SOURCE_REMOVALS:
        raise ValueError(f"not a removal at the source: {how!r}")
    with transaction.atomic(), connection.cursor() as cursor:
        return bool(remove_texts(cursor, channel, [external_id], how=how, removed_at=removed_at))


# The earlier text is read under the row lock (FOR UPDATE) and written in the same statement,
# so two reports of one edit cannot both append. An edit older than the stored one is stale.
_RECORD_EDITS_SQL = """
    WITH k AS (
        SELECT * FROM json_to_recordset(%s::json)
            AS k (external_id varchar, text text, edited_at timestamptz)
    ), old AS (
        SELECT m.id, m.case_id, m.text AS old_text, k.text AS new_text, k.edited_at
        FROM k JOIN listening_mention AS m
            ON m.channel_id = %s AND m.external_id = k.external_id
        WHERE m.deleted_at IS NULL AND m.text IS DISTINCT FROM k.text
            AND (m.edited_at IS NULL OR m.edited_at <= k.edited_at)
        FOR UPDATE OF m
    )
    UPDATE listening_mention AS m SET
        text = old.new_text,
        edited_at = old.edited_at,
        earlier_texts = COALESCE(m.earlier_texts, '[]'::jsonb) || jsonb_build_array(
            jsonb_build_object('text', old.old_text, 'until', old.edited_at))
    FROM old
    WHERE m.id = old.id
    RETURNING m.id, m.case_id, old.old_text, old.new_text
"""


def record_edits(
    cursor, channel: Channel, edits: Sequence[SourceEdit], now: datetime | None = None
) -> int:
    """Apply `edits` to `channel`'s stored posts (see `do_record_source_edit`); how many
    changed. Runs on the caller's cursor: the caller's transaction commits it."""
    latest: dict[str, SourceEdit] = {}
    for edit in edits:
        seen = latest.get(edit.external_id)
        if seen is None or edit.edited_at >= seen.edited_at:
            latest[edit.external_id] = edit
    if not latest:
        return 0
    now = now or timezone.now()
    rows = [
        {"external_id": e.external_id, "text": e.text, "edited_at": e.edited_at.isoformat()}
        for e in latest.values()
    ]
    cursor.execute(_RECORD_EDITS_SQL, [page_json(rows), channel.pk])
    changed = [ChangedPost(*row) for row in cursor.fetchall()]
    note_edits(cursor, changed, at=now, now=now)
    if changed:
        log.info(
            "source edits recorded",
            extra={"channel_id": channel.pk, "mentions": [post.mention_id for post in changed]},
        )
    return len(changed)


# Earlier versions keep when they were replaced, not what they said.
_BLANK_MENTIONS = """
    UPDATE listening_mention AS m SET
        text = '',
        earlier_texts = (
            SELECT COALESCE(jsonb_agg(e - 'text'), '[]'::jsonb)
            FROM jsonb_array_elements(COALESCE(m.earlier_texts, '[]'::jsonb)) AS e),
        deleted_at = %s,
        removed_how = %s
    FROM old
    WHERE m.id = old.id
    RETURNING m.id, m.case_id, old.text, ''
"""

_REMOVE_BY_ID_SQL = (
    """
    WITH old AS (
        SELECT m.id, m.case_id, m.text
        FROM json_array_elements_text(%s::json) AS k (external_id)
        JOIN listening_mention AS m ON m.channel_id = %s AND m.external_id = k.external_id
        WHERE m.deleted_at IS NULL
        FOR UPDATE OF m
    )"""
    + _BLANK_MENTIONS
)

_BLANK_QUARANTINE_SQL = """
    UPDATE listening_quarantinedpost SET payload = ''
    WHERE channel_id = %s AND external_id = ANY(%s) AND payload <> ''
"""


def remove_texts(
    cursor,
    channel: Channel,
    external_ids: Sequence[str],
    *,
    how: str,
    removed_at: datetime,
    now: datetime | None = None,
) -> int:
    """Blank the stored text of `channel`'s posts `external_ids` (see the module docstring);
    how many were removed now. Runs on the caller's cursor inside its transaction."""
    ids = list(dict.fromkeys(external_ids))
    if not ids:
        return 0
    now = now or timezone.now()
    cursor.execute(_REMOVE_BY_ID_SQL, [page_json(ids), channel.pk, removed_at, how])
    changed = [ChangedPost(*row) for row in cursor.fetchall()]
    cursor.execute(_BLANK_QUARANTINE_SQL, [channel.pk, ids])
    note_changed_posts(
        cursor,
        changed,
        kind=CaseEvent.Kind.POST_DELETED if how in SOURCE_REMOVALS else "",
        at=now,
        now=now,
        data={"how": how, "removed_at": removed_at.isoformat()},
    )
    if changed:
        log.info(
            "source removals recorded",
            extra={
                "channel_id": channel.pk,
                "how": how,
                "mentions": [post.mention_id for post in changed],
            },
        )
    return len(changed)


# ---- retention -----------------------------------------------------------------------------

_EXPIRED_SQL = (
    """
    WITH old AS (
        SELECT id, case_id, text FROM listening_mention
        WHERE channel_id = %s AND deleted_at IS NULL AND posted_at < %s
        ORDER BY posted_at
        LIMIT %s
        FOR UPDATE SKIP LOCKED
    )"""
    + _BLANK_MENTIONS
)


def remove_expired_texts(now: datetime | None = None) -> int:
    """Blank the text of every post older than DeskSettings.retention_days, as a removal with
    reason "retention" (no event: the timeline shows it on the post). Nothing when the
    setting is empty. Batches of RETENTION_BATCH, each its own transaction, so a big first
    sweep never holds the whole table; returns how many posts lost their text."""
    days = DeskSettings.load().retention_days
    if days is None:
        return 0
    now = now or timezone.now()
    cutoff = now - timedelta(days=days)
    total = 0
    for channel_id in Channel.objects.values_list("pk", flat=True):
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    _EXPIRED_SQL, [channel_id, cutoff, RETENTION_BATCH, now, Removal.RETENTION]
                )
                done = cursor.rowcount
            total += done
            if done < RETENTION_BATCH:
                break
    with transaction.atomic(), connection.cursor() as cursor:
        blank_expired_subjects(cursor, cutoff)
        cursor.execute(
            "UPDATE listening_quarantinedpost SET payload = ''"
            " WHERE created_at < %s AND payload <> ''",
            [cutoff],
        )
    if total:
        log.info("retention removed customer text", extra={"mentions": total, "days": days})
    return total


# ---- the scheduled deletion check (X) ------------------------------------------------------


@dataclass(slots=True)
class DeletionCheck:
    """What one channel's check did: posts asked about, found gone, and X's reads billed."""

    asked: int = 0
    removed: int = 0
    reads: int = 0
    error: str = ""


def check_allowance(channel: Channel, today: date) -> int:
    """How many posts this run may look up: the day's budget spread over the day's runs, never
    more than what is left of it today."""
    budget = channel.deletion_check_budget
    used = channel.deletion_check_reads if channel.deletion_check_day == today else 0
    per_run = math.ceil(budget / DELETION_CHECK_RUNS_PER_DAY)
    return max(0, min(per_run, budget - used))


def check_deleted_posts(channel: Channel, now: datetime | None = None) -> DeletionCheck:
    """Ask the network whether `channel`'s recent posts still exist, the least recently
    checked first, within the channel's read budget; remove those it says are gone.

    Only for networks whose connector can look posts up in bulk (X: GET /2/tweets?ids=);
    Facebook announces removals through its webhooks instead.
    """
    from listening.connectors import get_connector

    now = now or timezone.now()
    result = DeletionCheck()
    connector = get_connector(channel.network)
    look_up = getattr(connector, "find_missing_posts", None)
    today = timezone.localdate(now)
    allowance = check_allowance(channel, today)
    if look_up is None or allowance == 0 or not channel.enabled or channel.needs_reauth:
        return result
    wanted = list(
        Mention.objects.filter(
            channel=channel,
            deleted_at__isnull=True,
            is_private=False,  # DMs are not looked up by id
            posted_at__gte=now - DELETION_CHECK_WINDOW,
        )
        .order_by(F("source_checked_at").asc(nulls_first=True), "-posted_at")
        .values_list("pk", "external_id")[:allowance]
    )
    if not wanted:
        return result
    from listening.connectors.errors import ConnectorError

    try:
        missing, reads = look_up(channel, [external_id for _, external_id in wanted])
    except ConnectorError as exc:
        result.error = str(exc)
        log.warning("deletion check failed", extra={"channel_id": channel.pk, "error": str(exc)})
        return result
    result.asked, result.reads = len(wanted), reads
    with transaction.atomic(), connection.cursor() as cursor:
        result.removed = remove_texts(
            cursor, channel, sorted(missing), how=Removal.LOOKUP, removed_at=now, now=now
        )
        Mention.objects.filter(pk__in=[pk for pk, _ in wanted]).update(source_checked_at=now)
        # Added in SQL: another run on the same day never overwrites what this one spent.
        same_day = Channel.objects.filter(pk=channel.pk, deletion_check_day=today).update(
            deletion_check_reads=F("deletion_check_reads") + len(wanted),
            deletion_checked_at=now,
        )
        if not same_day:
            Channel.objects.filter(pk=channel.pk).update(
                deletion_check_day=today, deletion_check_reads=len(wanted), deletion_checked_at=now
            )
        channel.count_api_use(reads=reads)
    return result


def check_deleted_posts_everywhere(now: datetime | None = None) -> dict[str, int]:
    """The beat's hourly run over every enabled channel with a budget; totals."""
    totals = {"channels": 0, "asked": 0, "removed": 0}
    channels = Channel.objects.filter(enabled=True, needs_reauth=False, deletion_check_budget__gt=0)
    for channel in channels:
        result = check_deleted_posts(channel, now)
        if result.asked:
            totals["channels"] += 1
            totals["asked"] += result.asked
            totals["removed"] += result.removed
    return totals
