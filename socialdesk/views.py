"""Sign-in and sign-out, with login throttling, and the home redirect.

Throttling: after settings.LOGIN_THROTTLE_ATTEMPTS failed sign-ins for one username or from one
client address within LOGIN_THROTTLE_WINDOW seconds, further attempts are refused (even with the
right password) until the window that started with the first failure has passed. Counters live
in the Django cache (Redis in production), so every web process shares them.
"""

import hashlib
import math
import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, resolve_url
from django.utils.translation import ngettext

_PREFIX = "socialdesk:login-fail"


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("cases:list")


def client_address(request: HttpRequest) -> str:
    """The address the request came from, as the WSGI server saw it.

    X-Forwarded-For is not trusted: any client can set it, and trusting it would let an
    attacker pick a fresh address for every guess.
    """
    return request.META.get("REMOTE_ADDR") or "unknown"


def _throttle_keys(request: HttpRequest, username: str) -> list[str]:
    # Hashed: both parts are attacker-controlled text, and cache keys have their own rules.
    keys = [f"{_PREFIX}:addr:{hashlib.sha256(client_address(request).encode()).hexdigest()}"]
    normalized = username.strip().casefold()
    if normalized:
        keys.append(f"{_PREFIX}:user:{hashlib.sha256(normalized.encode()).hexdigest()}")
    return keys


def login_locked_for(request: HttpRequest, username: str) -> int:
    """Seconds until sign-in is allowed again for this username and address; 0 if allowed now."""
    limit = settings.LOGIN_THROTTLE_ATTEMPTS
    window = settings.LOGIN_THROTTLE_WINDOW
    keys = _throttle_keys(request, username)
    values = cache.get_many([f"{key}:n" for key in keys] + [f"{key}:start" for key in keys])
    now = time.time()
    wait = 0.0
    for key in keys:
        if (values.get(f"{key}:n") or 0) >= limit:
            started = values.get(f"{key}:start") or now
            wait = max(wait, started + window - now, 1.0)
    return math.ceil(wait)


def record_login_failure(request: HttpRequest, username: str) -> None:
    """Count one failed sign-in against the username and the client address."""
    window = settings.LOGIN_THROTTLE_WINDOW
    now = time.time()
    for key in _throttle_keys(request, username):
        cache.add(f"{key}:start", now, timeout=window)
        if cache.add(f"{key}:n", 1, timeout=window):
            continue
        try:
            cache.incr(f"{key}:n")  # atomic in Redis: concurrent guesses are all counted
        except ValueError:  # the key expired between add and incr: a new window starts
            cache.set(f"{key}:n", 1, timeout=window)


def clear_login_failures(request: HttpRequest, username: str) -> None:
    """Forget the username's failures after a successful sign-in.

    The address counter is kept: one valid account must not reset the budget of an address
    that is guessing other users' passwords.
    """
    user_keys = _throttle_keys(request, username)[1:]
    cache.delete_many([f"{key}:{part}" for key in user_keys for part in ("n", "start")])


def throttle_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    unit = ngettext("minute", "minutes", minutes)
    return f"Too many failed sign-ins. Try again in {minutes} {unit}."


class LoginView(auth_views.LoginView):
    """Django's sign-in view, refusing attempts once the throttle is reached."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        username = request.POST.get("username", "")[:150]
        wait = login_locked_for(request, username)
        if wait:
            # The password is not even checked: a locked-out attacker learns nothing.
            form = self.get_form_class()(request, initial={"username": username})
            context = self.get_context_data(form=form, throttled=throttle_message(wait))
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form) -> HttpResponse:
        record_login_failure(self.request, self.request.POST.get("username", "")[:150])
        return super().form_invalid(form)

    def form_valid(self, form) -> HttpResponse:
        clear_login_failures(self.request, form.get_user().get_username())
        return super().form_valid(form)


class LogoutView(auth_views.LogoutView):
    """Sign-out by POST only (Django's default): a link or an image cannot sign anyone out."""


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's sign-in URL, routed through the throttled sign-in page.

    A signed-in user without admin access gets 403 rather than a sign-in loop.
    """
    if request.user.is_authenticated:
        raise PermissionDenied("Your account has no access to the admin.")
    target = request.GET.get("next") or resolve_url("admin:index")
    return HttpResponseRedirect(f"{resolve_url('login')}?{urlencode({'next': target})}")
