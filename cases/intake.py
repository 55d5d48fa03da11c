"""How a page of inbound posts enters the desk: authors become identities, posts join cases.

`take_in(cursor, channel, posts, scores, now)` runs on the CALLER'S cursor, inside the caller's
transaction (listening.ingest's, which holds the channel's row lock so no one else threads
this channel's posts meanwhile); it neither commits nor rolls back. Two statements per step
whatever the page's size, each one set-based SQL over the whole page:

    upsert the authors' identities, creating a customer for each new one
    → thread the posts into each customer's open case for the conversation, opening cases
      as needed, and answer for each post its case and its author's identity.

The case rules of intake live here: a conversation without an open case opens a new one; an
open case takes the page's posts in (count, latest time, and the radar of its most urgent post
so far); a pending case goes back to open, because the customer answered. Values are cut to
the model fields' `max_length`.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from cases.models import Case, CaseStatus, Customer, Identity, MentionMedia
from cases.sla import Opening, opening_clocks, refresh_case_slas
from listening.posts import Author, InboundPost
from listening.radar import Score, suggest_triage
from sla.policies import load_rules
from socialdesk.pgjson import page_json

if TYPE_CHECKING:
    from csat.intake import SurveyAnswer
    from listening.models import Channel
    from sla.policies import Rules


def _max_length(model: type, name: str) -> int:
    return model._meta.get_field(name).max_length


CONVERSATION_KEY_LENGTH = _max_length(Case, "conversation_key")
SUBJECT_LENGTH = _max_length(Case, "subject")
_LANGUAGE = _max_length(Case, "language")
_TRIAGE_REASON = _max_length(Case, "triage_reason")
_DISPLAY_NAME = _max_length(Customer, "display_name")
_HANDLE = _max_length(Identity, "handle")
_NAME = _max_length(Identity, "name")
_PROFILE_URL = _max_length(Identity, "profile_url")
_MAX_FOLLOWERS = 2**31 - 1  # an integer column
_ALT_TEXT_LENGTH = 1000
_SOURCE_URL = _max_length(MentionMedia, "source_url")
IMAGE_ONLY_SUBJECT = "(image without text)"
FETCH_BATCH = 10  # images per fetch message: one slow CDN holds up few others


@dataclass(slots=True)
class Intake:
    """Where each post of a page went: `author_ids[i]` and `case_ids[i]` belong to posts[i].

    `cases` lists every case the page touched once, the `opened` new ones first.
    """

    author_ids: list[int] = field(default_factory=list)
    case_ids: list[int] = field(default_factory=list)
    cases: list[int] = field(default_factory=list)
    opened: int = 0
    # Open cases the page joined whose service-level inputs it changed: a customer post that
    # starts the next-response clock (nobody was waiting on us) or, when a policy looks at
    # priority, a new lead priority. The rest keep their due times.
    moved: list[int] = field(default_factory=list)
    # Posts that answer a satisfaction survey: they join the surveyed case (csat.intake).
    survey_answers: list["SurveyAnswer"] = field(default_factory=list)

    @property
    def updated(self) -> int:
        return len(self.cases) - self.opened


class _Identity(NamedTuple):
    id: int
    customer_id: int
    followers: int
    verified: bool


def take_in(
    cursor,
    channel: "Channel",
    posts: Sequence[InboundPost],
    scores: Sequence[Score],
    now: datetime,
) -> Intake:
    """Identities and cases for `posts` (new to the desk, scored in `scores`); see the module.

    Runs on the caller's `cursor` inside its transaction, which must hold `channel`'s row lock.
    """
    identities = _upsert_identities(cursor, channel.network, posts, now)
    rules = load_rules()
    intake = _thread_into_cases(cursor, channel, posts, scores, identities, now, rules)
    # The cases the page opened were inserted with their clocks; of the open cases it joined,
    # only those whose clock inputs it moved are dated again (see Intake.moved).
    refresh_case_slas(intake.moved, rules)
    return intake


def conversation_key(post: InboundPost) -> str:
    """The key that threads a customer's posts of one conversation into one open case."""
    return post.conversation_id[:CONVERSATION_KEY_LENGTH]


def _identity_key(author: Author) -> str:
    return author.external_id or "unknown"


# Lookups go through LATERAL, one index probe per key: the plan stays right even when the
# table statistics do not know the rows yet (a new channel, a big import). The LIMIT 1 keeps
# it a probe: without it PostgreSQL may scan the whole index and join.
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
    cursor, network: str, posts: Sequence[InboundPost], now: datetime
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
            "handle": author.handle[:_HANDLE],
            "name": author.name[:_NAME],
            "followers": max(0, min(author.followers, _MAX_FOLLOWERS)),
            "verified": author.verified,
            "profile_url": author.profile_url[:_PROFILE_URL],
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
    name = author.name or (f"@{author.handle}" if author.handle else "") or "Unknown author"
    return name[:_DISPLAY_NAME]


