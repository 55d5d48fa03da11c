"""The health page (supervisors and admins), the monitor endpoint, the public ping, and
Meta's webhook endpoint."""

import secrets

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from listening import webhooks
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
    meta = webhooks.summary(report.checked_at) if report.database.ok else {}
    # A browser sends "text/html,...,*/*": only an explicit preference gets JSON.
    if request.get_preferred_type(["text/html", "application/json"]) == "application/json":
        response = JsonResponse({**report.as_json(), "webhooks": meta}, status=status)
    else:
        context = {"report": report, "webhooks": meta}
        response = render(request, "listening/health.html", context, status=status)
    patch_vary_headers(response, ["Accept"])
    return response


@csrf_exempt  # Meta signs the body instead: the signature is checked before anything is stored
@never_cache
@login_not_required
@require_http_methods(["GET", "POST"])
def meta_webhook(request: HttpRequest) -> HttpResponse:
    """Meta's webhook endpoint: GET answers the subscription check, POST takes a delivery.

    404 while META_APP_SECRET is not set (push intake off: the desk polls only). A POST is
    verified, stored and acknowledged; everything else happens in a worker (listening.webhooks).
    """
    secret = settings.META_APP_SECRET
    if not secret:
        raise Http404("Webhooks are not configured.")
    if request.method == "GET":
        return _verify_subscription(request)
    try:
        payload = webhooks.check_delivery(
            request.body,
            request.headers.get(webhooks.SIGNATURE_HEADER, ""),
            secret=secret,
            now=timezone.now(),
            max_age=settings.META_WEBHOOK_MAX_AGE,
        )
    except webhooks.Refused as refusal:
        webhooks.count_refusal(refusal)
        return HttpResponse(refusal.reason, status=refusal.status, content_type="text/plain")
    stored = webhooks.store_delivery(request.body, payload, timezone.now())
    return HttpResponse("ok" if stored else "duplicate", content_type="text/plain")


def _verify_subscription(request: HttpRequest) -> HttpResponse:
    """Meta's subscription check: echo hub.challenge when hub.verify_token is ours."""
    token = settings.META_WEBHOOK_VERIFY_TOKEN
    presented = request.GET.get("hub.verify_token", "")
    if (
        token
        and request.GET.get("hub.mode") == "subscribe"
        and secrets.compare_digest(presented.encode(), token.encode())
    ):
        return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
    return HttpResponse("verification failed", status=403, content_type="text/plain")
