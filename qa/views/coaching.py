"""Agents' reviews, disputes and coaching sessions.

/qa/mine/            an agent's own reviews; acknowledge or dispute (POST respond)
/qa/disputes/        open disputes of the supervisor's teams; uphold or reject with a note
/qa/coaching/        sessions (supervisors: their teams', agents: their own) and a form to plan one
/qa/coaching/<id>/   one session: notes, action items, follow-up; mark done / followed up

Access: qa.coaching.team_agent_ids decides whom a supervisor watches; anything outside it is a
404, as if it did not exist. An agent asking for another agent's review gets a 404 too.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods, require_POST

from qa import coaching
from qa.forms import CoachingForm, CoachingNotesForm, parse_values
from qa.models import CoachingSession, Review
from socialdesk.access import require_perm
from socialdesk.params import parse_int

OWN_PERM = "qa.view_own_reviews"
RESOLVE_PERM = "qa.resolve_dispute"
TEAM_PERM = "qa.view_team_reviews"
VIEW_COACHING = "qa.view_coachingsession"
ADD_COACHING = "qa.add_coachingsession"
CHANGE_COACHING = "qa.change_coachingsession"
PAGE_SIZE = 20
LINKABLE_REVIEWS = 12


def _page_number(request: HttpRequest) -> int:
    return max(1, parse_int(request.GET.get("page", ""), high=10**6) or 1)


# ---------- an agent's own reviews ----------


def access_own_reviews(request: HttpRequest) -> None:
    """Agents see the reviews of their own replies; 403 for everyone else."""
    require_perm(
        request, OWN_PERM, message="Reviews are shown to the agent whose reply was reviewed."
    )


def access_own_review(request: HttpRequest, review_id: int) -> Review:
    """The user's own submitted review; 403 without the permission, 404 for anyone else's."""
    access_own_reviews(request)
    return get_object_or_404(coaching.agent_reviews(request.user), pk=review_id)


@require_http_methods(["GET"])
def my_reviews(request: HttpRequest) -> HttpResponse:
    access_own_reviews(request)
    reviews = coaching.agent_reviews(request.user)
    page = Paginator(reviews, PAGE_SIZE).get_page(_page_number(request))
    to_answer = reviews.filter(agent_response=Review.AgentResponse.PENDING).count()
    return render(
        request,
        "qa/my_reviews.html",
        {"page": page, "reviews": page.object_list, "to_answer": to_answer},
    )


@require_POST
def respond(request: HttpRequest, review_id: int) -> HttpResponse:
    review = access_own_review(request, review_id)
    action = request.POST.get("action", "")
    comment = request.POST.get("comment", "")
    try:
        if action == "acknowledge":
            coaching.do_acknowledge_review(review, request.user, comment)
            messages.success(request, f"Review of reply #{review.reply_id} acknowledged.")
        elif action == "dispute":
            coaching.do_dispute_review(review, request.user, comment)
            messages.success(
                request, gettext("Dispute sent: a supervisor of your team will look at it.")
            )
        else:
            messages.error(request, gettext("Choose Acknowledge or Dispute."))
    except coaching.CoachingError as error:
        messages.error(request, str(error))
    return redirect(f"{reverse('qa:my_reviews')}#review-{review.pk}")


# ---------- disputes ----------


def access_disputes(request: HttpRequest) -> Q:
    """Supervisors and admins; the Q limits reviews to the agents they watch."""
    require_perm(request, RESOLVE_PERM, TEAM_PERM, message="Disputes are resolved by supervisors.")
    return coaching.scope_filter(request.user)


def access_dispute(request: HttpRequest, review_id: int) -> Review:
    """A review of an agent the supervisor watches (another team's: 404)."""
    scope = access_disputes(request)
    return get_object_or_404(Review.objects.filter(scope, kind=Review.Kind.SAMPLE), pk=review_id)


def _dispute_reviews(scope: Q):
    return (
        Review.objects.filter(scope, kind=Review.Kind.SAMPLE)
        .select_related(
            "agent", "reviewer", "reply__in_reply_to", "case__channel", "dispute_resolved_by"
        )
        .prefetch_related("scores__criterion")
    )


@require_http_methods(["GET"])
def disputes(request: HttpRequest) -> HttpResponse:
    scope = access_disputes(request)
    reviews = _dispute_reviews(scope)
    open_disputes = list(
        reviews.filter(agent_response=Review.AgentResponse.DISPUTED).order_by(
            "agent_responded_at", "id"
        )[:100]
    )
    resolved = list(
        reviews.filter(
            agent_response__in=[
                Review.AgentResponse.DISPUTE_UPHELD,
                Review.AgentResponse.DISPUTE_REJECTED,
            ]
        ).order_by("-dispute_resolved_at", "-id")[:20]
    )
    return render(
        request, "qa/disputes.html", {"open_disputes": open_disputes, "resolved": resolved}
    )


@require_POST
def resolve_dispute(request: HttpRequest, review_id: int) -> HttpResponse:
    review = access_dispute(request, review_id)
    decision = request.POST.get("decision", "")
    corrections, junk = parse_values(request.POST, list(review.rubric.criteria.all()))
    try:
        if decision not in ("uphold", "reject"):
            raise coaching.CoachingError("Choose Uphold or Reject.")
        if junk:
            raise coaching.CoachingError("Choose the corrected scores from the values shown.")
        coaching.do_resolve_dispute(
            review,
            request.user,
            uphold=decision == "uphold",
            note=request.POST.get("note", ""),
            corrections=corrections if decision == "uphold" else None,
        )
    except coaching.CoachingError as error:
        messages.error(request, f"Review #{review.pk}: {error}")
        return redirect(f"{reverse('qa:disputes')}#dispute-{review.pk}")
    verdict = "upheld" if decision == "uphold" else "rejected"
    messages.success(request, f"Dispute on review #{review.pk} {verdict}.")
    return redirect("qa:disputes")


# ---------- coaching sessions ----------


def access_coaching(request: HttpRequest) -> tuple[Q, bool]:
    """(which sessions the user sees, may they plan and edit sessions).

    Supervisors and admins: sessions of the agents they watch. Agents: their own, read-only.
    """
    user = request.user
    if user.has_perm(VIEW_COACHING):
        return coaching.scope_filter(user), user.has_perm(CHANGE_COACHING)
    if user.has_perm(OWN_PERM):
        return Q(agent=user), False
    raise PermissionDenied("Coaching sessions are for supervisors and the agents they coach.")


def access_coaching_session(request: HttpRequest, session_id: int) -> tuple[CoachingSession, bool]:
    """(a session the user sees, may they edit it); any other session is a 404."""
    scope, can_edit = access_coaching(request)
    sessions = CoachingSession.objects.filter(scope).select_related("agent", "coach")
    return get_object_or_404(sessions, pk=session_id), can_edit


@require_http_methods(["GET", "POST"])
def coaching_list(request: HttpRequest) -> HttpResponse:
    scope, can_edit = access_coaching(request)
    can_plan = can_edit and request.user.has_perm(ADD_COACHING)
    if request.method == "POST" and not can_plan:
        raise PermissionDenied("Only supervisors plan coaching sessions.")
    agents = list(coaching.coachable_agents(request.user)) if can_plan else []
    posted = request.POST if request.method == "POST" else None
    form = CoachingForm(posted, agents=coaching.coachable_agents(request.user))
    if posted is not None and form.is_valid():
        try:
            session = coaching.do_create_coaching(coach=request.user, **form.cleaned_data)
        except coaching.CoachingError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, gettext("Coaching session planned."))
            return redirect("qa:coaching", session_id=session.pk)
    chosen_id = (posted or request.GET).get("agent", "")
    chosen = next((a for a in agents if str(a.pk) == chosen_id), None)
    sessions = (
        CoachingSession.objects.filter(scope)
        .select_related("agent", "coach")
        .order_by("-scheduled_for", "-id")
    )
    page = Paginator(sessions, PAGE_SIZE).get_page(_page_number(request))
    recent = []
    if chosen is not None:
        recent = list(
            coaching.agent_reviews(chosen)
            .select_related(None)
            .select_related("case__channel")
            .prefetch_related(None)[:LINKABLE_REVIEWS]
        )
    preselected = set(
        request.POST.getlist("reviews") if posted is not None else request.GET.getlist("review")
    )
    context = {
        "page": page,
        "sessions": page.object_list,
        "can_plan": can_plan,
        "agents": agents,
        "chosen": chosen,
        "recent_reviews": recent,
        "preselected": preselected,
        "form": form,
        "form_data": posted or {},
        "today": timezone.localdate(),
        "is_agent_view": not can_edit,
    }
    if request.htmx and request.htmx.target == "coaching-form":
        return render(request, "qa/coaching_list.html#coaching-form", context)
    status = 400 if posted is not None else 200  # a valid POST redirected above
    return render(request, "qa/coaching_list.html", context, status=status)


