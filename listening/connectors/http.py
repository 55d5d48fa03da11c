"""HTTP sessions that neutralise what tweepy 4.17 and facebook-sdk 3.1.0 get wrong.

Both libraries accept a `requests.Session`, so the fixes live here and the libraries' own
request code still runs (in tests too: `responses` patches below the session).

* tweepy's `Client` hard-codes https://api.twitter.com and sends no timeout:
  `XSession` adds `settings.SOCIAL_HTTP_TIMEOUT` and rewrites the host to
  `settings.X_API_BASE_URL` (the simulator in demos and tests).
* facebook-sdk never looks at the HTTP status and raises KeyError when a response has no
  content-type: `GraphSession` adds the timeout, rebases the URL onto
  `settings.FACEBOOK_GRAPH_URL`, raises our connector errors for every non-2xx answer and
  hands the library only JSON responses that carry a content-type.
"""

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from urllib3.exceptions import NewConnectionError

from listening.connectors.errors import (
    AuthError,
    ConnectorError,
    DuplicatePost,
    PermanentError,
    PostGone,
    RateLimited,
    TransientError,
)

log = logging.getLogger(__name__)

TWEEPY_HOST = "https://api.twitter.com"
# facebook-sdk builds URLs as facebook.FACEBOOK_GRAPH_URL + path, reading the constant at
# call time; we rebase in the session rather than patch a module global shared by threads.
FACEBOOK_SDK_GRAPH_URL = "https://graph.facebook.com/"

GRAPH_AUTH_CODES = frozenset({102, 190})
GRAPH_RATE_LIMIT_CODES = frozenset({4, 17, 32, 613})
# 1 "unknown error" and 2 "service temporarily unavailable": retry later.
GRAPH_TRANSIENT_CODES = frozenset({1, 2})
# "(#506) Duplicate status message": the page already posted this text there.
GRAPH_DUPLICATE_CODE = 506
# Error #100 with this subcode: "Object with ID ... does not exist" (deleted, or never visible).
GRAPH_NO_SUCH_OBJECT_SUBCODE = 33
GRAPH_DEFAULT_RATE_LIMIT_WAIT = timedelta(hours=1)


class TimeoutSession(requests.Session):
    """A session that always sends a timeout and can move one URL prefix to another base."""

    def __init__(self, timeout: float, rebase: tuple[str, str] | None = None) -> None:
        super().__init__()
        self.timeout = timeout
        self.rebase = rebase

    def rebase_url(self, url: str) -> str:
        if self.rebase:
            old, new = self.rebase
            if old != new and url.startswith(old):
                return new + url[len(old) :]
        return url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().request(method, self.rebase_url(url), *args, **kwargs)


class XSession(TimeoutSession):
    """The session given to tweepy.Client: timeout plus host rewrite."""


class GraphSession(TimeoutSession):
    """The session given to facebook.GraphAPI: timeout, URL rebase, status and error checks.

    Contract: returns only 2xx responses whose body is JSON and whose content-type says so;
    raises AuthError, RateLimited, TransientError or PermanentError otherwise. Transport
    failures (timeouts, refused connections) propagate as requests exceptions so that the
    caller can tell an ambiguous send from a request that never left (see `was_sent`).
    """

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = super().request(method, url, *args, **kwargs)
        check_graph_response(response)
        return response


def x_session() -> XSession:
    """A session for tweepy built from the current settings."""
    return XSession(
        timeout=settings.SOCIAL_HTTP_TIMEOUT, rebase=(TWEEPY_HOST, settings.X_API_BASE_URL)
    )


def graph_session() -> GraphSession:
    """A session for facebook-sdk built from the current settings."""
    return GraphSession(
        timeout=settings.SOCIAL_HTTP_TIMEOUT,
        rebase=(FACEBOOK_SDK_GRAPH_URL, settings.FACEBOOK_GRAPH_URL.rstrip("/") + "/"),
    )


def check_graph_response(response: requests.Response) -> None:
    """Raise the connector error a Graph response stands for; fix its content-type if 2xx."""
    body = _json_or_none(response)
    status = response.status_code
    if not 200 <= status < 300 or (isinstance(body, dict) and isinstance(body.get("error"), dict)):
        raise graph_error(status, body, response.headers)
    if body is None:
        # A 200 with an HTML or empty body (a proxy page, a truncated answer) is not data.
        raise TransientError(f"Graph API answered {status} with a body that is not JSON")
    content_type = response.headers.get("content-type", "")
    if "json" not in content_type:
        # facebook-sdk indexes headers["content-type"] and raises KeyError when it is missing.
        response.headers["content-type"] = "application/json; charset=UTF-8"


def graph_error(status: int, body: Any, headers: Any) -> ConnectorError:
    """Map a Graph API error (HTTP status and {"error": {...}} body) to a connector error."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = _as_int(error.get("code"))
    kind = str(error.get("type") or "")
    message = str(error.get("message") or f"HTTP {status}")[:500]
    text = f"Graph API error {code if code is not None else '-'} ({status}): {message}"
    if code in GRAPH_RATE_LIMIT_CODES or status == 429:
        return RateLimited(text, reset_at=graph_reset_at(headers))
    if status >= 500 or code in GRAPH_TRANSIENT_CODES or error.get("is_transient") is True:
        return TransientError(text)
    # Graph labels many errors "OAuthException" (#100 bad parameter, #2 service error, the
    # rate limits): only the token codes, a 401, or that type without a code mean re-auth.
    if code in GRAPH_AUTH_CODES or status == 401 or (kind == "OAuthException" and code is None):
        return AuthError(text)
    if code == GRAPH_DUPLICATE_CODE:
        return DuplicatePost(text)
    if code == 100 and _as_int(error.get("error_subcode")) == GRAPH_NO_SUCH_OBJECT_SUBCODE:
        return PostGone(text)
    return PermanentError(text)


def graph_reset_at(headers: Any, now: datetime | None = None) -> datetime:
    """When a Graph rate limit lifts, from x-business-use-case-usage or x-app-usage.

    Both headers are JSON; `estimated_time_to_regain_access` is in minutes. The longest
    wait named anywhere wins; without one we wait GRAPH_DEFAULT_RATE_LIMIT_WAIT.
    """
    now = now or datetime.now(UTC)
    minutes: list[float] = []
    for name in ("x-business-use-case-usage", "x-app-usage", "x-page-usage"):
        raw = headers.get(name) if headers is not None else None
        if not raw:
            continue
        try:
            minutes.extend(_find_numbers(json.loads(raw), "estimated_time_to_regain_access"))
        except ValueError:
            log.warning("unparseable Graph usage header", extra={"header": name})
    if minutes and max(minutes) > 0:
        return now + timedelta(minutes=max(minutes))
    return now + GRAPH_DEFAULT_RATE_LIMIT_WAIT


def was_sent(exc: requests.RequestException) -> bool:
    """Whether a failed request may have reached the server.

    Only a failure to connect proves it did not; a read timeout or a connection dropped
    mid-answer may come after the network accepted the request.
    """
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        inner = getattr(reason, "reason", reason)
        if isinstance(inner, NewConnectionError):
            return False
    return True


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _find_numbers(value: Any, key: str) -> list[float]:
    found: list[float] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key and isinstance(v, int | float) and not isinstance(v, bool):
                found.append(float(v))
            else:
                found.extend(_find_numbers(v, key))
    elif isinstance(value, list):
        for item in value:
            found.extend(_find_numbers(item, key))
    return found
