"""`manage.py seed_desk --cases 1000000 --mentions 3000000`: a large, realistic desk, fast.

For benchmarks and for trying the inbox at scale. The rows are generated inside PostgreSQL
(`INSERT ... SELECT generate_series`, one chunk of cases at a time), never through the ORM:
customers with one identity each (one in twenty has a second network), four channels, a dozen
agents in ten teams (teams own the channels, as on a desk of several brands), cases over the
last 90 days (about 10% still open, a few of them snoozed), mentions in
six languages threaded into them (every case has at least one; `--mentions` in total), labels
on about a quarter of the cases. Secondary indexes are dropped before loading and rebuilt after
(a bulk build is many times faster than row-by-row maintenance), then the tables are ANALYZEd.

Everything happens in one transaction: an interrupted seed leaves the database as it was.
"""

import math
import random
import time
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from cases.models import Label
from listening.models import Channel, Network
from socialdesk import roles
from socialdesk.models import Team

CHUNK = 50_000  # cases per INSERT ... SELECT: a progress step of a second or two

SEED_TABLES = [
    "cases_customer",
    "cases_identity",
    "cases_case",
    "cases_case_labels",
    "listening_mention",
]
# --reset empties these (and, through CASCADE, whatever points at them, e.g. QA reviews).
RESET_TABLES = [
    "cases_case_labels",
    "cases_caseevent",
    "cases_note",
    "cases_reply",
    "listening_mention",
    "listening_quarantinedpost",
    "cases_case",
    "cases_identity",
    "cases_customer",
    "listening_listeningrule",
    "listening_channel",
]

SEED_CHANNELS = [
    (Network.X, "990001", "Acme Support", "@acme_support"),
    (Network.X, "990002", "Acme Deals", "@acme_deals"),
    (Network.FACEBOOK, "990003", "Acme", "Acme"),
    (Network.FACEBOOK, "990004", "Acme Help Centre", "Acme Help Centre"),
]

SEED_TEAMS = 10
SEED_AGENTS = [
    ("jordan.lee", "Jordan", "Lee"),
    ("maria.garcia", "María", "García"),
    ("sam.okafor", "Sam", "Okafor"),
    ("priya.shah", "Priya", "Shah"),
    ("tom.becker", "Tom", "Becker"),
    ("lea.martin", "Léa", "Martin"),
    ("kenji.sato", "Kenji", "Sato"),
    ("ana.silva", "Ana", "Silva"),
    ("omar.haddad", "Omar", "Haddad"),
    ("chloe.dubois", "Chloé", "Dubois"),
    ("lukas.weber", "Lukas", "Weber"),
    ("grace.kim", "Grace", "Kim"),
]

SEED_LABELS = [
    ("billing", "blue"),
    ("delivery", "amber"),
    ("outage", "red"),
    ("refund", "purple"),
    ("vip", "green"),
    ("press", "red"),
    ("legal", "red"),
    ("product feedback", "gray"),
]

FIRST_NAMES = [
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Lucas", "Sofia", "Mateo", "Mia", "Elijah",
    "Chloé", "Hugo", "Lena", "Jonas", "Aiko", "Haruto", "Camila", "Diego", "Zara", "Omar",
    "Fatima", "Yusuf", "Ingrid", "Lars", "Priya", "Arjun", "Grace", "Wei", "Nadia", "Tomás",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Jones", "García", "Müller", "Martin", "Rossi", "Silva", "Kowalski", "Nguyen",
    "Kim", "Tanaka", "Dubois", "Schmidt", "López", "Brown", "Wilson", "Haddad", "Okafor",
    "Johansson", "Novak", "Costa", "Moreau", "Fischer", "Yamamoto", "Patel", "Cohen",
]  # fmt: skip

