"""Celery tasks for cases: thin wrappers around plain functions that tests call directly.

Scheduled by beat (socialdesk/settings.py CELERY_BEAT_SCHEDULE): recover_stuck_replies and
recover_moderations every 10 s, auto_assign_cases every 10 s, wake_snoozed_cases every 60 s,
fetch_waiting_media every 30 s, advance_sla_states every 30 s. refresh_open_case_slas is
enqueued by the admin when service-level policies or business hours change. fetch_media is
enqueued by cases.intake for the images of each page stored. send_reply is enqueued by
cases.replies when a reply is queued, approved or retried, and by the recovery for retries and
for the look-ups of replies being reconciled (their times live in next_attempt_at).
run_moderation is enqueued by cases.moderation when a change is asked for or retried, and by
its recovery.
"""

import logging
from datetime import datetime

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from cases import moderation, sending, sla
from cases.models import Case, CaseEvent, CaseStatus

log = logging.getLogger(__name__)

WAKE_BATCH = 500


@shared_task(ignore_result=True, acks_late=True)
def send_reply(reply_id: int) -> str:
    """Move one reply one step: publish it, or look it up (see cases.sending). Safe to run
    twice, or for a reply in any state."""
    return sending.send_reply(reply_id)


@shared_task(ignore_result=True, acks_late=True)
def fetch_media(media_ids: list[int]) -> dict[str, int]:
    """Fetch post images into storage (see cases.media). Safe to run twice: rows are claimed."""
    from cases import media

    return media.fetch_media(media_ids)


@shared_task(ignore_result=True)
def fetch_waiting_media() -> int:
    """Enqueue the post images due a fetch again (retries, lost messages, dead workers)."""
    from cases import media

    ids = media.waiting_media()
    for start in range(0, len(ids), 10):
        fetch_media.delay(ids[start : start + 10])
    return len(ids)


@shared_task(ignore_result=True)
def advance_sla_states() -> dict[str, int]:
    """Cases whose service-level clock crossed its warning or breach point, each once."""
    crossed = sla.advance_sla_states()
    if crossed["warning"] or crossed["breached"]:
        log.info("SLA clocks crossed", extra={k: len(v) for k, v in crossed.items()})
    return {state: len(ids) for state, ids in crossed.items()}


@shared_task(ignore_result=True)
def refresh_open_case_slas() -> int:
    """Every open case's due times again, after a policy or business hours changed."""
    return sla.refresh_open_case_slas()


@shared_task(ignore_result=True)
def recover_stuck_replies() -> dict[str, int]:
    return sending.recover_stuck_replies()


@shared_task(ignore_result=True, acks_late=True)
def run_moderation(moderation_id: int) -> str:
    """Hide, show or delete one post on the network (see cases.moderation). Safe to run twice,
    or for a row in any state."""
    return moderation.run_moderation(moderation_id)


@shared_task(ignore_result=True)
def recover_moderations() -> dict[str, int]:
    return moderation.recover_moderations()


@shared_task(ignore_result=True)
def auto_assign_cases() -> int:
    # Imported here: cases.assignment is written separately and must not block this module.
    from cases.assignment import auto_assign

    return auto_assign()


@shared_task(ignore_result=True)
def wake_snoozed_cases() -> int:
    return wake_snoozed()


def wake_snoozed(now: datetime | None = None) -> int:
    """Snoozed cases whose time has come: pending → open, snoozed_until cleared.

    Each case gets a STATUS event from the desk (no actor) and a new updated_at, so the
    inbox's live update shows it again. Rows another transaction holds are left for the
    next run. Returns how many cases woke up.
    """
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Case.objects.select_for_update(skip_locked=True)
            .filter(status=CaseStatus.PENDING, snoozed_until__lte=now)
            .order_by("snoozed_until")
            .values_list("pk", "snoozed_until")[:WAKE_BATCH]
        )
        if not due:
            return 0
        Case.objects.filter(pk__in=[pk for pk, _ in due]).update(
            status=CaseStatus.OPEN, snoozed_until=None, updated_at=now
        )
        CaseEvent.objects.bulk_create(
            CaseEvent(
                case_id=pk,
                kind=CaseEvent.Kind.STATUS,
                data={
                    "from": CaseStatus.PENDING,
                    "to": CaseStatus.OPEN,
                    "reason": "snooze ended",
                    "snoozed_until": until.isoformat(),
                },
                created_at=now,
            )
            for pk, until in due
        )
    log.info("snoozed cases woke up", extra={"cases": len(due)})
    return len(due)
