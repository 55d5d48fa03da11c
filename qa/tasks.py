"""Celery tasks for QA: thin wrappers around plain functions that tests call directly.

Scheduled by beat (socialdesk/settings.py CELERY_BEAT_SCHEDULE): run_due_sampling hourly,
count_mentions every minute.
"""

import logging
import random

from celery import shared_task
from django.utils import timezone

from qa.models import SamplingPolicy
from qa.sampling import SamplingError, due_window, run_sampling
from qa.volume import count_new_mentions

log = logging.getLogger(__name__)


def run_due_sampling_now() -> list[int]:
    """Sample, for every enabled policy, what its last complete period has not had sampled.

    Idempotent: a window already run is not due any more (and SamplingRun's unique
    (policy, period_start) stops a concurrent duplicate). Returns the ids of the runs made.
    A new run's seed is random and stored on the run, so it can be replayed.
    """
    now = timezone.now()
    made = []
    for policy in SamplingPolicy.objects.filter(enabled=True).order_by("pk"):
        window = due_window(policy, now)
        if window is None:
            continue
        seed = random.SystemRandom().randrange(2**62)
        try:
            run = run_sampling(policy, *window, seed=seed)
        except SamplingError as error:
            log.warning("sampling skipped", extra={"policy_id": policy.pk, "reason": str(error)})
            continue
        made.append(run.pk)
    return made


@shared_task(ignore_result=True)
def run_due_sampling() -> list[int]:
    return run_due_sampling_now()


@shared_task(ignore_result=True)
def count_mentions() -> None:
    count_new_mentions()
