"""Mention counts per channel and quarter hour, for the dashboard's volume and spike charts.

Adding up a month of mentions (a million on a busy desk) cost the dashboard a second on every
view after its cache expired. MentionVolume keeps, per channel and quarter hour of posting
(UTC), how many mentions were negative, neutral and positive (listening.radar's is_negative and
is_positive, in SQL); MentionVolumeMark says up to which mention, by id, they are counted.

* count_new_mentions() adds the mentions after the mark; beat runs it every minute
  (qa.tasks.count_mentions). Ingest does not write the counts and pays nothing for them.
* Readers (MENTION_QUARTERS_SQL) take the counts up to the mark, add the mentions after it and
  subtract the counted mentions deleted at their source since: few rows, found through the
  primary key and the partial index mention_deleted. So the figures are exact at any time, and
  only the cost of reading them grows when the counting falls behind.
* Quarter hours: every time zone is a whole number of quarter hours away from UTC, so the
  counts add up to local days (volume) as well as to UTC hours (spikes).
* The mark only moves over mentions received SETTLE ago or more, so it never passes a mention
  whose transaction is still open: ingest stores a page in one transaction of seconds (a worker
  is stopped after 180 s), long committed by then.
* The mark remembers when its mention was received. When that mention is gone or is another one
  (the mentions were emptied and their ids restarted, as the seeds and benchmarks do), the
  counts are stale: readers ignore them, and the next count starts again from nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from listening.radar import NEGATIVE_BELOW, POSITIVE_ABOVE
from qa.models import MentionVolume, MentionVolumeMark

log = logging.getLogger(__name__)

SETTLE = timedelta(minutes=10)
_LOCK = (0x564F, 1)  # pg_advisory_xact_lock key: one count at a time


def _quarter(column: str) -> str:
    """SQL for the start of the UTC quarter hour that holds `column`."""
    return f"date_bin('15 minutes', {column}, TIMESTAMPTZ '2000-01-01 00:00:00+00')"


# A mention m's sentiment as listening.radar reads it: is_negative, neither, is_positive.
_NEGATIVE = f"m.sentiment < {NEGATIVE_BELOW!r}"
_POSITIVE = f"m.sentiment > {POSITIVE_ABOVE!r}"
_NEUTRAL = f"m.sentiment BETWEEN {NEGATIVE_BELOW!r} AND {POSITIVE_ABOVE!r}"


# The mark, or 0 when there is none or its mention is gone or another one.
_MARK_SQL = """
SELECT coalesce(max(k.last_mention_id), 0) AS id
FROM qa_mentionvolumemark k
JOIN listening_mention m ON m.id = k.last_mention_id AND m.received_at = k.last_received_at
"""

_NEXT_MARK_SQL = """
SELECT id, received_at FROM listening_mention
WHERE id > %s AND received_at < %s
ORDER BY id DESC
LIMIT 1
"""

_COUNT_SQL = f"""
INSERT INTO qa_mentionvolume (channel_id, quarter, negative, neutral, positive)
SELECT m.channel_id, {_quarter("m.posted_at")},
    count(*) FILTER (WHERE {_NEGATIVE}),
    count(*) FILTER (WHERE {_NEUTRAL}),
    count(*) FILTER (WHERE {_POSITIVE})
FROM listening_mention m
WHERE m.id > %(after)s AND m.id <= %(upto)s
GROUP BY 1, 2
ON CONFLICT (quarter, channel_id) DO UPDATE SET
    negative = qa_mentionvolume.negative + EXCLUDED.negative,
    neutral = qa_mentionvolume.neutral + EXCLUDED.neutral,
    positive = qa_mentionvolume.positive + EXCLUDED.positive
"""


def count_new_mentions(now: datetime | None = None) -> None:
    """Count the mentions received SETTLE before `now` or earlier that are not counted yet.

    One count at a time (a transaction-scoped advisory lock); stale counts are deleted first.
    """
    cutoff = (now or timezone.now()) - SETTLE
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", list(_LOCK))
        cursor.execute(_MARK_SQL)
        (after,) = cursor.fetchone()
        if not after:
            MentionVolume.objects.all().delete()
        cursor.execute(_NEXT_MARK_SQL, [after, cutoff])
        mark = cursor.fetchone()
        if mark is None:
            return
        upto, received_at = mark
        cursor.execute(_COUNT_SQL, {"after": after, "upto": upto})
        MentionVolumeMark.objects.update_or_create(
            pk=1, defaults={"last_mention_id": upto, "last_received_at": received_at}
        )
    log.info("mentions counted", extra={"from_mention_id": after, "to_mention_id": upto})


# Mentions per channel and quarter hour posted from %(start)s to %(end)s, as rows to add up: the
# counts up to the mark (none when stale), one row for each mention after the mark, and a
# negative one for each counted mention deleted since. The counts hold the quarter hour of
# %(end)s whole (%(end)s is now: nothing is posted later). Parameters: start, end.
MENTION_QUARTERS_SQL = f"""
WITH mark AS MATERIALIZED ({_MARK_SQL})
SELECT v.channel_id, v.quarter, v.negative, v.neutral, v.positive
FROM qa_mentionvolume v
WHERE v.quarter >= %(start)s AND v.quarter <= %(end)s AND (SELECT id FROM mark) > 0
UNION ALL
SELECT m.channel_id, {_quarter("m.posted_at")},
    ({_NEGATIVE})::int, ({_NEUTRAL})::int, ({_POSITIVE})::int
FROM listening_mention m
WHERE m.id > (SELECT id FROM mark) AND m.deleted_at IS NULL
    AND m.posted_at >= %(start)s AND m.posted_at <= %(end)s
UNION ALL
SELECT m.channel_id, {_quarter("m.posted_at")},
    -({_NEGATIVE})::int, -({_NEUTRAL})::int, -({_POSITIVE})::int
FROM listening_mention m
WHERE m.deleted_at IS NOT NULL AND m.id <= (SELECT id FROM mark)
    AND m.posted_at >= %(start)s AND m.posted_at <= %(end)s
"""
