"""Sign-in throttling with django-axes: who the client is, and what a refused sign-in says.

Failures are counted per account *and* client address (AXES_LOCKOUT_PARAMETERS), so five bad
passwords from one address refuse that account from that address only, for
LOGIN_THROTTLE_WINDOW seconds; the owner signing in from anywhere else is not affected, and
an attacker cannot lock anyone out. The client address is the proxy-appended entry of
X-Forwarded-For, counted back through exactly TRUSTED_PROXY_COUNT proxies; with no trusted
proxy (the default) it is REMOTE_ADDR and X-Forwarded-For is ignored, because any client can
write that header.
"""

import math
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_username
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import ngettext
from python_ipware import IpWare


def client_address(request: HttpRequest) -> str | None:
    """The client's address, trusting X-Forwarded-For through TRUSTED_PROXY_COUNT proxies only.

    Behind N proxies, each appending the address it was called from, the header ends with the
    client and N-1 proxies and REMOTE_ADDR is the last proxy: the client is the (N+1)-th entry
    from the right of `X-Forwarded-For + REMOTE_ADDR`. Anything to its left was written by the
    client and is ignored. A chain shorter than that did not come through the proxies: the
    address is then REMOTE_ADDR. None when there is no address at all (a request built in code).
    """
    remote = request.META.get("REMOTE_ADDR") or None
    count = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if count <= 0 or not forwarded or remote is None:
        return remote
    chain = {"HTTP_X_FORWARDED_FOR": f"{forwarded}, {remote}"}
    ip, _trusted = IpWare(
        precedence=("HTTP_X_FORWARDED_FOR",), leftmost=True, proxy_count=count
    ).get_client_ip(chain)
    return str(ip) if ip is not None else remote


class DeskAxesBackend(AxesStandaloneBackend):
    """Axes' lock-out check for sign-ins over HTTP; no check where there is no request.

    Django's test client `login()` and management commands authenticate without a request:
    there is no client to count or lock out there, and axes' own backend would refuse them.
    """

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """The page a refused sign-in gets (429): who is paused, from where, and for how long."""
    username = get_client_username(request, credentials) or ""
    minutes = max(1, math.ceil(settings.LOGIN_THROTTLE_WINDOW / 60))
    wait = f"{minutes} {ngettext('minute', 'minutes', minutes)}"
    context = {"username": username, "wait": wait}
    return render(request, "registration/locked_out.html", context, status=429)
