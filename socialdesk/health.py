"""What the health page shows: the system's parts and every channel's polling state.

`gather()` makes a fixed number of queries whatever the number of channels. Overall status:

* "down": the database or the broker cannot be reached (nothing gets polled or stored);
* "degraded": an enabled channel is failing, rate limited, lagging more than
  LAG_INTERVALS poll intervals, or needs re-authorisation, or has an intake gap (posts the
  network can no longer serve); or no worker has been seen lately;
* "ok" otherwise.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from listening.models import Channel, Mention, QuarantinedPost
from listening.polling import WORKER_HEARTBEAT_KEY  # written by every poll tick

WORKER_STALE_AFTER = timedelta(seconds=60)
LAG_INTERVALS = 3
MIN_POLL_INTERVAL = timedelta(seconds=5)

OK, DEGRADED, DOWN = "ok", "degraded", "down"


@dataclass(frozen=True, slots=True)
class Check:
    """One part of the system: reachable or not, and what to tell the operator."""

    ok: bool
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail}


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
    # Periods whose posts may be missing (Channel.intake_gaps), one line each.
    gaps: tuple[str, ...] = ()

    @property
    def is_problem(self) -> bool:
        return self.state in PROBLEM_STATES

    @property
    def state_label(self) -> str:
        return "OK" if self.state == "ok" else self.state.capitalize()

    @property
    def lag_display(self) -> str:
        """The lag for people: "8 s", "9 min", "2 h 5 min", "3 d 4 h"; "never" if never polled."""
        return format_duration(self.lag) if self.lag is not None else "never"

    def problem(self) -> str:
        """One line saying what is wrong, for the page's summary; "" when nothing is."""
        if self.state == "failing":
            count = self.consecutive_failures
            return f"{self.name}: {count} failed poll{'s' if count != 1 else ''} in a row"
        if self.state == "rate limited":
            return f"{self.name}: rate limited by {self.network_label}"
        if self.state == "needs re-auth":
            return f"{self.name}: {self.network_label} rejected the token; reconnect it"
        if self.state == "lagging":
            return f"{self.name}: no successful poll for {self.lag_display}"
        return ""

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
            "intake_gaps": list(self.gaps),
        }


STATES = ("ok", "never polled", "lagging", "failing", "rate limited", "needs re-auth", "disabled")
PROBLEM_STATES = frozenset({"lagging", "failing", "rate limited", "needs re-auth"})


@dataclass(frozen=True, slots=True)
class HealthReport:
    status: str
    checked_at: datetime
    database: Check
    broker: Check
    worker: Check
    worker_last_seen: datetime | None
    channels: list[ChannelHealth]

    @property
    def problems(self) -> list[str]:
        """What makes the status other than "ok", one line each."""
        lines = [
            f"{name}: {check.detail}"
            for name, check in (("Database", self.database), ("Broker", self.broker))
            if not check.ok
        ]
        if not self.worker.ok:
            lines.append(f"Worker: {self.worker.detail}")
        lines.extend(channel.problem() for channel in self.channels if channel.is_problem)
        lines.extend(f"{channel.name}: {gap}" for channel in self.channels for gap in channel.gaps)
        return lines

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "checked_at": _iso(self.checked_at),
            "problems": self.problems,
            "system": {
                "database": self.database.as_json(),
                "broker": self.broker.as_json(),
                "worker": {**self.worker.as_json(), "last_seen": _iso(self.worker_last_seen)},
            },
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


def gap_line(gap: dict[str, Any]) -> str:
    """ "posts between T1 and T2 may be missing (stream: reason)" for one intake gap."""

    def moment(value: Any) -> str:
        parsed = parse_datetime(value) if isinstance(value, str) and value else None
        if parsed is None:
            return "an unknown time"
        return timezone.localtime(parsed, timezone.get_fixed_timezone(0)).strftime(
            "%Y-%m-%d %H:%M UTC"
        )

    return (
        f"posts between {moment(gap.get('since'))} and {moment(gap.get('until'))} may be"
        f" missing ({gap.get('stream') or 'intake'}: {gap.get('reason') or 'unreadable'})"
    )


def check_database() -> Check:
    """SELECT 1 on the default database."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; the page must still render
        return Check(False, f"database unreachable: {type(exc).__name__}")
    return Check(True, "ok")


def check_broker(url: str | None = None) -> Check:
    """Open a connection to the Celery broker (one retry, two-second timeout)."""
    from socialdesk.celery import app

    try:
        with app.connection_for_write(url) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # kombu raises transport-specific errors
        return Check(False, f"broker unreachable: {type(exc).__name__}")
    return Check(True, "ok")


def check_worker(now: datetime) -> tuple[Check, datetime | None]:
    """Whether a Celery worker ran the poll tick recently, and when it was last seen."""
    try:
        raw = cache.get(WORKER_HEARTBEAT_KEY)
    except Exception as exc:  # the cache is Redis in production: it can be down too
        return Check(False, f"cache unreachable: {type(exc).__name__}"), None
    seen = parse_datetime(raw) if isinstance(raw, str) else None
    if seen is None:
        return Check(False, "no worker seen yet"), None
    if now - seen > WORKER_STALE_AFTER:
        return Check(False, f"no worker seen since {seen.isoformat(timespec='seconds')}"), seen
    return Check(True, "ok"), seen


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
    """Every channel with its counters: three queries whatever the number of channels."""
    mentions = dict(Mention.objects.order_by().values_list("channel_id").annotate(n=Count("id")))
    quarantined = dict(
        QuarantinedPost.objects.filter(resolved_at__isnull=True)
        .order_by()
        .values_list("channel_id")
        .annotate(n=Count("id"))
    )
    return [
        ChannelHealth(
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
            next_poll_at=channel.next_poll_at
            if channel.enabled and not channel.needs_reauth
            else None,
            consecutive_failures=channel.consecutive_failures,
            last_error=channel.last_error,
            last_error_at=channel.last_error_at,
            rate_limited_until=channel.rate_limited_until if channel.is_rate_limited(now) else None,
            needs_reauth=channel.needs_reauth,
            mentions=mentions.get(channel.pk, 0),
            quarantined=quarantined.get(channel.pk, 0),
            api_reads=channel.api_reads,
            api_posts=channel.api_posts,
            gaps=tuple(gap_line(gap) for gap in channel.open_gaps()),
        )
        for channel in Channel.objects.defer("credentials_encrypted", "cursor").order_by("name")
    ]


def gather(now: datetime | None = None, broker_url: str | None = None) -> HealthReport:
    """Check the database, the broker and the worker, and collect every channel's state."""
    now = now or timezone.now()
    database = check_database()
    broker = check_broker(broker_url)
    worker, worker_seen = check_worker(now)
    channels = channel_health(now) if database.ok else []
    if not (database.ok and broker.ok):
        status = DOWN
    elif not worker.ok or any(channel.is_problem or channel.gaps for channel in channels):
        status = DEGRADED
    else:
        status = OK
    return HealthReport(
        status=status,
        checked_at=now,
        database=database,
        broker=broker,
        worker=worker,
        worker_last_seen=worker_seen,
        channels=channels,
    )
