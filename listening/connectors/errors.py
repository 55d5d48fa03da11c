"""Errors every connector raises, so that the poller and the sender need not know a network.

Every message is scrubbed when the error is made: network libraries quote URLs and answers
that carry tokens (facebook-sdk's `access_token=` query string), and these messages are
stored, shown and logged.
"""

from datetime import datetime
from typing import Any

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
