"""Polling: which channels are due, and one poll of one channel (fetch → ingest → record).

A poll ingests page by page, each page with the cursor that follows it, so a backlog is read
over as many polls as it needs and a failure loses nothing already read.

Celery tasks in listening/tasks.py are thin wrappers around these functions, which tests call
directly. The poll is safe to run concurrently and to repeat: a Redis lock keeps one poller per
channel, and ingest dedupes and advances the cursor atomically.
"""

import logging
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from listening.connectors import get_connector
from listening.connectors.errors import AuthError, ConnectorError, RateLimited
from listening.ingest import CursorMoved, IngestResult, ingest
from listening.models import Channel
from listening.posts import pending_streams
from socialdesk import locks
from socialdesk.scrub import scrub

log = logging.getLogger(__name__)

WORKER_HEARTBEAT_KEY = "socialdesk:worker_heartbeat"
MAX_BACKOFF = timedelta(hours=1)
MIN_INTERVAL = timedelta(seconds=5)


class PollOutcome(StrEnum):
    OK = "ok"
    BUSY = "busy"  # another worker is polling this channel
    SUPERSEDED = "superseded"  # another worker moved the cursor while this one read
    SKIPPED = "skipped"  # disabled, deleted, or waiting for re-authorisation
    RATE_LIMITED = "rate_limited"
    AUTH_FAILED = "auth_failed"
    FAILED = "failed"


def claim_due_channels(now: datetime | None = None) -> list[int]:
    """Ids of channels due for a poll, each claimed so that the next tick won't claim it again.

    The claim is a conditional UPDATE that pushes `next_poll_at` one interval ahead: if a worker
    dies mid-poll the channel simply comes due again then.
    """
    now = now or timezone.now()
    cache.set(WORKER_HEARTBEAT_KEY, now.isoformat(), timeout=None)
    claimed = []
    due = Channel.objects.filter(enabled=True, needs_reauth=False, next_poll_at__lte=now)
    for channel_id, interval in due.values_list("id", "poll_interval"):
        next_at = now + max(timedelta(seconds=interval), MIN_INTERVAL)
        if Channel.objects.filter(pk=channel_id, next_poll_at__lte=now).update(
            next_poll_at=next_at
        ):
            claimed.append(channel_id)
    return claimed


def poll_channel(channel_id: int) -> PollOutcome:
    """Fetch what is new on one channel and ingest it; record the outcome on the channel."""
    lock_timeout = settings.CELERY_TASK_TIME_LIMIT + 30
    with locks.hold(f"poll-channel-{channel_id}", timeout=lock_timeout) as acquired:
        if not acquired:
            log.info("poll skipped: channel busy", extra={"channel_id": channel_id})
            return PollOutcome.BUSY
        channel = Channel.objects.filter(pk=channel_id, enabled=True, needs_reauth=False).first()
        if channel is None:
            return PollOutcome.SKIPPED
        return _poll(channel)


def _poll(channel: Channel) -> PollOutcome:
    """Ingest each page as it arrives: its posts, rejects, gaps and cursor in one transaction.

    A failure on page N keeps pages 1..N-1 and their cursor, so the next poll resumes there.
    """
    started = timezone.now()
    connector = get_connector(channel.network)
    result = IngestResult()
    try:
        for page in connector.fetch_pages(channel, dict(channel.cursor)):
            channel.count_api_use(reads=page.reads)
            if (
                not (page.posts or page.quarantined or page.gaps or page.gone)
                and page.cursor == channel.cursor
            ):
                continue  # a quiet stream: nothing to store
            stored = ingest(
                channel,
                page.posts,
                page.cursor,
                page.quarantined,
                gaps=page.gaps,
                read_from=channel.cursor,
                gone=page.gone,
            )
            result.received += stored.received
            result.created += stored.created
            result.duplicates += stored.duplicates
            result.quarantined += stored.quarantined
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "page stored",
                    extra={
                        "channel_id": channel.pk,
                        "stream": page.stream,
                        "ids": [post.external_id for post in page.posts],
                        "cursor": page.cursor,
                    },
                )
    except CursorMoved:
        # Only one poller writes a channel's cursor at a time (the Redis lock), but a lock can
        # be lost: Redis flushed or restarted, or this process frozen past the lock's expiry.
        # Another poller has moved on meanwhile; what this one read is its to store again.
        log.warning(
            "poll stopped: another poller moved the cursor",
            extra={"channel_id": channel.pk, "posts_stored": result.received},
        )
        return PollOutcome.SUPERSEDED
    except RateLimited as exc:
        _record_failure(channel, started, exc, retry_at=exc.reset_at, rate_limited=True)
        return PollOutcome.RATE_LIMITED
    except AuthError as exc:
        _record_failure(channel, started, exc, needs_reauth=True)
        return PollOutcome.AUTH_FAILED
    except ConnectorError as exc:
        _record_failure(channel, started, exc)
        return PollOutcome.FAILED
    except Exception as exc:
        # A bug or a database problem: record it where admins look, then let Celery log it.
        log.exception("poll crashed", extra={"channel_id": channel.pk})
        _record_failure(channel, started, exc)
        return PollOutcome.FAILED
    pending = pending_streams(channel.cursor)
    if pending:
        log.warning(
            "poll stopped with a backlog pending",
            extra={"channel_id": channel.pk, "streams": pending},
        )
    _record_success(channel, started, result)
    return PollOutcome.OK


def _record_success(channel: Channel, started: datetime, result: IngestResult) -> None:
    now = timezone.now()
    Channel.objects.filter(pk=channel.pk).update(
        last_poll_at=started,
        last_success_at=now,
        consecutive_failures=0,
        last_error="",
        rate_limited_until=None,
        next_poll_at=started + max(timedelta(seconds=channel.poll_interval), MIN_INTERVAL),
    )
    log.info(
        "poll ok",
        extra={
            "channel_id": channel.pk,
            "mentions_created": result.created,
            "dupes": result.duplicates,
        },
    )


def backoff(interval_seconds: int, failures: int) -> timedelta:
    """Delay before the next try after `failures` consecutive failures: doubling, capped."""
    base = max(timedelta(seconds=interval_seconds), MIN_INTERVAL)
    return min(base * (2 ** min(failures, 12)), MAX_BACKOFF)


def _record_failure(
    channel: Channel,
    started: datetime,
    exc: Exception,
    *,
    retry_at: datetime | None = None,
    rate_limited: bool = False,
    needs_reauth: bool = False,
) -> None:
    failures = channel.consecutive_failures + 1
    message = scrub(f"{type(exc).__name__}: {exc}")[:2000]
    if rate_limited:
        message = f"Rate limited by {channel.get_network_display()} until {retry_at:%H:%M:%S} UTC"
    if needs_reauth:
        message = (
            f"{channel.get_network_display()} rejected the token ({exc}). "
            "An admin must reconnect this channel."
        )
    updates = {
        "last_poll_at": started,
        "last_error": message,
        "last_error_at": timezone.now(),
        "consecutive_failures": failures,
        "next_poll_at": retry_at or started + backoff(channel.poll_interval, failures),
    }
    if rate_limited:
        updates["rate_limited_until"] = retry_at
    if needs_reauth:
        updates["needs_reauth"] = True
    Channel.objects.filter(pk=channel.pk).update(**updates)
    log.warning(
        "poll failed",
        extra={"channel_id": channel.pk, "error": message, "failures": failures},
    )
