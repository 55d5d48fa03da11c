"""The reply composer on the case page (retries and approvals: approvals.py).

The composer is a form on the case page (templates/cases/_composer.html). While the agent types,
the textarea posts to `checks` (debounced by htmx) and the guideline checks re-render; `send`
applies the send rules (`cases.drafts.check_reply_draft`: the same checks again on the server, a
blocking check needs an override reason, a colleague's reply since the composer was opened needs
a confirmation) and then queues the reply with `cases.sending.do_queue_reply`. Nothing the agent
typed is lost on an error: every answer re-renders the form with the posted text.

Every view: parse → access → act → render. Fragments and full pages come from the same view
(`request.htmx`); the timeline belongs to the case page, which is told to refresh by the
`sd:replies-changed` event (HX-Trigger) rather than by rendering its template here.
"""

import logging
import re
from dataclasses import asdict

from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from cases import canned, checks, drafts, presence, replies, sending
from cases.access import access_case
from cases.checks import CheckResult, shown_checks
from cases.forms import Draft
from cases.models import CannedReply, Case, Reply
from cases.replies import AlreadySubmitted
from listening.models import Mention
from listening.networks import POLICIES
from socialdesk.durations import format_duration
from socialdesk.params import require_id

REPLY_TO_CHOICES = 20  # the newest customer posts offered in the reply-to selector
REPLIES_CHANGED = "sd:replies-changed"  # the case page refreshes its timeline on this event
LEADING_MENTIONS = re.compile(r"^(?:@\w+\s+)+")
SEND = "cases.add_reply"

log = logging.getLogger(__name__)


# ---------- what the network and the case allow ----------


def refusal(case: Case, *, is_private: bool, target: Mention | None) -> str:
    """Why a public (or private) reply to `target` is impossible here, or "".

    The sender's own rule (`check_reply_target`): the composer shows it before sending.
    """
    try:
        sending.check_reply_target(case, is_private=is_private, in_reply_to=target)
    except ValueError as exc:
        return str(exc)
    return ""


def customer_posts(case: Case) -> list[Mention]:
    """The case's newest customer posts (not deleted at the source), newest first; each with a
    `preview` for the reply-to selector (without the leading @-mentions of the brand)."""
    posts = list(
        Mention.objects.filter(case=case, deleted_at__isnull=True)
        .select_related("author")
        .order_by("-posted_at", "-id")[:REPLY_TO_CHOICES]
    )
    for post in posts:
        post.preview = LEADING_MENTIONS.sub("", post.text) or post.text
    return posts


def resolve_mode(case: Case, draft: Draft, posts: list[Mention]) -> tuple[Mention | None, str, str]:
    """The post replied to and why public / private is impossible; forces the draft into the
    mode that is possible (the checks judge the reply as it would go out)."""
    target = next((p for p in posts if p.pk == draft.in_reply_to_id), posts[0] if posts else None)
    public_reason = refusal(case, is_private=False, target=target)
    private_reason = refusal(case, is_private=True, target=target)
    if target is None and public_reason and private_reason:
        # Nothing left to answer (a private conversation whose only message was unsent):
        # one reason, not a private-only rule beside it.
        public_reason = private_reason
    if public_reason and not private_reason:
        draft.is_private = True
    elif private_reason:
        draft.is_private = False
    return target, public_reason, private_reason


def checks_context(case: Case, draft: Draft, results: list[CheckResult]) -> dict:
    """What the checks panel and the character counter show."""
    policy = POLICIES[case.channel.network]
    limit = policy.private_reply_limit if draft.is_private else policy.public_reply_limit
    length = checks.reply_length(
        draft.text, network=case.channel.network, is_private=draft.is_private
    )
    blocking = checks.blocking(results)
    return {
        "results": shown_checks([asdict(result) for result in results]),
        "blocking_count": len(blocking),
        "warning_count": sum(r.severity == "warn" for r in results),
        "length": length,
        "limit": limit,
        "length_state": "over" if length > limit else "near" if length > limit * 0.9 else "",
        "has_text": bool(draft.text),
    }


def composer_context(
    case: Case,
    user: AbstractBaseUser,
    draft: Draft,
    *,
    results: list[CheckResult] | None = None,
    errors: list[str] | None = None,
    collisions: list[Reply] | None = None,
    notice: str = "",
) -> dict:
    """Everything templates/cases/_composer.html needs, in a constant number of queries."""
    policy = POLICIES[case.channel.network]
    posts = customer_posts(case)
    target, public_reason, private_reason = resolve_mode(case, draft, posts)

    progress: dict = {}
    if not draft.text:
        # A reply a supervisor sent back comes back into the box for editing.
        latest_own = replies.latest_reply(case, user)
        if latest_own is not None and latest_own.state == Reply.State.DRAFT:
            draft.text = latest_own.text
            draft.is_private = latest_own.is_private and not private_reason
            if not notice:
                progress = replies.reply_progress(latest_own)

    if results is None:
        results = drafts.draft_checks(case, draft.text, is_private=draft.is_private)
    context = {
        "case": case,
        "channel": case.channel,
        "policy": policy,
        "draft": draft,
        "opened_at_ms": int(draft.opened_at.timestamp() * 1000),
        "posts": posts,
        "target": target,
        "public_reason": public_reason,
        "private_reason": private_reason,
        # Supervisors' own replies go out without waiting (the sender approves them).
        "needs_approval": (
            sending.needs_approval(case) and not user.has_perm("cases.approve_reply")
        ),
        "errors": errors or [],
        "collisions": collisions or [],
        "notice": notice,
        **progress,
        "composer": True,
        **checks_context(case, draft, results),
    }
    context["send_disabled"] = bool(
        context["blocking_count"] and not (draft.override and draft.override_reason)
    )
    return context


