"""Each channel's health: its polling state, lag, errors, rate limit, intake gaps and
quarantine, as rows for the health page (socialdesk.health composes the page from them).

A channel is "lagging" when its last successful poll is more than LAG_INTERVALS poll intervals
old; an intake gap counts as a problem for HEALTH_INTAKE_GAP_HOURS after it was detected.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from listening.models import Channel, Mention, QuarantinedPost
from socialdesk.durations import format_duration
from socialdesk.healthcheck import Check, iso, plural, when
from socialdesk.scrub import scrub

LAG_INTERVALS = 3
MIN_POLL_INTERVAL = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class IntakeGap:
    """Posts of one stream that may be missing (written by listening when a gap cannot close)."""

    stream: str
    since: datetime | None
    until: datetime | None
    reason: str
    detected_at: datetime | None

    def describe(self) -> str:
        since = when(self.since)
        until = when(self.until)
        text = f"{self.stream or 'intake'}: posts between {since} and {until} may be missing"
        return f"{text} ({self.reason})" if self.reason else text

    def as_json(self) -> dict[str, Any]:
        return {
            "description": self.describe(),
            "stream": self.stream,
            "since": iso(self.since),
            "until": iso(self.until),
            "reason": self.reason,
            "detected_at": iso(self.detected_at),
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
    deletion_check: str = ""
    quarantined_hour: int = 0
    quarantined_day: int = 0
    created_at: datetime | None = None
    replies_waiting: int = 0  # queued or sending; counted only while the channel needs re-auth
    intake_gaps: list[IntakeGap] = field(default_factory=list)
    recent_gaps: list[IntakeGap] = field(default_factory=list)  # detected within the window
    webhook_received_at: datetime | None = None  # the last verified Meta delivery naming it
    webhook_refused: int = 0  # deliveries naming it that were refused (listening.webhooks)

    @property
    def receives_webhooks(self) -> bool:
        """Whether the network can push to this channel (Meta webhooks); X is polled only."""
        return self.network == "facebook"

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
                line += f" ({plural(self.replies_waiting, 'reply', 'replies')} cannot be sent)"
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
            "last_success_at": iso(self.last_success_at),
            "lag_seconds": round(self.lag.total_seconds()) if self.lag is not None else None,
            "last_poll_at": iso(self.last_poll_at),
            "next_poll_at": iso(self.next_poll_at),
            "consecutive_failures": self.consecutive_failures,
            "last_error": self.last_error,
            "last_error_at": iso(self.last_error_at),
            "rate_limited_until": iso(self.rate_limited_until),
            "needs_reauth": self.needs_reauth,
            "mentions": self.mentions,
            "quarantined": self.quarantined,
            "api_reads": self.api_reads,
            "api_posts": self.api_posts,
            "deletion_check": self.deletion_check,
            "replies_waiting": self.replies_waiting,
            "intake_gaps": [gap.as_json() for gap in self.intake_gaps],
            "webhook_received_at": iso(self.webhook_received_at),
            "webhook_refused": self.webhook_refused,
        }


STATES = ("ok", "never polled", "lagging", "failing", "rate limited", "needs re-auth", "disabled")
PROBLEM_STATES = frozenset({"lagging", "failing", "rate limited", "needs re-auth"})


def deletion_check_line(channel: Channel, now: datetime | None = None) -> str:
    """The scheduled deletion check's use of the channel's read budget today, in words."""
    if channel.network != "x":
        return "reported by the network"
    budget = channel.deletion_check_budget
    if not budget:
        return "off"
    today = timezone.localdate(now or timezone.now())
    used = channel.deletion_check_reads if channel.deletion_check_day == today else 0
    return f"{used:,} of {budget:,} reads today"


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


def channel_health(now: datetime, replies_waiting: dict[int, int]) -> list[ChannelHealth]:
    """Every channel with its counters: three queries whatever the number of channels.

    `replies_waiting` is the desk's count of replies waiting per channel id (see
    ChannelHealth.replies_waiting).
    """
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
    gap_window = timedelta(hours=settings.HEALTH_INTAKE_GAP_HOURS)
    channels = Channel.objects.defer("credentials_encrypted", "cursor").order_by("name")
    return [
        _channel_health(channel, now, mentions, quarantined, replies_waiting, gap_window)
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
        deletion_check=deletion_check_line(channel, now),
        created_at=channel.created_at,
        replies_waiting=waiting.get(channel.pk, 0),
        intake_gaps=gaps,
        webhook_received_at=channel.webhook_received_at,
        webhook_refused=channel.webhook_refused,
        recent_gaps=[
            gap
            for gap in gaps
            if channel.enabled and (gap.detected_at is None or now - gap.detected_at <= gap_window)
        ],
    )
