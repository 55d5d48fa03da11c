"""Beat and worker liveness, told apart by two heartbeats in the cache (Redis in production).

* Beat's own: `HeartbeatScheduler` (beat's default persistent scheduler, set as
  CELERY_BEAT_SCHEDULER) writes BEAT_HEARTBEAT_KEY on its ticks. It proves beat alone: a beat
  whose messages no worker consumes still writes it.
* The worker's: beat schedules `alerts.tasks.worker_heartbeat` every 15 s and a worker running
  it writes WORKER_HEARTBEAT_KEY. It proves beat + broker + a consuming worker.

So: beat fresh and worker stale = no worker consumes; beat stale = nothing is scheduled (the
worker's state is then unknown). A signal such as `beat_init` fires once at start-up and says
nothing about a beat that hangs later; the tick does.

When the worker is dead, the evaluation that would tell admins runs nowhere: beat then runs
it itself (once a minute, notifications delivered in-process) so "worker dead" still arrives.
"""

import logging
import time
from datetime import datetime
from typing import Any

from celery.beat import PersistentScheduler
from django.core.cache import cache
from django.utils import timezone

log = logging.getLogger(__name__)

BEAT_HEARTBEAT_KEY = "socialdesk:beat_heartbeat"
WORKER_HEARTBEAT_KEY = "socialdesk:worker_task_heartbeat"
BEAT_WRITE_EVERY = 5.0  # seconds between two writes of beat's heartbeat
BEAT_MAX_SLEEP = 5.0  # beat wakes at least this often, so its heartbeat stays fresh
BEAT_EVALUATE_EVERY = 60.0  # how often beat checks whether it must evaluate alerts itself


def cache_get(key: str) -> Any:
    return cache.get(key)


def record_beat_tick(now: datetime | None = None) -> None:
    cache.set(BEAT_HEARTBEAT_KEY, (now or timezone.now()).isoformat(), timeout=None)


def record_worker_heartbeat(now: datetime | None = None) -> None:
    cache.set(WORKER_HEARTBEAT_KEY, (now or timezone.now()).isoformat(), timeout=None)


class HeartbeatScheduler(PersistentScheduler):
    """Beat's default scheduler plus its heartbeat and, while no worker runs, the alerts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._beat_written = float("-inf")
        self._evaluated = time.monotonic()  # give the worker one interval to show up
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        interval = super().tick(*args, **kwargs)
        clock = time.monotonic()
        if clock - self._beat_written >= BEAT_WRITE_EVERY:
            try:
                record_beat_tick()
                self._beat_written = clock
            except Exception:  # the cache down must not stop the schedule
                log.warning("beat heartbeat not written", exc_info=True)
        if clock - self._evaluated >= BEAT_EVALUATE_EVERY:
            self._evaluated = clock
            evaluate_if_no_worker()
        return min(interval, BEAT_MAX_SLEEP)


def evaluate_if_no_worker(now: datetime | None = None) -> bool:
    """Beat's fallback: evaluate the alerts in-process when the worker heartbeat is stale.

    Returns whether it evaluated. Never raises: beat must keep scheduling.
    """
    from alerts.evaluate import evaluate_alerts
    from socialdesk import health

    now = now or timezone.now()
    try:
        _, worker, _, _ = health.check_beat_and_worker(now, None)
        if worker.ok:
            return False
        evaluate_alerts(now, deliver_inline=True)
    except Exception:
        log.exception("alert evaluation from beat failed")
        return False
    return True
