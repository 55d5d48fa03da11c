"""Personas and small factories shared by every test module."""

import itertools
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
import responses
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.db import connection
from django.test import Client, override_settings

from listening.models import Channel, Network
from socialdesk import roles
from socialdesk.celery import app as celery_app
from tests.simulator import running_simulator

_seq = itertools.count(1)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Tests marked `longest` run first (after pytest-django has put the database tests in its
    order; a `longest` test uses no test database). Started last, the fault run alone kept one
    process busy for minutes after the other had finished; started first, the rest of the suite
    runs beside it."""
    items.sort(key=lambda item: item.get_closest_marker("longest") is None)


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Hash the personas' passwords cheaply: PBKDF2's million rounds cost up to seconds per user
    on a busy machine, and no test here asks how a password is stored, only who gets in."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    """Tests render pages without running collectstatic (production uses hashed names)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def make_user(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username)
    if role:
        user.groups.add(Group.objects.get(name=role))
    if role == roles.ADMIN:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return user


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser(settings, monkeypatch):
    """Debian's headless Chromium, driven by Playwright (which cannot download its own here)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still plain synchronous code (Django's documented escape hatch for this case).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # The live server speaks plain HTTP on localhost: no Secure-only cookies there.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def sign_in(browser, live_server, username: str, width: int = 1440, height: int = 900):
    """A new page signed in as `username` (password "pw-" + username), past the login page."""
    from playwright.sync_api import expect

    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"pw-{username}")
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
    return page


X_API = "http://x-sim.test:8100"  # where the X connector's requests go in `responses` tests


@pytest.fixture
def x_settings(settings):
    settings.X_API_BASE_URL = X_API
    settings.SOCIAL_HTTP_TIMEOUT = 7.0
    return settings


def calls_to(rsps: responses.RequestsMock, url: str) -> list:
    """The requests `rsps` saw to `url`, whatever their query string."""
    return [c for c in rsps.calls if c.request.url.split("?")[0] == url]


@pytest.fixture
def rsps():
    """The HTTP edge faked with `responses`: the real tweepy and facebook-sdk code runs."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def logged_in(user: User) -> Client:
    """A test client signed in as `user`."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def clean_cache():
    """An empty cache around the test: this run's own Redis db, shared by every test in it."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def agent(db) -> User:
    return make_user("alice_agent", roles.AGENT)


@pytest.fixture
def qa(db) -> User:
    return make_user("quinn_qa", roles.QA)


@pytest.fixture
def supervisor(db) -> User:
    return make_user("sam_supervisor", roles.SUPERVISOR)


@pytest.fixture
def admin(db) -> User:
    return make_user("ada_admin", roles.ADMIN)


@pytest.fixture
def outsider(db) -> User:
    return make_user("oscar_outsider", None)


def run_queued_tasks() -> list[str]:
    """Consume this test's Celery queue from Redis and run each task here, as a worker would."""
    ran = []
    with celery_app.connection_for_read() as conn:
        queue = conn.SimpleQueue(celery_app.conf.task_default_queue)
        try:
            while True:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    break
                args, kwargs, _ = message.decode()
                message.ack()
                name = message.headers["task"]
                celery_app.tasks[name].apply(args=args, kwargs=kwargs)
                ran.append(name)
        finally:
            queue.close()
    return ran


def make_channel(network: str = Network.X, **fields) -> Channel:
    n = next(_seq)
    defaults = {
        "name": f"Brand {network} {n}",
        "handle": f"brand{n}",
        "external_account_id": str(900000 + n),
    }
    defaults.update(fields)
    credentials = defaults.pop("credentials", None)
    channel = Channel(network=network, **defaults)
    channel.credentials = credentials or (
        {"bearer_token": "test-bearer", "user_id": defaults["external_account_id"]}
        if network == Network.X
        else {"page_access_token": "test-page-token", "page_id": "2000"}
        if network == Network.INSTAGRAM
        else {"page_access_token": "test-page-token"}
    )
    channel.save()
    return channel


@pytest.fixture
def x_channel(db) -> Channel:
    return make_channel(Network.X)


@pytest.fixture
def facebook_channel(db) -> Channel:
    return make_channel(Network.FACEBOOK)


def at(text: str) -> datetime:
    """A UTC datetime from 'YYYY-MM-DD HH:MM'."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


# ---- the whole desk in motion: simulator + a real Celery worker (end-to-end and browser) ----

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """The URL of the database pytest-django created, for processes started by a test."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


@pytest.fixture
def simulator():
    with running_simulator(seed=11) as sim:
        yield sim


@pytest.fixture
def worker(request, simulator, tmp_path):
    """A Celery worker with embedded beat, polling every second, talking to the simulator.

    `@pytest.mark.parametrize("worker", [{"beat": False}], indirect=True)` starts it without
    beat: it then runs only the task messages the test sends. Needs a transactional test (its
    own process reads what the test commits).
    """
    beat = getattr(request, "param", {}).get("beat", True)
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "SIMULATOR_URL": simulator.url,
        "X_API_BASE_URL": simulator.url,
        "FACEBOOK_GRAPH_URL": simulator.url,
        "POLL_TICK_SECONDS": "1",
        "SOCIALDESK_VAR_DIR": str(tmp_path),
        "LOG_LEVEL": "WARNING",
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "socialdesk", "worker"]
            + (["-B"] if beat else [])
            + ["--pool", "solo", "--loglevel", "WARNING"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        yield process
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    print(log_path.read_text()[-5000:])  # shown by pytest when the test fails


def wait_for(predicate, timeout: float = 60.0, message: str = "the worker") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {message}")


# ---- sending against the simulator (test_sending, test_sending_lag) -------------------------

X_BRAND = "1000"  # the simulator's default X account and Facebook page
FB_PAGE = "2000"


@pytest.fixture
def sim(settings):
    """A simulator the connectors talk to (modules that need another seed have their own)."""
    with running_simulator(seed=3, fault_sleep=2.0) as client:
        settings.X_API_BASE_URL = client.url
        settings.FACEBOOK_GRAPH_URL = client.url
        settings.SOCIAL_HTTP_TIMEOUT = 1.0
        yield client


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    """Reply ids of the send_reply task messages that were sent (instead of a broker)."""
    from cases import tasks

    messages: list[int] = []
    monkeypatch.setattr(tasks.send_reply, "delay", messages.append)
    return messages


@pytest.fixture
def x_channel_sim(sim) -> Channel:
    return make_channel(
        "x", external_account_id=X_BRAND, handle="acme_support", credentials={"bearer_token": "t"}
    )


@pytest.fixture
def fb_channel_sim(sim) -> Channel:
    return make_channel(
        "facebook",
        external_account_id=FB_PAGE,
        handle="Acme",
        credentials={"page_access_token": "t"},
    )
