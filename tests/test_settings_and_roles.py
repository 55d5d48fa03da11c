import pytest
from django.contrib.auth.models import Group

from socialdesk import roles
from socialdesk.crypto import decrypt_json
from tests.conftest import make_channel


@pytest.mark.django_db
def test_every_role_exists_with_its_permissions():
    for role in (roles.AGENT, roles.QA, roles.SUPERVISOR, roles.ADMIN):
        assert Group.objects.get(name=role).permissions.exists()


@pytest.mark.django_db
def test_agent_works_the_inbox_but_cannot_view_health(agent):
    assert agent.has_perm("cases.work_inbox")
    assert not agent.has_perm("listening.view_health")


@pytest.mark.django_db
def test_qa_cannot_change_cases(qa):
    assert qa.has_perm("cases.view_case")
    assert not qa.has_perm("cases.change_case")


@pytest.mark.django_db
def test_channel_credentials_are_encrypted_at_rest():
    channel = make_channel(credentials={"bearer_token": "s3cret-token"})
    channel.refresh_from_db()
    assert "s3cret-token" not in channel.credentials_encrypted
    assert decrypt_json(channel.credentials_encrypted) == {"bearer_token": "s3cret-token"}
    assert channel.credentials["bearer_token"] == "s3cret-token"


@pytest.mark.django_db
def test_the_desks_database_sessions_run_without_jit():
    """A short query with a pessimistic estimate must not pay for JIT compilation (apps.py)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
