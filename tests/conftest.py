"""Personas and small factories shared by every test module."""

import itertools
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group, User

from listening.models import Channel, Network
from socialdesk import roles

_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    """Tests render pages without running collectstatic (production uses hashed names)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def make_user(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username)
    if role:
        user.groups.add(Group.objects.get(name=role))
    if role == roles.ADMIN:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def agent(db) -> User:
    return make_user("alice_agent", roles.AGENT)


@pytest.fixture
def qa(db) -> User:
    return make_user("quinn_qa", roles.QA)


@pytest.fixture
def supervisor(db) -> User:
    return make_user("sam_supervisor", roles.SUPERVISOR)


@pytest.fixture
def admin(db) -> User:
    return make_user("ada_admin", roles.ADMIN)


@pytest.fixture
def outsider(db) -> User:
    return make_user("oscar_outsider", None)


def make_channel(network: str = Network.X, **fields) -> Channel:
    n = next(_seq)
    defaults = {
        "name": f"Brand {network} {n}",
        "handle": f"brand{n}",
        "external_account_id": str(900000 + n),
    }
    defaults.update(fields)
    credentials = defaults.pop("credentials", None)
    channel = Channel(network=network, **defaults)
    channel.credentials = credentials or (
        {"bearer_token": "test-bearer", "user_id": defaults["external_account_id"]}
        if network == Network.X
        else {"page_access_token": "test-page-token"}
    )
    channel.save()
    return channel


@pytest.fixture
def x_channel(db) -> Channel:
    return make_channel(Network.X)


@pytest.fixture
def facebook_channel(db) -> Channel:
    return make_channel(Network.FACEBOOK)


def at(text: str) -> datetime:
    """A UTC datetime from 'YYYY-MM-DD HH:MM'."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
