"""The health page, its JSON form, and the public ping."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from cases.models import Case, Customer, Identity
from listening.models import Mention, Network, QuarantinedPost
from listening.polling import WORKER_HEARTBEAT_KEY
from socialdesk import health
from socialdesk.celery import app as celery_app
from tests.conftest import logged_in, make_channel

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


pytestmark = pytest.mark.usefixtures("clean_cache")


@pytest.fixture
def worker_alive():
    cache.set(WORKER_HEARTBEAT_KEY, timezone.now().isoformat(), timeout=None)


def healthy_channel(**fields):
    now = timezone.now()
    network = fields.pop("network", Network.X)
    defaults = {
        "poll_interval": 60,
        "last_poll_at": now - timedelta(seconds=20),
        "last_success_at": now - timedelta(seconds=20),
        "next_poll_at": now + timedelta(seconds=40),
    }
    defaults.update(fields)
    return make_channel(network, **defaults)


def add_mentions(channel, count: int) -> None:
    customer = Customer.objects.create(display_name="C")
    identity = Identity.objects.create(
        customer=customer, network=channel.network, external_id=f"author-{channel.pk}"
    )
    case = Case.objects.create(customer=customer, channel=channel, conversation_key="k")
    Mention.objects.bulk_create(
        Mention(
            channel=channel,
            case=case,
            author=identity,
            external_id=f"{channel.pk}-{i}",
            kind="mention",
            text="hi",
            conversation_id="k",
            posted_at=timezone.now(),
        )
        for i in range(count)
    )


# ---------- ping ----------


def test_ping_is_public_and_checks_the_database(client, db, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get("/health/ping")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


# ---------- access ----------


def test_health_needs_a_login(client, db):
    response = client.get(reverse("listening:health"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("persona", ["agent", "qa", "outsider"])
def test_health_is_forbidden_without_view_health(request, persona):
    user = request.getfixturevalue(persona)
    assert logged_in(user).get(reverse("listening:health")).status_code == 403


# ---------- states ----------


def test_all_well_is_ok(supervisor, worker_alive):
    healthy_channel(name="Fine")
    report = health.gather()
    assert report.status == "ok"
    assert report.database.ok and report.broker.ok and report.worker.ok
    assert [c.state for c in report.channels] == ["ok"]


@pytest.mark.parametrize(
    ("fields", "state"),
    [
        ({"consecutive_failures": 2, "last_error": "503 from X"}, "failing"),
        ({"rate_limited_until_in": timedelta(minutes=10)}, "rate limited"),
        ({"needs_reauth": True}, "needs re-auth"),
        ({"last_success_ago": timedelta(minutes=4)}, "lagging"),  # > 3 x 60 s
    ],
)
def test_a_channel_problem_degrades_the_desk(db, worker_alive, fields, state):
    now = timezone.now()
    fields = dict(fields)
    if "rate_limited_until_in" in fields:
        fields["rate_limited_until"] = now + fields.pop("rate_limited_until_in")
    if "last_success_ago" in fields:
        fields["last_success_at"] = now - fields.pop("last_success_ago")
    healthy_channel(name="Problem", **fields)
    healthy_channel(name="Zfine")
    report = health.gather()
    assert [c.state for c in report.channels] == [state, "ok"]
    assert report.status == "degraded"


def test_a_past_rate_limit_is_not_a_problem(db, worker_alive):
    healthy_channel(rate_limited_until=timezone.now() - timedelta(minutes=1))
    report = health.gather()
    assert report.channels[0].state == "ok"
    assert report.channels[0].rate_limited_until is None
    assert report.status == "ok"


def test_a_new_channel_is_not_lagging_until_three_intervals_pass(db, worker_alive):
    make_channel(poll_interval=60)
    make_channel(poll_interval=60, created_at=timezone.now() - timedelta(minutes=10))
    states = [c.state for c in health.gather().channels]
    assert states == ["never polled", "lagging"]


def test_a_disabled_channel_is_not_a_problem(db, worker_alive):
    make_channel(enabled=False, created_at=timezone.now() - timedelta(days=2))
    report = health.gather()
    assert report.channels[0].state == "disabled"
    assert report.status == "ok"


def test_no_recent_worker_degrades_the_desk(db):
    healthy_channel()
    report = health.gather()
    assert not report.worker.ok
    assert report.worker.detail == "no worker seen yet"
    assert report.status == "degraded"

    seen = timezone.now() - timedelta(minutes=5)
    cache.set(WORKER_HEARTBEAT_KEY, seen.isoformat(), timeout=None)
    report = health.gather()
    assert report.worker.detail == f"no worker seen since {seen.isoformat(timespec='seconds')}"
    assert report.worker_last_seen == seen


def test_an_unreachable_broker_means_down(db, worker_alive):
    healthy_channel()
    report = health.gather(broker_url=UNREACHABLE_BROKER)
    assert not report.broker.ok
    assert report.broker.detail.startswith("broker unreachable")
    assert report.status == "down"


def test_health_page_answers_503_when_the_broker_is_down(supervisor, worker_alive, monkeypatch):
    monkeypatch.setitem(celery_app.conf, "broker_write_url", UNREACHABLE_BROKER)
    response = logged_in(supervisor).get(
        reverse("listening:health"), headers={"Accept": "application/json"}
    )
    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert response.json()["system"]["broker"]["ok"] is False


# ---------- counters and query count ----------


def test_mentions_and_quarantine_are_counted_per_channel(db, worker_alive):
    busy = healthy_channel(name="Busy")
    quiet = healthy_channel(name="Quiet")
    add_mentions(busy, 7)
    QuarantinedPost.objects.create(channel=quiet, reason="no author", payload='{"id": 1}')
    QuarantinedPost.objects.create(
        channel=quiet, reason="resolved", payload='{"id": 2}', resolved_at=timezone.now()
    )
    channels = {c.name: c for c in health.gather().channels}
    assert (channels["Busy"].mentions, channels["Busy"].quarantined) == (7, 0)
    assert (channels["Quiet"].mentions, channels["Quiet"].quarantined) == (0, 1)


@pytest.mark.parametrize("count", [1, 6])
def test_channel_health_costs_three_queries_whatever_the_channel_count(
    db, count, django_assert_num_queries
):
    for i in range(count):
        add_mentions(healthy_channel(name=f"C{i}"), 2)
    with django_assert_num_queries(3):
        channels = health.channel_health(timezone.now())
    assert [c.mentions for c in channels] == [2] * count


# ---------- HTML and JSON ----------


def test_health_page_html_shows_each_channel(supervisor, worker_alive):
    failing = healthy_channel(
        name="Acme X",
        consecutive_failures=3,
        last_error='<script>alert("x")</script> 503 Service Unavailable',
        last_error_at=timezone.now(),
        api_reads=1234,
        api_posts=5,
    )
    add_mentions(failing, 3)
    make_channel(Network.FACEBOOK, name="Never Polled Page")
    response = logged_in(supervisor).get(reverse("listening:health"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "badge--health-degraded" in html
    assert "Acme X" in html and "Never Polled Page" in html
    assert "badge--state-failing" in html
    assert "badge--state-never-polled" in html
    assert ">never<" in html
    assert "1,234 / 5" in html
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; 503 Service Unavailable" in html
    assert "Database" in html and "Broker" in html and "Worker" in html
    assert "Acme X: 3 failed polls in a row" in html


def test_browser_accept_header_gets_html(supervisor, worker_alive):
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = logged_in(supervisor).get(reverse("listening:health"), headers={"Accept": accept})
    assert response["Content-Type"].startswith("text/html")
    assert "Accept" in response["Vary"]


def test_health_json_has_the_same_data_with_iso_times_and_seconds(admin, worker_alive):
    now = timezone.now()
    channel = healthy_channel(
        name="Acme X",
        last_success_at=now - timedelta(seconds=90),
        rate_limited_until=now + timedelta(minutes=15),
        last_error="429 Too Many Requests",
        last_error_at=now - timedelta(seconds=30),
        api_reads=10,
    )
    add_mentions(channel, 2)
    response = logged_in(admin).get(
        reverse("listening:health"), headers={"Accept": "application/json"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert data["status"] == "degraded"
    assert data["problems"] == ["Acme X: rate limited by X"]
    assert data["system"]["database"] == {"ok": True, "detail": "ok"}
    assert data["system"]["broker"]["ok"] is True
    assert data["system"]["worker"]["ok"] is True
    (entry,) = data["channels"]
    assert entry["name"] == "Acme X"
    assert entry["state"] == "rate limited"
    assert 89 <= entry["lag_seconds"] <= 100
    assert entry["last_success_at"] == channel.last_success_at.isoformat()
    assert entry["rate_limited_until"] == channel.rate_limited_until.isoformat()
    assert entry["mentions"] == 2
    assert entry["api_reads"] == 10
    assert entry["quarantined"] == 0
    assert entry["needs_reauth"] is False
    assert entry["last_error"] == "429 Too Many Requests"
