"""Survey answers in ingest: which posts of a page answer a survey, and recording them.

Ingest's hot path pays for this only on pages with private posts, and then one indexed
query per page (`find_answers`, on the partial index survey_awaiting_answer) plus, when a page
holds answers, one UPDATE and one INSERT of timeline events (`record_answers`).

A post answers a survey when it is a private post of the survey's customer in the surveyed
conversation on the same channel, posted after the survey was sent and within ANSWER_WINDOW
of it, that reads as a score (csat.answers); the survey's first such post counts, and later
ones are ordinary posts. An answer joins the surveyed case, which stays as it is (resolved):
a score is not a new complaint. Anything else the customer writes opens a case as usual.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cases.models import CaseEvent
from csat.answers import parse_answer
from listening.posts import InboundPost
from socialdesk.pgjson import page_json

ANSWER_WINDOW = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class SurveyAnswer:
    survey_id: int
    case_id: int
    score: int
    external_id: str
    posted_at: datetime


_AWAITING_SQL = """
    SELECT s.id, s.case_id, s.customer_id, s.conversation_key, r.sent_at
    FROM csat_survey s JOIN cases_reply r ON r.id = s.reply_id
    WHERE s.channel_id = %s AND s.state = 'queued' AND s.conversation_key = ANY(%s)
        AND r.state = 'sent'
"""


def find_answers(
    cursor, channel_id: int, posts: Sequence[InboundPost], keys: Sequence[tuple[int, str]]
) -> dict[int, SurveyAnswer]:
    """The posts of a page that answer a survey, by their index in `posts`; `keys[i]` is
    posts[i]'s (customer id, conversation key). No query for a page without private posts."""
    private = [i for i, post in enumerate(posts) if post.is_private]
    if not private:
        return {}
    conversations = sorted({keys[i][1] for i in private})
    cursor.execute(_AWAITING_SQL, [channel_id, conversations])
    awaiting = {
        (customer_id, key): (survey_id, case_id, sent_at)
        for survey_id, case_id, customer_id, key, sent_at in cursor.fetchall()
    }
    if not awaiting:
        return {}
    answers: dict[int, SurveyAnswer] = {}
    taken: set[int] = set()
    for i in sorted(private, key=lambda i: posts[i].posted_at):
        found = awaiting.get(keys[i])
        if found is None or found[0] in taken:
            continue
        survey_id, case_id, sent_at = found
        post = posts[i]
        if not sent_at < post.posted_at <= sent_at + ANSWER_WINDOW:
            continue
        answer = parse_answer(post.text)
        if answer is None:
            continue
        taken.add(survey_id)
        answers[i] = SurveyAnswer(
            survey_id, case_id, answer.score, post.external_id, post.posted_at
        )
    return answers


# The answer's mention is found by (channel, external id): ingest inserted it just before.
_RECORD_SQL = """
    UPDATE csat_survey AS s
    SET state = 'answered', score = k.score, answered_at = k.posted_at,
        answer_id = (
            SELECT m.id FROM listening_mention m
            WHERE m.channel_id = %s AND m.external_id = k.external_id LIMIT 1
        )
    FROM json_to_recordset(%s::json)
         AS k (survey_id bigint, score int, external_id varchar, posted_at timestamptz)
    WHERE s.id = k.survey_id AND s.state = 'queued'
    RETURNING s.id, s.case_id, s.score, s.answer_id, s.answered_at
"""


def record_answers(cursor, channel_id: int, answers: Sequence[SurveyAnswer], now: datetime) -> int:
    """Record a page's survey answers (their mentions already inserted) with an event on each
    case's timeline; on the caller's cursor, inside ingest's transaction. Returns how many."""
    if not answers:
        return 0
    rows = [
        {
            "survey_id": a.survey_id,
            "score": a.score,
            "external_id": a.external_id,
            "posted_at": a.posted_at.isoformat(),
        }
        for a in answers
    ]
    cursor.execute(_RECORD_SQL, [channel_id, page_json(rows)])
    recorded = cursor.fetchall()
    CaseEvent.objects.bulk_create(
        [
            CaseEvent(
                case_id=case_id,
                kind=CaseEvent.Kind.SURVEY_ANSWERED,
                data={"survey_id": survey_id, "score": score, "mention_id": mention_id},
                created_at=answered_at or now,  # beside the answer on the timeline
            )
            for survey_id, case_id, score, mention_id, answered_at in recorded
        ]
    )
    return len(recorded)
