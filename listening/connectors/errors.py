"""Errors every connector raises, so that the poller and the sender need not know a network.

Every message is scrubbed when the error is made: network libraries quote URLs and answers
that carry tokens (facebook-sdk's `access_token=` query string), and these messages are
stored, shown and logged.
"""

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from socialdesk.scrub import scrub


class ConnectorError(Exception):
    """Base class. `transient` says whether retrying later can succeed."""

    transient = False

    def __init__(self, message: Any = "", *args: Any) -> None:
        super().__init__(scrub(message), *args)


class RateLimited(ConnectorError):
    """The network said 429; do not call it again before `reset_at`."""

    transient = True

    def __init__(self, message: str, reset_at: datetime) -> None:
        super().__init__(message)
        self.reset_at = reset_at


class TransientError(ConnectorError):
    """A timeout, connection failure or 5xx: retry with backoff."""

    transient = True


class AuthError(ConnectorError):
    """The token is expired or revoked: the channel needs re-authorisation by an admin."""


class PermanentError(ConnectorError):
    """The network refused the request for good (4xx other than auth and rate limits)."""


class PostGone(PermanentError):
    """The post a request was about no longer exists at the network: deleted by its author (or
    earlier by us), or never there.

    X answers a reply to it with 403 "You attempted to reply to a Tweet that is deleted or not
    visible to you." (v1.1 code 385) or 404; Graph with error #100, subcode 33 "Object with
    ID '…' does not exist, cannot be loaded due to missing permissions, or does not support
    this operation" (which Graph also gives for an object the token may not touch). Retrying
    cannot succeed, and the desk must drop the post's text.
    """


class AmbiguousSend(TransientError):
    """A publish timed out or failed after it may have reached the network.

    The sender must reconcile with `find_published` before any retry.
    """


class DuplicatePost(PermanentError):
    """The network refused a post as a duplicate of one the account already made there.

    X answers 403 "You are not allowed to create a Tweet with duplicate content."; Graph
    answers error #506 "Duplicate status message". For the sender this means an earlier
    attempt of the same reply most likely landed: it reconciles, it never posts again.
    """


def transport_reason(exc: BaseException) -> str:
    """A short, readable reason for a failed HTTP request: "could not connect to host (...)".

    `requests` errors quote urllib3's whole chain ("HTTPSConnectionPool(...): Max retries
    exceeded with url: ... (Caused by NewConnectionError(...))"), URL and query string
    included; people reading the health page or a case need only what happened and where.
    """
    import requests  # local: the rest of this module is plain exceptions

    request = getattr(exc, "request", None)
    url = getattr(request, "url", None) or ""
    host = urlsplit(url).netloc if url else ""
    where = f" {host}" if host else ""
    text = str(exc)
    if isinstance(exc, requests.ConnectTimeout):
        reason = f"connecting to{where or ' the server'} timed out"
    elif isinstance(exc, requests.ReadTimeout):
        reason = f"{host or 'the server'} did not answer in time"
    elif isinstance(exc, requests.exceptions.SSLError):
        reason = f"TLS handshake with{where or ' the server'} failed"
    elif isinstance(exc, requests.ConnectionError):
        cause = _CAUSES.search(text)
        detail = f": {cause.group(1).strip()}" if cause else ""
        if "NewConnectionError" in text or "NameResolutionError" in text:
            reason = f"could not connect to{where or ' the server'}{detail}"
        else:
            reason = f"the connection to{where or ' the server'} broke{detail}"
    else:
        reason = text
    return scrub(reason)[:300]


# The operating system's words at the end of urllib3's chain: "[Errno 111] Connection refused".
_CAUSES = re.compile(r"(\[Errno -?\d+\][^\"')]*|Connection (?:reset|aborted|refused)[^\"')]*)")
