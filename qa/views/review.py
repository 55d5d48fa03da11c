"""The review queue and the review form (QA specialists: qa.review_replies).

/qa/                 the reviewer's pending reviews, oldest first. Sampled, calibration and gold
                     items are mixed blind: nothing on the page tells their kind.
/qa/reviews/<id>/    one review: the reply in its whole case context, the checks as shown at
                     send time, the rubric with the pre-scores as suggestions (never
                     selected); POST submits, POST with preview=1 (htmx) returns the live
                     score preview.

A reviewer sees only the reviews assigned to them (others: 404). Nothing here changes a reply
or a case: the page has no such controls, and QA specialists hold no such permission.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from cases.checks import CHECK_LABELS
from cases.timeline import timeline_context
from cases.visibility import visible_q
from listening import radar
from qa.autocheck import (
    AutoScore,
    correction_rates,
    prescore_review,
    response_time,
    stored_auto,
)
from qa.forms import (
    SCALE_OPTIONS,
    CriterionRow,
    parse_accepted,
    parse_values,
    score_preview,
    selected_key,
)
from qa.models import Review
from qa.reviews import ReviewError, do_submit_review, na_allowed
from qa.scoring import FORMULA_TEXT
from socialdesk.access import require_perm
from socialdesk.durations import format_duration

REVIEW_PERM = "qa.review_replies"
QUEUE_LIMIT = 100


def access_reviewer(request: HttpRequest) -> None:
    """QA specialists (and admins) score replies; everyone else gets a 403."""
    require_perm(request, REVIEW_PERM, message="Only QA specialists review replies.")


def access_review(request: HttpRequest, review_id: int) -> Review:
    """The review if it is assigned to this user and its case is one of their teams' (a case
    transferred away takes its review with it); any other review is a 404. A review of the
    user's own work (assigned before that was refused) is a 403: someone else scores it."""
    access_reviewer(request)
    review = get_object_or_404(
        Review.objects.filter(
            visible_q(request.user, "case__"), reviewer=request.user
        ).select_related(
            "rubric",
            "reply__author",
            "reply__in_reply_to",
            "agent",
            "case__channel",
            "case__customer",
            "case__triage_decided_by",
        ),
        pk=review_id,
    )
    if review.agent_id == request.user.pk:
        raise PermissionDenied("This is your own reply: another reviewer scores it.")
    return review


# ---------- queue ----------


def _pending(user) -> Any:
    """The user's pending reviews of their teams' cases, never of their own work."""
    return Review.objects.filter(
        visible_q(user, "case__"), reviewer=user, status=Review.Status.PENDING
    ).exclude(agent=user)


@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    access_reviewer(request)
    pending = _pending(request.user)
    rows = list(
        pending.select_related("reply", "agent", "case__channel", "case__customer").order_by(
            "created_at", "id"
        )[:QUEUE_LIMIT]
    )
    now = timezone.now()
    counts = (
        Review.objects.filter(visible_q(request.user, "case__"), reviewer=request.user)
        .exclude(agent=request.user)
        .aggregate(
            pending=Count("id", filter=Q(status=Review.Status.PENDING)),
            today=Count(
                "id",
                filter=Q(
                    status=Review.Status.SUBMITTED,
                    submitted_at__gte=timezone.localtime(now).replace(
                        hour=0, minute=0, second=0, microsecond=0
                    ),
                ),
            ),
            week=Count(
                "id",
                filter=Q(status=Review.Status.SUBMITTED, submitted_at__gte=now - timedelta(days=7)),
            ),
        )
    )
    context = {
        "rows": rows,
        "counts": counts,
        "limited": counts["pending"] > len(rows),
        "corrections": [c for c in correction_rates() if c.pre_scored],
        "now": now,
    }
    if request.htmx:
        return render(request, "qa/queue.html#queue-list", context)
    return render(request, "qa/queue.html", context)


# ---------- one review ----------


