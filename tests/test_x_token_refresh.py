"""X OAuth 2.0 user tokens: refreshed before expiry and after a 401, rotated, stored encrypted.

The real tweepy code runs; X is faked at the HTTP edge, by `responses` for exact payloads and
by the simulator (whose token endpoint rotates refresh tokens and refuses a spent one) for the
polls and sends that must keep working past a token's expiry.
"""

import base64
import json
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
import requests
import responses
from django.contrib.admin import site as admin_site
from django.db import connection, connections, transaction
from django.urls import reverse
from django.utils import timezone

from cases import sending
from cases.models import Reply
from cases.replies import outbound_reply
from cases.sending import SendOutcome
from listening import polling
from listening.admin import ChannelAdmin, ChannelForm
from listening.connectors import x_oauth
from listening.connectors.errors import AuthError, RateLimited, TransientError
from listening.connectors.x import XConnector
from listening.models import Channel, Mention, Network
from listening.polling import PollOutcome
from tests.conftest import X_API, calls_to, make_channel, wait_for
from tests.factories import make_x_reply
from tests.simulator import SimulatorClient, running_simulator

BASE = X_API
BRAND_ID = "1000"

TOKEN_URL = f"{BASE}/2/oauth2/token"
MENTIONS = f"{BASE}/2/users/{BRAND_ID}/mentions"
DM_EVENTS = f"{BASE}/2/dm_events"
TWEETS = f"{BASE}/2/tweets"
EMPTY = {"meta": {"result_count": 0}}
UNAUTHORIZED = {
    "status": 401,
    "json": {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "x"},
}


def new_tokens(access: str = "new-access", refresh: str = "new-refresh") -> dict:
    """X's answer to a refresh, as documented (token_type, expires_in, scope, both tokens)."""
    return {
        "token_type": "bearer",
        "expires_in": 7200,
        "access_token": access,
        "scope": "tweet.read tweet.write users.read dm.read dm.write offline.access",
        "refresh_token": refresh,
    }


def oauth_credentials(expires_in: timedelta | None = timedelta(minutes=1), **extra) -> dict:
    credentials = {
        "bearer_token": "old-access",
        "refresh_token": "old-refresh",
        "client_id": "desk-app",
        **extra,
    }
    if expires_in is not None:
        credentials["expires_at"] = (timezone.now() + expires_in).isoformat()
    return credentials


