"""The incoming-cases list: open cases, most urgent first, with cheap live updates.

One view serves the full page and the fragment that htmx polls every few seconds
(`request.htmx`). The poll carries `since=<fingerprint>`; when the fingerprint of the open
cases has not changed the answer is 204 and nothing is rendered, so an idle desk costs one
small aggregate query per open browser tab per poll.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseClientRedirect

from cases.models import OPEN_STATUSES, Case, Identity
from listening.models import Channel, Mention

PAGE_SIZE = 50
LATEST_TEXT_LENGTH = 280


@dataclass(frozen=True, slots=True)
class PageKey:
    """The position after the last row shown: (priority, last_inbound_at, id)."""

    priority: int
    last_inbound_at: datetime
    case_id: int

    def encode(self) -> str:
        micros = round(self.last_inbound_at.timestamp() * 1_000_000)
        return f"{self.priority}.{micros}.{self.case_id}"

    @classmethod
    def decode(cls, raw: str) -> "PageKey":
        """Parse a token made by `encode`; ValueError on anything else."""
        parts = raw.split(".")
        if len(parts) != 3 or not all(part.isdigit() for part in parts):
            raise ValueError(f"not a page key: {raw[:40]!r}")
        priority, micros, case_id = (int(part) for part in parts)
        return cls(priority, datetime.fromtimestamp(micros / 1_000_000, tz=UTC), case_id)

    @classmethod
    def after(cls, case: Case) -> "PageKey":
        return cls(case.priority, case.last_inbound_at, case.pk)


def format_wait(waited: timedelta) -> str:
    """A short human waiting time: "<1 min", "4 min", "2 h 5 min", "3 d 4 h".

    static/js/desk.js formats the same way when it refreshes the times in the browser.
    """
    minutes = max(0, int(waited.total_seconds() // 60))
    if minutes < 1:
        return "<1 min"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def open_cases_summary(now: datetime) -> dict:
    """One aggregate query: open count, new in the last hour, and the change fingerprint.

    The fingerprint changes whenever an open case is added, closed or updated (ingest and every
    case action set `updated_at`).
    """
    summary = Case.objects.filter(status__in=OPEN_STATUSES).aggregate(
        open_count=Count("id"),
        new_last_hour=Count("id", filter=Q(opened_at__gte=now - timedelta(hours=1))),
        last_change=Max("updated_at"),
    )
    last_change = summary["last_change"]
    micros = round(last_change.timestamp() * 1_000_000) if last_change else 0
    summary["fingerprint"] = f"{summary['open_count']}-{micros}"
    return summary


def open_cases_page(after: PageKey | None) -> QuerySet[Case]:
    """Open cases, highest priority first then longest waiting, after the given key.

    A constant number of queries whatever the page size: channel, customer and assignee are
    joined; the customer's identities come in one prefetch; the latest mention text is a
    subquery on the (case, posted_at) index.
    """
    latest_text = (
        Mention.objects.filter(case=OuterRef("pk"), deleted_at__isnull=True)
        .order_by("-posted_at", "-id")
        .values("text")[:1]
    )
    cases = (
        Case.objects.filter(status__in=OPEN_STATUSES)
        .select_related("channel", "customer", "assignee")
        .prefetch_related(
            Prefetch(
                "customer__identities",
                queryset=Identity.objects.only(
                    "id", "customer_id", "network", "handle", "name", "followers", "verified"
                ),
            )
        )
        .annotate(latest_text=Subquery(latest_text))
        .order_by("-priority", "last_inbound_at", "id")
    )
    if after is not None:
        cases = cases.filter(
            Q(priority__lt=after.priority)
            | Q(priority=after.priority, last_inbound_at__gt=after.last_inbound_at)
            | Q(
                priority=after.priority,
                last_inbound_at=after.last_inbound_at,
                id__gt=after.case_id,
            )
        )
    return cases


def _identity_for(case: Case) -> Identity | None:
    """The customer's account on the case's network (prefetched: no query)."""
    identities = list(case.customer.identities.all())
    for identity in identities:
        if identity.network == case.channel.network:
            return identity
    return identities[0] if identities else None


def case_list(request: HttpRequest) -> HttpResponse:
    """Open cases; as an htmx poll, 204 when nothing changed since the `since` fingerprint."""
    if not request.user.is_authenticated:
        login = redirect_to_login(request.path)
        # A poll after the session expired: send the whole tab to the sign-in page instead of
        # letting htmx follow the redirect and paste the sign-in page into the table.
        return HttpResponseClientRedirect(login["Location"]) if request.htmx else login
    if not request.user.has_perm("cases.view_case"):
        raise PermissionDenied
    raw_after = request.GET.get("after", "")
    try:
        after = PageKey.decode(raw_after) if raw_after else None
    except ValueError:
        return HttpResponseBadRequest(
            "The page link is not valid: start again from the first page."
        )

    now = timezone.now()
    summary = open_cases_summary(now)
    if request.htmx and request.GET.get("since") == summary["fingerprint"]:
        response = HttpResponse(status=204)
        patch_vary_headers(response, ["HX-Request"])
        return response

    rows = list(open_cases_page(after)[: PAGE_SIZE + 1])
    has_more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    for case in rows:
        case.identity = _identity_for(case)
        case.waiting = format_wait(now - case.last_inbound_at)
        case.latest = case.latest_text or case.subject

    context = {
        "cases": rows,
        "summary": summary,
        "after": raw_after,
        "next_key": PageKey.after(rows[-1]).encode() if has_more else "",
    }
    if request.htmx:
        template = "cases/case_list.html#case-rows"
    else:
        template = "cases/case_list.html"
        # The reconnect banner is for whoever can fix it: admins who can edit channels.
        if request.user.has_perm("listening.change_channel"):
            context["reauth_channels"] = list(
                Channel.objects.filter(needs_reauth=True).only("id", "name", "network", "handle")
            )
    response = render(request, template, context)
    # The same URL answers with a page or a fragment: caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response
