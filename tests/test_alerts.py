"""Admins are told once when a condition starts and once when it ends (alerts)."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import responses
from django.core import mail
from django.db import connection
from django.utils import timezone

from alerts import liveness, notify, tasks
from alerts.evaluate import RAISED, RESOLVED, evaluate_alerts
from alerts.liveness import (
    BeatWatch,
    HeartbeatScheduler,
    evaluate_if_no_beat,
    evaluate_if_no_worker,
)
from alerts.models import AlertState
from cases.models import Reply
from listening.models import Channel, QuarantinedPost
from socialdesk.celery import app as celery_app
from tests.conftest import make_channel, run_queued_tasks
from tests.factories import make_case, make_reply

pytestmark = pytest.mark.usefixtures("clean_cache")

HOOK = "https://hooks.example.test/services/T0/B0/secret"
HOSTILE = '<!channel> @here [click](http://evil.test) & "Acme"\nBcc: victim@example.com'


@pytest.fixture
def ops(admin):
    """The admin, with an address: the default recipient of alerts."""
    admin.email = "ada@example.com"
    admin.save(update_fields=["email"])
    return admin


@pytest.fixture
def desk(ops):
    """A healthy desk: beat and worker alive, one channel polled just now."""
    now = timezone.now()
    liveness.record_beat_tick(now)
    liveness.record_worker_heartbeat(now)
    return make_channel(
        name="Acme X",
        poll_interval=60,
        last_poll_at=now,
        last_success_at=now,
        next_poll_at=now + timedelta(seconds=60),
    )


@pytest.fixture
def evaluate(django_capture_on_commit_callbacks):
    """One evaluation as beat's fallback runs it: notifications sent in-process after commit."""

    def run(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return evaluate_alerts(timezone.now(), deliver_inline=True, **kwargs)

    return run


def keys(transitions, event):
    return {t.key for t in transitions if t.event == event}


# ---- each condition: raised once, resolved once ----


def _update(channel, **fields):
    Channel.objects.filter(pk=channel.pk).update(**fields)


def _degrade(name, desk, ops, settings, monkeypatch):
    """Make condition `name` true; return (the keys it raises, a function that ends it)."""
    now = timezone.now()
    if name == "reauth":
        _update(desk, needs_reauth=True, last_error="401 Unauthorized")
        return {f"channel-reauth:{desk.pk}"}, lambda: _update(desk, needs_reauth=False)
    if name == "failing":
        settings.ALERT_CHANNEL_FAILING_MINUTES = 15
        _update(desk, consecutive_failures=4, last_success_at=now - timedelta(minutes=20))
        return {f"channel-failing:{desk.pk}"}, lambda: _update(
            desk, consecutive_failures=0, last_success_at=timezone.now()
        )
    if name == "gap":
        gap = {"stream": "mentions", "since": "2026-12-01T00:00:00+00:00", "reason": "window"}
        _update(desk, intake_gaps=[gap])
        return {f"intake-gap:{desk.pk}:mentions:2026-12-01T00:00:00+00:00"}, lambda: _update(
            desk, intake_gaps=[]
        )
    if name == "replies_failing":
        reply = make_reply(make_case(desk), ops, Reply.State.FAILED, sending_started_at=now)
        return {"replies_failing"}, lambda: _sent(reply)
    if name == "replies_stuck":
        reply = make_reply(
            make_case(desk), ops, Reply.State.QUEUED, next_attempt_at=now - timedelta(hours=1)
        )
        return {"replies_stuck"}, lambda: _sent(reply)
    if name == "replies_unsendable":
        other = make_channel(name="Blocked", needs_reauth=True)
        reply = make_reply(make_case(other), ops, Reply.State.QUEUED, queued_at=now)
        return {"replies_unsendable", f"channel-reauth:{other.pk}"}, lambda: _sent(reply)
    if name == "beat":
        liveness.record_beat_tick(now - timedelta(minutes=10))
        return {"beat"}, liveness.record_beat_tick
    if name == "worker":
        liveness.record_worker_heartbeat(now - timedelta(minutes=10))
        return {"worker"}, liveness.record_worker_heartbeat
    if name == "quarantine":
        settings.HEALTH_QUARANTINE_PER_HOUR = 3
        QuarantinedPost.objects.bulk_create(
            QuarantinedPost(channel=desk, reason="bad", payload=f'{{"n": {n}}}', digest=str(n))
            for n in range(3)
        )
        return {"quarantine"}, QuarantinedPost.objects.all().delete
    if name == "queue":
        settings.HEALTH_QUEUE_DEPTH = 2
        for _ in range(2):
            celery_app.send_task("alerts.tasks.worker_heartbeat")
        return {"queue"}, lambda: celery_app.control.purge()
    raise AssertionError(name)


def _sent(reply):
    Reply.objects.filter(pk=reply.pk).update(state=Reply.State.SENT, sent_at=timezone.now())


CONDITIONS = [
    "reauth",
    "failing",
    "gap",
    "replies_failing",
    "replies_stuck",
    "replies_unsendable",
    "beat",
    "worker",
    "quarantine",
    "queue",
]


@pytest.mark.parametrize("name", CONDITIONS)
def test_each_condition_notifies_once_when_it_starts_and_once_when_it_ends(
    name, desk, ops, evaluate, settings, monkeypatch
):
    assert evaluate() == []  # a healthy desk says nothing
    expected, end = _degrade(name, desk, ops, settings, monkeypatch)

    raised = evaluate()
    assert keys(raised, RAISED) == expected
    assert evaluate() == []  # still true: not notified again
    assert len(mail.outbox) == len(expected)
    assert all(m.subject.startswith("[SocialDesk] Problem: ") for m in mail.outbox)
    assert all(m.to == ["ada@example.com"] for m in mail.outbox)
    assert AlertState.objects.filter(active=True).count() == len(expected)

    end()
    if name == "replies_unsendable":
        expected = {"replies_unsendable"}  # the channel itself still needs re-auth
    resolved = evaluate()
    assert keys(resolved, RESOLVED) == expected and not keys(resolved, RAISED)
    assert evaluate() == []
    recovered = [m for m in mail.outbox if m.subject.startswith("[SocialDesk] Recovered: ")]
    assert len(recovered) == len(expected)


def test_a_condition_that_comes_back_is_notified_again(desk, evaluate):
    _update(desk, needs_reauth=True)
    evaluate()
    _update(desk, needs_reauth=False)
    evaluate()
    _update(desk, needs_reauth=True)
    assert keys(evaluate(), RAISED) == {f"channel-reauth:{desk.pk}"}
    assert [m.subject.split(":")[0] for m in mail.outbox] == [
        "[SocialDesk] Problem",
        "[SocialDesk] Recovered",
        "[SocialDesk] Problem",
    ]


def test_a_channel_failing_for_less_than_n_minutes_is_not_notified(desk, evaluate, settings):
    settings.ALERT_CHANNEL_FAILING_MINUTES = 15
    _update(desk, consecutive_failures=2, last_success_at=timezone.now() - timedelta(minutes=5))
    assert evaluate() == []


def test_two_evaluators_never_both_raise_one_condition(desk):
    _update(desk, needs_reauth=True)
    now = timezone.now()
    first = evaluate_alerts(now)
    second = evaluate_alerts(now)
    assert len(first) == 1 and second == []
    assert AlertState.objects.get().started_at == now


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_evaluators_raise_one_condition_once(ops):
    make_channel(name="Acme X", needs_reauth=True)
    liveness.record_beat_tick()
    liveness.record_worker_heartbeat()
    now = timezone.now()
    barrier = threading.Barrier(2)
    results = []

    def evaluator():
        try:
            barrier.wait()
            results.append(evaluate_alerts(now, deliver_inline=True))
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluator) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(r) for r in results) == [0, 1]
    assert len(mail.outbox) == 1