@require_http_methods(["GET", "POST"])
def coaching_detail(request: HttpRequest, session_id: int) -> HttpResponse:
    session, can_edit = access_coaching_session(request, session_id)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Agents see their coaching sessions read-only.")
        try:
            if request.POST.get("action") == "status":
                coaching.do_set_coaching_status(session, request.POST.get("status", ""))
                messages.success(request, f"Session marked {session.get_status_display().lower()}.")
            elif request.POST.get("action") == "edit":
                form = CoachingNotesForm(request.POST)
                if not form.is_valid():
                    raise coaching.CoachingError(next(iter(form.errors.values()))[0])
                coaching.do_update_coaching(session, **form.cleaned_data)
                messages.success(request, gettext("Session saved."))
            else:
                raise Http404
        except coaching.CoachingError as error:
            messages.error(request, str(error))
        return redirect("qa:coaching", session_id=session.pk)
    reviews = (
        session.reviews.select_related("reply", "case__channel", "reviewer")
        .prefetch_related("scores__criterion")
        .order_by("-submitted_at")
    )
    today = timezone.localdate()
    return render(
        request,
        "qa/coaching.html",
        {
            "session": session,
            "reviews": reviews,
            "items": coaching.parse_action_items(session.action_items),
            "can_edit": can_edit,
            "overdue": session.follow_up_on is not None
            and session.follow_up_on < today
            and session.status != CoachingSession.Status.FOLLOWED_UP,
            "Status": CoachingSession.Status,
        },
    )


urlpatterns = [
    path("mine/", my_reviews, name="my_reviews"),
    path("mine/<int:review_id>/respond/", respond, name="respond"),
    path("disputes/", disputes, name="disputes"),
    path("disputes/<int:review_id>/resolve/", resolve_dispute, name="resolve_dispute"),
    path("coaching/", coaching_list, name="coaching_list"),
    path("coaching/<int:session_id>/", coaching_detail, name="coaching"),
]