# (language, kind, text): the first post of a case. {n} is an order number, {b} the brand.
# English is repeated so that about two thirds of the cases are in English.
OPENINGS = [
    ("en", "complaint", "{b} my order #{n} arrived broken, I want a refund"),
    ("en", "complaint", "{b} three days without internet, this is unacceptable. I will cancel"),
    ("en", "complaint", "{b} charged twice for invoice {n}, please fix this now"),
    ("en", "complaint", "{b} the router keeps dropping the connection every hour 😡"),
    ("en", "complaint", "{b} still no delivery for order #{n}, tracking says lost"),
    ("en", "question", "{b} how do I change the delivery address on order #{n}?"),
    ("en", "question", "{b} does the premium plan include international calls?"),
    ("en", "question", "{b} when does the new store in Leeds open?"),
    ("en", "praise", "Thanks {b}, the technician fixed it in ten minutes 👍🏽"),
    ("en", "praise", "Shout out to {b} for the quick refund on #{n}, great service"),
    ("en", "spam", "FREE crypto airdrop!!! click here http://spam.example/{n} #giveaway"),
    ("en", "troll", "{b} you are all clowns, pathetic company"),
    ("en", "press", "Journalist at the Daily Ledger here, {b}, any comment on the outage?"),
    ("en", "legal", "{b} my lawyer will contact you about order {n} if this is not solved"),
    ("en", "complaint", "{b} app crashes at checkout, lost my cart twice"),
    ("en", "question", "{b} is there an outage in Manchester right now?"),
    ("es", "complaint", "{b} ¿cuándo llega mi pedido {n}? Nadie responde 😡"),
    ("es", "question", "{b} ¿puedo cambiar la dirección de envío del pedido {n}?"),
    ("fr", "complaint", "{b} mon colis {n} est cassé, je veux un remboursement"),
    ("fr", "praise", "Merci {b}, livraison rapide et soignée !"),
    ("de", "complaint", "{b} Paket {n} ist kaputt, bitte um Erstattung"),
    ("de", "question", "{b} wie kann ich meinen Vertrag kündigen?"),
    ("pt", "complaint", "{b} minha encomenda {n} ainda não chegou, quero reembolso"),
    ("ja", "question", "{b} 注文{n}の配送状況を教えてください"),
]
FOLLOW_UPS = {
    "en": [
        "Still waiting for an answer on this.",
        "Any update? It has been two days.",
        "I sent you a DM with the details.",
        "This is the third time I ask, seriously.",
        "Ok thanks, that worked!",
    ],
    "es": ["¿Alguna novedad?", "Sigo esperando una respuesta.", "Gracias, ya está resuelto."],
    "fr": ["Toujours pas de réponse ?", "Merci, c'est réglé."],
    "de": ["Immer noch keine Antwort?", "Danke, hat geklappt."],
    "pt": ["Alguma novidade?", "Obrigado, resolvido."],
    "ja": ["まだ返事がありません。", "ありがとうございました。"],
}
SUGGESTION = {
    "complaint": ("engage", "Customer with a concrete problem (refund, broken)."),
    "question": ("engage", "Question from a customer: a quick, accurate answer."),
    "praise": ("engage", "Praise: a short, personal thank-you builds goodwill."),
    "spam": ("ignore", "Looks like spam (links, promotions or hashtag stuffing)."),
    "troll": ("ignore", "Insults without a concrete problem: engaging rarely helps."),
    "press": ("escalate", "Press enquiry: hand to communications before anyone answers."),
    "legal": ("escalate", "Legal threat: route to the escalation path, do not argue in public."),
}
SENTIMENT = {
    "complaint": -0.6,
    "question": 0.0,
    "praise": 0.8,
    "spam": 0.2,
    "troll": -0.85,
    "press": -0.1,
    "legal": -0.7,
}
REASONS = {
    "complaint": "urgency: refund, broken",
    "question": "question",
    "praise": "positive sentiment",
    "spam": "looks like spam",
    "troll": "insults",
    "press": "press enquiry",
    "legal": "legal threat",
}


@dataclass(frozen=True)
class SeedResult:
    customers: int
    identities: int
    cases: int
    mentions: int
    seconds: float


def _coprime_multiplier(n: int) -> int:
    """A multiplier m with gcd(m, n) == 1, so i -> i*m mod n permutes 0..n-1."""
    for candidate in (2654435761, 40503, 7919, 104729, 1299709):
        if math.gcd(candidate, n) == 1:
            return candidate
    return 1


def _setup_reference_rows() -> tuple[list[int], list[int], list[int], list[int]]:
    """Channels (x ids, facebook ids), the agents and the labels; get-or-create, via the ORM."""
    x_ids, fb_ids = [], []
    for network, account, name, handle in SEED_CHANNELS:
        channel = Channel.objects.filter(network=network, external_account_id=account).first()
        if channel is None:
            channel = Channel(
                network=network, external_account_id=account, name=name, handle=handle
            )
            channel.credentials = (
                {"bearer_token": "seed"} if network == Network.X else {"page_access_token": "seed"}
            )
            # Seeded channels are not polled: they point at accounts that do not exist.
            channel.enabled = False
            channel.save()
        (x_ids if network == Network.X else fb_ids).append(channel.pk)

    roles.sync_roles()
    agent_group = Group.objects.get(name=roles.AGENT)
    User = get_user_model()
    agent_ids = []
    for username, first, last in SEED_AGENTS:
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        user.groups.add(agent_group)
        agent_ids.append(user.pk)

    label_ids = [
        Label.objects.get_or_create(name=name, defaults={"color": color})[0].pk
        for name, color in SEED_LABELS
    ]
    _seed_teams(x_ids + fb_ids, agent_ids)
    return x_ids, fb_ids, agent_ids, label_ids