# One statement threads the page into cases: a conversation without an open case gets a new
# one, an open case (the partial unique index case_one_open_per_conversation) takes the page's
# posts in: count, latest time, and the radar of its most urgent post so far (the newer on a
# tie, or whatever the page has if the case has no triage yet). A pending case goes back to
# open: the customer answered. When nobody was waiting on us, the page's first post starts the
# response clock (awaiting_since, cases/sla.py). In DO UPDATE, `cases_case` is the row as it
# was and EXCLUDED the page's summary. (xmax = 0) is true for the rows this statement inserted.
_UPSERT_CASES_SQL = """
    INSERT INTO cases_case
        (channel_id, updated_at, opened_at, customer_id, conversation_key, subject, language,
         is_private, status, priority, priority_reasons, triage_suggestion, triage_reason,
         mention_count, last_inbound_at, sentiment, triage_decision, triage_decision_reason,
         awaiting_since, sla_policy_id, first_response_due_at, response_due_at,
         resolution_due_at, sla_warn_at, sla_due_at, sla_state)
    SELECT %s, %s, opened_at, customer_id, conversation_key, subject, language, is_private,
           '{new}', priority, priority_reasons, triage_suggestion, triage_reason,
           mention_count, last_inbound_at, sentiment, '', '', opened_at,
           sla_policy_id, first_response_due_at, response_due_at, resolution_due_at,
           sla_warn_at, sla_due_at, sla_state
    FROM json_to_recordset(%s::json)
         AS k (opened_at timestamptz, customer_id bigint, conversation_key varchar,
               subject varchar, language varchar, is_private boolean, priority int,
               priority_reasons jsonb, triage_suggestion varchar, triage_reason varchar,
               mention_count int, last_inbound_at timestamptz, sentiment float8,
               sla_policy_id bigint, first_response_due_at timestamptz,
               response_due_at timestamptz, resolution_due_at timestamptz,
               sla_warn_at timestamptz, sla_due_at timestamptz, sla_state varchar)
    ON CONFLICT (channel_id, customer_id, conversation_key)
        WHERE status IN ('{new}', '{open}', '{pending}')
    DO UPDATE SET
        status = CASE cases_case.status WHEN '{pending}' THEN '{open}'
            ELSE cases_case.status END,
        mention_count = cases_case.mention_count + EXCLUDED.mention_count,
        last_inbound_at = GREATEST(cases_case.last_inbound_at, EXCLUDED.last_inbound_at),
        awaiting_since = COALESCE(cases_case.awaiting_since, EXCLUDED.awaiting_since),
        updated_at = EXCLUDED.updated_at,
        priority = CASE WHEN {page_leads} THEN EXCLUDED.priority ELSE cases_case.priority END,
        priority_reasons = CASE WHEN {page_leads}
            THEN EXCLUDED.priority_reasons ELSE cases_case.priority_reasons END,
        sentiment = CASE WHEN {page_leads} THEN EXCLUDED.sentiment ELSE cases_case.sentiment END,
        triage_suggestion = CASE WHEN {page_leads}
            THEN EXCLUDED.triage_suggestion ELSE cases_case.triage_suggestion END,
        triage_reason = CASE WHEN {page_leads}
            THEN EXCLUDED.triage_reason ELSE cases_case.triage_reason END
    RETURNING id, customer_id, conversation_key, (xmax = 0) AS opened, awaiting_since, priority
""".format(
    new=CaseStatus.NEW.value,
    open=CaseStatus.OPEN.value,
    pending=CaseStatus.PENDING.value,
    page_leads="(EXCLUDED.priority >= cases_case.priority OR cases_case.triage_suggestion = '')",
)


def _thread_into_cases(
    cursor,
    channel: "Channel",
    posts: Sequence[InboundPost],
    scores: Sequence[Score],
    identities: dict[str, _Identity],
    now: datetime,
    rules: "Rules",
) -> Intake:
    """Each post's case: the open case of its customer's conversation, or a new one (with its
    service-level clocks, in case the conversation has no open case: see opening_clocks); a
    survey answer's, the surveyed case (`_take_in_survey_answers`)."""
    keys = [
        (identities[_identity_key(post.author)].customer_id, conversation_key(post))
        for post in posts
    ]
    answers = _take_in_survey_answers(cursor, channel, posts, keys, now)
    groups: dict[tuple[int, str], list[tuple[InboundPost, Score]]] = defaultdict(list)
    for i, (post, score) in enumerate(zip(posts, scores, strict=True)):
        if i not in answers:
            groups[keys[i]].append((post, score))

    intake = Intake()
    case_ids = {}
    opened, joined = [], []
    if groups:
        rows = [_case_summary(key, items, identities) for key, items in groups.items()]
        openings = [Opening(row["customer_id"], row["opened_at"], row["priority"]) for row in rows]
        for row, clocks in zip(rows, opening_clocks(channel, openings, rules), strict=True):
            row.update(clocks)
        cursor.execute(_UPSERT_CASES_SQL, [channel.pk, now, page_json(rows)])
        sent = {(row["customer_id"], row["conversation_key"]): row for row in rows}
        by_priority = rules.reads_priority
        for case_id, customer_id, key, is_new, awaiting_since, priority in cursor.fetchall():
            case_ids[(customer_id, key)] = case_id
            (opened if is_new else joined).append(case_id)
            row = sent[(customer_id, key)]
            # The upsert keeps an earlier awaiting_since: equal to the page's first post, it
            # was empty and this page starts the clock.
            if not is_new and (
                awaiting_since == row["opened_at"] or by_priority and priority == row["priority"]
            ):
                intake.moved.append(case_id)
    intake.opened = len(opened)
    intake.cases = opened + joined
    intake.case_ids = [
        answers[i].case_id if i in answers else case_ids[key] for i, key in enumerate(keys)
    ]
    intake.survey_answers = list(answers.values())
    intake.author_ids = [identities[_identity_key(post.author)].id for post in posts]
    return intake