def _render_composer(
    request: HttpRequest, case: Case, context: dict, *, status: int = 200
) -> HttpResponse:
    if request.htmx:
        return render(request, "cases/_composer.html#composer", context, status=status)
    context["case_url"] = reverse("cases:detail", args=[case.pk])
    return render(request, "cases/compose.html", context, status=status)


@require_http_methods(["GET", "POST"])
def compose(request: HttpRequest, case_id: int) -> HttpResponse:
    """The composer: GET a fresh one (page or fragment; "Discard my draft" after a collision);
    POST re-renders it with the posted values (public/private or reply-to changed, or "Edit my
    reply" after a collision). Changes nothing."""
    draft = Draft.parse(request.POST) if request.method == "POST" else Draft()
    if request.POST.get("collisions_seen"):
        # "Edit my reply" after a collision: the colleague's reply is seen, the text kept.
        draft.opened_at = timezone.now()
    canned_id = require_id(request.GET, "canned")
    case = access_case(request, case_id, SEND)
    if request.method == "GET" and canned_id is not None:
        # A canned reply's link (the picker without JavaScript): start the box with its text.
        chosen = CannedReply.objects.prefetch_related("variants").filter(pk=canned_id).first()
        draft.is_private = request.GET.get("visibility") == "private"
        if chosen is not None:
            text = chosen.text_for(case.channel.network)
            draft.text = canned.render_canned(text, case=case, agent=request.user)
    context = composer_context(case, request.user, draft)
    return _render_composer(request, case, context)


@require_POST
def check_draft(request: HttpRequest, case_id: int) -> HttpResponse:
    """The checks panel (and the counter, out of band) for the text typed so far."""
    draft = Draft.parse(request.POST)
    case = access_case(request, case_id, SEND)
    resolve_mode(case, draft, customer_posts(case))
    results = drafts.draft_checks(case, draft.text, is_private=draft.is_private)
    context = {"case": case, "draft": draft, "oob": True, **checks_context(case, draft, results)}
    return render(request, "cases/_composer.html#checks-response", context)


@require_POST
def send(request: HttpRequest, case_id: int) -> HttpResponse:
    """Queue the reply once the send rules allow it (cases.drafts.check_reply_draft)."""
    draft = Draft.parse(request.POST)
    case = access_case(request, case_id, SEND)

    def again(**extra) -> HttpResponse:
        return _render_composer(request, case, composer_context(case, request.user, draft, **extra))

    try:
        results = drafts.check_reply_draft(
            case,
            draft.text,
            author=request.user,
            is_private=draft.is_private,
            override=draft.override,
            override_reason=draft.override_reason,
            opened_at=draft.opened_at,
            confirm_collision=draft.confirm_collision,
        )
    except drafts.DraftRefused as refused:
        now = timezone.now()
        for other in refused.collisions:
            other.ago = f"{format_duration(now - other.created_at)} ago"
        errors = [str(refused)] if str(refused) else []
        return again(results=refused.results, errors=errors, collisions=refused.collisions)

    target = None
    if draft.in_reply_to_id is not None:  # only a post of this case
        target = Mention.objects.filter(case=case, pk=draft.in_reply_to_id).first()
    try:
        reply = sending.do_queue_reply(
            case,
            author=request.user,
            text=draft.text,
            is_private=draft.is_private,
            in_reply_to=target,
            checks=[asdict(result) for result in results],
            override_reason=draft.override_reason if checks.blocking(results) else "",
            submit_token=draft.submit_token,
        )
    except AlreadySubmitted:
        # A double click or a resubmitted form: the first one is already queued.
        return _sent(request, case, "This reply was already sent.")
    except ValueError as exc:
        return again(results=results, errors=[f"Not sent: {exc}"])
    except DatabaseError:
        log.exception("queueing a reply failed", extra={"case_id": case.pk})
        # Nothing was stored (one transaction): the same form can be sent again.
        return again(
            results=results,
            errors=["Not sent: the desk could not save the reply. Send it again."],
        )
    presence.touch(case.pk, request.user, "viewing")  # the reply is written: no more "typing"
    return _sent(request, case, replies.reply_progress(reply)["notice"])


def _sent(request: HttpRequest, case: Case, notice: str) -> HttpResponse:
    """After a send: a fresh composer (htmx) or back to the case page, and a timeline refresh."""
    if not request.htmx:
        messages.success(request, notice)
        return redirect("cases:detail", case_id=case.pk)
    context = composer_context(case, request.user, Draft(), notice=notice)
    response = render(request, "cases/_composer.html#composer", context)
    return trigger_client_event(response, REPLIES_CHANGED, {"case": case.pk})


urlpatterns = [
    path("<int:case_id>/compose/", compose, name="compose"),
    path("<int:case_id>/compose/checks/", check_draft, name="checks"),
    path("<int:case_id>/compose/send/", send, name="send"),
]