def _seed_teams(channel_ids: list[int], agent_ids: list[int]) -> None:
    """SEED_TEAMS teams: the agents dealt round them, each channel owned by one (a channel an
    earlier run gave a team keeps it), and the first agent (the inbox bench's) in the first
    two, so the bench reads its inbox through team visibility as a real agent does."""
    teams = [Team.objects.get_or_create(name=f"Seed team {n}")[0] for n in range(1, SEED_TEAMS + 1)]
    for i, agent_id in enumerate(agent_ids):
        teams[i % SEED_TEAMS].members.add(agent_id)
    if agent_ids:
        teams[1].members.add(agent_ids[0])
    for i, channel_id in enumerate(channel_ids):
        Channel.objects.filter(pk=channel_id, team__isnull=True).update(team=teams[i % SEED_TEAMS])


def _secondary_indexes(cursor) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the seeded tables' non-unique, non-constraint indexes."""
    cursor.execute(
        """
        SELECT ic.relname, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_class ic ON ic.oid = i.indexrelid
        WHERE t.relname = ANY(%s) AND t.relnamespace = 'public'::regnamespace
          AND NOT i.indisprimary AND NOT i.indisunique
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY ic.relname
        """,
        [SEED_TABLES],
    )
    return list(cursor.fetchall())


