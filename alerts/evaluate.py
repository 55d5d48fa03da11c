"""Which conditions admins are told about, and telling them once per start and recovery.

`evaluate_alerts()` (beat, every minute, through `alerts.tasks.evaluate_alerts`; and beat itself
while no worker runs, see alerts.liveness) reads `socialdesk.health.gather()`, turns it into
the set of active `Condition`s, and compares that set with the AlertState rows:

* a condition without an active row is **raised**: one INSERT ... ON CONFLICT DO UPDATE ...
  WHERE NOT active ... RETURNING, so of two concurrent evaluators only one gets the row back;
* an active row whose condition is gone is **resolved**: one UPDATE ... WHERE active ...
  RETURNING, with the same guarantee;
* each row returned is notified once, after the transaction commits: by Celery tasks with a
  capped retry (alerts.tasks), or in-process when no worker is there to run them. A failing
  e-mail server or webhook never breaks the evaluation.

A condition that persists is not notified again; one that clears and comes back is.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from alerts import notify
from socialdesk import health
from socialdesk.durations import format_duration

log = logging.getLogger(__name__)

RAISED, RESOLVED = "raised", "resolved"


@dataclass(frozen=True, slots=True)
class Condition:
    key: str
    title: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Transition:
    event: str  # RAISED or RESOLVED
    key: str
    title: str
    detail: str


def current_conditions(report: health.HealthReport, now: datetime) -> list[Condition]:
    """What is wrong now, one Condition per thing an admin should hear about."""
    conditions = [
        Condition(key, f"{label}: {check.detail}")
        for key, label, check in report.system_checks + report.reply_checks
        if check.known and not check.ok and key != "database"
    ]
    failing_for = timedelta(minutes=settings.ALERT_CHANNEL_FAILING_MINUTES)
    for channel in report.channels:
        if not channel.enabled:
            continue
        if channel.needs_reauth:
            conditions.append(
                Condition(
                    f"channel-reauth:{channel.id}",
                    f"{channel.name} ({channel.network_label}) needs re-authorisation",
                    channel.problem() + _error_line(channel),
                )
            )
        elif channel.state == "failing":
            since = channel.last_success_at or channel.created_at or now
            if now - since >= failing_for:
                conditions.append(
                    Condition(
                        f"channel-failing:{channel.id}",
                        f"{channel.name} ({channel.network_label}) has failed for "
                        f"{format_duration(now - since)}",
                        channel.problem() + _error_line(channel),
                    )
                )
        for gap in channel.recent_gaps:
            since = gap.since.isoformat() if gap.since else "unknown"
            conditions.append(
                Condition(
                    f"intake-gap:{channel.id}:{gap.stream}:{since}"[:255],
                    f"{channel.name} ({channel.network_label}) has an intake gap",
                    gap.describe(),
                )
            )
    return conditions


def _error_line(channel: health.ChannelHealth) -> str:
    return f"\nLast error: {channel.last_error}" if channel.last_error else ""


def evaluate_alerts(
    now: datetime | None = None, *, deliver_inline: bool = False
) -> list[Transition]:
    """Raise and resolve AlertState rows against the desk's health; notify each change once.

    Returns the transitions this call made (another evaluator's are not repeated). With
    `deliver_inline` the notifications are sent in this process after commit (no worker).
    """
    now = now or timezone.now()
    report = health.gather(now)
    if not report.database.ok:
        return []  # nothing can be recorded; the monitor endpoint says "down"
    conditions = {condition.key: condition for condition in current_conditions(report, now)}
    with transaction.atomic():
        transitions = _raise(list(conditions.values()), now) + _resolve(list(conditions), now)
        for transition in transitions:
            transaction.on_commit(lambda t=transition: _notify(t, deliver_inline))
    if transitions:
        log.info("alerts", extra={"raised_or_resolved": [t.key for t in transitions]})
    return transitions


def _raise(conditions: list[Condition], now: datetime) -> list[Transition]:
    if not conditions:
        return []
    rows = ", ".join(["(%s, %s, %s, true, %s, NULL)"] * len(conditions))
    params: list[object] = []
    for condition in conditions:
        params += [condition.key, condition.title[:500], condition.detail, now]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO alerts_alertstate (key, title, detail, active, started_at, resolved_at) "
            f"VALUES {rows} "
            "ON CONFLICT (key) DO UPDATE SET title = EXCLUDED.title, detail = EXCLUDED.detail, "
            "active = true, started_at = EXCLUDED.started_at, resolved_at = NULL "
            "WHERE NOT alerts_alertstate.active "
            "RETURNING key, title, detail",
            params,
        )
        return [Transition(RAISED, *row) for row in cursor.fetchall()]


def _resolve(active_keys: list[str], now: datetime) -> list[Transition]:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE alerts_alertstate SET active = false, resolved_at = %s "
            "WHERE active AND NOT (key = ANY(%s::varchar[])) "
            "RETURNING key, title, detail",
            [now, active_keys],
        )
        return [Transition(RESOLVED, *row) for row in cursor.fetchall()]


def _notify(transition: Transition, inline: bool) -> None:
    """Hand one transition to e-mail and the webhook; never raises into the caller."""
    subject, body = notify.compose(transition.event, transition.title, transition.detail)
    text = notify.chat_text(transition.event, transition.title, transition.detail)
    if inline:
        notify.deliver_now(subject, body, text)
        return
    from alerts import tasks

    try:
        tasks.send_alert_email.delay(subject, body)
        if settings.ALERT_WEBHOOK_URL:
            tasks.post_alert_webhook.delay(text)
    except Exception:  # the broker is down: tell admins from here rather than not at all
        log.warning("alert tasks not enqueued: delivering in-process", exc_info=True)
        notify.deliver_now(subject, body, text)
