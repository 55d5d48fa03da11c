"""Polling one channel: fetch through the real connector (HTTP faked by `responses`) → ingest."""

import time
from datetime import timedelta

import pytest
import responses
from django.core.cache import cache
from django.utils import timezone

from cases.models import Case
from listening import polling
from listening.models import Channel, Mention
from listening.polling import PollOutcome
from socialdesk import locks

pytestmark = pytest.mark.django_db

API = "https://api.x.test"


@pytest.fixture(autouse=True)
def x_api(settings):
    settings.X_API_BASE_URL = API


def mentions_page(ids, *, next_token=None):
    tweets = [
        {
            "id": str(i),
            "text": f"@acme_support my parcel {i} never arrived, I want a refund",
            "author_id": "42",
            "conversation_id": str(i),
            "created_at": "2026-11-23T09:00:00.000Z",
            "lang": "en",
            "public_metrics": {
                "like_count": 1,
                "retweet_count": 0,
                "reply_count": 0,
                "quote_count": 0,
            },
        }
        for i in ids
    ]
    meta = {"result_count": len(tweets)}
    if tweets:
        meta.update(newest_id=str(max(ids)), oldest_id=str(min(ids)))
    if next_token:
        meta["next_token"] = next_token
    page = {"meta": meta}
    if tweets:
        page["data"] = tweets
        page["includes"] = {
            "users": [
                {
                    "id": "42",
                    "username": "dana",
                    "name": "Dana",
                    "public_metrics": {"followers_count": 300},
                }
            ]
        }
    return page


def quiet_dms(rsps):
    rsps.get(f"{API}/2/dm_events", json={"meta": {"result_count": 0}})


def register(rsps, channel, body, *, status=200, headers=None):
    rsps.get(
        f"{API}/2/users/{channel.external_account_id}/mentions",
        json=body,
        status=status,
        headers=headers or {},
    )


def test_poll_stores_new_mentions_and_advances_the_cursor(x_channel):
    with responses.RequestsMock() as rsps:
        register(rsps, x_channel, mentions_page([101, 102, 103]))
        quiet_dms(rsps)
        assert polling.poll_channel(x_channel.pk) == PollOutcome.OK

    x_channel.refresh_from_db()
    assert Mention.objects.filter(channel=x_channel).count() == 3
    assert x_channel.cursor["mentions"] == "103"
    assert x_channel.last_success_at is not None
    assert x_channel.api_reads == 3
    assert x_channel.last_error == ""


def test_rate_limit_backs_the_channel_off_until_the_reset_time(x_channel):
    reset = int(time.time()) + 600
    with responses.RequestsMock() as rsps:
        register(
            rsps,
            x_channel,
            {"title": "Too Many Requests", "status": 429, "detail": "Too Many Requests"},
            status=429,
            headers={"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"},
        )
        assert polling.poll_channel(x_channel.pk) == PollOutcome.RATE_LIMITED

    x_channel.refresh_from_db()
    assert int(x_channel.rate_limited_until.timestamp()) == reset
    assert x_channel.next_poll_at == x_channel.rate_limited_until
    assert "Rate limited" in x_channel.last_error
    assert x_channel.id not in polling.claim_due_channels()


def test_revoked_token_marks_the_channel_for_reauthorisation(x_channel):
    with responses.RequestsMock() as rsps:
        register(rsps, x_channel, {"title": "Unauthorized", "status": 401}, status=401)
        assert polling.poll_channel(x_channel.pk) == PollOutcome.AUTH_FAILED

    x_channel.refresh_from_db()
    assert x_channel.needs_reauth
    assert "reconnect" in x_channel.last_error
    Channel.objects.filter(pk=x_channel.pk).update(next_poll_at=timezone.now())
    assert x_channel.id not in polling.claim_due_channels()


