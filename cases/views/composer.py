"""The reply composer, the approvals queue and the engagement guidelines page.

The composer is a form on the case page (templates/cases/_composer.html). While the agent types,
the textarea posts to `checks` (debounced by htmx) and the guideline checks re-render; `send`
runs the same checks again on the server, refuses a blocking check without an override reason,
asks to confirm when a colleague replied since the composer was opened, and then queues the reply
with `cases.sending.do_queue_reply`. Nothing the agent typed is lost on an error: every answer
re-renders the form with the posted text.

Every view: parse → access → act → render. Fragments and full pages come from the same view
(`request.htmx`); the timeline belongs to the case page, which is told to refresh by the
`sd:replies-changed` event (HX-Trigger) rather than by rendering its template here.
"""

import contextlib
import logging
import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from django import forms
from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from cases import canned, checks, presence, sending
from cases.checks import CheckResult
from cases.models import CannedReply, Case, EngagementGuidelines, Reply
from cases.replies import AlreadySubmitted
from listening.models import Mention
from listening.networks import POLICIES, NetworkPolicy
from socialdesk.access import require_perm
from socialdesk.durations import format_duration
from socialdesk.params import parse_id, parse_int, require_id

REPLY_TO_CHOICES = 20  # the newest customer posts offered in the reply-to selector
REPLIES_CHANGED = "sd:replies-changed"  # the case page refreshes its timeline on this event
APPROVALS_SHOWN = 100  # the approvals page shows the oldest this many
LEADING_MENTIONS = re.compile(r"^(?:@\w+\s+)+")

log = logging.getLogger(__name__)


# ---------- access ----------


def _case_url(case_id: int) -> str:
    return reverse("cases:detail", args=[case_id])


def access_case(case_id: int) -> Case:
    """The case with what the composer shows about it (channel, customer), or 404."""
    return get_object_or_404(Case.objects.select_related("channel", "customer"), pk=case_id)


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


def reply_limit(policy: NetworkPolicy, *, is_private: bool) -> int:
    return policy.private_reply_limit if is_private else policy.public_reply_limit


# ---------- the composer form ----------


@dataclass
class Draft:
    """What the composer posted, parsed; every field has a safe default."""

    text: str = ""
    is_private: bool = False
    in_reply_to_id: int | None = None
    override: bool = False
    override_reason: str = ""
    opened_at: datetime = field(default_factory=timezone.now)
    submit_token: str = field(default_factory=lambda: uuid.uuid4().hex)
    confirm_collision: bool = False

    @classmethod
    def parse(cls, data: dict) -> "Draft":
        draft = cls(
            text=data.get("text", "").replace("\r\n", "\n").strip(),
            is_private=data.get("visibility") == "private",
            override=data.get("override") == "on",
            override_reason=data.get("override_reason", "").strip()[:500],
            confirm_collision=data.get("confirm_collision") == "1",
        )
        draft.in_reply_to_id = parse_id(data.get("in_reply_to", ""))
        opened_ms = parse_int(data.get("opened_at", ""), low=0)
        if opened_ms is not None:
            # Unusable numbers leave the default: the composer counts as opened now.
            with contextlib.suppress(OverflowError, ValueError, OSError):
                draft.opened_at = datetime.fromtimestamp(opened_ms / 1000, tz=UTC)
        token = data.get("submit_token", "")
        if len(token) == 32:
            with contextlib.suppress(ValueError):
                draft.submit_token = uuid.UUID(hex=token).hex
        return draft


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
    if public_reason and not private_reason:
        draft.is_private = True
    elif private_reason:
        draft.is_private = False
    return target, public_reason, private_reason


def run_draft_checks(case: Case, draft: Draft) -> list[CheckResult]:
    """The guideline checks for the draft; none for an empty box (nothing to judge yet)."""
    if not draft.text:
        return []
    return checks.run_checks(
        draft.text, network=case.channel.network, is_private=draft.is_private, case=case
    )


def shown_checks(rows: list[dict], *, problems_only: bool = False) -> list[dict]:
    """Check rows as shown: blocking first, then warnings, then passes; each with its label."""
    order = {checks.BLOCK: 0, checks.WARN: 1}
    shown = [
        {**row, "label": checks.CHECK_LABELS.get(row.get("code", ""), row.get("code", ""))}
        for row in rows
        if isinstance(row, dict) and (not problems_only or row.get("severity") in order)
    ]
    return sorted(shown, key=lambda row: order.get(row.get("severity", ""), 2))


