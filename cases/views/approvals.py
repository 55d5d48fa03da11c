"""Retrying a failed reply, and the supervisors' approvals queue.

A retry queues a failed reply again (the sender reconciles before it posts anything). A reply
awaiting approval is approved (queued) or sent back to its agent with a note. Either answers
htmx by telling the case page to refresh its timeline (`sd:replies-changed`), a plain form post
with a redirect.
"""

from django.contrib import messages
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from cases import sending
from cases.access import access_reply
from cases.checks import shown_checks
from cases.forms import SendBackForm
from cases.models import Reply
from cases.views.composer import REPLIES_CHANGED
from cases.visibility import visible_q
from socialdesk.access import require_perm

APPROVALS_SHOWN = 100  # the approvals page shows the oldest this many


def _after_reply_action(
    request: HttpRequest, reply: Reply, notice: str, *, ok: bool
) -> HttpResponse:
    if request.htmx:
        response = HttpResponse(status=204)
        return trigger_client_event(response, REPLIES_CHANGED, {"case": reply.case_id})
    (messages.success if ok else messages.error)(request, notice)
    return redirect("cases:detail", case_id=reply.case_id)


@require_POST
def retry(request: HttpRequest, reply_id: int) -> HttpResponse:
    """Queue a failed reply again (the sender reconciles before posting)."""
    reply = access_reply(request, reply_id, "cases.add_reply")
    if reply.state != Reply.State.FAILED:
        return _after_reply_action(request, reply, "Only a failed reply can be retried.", ok=False)
    try:
        sending.do_retry_reply(reply, actor=request.user)
    except ValueError as exc:
        return _after_reply_action(request, reply, f"Not retried: {exc}", ok=False)
    return _after_reply_action(request, reply, "Reply queued again.", ok=True)


def approval_queue(user: User, errors: dict[int, str] | None = None) -> list[Reply]:
    """Replies awaiting approval on the cases `user` sees, oldest first, with their case
    context; one query."""
    replies = list(
        Reply.objects.filter(visible_q(user, "case__"), state=Reply.State.AWAITING_APPROVAL)
        .select_related("author", "case", "case__channel", "case__customer", "in_reply_to__author")
        .order_by("created_at", "id")[:APPROVALS_SHOWN]
    )
    for reply in replies:
        reply.case_url = reverse("cases:detail", args=[reply.case_id])
        reply.problems = shown_checks(reply.checks, problems_only=True)
        reply.send_back_error = (errors or {}).get(reply.pk, "")
    return replies


@require_GET
def approvals(request: HttpRequest) -> HttpResponse:
    """Replies waiting for a supervisor, oldest first, with their case context and checks."""
    require_perm(request, "cases.approve_reply")
    context = {"replies": approval_queue(request.user)}
    template = "cases/approvals.html#queue" if request.htmx else "cases/approvals.html"
    return render(request, template, context)


@require_POST
def approve(request: HttpRequest, reply_id: int) -> HttpResponse:
    """Approve (queue it) or send back with a note a reply awaiting approval."""
    reply = access_reply(request, reply_id, "cases.approve_reply")
    action = request.POST.get("action", "approve")
    errors: dict[int, str] = {}
    if reply.state != Reply.State.AWAITING_APPROVAL:
        notice, ok = "That reply is no longer waiting for approval.", False
    elif action == "send_back":
        form = SendBackForm(request.POST)
        if form.is_valid():
            ok = sending.do_send_back_reply(
                reply, approver=request.user, note=form.cleaned_data["note"]
            )
            notice = "Sent back to the agent." if ok else "Someone else handled it first."
        else:
            errors[reply.pk] = form.errors["note"][0]
            notice, ok = errors[reply.pk], False
    else:
        try:
            sending.do_approve_reply(reply, approver=request.user)
            notice, ok = "Approved: the reply is queued.", True
        except ValueError as exc:
            notice, ok = f"Not approved: {exc}", False

    if not request.htmx:
        (messages.success if ok else messages.error)(request, notice)
        return redirect("cases:approvals")
    context = {
        "replies": approval_queue(request.user, errors),
        "notice": notice,
        "notice_ok": ok,
    }
    return render(request, "cases/approvals.html#queue", context)


urlpatterns = [
    path("replies/<int:reply_id>/retry/", retry, name="retry"),
    path("replies/<int:reply_id>/approve/", approve, name="approve"),
    path("approvals/", approvals, name="approvals"),
]