def _case_sql() -> str:
    """One chunk of cases, g in [lo, hi): every column computed from a few random numbers."""
    kinds = sorted(SUGGESTION)

    def kind_case(value) -> str:
        return "CASE kind " + " ".join(f"WHEN '{k}' THEN {value(k)}" for k in kinds) + " END"

    suggestion = kind_case(lambda k: f"'{SUGGESTION[k][0]}'")
    reason = kind_case(lambda k: f"'{SUGGESTION[k][1]}'")
    sentiment = kind_case(lambda k: str(SENTIMENT[k]))
    reasons = kind_case(lambda k: f"'{REASONS[k]}'")
    return f"""
    WITH r AS (
        SELECT g, 1 + floor(random() * %(customers)s)::bigint AS cust,
               random() AS rs, random() AS rp, random() AS ra, random() AS rt,
               random() AS ro, random() AS rd, random() AS rx, random() AS rz
        FROM generate_series(%(lo)s, %(hi)s - 1) AS g
        OFFSET 0
    ), s AS (
        SELECT r.*,
            CASE WHEN rs < 0.03 THEN 'new' WHEN rs < 0.07 THEN 'open'
                 WHEN rs < 0.10 THEN 'pending' WHEN rs < 0.78 THEN 'resolved'
                 ELSE 'closed' END AS status,
            (cust %% 3 = 0) AS on_facebook,
            1 + floor(rt * %(openings)s)::int AS t,
            least(100, floor(power(rp, 1.8) * 101))::int AS priority
        FROM r
    ), o AS (
        SELECT s.*,
            (%(kinds)s::text[])[t] AS kind,
            (%(langs)s::text[])[t] AS lang,
            CASE WHEN on_facebook THEN (%(fb)s::bigint[])[1 + g %% %(n_fb)s]
                 ELSE (%(x)s::bigint[])[1 + g %% %(n_x)s] END AS channel_id,
            CASE WHEN status IN ('new', 'open', 'pending')
                 THEN %(now)s - ro * interval '3 days'
                 ELSE %(now)s - interval '3 days' - ro * interval '87 days' END AS opened_at,
            status IN ('new', 'open', 'pending') AS is_open,
            g - 1 AS i
        FROM s
    ), c AS (
        SELECT o.*,
            opened_at + (%(now)s - opened_at) * rd * 0.5 AS last_inbound_at,
            %(q)s
              + CASE WHEN i = %(cases)s - 1 AND %(cases)s %% 2 = 1 THEN 0
                     WHEN i %% 2 = 0 THEN ((i / 2) * 2654435761) %% %(q)s
                     ELSE -(((i / 2) * 2654435761) %% %(q)s) END
              + CASE WHEN (i * %(mult)s) %% %(cases)s < %(r)s THEN 1 ELSE 0 END
              AS mention_count,
            {suggestion} AS suggestion,
            CASE WHEN NOT is_open OR ra < 0.3 THEN
                CASE WHEN rx < 0.85 THEN {suggestion} WHEN rx < 0.95 THEN 'engage'
                     ELSE 'escalate' END
            ELSE '' END AS decision,
            CASE WHEN status = 'new' AND ra < 0.8 THEN NULL
                 WHEN is_open AND ra < 0.4 THEN NULL
                 ELSE (%(agents)s::int[])[1 + (g * 7) %% %(n_agents)s] END AS assignee_id
        FROM o
    )
    INSERT INTO cases_case (
        id, customer_id, channel_id, conversation_key, subject, status, priority,
        priority_reasons, triage_suggestion, triage_reason, triage_decision,
        triage_decision_reason, assignee_id, triage_decided_by_id, triage_decided_at,
        snoozed_until, language, sentiment, is_private, mention_count, opened_at,
        last_inbound_at, first_response_at, resolved_at, updated_at)
    SELECT
        %(case_base)s + g, %(customer_base)s + cust, channel_id,
        'seed-' || (%(case_base)s + g),
        left(btrim(replace(
            replace((%(texts)s::text[])[t], '{{n}}', (100000 + g %% 900000)::text),
            '{{b}}', CASE WHEN on_facebook THEN '' ELSE '@acme_support' END)), 200),
        status, priority,
        CASE WHEN priority >= 40 THEN jsonb_build_array({reasons}, 'waiting time')
             ELSE jsonb_build_array({reasons}) END,
        suggestion, {reason}, decision,
        CASE WHEN decision = '' THEN '' WHEN decision = suggestion THEN 'Agreed with the radar.'
             ELSE 'Checked the customer''s history first.' END,
        assignee_id,
        CASE WHEN decision = '' THEN NULL ELSE assignee_id END,
        CASE WHEN decision = '' THEN NULL ELSE opened_at + interval '12 minutes' END,
        CASE WHEN status = 'pending' AND rz < 0.35
             THEN %(now)s + (1 + rz * 130) * interval '1 hour' END,
        lang, {sentiment} * (0.7 + 0.3 * rz), g %% 7 = 0, mention_count, opened_at,
        last_inbound_at,
        CASE WHEN NOT is_open THEN opened_at + (5 + rx * 180) * interval '1 minute'
             WHEN rx < 0.4 AND opened_at + interval '20 minutes' < %(now)s
             THEN opened_at + interval '20 minutes' END,
        CASE WHEN NOT is_open THEN least(%(now)s, last_inbound_at + rx * interval '1 day') END,
        CASE WHEN NOT is_open THEN least(%(now)s, last_inbound_at + rx * interval '1 day')
             ELSE last_inbound_at END
    FROM c
    """


def _mention_sql() -> str:
    follow_up = "CASE c.language " + " ".join(
        f"WHEN '{lang}' THEN (%(fu_{lang})s::text[])[1 + (c.id + j) %% {len(texts)}]"
        for lang, texts in FOLLOW_UPS.items()
    )
    follow_up += " ELSE 'Any update?' END"
    return f"""
    INSERT INTO listening_mention (
        channel_id, case_id, author_id, external_id, kind, is_private, text, lang,
        conversation_id, in_reply_to_id, url, metrics, posted_at, received_at, sentiment,
        priority, priority_reasons, deleted_at)
    SELECT c.channel_id, c.id, %(identity_base)s + (c.customer_id - %(customer_base)s),
        'seed-' || c.id || '-' || j,
        CASE WHEN c.is_private THEN 'dm' WHEN ch.network = 'facebook' THEN 'comment'
             WHEN j = 1 THEN 'mention' ELSE 'reply' END,
        c.is_private,
        CASE WHEN j = 1 THEN c.subject ELSE {follow_up} END,
        c.language, c.conversation_key,
        CASE WHEN j = 1 THEN '' ELSE 'seed-' || c.id || '-' || (j - 1) END,
        '', '{{}}'::jsonb,
        CASE WHEN c.mention_count = 1 THEN c.opened_at
             ELSE c.opened_at + (c.last_inbound_at - c.opened_at) * (j - 1)
                  / (c.mention_count - 1) END AS posted_at,
        CASE WHEN c.mention_count = 1 THEN c.opened_at
             ELSE c.opened_at + (c.last_inbound_at - c.opened_at) * (j - 1)
                  / (c.mention_count - 1) END,
        c.sentiment, c.priority, '[]'::jsonb, NULL
    FROM cases_case c
    JOIN listening_channel ch ON ch.id = c.channel_id
    CROSS JOIN LATERAL generate_series(1, c.mention_count) AS j
    WHERE c.id > %(lo)s AND c.id <= %(hi)s
    """