def checks_context(case: Case, draft: Draft, results: list[CheckResult]) -> dict:
    """What the checks panel and the character counter show."""
    policy = POLICIES[case.channel.network]
    limit = reply_limit(policy, is_private=draft.is_private)
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

    if not draft.text:
        # A reply a supervisor sent back comes back into the box for editing.
        latest_own = Reply.objects.filter(case=case, author=user).order_by("-created_at").first()
        if latest_own is not None and latest_own.state == Reply.State.DRAFT:
            draft.text = latest_own.text
            draft.is_private = latest_own.is_private and not private_reason
            notice = notice or (
                "A supervisor sent your reply back for changes: their note is in the "
                "timeline. The text is back in the box."
            )

    if results is None:
        results = run_draft_checks(case, draft)
    network_canned = Q(network="") | Q(network=case.channel.network)
    canned_replies = CannedReply.objects.filter(network_canned, is_private=draft.is_private)
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
        "canned_replies": list(canned_replies.only("id", "title")),
        # Supervisors' own replies go out without waiting (the sender approves them).
        "needs_approval": (
            sending.needs_approval(case) and not user.has_perm("cases.approve_reply")
        ),
        "errors": errors or [],
        "collisions": collisions or [],
        "notice": notice,
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
    context["case_url"] = _case_url(case.pk)
    return render(request, "cases/compose.html", context, status=status)


@require_http_methods(["GET", "POST"])
def compose(request: HttpRequest, case_id: int) -> HttpResponse:
    """The composer: GET a fresh one (page or fragment); POST re-renders it with the posted
    values (public/private or reply-to changed). Changes nothing."""
    draft = Draft.parse(request.POST) if request.method == "POST" else Draft()
    refused = require_perm(request, "cases.add_reply", _case_url(case_id))
    if refused:
        return refused
    canned_id = require_id(request.GET, "canned")
    case = access_case(case_id)
    if request.method == "GET" and canned_id is not None:
        # Without JavaScript the canned select submits here: start the box with its text.
        chosen = CannedReply.objects.filter(pk=canned_id).first()
        draft.is_private = request.GET.get("visibility") == "private"
        if chosen is not None:
            draft.text = canned.render_canned(chosen.text, case=case, agent=request.user)
    context = composer_context(case, request.user, draft)
    return _render_composer(request, case, context)


@require_POST
def check_draft(request: HttpRequest, case_id: int) -> HttpResponse:
    """The checks panel (and the counter, out of band) for the text typed so far."""
    draft = Draft.parse(request.POST)
    refused = require_perm(request, "cases.add_reply", _case_url(case_id))
    if refused:
        return refused
    case = access_case(case_id)
    resolve_mode(case, draft, customer_posts(case))
    results = run_draft_checks(case, draft)
    context = {"case": case, "draft": draft, "oob": True, **checks_context(case, draft, results)}
    return render(request, "cases/_composer.html#checks-response", context)


@require_GET
def canned_text(request: HttpRequest, case_id: int) -> HttpResponse:
    """A canned reply's text with its placeholders filled in, as plain text for the composer
    to insert at the cursor (never HTML: the customer's name is in it)."""
    refused = require_perm(request, "cases.add_reply", _case_url(case_id))
    if refused:
        return refused
    canned_id = require_id(request.GET, "canned")
    case = access_case(case_id)
    if canned_id is None:
        return HttpResponse("", content_type="text/plain; charset=utf-8")
    chosen = get_object_or_404(CannedReply, pk=canned_id)
    text = canned.render_canned(chosen.text, case=case, agent=request.user)
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


