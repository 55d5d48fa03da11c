"""`manage.py seed_qa --replies 1000000 --reviews 50000`: a QA history at scale, fast.

For the dashboard benchmark and for trying the QA pages on a big desk. Needs cases: when the
database holds fewer cases than replies wanted, `seed_desk` runs first. Everything else is
generated inside PostgreSQL (`INSERT ... SELECT`), never through the ORM:

* one sent reply per case (newest cases first), by the case's assignee or a seeded agent,
  sent when the case got its first response; one in ten carries a warned guideline check;
* `--reviews` submitted reviews of the newest of those replies, spread over the last 12
  weeks, against the default rubric, by three QA specialists, weighted 1 (risky replies 1/3:
  they were three times likelier to be picked), with a value for every criterion (N/A where
  the criterion allows it, now and then) whose quality depends on the agent, so the dashboard
  has agents above, within and below their teams;
* each review's score by the documented formula (qa.scoring), computed in SQL;
* three teams of the seeded agents, supervised by `bench.supervisor` (password-less).

Reply and review rows are added, never replaced: run it on a fresh bench database (or pass
--reset, which empties the QA tables and the replies first). One transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from cases.management.commands.seed_desk import SEED_AGENTS
from cases.models import Case
from qa.models import Criterion
from qa.rubrics import default_rubric
from socialdesk import roles
from socialdesk.models import Team

CHUNK = 100_000
QA_USERS = [
    ("bench.qa1", "Quinn", "Reviewer"),
    ("bench.qa2", "Riley", "Reviewer"),
    ("bench.qa3", "Sasha", "Reviewer"),
]
SUPERVISOR = ("bench.supervisor", "Morgan", "Supervisor")
TEAMS = ["Care East", "Care West", "Care Night"]
RESET_TABLES = [
    "qa_criterionscore",
    "qa_coachingsession_reviews",
    "qa_coachingsession",
    "qa_review",
    "qa_sample",
    "qa_samplingrun",
    "cases_reply",
]
REPLY_TEXTS = [
    "Hi {name}, sorry to hear that! Could you send us a DM with your order number?",
    "Thanks for letting us know. We have passed this on and will update you today.",
    "So sorry about the wait. Please DM us your account e-mail and we will sort it out.",
    "Glad it worked out! Thanks for the kind words.",
    "We understand how frustrating this is. Our team is on it, more soon.",
]

REPLY_SQL = """
INSERT INTO cases_reply (case_id, author_id, in_reply_to_id, text, is_private, state,
    idempotency_key, external_id, error, attempts, checks, override_reason, needs_approval,
    approved_by_id, approved_at, next_attempt_at, created_at, queued_at, sending_started_at,
    sent_at)
SELECT c.id,
    coalesce(c.assignee_id, (%(agents)s::int[])[1 + c.id %% %(n_agents)s]),
    NULL,
    replace((%(texts)s::text[])[1 + c.id %% %(n_texts)s], '{name}', 'there'),
    c.is_private, 'sent', md5(c.id::text || 'reply')::uuid, 'seed-reply-' || c.id, '', 1,
    CASE WHEN c.id %% 10 = 0
         THEN '[{"code": "offline", "severity": "warn", "message": "No offline invitation."}]'
         ELSE '[]' END::jsonb,
    '', false, NULL, NULL, NULL,
    t.at, t.at, t.at, t.at
FROM cases_case c
CROSS JOIN LATERAL (
    SELECT least(coalesce(c.first_response_at, c.opened_at + interval '20 minutes'),
                 %(now)s) AS at
) t
WHERE c.id > %(lo)s AND c.id <= %(hi)s
"""

# The newest replies get the reviews; submitted times spread evenly over the last 84 days.
REVIEW_SQL = """
INSERT INTO qa_review (kind, sample_id, calibration_id, reply_id, case_id, agent_id,
    reviewer_id, rubric_id, status, score, critical_failed, weight, comment, created_at,
    submitted_at, agent_response, agent_comment, agent_responded_at, dispute_resolution,
    dispute_resolved_by_id, dispute_resolved_at)
SELECT 'sample', NULL, NULL, r.id, r.case_id, r.author_id,
    (%(reviewers)s::int[])[1 + r.id %% %(n_reviewers)s], %(rubric)s, 'submitted', NULL, false,
    CASE WHEN r.id %% 5 = 0 THEN 1.0 / 3 ELSE 1.0 END, '',
    s.at, s.at,
    CASE WHEN r.id %% 3 = 0 THEN 'acknowledged' ELSE 'pending' END, '', NULL, '', NULL, NULL
