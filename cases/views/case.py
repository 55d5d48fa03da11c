"""The case page: the conversation as one timeline, the customer card, the radar, the network
clocks, triage and the other case actions, and presence (who else is here).

Every view is parse → access → act → render. The page is one view that serves the whole page
or, for htmx, the page's body. Each action is a POST that answers htmx with the partials it
changed (the action panel as the target, the header and timeline out of band) and a plain form
post with a redirect back to the page, so the page also works without JavaScript.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.dateparse import parse_datetime
from django_htmx.http import trigger_client_event

from cases import presence
from cases.actions import (
    ActionError,
    do_add_note,
    do_assign_case,
    do_set_labels,
    do_set_status,
    do_triage_case,
)
from cases.models import (
    OPEN_STATUSES,
    Case,
    CaseEvent,
    CaseStatus,
    DeskSettings,
    Identity,
    Label,
    Note,
    Reply,
    Triage,
)
from listening import radar
from listening.models import Mention, MentionKind, Network
from listening.networks import POLICIES
from socialdesk.access import login_redirect
from socialdesk.durations import format_duration
from socialdesk.params import parse_ids, parse_moment

PREVIOUS_CASES_SHOWN = 10
TEMPLATE = "cases/case_detail.html"
CASE_ACTIVITY = "sd:case-activity"  # the presence poll saw others' activity: refresh timeline


# ---------- access ----------


def access_case(request: HttpRequest, case_id: int, perm: str = "cases.view_case") -> Case:
    """The case for this user, with what every case view shows; 403 without `perm`, else 404."""
    if not request.user.has_perm("cases.view_case") or not request.user.has_perm(perm):
        raise PermissionDenied
    cases = Case.objects.select_related("channel", "customer", "assignee", "triage_decided_by")
    return get_object_or_404(cases, pk=case_id)


# ---------- what the page shows ----------


@dataclass(frozen=True)
class TimelineItem:
    kind: str  # "mention" | "reply" | "note" | "event"
    at: datetime
    obj: Any


@dataclass(frozen=True)
class Clock:
    """One deadline of this case. `deadline` None: nothing counts down (see `state`)."""

    name: str
    deadline: datetime | None
    state: str  # "running" | "overdue" | "met" | "missed" | "none"
    value: str  # what the clock shows now; static/js/case.js keeps running ones current
    detail: str


def countdown(name: str, deadline: datetime, detail: str, now: datetime) -> Clock:
    if deadline <= now:
        return Clock(
            name, deadline, "overdue", f"Overdue by {format_duration(now - deadline)}", detail
        )
    return Clock(name, deadline, "running", f"{format_duration(deadline - now)} left", detail)


def safe_url(url: str) -> str:
    """The URL if it is plain http(s), else "" (network data could carry javascript: links)."""
    return url if url.lower().startswith(("https://", "http://")) else ""


def sentiment_label(score: float) -> str:
    if score <= -0.5:
        return "Very negative"
    if radar.is_negative(score):
        return "Negative"
    if score >= 0.5:
        return "Very positive"
    if radar.is_positive(score):
        return "Positive"
    return "Neutral"


def describe_event(event: CaseEvent) -> str:
    """One line for the timeline, without the actor (the template names them)."""
    data = event.data if isinstance(event.data, dict) else {}
    kind = event.kind
    if kind == CaseEvent.Kind.ASSIGNED:
        who = data.get("assignee") or "someone"
        return f"auto-assigned to {who}" if data.get("auto") else f"assigned the case to {who}"
    if kind == CaseEvent.Kind.UNASSIGNED:
        who = data.get("previous")
        return f"unassigned {who}" if who else "unassigned the case"
    if kind == CaseEvent.Kind.STATUS:
        labels = dict(CaseStatus.choices)
        old, new = data.get("from", ""), data.get("to", "")
        return f"changed the status from {labels.get(old, old)} to {labels.get(new, new)}"
    if kind == CaseEvent.Kind.TRIAGE:
        decision = dict(Triage.choices).get(data.get("decision", ""), data.get("decision", ""))
        text = f"decided: {decision}"
        suggestion = data.get("suggestion")
        if suggestion and suggestion != data.get("decision"):
            text += f" (the radar suggested {dict(Triage.choices).get(suggestion, suggestion)})"
        return text
    if kind == CaseEvent.Kind.LABELS:
        parts = []
        if data.get("added"):
            parts.append("added " + ", ".join(data["added"]))
        if data.get("removed"):
            parts.append("removed " + ", ".join(data["removed"]))
        return "labels: " + "; ".join(parts) if parts else "changed the labels"
    if kind == CaseEvent.Kind.SNOOZED:
        until = parse_datetime(str(data.get("until", "")))
        if until:
            local = timezone.localtime(until)
            return f"snoozed the case until {local:%a %d %b %H:%M}"
        return "snoozed the case"
    return event.get_kind_display().lower()


def event_detail(event: CaseEvent) -> str:
    """The free text an event carries (a triage reason, an error, an override reason)."""
    data = event.data if isinstance(event.data, dict) else {}
    for key in ("reason", "error", "override_reason", "message"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def build_timeline(
    mentions: list[Mention], replies: list[Reply], notes: list[Note], events: list[CaseEvent]
) -> list[TimelineItem]:
    """Customer posts, our replies, internal notes and events, merged by time (stable)."""
    items = [TimelineItem("mention", m.posted_at, m) for m in mentions]
    items += [TimelineItem("reply", r.created_at, r) for r in replies]
    items += [TimelineItem("note", n.created_at, n) for n in notes]
    items += [TimelineItem("event", e.created_at, e) for e in events]
    order = {"mention": 0, "reply": 1, "note": 2, "event": 3}
    items.sort(key=lambda item: (item.at, order[item.kind], item.obj.pk))
    return items


def network_clocks(
    case: Case, mentions: list[Mention], replies: list[Reply], sla_minutes: int, now: datetime
) -> list[Clock]:
    """The deadlines that apply to this case: our SLA and the network's own windows."""
    sla = timedelta(minutes=sla_minutes)
    deadline = case.opened_at + sla
    if case.first_response_at:
        took = format_duration(case.first_response_at - case.opened_at)
        met = case.first_response_at <= deadline
        clocks = [
            Clock(
                "First response",
                None,
                "met" if met else "missed",
                "Met" if met else "Missed",
                f"Answered after {took}; our target is {format_duration(sla)}.",
            )
        ]
    elif not case.is_open:
        clocks = [Clock("First response", None, "none", "–", "Closed without a reply.")]
    else:
        clocks = [
            countdown(
                "First response",
                deadline,
                f"Our target: a first answer within {format_duration(sla)}.",
                now,
            )
        ]

    if case.channel.network != Network.FACEBOOK:
        rule = POLICIES["x"].private_window_rule
        clocks.append(
            Clock("Reply window", None, "none", "None", f"X sets no reply window. {rule}")
        )
        return clocks
    facebook = POLICIES["facebook"]
    live = [m for m in mentions if m.deleted_at is None]
    if case.is_private:
        last = max((m.posted_at for m in live if m.is_private), default=case.last_inbound_at)
        clocks.append(
            countdown(
                "Messenger window",
                last + facebook.private_window,
                "Replies are allowed within 24 hours of the customer's last message.",
                now,
            )
        )
        return clocks
    comments = [m for m in live if m.kind in (MentionKind.COMMENT, MentionKind.VISITOR_POST)]
    if comments:
        latest = max(comments, key=lambda m: m.posted_at)
        if any(r.is_private and r.in_reply_to_id == latest.pk for r in replies):
            clocks.append(
                Clock(
                    "Private reply",
                    None,
                    "met",
                    "Used",
                    "The one private reply to the latest comment has been used.",
                )
            )
        else:
            clocks.append(
                countdown(
                    "Private reply",
                    latest.posted_at + facebook.private_reply_to_comment_window,
                    "Facebook allows one private reply to a comment, within 7 days of it.",
                    now,
                )
            )
    return clocks


