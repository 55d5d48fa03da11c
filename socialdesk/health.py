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

from dataclasses import dataclass, field, replace
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
from listening.models import Channel, Mention, QuarantinedPost
from socialdesk.scrub import scrub

LAG_INTERVALS = 3
MIN_POLL_INTERVAL = timedelta(seconds=5)
FAILED_REPLIES_WINDOW = timedelta(hours=1)
REPLIES_WAITING = (Reply.State.QUEUED, Reply.State.SENDING, Reply.State.RECONCILING)

OK, DEGRADED, DOWN = "ok", "degraded", "down"


@dataclass(frozen=True, slots=True)
class Check:
    """One part of the system: fine or not, and what to tell the operator.

    `known` is False when the part could not be measured (shown as "unknown", not a problem).
    """

    ok: bool
    detail: str
    known: bool = True

    @property
    def level(self) -> str:
        """ "ok", "unknown" or "problem": the page's dot."""
        if not self.known:
            return "unknown"
        return "ok" if self.ok else "problem"

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail, "known": self.known}


@dataclass(frozen=True, slots=True)
class IntakeGap:
    """Posts of one stream that may be missing (written by listening when a gap cannot close)."""

    stream: str
    since: datetime | None
    until: datetime | None
    reason: str
    detected_at: datetime | None

    def describe(self) -> str:
        since = _when(self.since)
        until = _when(self.until)
        text = f"{self.stream or 'intake'}: posts between {since} and {until} may be missing"
        return f"{text} ({self.reason})" if self.reason else text

    def as_json(self) -> dict[str, Any]:
        return {
            "description": self.describe(),
            "stream": self.stream,
            "since": _iso(self.since),
            "until": _iso(self.until),
            "reason": self.reason,
            "detected_at": _iso(self.detected_at),
        }


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    """One channel's polling state. `state` is one of STATES; `lag` is None if never polled."""

    id: int
    name: str
    network: str
    network_label: str
    handle: str
    enabled: bool
    state: str
    poll_interval: int
    last_success_at: datetime | None
    lag: timedelta | None
    last_poll_at: datetime | None
    next_poll_at: datetime | None
    consecutive_failures: int
    last_error: str
    last_error_at: datetime | None
    rate_limited_until: datetime | None
    needs_reauth: bool
    mentions: int
    quarantined: int
    api_reads: int
    api_posts: int
    quarantined_hour: int = 0
    quarantined_day: int = 0
    created_at: datetime | None = None
    replies_waiting: int = 0  # queued or sending; counted only while the channel needs re-auth
    intake_gaps: list[IntakeGap] = field(default_factory=list)
    recent_gaps: list[IntakeGap] = field(default_factory=list)  # detected within the window

    @property
    def is_problem(self) -> bool:
        return self.state in PROBLEM_STATES or bool(self.recent_gaps)

    @property
    def state_label(self) -> str:
        return "OK" if self.state == "ok" else self.state.capitalize()

    @property
    def lag_display(self) -> str:
        """The lag for people: "8 s", "9 min", "2 h 5 min", "3 d 4 h"; "never" if never polled."""
        return format_duration(self.lag) if self.lag is not None else "never"

    def problem(self) -> str:
        """One line saying what is wrong with polling, for the page's summary; "" if nothing."""
        if self.state == "failing":
            count = self.consecutive_failures
            return f"{self.name}: {count} failed poll{'s' if count != 1 else ''} in a row"
        if self.state == "rate limited":
            return f"{self.name}: rate limited by {self.network_label}"
        if self.state == "needs re-auth":
            line = f"{self.name}: {self.network_label} rejected the token; reconnect it"
            if self.replies_waiting:
                line += f" ({_count(self.replies_waiting, 'reply', 'replies')} cannot be sent)"
            return line
        if self.state == "lagging":
            return f"{self.name}: no successful poll for {self.lag_display}"
        return ""

    def problems(self) -> list[str]:
        """Every line saying what is wrong with this channel (polling, then intake gaps)."""
        lines = [self.problem()] if self.state in PROBLEM_STATES else []
        lines.extend(f"{self.name}: {gap.describe()}" for gap in self.recent_gaps)
        return lines

    @property
    def is_rate_limited(self) -> bool:
        return self.state == "rate limited"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "network": self.network,
            "handle": self.handle,
            "enabled": self.enabled,
            "state": self.state,
            "poll_interval_seconds": self.poll_interval,
            "last_success_at": _iso(self.last_success_at),
            "lag_seconds": round(self.lag.total_seconds()) if self.lag is not None else None,
            "last_poll_at": _iso(self.last_poll_at),
            "next_poll_at": _iso(self.next_poll_at),
            "consecutive_failures": self.consecutive_failures,
            "last_error": self.last_error,
            "last_error_at": _iso(self.last_error_at),
            "rate_limited_until": _iso(self.rate_limited_until),
            "needs_reauth": self.needs_reauth,
            "mentions": self.mentions,
            "quarantined": self.quarantined,
            "api_reads": self.api_reads,
            "api_posts": self.api_posts,
            "replies_waiting": self.replies_waiting,
            "intake_gaps": [gap.as_json() for gap in self.intake_gaps],
        }