def form_of(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


@pytest.fixture
def expiring(db, x_settings) -> Channel:
    """A channel whose access token expires in a minute, inside the refresh margin."""
    return make_channel(Network.X, external_account_id=BRAND_ID, credentials=oauth_credentials())


def quiet_streams(rsps: responses.RequestsMock) -> None:
    rsps.get(MENTIONS, json=EMPTY)
    rsps.get(DM_EVENTS, json=EMPTY)


# ---- refreshing before the call --------------------------------------------------------------


def test_token_near_expiry_is_refreshed_before_the_call_and_stored_encrypted(expiring, rsps):
    rsps.post(TOKEN_URL, json=new_tokens())
    quiet_streams(rsps)

    XConnector().fetch(expiring, {})

    token_call, mentions_call = rsps.calls[0], rsps.calls[1]
    assert token_call.request.url == TOKEN_URL
    assert form_of(token_call) == {
        "grant_type": "refresh_token",
        "refresh_token": "old-refresh",
        "client_id": "desk-app",
    }
    assert "Authorization" not in token_call.request.headers  # a public client
    assert token_call.request.req_kwargs["timeout"] == 7.0
    assert mentions_call.request.headers["Authorization"] == "Bearer new-access"

    stored = Channel.objects.get(pk=expiring.pk)
    assert stored.credentials["bearer_token"] == "new-access"
    assert stored.credentials["refresh_token"] == "new-refresh"  # the rotated one
    assert stored.credentials["client_id"] == "desk-app"
    expires_at = datetime.fromisoformat(stored.credentials["expires_at"])
    assert abs(expires_at - (timezone.now() + timedelta(hours=2))) < timedelta(minutes=1)
    assert "new-access" not in stored.credentials_encrypted
    assert "new-refresh" not in stored.credentials_encrypted
    assert expiring.credentials == stored.credentials  # the caller's object is current too


def test_confidential_client_authenticates_with_http_basic(db, x_settings, rsps):
    channel = make_channel(
        Network.X,
        external_account_id=BRAND_ID,
        credentials=oauth_credentials(client_secret="app-s3cret"),
    )
    rsps.post(TOKEN_URL, json=new_tokens())
    quiet_streams(rsps)

    XConnector().fetch(channel, {})

    token_call = calls_to(rsps, TOKEN_URL)[0]
    expected = base64.b64encode(b"desk-app:app-s3cret").decode()
    assert token_call.request.headers["Authorization"] == f"Basic {expected}"
    assert form_of(token_call) == {"grant_type": "refresh_token", "refresh_token": "old-refresh"}
    assert Channel.objects.get(pk=channel.pk).credentials["client_secret"] == "app-s3cret"


def test_token_far_from_expiry_is_used_as_it_is(db, x_settings, rsps):
    channel = make_channel(
        Network.X,
        external_account_id=BRAND_ID,
        credentials=oauth_credentials(expires_in=timedelta(hours=1)),
    )
    quiet_streams(rsps)

    XConnector().fetch(channel, {})

    assert calls_to(rsps, TOKEN_URL) == []
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer old-access"


def test_a_channel_given_only_a_refresh_token_gets_its_access_token_first(db, x_settings, rsps):
    channel = make_channel(
        Network.X,
        external_account_id=BRAND_ID,
        credentials={"refresh_token": "old-refresh", "client_id": "desk-app"},
    )
    rsps.post(TOKEN_URL, json=new_tokens())
    quiet_streams(rsps)

    XConnector().fetch(channel, {})

    assert rsps.calls[0].request.url == TOKEN_URL
    assert rsps.calls[1].request.headers["Authorization"] == "Bearer new-access"


def test_a_refresh_inside_a_callers_transaction_is_refused(expiring, rsps):
    # The rotated refresh token must be committed even if the caller's work rolls back.
    with transaction.atomic(), pytest.raises(RuntimeError, match="durable"):
        x_oauth.refresh(expiring, stale="old-access")

    assert len(rsps.calls) == 0


def test_a_refresh_answer_without_a_new_refresh_token_keeps_the_old_one(expiring, rsps):
    answer = new_tokens()
    del answer["refresh_token"]
    rsps.post(TOKEN_URL, json=answer)
    quiet_streams(rsps)

    XConnector().fetch(expiring, {})

    stored = Channel.objects.get(pk=expiring.pk).credentials
    assert stored["bearer_token"] == "new-access" and stored["refresh_token"] == "old-refresh"


# ---- 401: refresh once, retry once ---------------------------------------------------------


def test_401_refreshes_the_token_and_the_retry_succeeds(db, x_settings, rsps):
    channel = make_channel(
        Network.X, external_account_id=BRAND_ID, credentials=oauth_credentials(expires_in=None)
    )
    rsps.get(MENTIONS, **UNAUTHORIZED)
    rsps.get(MENTIONS, json=EMPTY)
    rsps.get(DM_EVENTS, json=EMPTY)
    rsps.post(TOKEN_URL, json=new_tokens())

    result = XConnector().fetch(channel, {})

    first, retry = calls_to(rsps, MENTIONS)
    assert first.request.headers["Authorization"] == "Bearer old-access"
    assert retry.request.headers["Authorization"] == "Bearer new-access"
    assert len(calls_to(rsps, TOKEN_URL)) == 1
    assert calls_to(rsps, DM_EVENTS)[0].request.headers["Authorization"] == "Bearer new-access"
    assert result.posts == []
    assert Channel.objects.get(pk=channel.pk).credentials["refresh_token"] == "new-refresh"


def test_a_second_401_after_refreshing_needs_reauthorisation(db, x_settings, rsps):
    channel = make_channel(
        Network.X, external_account_id=BRAND_ID, credentials=oauth_credentials(expires_in=None)
    )
    rsps.get(MENTIONS, **UNAUTHORIZED)
    rsps.post(TOKEN_URL, json=new_tokens())

    with pytest.raises(AuthError):
        XConnector().fetch(channel, {})

    assert len(calls_to(rsps, MENTIONS)) == 2
    assert len(calls_to(rsps, TOKEN_URL)) == 1


def test_publish_after_a_401_refreshes_and_posts_once(db, x_settings, rsps):
    channel = make_channel(
        Network.X, external_account_id=BRAND_ID, credentials=oauth_credentials(expires_in=None)
    )
    rsps.post(TWEETS, **UNAUTHORIZED)
    rsps.post(TWEETS, status=201, json={"data": {"id": "1861000000000000999", "text": "x"}})
    rsps.post(TOKEN_URL, json=new_tokens())

    assert XConnector().publish(outbound_reply(make_x_reply(channel))) == "1861000000000000999"

    first, retry = calls_to(rsps, TWEETS)
    assert retry.request.headers["Authorization"] == "Bearer new-access"
    assert first.request.body == retry.request.body


# ---- a refused or failed refresh -------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "error", "words"),
    [
        (
            {
                "status": 400,
                "json": {
                    "error": "invalid_grant",
                    "error_description": "Value passed for the token was invalid.",
                },
            },
            AuthError,
            "X refused the refresh token (invalid_grant: Value passed for the token was invalid.)",
        ),
        (
            {"status": 400, "json": {"error": "invalid_request"}},
            AuthError,
            "reconnect the channel",
        ),
        (
            {"status": 401, "json": {"error": "unauthorized_client"}},
            AuthError,
            "X refused the refresh token (unauthorized_client)",
        ),
        (
            {"status": 429, "json": {"title": "Too Many Requests"}},
            RateLimited,
            "rate limit",
        ),
        ({"status": 503, "body": "<html>down</html>"}, TransientError, "answered 503"),
        ({"status": 200, "body": "<html>proxy</html>"}, TransientError, "without an access"),
        ({"body": requests.ConnectTimeout("slow")}, TransientError, "unreachable"),
    ],
)
def test_refresh_failures_map_to_connector_errors_and_keep_the_stored_tokens(
    expiring, rsps, answer, error, words
):
    rsps.post(TOKEN_URL, **answer)
    before = Channel.objects.get(pk=expiring.pk).credentials

    with pytest.raises(error) as caught:
        XConnector().fetch(expiring, {})

    assert words in str(caught.value)
    assert "old-refresh" not in str(caught.value)
    assert Channel.objects.get(pk=expiring.pk).credentials == before
    assert calls_to(rsps, MENTIONS) == []