def assignable_users() -> list[User]:
    """People who work the inbox (the cases.work_inbox permission through a role, or admins)."""
    perm = (
        Q(
            groups__permissions__codename="work_inbox",
            groups__permissions__content_type__app_label="cases",
        )
        | Q(user_permissions__codename="work_inbox")
        | Q(is_superuser=True)
    )
    return list(
        User.objects.filter(perm, is_active=True)
        .distinct()
        .only("id", "username", "first_name", "last_name")
        .order_by("first_name", "username")
    )


def neighbours(case: Case) -> tuple[int | None, int | None]:
    """The previous and next open case in the inbox's default order (priority, waiting)."""
    p, t, pk = case.priority, case.last_inbound_at, case.pk
    open_cases = Case.objects.filter(status__in=OPEN_STATUSES)
    after = (
        Q(priority__lt=p)
        | Q(priority=p, last_inbound_at__gt=t)
        | Q(priority=p, last_inbound_at=t, id__gt=pk)
    )
    before = (
        Q(priority__gt=p)
        | Q(priority=p, last_inbound_at__lt=t)
        | Q(priority=p, last_inbound_at=t, id__lt=pk)
    )
    # The redundant bounds on priority let PostgreSQL start the index scan at this case
    # instead of filtering the OR over every open case.
    nxt = (
        open_cases.filter(after, priority__lte=p)
        .order_by("-priority", "last_inbound_at", "id")
        .values_list("pk", flat=True)
        .first()
    )
    prev = (
        open_cases.filter(before, priority__gte=p)
        .order_by("priority", "-last_inbound_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )
    return prev, nxt


def retry_url(reply_id: int) -> str:
    """The composer's retry URL for a failed reply, or "" while that view does not exist."""
    try:
        return reverse("cases:retry", args=[reply_id])
    except NoReverseMatch:
        return ""


def inbox_url(raw_from: str) -> str:
    """Back to the inbox with the filters it was opened from (re-encoded, never pasted raw)."""
    query = QueryDict(raw_from[:2000])
    encoded = urlencode([(k, v) for k, values in query.lists() for v in values])
    return reverse("cases:list") + (f"?{encoded}" if encoded else "")


def _case_link(case_id: int | None, raw_from: str) -> str:
    if case_id is None:
        return ""
    url = reverse("cases:detail", args=[case_id])
    return f"{url}?{urlencode({'from': raw_from})}" if raw_from else url


def presence_signature(people: list[dict], activity: list[str]) -> str:
    return ";".join(f"{p['user_id']}:{p['state']}" for p in people) + "|" + ";".join(activity)


def snooze_presets(now: datetime) -> list[tuple[str, str, datetime]]:
    """(value, label, moment) for the snooze buttons, in the desk's time zone."""
    local = timezone.localtime(now)
    tomorrow = (local + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    return [
        ("1h", "Snooze 1 hour", now + timedelta(hours=1)),
        ("tomorrow", "Until tomorrow 9:00", tomorrow),
    ]


def timeline_context(request: HttpRequest, case: Case) -> dict[str, Any]:
    """The timeline and what it is made of: four queries whatever its length."""
    mentions = list(
        Mention.objects.filter(case=case).select_related("author").order_by("posted_at", "id")
    )
    replies = list(
        Reply.objects.filter(case=case).select_related("author", "approved_by").order_by("id")
    )
    notes = list(Note.objects.filter(case=case).select_related("author"))
    events = list(CaseEvent.objects.filter(case=case).select_related("actor"))
    can_reply = request.user.has_perm("cases.add_reply")
    # A reply that failed unconfirmed may be on the network: only a supervisor may risk it.
    can_risk = can_reply and request.user.has_perm("cases.approve_reply")
    for mention in mentions:
        mention.safe_url = safe_url(mention.url)
    for reply in replies:
        may_retry = can_risk if reply.unconfirmed else can_reply
        reply.retry_url = (
            retry_url(reply.pk) if reply.state == Reply.State.FAILED and may_retry else ""
        )
    for event in events:
        event.summary = describe_event(event)
        event.detail = event_detail(event)
    return {
        "case": case,
        "mentions": mentions,
        "replies": replies,
        "timeline": build_timeline(mentions, replies, notes, events),
        "can_reply": can_reply,
    }


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
        Case.objects.filter(customer_id=case.customer_id)
        .exclude(pk=case.pk)
        .select_related("channel")
        .annotate(sent_replies=Count("replies", filter=Q(replies__state=Reply.State.SENT)))
        .order_by("-opened_at")[:PREVIOUS_CASES_SHOWN]
    )
    desk = DeskSettings.load()
    labels = list(case.labels.all())
    raw_from = request.GET.get("from", "")
    prev_id, next_id = neighbours(case)
    can_change = user.has_perm("cases.change_case")
    people = presence.others(case.pk, user)
    context |= {
        "channel": case.channel,
        "policy": POLICIES.get(case.channel.network),
        "identities": identities,
        "previous_cases": previous_cases,
        "clocks": network_clocks(case, mentions, replies, desk.first_response_sla_minutes, now),
        "sentiment": sentiment_label(case.sentiment),
        "labels": labels,
        "label_ids": {label.pk for label in labels},
        "can_change": can_change,
        "can_note": user.has_perm("cases.add_note"),
        "opened_at": now,
        "inbox_url": inbox_url(raw_from),
        "prev_url": _case_link(prev_id, raw_from),
        "next_url": _case_link(next_id, raw_from),
        "people": people,
        "activity": [],
        "presence_sig": presence_signature(people, []),
        "error": error,
        "statuses": CaseStatus.choices,
        "triage_choices": Triage.choices,
        "snooze_presets": snooze_presets(now),
        "snooze_min": timezone.localtime(now).strftime("%Y-%m-%dT%H:%M"),
    }
    if can_change:
        context["all_labels"] = list(Label.objects.all())
        context["assignees"] = assignable_users()
    return context


# ---------- the page ----------


def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    """The case page; for htmx, the page's body (the `case-page` partial)."""
    if not request.user.is_authenticated:
        return login_redirect(request)
    case = access_case(request, case_id)
    presence.touch(case.pk, request.user, "viewing")
    context = case_context(request, case)
    template = f"{TEMPLATE}#case-page" if request.htmx else TEMPLATE
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def case_timeline(request: HttpRequest, case_id: int) -> HttpResponse:
    """The timeline alone, for htmx: the page refreshes it when the composer sends a reply
    (`sd:replies-changed`) or the presence poll sees others' activity. A plain GET (a reload
    of a copied URL) goes to the case page."""
    if not request.user.is_authenticated:
        return login_redirect(request)
    case = access_case(request, case_id)
    if not request.htmx:
        return redirect("cases:detail", case_id=case.pk)
    response = render(request, "cases/_timeline.html", timeline_context(request, case))
    patch_vary_headers(response, ["HX-Request"])
    return response


def _updated(
    request: HttpRequest, case: Case, *, error: str = "", target: str = "actions"
) -> HttpResponse:
    """After an action: htmx gets the changed partials, a plain form post a redirect."""
    if not request.htmx:
        if error:
            messages.error(request, error)
        url = reverse("cases:detail", args=[case.pk])
        raw_from = request.POST.get("from", "")
        return redirect(f"{url}?{urlencode({'from': raw_from})}" if raw_from else url)
    context = case_context(request, case, error=error)
    parts = []
    if target == "note":
        parts.append(render_to_string(f"{TEMPLATE}#note-form", context, request=request))
        context["oob"] = True
    else:
        parts.append(render_to_string(f"{TEMPLATE}#case-actions", context, request=request))
        context["oob"] = True
        if error:  # nothing changed: only the panel, with the message
            return HttpResponse(parts[0])
    parts.append(render_to_string(f"{TEMPLATE}#case-header", context, request=request))
    parts.append(render_to_string("cases/_timeline.html", context, request=request))
    return HttpResponse("".join(parts))


def _action_access(request: HttpRequest, case_id: int, perm: str) -> Case | HttpResponse:
    """The case a POST action changes, or the answer instead: sign in first, then 405 for any
    other method, then `access_case` (403 without `perm`, 404)."""
    if not request.user.is_authenticated:
        return login_redirect(request)
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST"})
    return access_case(request, case_id, perm)


def triage_case(request: HttpRequest, case_id: int) -> HttpResponse:
    """POST decision (engage/ignore/escalate) and reason; `resolve` with ignore resolves too."""
    case = _action_access(request, case_id, "cases.change_case")
    if isinstance(case, HttpResponse):
        return case
    decision = request.POST.get("decision", "")
    reason = request.POST.get("reason", "")
    try:
        do_triage_case(case, decision, reason, actor=request.user)
        if decision == Triage.IGNORE and request.POST.get("resolve") and case.is_open:
            do_set_status(case, CaseStatus.RESOLVED, actor=request.user)
    except ActionError as exc:
        return _updated(request, case, error=str(exc))
    return _updated(request, case)


def assign_case(request: HttpRequest, case_id: int) -> HttpResponse:
    """POST assignee: a user id, "me" (take it) or "" (unassign)."""
    case = _action_access(request, case_id, "cases.change_case")
    if isinstance(case, HttpResponse):
        return case
    raw = request.POST.get("assignee", "")
    if raw == "me":
        assignee: User | None = request.user
    elif raw == "":
        assignee = None
    else:
        assignee = next((u for u in assignable_users() if str(u.pk) == raw), None)
        if assignee is None:
            return _updated(request, case, error="Choose someone who works the inbox.")
    do_assign_case(case, assignee, actor=request.user)
    return _updated(request, case)


def set_status(request: HttpRequest, case_id: int) -> HttpResponse:
    """POST status, optional snooze_until (datetime-local, desk time) or snooze_preset."""
    case = _action_access(request, case_id, "cases.change_case")
    if isinstance(case, HttpResponse):
        return case
    now = timezone.now()
    status = request.POST.get("status", "")
    preset = request.POST.get("snooze_preset", "")
    raw_until = request.POST.get("snooze_until", "").strip()
    until: datetime | None = None
    if preset:
        until = next((moment for value, _, moment in snooze_presets(now) if value == preset), None)
        if until is None:
            return HttpResponseBadRequest("Unknown snooze preset.")
        status = CaseStatus.PENDING
    elif raw_until and status == CaseStatus.PENDING:
        try:
            parsed = parse_datetime(raw_until)
        except ValueError:  # well formed but impossible, such as month 13
            parsed = None
        if parsed is None:
            return _updated(request, case, error="Enter the snooze time as date and time.")
        until = timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed
    if until is not None and until <= now:
        return _updated(request, case, error="Snooze until a time in the future.")
    try:
        do_set_status(case, status, actor=request.user, snooze_until=until)
    except ActionError as exc:
        return _updated(request, case, error=str(exc))
    return _updated(request, case)


def set_labels(request: HttpRequest, case_id: int) -> HttpResponse:
    """POST label (repeated): the case's labels become exactly these."""
    case = _action_access(request, case_id, "cases.change_case")
    if isinstance(case, HttpResponse):
        return case
    ids = parse_ids(request.POST.getlist("label"))
    do_set_labels(case, list(Label.objects.filter(pk__in=ids)), actor=request.user)
    return _updated(request, case)


def add_note(request: HttpRequest, case_id: int) -> HttpResponse:
    """POST text: an internal note."""
    case = _action_access(request, case_id, "cases.add_note")
    if isinstance(case, HttpResponse):
        return case
    try:
        do_add_note(case, request.POST.get("text", ""), author=request.user)
    except ActionError as exc:
        return _updated(request, case, error=str(exc), target="note")
    return _updated(request, case, target="note")


def activity_since(case: Case, since: datetime, user: User) -> list[str]:
    """What others did on the case after `since`: only asked when updated_at moved."""
    found = []
    posts = Mention.objects.filter(case=case, received_at__gt=since).count()
    if posts:
        found.append(f"{posts} new customer post{'s' if posts != 1 else ''}")
    for reply in presence.replies_since(case, since, user):
        found.append(f"{presence.display_name(reply.author)} replied")
    changes = CaseEvent.objects.filter(case=case, created_at__gt=since).exclude(
        kind__startswith="reply"
    )
    changes = changes.exclude(actor=user).count()
    notes = Note.objects.filter(case=case, created_at__gt=since).exclude(author=user).count()
    if changes:
        found.append(f"{changes} change{'s' if changes != 1 else ''} by others")
    if notes:
        found.append(f"{notes} new note{'s' if notes != 1 else ''}")
    return found


def case_presence(request: HttpRequest, case_id: int) -> HttpResponse:
    """POST state=viewing|typing every few seconds; answers who else is here (204: no change).

    `since` is the time the page was rendered: when the case changed after it, the answer
    also says what others did, with a link to reload.
    """
    if not request.user.is_authenticated:
        return login_redirect(request)
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST"})
    state = request.POST.get("state", "viewing")
    if state not in presence.STATES:
        return HttpResponseBadRequest("state must be viewing or typing")
    since = parse_moment(request.POST.get("since", ""))
    if not request.user.has_perm("cases.view_case"):
        raise PermissionDenied
    case = get_object_or_404(Case.objects.only("id", "updated_at"), pk=case_id)
    presence.touch(case.pk, request.user, state)
    people = presence.others(case.pk, request.user)
    activity = (
        activity_since(case, since, request.user) if since and case.updated_at > since else []
    )
    signature = presence_signature(people, activity)
    if request.POST.get("seen") == signature:
        return HttpResponse(status=204)
    context = {
        "case": case,
        "people": people,
        "activity": activity,
        "presence_sig": signature,
    }
    response = render(request, f"{TEMPLATE}#presence-list", context)
    if activity:  # something new by others: the page refreshes its timeline
        response = trigger_client_event(response, CASE_ACTIVITY, {"case": case.pk})
    return response


urlpatterns = [
    path("<int:case_id>/", case_detail, name="detail"),
    path("<int:case_id>/triage/", triage_case, name="triage"),
    path("<int:case_id>/assign/", assign_case, name="assign"),
    path("<int:case_id>/status/", set_status, name="set_status"),
    path("<int:case_id>/labels/", set_labels, name="labels"),
    path("<int:case_id>/notes/", add_note, name="add_note"),
    path("<int:case_id>/presence/", case_presence, name="presence"),
    path("<int:case_id>/timeline/", case_timeline, name="timeline"),
]
