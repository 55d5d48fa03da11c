"""Benchmarks of the inbox and the case page, run by `python -m bench` (`make bench`).

Seeds 1,000,000 cases and 3,000,000 mentions (cases.management.commands.seed_desk) unless the
database already holds that many; the listening benchmark empties the tables, so a full
`make bench` seeds again (a minute or two). Sizes: `python -m bench --cases N --mentions M`.
Times are server time: django.test.Client in this process, signed in as an agent,
so they include middleware, the view, the queries and the template, not a network.

The seeded desk works in ten teams that own its channels; the agent is in two of them
(inbox_desk_teams, inbox_agent_teams), so every page goes through team visibility.

Figures: inbox_p95_ms (first page, default view), inbox_filtered_p95_ms (a text search plus two
filters), inbox_uncached_p95_ms (default view with the sidebar counts recomputed every time, as
on a desk where something changes between every two page views), case_view_p95_ms,
inbox_queries (SQL queries per inbox page, counts computed), and inbox_seq_scans (sequential
scans of cases_case in the plans of the default and filtered pages: should be 0).

Service levels: the seed writes cases in SQL, so their due times are dated once with the real
path (cases.sla.refresh_open_case_slas, under a business-hours policy), timed as
sla_refresh_open_s with sla_refresh_open_cases; inbox_sla_due_p95_ms is the "SLA due soonest"
page filtered to "due soon or overdue", and sla_advance_ms one run of the warning/breach beat.
"""

import statistics
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.http import QueryDict
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from cases import inbox, sla
from cases.management.commands.seed_desk import SEED_AGENTS, seed
from cases.models import OPEN_STATUSES, Case
from listening.models import Mention
from socialdesk.models import Team

REQUESTS = 50
DEFAULT_QUERY = ""
# A customer's handle fragment (what agents type) with a network and a priority band.
FILTERED_QUERY = "q=lopez12&network=x&priority=high"
COMMON_QUERY = "q=refund&network=x&priority=high"  # a very common word: the other search plan
SLA_QUERY = "sort=due&sla=soon"  # the cases about to breach, soonest first


def p95(samples: list[float]) -> float:
    """The 95th percentile of `samples`, in their unit, to a tenth."""
    return round(statistics.quantiles(samples, n=20)[-1], 1)


def _ensure_seeded(cases: int, mentions: int, emit: Callable[[str, object], None]) -> None:
    if Case.objects.count() < cases or Mention.objects.count() < mentions:
        result = seed(cases=cases, mentions=mentions, reset=True)
        emit("seed_cases", result.cases)
        emit("seed_mentions", result.mentions)
        emit("seed_seconds", result.seconds)
    _date_service_levels(emit)


def _date_service_levels(emit: Callable[[str, object], None]) -> None:
    """Office hours for one team and a policy in them, then every open case dated."""
    from datetime import time as clock_time

    from sla.models import BusinessHours, OpeningTime, Policy
    from socialdesk.models import Team

    team, _ = Team.objects.get_or_create(name="Bench office")
    hours, made = BusinessHours.objects.get_or_create(
        team=team, defaults={"time_zone": "Europe/Berlin"}
    )
    if made:
        OpeningTime.objects.bulk_create(
            OpeningTime(hours=hours, weekday=d, opens=clock_time(9), closes=clock_time(17))
            for d in range(5)
        )
    Policy.objects.get_or_create(
        name="Bench urgent",
        defaults={"priority_min": 70, "first_response_minutes": 30, "hours_team": team},
    )
    started = time.perf_counter()
    emit("sla_refresh_open_cases", sla.refresh_open_case_slas())
    emit("sla_refresh_open_s", round(time.perf_counter() - started, 1))


def timed_gets(client: Client, urls: list[str], *, clear_cache: bool = False) -> list[float]:
    """Milliseconds of server time for each GET (through the test client); a non-200 raises."""
    samples = []
    for url in urls:
        if clear_cache:
            cache.clear()
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
    return samples


def _seq_scans(user: User, query: str) -> int:
    filters, _ = inbox.parse_filters(QueryDict(query))
    page = inbox.page_queryset(filters, user, timezone.now(), None)[: inbox.PAGE_SIZE + 1]
    try:
        sql, params = page.query.sql_with_params()
    except EmptyResultSet:  # a search that matches nothing (a small seed): no query at all
        return 0
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return plan.count("Seq Scan on cases_case")


def run(
    emit: Callable[[str, object], None], *, cases: int = 1_000_000, mentions: int | None = None
) -> None:
    mentions = cases * 3 if mentions is None else mentions
    _ensure_seeded(cases, mentions, emit)
    agent = User.objects.get(username=SEED_AGENTS[0][0])
    # The agent reads the inbox through team visibility: two of the desk's ten teams.
    emit("inbox_desk_teams", Team.objects.filter(members__isnull=False).distinct().count())
    emit("inbox_agent_teams", agent.teams.count())

    plain_static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    with override_settings(
        ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"],
        STORAGES={**settings.STORAGES, "staticfiles": plain_static},
        SECURE_SSL_REDIRECT=False,
    ):
        client = Client()
        client.force_login(agent)
        base = "/cases/"
        default_urls = [base] * REQUESTS
        filtered_urls = [f"{base}?{FILTERED_QUERY}"] * REQUESTS
        common_urls = [f"{base}?{COMMON_QUERY}"] * REQUESTS
        timed_gets(client, [base, f"{base}?{FILTERED_QUERY}", f"{base}?{COMMON_QUERY}"])

        emit("inbox_p95_ms", p95(timed_gets(client, default_urls)))
        emit("inbox_filtered_p95_ms", p95(timed_gets(client, filtered_urls)))
        emit("inbox_common_search_p95_ms", p95(timed_gets(client, common_urls)))
        emit("inbox_uncached_p95_ms", p95(timed_gets(client, default_urls, clear_cache=True)))
        sla_urls = [f"{base}?{SLA_QUERY}"] * REQUESTS
        timed_gets(client, sla_urls[:1])
        emit("inbox_sla_due_p95_ms", p95(timed_gets(client, sla_urls)))

        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            client.get(base)
        emit("inbox_queries", len(queries.captured_queries))
        emit(
            "inbox_seq_scans", _seq_scans(agent, DEFAULT_QUERY) + _seq_scans(agent, FILTERED_QUERY)
        )
        emit("inbox_sla_seq_scans", _seq_scans(agent, SLA_QUERY))
        started = time.perf_counter()
        sla.advance_sla_states()
        emit("sla_advance_ms", round((time.perf_counter() - started) * 1000, 1))

        case_ids = list(
            Case.objects.visible_to(agent)
            .filter(status__in=list(OPEN_STATUSES))
            .order_by("-priority", "last_inbound_at", "id")
            .values_list("id", flat=True)[:REQUESTS]
        )
        if client.get(f"{base}{case_ids[0]}/").status_code == 200:
            samples = timed_gets(client, [f"{base}{case_id}/" for case_id in case_ids])
            emit("case_view_p95_ms", p95(samples))
        else:
            emit("case_view_p95_ms", "n/a (no case page yet)")
