"""cases.presence: who is on a case, who is online, replies since the page opened."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from cases import presence
from cases.models import Reply
from tests.conftest import make_user
from tests.factories import make_case

pytestmark = pytest.mark.usefixtures("clean_cache")


@pytest.fixture
def clock(monkeypatch):
    """Control presence's idea of now (seconds since the epoch)."""
    now = {"t": 1_800_000_000.0}
    monkeypatch.setattr(presence.time, "time", lambda: now["t"])
    return now


def test_others_see_viewing_and_typing_but_not_themselves(agent, db):
    blair = make_user("blair", "agent")
    presence.touch(7, agent, "viewing")
    presence.touch(7, blair, "typing")
    assert [(p["name"], p["state"]) for p in presence.others(7, agent)] == [("blair", "typing")]
    assert [(p["name"], p["state"]) for p in presence.others(7, blair)] == [
        ("alice_agent", "viewing")
    ]
    assert presence.others(8, agent) == []


def test_typists_come_first_and_full_names_are_used(agent, db):
    agent.first_name, agent.last_name = "Alice", "Agent"
    agent.save()
    blair, casey = make_user("blair", "agent"), make_user("casey", "agent")
    presence.touch(1, agent, "viewing")
    presence.touch(1, casey, "typing")
    names = [(p["name"], p["state"]) for p in presence.others(1, blair)]
    assert names == [("casey", "typing"), ("Alice Agent", "viewing")]


def test_entries_expire_after_the_ttl(agent, db, clock):
    blair = make_user("blair", "agent")
    presence.touch(3, blair, "viewing")
    clock["t"] += presence.PRESENCE_TTL - 1
    assert len(presence.others(3, agent)) == 1
    clock["t"] += 2
    assert presence.others(3, agent) == []


def test_a_new_report_replaces_the_old_state(agent, db):
    blair = make_user("blair", "agent")
    presence.touch(3, blair, "typing")
    presence.touch(3, blair, "viewing")
    assert [p["state"] for p in presence.others(3, agent)] == ["viewing"]


def test_leave_forgets_the_user(agent, db):
    blair = make_user("blair", "agent")
    presence.touch(3, blair, "viewing")
    presence.leave(3, blair)
    assert presence.others(3, agent) == []


def test_unknown_state_is_refused(agent):
    with pytest.raises(ValueError):
        presence.touch(1, agent, "sleeping")


def test_online_for_two_minutes_after_the_last_request(agent, db, clock):
    blair = make_user("blair", "agent")
    assert presence.online_user_ids([agent.pk, blair.pk]) == set()
    presence.touch(1, agent, "viewing")  # the case page marks you online
    presence.mark_online(blair)
    assert presence.online_user_ids([agent.pk, blair.pk]) == {agent.pk, blair.pk}
    assert presence.online_user_ids([]) == set()
    assert presence.ONLINE_TTL == 120


def test_online_and_presence_keys_carry_a_ttl_in_redis(agent):
    presence.touch(5, agent, "viewing")
    key = cache.make_and_validate_key(f"presence:online:{agent.pk}")
    redis = cache._cache.get_client(key)
    assert 0 < redis.ttl(key) <= presence.ONLINE_TTL
    case_key = cache.make_and_validate_key("presence:case:5")
    assert 0 < redis.ttl(case_key) <= presence.PRESENCE_TTL
    cache.delete(f"presence:online:{agent.pk}")
    assert not presence.is_online(agent)


def test_replies_since_lists_other_peoples_replies_after_the_moment(agent, supervisor, x_channel):
    case = make_case(x_channel)
    opened = timezone.now() - timedelta(minutes=5)
    Reply.objects.create(
        case=case, author=supervisor, text="before", created_at=opened - timedelta(minutes=1)
    )
    mine = Reply.objects.create(case=case, author=agent, text="mine", state=Reply.State.QUEUED)
    draft = Reply.objects.create(case=case, author=supervisor, text="draft")
    theirs = Reply.objects.create(
        case=case, author=supervisor, text="theirs", state=Reply.State.SENT
    )
    found = presence.replies_since(case, opened, agent)
    assert found == [theirs]
    assert mine not in found and draft not in found
    assert found[0].author.username == "sam_supervisor"