def test_server_errors_are_recorded_and_retried_with_growing_backoff(x_channel):
    with responses.RequestsMock() as rsps:
        register(rsps, x_channel, {"title": "Service Unavailable"}, status=503)
        register(rsps, x_channel, {"title": "Service Unavailable"}, status=503)
        started = timezone.now()
        assert polling.poll_channel(x_channel.pk) == PollOutcome.FAILED
        x_channel.refresh_from_db()
        first_delay = x_channel.next_poll_at - started
        assert polling.poll_channel(x_channel.pk) == PollOutcome.FAILED

    x_channel.refresh_from_db()
    assert x_channel.consecutive_failures == 2
    assert "503" in x_channel.last_error or "server error" in x_channel.last_error
    assert x_channel.next_poll_at - timezone.now() > first_delay


def test_crash_after_fetch_before_commit_refetches_and_loses_nothing(x_channel, monkeypatch):
    real_ingest = polling.ingest
    calls = {"n": 0}

    def dies_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("worker killed before commit")
        return real_ingest(*args, **kwargs)

    monkeypatch.setattr(polling, "ingest", dies_once)
    with responses.RequestsMock() as rsps:
        register(rsps, x_channel, mentions_page([201, 202]))
        register(rsps, x_channel, mentions_page([201, 202]))
        quiet_dms(rsps)
        assert polling.poll_channel(x_channel.pk) == PollOutcome.FAILED
        x_channel.refresh_from_db()
        assert x_channel.cursor == {}
        assert polling.poll_channel(x_channel.pk) == PollOutcome.OK

    assert sorted(Mention.objects.values_list("external_id", flat=True)) == ["201", "202"]
    assert Case.objects.count() == 2  # one customer, two conversations


def test_only_one_poller_per_channel(x_channel):
    with locks.hold(f"poll-channel-{x_channel.pk}", timeout=30) as acquired:
        assert acquired
        assert polling.poll_channel(x_channel.pk) == PollOutcome.BUSY


def test_due_channels_are_claimed_once_and_the_worker_heartbeat_is_written(x_channel):
    cache.delete(polling.WORKER_HEARTBEAT_KEY)
    Channel.objects.filter(pk=x_channel.pk).update(next_poll_at=timezone.now() - timedelta(1))

    assert polling.claim_due_channels() == [x_channel.pk]
    assert polling.claim_due_channels() == []
    assert cache.get(polling.WORKER_HEARTBEAT_KEY)


def test_backoff_doubles_and_is_capped():
    assert polling.backoff(60, 1) == timedelta(minutes=2)
    assert polling.backoff(60, 3) == timedelta(minutes=8)
    assert polling.backoff(60, 30) == timedelta(hours=1)


def test_a_poller_that_lost_its_lock_stops_instead_of_writing_over_a_newer_cursor(
    x_channel, monkeypatch
):
    """Redis flushed, or this worker frozen past the lock's expiry: another poller took the
    channel and moved its cursor on. This one's next page must not put its cursor back."""
    Channel.objects.filter(pk=x_channel.pk).update(cursor={"mentions": "100"})
    real_ingest = polling.ingest
    stored_pages = []

    def another_poller_moves_on_after_the_first_page(*args, **kwargs):
        result = real_ingest(*args, **kwargs)
        stored_pages.append(args[2])
        if len(stored_pages) == 1:
            Channel.objects.filter(pk=x_channel.pk).update(cursor={"mentions": "999"})
        return result

    monkeypatch.setattr(polling, "ingest", another_poller_moves_on_after_the_first_page)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        register(rsps, x_channel, mentions_page([201, 202], next_token="page-2"))
        register(rsps, x_channel, mentions_page([203]))
        register(rsps, x_channel, mentions_page([]))
        quiet_dms(rsps)
        assert polling.poll_channel(x_channel.pk) == PollOutcome.SUPERSEDED

    x_channel.refresh_from_db()
    assert x_channel.cursor == {"mentions": "999"}  # the other poller's, not put back
    assert len(stored_pages) == 1  # the page read after the move was not stored
    assert Mention.objects.filter(channel=x_channel).count() == 2
    assert x_channel.last_error == ""  # nothing failed: the channel is in other hands