CUSTOMER_SQL = """
INSERT INTO cases_customer (id, display_name, created_at)
SELECT %(customer_base)s + g,
       (%(first)s::text[])[1 + (g * 7) %% %(n_first)s] || ' '
           || (%(last)s::text[])[1 + (g * 11 + g / %(n_first)s) %% %(n_last)s],
       %(now)s - interval '90 days' - (g %% 700) * interval '1 day'
FROM generate_series(%(lo)s, %(hi)s - 1) AS g
"""

# One identity per customer (id = identity_base + g); every 20th customer also has one on the
# other network (id = identity_base + customers + g). Facebook users have no @handle.
IDENTITY_SQL = """
INSERT INTO cases_identity (id, customer_id, network, external_id, handle, name, followers,
                            verified, profile_url, updated_at)
SELECT %(identity_base)s + p.g + p.second * %(customers)s, %(customer_base)s + p.g, p.network,
       'seed' || %(customer_base)s || '-' || p.g,
       CASE WHEN p.network = 'x'
            THEN lower(replace(translate(cu.display_name, 'áéíóúüñç', 'aeiouunc'), ' ', '_'))
                 || p.g
            ELSE '' END,
       cu.display_name, p.followers, p.followers > 50000 AND random() < 0.5,
       CASE WHEN p.network = 'x' THEN 'https://x.com/i/user/' || p.g
            ELSE 'https://facebook.com/' || p.g END,
       %(now)s
FROM (
    SELECT g, 0 AS second, CASE WHEN g %% 3 = 0 THEN 'facebook' ELSE 'x' END AS network,
           floor(exp(random() * random() * 13))::int AS followers
    FROM generate_series(%(lo)s, %(hi)s - 1) AS g
    UNION ALL
    SELECT g, 1, CASE WHEN g %% 3 = 0 THEN 'x' ELSE 'facebook' END,
           floor(exp(random() * random() * 11))::int
    FROM generate_series(%(lo)s, %(hi)s - 1) AS g WHERE g %% 20 = 0
) AS p
JOIN cases_customer cu ON cu.id = %(customer_base)s + p.g
"""

# About a quarter of the cases carry a label, one in twelve a second one.
LABEL_SQL = """
INSERT INTO cases_case_labels (case_id, label_id)
SELECT c.id, (%(labels)s::bigint[])[1 + (c.id * 31) %% %(n_labels)s]
FROM cases_case c WHERE c.id > %(lo)s AND c.id <= %(hi)s AND c.id %% 4 = 0
UNION ALL
SELECT c.id, (%(labels)s::bigint[])[1 + (c.id * 31 + 1) %% %(n_labels)s]
FROM cases_case c WHERE c.id > %(lo)s AND c.id <= %(hi)s AND c.id %% 12 = 0
"""


def _max_id(cursor, table: str) -> int:
    cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
    return cursor.fetchone()[0]


def _chunks(lo: int, hi: int, size: int):
    """[start, end) ranges covering lo..hi-1."""
    for start in range(lo, hi, size):
        yield start, min(start + size, hi)


