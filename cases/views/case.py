"""The case page: the conversation as one timeline (cases/timeline.py), the customer card, the
radar, the network clocks (cases/clocks.py), triage and the other case actions.

Every view is parse → access → act → render. The page is one view that serves the whole page
or, for htmx, the page's body. Each action is a POST that answers htmx with the partials that
show case state (the action panel as the target; the header, clocks, timeline and the page's
version out of band: `_updated`) and a plain form post with a redirect back to the page, so
the page also works without JavaScript. The timeline's refresh brings the same partials, so
the page never shows a state the timeline has moved past.

Every form that changes the case carries the version it was rendered from; `_act` applies
the change only if the case is still at that version (cases.actions.check_case_version).
"""

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from cases import clocks, navigation, presence, replies
from cases.access import access_case
from cases.actions import (
    ActionError,
    case_version,
    check_case_version,
    do_add_note,
    do_assign_case,
    do_set_labels,
    do_set_status,
    do_triage_case,
    lock_case,
    owning_team,
)
from cases.forms import StatusChange, TransferForm
from cases.models import Case, CaseStatus, Identity, Label, Reply, Triage
from cases.timeline import safe_url, timeline_context
from cases.views.transfer import transfer_choices
from cases.visibility import seers_q
from listening import radar
from listening.networks import POLICIES
from socialdesk import roles
from socialdesk.params import parse_id, parse_ids

PREVIOUS_CASES_SHOWN = 10
TEMPLATE = "cases/case_detail.html"


# ---------- what the page shows ----------


def case_context(request: HttpRequest, case: Case, *, error: str = "") -> dict[str, Any]:
    """Everything the page and its partials show, in a fixed number of queries."""
    user = request.user
    now = timezone.now()
    context = timeline_context(request, case)
    mentions, replies = context["mentions"], context["replies"]

    identities = list(
        Identity.objects.filter(customer_id=case.customer_id).order_by("network", "handle")
    )
    for identity in identities:
        identity.safe_profile_url = safe_url(identity.profile_url)
    previous_cases = list(
        Case.objects.visible_to(user)
        .filter(customer_id=case.customer_id)
        .exclude(pk=case.pk)
        .select_related("channel")
        .annotate(sent_replies=Count("replies", filter=Q(replies__state=Reply.State.SENT)))
        .order_by("-opened_at")[:PREVIOUS_CASES_SHOWN]
    )
    sla_terms = clocks.sla_terms(case)
    labels = list(case.labels.all())
    raw_from = request.GET.get("from", "")
    prev_id, next_id = Case.objects.visible_to(user).neighbours(case)
    can_change = user.has_perm("cases.change_case")
    people = presence.others(case.pk, user)
    context |= {
        "channel": case.channel,
        "policy": POLICIES.get(case.channel.network),
        "identities": identities,
        "previous_cases": previous_cases,
        "clocks": [
            *clocks.sla_clocks(case, sla_terms, now),
            *clocks.network_clocks(case, mentions, replies, now),
        ],
        "sla_policy": sla_terms.policy,
        "sentiment": radar.sentiment_label(case.sentiment),
        "labels": labels,
        "label_ids": {label.pk for label in labels},
        "can_change": can_change,
        "can_note": user.has_perm("cases.add_note"),
        # The timeline's hide / show / delete forms (not on the QA review page's timeline).
        "moderation_controls": True,
        "can_hide": user.has_perm("cases.hide_comment"),
        "can_delete": user.has_perm("cases.delete_published_reply"),
        "opened_at": now,
        "inbox_url": navigation.inbox_url(raw_from),
        "prev_url": navigation.case_link(prev_id, raw_from),
        "next_url": navigation.case_link(next_id, raw_from),
        "people": people,
        "activity": [],
        "presence_sig": presence.signature(people, []),
        "error": error,
        "version": case_version(case),
        "statuses": CaseStatus.choices,
        "triage_choices": Triage.choices,
        "snooze_presets": clocks.snooze_presets(now),
        "snooze_min": timezone.localtime(now).strftime("%Y-%m-%dT%H:%M"),
    }
    context["case_team"] = owner = owning_team(case)
    if can_change:
        context["all_labels"] = list(Label.objects.all())
        # Only people who see the case: its team's, and those who see every team.
        seers = seers_q(owner.pk if owner else None)
        context["assignees"] = list(roles.assignable().filter(seers))
        context["transfer_form"] = TransferForm(teams=transfer_choices(case))
    return context


# ---------- the page ----------


