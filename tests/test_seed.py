"""seed_desk: a small desk seeded the fast way is complete and consistent."""

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection

from cases.management.commands.seed_desk import SEED_AGENTS, SEED_TEAMS, seed
from cases.models import OPEN_STATUSES, Case, Customer, Identity, Label
from listening.models import Channel, Mention
from tests.conftest import make_channel

CASES, MENTIONS = 2_000, 6_543


def _scalar(sql: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


@pytest.fixture
def seeded(db):
    return seed(cases=CASES, mentions=MENTIONS, progress=False)


def test_seed_makes_exactly_the_asked_numbers(seeded):
    assert Case.objects.count() == CASES
    assert Mention.objects.count() == MENTIONS
    assert Customer.objects.count() == seeded.customers == 1_200
    assert Identity.objects.count() == seeded.identities == 1_200 + 60  # 1 in 20 has two
    assert Channel.objects.filter(network="x").count() == 2
    assert Channel.objects.filter(network="facebook").count() == 2
    assert not Channel.objects.filter(enabled=True).exists()  # never polled
    assert Label.objects.count() == 8


def test_seeded_rows_are_consistent(seeded):
    # mention_count matches the mentions, and every case has at least one.
    assert not _scalar(
        "SELECT count(*) FROM cases_case c WHERE c.mention_count < 1 OR c.mention_count <> "
        "(SELECT count(*) FROM listening_mention m WHERE m.case_id = c.id)"
    )
    # Each mention's author is the case's customer, on the case channel's network.
    assert not _scalar(
        "SELECT count(*) FROM listening_mention m JOIN cases_case c ON c.id = m.case_id "
        "JOIN cases_identity i ON i.id = m.author_id "
        "JOIN listening_channel ch ON ch.id = c.channel_id "
        "WHERE i.customer_id <> c.customer_id OR i.network <> ch.network "
        "OR m.channel_id <> c.channel_id"
    )
    # Foreign keys hold although the load skipped their triggers.
    assert not _scalar(
        "SELECT count(*) FROM cases_case c LEFT JOIN cases_customer cu ON cu.id = c.customer_id "
        "WHERE cu.id IS NULL"
    )
    # Times make sense: opened <= last inbound; resolved cases have a resolution time.
    assert not _scalar("SELECT count(*) FROM cases_case WHERE last_inbound_at < opened_at")
    assert not _scalar(
        "SELECT count(*) FROM cases_case WHERE status IN ('resolved', 'closed') "
        "AND resolved_at IS NULL"
    )
    # A snooze only on pending cases.
    assert not Case.objects.filter(snoozed_until__isnull=False).exclude(status="pending").exists()


def test_seeded_desk_looks_like_a_desk(seeded):
    open_share = Case.objects.filter(status__in=list(OPEN_STATUSES)).count() / CASES
    assert 0.06 < open_share < 0.14
    assert Case.objects.values("language").distinct().count() >= 5
    assert Case.objects.filter(priority__gte=70).exists()
    assert Case.objects.filter(priority__lt=40).exists()
    assert Case.objects.exclude(triage_decision="").exists()
    assert Case.objects.filter(assignee__username=SEED_AGENTS[0][0]).exists()
    assert Case.objects.filter(assignee__isnull=True, status="new").exists()
    assert Case.objects.filter(labels__isnull=False).distinct().count() > CASES // 5
    assert Case.objects.filter(snoozed_until__isnull=False).exists()
    assert Identity.objects.values("name").distinct().count() > 100


def test_the_seeded_desk_is_worked_in_teams(seeded):
    from socialdesk.models import Team

    teams = Team.objects.filter(name__startswith="Seed team")
    assert teams.count() == SEED_TEAMS
    assert not Channel.objects.filter(team__isnull=True).exists()
    bench_agent = User.objects.get(username=SEED_AGENTS[0][0])
    sees = Case.objects.visible_to(bench_agent)
    assert 0 < sees.count() < Case.objects.count()  # their teams' channels, not the others'
    assert set(sees.values_list("channel__team", flat=True).distinct()) <= set(
        bench_agent.teams.values_list("pk", flat=True)
    )


def test_indexes_are_rebuilt_after_loading(seeded):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'cases_case'")
        names = {row[0] for row in cursor.fetchall()}
    assert {"case_open_priority", "case_all_priority", "case_open_counts"} <= names


def test_seeding_twice_adds_and_reset_empties_first(seeded):
    seed(cases=100, mentions=150, progress=False)
    assert Case.objects.count() == CASES + 100
    assert Mention.objects.count() == MENTIONS + 150
    seed(cases=100, mentions=150, reset=True, progress=False)
    assert Case.objects.count() == 100
    assert Mention.objects.count() == 150


def test_reset_empties_the_listening_tables(db):
    make_channel()
    call_command("seed_desk", cases=10, mentions=10, reset=True, verbosity=0)
    assert Channel.objects.count() == 4  # only the seed's own channels
    assert Case.objects.count() == 10


def test_command_refuses_fewer_mentions_than_cases(db):
    with pytest.raises(CommandError, match="at least --cases"):
        call_command("seed_desk", cases=10, mentions=5, verbosity=0)
