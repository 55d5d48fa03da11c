"""Freshness: how long a Facebook post takes from the network to a case, by webhook and by poll.

The desk runs as in production, each part in its own process: gunicorn serving the webhook
endpoint, a prefork Celery worker (concurrency 2), and the simulator (in this process) standing
in for Facebook. For each post the clock starts just before the simulator creates it and stops
when its mention and case are committed, visible to the inbox (one transaction writes both; an
observer looks every few milliseconds). A post whose author Graph hides becomes no case by
webhook (it is left to the poll, which looks the author up) and is left out of the webhook
figures.

* freshness_webhook_p50_ms / _p95_ms: the simulator delivers a signed webhook as it creates
  the post; the desk verifies, stores and enqueues it; the worker takes it in. No poll runs.
* freshness_poll_p50_ms / _p95_ms: no webhooks; a beat tick every POLL_TICK seconds enqueues
  the channel's poll every POLL_INTERVAL seconds (the shortest interval the desk allows), as
  a desk without a public URL works.

Posts are published PUBLISH_RATE a second, visitor posts, comments and Messenger messages in
turn, and the observer gives up on a post TIMEOUT seconds after the last one was published.
"""

import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from cases.models import Case, Customer, Identity
from listening.models import Channel, Mention, QuarantinedPost, WebhookEvent
from listening.simulator.server import make_server
from listening.simulator.state import SimState

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-meta-app-secret"
PAGE_ID = "2000"
KINDS = ("visitor_post", "comment", "message")
PUBLISH_RATE = 10.0
POLL_INTERVAL = 5
POLL_TICK = 1.0
TIMEOUT = 30.0
OBSERVE_EVERY = 0.005


