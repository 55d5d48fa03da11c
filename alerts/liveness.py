"""Beat and worker liveness, told apart by two heartbeats in the cache (Redis in production).

* Beat's own: `HeartbeatScheduler` (beat's default persistent scheduler, set as
  CELERY_BEAT_SCHEDULER) writes BEAT_HEARTBEAT_KEY on its ticks. It proves beat alone: a beat
  whose messages no worker consumes still writes it.
* The worker's: beat schedules `alerts.tasks.worker_heartbeat` every 15 s and a worker running
  it writes WORKER_HEARTBEAT_KEY. It proves beat + broker + a consuming worker.

So: beat fresh and worker stale = no worker consumes; beat stale = nothing is scheduled (the
worker's state is then unknown). A signal such as `beat_init` fires once at start-up and says
nothing about a beat that hangs later; the tick does.

Each side covers the other's death, since the evaluation that tells admins is a task beat
schedules and a worker runs: while no worker runs, beat evaluates in-process once a minute
(notifications delivered from beat), so "worker dead" still arrives; while beat is silent,
every worker's `BeatWatch` step enqueues the evaluation itself once a minute, so "beat dead"
arrives too. The AlertState rows make the extra evaluations harmless.
"""

import logging
import time
from datetime import datetime
from typing import Any

from celery import bootsteps
from celery.beat import PersistentScheduler
from django.core.cache import cache
from django.utils import timezone

log = logging.getLogger(__name__)

BEAT_HEARTBEAT_KEY = "socialdesk:beat_heartbeat"
WORKER_HEARTBEAT_KEY = "socialdesk:worker_task_heartbeat"
BEAT_WRITE_EVERY = 5.0  # seconds between two writes of beat's heartbeat
BEAT_MAX_SLEEP = 5.0  # beat wakes at least this often, so its heartbeat stays fresh
BEAT_EVALUATE_EVERY = 60.0  # how often beat checks whether it must evaluate alerts itself
BEAT_WATCH_EVERY = 60.0  # how often a worker checks whether beat still ticks


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


def evaluate_if_no_beat(now: datetime | None = None) -> bool:
    """A worker's fallback: enqueue the evaluation when beat's heartbeat is stale.

    Runs in the worker's main process, so it only reads the cache and publishes a task (a
    pool process runs the evaluation). Returns whether it enqueued. Never raises.
    """
    from alerts import tasks
    from socialdesk import health

    try:
        beat, _, _, _ = health.check_beat_and_worker(now or timezone.now(), None)
        if beat.ok:
            return False
        tasks.evaluate_alerts.delay()
    except Exception:
        log.exception("alert evaluation from the worker not enqueued")
        return False
    return True


class BeatWatch(bootsteps.StartStopStep):
    """Worker step: every BEAT_WATCH_EVERY seconds, `evaluate_if_no_beat` on the worker's timer."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.tref: Any = None

    def start(self, worker: Any) -> None:
        self.tref = worker.timer.call_repeatedly(BEAT_WATCH_EVERY, evaluate_if_no_beat)

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
