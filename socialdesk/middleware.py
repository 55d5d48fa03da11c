"""Session lifetime and the Permissions-Policy header."""

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

SEEN_KEY = "socialdesk_seen_at"
SIGNED_IN_KEY = "socialdesk_signed_in_at"
# The session is written at most this often to slide its expiry: not on every request (the
# inbox and health pages refresh themselves, and a page's queries should not depend on when it
# is loaded), at the cost of this much precision on an eight-hour timeout.
TOUCH_EVERY = 15 * 60


@receiver(user_logged_in, dispatch_uid="socialdesk-session-clock")
def start_session_clock(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """Both clocks start at sign-in, saved with it: the first page costs no extra write."""
    now = time.time()
    request.session[SEEN_KEY] = now
    request.session[SIGNED_IN_KEY] = now


class SessionTimeoutMiddleware:
    """Sign out a session idle for SESSION_IDLE_TIMEOUT or older than SESSION_MAX_AGE.

    The session cookie and the stored session expire SESSION_COOKIE_AGE (= the idle timeout)
    after their last write; this middleware writes the last-seen time at most every
    TOUCH_EVERY seconds, which slides that expiry, and checks both limits itself so that
    neither depends on the session backend or the browser honouring the cookie's age. Both
    clocks start at sign-in (`start_session_clock`). Runs after AuthenticationMiddleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            session = request.session
            seen = session.get(SEEN_KEY, now)
            signed_in = session.get(SIGNED_IN_KEY, now)
            if now - seen > settings.SESSION_IDLE_TIMEOUT or now - signed_in > (
                settings.SESSION_MAX_AGE
            ):
                logout(request)  # flushes the session; the view then asks for a sign-in
            else:
                session.setdefault(SIGNED_IN_KEY, signed_in)
                if SEEN_KEY not in session or now - seen >= TOUCH_EVERY:
                    session[SEEN_KEY] = now
        return self.get_response(request)


class PermissionsPolicyMiddleware:
    """Send settings.PERMISSIONS_POLICY as the Permissions-Policy header on every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.header = ", ".join(
            f"{feature}=({' '.join(allow)})"
            for feature, allow in settings.PERMISSIONS_POLICY.items()
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.header:
            response.headers.setdefault("Permissions-Policy", self.header)
        return response
