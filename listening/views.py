"""The health page (supervisors and admins), the monitor endpoint, and the public ping."""

import secrets

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache

from socialdesk import health as health_checks
from socialdesk.access import require_perm


@never_cache
@login_not_required
def ping(request: HttpRequest) -> JsonResponse:
    """For load balancers and uptime monitors: no login, no detail, one SELECT 1."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any database error: report down, never a 500 page
        return JsonResponse({"status": "down"}, status=503)
    return JsonResponse({"status": "ok"})


@never_cache
@login_not_required
def monitor(request: HttpRequest) -> JsonResponse:
    """For uptime monitors: 503 when the desk is degraded or down, 200 when it is ok.

    No session needed. The body names the failing checks ("beat", "replies_stuck",
    "channels", ...) and nothing else: no channel names, handles or errors, which are for
    signed-in staff. A monitor presenting HEALTH_MONITOR_TOKEN as a Bearer token also gets
    the problem lines (causes, channel names included) for its alert text.
    """
    report = health_checks.gather()
    body: dict = {"status": report.status, "failing": report.failing_checks}
    if _has_monitor_token(request):
        body["problems"] = report.problems
    return JsonResponse(body, status=200 if report.status == health_checks.OK else 503)


def _has_monitor_token(request: HttpRequest) -> bool:
    token = settings.HEALTH_MONITOR_TOKEN
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return secrets.compare_digest(presented.encode(), token.encode())


@never_cache
def health(request: HttpRequest) -> HttpResponse:
    """Each channel's polling state and the system's parts; JSON when the client asks for it.

    503 when the desk is down (database or broker), so monitors can alert on the status code.
    """
    require_perm(request, "listening.view_health")
    report = health_checks.gather()
    status = 503 if report.status == health_checks.DOWN else 200
    # A browser sends "text/html,...,*/*": only an explicit preference gets JSON.
    if request.get_preferred_type(["text/html", "application/json"]) == "application/json":
        response = JsonResponse(report.as_json(), status=status)
    else:
        response = render(request, "listening/health.html", {"report": report}, status=status)
    patch_vary_headers(response, ["Accept"])
    return response