STATES = ("ok", "never polled", "lagging", "failing", "rate limited", "needs re-auth", "disabled")
PROBLEM_STATES = frozenset({"lagging", "failing", "rate limited", "needs re-auth"})


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
        system["beat"]["last_seen"] = _iso(self.beat_last_seen)
        system["worker"]["last_seen"] = _iso(self.worker_last_seen)
        system["queue"]["depth"] = self.queue_depth
        return {
            "status": self.status,
            "checked_at": _iso(self.checked_at),
            "problems": self.problems,
            "failing": self.failing_checks,
            "system": system,
            "replies": {key: check.as_json() for key, _, check in self.reply_checks},
            "channels": [channel.as_json() for channel in self.channels],
        }


def format_duration(value: timedelta) -> str:
    """A short duration: "8 s", "9 min", "2 h 5 min", "3 d 4 h"."""
    seconds = max(0, int(value.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _when(value: datetime | None) -> str:
    if value is None:
        return "an unknown time"
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M %Z}"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


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
    waiting = _count(depth, "message", "messages") + " waiting"
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
        backlog = f"; {_count(depth, 'message waits', 'messages wait')}" if depth else ""
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
        parts.append(f"{_count(counts['sending'], 'reply', 'replies')} in sending past recovery")
    if counts["queued"]:
        queued = counts["queued"]
        parts.append(
            f"{_count(queued, 'reply', 'replies')} waiting past "
            f"{'its' if queued == 1 else 'their'} retry time"
        )
    stuck = Check(not parts, "; ".join(parts) if parts else "none")
    failed, limit = counts["failed"], settings.HEALTH_FAILED_REPLIES_PER_HOUR
    failing = Check(
        failed < limit,
        f"{_count(failed, 'reply', 'replies')} failed in the last hour"
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
        False, f"{_count(total, 'reply waits', 'replies wait')} for re-authorisation of {names}"
    )


def check_quarantine(channels: list[ChannelHealth]) -> Check:
    """Quarantined records added in the last hour and day against their thresholds."""
    hour = sum(c.quarantined_hour for c in channels)
    day = sum(c.quarantined_day for c in channels)
    per_hour, per_day = settings.HEALTH_QUARANTINE_PER_HOUR, settings.HEALTH_QUARANTINE_PER_DAY
    detail = f"{hour} added in the last hour, {day} in the last day"
    if hour >= per_hour or day >= per_day:
        return Check(False, f"growing: {detail} (thresholds {per_hour}/h, {per_day}/day)")
    return Check(True, detail)


def read_intake_gaps(channel: Channel) -> list[IntakeGap]:
    """The channel's recorded intake gaps, tolerant of junk entries."""
    return [_intake_gap(item) for item in channel.open_gaps()]


def gap_line(gap: dict[str, Any]) -> str:
    """One entry of Channel.intake_gaps in words: "…: posts between T1 and T2 may be missing"."""
    return _intake_gap(gap).describe()


def _intake_gap(item: dict[str, Any]) -> IntakeGap:
    return IntakeGap(
        stream=str(item.get("stream") or ""),
        since=_parse_time(item.get("since")),
        until=_parse_time(item.get("until")),
        reason=str(item.get("reason") or ""),
        detected_at=_parse_time(item.get("detected_at")),
    )


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        return None


def channel_state(channel: Channel, now: datetime) -> str:
    """The one word the health page shows for a channel (see STATES)."""
    if not channel.enabled:
        return "disabled"
    if channel.needs_reauth:
        return "needs re-auth"
    if channel.is_rate_limited(now):
        return "rate limited"
    if channel.consecutive_failures:
        return "failing"
    interval = max(timedelta(seconds=channel.poll_interval), MIN_POLL_INTERVAL)
    # A new channel is given the same grace as a polled one before it counts as lagging.
    since = channel.last_success_at or channel.created_at
    if now - since > LAG_INTERVALS * interval:
        return "lagging"
    if channel.last_success_at is None:
        return "never polled"
    return "ok"


def channel_health(now: datetime) -> list[ChannelHealth]:
    """Every channel with its counters: four queries whatever the number of channels."""
    mentions = dict(Mention.objects.order_by().values_list("channel_id").annotate(n=Count("id")))
    day_ago, hour_ago = now - timedelta(days=1), now - timedelta(hours=1)
    quarantined = {
        channel_id: (unresolved, hour, day)
        for channel_id, unresolved, hour, day in QuarantinedPost.objects.filter(
            Q(resolved_at__isnull=True) | Q(created_at__gte=day_ago)
        )
        .order_by()
        .values_list("channel_id")
        .annotate(
            unresolved=Count("id", filter=Q(resolved_at__isnull=True)),
            hour=Count("id", filter=Q(created_at__gte=hour_ago)),
            day=Count("id", filter=Q(created_at__gte=day_ago)),
        )
    }
    waiting = dict(
        Reply.objects.filter(state__in=REPLIES_WAITING, case__channel__needs_reauth=True)
        .order_by()
        .values_list("case__channel_id")
        .annotate(n=Count("id"))
    )
    gap_window = timedelta(hours=settings.HEALTH_INTAKE_GAP_HOURS)
    channels = Channel.objects.defer("credentials_encrypted", "cursor").order_by("name")
    return [
        _channel_health(channel, now, mentions, quarantined, waiting, gap_window)
        for channel in channels
    ]


def _channel_health(
    channel: Channel,
    now: datetime,
    mentions: dict[int, int],
    quarantined: dict[int, tuple[int, int, int]],
    waiting: dict[int, int],
    gap_window: timedelta,
) -> ChannelHealth:
    gaps = read_intake_gaps(channel)
    unresolved, hour, day = quarantined.get(channel.pk, (0, 0, 0))
    return ChannelHealth(
        id=channel.pk,
        name=channel.name,
        network=channel.network,
        network_label=channel.get_network_display(),
        handle=channel.handle,
        enabled=channel.enabled,
        state=channel_state(channel, now),
        poll_interval=channel.poll_interval,
        last_success_at=channel.last_success_at,
        lag=channel.lag(now),
        last_poll_at=channel.last_poll_at,
        # Neither a disabled channel nor one waiting for re-auth is polled at all.
        next_poll_at=channel.next_poll_at if channel.enabled and not channel.needs_reauth else None,
        consecutive_failures=channel.consecutive_failures,
        last_error=scrub(channel.last_error),
        last_error_at=channel.last_error_at,
        rate_limited_until=channel.rate_limited_until if channel.is_rate_limited(now) else None,
        needs_reauth=channel.needs_reauth,
        mentions=mentions.get(channel.pk, 0),
        quarantined=unresolved,
        quarantined_hour=hour,
        quarantined_day=day,
        api_reads=channel.api_reads,
        api_posts=channel.api_posts,
        created_at=channel.created_at,
        replies_waiting=waiting.get(channel.pk, 0),
        intake_gaps=gaps,
        recent_gaps=[
            gap
            for gap in gaps
            if channel.enabled and (gap.detected_at is None or now - gap.detected_at <= gap_window)
        ],
    )


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