_SURVEYED_CASES_SQL = """
    UPDATE cases_case AS c SET mention_count = c.mention_count + k.n, updated_at = %s
    FROM json_to_recordset(%s::json) AS k (id bigint, n int)
    WHERE c.id = k.id
"""


def _take_in_survey_answers(
    cursor,
    channel: "Channel",
    posts: Sequence[InboundPost],
    keys: list[tuple[int, str]],
    now: datetime,
) -> "dict[int, SurveyAnswer]":
    """The posts answering a satisfaction survey, by index (csat.intake.find_answers): each
    joins its surveyed case, which counts it but keeps its status (a score is not a new
    complaint). ingest records the scores once the mentions are stored."""
    from csat.intake import find_answers  # csat builds on cases

    answers = find_answers(cursor, channel.pk, posts, keys)
    if answers:
        counts: dict[int, int] = defaultdict(int)
        for answer in answers.values():
            counts[answer.case_id] += 1
        rows = [{"id": case_id, "n": n} for case_id, n in counts.items()]
        cursor.execute(_SURVEYED_CASES_SQL, [now, page_json(rows)])
    return answers


def _case_summary(
    key: tuple[int, str], items: list[tuple[InboundPost, Score]], identities: dict[str, _Identity]
) -> dict[str, Any]:
    """What one page says about one conversation, for a new case or an open one."""
    first = min((post for post, _ in items), key=lambda post: post.posted_at)
    post, score = max(items, key=lambda item: item[1].priority)
    identity = identities[_identity_key(post.author)]
    triage, reason = suggest_triage(score, identity.followers, identity.verified)
    return {
        "opened_at": first.posted_at,
        "customer_id": key[0],
        "conversation_key": key[1],
        "subject": post_subject(first.text) or IMAGE_ONLY_SUBJECT,
        "language": first.lang[:_LANGUAGE],
        "is_private": first.is_private,
        "priority": score.priority,
        "priority_reasons": score.reasons,
        "triage_suggestion": triage,
        "triage_reason": reason[:_TRIAGE_REASON],
        "mention_count": len(items),
        "last_inbound_at": max(post.posted_at for post, _ in items),
        "sentiment": score.sentiment,
    }


def post_subject(text: str) -> str:
    """A case's subject from its first post's text: the start of it, on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= SUBJECT_LENGTH else flat[: SUBJECT_LENGTH - 1] + "…"


# The page's images, joined to the mentions just inserted by (channel, external id): one
# statement whatever the page's size, and none for a page without images.
_INSERT_MEDIA_SQL = """
    INSERT INTO cases_mentionmedia
        (mention_id, position, kind, source_url, alt_text, width, height, state, reason,
         attempts, next_attempt_at, file, thumbnail, content_type, size, created_at)
    SELECT m.id, k.position, k.kind, k.source_url, k.alt_text, k.width, k.height, %s, '',
           0, %s, '', '', '', 0, %s
    FROM json_to_recordset(%s::json)
         AS k (external_id varchar, position int, kind varchar, source_url varchar,
               alt_text text, width int, height int)
    CROSS JOIN LATERAL (
        SELECT id FROM listening_mention
        WHERE channel_id = %s AND external_id = k.external_id
        LIMIT 1
    ) AS m
    ON CONFLICT (mention_id, position) DO NOTHING
    RETURNING id
"""


def store_attachments(
    cursor, channel: "Channel", posts: Sequence[InboundPost], now: datetime
) -> list[int]:
    """Store the images of `posts` (their mentions already inserted) as pending MentionMedia
    rows and enqueue their fetch for when the caller's transaction commits (cases.media).

    Runs on the caller's cursor inside its transaction. Returns the new rows' ids.
    """
    rows = [
        {
            "external_id": post.external_id,
            "position": position,
            "kind": item.kind,
            "source_url": item.url[:_SOURCE_URL],
            "alt_text": item.alt_text[:_ALT_TEXT_LENGTH],
            "width": item.width,
            "height": item.height,
        }
        for post in posts
        for position, item in enumerate(post.attachments)
    ]
    if not rows:
        return []
    cursor.execute(
        _INSERT_MEDIA_SQL,
        [MentionMedia.State.PENDING.value, now, now, page_json(rows), channel.pk],
    )
    ids = [row[0] for row in cursor.fetchall()]
    from cases.tasks import fetch_media

    for start in range(0, len(ids), FETCH_BATCH):
        fetch_media.delay_on_commit(ids[start : start + FETCH_BATCH])
    return ids