def seed(
    *, cases: int, mentions: int, reset: bool = False, progress: bool = True, seed: int = 42
) -> SeedResult:
    """Add `cases` cases and exactly `mentions` mentions (>= cases) to the database.

    Runs in one transaction. With `reset`, the cases and listening tables are emptied first.
    Needs PostgreSQL; as a superuser the foreign-key triggers are skipped while loading
    (`session_replication_role = replica`: the generated rows are consistent by construction).
    """
    if cases < 1 or mentions < cases:
        raise ValueError("need at least one case and at least one mention per case")
    started = time.perf_counter()
    random.seed(seed)
    customers = max(1, round(cases * 0.6))
    per_case = mentions // cases
    now = timezone.now()

    with transaction.atomic(), connection.cursor() as cursor:
        if reset:
            # Check the deferred foreign keys of rows written earlier in this transaction now:
            # TRUNCATE refuses a table with pending trigger events.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {', '.join(RESET_TABLES)} RESTART IDENTITY CASCADE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # as Django declares them
        x_ids, fb_ids, agent_ids, label_ids = _setup_reference_rows()
        if not x_ids or not fb_ids:
            raise CommandError("seeding needs at least one X and one Facebook channel")

        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if cursor.fetchone()[0]:
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(f"SELECT setseed({(seed % 1000) / 1000})")

        indexes = _secondary_indexes(cursor)
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')

        params = {
            "now": now,
            "customers": customers,
            "cases": cases,
            "customer_base": _max_id(cursor, "cases_customer"),
            "identity_base": _max_id(cursor, "cases_identity"),
            "case_base": _max_id(cursor, "cases_case"),
            "first": FIRST_NAMES,
            "n_first": len(FIRST_NAMES),
            "last": LAST_NAMES,
            "n_last": len(LAST_NAMES),
            "openings": len(OPENINGS),
            "texts": [text for _, _, text in OPENINGS],
            "kinds": [kind for _, kind, _ in OPENINGS],
            "langs": [lang for lang, _, _ in OPENINGS],
            "x": x_ids,
            "n_x": len(x_ids),
            "fb": fb_ids,
            "n_fb": len(fb_ids),
            "agents": agent_ids,
            "n_agents": len(agent_ids),
            "labels": label_ids,
            "n_labels": len(label_ids),
            "q": per_case,
            "r": mentions % cases,
            "mult": _coprime_multiplier(cases),
            **{f"fu_{lang}": texts for lang, texts in FOLLOW_UPS.items()},
        }
        total_rows = customers + math.ceil(customers / 20) + cases + mentions
        bar = tqdm(
            total=total_rows, unit="row", unit_scale=True, desc="seeding", disable=not progress
        )
        with bar:
            for lo, hi in _chunks(1, customers + 1, CHUNK):
                cursor.execute(CUSTOMER_SQL, {**params, "lo": lo, "hi": hi})
                cursor.execute(IDENTITY_SQL, {**params, "lo": lo, "hi": hi})
                bar.update(cursor.rowcount + (hi - lo))
            case_sql, mention_sql = _case_sql(), _mention_sql()
            base = params["case_base"]
            for lo, hi in _chunks(1, cases + 1, CHUNK):
                cursor.execute(case_sql, {**params, "lo": lo, "hi": hi})
                bar.update(hi - lo)
                window = {**params, "lo": base + lo - 1, "hi": base + hi - 1}
                cursor.execute(mention_sql, window)
                bar.update(cursor.rowcount)
                cursor.execute(LABEL_SQL, window)

        for table in SEED_TABLES:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT greatest(max(id), 1) FROM {table}))"
            )
        for _name, definition in tqdm(indexes, desc="indexes", unit="index", disable=not progress):
            cursor.execute(definition)
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")

    with connection.cursor() as cursor:
        for table in SEED_TABLES:
            cursor.execute(f"ANALYZE {table}")
        cursor.execute("SELECT count(*) FROM cases_identity")
        identities = cursor.fetchone()[0]
    return SeedResult(
        customers=customers,
        identities=identities,
        cases=cases,
        mentions=mentions,
        seconds=round(time.perf_counter() - started, 1),
    )


class Command(BaseCommand):
    help = "Fill the database with a large, realistic desk (cases, customers, mentions), fast."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cases", type=int, default=100_000)
        parser.add_argument("--mentions", type=int, default=None, help="Default: 3 per case.")
        parser.add_argument(
            "--reset", action="store_true", help="Empty the cases and listening tables first."
        )
        parser.add_argument("--seed", type=int, default=42, help="Random seed (reproducible).")

    def handle(self, *args, **options) -> None:
        cases = options["cases"]
        mentions = options["mentions"] if options["mentions"] is not None else cases * 3
        if cases < 1 or mentions < cases:
            raise CommandError("--cases must be positive and --mentions at least --cases.")
        if connection.vendor != "postgresql":
            raise CommandError("seed_desk needs PostgreSQL.")
        result = seed(
            cases=cases,
            mentions=mentions,
            reset=options["reset"],
            progress=options["verbosity"] > 0,
            seed=options["seed"],
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {result.cases:,} cases, {result.mentions:,} mentions, "
                f"{result.customers:,} customers ({result.identities:,} identities in the "
                f"database) in {result.seconds} s."
            )
        )
