"""The case side of customer content changing at the source (listening.content): the events
on the case timeline, the case's subject (a copy of its first post's start), and updated_at,
so every open inbox and case page sees the change within one poll.

Like cases.intake these run on the CALLER'S cursor inside its transaction, one statement per
step whatever the number of posts, and write no customer text into events: the timeline reads
the text (or its absence) from the mention itself.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from cases.intake import post_subject
from cases.models import CaseEvent
from socialdesk.pgjson import page_json


class ChangedPost(NamedTuple):
    """One mention whose text changed: its case, and the text before and after ("" removed)."""

    mention_id: int
    case_id: int
    old_text: str
    new_text: str


_EVENTS_SQL = """
    INSERT INTO cases_caseevent (case_id, actor_id, kind, data, created_at)
    SELECT case_id, NULL, %s, data, %s
    FROM json_to_recordset(%s::json) AS k (case_id bigint, data jsonb)
"""

# A case's subject is the start of its first post: it follows that post's edit, and goes with
# its removal. Cases whose subject came from another post keep it.
_SUBJECTS_SQL = """
    WITH k AS (
        SELECT * FROM json_to_recordset(%s::json)
            AS k (case_id bigint, old_subject varchar, new_subject varchar)
    )
    UPDATE cases_case AS c SET
        subject = COALESCE(
            (SELECT k.new_subject FROM k
             WHERE k.case_id = c.id AND k.old_subject = c.subject LIMIT 1),
            c.subject),
        updated_at = %s
    WHERE c.id IN (SELECT case_id FROM k)
"""


def note_changed_posts(
    cursor,
    changed: Sequence[ChangedPost],
    *,
    kind: str,
    at: datetime,
    now: datetime,
    data: dict[str, str] | None = None,
) -> None:
    """Write one `kind` event per changed post (dated `at`), carry the change into the subjects
    of the cases they opened, and mark those cases updated at `now`. `kind` "" writes no event
    (retention: the mentions show it, and one event per post would flood the timelines)."""
    if not changed:
        return
    if kind:
        rows = [
            {"case_id": post.case_id, "data": {"mention_id": post.mention_id, **(data or {})}}
            for post in changed
        ]
        cursor.execute(_EVENTS_SQL, [kind, at, page_json(rows)])
    subjects = [
        {
            "case_id": post.case_id,
            "old_subject": post_subject(post.old_text),
            "new_subject": post_subject(post.new_text),
        }
        for post in changed
    ]
    cursor.execute(_SUBJECTS_SQL, [page_json(subjects), now])


def note_edits(cursor, changed: Sequence[ChangedPost], *, at: datetime, now: datetime) -> None:
    note_changed_posts(cursor, changed, kind=CaseEvent.Kind.POST_EDITED, at=at, now=now)


def blank_expired_subjects(cursor, cutoff: datetime) -> int:
    """Retention: cases opened before `cutoff` lose their subject (their first post's start)."""
    cursor.execute(
        "UPDATE cases_case SET subject = '' WHERE opened_at < %s AND subject <> ''", [cutoff]
    )
    return cursor.rowcount
