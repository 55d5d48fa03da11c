"""No channel secret reaches a table, a page, JSON or a log line, whatever fails.

A canary value is planted in every credential of an X channel (OAuth 2.0 access token, refresh
token, client secret) and a Facebook channel (Page token). Then every failure of both
connectors is driven through the real poll and send code, at DEBUG log level, with a network
that is as hostile as it gets: errors quoting the whole URL (facebook-sdk puts the Page token
in the query string), answers echoing the token and the Authorization header. Afterwards the
canaries must appear in no row of any table, no page and no log line.
"""

import http.server
import io
import json
import logging
import re
import socket
import threading
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import requests
from django.apps import apps
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from cases import sending, tasks
from cases.models import CaseEvent, Reply
from listening import polling
from listening.models import Channel, Network
from socialdesk.logging import KeyValueFormatter, ScrubFilter
from socialdesk.scrub import REDACTED, scrub
from tests.conftest import X_API, logged_in, make_channel
from tests.factories import make_queued_reply

GRAPH = "http://graph.test"
X_BEARER = "CANARYxBEARERaccess0123456789"
X_REFRESH = "CANARYxREFRESH0123456789"
X_SECRET = "CANARYxCLIENTsecret0123456789"
FB_TOKEN = "CANARYxFBpageTOKEN0123456789"
CANARIES = (X_BEARER, X_REFRESH, X_SECRET, FB_TOKEN)
# The canaries share this stem: a fragment of any of them is caught too.
STEM = "CANARYx"

MODES = ("refused", "connect_timeout", "read_timeout", "invalid_json", "api_error", "auth", "5xx")


def _leaks(text: str) -> list[str]:
    return [c for c in CANARIES if c in text] + ([STEM] if STEM in text else [])


class HostileNetwork:
    """Answers every request to X and Graph with the failure of the current mode.

    Every answer quotes what it was sent: the URL with its query string, the Authorization
    header and the form body (the refresh token), so a message copied anywhere would leak.
    """

    def __init__(self) -> None:
        self.mode = MODES[0]
        self.seen: list[str] = []

    def __call__(self, request: requests.PreparedRequest):
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        echo = f"{request.url} {request.headers.get('Authorization', '')} {body}"
        self.seen.append(echo)
        if self.mode == "refused":
            reason = NewConnectionError(None, "Failed to establish a new connection: refused")
            raise requests.ConnectionError(MaxRetryError(None, request.url, reason))
        if self.mode == "connect_timeout":
            reason = ConnectTimeoutError(None, f"Connection to {request.url} timed out")
            raise requests.ConnectTimeout(MaxRetryError(None, request.url, reason))
        if self.mode == "read_timeout":
            raise requests.ReadTimeout(f"Read timed out for {request.url}")
        headers = {"content-type": "application/json"}
        if self.mode == "invalid_json":
            return 200, headers, f"<html>proxy error for {echo}</html>"
        if "/oauth2/token" in request.url:
            token = parse_qs(body).get("refresh_token", [""])[0]
            error = {"error": "invalid_request", "error_description": f"bad token {token}"}
            return 400, headers, json.dumps(error)
        status = {"api_error": 400, "auth": 401, "5xx": 503}[self.mode]
        code = {"api_error": 100, "auth": 190, "5xx": 2}[self.mode]
        answer = {
            "error": {"message": f"cannot serve {echo}", "code": code, "type": "OAuthException"},
            "title": "Refused",
            "detail": f"cannot serve {echo}",
            "errors": [{"message": f"cannot serve {echo}"}],
        }
        return status, headers, json.dumps(answer)


@pytest.fixture
def network(rsps, settings, x_settings):
    settings.FACEBOOK_GRAPH_URL = GRAPH
    hostile = HostileNetwork()
    for method in ("GET", "POST", "DELETE"):
        for base in (GRAPH, X_API):
            rsps.add_callback(method, re.compile(re.escape(base) + r"/.*"), callback=hostile)
    return hostile


