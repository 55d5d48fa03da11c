"""OAuth 2.0 user tokens for X: refreshed before they expire and after a 401, rotated, stored.

X's user-context access tokens (Authorization Code with PKCE) live two hours. With the
offline.access scope X also issues a refresh token, exchanged at POST /2/oauth2/token
(grant_type=refresh_token; a public client names itself with client_id in the form, a
confidential client authenticates with HTTP Basic client_id:client_secret). Every exchange
returns a new refresh token and invalidates the one spent, hence two rules:

* Two workers must never spend the same refresh token (X would refuse the second, and the
  channel would need re-authorisation). The exchange runs under the channel's row lock; a
  worker that waited for the lock reads the credentials again and uses what the other stored.
* The new tokens are committed whatever the caller does next: the old refresh token is already
  dead at X. The exchange has its own durable transaction, so callers must not hold one.

Channel credentials for X: `bearer_token` (the access token), and for refreshing
`refresh_token`, `client_id`, `client_secret` (confidential clients only) and `expires_at`
(ISO 8601 with an offset). Without a refresh token a channel works as before: a 401 means an
admin must reconnect it.

The exchange is a form POST through the connectors' X session (timeout, X_API_BASE_URL), not
tweepy's: tweepy 4.17's OAuth2UserHandler has no refresh method of its own, and the
requests-oauthlib `refresh_token` it inherits refuses plain-HTTP token URLs (the simulator)
unless OAUTHLIB_INSECURE_TRANSPORT is set for the whole process, parses the answer without
looking at the HTTP status (a 429 or a 503 page reads as "missing access token", like a broken
grant), and logs the refresh token and the new tokens at DEBUG.

`XClient` is the tweepy client every X request goes through: it refreshes and retries once
on a 401.
"""

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import tweepy
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from listening.connectors import http
from listening.connectors.errors import AuthError, RateLimited, TransientError
from listening.models import Channel

log = logging.getLogger(__name__)

TOKEN_PATH = "/2/oauth2/token"
# Refresh this long before the access token expires, so that no request meets an expired one.
REFRESH_MARGIN = timedelta(minutes=5)
# X's documented lifetime, for an answer that leaves out expires_in.
DEFAULT_LIFETIME = timedelta(hours=2)
DEFAULT_RATE_LIMIT_WAIT = timedelta(minutes=15)
# A refresh token X will not honour: 400 (invalid_grant, or X's invalid_request "Value passed
# for the token was invalid."), 401 or 403 (a client it does not accept). Retrying cannot help.
REFUSED_STATUSES = frozenset({400, 401, 403})
CREDENTIAL_KEYS = ("bearer_token", "refresh_token", "client_id", "client_secret", "expires_at")


def access_token(channel: Channel) -> str:
    """The channel's access token, refreshed first when it is missing or about to expire.

    Raises AuthError when the channel has no token, and whatever `refresh` raises.
    """
    credentials = channel.credentials or {}
    if needs_refresh(credentials):
        credentials = refresh(channel, stale=credentials.get("bearer_token"))
    token = credentials.get("bearer_token")
    if not token:
        raise AuthError("The X channel has no bearer token: reconnect it.")
    return token


def can_refresh(credentials: dict[str, Any]) -> bool:
    """Whether the credentials hold what a refresh needs: a refresh token and the client id."""
    return bool(credentials.get("refresh_token") and credentials.get("client_id"))


def needs_refresh(credentials: dict[str, Any], now: datetime | None = None) -> bool:
    """Whether a refreshable access token is missing or expires within REFRESH_MARGIN."""
    if not can_refresh(credentials):
        return False
    if not credentials.get("bearer_token"):
        return True
    expires_at = parse_expires_at(credentials.get("expires_at"))
    return expires_at is not None and expires_at - (now or timezone.now()) <= REFRESH_MARGIN


def refresh(channel: Channel, *, stale: str | None) -> dict[str, Any]:
    """Exchange the channel's refresh token for new tokens, unless another worker just did.

    `stale` is the access token the caller found wanting (about to expire, or answered with a
    401). Under the channel's row lock the stored credentials are read again: if they hold
    another access token that is not about to expire, a concurrent worker has refreshed and
    its tokens are used. Otherwise the refresh token is spent and the new access token,
    refresh token and expiry are stored before the lock is released. `channel` is updated in
    memory too; returns the credentials now stored.

    Precondition: no transaction is open (the durable block raises RuntimeError otherwise).
    Raises AuthError when X refuses the refresh token or there is none, RateLimited on a 429,
    TransientError when X cannot be reached or fails.
    """
    with transaction.atomic(durable=True):
        rows = Channel.objects.select_for_update().only("credentials_encrypted")
        locked = rows.get(pk=channel.pk)
        credentials = locked.credentials
        if credentials.get("bearer_token") == stale or needs_refresh(credentials):
            if not can_refresh(credentials):
                raise AuthError("The X token needs refreshing but the channel cannot refresh it.")
            credentials = {**credentials, **exchange(credentials)}
            locked.credentials = credentials
            locked.save(update_fields=["credentials_encrypted"])
            log.info(
                "X access token refreshed",
                extra={"channel_id": channel.pk, "expires_at": credentials["expires_at"]},
            )
    channel.credentials_encrypted = locked.credentials_encrypted
    return credentials