# ---- recipients and hostile text ----


def test_alert_emails_setting_overrides_the_admins(desk, evaluate, settings):
    settings.ALERT_EMAILS = ["oncall@example.com", "lead@example.com"]
    _update(desk, needs_reauth=True)
    evaluate()
    (message,) = mail.outbox
    assert message.to == ["oncall@example.com", "lead@example.com"]


def test_inactive_admins_and_other_roles_get_nothing(desk, ops, supervisor, evaluate):
    supervisor.email = "sam@example.com"
    supervisor.save(update_fields=["email"])
    assert notify.recipients() == ["ada@example.com"]
    ops.is_active = False
    ops.save(update_fields=["is_active"])
    _update(desk, needs_reauth=True)
    evaluate()
    assert mail.outbox == []  # nobody to tell, and the evaluation still recorded it
    assert AlertState.objects.filter(active=True).count() == 1


def test_hostile_channel_names_and_errors_stay_plain_text_in_the_email(desk, evaluate):
    _update(desk, name=HOSTILE, needs_reauth=True, last_error="<script>alert(1)</script>")
    evaluate()
    (message,) = mail.outbox
    assert "\n" not in message.subject and "Bcc" in message.subject  # flattened, not a header
    assert message.content_subtype == "plain"
    assert not getattr(message, "alternatives", [])
    assert "<script>alert(1)</script>" in message.body  # shown as text, never as HTML
    assert message.bcc == []


# ---- the webhook ----


def test_webhook_posts_neutral_json_that_slack_and_mattermost_accept(
    desk, evaluate, settings, rsps
):
    settings.ALERT_WEBHOOK_URL = HOOK
    rsps.post(HOOK, body="ok")
    _update(desk, name=HOSTILE, needs_reauth=True)
    evaluate()
    (call,) = rsps.calls
    assert call.request.headers["Content-Type"] == "application/json"
    payload = json.loads(call.request.body)
    assert list(payload) == ["text"]
    text = payload["text"]
    assert text.startswith("SocialDesk Problem: ")
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text
    assert "@\u2060here" in text and "@here" not in text
    assert "]\u2060(http://evil.test)" in text and "](" not in text
    assert '&amp; "Acme"' in text