def test_rate_limited_refresh_waits_for_the_reset_header(expiring, rsps):
    rsps.post(TOKEN_URL, status=429, json={}, headers={"x-rate-limit-reset": "1795430000"})

    with pytest.raises(RateLimited) as caught:
        XConnector().fetch(expiring, {})

    assert caught.value.reset_at == datetime.fromtimestamp(1795430000, tz=UTC)


def test_refused_refresh_flags_the_channel_for_reauthorisation(expiring, rsps):
    rsps.post(TOKEN_URL, status=400, json={"error": "invalid_grant"})

    assert polling.poll_channel(expiring.pk) == PollOutcome.AUTH_FAILED

    expiring.refresh_from_db()
    assert expiring.needs_reauth
    assert "X refused the refresh token (invalid_grant): reconnect the channel" in (
        expiring.last_error
    )
    assert "An admin must reconnect this channel." in expiring.last_error
    assert polling.poll_channel(expiring.pk) == PollOutcome.SKIPPED  # stops, as before


# ---- two workers refreshing at once ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_workers_refreshing_at_once_spend_the_refresh_token_once(x_settings, rsps):
    """The second worker waits for the row lock, then uses the tokens the first one stored.

    Spending the old refresh token again would revoke the grant, so the fake token endpoint
    refuses it as X does; the test holds the first exchange open until the second worker is
    seen waiting for the lock in PostgreSQL.
    """
    channel = make_channel(Network.X, external_account_id=BRAND_ID, credentials=oauth_credentials())
    # Each worker loaded the channel (expiring token, old refresh token) before either refreshed.
    first_worker = Channel.objects.get(pk=channel.pk)
    second_worker = Channel.objects.get(pk=channel.pk)
    in_exchange, finish_exchange = threading.Event(), threading.Event()
    live = {"refresh": "old-refresh", "counter": 0}

    def token_endpoint(request):
        in_exchange.set()
        finish_exchange.wait(10)
        spent = parse_qs(request.body)["refresh_token"][0]
        if spent != live["refresh"]:
            return 400, {}, '{"error": "invalid_grant"}'
        live["counter"] += 1
        live["refresh"] = f"refresh-{live['counter']}"
        body = new_tokens(access=f"access-{live['counter']}", refresh=live["refresh"])
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    rsps.add_callback(responses.POST, TOKEN_URL, callback=token_endpoint)
    tokens: dict[str, str] = {}
    errors: list[BaseException] = []

    def work(name: str, channel: Channel) -> None:
        try:
            tokens[name] = x_oauth.access_token(channel)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    first = threading.Thread(target=work, args=("first", first_worker))
    second = threading.Thread(target=work, args=("second", second_worker))
    first.start()
    assert in_exchange.wait(10)
    second.start()
    wait_for(lambda: waiting_for_a_lock() == 1, timeout=10, message="the second worker to wait")
    finish_exchange.set()
    first.join(10)
    second.join(10)

    assert errors == []
    assert tokens == {"first": "access-1", "second": "access-1"}
    assert len(calls_to(rsps, TOKEN_URL)) == 1
    stored = Channel.objects.get(pk=channel.pk).credentials
    assert stored["refresh_token"] == "refresh-1" and stored["bearer_token"] == "access-1"


def waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


# ---- against the simulator: tokens that live one second --------------------------------------


@pytest.fixture
def short_lived(settings):
    """A simulator that checks X tokens and issues them for one second."""
    with running_simulator(seed=5) as sim:
        settings.X_API_BASE_URL = sim.url
        settings.SOCIAL_HTTP_TIMEOUT = 5.0
        sim.token_mode(check_tokens=True, token_lifetime=1)
        yield sim


def granted_channel(sim: SimulatorClient, **fields) -> Channel:
    """An X channel holding the tokens the brand's consent gave (no expiry noted by the admin)."""
    grant = sim.authorise(BRAND_ID, client_id="desk-app")
    credentials = {
        "bearer_token": grant["access_token"],
        "refresh_token": grant["refresh_token"],
        "client_id": "desk-app",
    }
    return make_channel(
        Network.X,
        external_account_id=BRAND_ID,
        handle="acme_support",
        credentials=credentials,
        **fields,
    )


@pytest.mark.django_db
def test_polling_keeps_working_past_the_expiry_of_one_second_tokens(short_lived):
    channel = granted_channel(short_lived)
    published = short_lived.publish("x", 3, account_id=BRAND_ID, kind="mention")
    assert polling.poll_channel(channel.pk) == PollOutcome.OK

    for _ in range(2):
        short_lived.advance(1.2)  # the access token last used has expired
        published += short_lived.publish("x", 3, account_id=BRAND_ID, kind="mention")
        assert polling.poll_channel(channel.pk) == PollOutcome.OK

    stored = set(Mention.objects.filter(channel=channel).values_list("external_id", flat=True))
    assert stored == set(published)
    channel.refresh_from_db()
    assert not channel.needs_reauth and channel.last_error == ""
    # The second poll met a 401 and refreshed, learning the expiry; the third refreshed
    # before calling. Never was a spent refresh token presented.
    oauth = short_lived.stats()["oauth"]
    assert oauth["tokens_refreshed"] >= 2 and oauth["refresh_refused"] == 0
    assert x_oauth.parse_expires_at(channel.credentials["expires_at"]) is not None