def exchange(credentials: dict[str, Any], now: datetime | None = None) -> dict[str, str]:
    """Spend the refresh token at X's token endpoint; the credential fields it returns.

    A read timeout here may come after X rotated the tokens: the new refresh token is then
    lost, and the next exchange, still holding the old one, is refused (AuthError).
    """
    form = {"grant_type": "refresh_token", "refresh_token": credentials["refresh_token"]}
    auth = None
    if credentials.get("client_secret"):
        auth = (credentials["client_id"], credentials["client_secret"])
    else:
        form["client_id"] = credentials["client_id"]
    try:
        response = http.x_session().post(
            settings.X_API_BASE_URL + TOKEN_PATH,
            data=form,
            auth=auth,
            headers={"Accept": "application/json"},
        )
    except requests.RequestException as exc:
        raise TransientError(f"X token endpoint unreachable: {type(exc).__name__}") from exc
    return token_fields(response, now or timezone.now())


def token_fields(response: requests.Response, now: datetime) -> dict[str, str]:
    """The credential fields of a token endpoint answer, or the connector error it means."""
    status = response.status_code
    body = _json_or_none(response)
    if status in REFUSED_STATUSES:
        raise AuthError(
            f"X refused the refresh token ({_oauth_error(body, status)}): reconnect the channel"
        )
    if status == 429:
        raise RateLimited("X token endpoint rate limit", reset_at=_reset_at(response, now))
    if not 200 <= status < 300:
        raise TransientError(f"X token endpoint answered {status}")
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise TransientError(f"X token endpoint answered {status} without an access token")
    fields = {"bearer_token": token, "expires_at": (now + _lifetime(body)).isoformat()}
    rotated = body.get("refresh_token")
    if isinstance(rotated, str) and rotated:
        fields["refresh_token"] = rotated  # without one, the old refresh token stays valid
    return fields


def check_credentials(credentials: dict[str, Any]) -> None:
    """Raise ValueError, with what to fix, unless `credentials` can authenticate on X."""
    for key in CREDENTIAL_KEYS:
        if key in credentials and (
            not isinstance(credentials[key], str) or not credentials[key].strip()
        ):
            raise ValueError(f"{key} must be a non-empty string.")
    if not credentials.get("bearer_token") and not credentials.get("refresh_token"):
        raise ValueError("Give a bearer_token (the access token), a refresh_token, or both.")
    if (credentials.get("refresh_token") or credentials.get("client_secret")) and not (
        credentials.get("client_id")
    ):
        raise ValueError(
            "Refreshing needs the app's OAuth 2.0 client_id (with client_secret for a "
            "confidential client)."
        )
    if "expires_at" in credentials and parse_expires_at(credentials["expires_at"]) is None:
        raise ValueError(
            "expires_at must be an ISO 8601 time with an offset, e.g. 2026-05-01T12:00:00+00:00."
        )


def parse_expires_at(value: Any) -> datetime | None:
    """An aware datetime from an ISO 8601 string with an offset; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _lifetime(body: dict[str, Any]) -> timedelta:
    seconds = body.get("expires_in")
    if isinstance(seconds, int) and not isinstance(seconds, bool) and seconds > 0:
        return timedelta(seconds=seconds)
    return DEFAULT_LIFETIME


def _oauth_error(body: Any, status: int) -> str:
    """The error code and description of an OAuth error answer (they never hold a token)."""
    if isinstance(body, dict) and body.get("error"):
        description = body.get("error_description")
        text = f"{body['error']}: {description}" if description else str(body["error"])
        return text[:300]
    return f"HTTP {status}"


def _reset_at(response: requests.Response, now: datetime) -> datetime:
    reset = response.headers.get("x-rate-limit-reset", "")
    if reset.isdigit():
        return datetime.fromtimestamp(int(reset), tz=UTC)
    return now + DEFAULT_RATE_LIMIT_WAIT


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class XClient(tweepy.Client):
    """tweepy's Client for one channel: a request answered 401 is retried once, refreshed.

    Every endpoint method goes through `request`, so fetch, publish and find_published all get
    the retry. A 401 means X did not act on the request, so sending a POST again is safe. A 401
    to the retry is no expiry: it propagates, and the channel needs re-authorisation.
    """

    def __init__(self, channel: "Channel") -> None:
        # return_type=dict: we normalise the raw v2 JSON ourselves (the same code serves import).
        super().__init__(
            bearer_token=access_token(channel),
            return_type=dict,
            wait_on_rate_limit=False,
        )
        self.session = http.x_session()
        self.channel = channel

    def request(
        self,
        method: str,
        route: str,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        user_auth: bool = False,
    ) -> requests.Response:
        try:
            return super().request(method, route, params=params, json=json, user_auth=user_auth)
        except tweepy.Unauthorized:
            if not can_refresh(self.channel.credentials):
                raise
        self.bearer_token = refresh(self.channel, stale=self.bearer_token)["bearer_token"]
        return super().request(method, route, params=params, json=json, user_auth=user_auth)