def review_context(
    request: HttpRequest,
    review: Review,
    *,
    posted: dict[int, int | None] | None = None,
    accepted: set[int] | None = None,
    errors: dict[int | None, str] | None = None,
    comment: str | None = None,
) -> dict[str, Any]:
    """Everything the review page shows, in a fixed number of queries."""
    case = review.case
    context = timeline_context(request, case)
    for reply in context["replies"]:
        reply.retry_url = ""  # reviewing changes nothing on the case
    mentions = context["mentions"]
    criteria = list(review.rubric.criteria.all())
    scores = {s.criterion_id: s for s in review.scores.all()}
    reply = review.reply
    waited = response_time(case, reply, mentions, context["replies"]) if reply else None
    computed: dict[int, AutoScore] = {}
    if any(c.pk not in scores for c in criteria):  # bulk-created by the sampler: not stored
        computed = prescore_review(
            review, criteria, mentions=mentions, replies=context["replies"], measured=waited
        )
    submitted = review.status == Review.Status.SUBMITTED
    errors = errors or {}
    rows = []
    for criterion in criteria:
        allowed = na_allowed(criterion, review)
        stored = scores.get(criterion.pk)
        auto = (
            stored_auto(stored, na_allowed=allowed)
            if stored is not None
            else computed.get(criterion.pk)
        )
        row = CriterionRow(
            criterion=criterion,
            options=SCALE_OPTIONS[criterion.scale],
            na_allowed=allowed,
            auto=auto,
            selected="",
            error=errors.get(criterion.pk, ""),
        )
        # Never pre-selected, in any kind of review: the kinds are mixed blind in the queue,
        # and answers that start from the suggestion make reviewers agree with the checks.
        if submitted and stored is not None:
            row.selected = selected_key(stored.value, True)
            row.accepted = stored.answer == stored.Answer.SUGGESTION
        elif posted is not None:
            row.selected = selected_key(posted.get(criterion.pk), criterion.pk in posted)
            row.accepted = criterion.pk in (accepted or ()) and row.selected == row.auto_key
        rows.append(row)
    author = next((m.author for m in mentions), None)
    position = None
    if not submitted:
        position = (
            _pending(request.user)
            .filter(
                Q(created_at__lt=review.created_at)
                | Q(created_at=review.created_at, id__lt=review.pk)
            )
            .count()
            + 1
        )
    preview_score, preview_failed = score_preview(rows)
    context.update(
        {
            "review": review,
            "reply": reply,
            "rows": rows,
            "submitted": submitted,
            "errors": errors,
            "general_error": errors.get(None, ""),
            "comment": review.comment if comment is None else comment,
            "waited": format_duration(waited.waited) if waited is not None else "",
            "waited_over": waited is not None and waited.target is not None and not waited.met,
            "target": waited.target_text if waited is not None else "",
            "customer_identity": author,
            "sentiment": radar.sentiment_label(case.sentiment),
            "checks": _checks(reply),
            "position": position,
            "formula": FORMULA_TEXT,
            "preview_score": review.score if submitted else preview_score,
            "preview_failed": review.critical_failed if submitted else preview_failed,
            "answered": sum(1 for r in rows if r.selected),
            "total_weight": sum(c.weight for c in criteria),
        }
    )
    return context


def _checks(reply) -> list[dict[str, str]]:
    if reply is None:
        return []
    out = []
    for check in reply.checks or []:
        if not isinstance(check, dict):
            continue
        severity = str(check.get("severity", ""))
        code = str(check.get("code", ""))
        out.append(
            {
                "label": CHECK_LABELS.get(code, code),
                "state": {"ok": "ok", "warn": "warn", "block": "fail"}.get(severity, "warn"),
                "severity": {"ok": "Passed", "warn": "Warning", "block": "Blocking"}.get(
                    severity, severity
                ),
                "message": str(check.get("message", "")),
            }
        )
    return out


def _next_pending(request: HttpRequest) -> Review | None:
    return _pending(request.user).order_by("created_at", "id").first()


@require_http_methods(["GET", "POST"])
def review_detail(request: HttpRequest, review_id: int) -> HttpResponse:
    review = access_review(request, review_id)
    if request.method == "GET":
        return render(request, "qa/review.html", review_context(request, review))

    criteria = list(review.rubric.criteria.all())
    values, junk = parse_values(request.POST, criteria)
    accepted = parse_accepted(request.POST, values)
    comment = request.POST.get("comment", "")
    if request.POST.get("preview"):
        context = review_context(request, review, posted=values, comment=comment)
        return render(request, "qa/review.html#score-preview", context)
    if review.status != Review.Status.PENDING:
        messages.info(request, f"Review #{review.pk} was already submitted.")
        return redirect("qa:review", review_id=review.pk)
    try:
        if junk:
            raise ReviewError(dict.fromkeys(junk, "Choose one of the values shown."))
        review = do_submit_review(review, values, comment, accepted=accepted)
    except ReviewError as error:
        context = review_context(
            request, review, posted=values, accepted=accepted, errors=error.errors, comment=comment
        )
        return render(request, "qa/review.html", context, status=400)
    score = "no score (all N/A)" if review.score is None else f"score {review.score:g}"
    if review.critical_failed:
        score += " (critical criterion failed)"
    messages.success(request, f"Review #{review.pk} submitted: {score}.")
    following = _next_pending(request)
    if following is not None:
        return redirect("qa:review", review_id=following.pk)
    return redirect("qa:queue")


urlpatterns = [
    path("", queue, name="queue"),
    path("reviews/<int:review_id>/", review_detail, name="review"),
]