@pytest.fixture
def log_output(caplog):
    """Every log line at DEBUG, formatted as the configured console handler formats it."""
    caplog.set_level(logging.DEBUG)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(KeyValueFormatter())
    handler.addFilter(ScrubFilter())
    handler.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    yield stream
    logging.getLogger().removeHandler(handler)


# A queued reply on its last attempt: its next failure is final (REPLY_FAILED).
LAST_ATTEMPT = sending.MAX_ATTEMPTS - 1


def _channels() -> tuple[Channel, Channel]:
    x = make_channel(
        Network.X,
        credentials={
            "bearer_token": X_BEARER,
            "refresh_token": X_REFRESH,
            "client_id": "desk-client",
            "client_secret": X_SECRET,
            "expires_at": (timezone.now() + timedelta(days=1)).isoformat(),
        },
    )
    facebook = make_channel(Network.FACEBOOK, credentials={"page_access_token": FB_TOKEN})
    return x, facebook


def _all_rows() -> str:
    """Every row of every table of every model, as JSON text."""
    tables = {model._meta.db_table for model in apps.get_models(include_auto_created=True)}
    with connection.cursor() as cursor:
        dumps = []
        for table in sorted(tables):
            cursor.execute(f'SELECT row_to_json(t)::text FROM "{table}" t')  # noqa: S608
            dumps.extend(row[0] for row in cursor.fetchall())
    return "\n".join(dumps)


def test_no_credential_reaches_a_row_a_page_or_a_log_line(
    db, network, log_output, caplog, admin, agent, monkeypatch
):
    monkeypatch.setattr(tasks.send_reply, "delay", lambda *args, **kwargs: None)
    x, facebook = _channels()
    replies = []
    for mode in MODES:
        network.mode = mode
        for channel in (x, facebook):
            Channel.objects.filter(pk=channel.pk).update(needs_reauth=False)
            polling.poll_channel(channel.pk)
            for private in (False, True):
                reply = make_queued_reply(channel, agent, private=private, attempts=LAST_ATTEMPT)
                replies.append(reply)
                sending.send_reply(reply.pk)
        # Ambiguous sends stay in "sending" until recovery gives up on them, hours later.
        Channel.objects.update(needs_reauth=False)
        sending.recover_stuck_replies(now=timezone.now() + timedelta(hours=7))
    # An expired access token: every path starts with a refresh that fails.
    expired = {**x.credentials, "expires_at": (timezone.now() - timedelta(hours=1)).isoformat()}
    x.credentials = expired
    x.save(update_fields=["credentials_encrypted"])
    for mode in ("refused", "api_error", "invalid_json"):
        network.mode = mode
        Channel.objects.filter(pk=x.pk).update(needs_reauth=False)
        polling.poll_channel(x.pk)
        sending.send_reply(make_queued_reply(x, agent, attempts=LAST_ATTEMPT).pk)

    # The hostile network did receive the secrets and quote them back.
    sent = "\n".join(network.seen)
    assert FB_TOKEN in sent and X_BEARER in sent and X_REFRESH in sent
    # Every failure was recorded where people look.
    assert Reply.objects.filter(state=Reply.State.FAILED).count() >= len(MODES) * 2
    assert CaseEvent.objects.filter(kind=CaseEvent.Kind.REPLY_FAILED).exists()
    assert Channel.objects.exclude(last_error="").count() == 2
    failed = Reply.objects.filter(case__channel=facebook, state=Reply.State.FAILED).first()
    assert "Facebook" in failed.error or "Graph" in failed.error
    assert (
        "access_token=" + REDACTED
        in "\n".join(Reply.objects.filter(case__channel=facebook).values_list("error", flat=True))
        + Channel.objects.get(pk=facebook.pk).last_error
        + _all_rows()
    )

    assert _leaks(_all_rows()) == []

    client = logged_in(admin)
    pages = {
        "health": client.get(reverse("listening:health")),
        "health json": client.get(reverse("listening:health"), HTTP_ACCEPT="application/json"),
    }
    for channel in (x, facebook):
        url = reverse("admin:listening_channel_change", args=[channel.pk])
        pages[f"admin channel {channel.network}"] = client.get(url)
    for reply in Reply.objects.exclude(error=""):
        pages[f"admin reply {reply.pk}"] = client.get(
            reverse("admin:cases_reply_change", args=[reply.pk])
        )
        pages[f"case {reply.case_id}"] = client.get(reverse("cases:detail", args=[reply.case_id]))
    for event in CaseEvent.objects.filter(kind=CaseEvent.Kind.REPLY_FAILED):
        pages[f"admin event {event.pk}"] = client.get(
            reverse("admin:cases_caseevent_change", args=[event.pk])
        )
    assert pages["health json"]["content-type"].startswith("application/json")
    for name, response in pages.items():
        assert response.status_code == 200, name
        assert _leaks(response.content.decode()) == [], name
    assert "unreachable" in pages["health"].content.decode() or "Graph" in (
        pages["health"].content.decode()
    )

    assert caplog.records, "nothing was logged at DEBUG"
    assert any(r.getMessage() == "poll failed" for r in caplog.records)
    for record in caplog.records:
        assert _leaks(record.getMessage()) == [], record.getMessage()
        assert _leaks(str(record.__dict__)) == [], record.getMessage()
    assert _leaks(caplog.text) == []
    assert _leaks(log_output.getvalue()) == []


