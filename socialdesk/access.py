"""How every view checks access: sign in first, then the permission, then the object.

1. **Sign in.** `SignInRequiredMiddleware` sends an anonymous visitor to the sign-in page for
   every view not marked `login_not_required` (the sign-in page, the monitors' ping), so a new
   view is private unless it says otherwise. For an htmx request the answer is an HX-Redirect,
   which moves the whole tab: htmx would follow a plain 302 itself and paste the sign-in page
   into the fragment it asked for (a poll after the session expired, a button on the case
   page). After signing in the visitor comes back to the page they were on (`come_back_url`).
2. **Permission and object.** Each app's `access_<thing>(request, id)` helpers fetch the object
   for this user or raise: PermissionDenied (403) for a signed-in user whose role lacks the
   permission (signing in again would not help), Http404 for an object outside what they may
   see. Views call them before anything else and use what they return. `require_perm` is the
   permission half the helpers share.

socialdesk/policy.py declares who may use which route; tests/test_authz_matrix.py holds these
checks to it.
"""

from collections.abc import Callable
from urllib.parse import urlsplit

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect


def come_back_url(request: HttpRequest) -> str:
    """Where to return after signing in: the page the visitor was looking at.

    A plain GET: this URL. An htmx request: the page the tab shows (HX-Current-URL), else this
    path without its query (a fragment's URL with a poll's state is no page to land on). A
    form POST: the page the form was on (a same-site Referer), else the home page (a POST's own
    URL cannot be opened).
    """
    if request.htmx and request.htmx.current_url_abs_path:
        return request.htmx.current_url_abs_path
    if request.method in ("GET", "HEAD"):
        return request.path if request.htmx else request.get_full_path()
    if request.htmx:
        return request.path
    referer = request.headers.get("Referer", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        parts = urlsplit(referer)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return resolve_url("home")


def login_redirect(request: HttpRequest) -> HttpResponse:
    """To the sign-in page and back (`come_back_url`); HX-Redirect for an htmx request."""
    login = redirect_to_login(come_back_url(request))
    return HttpResponseClientRedirect(login["Location"]) if request.htmx else login


class SignInRequiredMiddleware(LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware, answering with `login_redirect` (htmx-aware)."""

    def handle_no_permission(self, request: HttpRequest, view_func: Callable) -> HttpResponse:
        return login_redirect(request)


def require_perm(request: HttpRequest, *perms: str, message: str = "") -> None:
    """Raise PermissionDenied (403, with `message`) unless the user holds every one of `perms`.

    The sign-in has been checked already (the middleware): this is the role's answer.
    """
    if not all(request.user.has_perm(perm) for perm in perms):
        raise PermissionDenied(message)
