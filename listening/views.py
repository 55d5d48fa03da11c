"""The health page (supervisors and admins) and the public liveness ping."""

from django.contrib.auth.decorators import login_required, permission_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache

from socialdesk import health as health_checks


@never_cache
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
@login_required
@permission_required("listening.view_health", raise_exception=True)
def health(request: HttpRequest) -> HttpResponse:
    """Each channel's polling state and the system's parts; JSON when the client asks for it.

    503 when the desk is down (database or broker), so monitors can alert on the status code.
    """
    report = health_checks.gather()
    status = 503 if report.status == health_checks.DOWN else 200
    # A browser sends "text/html,...,*/*": only an explicit preference gets JSON.
    if request.get_preferred_type(["text/html", "application/json"]) == "application/json":
        response = JsonResponse(report.as_json(), status=status)
    else:
        response = render(request, "listening/health.html", {"report": report}, status=status)
    patch_vary_headers(response, ["Accept"])
    return response
