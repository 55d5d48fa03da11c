"""The health page, its JSON form, the monitor endpoint, and the public ping."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts import liveness
from cases.models import Case, Customer, Identity, Reply
from listening.models import Mention, Network, QuarantinedPost
from socialdesk import health
from socialdesk.celery import app as celery_app
from tests.conftest import logged_in, make_channel
from tests.factories import make_case, make_reply

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


pytestmark = pytest.mark.usefixtures("clean_cache")


@pytest.fixture
def worker_alive():
    """Beat ticked and a worker ran the heartbeat task just now."""
    liveness.record_beat_tick()
    liveness.record_worker_heartbeat()


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


def test_a_dead_worker_is_told_apart_from_a_dead_beat(db):
    healthy_channel()
    now = timezone.now()
    liveness.record_beat_tick(now)
    report = health.gather(now)
    assert report.beat.ok
    assert (report.worker.ok, report.worker.known) == (False, True)
    assert report.worker.detail == "no worker has run a task yet (beat is ticking)"
    assert report.status == "degraded"
    assert report.failing_checks == ["worker"]

    # Beat stopped too: the worker's state cannot be told, beat is the cause.
    liveness.record_beat_tick(now - timedelta(minutes=5))
    liveness.record_worker_heartbeat(now - timedelta(minutes=5))
    report = health.gather(now)
    assert not report.beat.ok
    assert report.beat.detail.startswith("no tick for 5 min (since ")
    assert (report.worker.ok, report.worker.known) == (False, False)
    assert report.worker.detail.startswith("unknown while beat is down (last heartbeat ")
    assert report.failing_checks == ["beat"]
    assert report.beat_last_seen == now - timedelta(minutes=5)

    # Beat back, worker still gone: the worker is the cause.
    liveness.record_beat_tick(now)
    report = health.gather(now)
    assert report.beat.ok and not report.worker.ok and report.worker.known
    assert report.failing_checks == ["worker"]


def test_a_worker_heartbeat_alone_does_not_prove_beat(db):
    liveness.record_worker_heartbeat()
    report = health.gather()
    assert report.worker.ok
    assert report.beat.detail.startswith("beat has not ticked yet")
    assert report.failing_checks == ["beat"]


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
def test_channel_health_costs_four_queries_whatever_the_channel_count(
    db, count, django_assert_num_queries
):
    for i in range(count):
        add_mentions(healthy_channel(name=f"C{i}"), 2)
    with django_assert_num_queries(4):
        channels = health.channel_health(timezone.now())
    assert [c.mentions for c in channels] == [2] * count


@pytest.mark.parametrize("count", [1, 6])
def test_gather_costs_six_queries_whatever_the_channels_and_replies(
    admin, worker_alive, count, django_assert_num_queries
):
    now = timezone.now()
    for i in range(count):
        channel = healthy_channel(name=f"C{i}", needs_reauth=bool(i % 2))
        case = make_case(channel)
        make_reply(case, admin, Reply.State.QUEUED, queued_at=now)
        make_reply(case, admin, Reply.State.FAILED, sending_started_at=now)
        QuarantinedPost.objects.create(channel=channel, reason="no author", payload="{}")
    # SELECT 1, four for the channels, one aggregate over the replies.
    with django_assert_num_queries(6):
        report = health.gather(now)
    assert len(report.channels) == count
    assert report.replies_failing.detail.startswith(f"{count} repl")


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
    assert data["system"]["database"] == {"ok": True, "detail": "ok", "known": True}
    assert data["failing"] == ["channels"]
    assert data["system"]["beat"]["ok"] is True and data["system"]["beat"]["last_seen"]
    assert data["system"]["queue"]["depth"] == 0
    assert data["replies"]["replies_stuck"] == {"ok": True, "detail": "none", "known": True}
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


# ---------- replies, queue, quarantine, intake gaps ----------


def test_replies_stuck_in_sending_or_queued_past_their_time(admin, worker_alive, settings):
    settings.HEALTH_REPLY_STUCK_GRACE_SECONDS = 120
    now = timezone.now()
    recovery = timedelta(
        seconds=settings.CELERY_TASK_TIME_LIMIT + settings.REPLY_RECOVERY_MARGIN_SECONDS
    )
    case = make_case(healthy_channel())
    # Within the recovery window plus the grace, and queued for a retry time still to come:
    make_reply(case, admin, Reply.State.SENDING, sending_started_at=now - recovery)
    make_reply(case, admin, Reply.State.QUEUED, next_attempt_at=now - timedelta(seconds=60))
    make_reply(case, admin, Reply.State.QUEUED, queued_at=now - timedelta(seconds=60))
    report = health.gather(now)
    assert report.replies_stuck.ok and report.replies_stuck.detail == "none"
    assert report.status == "ok"

    make_reply(
        case, admin, Reply.State.SENDING, sending_started_at=now - recovery - timedelta(minutes=3)
    )
    make_reply(case, admin, Reply.State.QUEUED, next_attempt_at=now - timedelta(minutes=3))
    make_reply(case, admin, Reply.State.QUEUED, queued_at=now - timedelta(minutes=3))
    report = health.gather(now)
    assert not report.replies_stuck.ok
    assert report.replies_stuck.detail == (
        "1 reply in sending past recovery; 2 replies waiting past their retry time"
    )
    assert report.failing_checks == ["replies_stuck"]
    assert "Stuck replies: 1 reply in sending past recovery" in report.problems[0]


def test_replies_failed_in_the_last_hour_degrade_the_desk(admin, worker_alive, settings):
    settings.HEALTH_FAILED_REPLIES_PER_HOUR = 2
    now = timezone.now()
    case = make_case(healthy_channel())
    make_reply(case, admin, Reply.State.FAILED, sending_started_at=now - timedelta(hours=2))
    make_reply(case, admin, Reply.State.FAILED, sending_started_at=now - timedelta(minutes=5))
    report = health.gather(now)
    assert report.replies_failing.ok
    assert report.replies_failing.detail == "1 reply failed in the last hour"

    make_reply(case, admin, Reply.State.FAILED, sending_started_at=now - timedelta(minutes=1))
    report = health.gather(now)
    assert not report.replies_failing.ok
    assert report.replies_failing.detail == "2 replies failed in the last hour (threshold 2)"
    assert report.status == "degraded"


def test_replies_waiting_on_a_channel_that_needs_reauth_are_unsendable(admin, worker_alive):
    blocked = healthy_channel(name="Acme X", needs_reauth=True)
    fine = healthy_channel(name="Acme FB")
    now = timezone.now()
    make_reply(make_case(fine), admin, Reply.State.QUEUED, queued_at=now)
    report = health.gather(now)
    assert report.replies_unsendable.ok  # nothing waits on the blocked channel

    case = make_case(blocked)
    make_reply(case, admin, Reply.State.QUEUED, queued_at=now)
    make_reply(case, admin, Reply.State.SENDING, sending_started_at=now)
    make_reply(case, admin, Reply.State.SENT, sent_at=now)
    report = health.gather(now)
    assert not report.replies_unsendable.ok
    assert report.replies_unsendable.detail == "2 replies wait for re-authorisation of Acme X"
    channel = next(c for c in report.channels if c.name == "Acme X")
    assert channel.replies_waiting == 2
    assert (
        channel.problem() == "Acme X: X rejected the token; reconnect it (2 replies cannot be sent)"
    )


def test_queue_depth_is_read_from_redis(db, worker_alive, settings):
    healthy_channel()
    assert health.gather().queue_depth == 0
    for _ in range(3):
        celery_app.send_task("alerts.tasks.worker_heartbeat")
    report = health.gather()
    assert report.queue_depth == 3
    assert report.queue.ok and report.queue.detail == "3 messages waiting"

    settings.HEALTH_QUEUE_DEPTH = 3
    report = health.gather()
    assert not report.queue.ok
    assert report.queue.detail == "3 messages waiting (threshold 3)"
    assert report.failing_checks == ["queue"]


def test_queue_depth_of_the_embedded_filesystem_broker(db, tmp_path, monkeypatch):
    folder = tmp_path / "broker"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    monkeypatch.setitem(celery_app.conf, "broker_transport_options", options)
    with celery_app.connection_for_write("filesystem://") as conn:
        for _ in range(2):
            celery_app.send_task("alerts.tasks.worker_heartbeat", connection=conn)
    broker, queue, depth = health.check_broker("filesystem://")
    assert broker.ok and depth == 2
    assert queue.detail == "2 messages waiting"


def test_queue_depth_of_an_unreachable_broker_is_unknown(db, worker_alive):
    report = health.gather(broker_url=UNREACHABLE_BROKER)
    assert (report.queue.known, report.queue_depth) == (False, None)


def test_quarantine_growth_against_hour_and_day_thresholds(db, worker_alive, settings):
    settings.HEALTH_QUARANTINE_PER_HOUR = 3
    settings.HEALTH_QUARANTINE_PER_DAY = 5
    channel = healthy_channel()
    now = timezone.now()

    def quarantine(count, ago, **fields):
        QuarantinedPost.objects.bulk_create(
            QuarantinedPost(
                channel=channel,
                reason="no author",
                payload=f'{{"n": {n}}}',
                digest=f"{ago}-{n}",  # one row per distinct record
                created_at=now - ago,
                **fields,
            )
            for n in range(count)
        )

    quarantine(2, timedelta(minutes=10))
    quarantine(1, timedelta(hours=3), resolved_at=now)  # resolved still counts as added
    quarantine(9, timedelta(days=3))  # too old to count as growth
    report = health.gather(now)
    assert report.quarantine.ok
    assert report.quarantine.detail == "2 added in the last hour, 3 in the last day"
    assert report.channels[0].quarantined == 11

    quarantine(2, timedelta(hours=5))
    report = health.gather(now)
    assert not report.quarantine.ok
    assert report.quarantine.detail == (
        "growing: 2 added in the last hour, 5 in the last day (thresholds 3/h, 5/day)"
    )


def test_intake_gaps_are_read_defensively_and_recent_ones_degrade(
    supervisor, worker_alive, monkeypatch
):
    now = timezone.now()
    gaps = [
        {
            "stream": "search:refund",
            "since": (now - timedelta(days=9)).isoformat(),
            "until": (now - timedelta(days=7)).isoformat(),
            "reason": "<b>recent search</b> keeps 7 days",
            "detected_at": (now - timedelta(hours=1)).isoformat(),
        },
        {
            "stream": "mentions",
            "since": "junk",
            "detected_at": (now - timedelta(days=3)).isoformat(),
        },
        "not a gap",
    ]
    healthy_channel(name="Acme X", intake_gaps=gaps)
    report = health.gather(now)
    (channel,) = report.channels
    assert [gap.stream for gap in channel.intake_gaps] == ["search:refund", "mentions"]
    assert [gap.stream for gap in channel.recent_gaps] == ["search:refund"]
    assert channel.intake_gaps[1].since is None
    assert report.failing_checks == ["channels"]
    assert report.problems[0].startswith("Acme X: search:refund: posts between ")
    assert report.problems[0].endswith("may be missing (<b>recent search</b> keeps 7 days)")

    html = logged_in(supervisor).get(reverse("listening:health")).content.decode()
    assert "Intake gap" in html
    assert "&lt;b&gt;recent search&lt;/b&gt;" in html and "<b>recent search" not in html


def test_health_page_shows_every_check_with_its_cause(supervisor, admin, settings):
    liveness.record_beat_tick()  # beat alive, no worker
    settings.HEALTH_FAILED_REPLIES_PER_HOUR = 1
    make_reply(
        make_case(healthy_channel()), admin, Reply.State.FAILED, sending_started_at=timezone.now()
    )
    html = logged_in(supervisor).get(reverse("listening:health")).content.decode()
    for label in ("Beat (scheduler)", "Worker", "Broker queue", "Quarantine", "Stuck replies"):
        assert label in html
    assert 'data-check="worker"' in html
    assert "No worker has run a task yet (beat is ticking)" in html
    assert "1 reply failed in the last hour (threshold 1)" in html
    assert html.count("check--warn") == 2  # the worker and the failed replies


# ---------- the monitor endpoint ----------


def test_monitor_answers_200_when_healthy_without_a_session(client, db, worker_alive):
    healthy_channel()
    response = client.get(reverse("listening:monitor"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "failing": []}
    assert "no-cache" in response["Cache-Control"]


def test_monitor_answers_503_when_degraded_naming_checks_but_nothing_sensitive(
    client, admin, worker_alive
):
    healthy_channel(
        name="Secret Brand", handle="secret_handle", needs_reauth=True, last_error="token xyz"
    )
    response = client.get(reverse("listening:monitor"))
    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "failing": ["channels"]}
    body = response.content.decode()
    assert "Secret" not in body and "secret_handle" not in body and "xyz" not in body


def test_monitor_token_adds_the_causes(client, db, worker_alive, settings):
    settings.HEALTH_MONITOR_TOKEN = "s3cret-token"
    healthy_channel(name="Acme X", needs_reauth=True)
    url = reverse("listening:monitor")
    wrong = client.get(url, headers={"Authorization": "Bearer nope-é"})
    assert "problems" not in wrong.json()
    right = client.get(url, headers={"Authorization": "Bearer s3cret-token"})
    assert right.status_code == 503
    assert right.json()["problems"] == ["Acme X: X rejected the token; reconnect it"]


def test_monitor_answers_503_when_the_broker_is_down(client, db, worker_alive, monkeypatch):
    monkeypatch.setitem(celery_app.conf, "broker_write_url", UNREACHABLE_BROKER)
    response = client.get(reverse("listening:monitor"))
    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert "broker" in response.json()["failing"]