@pytest.mark.django_db
def test_reply_is_sent_with_a_refreshed_token_after_a_401(short_lived, agent):
    channel = granted_channel(short_lived)
    (post_id,) = short_lived.publish("x", 1, account_id=BRAND_ID, kind="mention")
    assert polling.poll_channel(channel.pk) == PollOutcome.OK
    case = Mention.objects.get(channel=channel, external_id=post_id).case
    reply = sending.do_queue_reply(case, author=agent, text="Sorry! DM us.", is_private=False)
    expire_access_token(channel)
    short_lived.advance(1.2)

    assert sending.send_reply(reply.pk) == SendOutcome.SENT

    assert len(short_lived.replies("x")) == 1
    assert short_lived.stats()["oauth"]["tokens_refreshed"] >= 1


@pytest.mark.django_db
def test_reply_fails_and_flags_the_channel_when_the_refresh_token_was_spent(short_lived, agent):
    channel = granted_channel(short_lived)
    (post_id,) = short_lived.publish("x", 1, account_id=BRAND_ID, kind="mention")
    assert polling.poll_channel(channel.pk) == PollOutcome.OK
    case = Mention.objects.get(channel=channel, external_id=post_id).case
    reply = sending.do_queue_reply(case, author=agent, text="Sorry! DM us.", is_private=False)
    spend_elsewhere(short_lived, Channel.objects.get(pk=channel.pk).credentials)
    short_lived.advance(1.2)

    assert sending.send_reply(reply.pk) == SendOutcome.FAILED

    assert short_lived.replies("x") == []
    reply.refresh_from_db()
    assert reply.state == Reply.State.FAILED
    assert "X refused the refresh token (invalid_grant" in reply.error
    channel.refresh_from_db()
    assert channel.needs_reauth


def expire_access_token(channel: Channel) -> None:
    """Forget when the access token expires, so that the next call meets a 401 first."""
    credentials = Channel.objects.get(pk=channel.pk).credentials
    credentials.pop("expires_at", None)
    stored = Channel.objects.get(pk=channel.pk)
    stored.credentials = credentials
    stored.save(update_fields=["credentials_encrypted"])


def spend_elsewhere(sim: SimulatorClient, credentials: dict) -> None:
    """Someone else (a copy of the desk, a script) spends the channel's refresh token."""
    answer = requests.post(
        f"{sim.url}/2/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": credentials["refresh_token"],
            "client_id": credentials["client_id"],
        },
        timeout=5,
    )
    assert answer.status_code == 200


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_keeps_polling_with_one_second_tokens(simulator, worker):
    simulator.token_mode(check_tokens=True, token_lifetime=1)
    channel = granted_channel(simulator, poll_interval=1)
    first_refresh_token = channel.credentials["refresh_token"]

    ids = simulator.publish("x", 5, account_id=BRAND_ID, kind="mention")
    wait_for(lambda: Mention.objects.filter(channel=channel).count() == len(ids))
    # Several polls, each past the previous token's expiry.
    wait_for(lambda: simulator.stats()["oauth"]["tokens_refreshed"] >= 2, message="refreshes")
    ids += simulator.publish("x", 5, account_id=BRAND_ID, kind="mention")
    wait_for(lambda: Mention.objects.filter(channel=channel).count() == len(ids))

    channel.refresh_from_db()
    assert not channel.needs_reauth and channel.last_error == ""
    assert channel.credentials["refresh_token"] != first_refresh_token
    oauth = simulator.stats()["oauth"]
    assert oauth["tokens_refreshed"] >= 2 and oauth["refresh_refused"] == 0


# ---- the admin ---------------------------------------------------------------------------------


def admin_form(**fields) -> dict:
    return {
        "name": "Acme on X",
        "network": "x",
        "handle": "@acme",
        "external_account_id": "434343",
        "enabled": "on",
        "poll_interval": "60",
        "rules-TOTAL_FORMS": "0",
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
        **fields,
    }


