"""The desk's access answers: sign in first, then the permission.

An anonymous visitor is sent to the sign-in page and comes back to `next_url` afterwards. For
an htmx request that is an HX-Redirect, which moves the whole tab: htmx would follow a plain 302
itself and paste the sign-in page into the fragment it asked for (a poll after the session
expired, a button on the case page). A signed-in user without the permission gets 403: signing
in again would not help.
"""

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django_htmx.http import HttpResponseClientRedirect


def login_redirect(request: HttpRequest, next_url: str | None = None) -> HttpResponse:
    """To the sign-in page, then back to `next_url` (by default the URL of this request)."""
    login = redirect_to_login(request.get_full_path() if next_url is None else next_url)
    return HttpResponseClientRedirect(login["Location"]) if request.htmx else login


def require_perm(
    request: HttpRequest, perm: str, next_url: str | None = None
) -> HttpResponse | None:
    """None when the signed-in user has `perm`; the sign-in redirect for an anonymous visitor.

    Raises PermissionDenied (403) for a signed-in user without `perm`.
    """
    if not request.user.is_authenticated:
        return login_redirect(request, next_url)
    if not request.user.has_perm(perm):
        raise PermissionDenied
    return None