FROM (
    SELECT id, case_id, author_id, row_number() OVER (ORDER BY id DESC) AS k
    FROM cases_reply WHERE state = 'sent' ORDER BY id DESC LIMIT %(reviews)s
) r
CROSS JOIN LATERAL (
    SELECT %(now)s - (r.k::float / %(reviews)s) * interval '84 days' AS at
) s
"""

# Each scale's bounds (qa.models.Criterion.SCALE_BOUNDS) as SQL over a criterion `cr`.
_BOUNDS = Criterion.SCALE_BOUNDS
_YES_NO, _THREE, _FIVE = (
    _BOUNDS[Criterion.Scale.YES_NO],
    _BOUNDS[Criterion.Scale.THREE],
    _BOUNDS[Criterion.Scale.FIVE],
)
SCALE_LOW = (
    "CASE cr.scale "
    + " ".join(f"WHEN '{scale}' THEN {lo}" for scale, (lo, _) in _BOUNDS.items())
    + " END"
)
SCALE_SPAN = (
    "CASE cr.scale "
    + " ".join(f"WHEN '{scale}' THEN {hi - lo}" for scale, (lo, hi) in _BOUNDS.items())
    + " END"
)

# skill 0..1 per agent (its position in the agents list); values drawn around it.
SCORE_SQL = f"""
INSERT INTO qa_criterionscore
    (review_id, criterion_id, value, auto_value, auto_reason, comment, answer)
SELECT rv.id, cr.id,
    CASE
      WHEN cr.allow_na AND random() < 0.08 THEN NULL
      WHEN cr.scale = '{Criterion.Scale.YES_NO.value}'
        THEN {_YES_NO[0]} + (random() < 0.80 + 0.18 * sk.skill)::int
      WHEN cr.scale = '{Criterion.Scale.THREE.value}'
        THEN least({_THREE[1]}, {_THREE[0]} + floor((0.45 + 0.55 * sk.skill)
                   * {_THREE[1] - _THREE[0] + 1} * random() + 0.9 * sk.skill + 0.4))::int
      ELSE least({_FIVE[1]}, {_FIVE[0]} + floor((0.4 + 0.6 * sk.skill)
                 * {_FIVE[1] - _FIVE[0] + 1} * random() + 1.6 * sk.skill + 0.6))::int
    END,
    NULL, '', '', 'chosen'