def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    """The case page; for htmx, the page's body (the `case-page` partial)."""
    case = access_case(request, case_id)
    presence.touch(case.pk, request.user, "viewing")
    context = case_context(request, case)
    template = f"{TEMPLATE}#case-page" if request.htmx else TEMPLATE
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def case_timeline(request: HttpRequest, case_id: int) -> HttpResponse:
    """The timeline for htmx, with the other partials that show case state out of band: the
    page refreshes it when the composer sends a reply (`sd:replies-changed`) or the presence
    poll sees the case change (`sd:case-activity`). A plain GET (a reload of a copied URL) goes
    to the case page."""
    case = access_case(request, case_id)
    if not request.htmx:
        return redirect("cases:detail", case_id=case.pk)
    context = case_context(request, case)
    response = HttpResponse(
        render_to_string("cases/_timeline.html", context, request=request)
        + _state_parts(request, context)
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


COMPOSER_NOTICE = "cases/_composer.html#composer-notice"
STATE_PARTS = ("case-header", "case-clocks", "case-version")


def _state_parts(request: HttpRequest, context: dict[str, Any]) -> str:
    """The partials that show case state, out of band: header, clocks, version, the action
    panel (unless it is the response's target) and the composer's word on the agent's reply."""
    context = {**context, "oob": True}
    names = list(STATE_PARTS) if context.get("actions_target") else [*STATE_PARTS, "case-actions"]
    parts = [render_to_string(f"{TEMPLATE}#{name}", context, request=request) for name in names]
    if request.user.has_perm("cases.add_reply"):
        # What the composer says about the agent's latest reply follows it too.
        progress = replies.reply_progress(replies.latest_reply(context["case"], request.user))
        if progress:
            notice = {**context, **progress}
            parts.append(render_to_string(COMPOSER_NOTICE, notice, request=request))
    return "".join(parts)


def _updated(
    request: HttpRequest, case: Case, *, error: str = "", target: str = "actions"
) -> HttpResponse:
    """After an action: htmx gets the partials that show case state, a plain form post a
    redirect."""
    if not request.htmx:
        if error:
            messages.error(request, error)
        url = reverse("cases:detail", args=[case.pk])
        raw_from = request.POST.get("from", "")
        return redirect(f"{url}?{urlencode({'from': raw_from})}" if raw_from else url)
    context = case_context(request, case, error=error)
    if error:  # nothing changed: the reason the agent wrote stays in the box
        context["triage_reason"] = request.POST.get("reason", "")
    if target == "note":
        first = render_to_string(f"{TEMPLATE}#note-form", context, request=request)
    else:
        context["actions_target"] = True
        first = render_to_string(f"{TEMPLATE}#case-actions", context, request=request)
    timeline = render_to_string("cases/_timeline.html", {**context, "oob": True}, request=request)
    return HttpResponse(first + _state_parts(request, context) + timeline)


def _act(request: HttpRequest, case: Case, action: Callable[[], None]) -> HttpResponse:
    """Do `action` if the form was rendered from the case as it is now; else refuse and say
    what changed. Every view that changes the case's state goes through here."""
    try:
        with transaction.atomic():
            lock_case(case)
            check_case_version(case, request.POST.get("version", ""), viewer=request.user)
            action()
    except ActionError as exc:
        case.refresh_from_db()  # whatever the action began in memory was rolled back
        return _updated(request, case, error=str(exc))
    return _updated(request, case)


@require_POST
def triage_case(request: HttpRequest, case_id: int) -> HttpResponse:
    """POST decision (engage/ignore/escalate) and reason; `resolve` with ignore resolves too."""
    case = access_case(request, case_id, "cases.change_case")
    decision = request.POST.get("decision", "")
    reason = request.POST.get("reason", "")
    resolve = bool(request.POST.get("resolve"))
    return _act(
        request,
        case,
        lambda: do_triage_case(case, decision, reason, actor=request.user, resolve_ignored=resolve),
    )


@require_POST
def assign_case(request: HttpRequest, case_id: int) -> HttpResponse:
    """POST assignee: a user id, "me" (take it) or "" (unassign)."""
    case = access_case(request, case_id, "cases.change_case")
    raw = request.POST.get("assignee", "")
    if raw == "me":
        assignee: User | None = request.user
    elif raw == "":
        assignee = None
    else:
        assignee = roles.inbox_workers().filter(pk=parse_id(raw)).first()
        if assignee is None:
            return _updated(request, case, error="Choose someone who works the inbox.")
    return _act(request, case, lambda: do_assign_case(case, assignee, actor=request.user))


@require_POST
def set_status(request: HttpRequest, case_id: int) -> HttpResponse:
    """POST status, optional snooze_until (datetime-local, desk time) or snooze_preset."""
    case = access_case(request, case_id, "cases.change_case")
    change = StatusChange.parse(request.POST, timezone.now())
    if change.unknown_preset:
        return HttpResponseBadRequest("Unknown snooze preset.")
    if change.error:
        return _updated(request, case, error=change.error)
    return _act(
        request,
        case,
        lambda: do_set_status(case, change.status, actor=request.user, snooze_until=change.until),
    )


@require_POST
def set_labels(request: HttpRequest, case_id: int) -> HttpResponse:
    """POST label (repeated): the case's labels become exactly these."""
    case = access_case(request, case_id, "cases.change_case")
    ids = parse_ids(request.POST.getlist("label"))
    labels = list(Label.objects.filter(pk__in=ids))
    return _act(request, case, lambda: do_set_labels(case, labels, actor=request.user))


@require_POST
def add_note(request: HttpRequest, case_id: int) -> HttpResponse:
    """POST text: an internal note."""
    case = access_case(request, case_id, "cases.add_note")
    try:
        do_add_note(case, request.POST.get("text", ""), author=request.user)
    except ActionError as exc:
        return _updated(request, case, error=str(exc), target="note")
    return _updated(request, case, target="note")


urlpatterns = [
    path("<int:case_id>/", case_detail, name="detail"),
    path("<int:case_id>/triage/", triage_case, name="triage"),
    path("<int:case_id>/assign/", assign_case, name="assign"),
    path("<int:case_id>/status/", set_status, name="set_status"),
    path("<int:case_id>/labels/", set_labels, name="labels"),
    path("<int:case_id>/notes/", add_note, name="add_note"),
    path("<int:case_id>/timeline/", case_timeline, name="timeline"),
]