@pytest.fixture
def local_server():
    """A plain HTTP server on a free local port answering every GET with a JSON error."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the stdlib's name)
            body = json.dumps({"error": {"message": f"bad request {self.path}", "code": 100}})
            self.send_response(400)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_urllib3_debug_lines_carry_no_page_token(db, settings, local_server, log_output, caplog):
    # Real HTTP (no `responses`), so urllib3 logs each request line with its URL at DEBUG.
    settings.FACEBOOK_GRAPH_URL = local_server
    channel = make_channel(Network.FACEBOOK, credentials={"page_access_token": FB_TOKEN})

    outcome = polling.poll_channel(channel.pk)

    assert outcome == polling.PollOutcome.FAILED
    lines = [r for r in caplog.records if r.name.startswith("urllib3")]
    assert any("access_token=" + REDACTED in r.getMessage() for r in lines)
    assert _leaks(caplog.text) == [] and _leaks(log_output.getvalue()) == []
    assert _leaks(Channel.objects.get(pk=channel.pk).last_error) == []


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (
            "Max retries exceeded with url: /v23.0/1/feed?fields=id&access_token=EAAB123abc&x=1",
            "fields=id",
        ),
        ("POST /oauth?client_secret=s3cr3tvalue&code=AQD9zz&grant_type=x", "grant_type=x"),
        ("body refresh_token=rt-9f8e7d6c&grant_type=refresh_token", "grant_type=refresh_token"),
        ("?appsecret_proof=abcdef0123&input_token=zzz999zzz", "?appsecret_proof="),
        ("{'Authorization': 'Bearer AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0'}", "Authorization"),
        ('{"access_token": "ya29.a0AfH6SM", "expires_in": 7200}', '"expires_in": 7200'),
        ("redis://:hunter2hunter2@redis:6379/0 refused", "@redis:6379/0"),
        ("Authorization: Bearer abc.def.ghi-jkl", "Authorization"),
    ],
)
def test_scrub_removes_secrets_it_was_never_told_about(text, kept):
    cleaned = scrub(text)

    assert kept in cleaned
    assert REDACTED in cleaned
    for secret in (
        "EAAB123abc",
        "s3cr3tvalue",
        "AQD9zz",
        "rt-9f8e7d6c",
        "abcdef0123",
        "zzz999zzz",
        "AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0",
        "ya29.a0AfH6SM",
        "hunter2hunter2",
        "abc.def.ghi-jkl",
    ):
        assert secret not in cleaned


def test_scrub_keeps_an_ordinary_error_readable():
    text = (
        "Graph API error 2 (503): Service temporarily unavailable; X rejected the token: 401; "
        "basic authentication required; Error validating access token: Session has expired"
    )

    assert scrub(text) == text


def test_a_credential_value_is_removed_wherever_it_is_echoed(db):
    make_channel(Network.FACEBOOK, credentials={"page_access_token": "EAAGecho0987654321"})

    cleaned = scrub("Graph said: token EAAGecho0987654321 (EAAGecho0987654321) is invalid")

    assert "EAAGecho0987654321" not in cleaned
    assert cleaned.count(REDACTED) == 2


def test_error_fields_are_scrubbed_even_when_written_by_update(db, facebook_channel, agent):
    leak = "GET http://graph.test/me?access_token=EAAGleak000111&fields=id failed"
    Channel.objects.filter(pk=facebook_channel.pk).update(last_error=leak)
    reply = make_queued_reply(facebook_channel, agent, attempts=LAST_ATTEMPT)
    Reply.objects.filter(pk=reply.pk).update(error=leak)
    event = CaseEvent.objects.create(
        case=reply.case, kind=CaseEvent.Kind.REPLY_FAILED, data={"reason": leak, "reply_id": 1}
    )

    assert "EAAGleak000111" not in Channel.objects.get(pk=facebook_channel.pk).last_error
    assert "EAAGleak000111" not in Reply.objects.get(pk=reply.pk).error
    stored = CaseEvent.objects.get(pk=event.pk).data
    assert "EAAGleak000111" not in stored["reason"] and stored["reply_id"] == 1
    assert "fields=id failed" in stored["reason"]


def test_a_refused_connection_reads_as_such_without_the_url(db, settings, facebook_channel):
    # Nothing listens on this port: the real requests/urllib3 error, as in an outage.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.FACEBOOK_GRAPH_URL = f"http://127.0.0.1:{port}"

    assert polling.poll_channel(facebook_channel.pk) == polling.PollOutcome.FAILED

    error = Channel.objects.get(pk=facebook_channel.pk).last_error
    assert error.startswith(
        f"TransientError: Facebook unreachable: could not connect to 127.0.0.1:{port}"
    )
    assert "Connection refused" in error
    assert "access_token" not in error and "Max retries" not in error


def test_errors_stored_before_scrubbing_are_scrubbed_by_the_migrations(db, agent):
    from importlib import import_module

    from django.apps import apps as live_apps

    leak = "Facebook unreachable: url /v23.0/2000/feed?since=1&access_token=EAAGold0001112223 ("
    channel = make_channel(Network.FACEBOOK)
    reply = make_queued_reply(channel, agent, attempts=LAST_ATTEMPT)
    # Rows as an older version wrote them: straight into the columns, no field in between.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE listening_channel SET last_error = %s WHERE id = %s", [leak, channel.pk]
        )
        cursor.execute("UPDATE cases_reply SET error = %s WHERE id = %s", [leak, reply.pk])
        cursor.execute(
            "INSERT INTO cases_caseevent (case_id, kind, data, created_at) "
            "VALUES (%s, %s, %s, now()) RETURNING id",
            [
                reply.case_id,
                CaseEvent.Kind.REPLY_FAILED,
                json.dumps({"reason": leak, "reply_id": 7}),
            ],
        )
        event_id = cursor.fetchone()[0]

    import_module("listening.migrations.0004_scrub_stored_errors").scrub_channel_errors(
        live_apps, None
    )
    import_module("cases.migrations.0009_scrub_stored_errors").scrub_reply_errors(live_apps, None)

    assert "EAAGold0001112223" not in _all_rows()
    assert Channel.objects.get(pk=channel.pk).last_error.startswith("Facebook unreachable: url")
    assert CaseEvent.objects.get(pk=event_id).data["reply_id"] == 7


def test_the_desks_own_secrets_are_scrubbed_too(settings):
    settings.HEALTH_MONITOR_TOKEN = "monitor-token-4242"
    settings.ALERT_WEBHOOK_URL = "https://hooks.example.com/services/T01/B02/sEcReT99"

    cleaned = scrub(
        f"POST https://hooks.example.com/services/T01/B02/sEcReT99 failed; "
        f"key {settings.SECRET_KEY}; token monitor-token-4242"
    )

    assert "sEcReT99" not in cleaned and "monitor-token-4242" not in cleaned
    assert settings.SECRET_KEY not in cleaned
    assert "https://hooks.example.com" in cleaned