def test_webhook_in_adaptive_card_form_for_teams_workflows(desk, evaluate, settings, rsps):
    settings.ALERT_WEBHOOK_URL = HOOK
    settings.ALERT_WEBHOOK_FORMAT = "adaptive-card"
    rsps.post(HOOK, status=202)
    _update(desk, needs_reauth=True)
    evaluate()
    payload = json.loads(rsps.calls[0].request.body)
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    (block,) = attachment["content"]["body"]
    assert block["type"] == "TextBlock" and "Acme X (X) needs re-authorisation" in block["text"]


@pytest.mark.parametrize(
    "failure", [{"status": 500}, {"body": requests.ConnectionError("refused")}]
)
def test_a_failing_webhook_never_breaks_the_evaluation(desk, evaluate, settings, rsps, failure):
    settings.ALERT_WEBHOOK_URL = HOOK
    rsps.post(HOOK, **failure)
    _update(desk, needs_reauth=True)
    assert keys(evaluate(), RAISED) == {f"channel-reauth:{desk.pk}"}
    assert len(mail.outbox) == 1  # the e-mail still went
    assert evaluate() == []


def test_webhook_delivery_retries_5xx_at_most_five_times_and_never_4xx(settings, rsps):
    settings.ALERT_WEBHOOK_URL = HOOK
    rsps.post(HOOK, status=503)
    result = tasks.post_alert_webhook.apply(args=["text"])
    assert result.failed()
    assert len(rsps.calls) == 1 + tasks.MAX_RETRIES

    rsps.replace(responses.POST, HOOK, status=404)
    before = len(rsps.calls)
    assert tasks.post_alert_webhook.apply(args=["text"]).failed()
    assert len(rsps.calls) == before + 1


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        length = int(self.headers["Content-Length"])
        self.received.append((self.path, self.headers["Content-Type"], self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/desk", _Receiver.received
    server.shutdown()
    server.server_close()


def test_notifications_go_through_celery_to_a_real_http_receiver(
    desk, settings, receiver, django_capture_on_commit_callbacks
):
    url, received = receiver
    settings.ALERT_WEBHOOK_URL = url
    _update(desk, needs_reauth=True)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        evaluate_alerts(timezone.now())
    assert len(callbacks) == 1 and mail.outbox == []  # queued, not sent in-process
    assert sorted(run_queued_tasks()) == [
        "alerts.tasks.post_alert_webhook",
        "alerts.tasks.send_alert_email",
    ]
    ((path, content_type, body),) = received
    assert (path, content_type) == ("/hooks/desk", "application/json")
    assert json.loads(body)["text"].startswith("SocialDesk Problem: Acme X (X) needs re-auth")
    assert len(mail.outbox) == 1


# ---- beat's side ----


def test_beat_evaluates_alerts_itself_when_no_worker_runs(desk, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert evaluate_if_no_worker() is False  # the worker is alive: its task does it
    liveness.record_worker_heartbeat(timezone.now() - timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        assert evaluate_if_no_worker() is True
    (message,) = mail.outbox
    assert message.subject.startswith("[SocialDesk] Problem: Worker: no worker has run a task")


def test_workers_enqueue_the_evaluation_when_beat_is_silent(
    desk, django_capture_on_commit_callbacks
):
    assert evaluate_if_no_beat() is False  # beat ticks: its schedule does it
    assert run_queued_tasks() == []
    liveness.record_beat_tick(timezone.now() - timedelta(minutes=10))
    assert evaluate_if_no_beat() is True
    with django_capture_on_commit_callbacks(execute=True):
        assert run_queued_tasks() == ["alerts.tasks.evaluate_alerts"]
    # The evaluation itself queued the notification; run it as the worker would.
    assert run_queued_tasks() == ["alerts.tasks.send_alert_email"]
    (message,) = mail.outbox
    assert message.subject.startswith("[SocialDesk] Problem: Beat (scheduler): no tick for 10 min")


def test_the_beat_watch_is_a_worker_step():
    assert BeatWatch in celery_app.steps["worker"]


def test_beat_scheduler_writes_its_heartbeat_on_every_tick(db, tmp_path):
    scheduler = HeartbeatScheduler(app=celery_app, schedule_filename=str(tmp_path / "beat"))
    try:
        assert liveness.cache_get(liveness.BEAT_HEARTBEAT_KEY) is None
        sleep = scheduler.tick()
        assert 0 <= sleep <= liveness.BEAT_MAX_SLEEP
        assert liveness.cache_get(liveness.BEAT_HEARTBEAT_KEY)
    finally:
        scheduler.close()


def test_worker_heartbeat_task_writes_the_worker_key(db):
    tasks.worker_heartbeat.apply()
    assert liveness.cache_get(liveness.WORKER_HEARTBEAT_KEY)