FROM qa_review rv
JOIN qa_criterion cr ON cr.rubric_id = %(rubric)s
CROSS JOIN LATERAL (
    SELECT coalesce(array_position(%(agents)s::int[], rv.agent_id), 6)::float
           / %(n_agents)s AS skill
) sk
WHERE rv.id > %(lo)s AND rv.id <= %(hi)s
"""

# The documented formula (qa.scoring): weighted mean of shares, N/A left out, critical -> 0.
UPDATE_SCORE_SQL = f"""
UPDATE qa_review rv SET score = s.score, critical_failed = s.failed
FROM (
    SELECT v.review_id, bool_or(v.fails) AS failed,
        CASE WHEN bool_or(v.fails) THEN 0.0
             ELSE round((100 * sum(v.weight * v.share) FILTER (WHERE v.share IS NOT NULL)
                  / nullif(sum(v.weight) FILTER (WHERE v.share IS NOT NULL), 0))::numeric, 1)
        END AS score
    FROM (
        SELECT cs.review_id, cr.weight,
            (cs.value - lo.v)::float / ({SCALE_SPAN}) AS share,
            coalesce(cr.critical AND cs.value = lo.v, false) AS fails
        FROM qa_criterionscore cs
        JOIN qa_criterion cr ON cr.id = cs.criterion_id
        CROSS JOIN LATERAL (SELECT {SCALE_LOW} AS v) lo
        WHERE cs.review_id > %(lo)s AND cs.review_id <= %(hi)s
    ) v
    GROUP BY v.review_id
) s
WHERE rv.id = s.review_id
"""


@dataclass
class SeedQAResult:
    replies: int
    reviews: int
    criterion_scores: int
    seconds: float


def _user(username: str, first: str, last: str, role: str):
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=username, defaults={"first_name": first, "last_name": last}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    user.groups.add(Group.objects.get(name=role))
    return user


def _max_id(cursor, table: str) -> int:
    cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
    return cursor.fetchone()[0]


def seed(*, replies: int, reviews: int, reset: bool = False, progress: bool = True) -> SeedQAResult:
    """Add `replies` sent replies (one per case) and `reviews` submitted reviews. See above."""
    if reviews > replies:
        raise ValueError("cannot review more replies than there are")
    started = time.perf_counter()
    if Case.objects.count() < replies:
        call_command(
            "seed_desk",
            cases=replies,
            mentions=replies * 3,
            reset=True,
            verbosity=1 if progress else 0,
        )
    roles.sync_roles()
    User = get_user_model()
    agents = list(
        User.objects.filter(username__in=[u for u, _, _ in SEED_AGENTS]).order_by("username")
    )
    if not agents:
        raise CommandError("no seeded agents: run seed_desk first")
    reviewers = [_user(*spec, roles.QA) for spec in QA_USERS]
    supervisor = _user(*SUPERVISOR, roles.SUPERVISOR)
    rubric = default_rubric()
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        if reset:
            # Check the deferred foreign keys of rows written earlier in this transaction now:
            # TRUNCATE refuses a table with pending trigger events.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {', '.join(RESET_TABLES)} RESTART IDENTITY CASCADE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # as Django declares them
        for i, name in enumerate(TEAMS):
            team, _ = Team.objects.get_or_create(name=name)
            team.supervisors.add(supervisor)
            team.members.add(*agents[i :: len(TEAMS)])
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if cursor.fetchone()[0]:
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        params = {
            "now": now,
            "agents": [a.pk for a in agents],
            "n_agents": len(agents),
            "texts": REPLY_TEXTS,
            "n_texts": len(REPLY_TEXTS),
            "reviewers": [r.pk for r in reviewers],
            "n_reviewers": len(reviewers),
            "rubric": rubric.pk,
            "reviews": reviews,
        }
        cursor.execute(
            "SELECT id FROM cases_case ORDER BY id DESC OFFSET %s LIMIT 1", [replies - 1]
        )
        first_case = cursor.fetchone()[0] - 1
        last_case = _max_id(cursor, "cases_case")
        bar = tqdm(
            total=replies + reviews * 2,
            unit="row",
            unit_scale=True,
            desc="seeding QA",
            disable=not progress,
        )
        with bar:
            for lo in range(first_case, last_case, CHUNK):
                cursor.execute(REPLY_SQL, {**params, "lo": lo, "hi": min(lo + CHUNK, last_case)})
                bar.update(cursor.rowcount)
            review_base = _max_id(cursor, "qa_review")
            cursor.execute(REVIEW_SQL, params)
            bar.update(cursor.rowcount)
            review_top = _max_id(cursor, "qa_review")
            scores = 0
            for lo in range(review_base, review_top, CHUNK // 4):
                window = {**params, "lo": lo, "hi": min(lo + CHUNK // 4, review_top)}
                cursor.execute(SCORE_SQL, window)
                scores += cursor.rowcount
                cursor.execute(UPDATE_SCORE_SQL, window)
                bar.update(window["hi"] - lo)
        for table in ("cases_reply", "qa_review", "qa_criterionscore"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT greatest(max(id), 1) FROM {table}))"
            )
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    with connection.cursor() as cursor:
        for table in ("cases_reply", "qa_review", "qa_criterionscore"):
            cursor.execute(f"ANALYZE {table}")
    return SeedQAResult(replies, reviews, scores, round(time.perf_counter() - started, 1))


class Command(BaseCommand):
    help = "Seed sent replies and submitted QA reviews at scale (for the dashboard benchmark)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--replies", type=int, default=1_000_000)
        parser.add_argument("--reviews", type=int, default=50_000)
        parser.add_argument(
            "--reset", action="store_true", help="Empty the QA tables and the replies first."
        )

    def handle(self, *args, **options) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("seed_qa needs PostgreSQL.")
        if options["replies"] < 1 or not 0 <= options["reviews"] <= options["replies"]:
            raise CommandError("--replies must be positive and --reviews at most --replies.")
        result = seed(
            replies=options["replies"],
            reviews=options["reviews"],
            reset=options["reset"],
            progress=options["verbosity"] > 0,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {result.replies:,} replies, {result.reviews:,} reviews "
                f"({result.criterion_scores:,} criterion scores) in {result.seconds} s."
            )
        )
