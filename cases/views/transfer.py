"""Transferring a case to another team, with a note for them (cases.actions.do_transfer_case).

GET /cases/<id>/transfer/   the form on a page of its own (the case page opens the same form
                            in a dialog; this is where its button leads without script)
POST                        transfer; back to the case when the user still sees it, else to
                            the inbox (the case left their teams)
"""

from django.contrib import messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext

from cases.access import access_case
from cases.actions import (
    ActionError,
    case_version,
    check_case_version,
    do_transfer_case,
    lock_case,
    owning_team,
)
from cases.forms import TransferForm
from cases.models import Case
from socialdesk.models import Team


def transfer_choices(case: Case) -> QuerySet[Team]:
    """The teams the case can go to: every team but the one it belongs to."""
    owner = owning_team(case)
    teams = Team.objects.only("id", "name")
    return teams.exclude(pk=owner.pk) if owner else teams


def _form_page(
    request: HttpRequest, case: Case, form: TransferForm, error: str = ""
) -> HttpResponse:
    context = {
        "case": case,
        "owner": owning_team(case),
        "form": form,
        "version": case_version(case),
        "error": error,
    }
    return render(request, "cases/transfer.html", context, status=400 if form.is_bound else 200)


def transfer_case(request: HttpRequest, case_id: int) -> HttpResponse:
    """GET the form; POST team, note and the case's version to transfer."""
    # access
    case = access_case(request, case_id, "cases.change_case")
    teams = transfer_choices(case)
    if request.method != "POST":
        return _form_page(request, case, TransferForm(teams=teams))
    # parse
    form = TransferForm(request.POST, teams=teams)
    if not form.is_valid():
        return _form_page(request, case, form)
    team = form.cleaned_data["team"]
    # act
    try:
        with transaction.atomic():
            lock_case(case)
            check_case_version(case, request.POST.get("version", ""), viewer=request.user)
            do_transfer_case(case, team, form.cleaned_data["note"], actor=request.user)
    except ActionError as exc:
        case.refresh_from_db()
        return _form_page(request, case, TransferForm(request.POST, teams=teams), str(exc))
    # render
    if Case.objects.visible_to(request.user).filter(pk=case.pk).exists():
        messages.success(
            request,
            gettext("Transferred case #%(case_id)s to %(team)s.")
            % {"case_id": case.pk, "team": team.name},
        )
        return redirect(reverse("cases:detail", args=[case.pk]))
    messages.success(
        request,
        gettext("Transferred case #%(case_id)s to %(team)s: it left your inbox.")
        % {"case_id": case.pk, "team": team.name},
    )
    return redirect(reverse("cases:list"))


urlpatterns = [
    path("<int:case_id>/transfer/", transfer_case, name="transfer"),
]
