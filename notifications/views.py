"""The bell, the list of one's notifications, marking them read, and e-mail preferences.

/notifications/             the list (htmx: the bell's drop-down panel, the newest few)
/notifications/bell/        the bell's unread count; htmx polls it with `since` and gets 204
                            while nothing changed (one query: notifications.actions.unread_state)
/notifications/<id>/read/   POST: mark one read (with `open`: and go where it leads)
/notifications/read-all/    POST: mark all read
/notifications/preferences/ which notifications also come by e-mail, and how

Everyone signed in has notifications; each sees and changes only their own (another user's
notification is a 404).
"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from notifications.actions import (
    do_mark_read,
    do_save_preferences,
    preferences_of,
    reader_title,
    unread_state,
)
from notifications.forms import PreferencesForm
from notifications.models import Notification
from socialdesk.params import parse_id

app_name = "notifications"
PANEL_SHOWN = 8
PAGE_SIZE = 50
BELL = "notifications/_bell.html"


SHOWN = [
    "id", "kind", "title", "url", "data", "created_at", "read_at",
    "case__id", "case__subject",
    "actor__username", "actor__first_name", "actor__last_name",
]  # fmt: skip


def _worded(rows: list[Notification]) -> list[Notification]:
    for row in rows:
        row.shown_title = reader_title(row)
    return rows


def _fingerprint(unread: int, newest: int) -> str:
    return f"{unread}-{newest}"


@require_GET
def bell(request: HttpRequest) -> HttpResponse:
    """The unread count; 204 to an htmx poll whose `since` is still current."""
    unread, newest = unread_state(request.user)
    current = _fingerprint(unread, newest)
    if request.htmx and request.GET.get("since") == current:
        response = HttpResponse(status=204)
    else:
        context = {"unread": unread, "since": current}
        response = render(request, f"{BELL}#count", context)
    patch_vary_headers(response, ["HX-Request"])
    response["Cache-Control"] = "no-store"
    return response


def _back(request: HttpRequest) -> str:
    """The page the user was on (the panel's page for htmx), if it is on this site."""
    raw = request.POST.get("next") or ""
    if raw and url_has_allowed_host_and_scheme(
        raw, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return raw
    return reverse("notifications:list")


@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    """The user's notifications, newest first, by pages (`before`: the last id shown)."""
    # The case and actor come with each row: the titles are worded in the reader's language.
    mine = (
        Notification.objects.filter(recipient=request.user)
        .select_related("case", "actor")
        .only(*SHOWN)
    )
    if request.htmx:
        back = request.htmx.current_url_abs_path or reverse("notifications:list")
        rows = _worded(list(mine[: PANEL_SHOWN + 1]))
        context = {"rows": rows[:PANEL_SHOWN], "more": len(rows) > PANEL_SHOWN, "back": back}
        response = render(request, f"{BELL}#panel", context)
    else:
        before = parse_id(request.GET.get("before", ""))
        page = mine.filter(pk__lt=before) if before else mine
        rows = _worded(list(page[: PAGE_SIZE + 1]))
        unread, _ = unread_state(request.user)
        context = {
            "rows": rows[:PAGE_SIZE],
            "older": rows[PAGE_SIZE - 1].pk if len(rows) > PAGE_SIZE else None,
            "unread": unread,
            "back": request.get_full_path(),
        }
        response = render(request, "notifications/list.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_POST
def mark_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Mark one of the user's notifications read; with `open`, go on to what it is about."""
    notification = get_object_or_404(
        Notification.objects.only("id", "url", "recipient_id"),
        pk=notification_id,
        recipient=request.user,
    )
    do_mark_read(request.user, [notification.pk])
    if request.POST.get("open") and notification.url.startswith("/"):
        return HttpResponseRedirect(notification.url, status=303)
    return HttpResponseRedirect(_back(request), status=303)


@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    count = do_mark_read(request.user)
    messages.success(
        request,
        ngettext(
            "Marked %(count)d notification read.", "Marked %(count)d notifications read.", count
        )
        % {"count": count}
        if count
        else gettext("Nothing was unread."),
    )
    return HttpResponseRedirect(_back(request), status=303)


@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """Which kinds also come by e-mail (in the app: always), one by one or as a daily digest."""
    current = preferences_of(request.user)
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            do_save_preferences(
                request.user, form.cleaned_data["email_kinds"], form.cleaned_data["daily_digest"]
            )
            messages.success(request, gettext("Your notification e-mails are set."))
            return redirect("notifications:preferences")
    else:
        form = PreferencesForm(
            initial={"email_kinds": current.email_kinds, "daily_digest": current.daily_digest}
        )
    context = {"form": form, "has_email": bool(request.user.email)}
    return render(request, "notifications/preferences.html", context)


urlpatterns = [
    path("", notification_list, name="list"),
    path("bell/", bell, name="bell"),
    path("<int:notification_id>/read/", mark_read, name="read"),
    path("read-all/", mark_all_read, name="read_all"),
    path("preferences/", preferences, name="preferences"),
]
