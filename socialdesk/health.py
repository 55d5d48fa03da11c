"""What the health page shows: the system's parts, the replies, and every channel's state.

`gather()` makes a fixed number of queries whatever the number of channels or replies. Each
check has a readable cause. Overall status:

* "down": the database or the broker cannot be reached (nothing gets polled or stored);
* "degraded": beat or the worker is dead; replies are stuck, failing or unsendable; the
  broker queue is backed up; the quarantine is growing; or an enabled channel is failing,
  rate limited, lagging more than LAG_INTERVALS poll intervals, needs re-authorisation, or
  has an intake gap detected within HEALTH_INTAKE_GAP_HOURS;
* "ok" otherwise.

Beat and the worker are told apart by two heartbeats (alerts.liveness): beat writes its own on
every scheduler tick; a worker writes the other when it runs the beat-scheduled heartbeat task.
Beat alive and the task's heartbeat stale means no worker is consuming; beat stale means
nothing is scheduled, and the worker's state cannot be told from here.

The thresholds are settings (HEALTH_*), documented in the README.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from alerts import liveness
from cases.models import Reply
from cases.sending import claim_lease
from listening import health as listening_health
from listening.health import ChannelHealth, check_quarantine
from socialdesk.durations import format_duration
from socialdesk.healthcheck import Check, iso, plural

# What the alerts and the page's callers have always found here.
__all__ = ["ChannelHealth", "Check", "HealthReport", "format_duration", "gather"]

FAILED_REPLIES_WINDOW = timedelta(hours=1)
REPLIES_WAITING = (Reply.State.QUEUED, Reply.State.SENDING, Reply.State.RECONCILING)

OK, DEGRADED, DOWN = "ok", "degraded", "down"


@dataclass(frozen=True, slots=True)
class HealthReport:
    status: str
    checked_at: datetime
    database: Check
    broker: Check
    beat: Check
    worker: Check
    queue: Check
    replies_stuck: Check
    replies_failing: Check
    replies_unsendable: Check
    quarantine: Check
    channels: list[ChannelHealth]
    beat_last_seen: datetime | None = None
    worker_last_seen: datetime | None = None
    queue_depth: int | None = None

    @property
    def system_checks(self) -> list[tuple[str, str, Check]]:
        """(key, label, check) of every part but the channels, in the page's order."""
        return [
            ("database", "Database", self.database),
            ("broker", "Broker", self.broker),
            ("beat", "Beat (scheduler)", self.beat),
            ("worker", "Worker", self.worker),
            ("queue", "Broker queue", self.queue),
            ("quarantine", "Quarantine", self.quarantine),
        ]

    @property
    def reply_checks(self) -> list[tuple[str, str, Check]]:
        return [
            ("replies_stuck", "Stuck replies", self.replies_stuck),
            ("replies_failing", "Failed replies", self.replies_failing),
            ("replies_unsendable", "Unsendable replies", self.replies_unsendable),
        ]

    @property
    def failing_checks(self) -> list[str]:
        """Keys of the checks that are not ok, "channels" included: what a monitor may see."""
        keys = [
            key
            for key, _, check in self.system_checks + self.reply_checks
            if check.known and not check.ok
        ]
        if any(channel.is_problem for channel in self.channels):
            keys.append("channels")
        return keys

    @property
    def problems(self) -> list[str]:
        """What makes the status other than "ok", one line each."""
        lines = [
            f"{label}: {check.detail}"
            for _, label, check in self.system_checks + self.reply_checks
            if check.known and not check.ok
        ]
        for channel in self.channels:
            lines.extend(channel.problems())
        return lines

    def as_json(self) -> dict[str, Any]:
        system = {key: check.as_json() for key, _, check in self.system_checks}
        system["beat"]["last_seen"] = iso(self.beat_last_seen)
        system["worker"]["last_seen"] = iso(self.worker_last_seen)
        system["queue"]["depth"] = self.queue_depth
        return {
            "status": self.status,
            "checked_at": iso(self.checked_at),
            "problems": self.problems,
            "failing": self.failing_checks,
            "system": system,
            "replies": {key: check.as_json() for key, _, check in self.reply_checks},
            "channels": [channel.as_json() for channel in self.channels],
        }


