"""The inbox: filtered case list, saved views with counts, bulk actions, cheap live updates.

One view serves the full page and the fragment htmx polls every 5 s (`request.htmx`). The poll
carries `since=<fingerprint>`; when no case changed since then the answer is 204 after one
small query (see cases/inbox.py for why the fingerprint is global). The query logic lives in
cases/inbox.py; changes to cases go through cases.actions.do_*.
"""

from datetime import datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Prefetch
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    QueryDict,
)
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_POST

from cases import inbox, moderation, presence, sla
from cases.access import access_saved_view
from cases.actions import do_bulk_change
from cases.forms import BULK_ACTIONS, BULK_STATUSES, BulkAction
from cases.models import Case, Label, Reply, SavedView
from cases.visibility import SEES_ALL_TEAMS
from listening.models import Channel
from socialdesk.access import require_perm


def _decorate(rows: list[Case], now: datetime, since: inbox.Fingerprint | None, query: str) -> None:
    """Display attributes computed once per row (no queries: everything came with the row)."""
    # The case page rebuilds its "← Inbox" link (and keeps the filters) from ?from=.
    back = "?" + urlencode({"from": query}) if query else ""
    for case in rows:
        case.identity = case.identity_data or {}
        case.labels_shown = case.label_data or []
        case.latest = case.latest_text or case.subject
        case.url = reverse("cases:detail", args=[case.pk]) + back
        case.waiting = now - case.last_inbound_at
        case.is_snoozed = bool(case.snoozed_until and case.snoozed_until > now)
        case.sla = sla.row_clock(case, now)  # the due times are kept on the row
        case.is_new = bool(since and case.pk > since.last_id)
        case.is_changed = bool(
            since and not case.is_new and since.last_change and case.updated_at > since.last_change
        )


def case_list(request: HttpRequest) -> HttpResponse:
    """The inbox; as an htmx poll with `since`, 204 when no case changed since then."""
    # access
    require_perm(request, "cases.view_case")
    # parse
    filters, problems = inbox.parse_filters(request.GET)
    raw_after = request.GET.get("after", "")
    try:
        after = inbox.PageKey.decode(raw_after, filters.sort) if raw_after else None
    except ValueError:
        return HttpResponseBadRequest(
            "The page link is not valid: start again from the first page."
        )

    presence.mark_online(request.user)  # an agent working the inbox can be auto-assigned
    now = timezone.now()
    current = inbox.fingerprint()
    since = inbox.Fingerprint.decode(request.GET.get("since", ""))
    if request.htmx and since is not None and since == current:
        response = HttpResponse(status=204)
        patch_vary_headers(response, ["HX-Request"])
        return response

    page = inbox.load_page(filters, request.user, now, after)
    choices = inbox.load_choices(request.user)
    view_counts, summary = inbox.count_views(choices.views, request.user, now, current)
    query = filters.to_query()
    _decorate(page.rows, now, since if request.htmx else None, query)

    context = {
        "cases": page.rows,
        "filters": filters,
        "problems": problems,
        "query": query,
        "poll_query": _poll_query(filters, raw_after, current),
        "after": raw_after,
        "next_query": filters.to_query(after=page.next_key) if page.next_key else "",
        "summary": summary,
        "choices": choices,
        "view_counts": view_counts,
        "current_view": next((vc.view for vc in view_counts if vc.view.query == query), None),
        "status_choices": inbox.STATUS_CHOICES,
        "priority_choices": inbox.PRIORITY_CHOICES,
        "triage_choices": inbox.TRIAGE_CHOICES,
        "decision_choices": inbox.DECISION_CHOICES,
        "language_choices": inbox.LANGUAGE_CHOICES,
        "network_choices": inbox.NETWORK_CHOICES,
        "sort_choices": inbox.SORT_CHOICES,
        "sla_choices": inbox.SLA_CHOICES,
        "bulk_actions": BULK_ACTIONS,
        "bulk_statuses": BULK_STATUSES,
        "can_change": request.user.has_perm("cases.change_case"),
        "sees_all_teams": request.user.has_perm(SEES_ALL_TEAMS),
    }
    # render
    if request.htmx:
        html = render_to_string("cases/inbox.html#case-list", context, request)
        html += render_to_string("cases/inbox.html#views-nav", {**context, "oob": True}, request)
        response = HttpResponse(html)
    else:
        # The reconnect banner is for whoever can fix it: admins who can edit channels.
        if request.user.has_perm("listening.change_channel"):
            context["reauth_channels"] = list(
                Channel.objects.filter(needs_reauth=True).only("id", "name", "network", "handle")
            )
        # Replies a supervisor sent back to this agent: nothing else tells them.
        context["sent_back"] = sorted(
            set(
                Reply.objects.filter(author=request.user, state=Reply.State.DRAFT).values_list(
                    "case_id", flat=True
                )
            )
        )
        response = HttpResponse(render_to_string("cases/inbox.html", context, request))
    # The same URL answers with a page or a fragment: caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