@require_POST
def send(request: HttpRequest, case_id: int) -> HttpResponse:
    """Queue the reply after the server-side checks and the collision check."""
    draft = Draft.parse(request.POST)
    refused = require_perm(request, "cases.add_reply", _case_url(case_id))
    if refused:
        return refused
    case = access_case(case_id)

    def again(**extra) -> HttpResponse:
        return _render_composer(request, case, composer_context(case, request.user, draft, **extra))

    if not draft.text:
        return again(errors=["Write a reply first: the box is empty."])
    results = run_draft_checks(case, draft)
    blocking = checks.blocking(results)
    if blocking and not (draft.override and draft.override_reason):
        what = "; ".join(result.message for result in blocking)
        how = (
            "write why you override them"
            if draft.override
            else "fix them or tick “Override” and write why"
        )
        return again(results=results, errors=[f"Not sent. Blocking checks: {what}. Please {how}."])
    if not draft.confirm_collision:
        collisions = presence.replies_since(case, draft.opened_at, exclude_user=request.user)
        if collisions:
            now = timezone.now()
            for other in collisions:
                other.ago = f"{format_duration(now - other.created_at)} ago"
            return again(results=results, collisions=collisions)

    posts = customer_posts(case)
    target = next((p for p in posts if p.pk == draft.in_reply_to_id), None)
    if draft.in_reply_to_id is not None and target is None:
        target = Mention.objects.filter(case=case, pk=draft.in_reply_to_id).first()
    try:
        reply = sending.do_queue_reply(
            case,
            author=request.user,
            text=draft.text,
            is_private=draft.is_private,
            in_reply_to=target,
            checks=[asdict(result) for result in results],
            override_reason=draft.override_reason if blocking else "",
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
    if reply.state == Reply.State.AWAITING_APPROVAL:
        notice = "Sent to a supervisor for approval: it goes out once approved."
    else:
        notice = "Reply queued: it is being posted and shows in the timeline."
    return _sent(request, case, notice)


def _sent(request: HttpRequest, case: Case, notice: str) -> HttpResponse:
    """After a send: a fresh composer (htmx) or back to the case page, and a timeline refresh."""
    if not request.htmx:
        messages.success(request, notice)
        return redirect(_case_url(case.pk))
    context = composer_context(case, request.user, Draft(), notice=notice)
    response = render(request, "cases/_composer.html#composer", context)
    return trigger_client_event(response, REPLIES_CHANGED, {"case": case.pk})


# ---------- retry and approval ----------


def _reply_or_404(reply_id: int) -> Reply:
    return get_object_or_404(
        Reply.objects.select_related("case", "case__channel", "author"), pk=reply_id
    )


def _after_reply_action(
    request: HttpRequest, reply: Reply, notice: str, *, ok: bool
) -> HttpResponse:
    if request.htmx:
        response = HttpResponse(status=204)
        return trigger_client_event(response, REPLIES_CHANGED, {"case": reply.case_id})
    (messages.success if ok else messages.error)(request, notice)
    return redirect(_case_url(reply.case_id))


@require_POST
def retry(request: HttpRequest, reply_id: int) -> HttpResponse:
    """Queue a failed reply again (the sender reconciles before posting)."""
    refused = require_perm(request, "cases.add_reply", reverse("cases:list"))
    if refused:
        return refused
    reply = _reply_or_404(reply_id)
    if reply.state != Reply.State.FAILED:
        return _after_reply_action(request, reply, "Only a failed reply can be retried.", ok=False)
    try:
        sending.do_retry_reply(reply, actor=request.user)
    except ValueError as exc:
        return _after_reply_action(request, reply, f"Not retried: {exc}", ok=False)
    return _after_reply_action(request, reply, "Reply queued again.", ok=True)


class SendBackForm(forms.Form):
    note = forms.CharField(
        max_length=2000,
        strip=True,
        error_messages={"required": "Say what to change: the agent sees this note."},
    )


def approval_queue(errors: dict[int, str] | None = None) -> list[Reply]:
    """Replies awaiting approval, oldest first, with their case context; one query."""
    replies = list(
        Reply.objects.filter(state=Reply.State.AWAITING_APPROVAL)
        .select_related("author", "case", "case__channel", "case__customer", "in_reply_to__author")
        .order_by("created_at", "id")[:APPROVALS_SHOWN]
    )
    for reply in replies:
        reply.case_url = _case_url(reply.case_id)
        reply.problems = shown_checks(reply.checks, problems_only=True)
        reply.send_back_error = (errors or {}).get(reply.pk, "")
    return replies


@require_GET
def approvals(request: HttpRequest) -> HttpResponse:
    """Replies waiting for a supervisor, oldest first, with their case context and checks."""
    refused = require_perm(request, "cases.approve_reply", request.path)
    if refused:
        return refused
    context = {"replies": approval_queue()}
    template = "cases/approvals.html#queue" if request.htmx else "cases/approvals.html"
    return render(request, template, context)


@require_POST
def approve(request: HttpRequest, reply_id: int) -> HttpResponse:
    """Approve (queue it) or send back with a note a reply awaiting approval."""
    action = request.POST.get("action", "approve")
    refused = require_perm(request, "cases.approve_reply", reverse("cases:approvals"))
    if refused:
        return refused
    reply = _reply_or_404(reply_id)
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
        "replies": approval_queue(errors),
        "notice": notice,
        "notice_ok": ok,
    }
    return render(request, "cases/approvals.html#queue", context)