def check_database() -> Check:
    """SELECT 1 on the default database."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; the page must still render
        return Check(False, f"database unreachable: {type(exc).__name__}")
    return Check(True, "ok")


def check_broker(url: str | None = None) -> tuple[Check, Check, int | None]:
    """Reach the Celery broker (one retry, two-second timeout) and count its waiting messages.

    Returns (broker, queue, depth). The depth is the length of Celery's default queue as the
    transport reports it: Redis' lists (every priority step), or the filesystem broker's files.
    """
    from socialdesk.celery import app

    queue_name = app.conf.task_default_queue
    try:
        with app.connection_for_write(url) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            try:
                depth = queue_depth(conn, queue_name)
            except Exception as exc:  # a transport that cannot count: say so, not "down"
                return (
                    Check(True, "ok"),
                    Check(True, f"unknown ({type(exc).__name__})", False),
                    None,
                )
    except Exception as exc:  # kombu raises transport-specific errors
        unknown = Check(False, "unknown: the broker cannot be reached", known=False)
        return Check(False, f"broker unreachable: {type(exc).__name__}"), unknown, None
    limit = settings.HEALTH_QUEUE_DEPTH
    waiting = plural(depth, "message", "messages") + " waiting"
    if depth >= limit:
        return Check(True, "ok"), Check(False, f"{waiting} (threshold {limit})"), depth
    return Check(True, "ok"), Check(True, waiting), depth


def queue_depth(conn: Any, queue_name: str) -> int:
    """Messages waiting in `queue_name`: 0 when the queue does not exist yet."""
    from kombu.exceptions import ChannelError

    try:
        return conn.default_channel.queue_declare(queue=queue_name, passive=True).message_count
    except ChannelError:  # passive declare of a queue nobody has declared: nothing waits
        return 0


def _last_seen(key: str) -> datetime | None:
    raw = liveness.cache_get(key)
    return parse_datetime(raw) if isinstance(raw, str) else None


def check_beat_and_worker(
    now: datetime, depth: int | None
) -> tuple[Check, Check, datetime | None, datetime | None]:
    """(beat, worker, beat_seen, worker_seen) from the two heartbeats (see the module doc)."""
    try:
        beat_seen = _last_seen(liveness.BEAT_HEARTBEAT_KEY)
        worker_seen = _last_seen(liveness.WORKER_HEARTBEAT_KEY)
    except Exception as exc:  # the cache is Redis in production: it can be down too
        cause = f"cache unreachable: {type(exc).__name__}"
        return Check(False, cause), Check(False, cause, known=False), None, None
    beat_stale = timedelta(seconds=settings.HEALTH_BEAT_STALE_SECONDS)
    worker_stale = timedelta(seconds=settings.HEALTH_WORKER_STALE_SECONDS)
    if beat_seen is None:
        beat = Check(False, "beat has not ticked yet: polls, retries and alerts are not scheduled")
    elif now - beat_seen > beat_stale:
        beat = Check(
            False,
            f"no tick for {format_duration(now - beat_seen)} (since {_clock(beat_seen)}): "
            "polls, retries and alerts are not scheduled",
        )
    else:
        beat = Check(True, f"ticked {format_duration(now - beat_seen)} ago")
    worker_fresh = worker_seen is not None and now - worker_seen <= worker_stale
    if worker_fresh:
        worker = Check(True, f"ran the heartbeat task {format_duration(now - worker_seen)} ago")
    elif not beat.ok:
        last = f"last heartbeat {_clock(worker_seen)}" if worker_seen else "no heartbeat yet"
        worker = Check(False, f"unknown while beat is down ({last})", known=False)
    else:
        backlog = f"; {plural(depth, 'message waits', 'messages wait')}" if depth else ""
        since = f"since {_clock(worker_seen)}" if worker_seen else "yet"
        worker = Check(False, f"no worker has run a task {since} (beat is ticking){backlog}")
    return beat, worker, beat_seen, worker_seen


def _clock(value: datetime) -> str:
    return f"{timezone.localtime(value):%H:%M:%S}"


def check_replies(now: datetime) -> tuple[Check, Check]:
    """(stuck, failing) from one aggregate over the replies.

    Stuck: in "sending" past the recovery window (cases.sending.claim_lease) plus the grace,
    or queued (or confirming) past its next_attempt_at (queued_at when it has none) by more
    than the grace. Failing: failed with its last attempt within the hour.
    """
    grace = timedelta(seconds=settings.HEALTH_REPLY_STUCK_GRACE_SECONDS)
    recovery = claim_lease()
    since = now - FAILED_REPLIES_WINDOW
    # Only the rows that can count: the reply_state index, not the whole table.
    candidates = Reply.objects.filter(
        Q(state__in=REPLIES_WAITING) | Q(state=Reply.State.FAILED, sending_started_at__gte=since)
    )
    counts = candidates.aggregate(
        sending=Count(
            "id",
            filter=Q(state=Reply.State.SENDING, sending_started_at__lt=now - recovery - grace),
        ),
        queued=Count(
            "id",
            # A reconciling reply's next look-up is due at next_attempt_at, like a retry.
            filter=Q(state__in=(Reply.State.QUEUED, Reply.State.RECONCILING))
            & (
                Q(next_attempt_at__lt=now - grace)
                | Q(next_attempt_at__isnull=True, queued_at__lt=now - grace)
            ),
        ),
        failed=Count(
            "id",
            filter=Q(state=Reply.State.FAILED, sending_started_at__gte=since),
        ),
    )
    parts = []
    if counts["sending"]:
        parts.append(f"{plural(counts['sending'], 'reply', 'replies')} in sending past recovery")
    if counts["queued"]:
        queued = counts["queued"]
        parts.append(
            f"{plural(queued, 'reply', 'replies')} waiting past "
            f"{'its' if queued == 1 else 'their'} retry time"
        )
    stuck = Check(not parts, "; ".join(parts) if parts else "none")
    failed, limit = counts["failed"], settings.HEALTH_FAILED_REPLIES_PER_HOUR
    failing = Check(
        failed < limit,
        f"{plural(failed, 'reply', 'replies')} failed in the last hour"
        + (f" (threshold {limit})" if failed >= limit else ""),
    )
    return stuck, failing


def check_unsendable(channels: list[ChannelHealth]) -> Check:
    """Replies waiting on channels whose token was rejected: they cannot go out until then."""
    blocked = [c for c in channels if c.needs_reauth and c.replies_waiting]
    if not blocked:
        return Check(True, "none")
    total = sum(c.replies_waiting for c in blocked)
    names = ", ".join(c.name for c in blocked)
    return Check(
        False, f"{plural(total, 'reply waits', 'replies wait')} for re-authorisation of {names}"
    )


def channel_health(now: datetime) -> list[ChannelHealth]:
    """Every channel's row (listening.health), with the replies that wait on a channel whose
    token was rejected: four queries whatever the number of channels."""
    waiting = dict(
        Reply.objects.filter(state__in=REPLIES_WAITING, case__channel__needs_reauth=True)
        .order_by()
        .values_list("case__channel_id")
        .annotate(n=Count("id"))
    )
    return listening_health.channel_health(now, waiting)


def gather(now: datetime | None = None, broker_url: str | None = None) -> HealthReport:
    """Check every part of the desk and collect every channel's state (fixed query count)."""
    now = now or timezone.now()
    database = check_database()
    broker, queue, depth = check_broker(broker_url)
    beat, worker, beat_seen, worker_seen = check_beat_and_worker(now, depth)
    if database.ok:
        channels = channel_health(now)
        stuck, failing = check_replies(now)
        unsendable = check_unsendable(channels)
        quarantine = check_quarantine(channels)
    else:
        channels = []
        stuck = failing = unsendable = quarantine = Check(
            False, "unknown: the database cannot be reached", known=False
        )
    report = HealthReport(
        status=OK,
        checked_at=now,
        database=database,
        broker=broker,
        beat=beat,
        worker=worker,
        queue=queue,
        replies_stuck=stuck,
        replies_failing=failing,
        replies_unsendable=unsendable,
        quarantine=quarantine,
        channels=channels,
        beat_last_seen=beat_seen,
        worker_last_seen=worker_seen,
        queue_depth=depth,
    )
    if not (database.ok and broker.ok):
        status = DOWN
    elif report.failing_checks:
        status = DEGRADED
    else:
        status = OK
    return replace(report, status=status)