def _poll_query(filters: inbox.InboxFilters, after: str, current: inbox.Fingerprint) -> str:
    return filters.to_query(after=after, since=current.encode())


def _back_to_inbox(raw_query: str) -> HttpResponseRedirect:
    """303 to the inbox with the filters of `raw_query` (cleaned; no page key or fingerprint)."""
    filters, _ = inbox.parse_filters(QueryDict(raw_query[:2000]))
    query = filters.to_query()
    url = reverse("cases:list") + (f"?{query}" if query else "")
    return HttpResponseRedirect(url, status=303)


@require_POST
def bulk_action(request: HttpRequest) -> HttpResponse:
    """Apply one action to the selected cases through cases.actions; say what happened."""
    # access
    require_perm(request, "cases.change_case")
    # parse
    back = request.POST.get("next", "")
    bulk = BulkAction.parse(request.POST, request.user)
    if bulk.error:
        messages.error(request, bulk.error)
        return _back_to_inbox(back)
    ids = bulk.ids
    if bulk.action == "hide_comments":
        return _bulk_hide(request, ids, back)

    cases = list(
        Case.objects.visible_to(request.user)
        .filter(pk__in=ids)
        .select_related("assignee")
        .prefetch_related(Prefetch("labels", queryset=Label.objects.all()))
        .order_by("id")
    )
    # act
    done, failures = do_bulk_change(
        cases,
        bulk.change,
        actor=request.user,
        assignee=bulk.assignee,
        status=bulk.status,
        reason=bulk.reason,
        label=bulk.label,
    )
    # render
    label_text = bulk.label_text
    if done:
        messages.success(
            request,
            ngettext(
                "%(action)s: done for %(count)d case.",
                "%(action)s: done for %(count)d cases.",
                done,
            )
            % {"action": label_text, "count": done},
        )
    if failures:
        messages.error(request, gettext("Not changed:") + " " + " ".join(failures[:5]))
    missing = len(ids) - len(cases)
    if missing:
        messages.warning(
            request,
            ngettext(
                "%(count)d selected case no longer exists or left your teams.",
                "%(count)d selected cases no longer exist or left your teams.",
                missing,
            )
            % {"count": missing},
        )
    return _back_to_inbox(back)


def _bulk_hide(request: HttpRequest, ids: list[int], back: str) -> HttpResponse:
    """Hide the selected cases' comments on their networks (cases.moderation), then say so."""
    require_perm(request, "cases.hide_comment")
    cases = list(Case.objects.visible_to(request.user).filter(pk__in=ids).order_by("id"))
    requested, failures = moderation.do_bulk_hide_comments(cases, actor=request.user)
    if requested:
        messages.success(
            request,
            f"Hiding {requested} comment{'s' if requested != 1 else ''} on the network: each "
            "case shows when it is done.",
        )
    if failures:
        messages.error(request, gettext("Nothing hidden:") + " " + " ".join(failures[:5]))
    return _back_to_inbox(back)


@require_POST
def save_view(request: HttpRequest) -> HttpResponse:
    """Save the current filters as a view: the user's own, or the desk's with `shared`."""
    require_perm(request, "cases.add_savedview")
    back = request.POST.get("query", "")
    name = request.POST.get("name", "").strip()
    if not name:
        messages.error(request, gettext("Give the view a name."))
        return _back_to_inbox(back)
    if len(name) > SavedView._meta.get_field("name").max_length:
        messages.error(request, gettext("A view name can have at most 60 characters."))
        return _back_to_inbox(back)
    filters, _ = inbox.parse_filters(QueryDict(back[:2000]))
    shared = request.POST.get("shared") == "on" and request.user.has_perm("cases.change_savedview")
    SavedView.objects.create(
        owner=None if shared else request.user,
        name=name,
        query=filters.to_query(),
        position=100,
    )
    messages.success(request, gettext("Saved the view “%(name)s”.") % {"name": name})
    return _back_to_inbox(back)


@require_POST
def delete_view(request: HttpRequest, view_id: int) -> HttpResponse:
    """Delete one of the user's own views (the desk's shared views: with delete permission)."""
    view = access_saved_view(request, view_id)
    view.delete()
    messages.success(request, gettext("Deleted the view “%(name)s”.") % {"name": view.name})
    return _back_to_inbox(request.POST.get("next", ""))


urlpatterns = [
    path("", case_list, name="list"),
    path("bulk/", bulk_action, name="bulk"),
    path("views/", save_view, name="save_view"),
    path("views/<int:view_id>/delete/", delete_view, name="delete_view"),
]