# ---------- engagement guidelines ----------


def render_guidelines(body: str) -> SafeString:
    """The guidelines' plain text as HTML: escaped first, then structure from the lines.

    "# " starts a heading (h2), "## " a subheading (h3), "- " or "* " a list item; a blank line
    ends a paragraph or list; other lines join into paragraphs. No raw HTML ever passes.
    """
    html: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if paragraph:
            html.append(f"<p>{' '.join(paragraph)}</p>")
            paragraph.clear()
        if items:
            html.append("<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>")
            items.clear()

    for raw in body.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("## "):
            flush()
            html.append(f"<h3>{escape(line[3:].strip())}</h3>")
        elif line.startswith("# "):
            flush()
            html.append(f"<h2>{escape(line[2:].strip())}</h2>")
        elif line.startswith(("- ", "* ")):
            if paragraph:
                flush()
            items.append(escape(line[2:].strip()))
        elif items and raw.startswith(("  ", "\t")):
            items[-1] += " " + escape(line)  # an indented line continues the list item
        else:
            if items:
                flush()
            paragraph.append(escape(line))
    flush()
    return mark_safe("\n".join(html))  # every piece of text in it was escaped above


class GuidelinesForm(forms.Form):
    body = forms.CharField(
        label="Guidelines",
        widget=forms.Textarea(attrs={"rows": 24}),
        max_length=50_000,
        strip=True,
        error_messages={
            "required": "The guidelines can't be empty: write what agents should follow.",
        },
        help_text=(
            "Plain text. A line starting with “# ” is a heading, “## ” a subheading, “- ” a list "
            "item; a blank line starts a new paragraph."
        ),
    )


def current_guidelines() -> EngagementGuidelines | None:
    return EngagementGuidelines.objects.select_related("updated_by").order_by("pk").first()


@transaction.atomic
def do_update_guidelines(body: str, *, editor: AbstractBaseUser) -> EngagementGuidelines:
    """Save the desk's one guidelines text. Precondition: the editor may change it."""
    guidelines = EngagementGuidelines.objects.select_for_update().order_by("pk").first()
    if guidelines is None:
        guidelines = EngagementGuidelines()
    guidelines.body = body
    guidelines.updated_by = editor
    guidelines.updated_at = timezone.now()
    guidelines.save()
    return guidelines


@require_http_methods(["GET", "POST"])
def guidelines(request: HttpRequest) -> HttpResponse:
    """The engagement guidelines and each network's terms; admins edit them here."""
    refused = require_perm(request, "cases.view_engagementguidelines", request.path)
    if refused:
        return refused
    can_edit = request.user.has_perm("cases.change_engagementguidelines")
    if request.method == "POST" and not can_edit:
        raise PermissionDenied
    current = current_guidelines()
    if request.method == "POST":
        form = GuidelinesForm(request.POST)
        if form.is_valid():
            do_update_guidelines(form.cleaned_data["body"], editor=request.user)
            messages.success(request, "Guidelines saved.")
            return HttpResponseRedirect(reverse("cases:guidelines"))
    else:
        form = GuidelinesForm(initial={"body": current.body if current else ""})
    context = {
        "guidelines": current,
        "guidelines_html": render_guidelines(current.body) if current else "",
        "policies": list(POLICIES.values()),
        "form": form if can_edit else None,
        "editing": request.method == "POST" or request.GET.get("edit") == "1",
    }
    return render(request, "cases/guidelines.html", context)


urlpatterns = [
    path("<int:case_id>/compose/", compose, name="compose"),
    path("<int:case_id>/compose/checks/", check_draft, name="checks"),
    path("<int:case_id>/compose/canned/", canned_text, name="canned"),
    path("<int:case_id>/compose/send/", send, name="send"),
    path("replies/<int:reply_id>/retry/", retry, name="retry"),
    path("replies/<int:reply_id>/approve/", approve, name="approve"),
    path("approvals/", approvals, name="approvals"),
    path("guidelines/", guidelines, name="guidelines"),
]