@pytest.mark.django_db
def test_admin_enters_a_refreshable_x_token_that_is_never_shown_again(client, admin):
    client.force_login(admin)
    raw = (
        '{"bearer_token": "at-s3cret", "refresh_token": "rt-s3cret", "client_id": "desk-app",'
        ' "client_secret": "cs-s3cret", "expires_at": "2026-05-01T12:00:00+00:00"}'
    )

    response = client.post(reverse("admin:listening_channel_add"), admin_form(credentials_json=raw))

    assert response.status_code == 302, response.content.decode()[:2000]
    channel = Channel.objects.get(external_account_id="434343")
    assert channel.credentials["refresh_token"] == "rt-s3cret"
    page = client.get(reverse("admin:listening_channel_change", args=[channel.pk])).content
    page = page.decode()
    assert "bearer_token, client_id, client_secret, expires_at, refresh_token" in page
    assert "the access token expires 2026-05-01 12:00 UTC" in page
    assert not any(secret in page for secret in ("at-s3cret", "rt-s3cret", "cs-s3cret"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"refresh_token": "rt-s3cret"}', "Refreshing needs the app&#x27;s OAuth 2.0 client_id"),
        (
            '{"bearer_token": "at-s3cret", "refresh_token": "rt-s3cret", "client_id": "a",'
            ' "expires_at": "tomorrow"}',
            "expires_at must be an ISO 8601 time with an offset",
        ),
        ('{"bearer_token": 5}', "bearer_token must be a non-empty string."),
        ('{"client_id": "a"}', "Give a bearer_token (the access token), a refresh_token"),
    ],
)
def test_admin_refuses_x_credentials_that_cannot_work(client, admin, raw, message):
    client.force_login(admin)

    response = client.post(reverse("admin:listening_channel_add"), admin_form(credentials_json=raw))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert "s3cret" not in response.content.decode()
    assert not Channel.objects.filter(external_account_id="434343").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            '{"bearer_token": "abc"}',
            "A Facebook channel needs page_access_token (the Page access token, a non-empty "
            "string); the credentials given have bearer_token.",
        ),
        ('{"page_access_token": "  "}', "A Facebook channel needs page_access_token"),
        (
            '{"page_access_token": "pat-s3cret", "app_scret": "x"}',
            "Facebook credentials take only page_access_token; remove app_scret.",
        ),
    ],
)
def test_admin_refuses_facebook_credentials_that_cannot_work(client, admin, raw, message):
    client.force_login(admin)

    response = client.post(
        reverse("admin:listening_channel_add"),
        admin_form(network="facebook", credentials_json=raw),
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert "s3cret" not in response.content.decode()
    assert not Channel.objects.filter(external_account_id="434343").exists()


@pytest.mark.django_db
def test_admin_accepts_a_page_token_and_checks_stored_credentials_on_a_network_change(
    client, admin
):
    client.force_login(admin)
    form = admin_form(network="facebook", credentials_json='{"page_access_token": "pat-1"}')
    assert client.post(reverse("admin:listening_channel_add"), form).status_code == 302
    channel = Channel.objects.get(external_account_id="434343")
    assert channel.credentials == {"page_access_token": "pat-1"}

    # Switching the channel to X while keeping its Page token cannot work: say so.
    response = client.post(
        reverse("admin:listening_channel_change", args=[channel.pk]),
        admin_form(network="x", credentials_json=""),
    )

    assert response.status_code == 200
    assert "Give a bearer_token (the access token), a refresh_token" in response.content.decode()
    channel.refresh_from_db()
    assert channel.network == "facebook"


@pytest.mark.django_db
def test_admin_saving_a_channel_keeps_the_tokens_a_worker_just_rotated(rf):
    channel = make_channel(Network.X, external_account_id="434343", credentials=oauth_credentials())
    loaded_by_the_admin = Channel.objects.get(pk=channel.pk)
    refreshed_by_a_worker = Channel.objects.get(pk=channel.pk)
    refreshed_by_a_worker.credentials = oauth_credentials(refresh_token="rotated-refresh")
    refreshed_by_a_worker.save(update_fields=["credentials_encrypted"])
    form = ChannelForm(
        data=admin_form(poll_interval="90", credentials_json=""), instance=loaded_by_the_admin
    )
    assert form.is_valid(), form.errors

    ChannelAdmin(Channel, admin_site).save_model(
        rf.post("/"), form.save(commit=False), form, change=True
    )

    stored = Channel.objects.get(pk=channel.pk)
    assert stored.poll_interval == 90
    assert stored.credentials["refresh_token"] == "rotated-refresh"
