"""The dashboard's service figures: response times, volume and spikes per channel.

They are desk-wide figures read from the big tables (cases, mentions), change slowly, and are
kept SERVICE_CACHE_SECONDS per period and scope; the page says when they were computed.

* Response times: first-response and resolution time percentiles (p50, p90) per channel from
  the cases opened in the period (supervisors: the cases assigned to their agents).
* Volume: mentions per local day, channel and sentiment (listening.radar's negative and
  positive), from the counts of qa.volume.
* Spikes: the hours of the last 24 far above a channel's baseline (listening.spikes), from the
  same counts added up to UTC hours.
* Service levels: of the period's cases whose first-response (resolution) clock has an outcome,
  how many met their policy's due time (cases/sla.py keeps it on the row), per channel and
  assignee; qa.dashboard adds them up per team. A case counts once its clock has an outcome:
  answered (resolved), or still open past its due time; a case closed without a reply has no
  first-response outcome. The share's 95 % interval is Wilson's, through the same estimator as
  the QA pass rate (qa.stats.Sums with unit weights).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from cases.models import OPEN_STATUSES
from listening.spikes import BASELINE_HOURS, Spike, channel_spikes
from qa.stats import Additive, Estimate, Sums
from qa.volume import MENTION_QUARTERS_SQL

SERVICE_CACHE_SECONDS = 300


@dataclass
class ChannelTimes:
    channel_id: int
    name: str
    network: str
    cases: int
    responded: int
    first_p50: float | None  # minutes
    first_p90: float | None
    resolved: int
    resolution_p50: float | None  # hours
    resolution_p90: float | None


@dataclass
class SlaCounts(Additive):
    """Cases whose service-level clock has an outcome, and how many of them met it."""

    first: int = 0
    first_met: int = 0
    resolution: int = 0
    resolution_met: int = 0

    @staticmethod
    def _share(met: int, n: int) -> Estimate:
        # Unit weights: the pass-rate estimator becomes Wilson's interval on n cases.
        return Sums(n=n, w=n, w2=n, wp=met).pass_rate()

    @property
    def first_share(self) -> Estimate:
        return self._share(self.first_met, self.first)

    @property
    def resolution_share(self) -> Estimate:
        return self._share(self.resolution_met, self.resolution)


@dataclass
class Service:
    """The desk-wide figures read from the big tables (cases, mentions)."""

    times: list[ChannelTimes]
    volume: dict[int, dict[date, tuple[int, int, int]]]
    days: list[date]
    spikes: list[Spike]
    computed_at: datetime
    # (channel id, assignee id or None) -> counts of the period's cases
    sla: dict[tuple[int, int | None], SlaCounts]
    agent_names: dict[int, str]  # of the assignees in `sla`


def service_figures(
    start: datetime,
    agent_ids: set[int] | None,
    now: datetime,
    channels: dict[int, tuple[str, str]],
) -> Service:
    """Response times, volume and spikes, kept SERVICE_CACHE_SECONDS per period and scope.

    They read the period's cases from the index case_channel_opened and its mention counts
    from qa.volume (on a million cases and three million mentions, about 0.1 s in all), and
    change slowly; the dashboard's QA figures are always computed afresh.
    """
    scope = "all" if agent_ids is None else ",".join(map(str, sorted(agent_ids)))
    # Service is pickled into the cache: a new key when its class moves (it was in
    # qa.dashboard), so figures cached by the older code are never unpickled by this one.
    key = (
        "qa:service-figures:v2:"
        + hashlib.sha256(f"{start.isoformat()}|{scope}".encode()).hexdigest()
    )
    if SERVICE_CACHE_SECONDS:
        cached = cache.get(key)
        if cached is not None:
            return cached
    volume, days = _volume(start, now)
    service = Service(
        _response_times(start, agent_ids, channels),
        volume,
        days,
        _spikes(now, channels),
        now,
        *_sla_counts(start, agent_ids, now),
    )
    if SERVICE_CACHE_SECONDS:
        cache.set(key, service, SERVICE_CACHE_SECONDS)
    return service


# Per channel, the cases opened since the start from the index case_channel_opened alone
# (LATERAL: one index range per channel, already grouped), and one sort per percentile pair.
RESPONSE_SQL = """
SELECT ch.id, t.cases, t.responded, t.first_response[1], t.first_response[2],
    t.resolved, t.resolution[1], t.resolution[2]