def run(emit: Callable[[str, object], None], *, posts: int = 220) -> None:
    if not settings.REDIS_URL:
        emit("freshness_skipped", "needs REDIS_URL (a real broker for the worker)")
        return
    _empty_tables()
    state = SimState(seed=17)
    server, traffic = make_server("127.0.0.1", 0, state)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    # This process polls once itself (the first look), against the simulator too.
    with tempfile.TemporaryDirectory() as var_dir, override_settings(FACEBOOK_GRAPH_URL=server.url):
        env = _desk_env(server.url, var_dir)
        port = _free_port()
        gunicorn = ["gunicorn", "socialdesk.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                    "--threads", "4"]  # fmt: skip
        celery = [
            "celery",
            "-A",
            "socialdesk",
            "worker",
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
        ]
        web = _start([sys.executable, "-m", *gunicorn], env, "web")
        worker = _start([sys.executable, "-m", *celery], env, "worker")
        try:
            _wait_for_http(f"http://127.0.0.1:{port}/health/ping")
            channel = _page_channel()
            state.webhooks.configure(f"http://127.0.0.1:{port}/webhooks/meta/", SECRET)
            _measure(state, channel, 6)  # warm-up: every process has served once
            webhook = _measure(state, channel, posts)
            state.webhooks.configure("", "")

            from listening import polling
            from listening.tasks import poll_due_channels

            polling.poll_channel(channel.pk)  # the first look: the poll's cursor starts here
            Channel.objects.filter(pk=channel.pk).update(
                poll_interval=POLL_INTERVAL, next_poll_at=timezone.now()
            )
            stop = threading.Event()
            ticker = threading.Thread(target=_beat, args=(stop, poll_due_channels), daemon=True)
            ticker.start()
            try:
                poll = _measure(state, channel, posts)
            finally:
                stop.set()
                ticker.join(timeout=5)
        finally:
            for process in (web, worker):
                process.terminate()
            for process in (web, worker):
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
            server.stopping.set()
            server.shutdown()
            server.server_close()
    for name, latencies in (("webhook", webhook), ("poll", poll)):
        emit(f"freshness_{name}_posts", len(latencies))
        emit(f"freshness_{name}_p50_ms", _percentile(latencies, 50))
        emit(f"freshness_{name}_p95_ms", _percentile(latencies, 95))
    emit("freshness_publish_per_s", PUBLISH_RATE)
    emit("freshness_poll_interval_s", POLL_INTERVAL)
    if not os.environ.get("FRESHNESS_KEEP"):
        _empty_tables()


def _measure(state: SimState, channel: Channel, count: int) -> list[float]:
    """Publish `count` posts and return, in ms, how long each took to become a case."""
    published: dict[str, float] = {}
    seen: dict[str, float] = {}
    lock = threading.Lock()
    done = threading.Event()
    observer = threading.Thread(
        target=_observe, args=(channel.pk, published, seen, lock, done), daemon=True
    )
    observer.start()
    for n in range(count):
        started = time.monotonic()
        with state.lock:
            [item_id] = state.publish("facebook", PAGE_ID, 1, KINDS[n % len(KINDS)])
        with lock:
            published[item_id] = started
        time.sleep(max(0.0, 1 / PUBLISH_RATE - (time.monotonic() - started)))
    last = time.monotonic()
    while time.monotonic() - last < TIMEOUT:
        with lock:
            if len(seen) == len(published):
                break
        time.sleep(0.05)
    done.set()
    observer.join(timeout=10)
    with lock:
        return [
            (seen[item] - published[item]) * 1000
            for item in published
            if seen.get(item, -1.0) >= 0  # -1: quarantined (author hidden), not a case
        ]


_VISIBLE_SQL = """
    SELECT m.external_id FROM listening_mention m JOIN cases_case c ON c.id = m.case_id
    WHERE m.channel_id = %s AND m.external_id = ANY(%s)
"""
# Posts whose author Meta did not name: the webhook leaves them to the poll (not timed).
_HELD_SQL = """
    SELECT left_item->>'external_id' FROM listening_webhookevent,
        jsonb_array_elements(outcome->'left_to_poll') AS left_item
    WHERE left_item->>'external_id' = ANY(%s)
"""


def _observe(
    channel_id: int,
    published: dict[str, float],
    seen: dict[str, float],
    lock: threading.Lock,
    done: threading.Event,
) -> None:
    """Note when each published post's case becomes visible (its own connection, autocommit)."""
    try:
        with connection.cursor() as cursor:
            while not done.is_set():
                with lock:
                    waiting = [item for item in published if item not in seen]
                if waiting:
                    cursor.execute(_VISIBLE_SQL, [channel_id, waiting])
                    now = time.monotonic()
                    visible = [row[0] for row in cursor.fetchall()]
                    cursor.execute(_HELD_SQL, [waiting])
                    held = [row[0] for row in cursor.fetchall()]
                    with lock:
                        seen.update(dict.fromkeys(visible, now))
                        seen.update(dict.fromkeys(held, -1.0))
                time.sleep(OBSERVE_EVERY)
    finally:
        connection.close()


def _beat(stop: threading.Event, task) -> None:
    """What beat does for polling: a tick every POLL_TICK seconds (listening.tasks)."""
    while not stop.wait(POLL_TICK):
        task.delay()


def _page_channel() -> Channel:
    channel = Channel(
        name="Acme",
        network="facebook",
        handle="Acme",
        external_account_id=PAGE_ID,
        poll_interval=3600,
        next_poll_at=timezone.now() + timedelta(days=1),  # no poll while webhooks are timed
    )
    channel.credentials = {"page_access_token": "bench-page-token"}
    channel.save()
    return channel


def _desk_env(simulator_url: str, var_dir: str) -> dict[str, str]:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    database_url = (
        f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "META_APP_SECRET": SECRET,
        "SIMULATOR_URL": simulator_url,
        "FACEBOOK_GRAPH_URL": simulator_url,
        "SOCIALDESK_VAR_DIR": var_dir,
        "LOG_LEVEL": "WARNING",
    }


def _start(command: list[str], env: dict[str, str], name: str) -> subprocess.Popen:
    """Start one of the desk's processes; its output goes to var/bench/freshness-<name>.log."""
    logs = Path(settings.VAR_DIR) / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    log = open(logs / f"freshness-{name}.log", "w")  # noqa: SIM115 (lives as long as the process)
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait_for_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(values: list[float], pct: int) -> float | str:
    if not values:
        return "n/a"
    ordered = sorted(values)  # nearest rank
    return round(ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)])


def _empty_tables() -> None:
    models = (WebhookEvent, QuarantinedPost, Mention, Case, Identity, Customer, Channel)
    with connection.cursor() as cursor:
        tables = ", ".join(model._meta.db_table for model in models)
        cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
