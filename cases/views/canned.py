"""Canned replies: the library page (everyone who reads cases; admins edit in the admin) and
the composer's picker, which answers the matches for one case as a partial.

Both search the same way (cases.canned.search_canned: title, text, variants and labels, accents
and case folded). The picker shows each reply in the case's network's wording with its
placeholders filled in, so what the agent picks is what goes into the box.
"""

from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from cases import canned
from cases.access import access_case
from cases.models import CannedReply, Label
from cases.views.composer import SEND
from socialdesk.access import require_perm

READ = "cases.view_cannedreply"
EDIT = "cases.change_cannedreply"


@require_GET
def library(request: HttpRequest) -> HttpResponse:
    """The searchable list of canned replies with every network's wording; the list alone for
    htmx (the search box asks as the agent types)."""
    require_perm(request, READ)
    term = request.GET.get("q", "").strip()[:100]
    label = request.GET.get("label", "").strip()[:50]
    used = CannedReply.objects.filter(labels=OuterRef("pk"))
    context = {
        "replies": list(canned.search_canned(term, label)),
        "labels": list(Label.objects.filter(Exists(used))),
        "q": term,
        "label": label,
        "can_edit": request.user.has_perm(EDIT),
        "can_add": request.user.has_perm("cases.add_cannedreply"),
    }
    if request.htmx:
        return render(request, "cases/canned.html#results", context)
    return render(request, "cases/canned.html", context)


@require_GET
def picker(request: HttpRequest, case_id: int) -> HttpResponse:
    """The composer picker's matches for this case (a partial of the composer)."""
    term = request.GET.get("q", "").strip()[:100]
    is_private = request.GET.get("visibility") == "private"
    case = access_case(request, case_id, SEND)
    context = {
        "case": case,
        "q": term,
        "is_private": is_private,
        "replies": canned.picker_replies(case, request.user, term=term, is_private=is_private),
    }
    return render(request, "cases/_canned_picker.html#results", context)


urlpatterns = [
    path("canned/", library, name="canned_replies"),
    path("<int:case_id>/compose/canned/", picker, name="canned_picker"),
]
