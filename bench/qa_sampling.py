"""Benchmark of a week's QA sampling: `run_sampling_bench(emit)`, called by bench.qa_dashboard.

Loads 100,000 sent replies over one week (20 agents, 4 channels, 50,000 cases, a realistic
risk mix: about 20 % negative cases, 10 % of replies with a warned check, 1 % overridden, 3 %
escalated cases, plus 2,000 ignored cases) with `INSERT ... SELECT generate_series` inside
PostgreSQL, then times `run_sampling` over that week with the default policy (5 %, minimum 5,
risk ×3, 2 % of ignored cases): reading the population, the draw, and the writes of the
samples and their pending reviews, with the checks of their foreign keys. (run_sampling's
commit makes those checks; here its transaction is a savepoint inside the bench's, so they are
made as the rows are written.)

Figures: sampling_s (target under 2 s) and sampling_replies. Everything runs in a transaction
that is rolled back, so the bench database is left as it was, then vacuumed: the rolled-back
rows would otherwise pile up as dead entries in the week's index ranges, run after run, until
autovacuum (off on some machines) removed them. The week is in 2020, clear of any seeded desk.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction

from listening.models import Channel, Network
from qa.models import Review, SamplingPolicy
from qa.sampling import run_sampling
from socialdesk import roles

REPLIES = 100_000
CASES = 50_000
IGNORED = 2_000
AGENTS = 20
WEEK_START = dt.datetime(2020, 1, 6, tzinfo=dt.UTC)  # a Monday


class _Rollback(Exception):
    pass


def _reference_rows() -> tuple[list[int], list[int]]:
    roles.sync_roles()
    User = get_user_model()
    agent_group = Group.objects.get(name=roles.AGENT)
    qa_group = Group.objects.get(name=roles.QA)
    agents = []
    for i in range(AGENTS):
        user = User.objects.create(username=f"bench_sampling_agent{i}")
        user.groups.add(agent_group)
        agents.append(user.pk)
    for i in range(4):
        User.objects.create(username=f"bench_sampling_qa{i}").groups.add(qa_group)
    channels = []
    for i in range(4):
        network = Network.X if i < 2 else Network.FACEBOOK
        channel = Channel(
            network=network,
            name=f"Bench sampling {i}",
            handle=f"bench_sampling_{i}",
            external_account_id=f"bench-sampling-{i}",
            enabled=False,
        )
        channel.credentials = {"bearer_token": "bench"}
        channel.save()
        channels.append(channel.pk)
    return agents, channels


def _load(agents: list[int], channels: list[int]) -> None:
    week = WEEK_START
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO cases_customer (display_name, created_at) "
            "SELECT 'Bench customer ' || g, %s FROM generate_series(1, %s) g",
            [week, CASES],
        )
        cursor.execute("SELECT min(id) FROM cases_customer WHERE created_at = %s", [week])
        first_customer = cursor.fetchone()[0]
        # Cases: a channel each (the four in turn), sentiment spread so ~20 % are negative,
        # 3 % escalated, the last IGNORED ones ignored by an agent.
        cursor.execute(
            """
            INSERT INTO cases_case (customer_id, channel_id, conversation_key, subject, status,
                priority, priority_reasons, triage_suggestion, triage_reason, triage_decision,
                triage_decision_reason, language, sentiment, is_private, mention_count,
                opened_at, last_inbound_at, updated_at, triage_decided_by_id, triage_decided_at)
            SELECT %(c0)s + g - 1, (%(channels)s::bigint[])[1 + g %% 4], 'bench-' || g, '',
                'resolved', (g * 37) %% 100, '[]', '', '',
                CASE WHEN g > %(cases)s - %(ignored)s THEN 'ignore'
                     WHEN g %% 33 = 0 THEN 'escalate' ELSE 'engage' END,
                '', 'en', ((g * 7919) %% 1000) / 1000.0 * 1.2 - 0.29, false, 1,
                %(week)s, %(week)s, %(week)s,
                (%(agents)s::int[])[1 + (g * 7) %% %(n_agents)s],
                %(week)s + (g %% 604800) * interval '1 second'
            FROM generate_series(1, %(cases)s) g
            """,
            {
                "c0": first_customer,
                "channels": channels,
                "agents": agents,
                "n_agents": len(agents),
                "cases": CASES,
                "ignored": IGNORED,
                "week": week,
            },
        )
        cursor.execute("SELECT min(id) FROM cases_case WHERE conversation_key = 'bench-1'")
        first_case = cursor.fetchone()[0]
        # Replies: two per engaged case, spread over the week, agents unevenly busy.
        cursor.execute(
            """
            INSERT INTO cases_reply (case_id, author_id, text, is_private, state,
                idempotency_key, external_id, error, attempts, checks, override_reason,
                needs_approval, created_at, sent_at)
            SELECT %(k0)s + (g - 1) %% (%(cases)s - %(ignored)s),
                (%(agents)s::int[])[
                    1 + floor(%(n_agents)s * power((g * 0.6180339887) %% 1, 1.4))::int
                ],
                'Thanks for reaching out, we are looking into it.', false, 'sent',
                gen_random_uuid(), 'bench-' || g, '', 1,
                CASE WHEN g %% 10 = 0
                     THEN '[{"code": "tone", "severity": "warn", "message": "curt"}]'::jsonb
                     ELSE '[{"code": "length", "severity": "ok", "message": ""}]'::jsonb END,
                CASE WHEN g %% 100 = 7 THEN 'customer asked for it' ELSE '' END,
                false, %(week)s, %(week)s + ((g * 6047) %% 604800) * interval '1 second'
            FROM generate_series(1, %(replies)s) g
            """,
            {
                "k0": first_case,
                "cases": CASES,
                "ignored": IGNORED,
                "agents": agents,
                "n_agents": len(agents),
                "replies": REPLIES,
                "week": week,
            },
        )
        cursor.execute("ANALYZE cases_reply")
        cursor.execute("ANALYZE cases_case")


def _vacuum() -> None:
    with connection.cursor() as cursor:
        cursor.execute("VACUUM cases_customer, cases_case, cases_reply, qa_sample, qa_review")


def run_sampling_bench(emit: Callable[[str, object], None]) -> None:
    try:
        with transaction.atomic():
            agents, channels = _reference_rows()
            _load(agents, channels)
            with connection.cursor() as cursor:
                # Check the loaded rows' foreign keys now, and the run's rows' as they are written.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            policy = SamplingPolicy.objects.create(name="Bench weekly")
            started = time.perf_counter()
            run = run_sampling(policy, WEEK_START, WEEK_START + dt.timedelta(days=7), seed=20200106)
            seconds = time.perf_counter() - started
            reviews = Review.objects.filter(sample__run=run).count()
            emit("sampling_s", round(seconds, 3))
            emit("sampling_replies", run.population)
            emit("sampling_picked", f"{run.sampled} ({reviews} reviews)")
            raise _Rollback
    except _Rollback:
        pass
    _vacuum()
