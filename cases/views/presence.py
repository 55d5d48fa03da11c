"""Presence on the case page: who else is viewing or typing, and what others did meanwhile.

The page posts every few seconds (static/js/case.js); the answer is the presence list, or 204
when nothing it shows changed. Facts live in the cache (cases/presence.py).
"""

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from cases import presence
from cases.access import access_case
from cases.actions import case_version
from cases.models import Case
from socialdesk.params import parse_moment

CASE_ACTIVITY = "sd:case-activity"  # the presence poll saw others' activity: refresh timeline


@require_POST
def case_presence(request: HttpRequest, case_id: int) -> HttpResponse:
    """POST state=viewing|typing every few seconds; answers who else is here (204: no change).

    `since` is the time the page was rendered: when the case changed after it, the answer
    also says what others did, with a link to reload. `version` is the case version the page
    shows: when the case has moved on (by anyone, the desk included), the page is told to
    refresh its timeline and the partials that show case state.
    """
    case = access_case(request, case_id, cases=Case.objects.only("id", "updated_at"))
    state = request.POST.get("state", "viewing")
    if state not in presence.STATES:
        return HttpResponseBadRequest("state must be viewing or typing")
    since = parse_moment(request.POST.get("since", ""))
    presence.touch(case.pk, request.user, state)
    people = presence.others(case.pk, request.user)
    activity = (
        presence.activity_since(case, since, request.user)
        if since and case.updated_at > since
        else []
    )
    signature = presence.signature(people, activity)
    shown = request.POST.get("version", "")
    moved_on = bool(shown) and shown != case_version(case)
    if request.POST.get("seen") == signature and not moved_on:
        return HttpResponse(status=204)
    context = {
        "case": case,
        "people": people,
        "activity": activity,
        "presence_sig": signature,
    }
    response = render(request, "cases/case_detail.html#presence-list", context)
    if activity or moved_on:  # the page shows an older case: it refreshes timeline and state
        response = trigger_client_event(response, CASE_ACTIVITY, {"case": case.pk})
    return response


urlpatterns = [
    path("<int:case_id>/presence/", case_presence, name="presence"),
]