FROM listening_channel ch
CROSS JOIN LATERAL (
    SELECT count(*) AS cases, count(c.first_response_at) AS responded,
        percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (
            ORDER BY date_part('epoch', c.first_response_at - c.opened_at)
        ) AS first_response,
        count(c.resolved_at) AS resolved,
        percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (
            ORDER BY date_part('epoch', c.resolved_at - c.opened_at)
        ) AS resolution
    FROM cases_case c
    WHERE c.channel_id = ch.id AND c.opened_at >= %s {scope}
) t
WHERE t.cases > 0
"""


def _response_times(
    start: datetime, agent_ids: set[int] | None, channels: dict[int, tuple[str, str]]
) -> list[ChannelTimes]:
    params: list = [start]
    scope = ""
    if agent_ids is not None:
        scope = "AND c.assignee_id = ANY(%s)"
        params.append(sorted(agent_ids))
    with connection.cursor() as cursor:
        cursor.execute(RESPONSE_SQL.format(scope=scope), params)
        rows = cursor.fetchall()

    def minutes(v):
        return None if v is None else v / 60

    def hours(v):
        return None if v is None else v / 3600

    out = [
        ChannelTimes(
            channel_id,
            *channels.get(channel_id, (f"#{channel_id}", "")),
            cases,
            responded,
            minutes(f50),
            minutes(f90),
            resolved,
            hours(r50),
            hours(r90),
        )
        for channel_id, cases, responded, f50, f90, resolved, r50, r90 in rows
    ]
    return sorted(out, key=lambda t: t.name.lower())


SLA_SQL = """
SELECT c.channel_id, u.id,
    coalesce(nullif(btrim(u.first_name || ' ' || u.last_name), ''), u.username),
    count(*) FILTER (WHERE c.first_response_due_at IS NOT NULL AND (c.first_response_at IS NOT NULL
        OR (c.status IN %(open)s AND c.first_response_due_at <= %(now)s))),
    count(*) FILTER (WHERE c.first_response_at <= c.first_response_due_at),
    count(*) FILTER (WHERE c.resolution_due_at IS NOT NULL AND (c.resolved_at IS NOT NULL
        OR (c.status IN %(open)s AND c.resolution_due_at <= %(now)s))),
    count(*) FILTER (WHERE c.resolved_at <= c.resolution_due_at)
FROM cases_case c
LEFT JOIN auth_user u ON u.id = c.assignee_id
WHERE c.opened_at >= %(start)s {scope}
GROUP BY c.channel_id, u.id
"""


def _sla_counts(
    start: datetime, agent_ids: set[int] | None, now: datetime
) -> tuple[dict[tuple[int, int | None], SlaCounts], dict[int, str]]:
    params: dict = {"start": start, "now": now, "open": tuple(OPEN_STATUSES)}
    scope = ""
    if agent_ids is not None:
        scope = "AND c.assignee_id = ANY(%(agents)s)"
        params["agents"] = sorted(agent_ids)
    with connection.cursor() as cursor:
        cursor.execute(SLA_SQL.format(scope=scope), params)
        rows = cursor.fetchall()
    counts = {(channel_id, user_id): SlaCounts(*n) for channel_id, user_id, _, *n in rows}
    names = {user_id: name for _, user_id, name, *_ in rows if user_id is not None}
    return counts, names


VOLUME_SQL = f"""
SELECT (q.quarter AT TIME ZONE %(tz)s)::date AS day, q.channel_id,
    sum(q.negative), sum(q.neutral), sum(q.positive)
FROM ({MENTION_QUARTERS_SQL}) q
GROUP BY 1, 2
HAVING sum(q.negative + q.neutral + q.positive) > 0
"""


def _volume(start: datetime, now: datetime):
    tz = timezone.get_current_timezone_name()
    params = {"tz": tz, "start": start, "end": now}
    with connection.cursor() as cursor:
        cursor.execute(VOLUME_SQL, params)
        rows = cursor.fetchall()
    volume: dict[int, dict[date, tuple[int, int, int]]] = defaultdict(dict)
    for day, channel_id, neg, neu, pos in rows:
        volume[channel_id][day] = (neg, neu, pos)
    first, last = start.date(), timezone.localtime(now).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return dict(volume), days


HOURLY_SQL = f"""
SELECT q.channel_id, date_trunc('hour', q.quarter) AS hour,
    sum(q.negative + q.neutral + q.positive)
FROM ({MENTION_QUARTERS_SQL}) q
GROUP BY 1, 2
HAVING sum(q.negative + q.neutral + q.positive) > 0
"""


def _spikes(now: datetime, channels: dict[int, tuple[str, str]]) -> list[Spike]:
    # Django's connections run in UTC, so date_trunc('hour') gives UTC hours, like this.
    current_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    since = current_hour - timedelta(hours=23 + BASELINE_HOURS)
    with connection.cursor() as cursor:
        cursor.execute(HOURLY_SQL, {"start": since, "end": now})
        rows = cursor.fetchall()
    hourly: dict[int, dict[datetime, int]] = defaultdict(dict)
    for channel_id, hour, count in rows:
        hourly[channel_id][hour] = count
    return channel_spikes(hourly, current_hour, channels)
