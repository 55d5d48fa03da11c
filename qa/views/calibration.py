"""Calibration screens: the sessions (and a form to start one), one session's results, gold.

Results stay hidden from reviewers until every review of the session is submitted (blind);
supervisors (qa.view_team_reviews) see them at any time. A reviewer sees only the sessions they
sit or started. Nobody sees the kind of an item in the review queue, so calibration and gold
items cannot be told from sampled ones there; which replies are gold, the gold checks and the
drift charts (made of gold checks too) are for supervisors and admins (qa.calibration.sees_gold).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods, require_POST

from cases.models import Reply
from qa import calibration as cal
from qa.agreement import RELIABLE, TENTATIVE
from qa.charts import drift_coordinates
from qa.drift import DriftChart, reviewer_drift
from qa.forms import PlantForm, SessionForm
from qa.models import CalibrationSession, GoldReply, Review
from socialdesk.access import require_perm
from socialdesk.params import parse_id

RECENT_REPLIES = 40
VIEW_PERM = "qa.view_calibrationsession"
CREATE_PERM = "qa.add_calibrationsession"
GOLD_PERM = "qa.add_goldreply"
SUPERVISE_PERM = "qa.view_team_reviews"


# ---------- access ----------


def access_calibration(request: HttpRequest) -> None:
    """QA specialists, supervisors and admins; 403 for everyone else."""
    require_perm(request, VIEW_PERM, message="Calibration is for QA specialists and supervisors.")


def access_session(request: HttpRequest, session_id: int) -> CalibrationSession:
    """A session this user may see (qa.calibration.visible_sessions); any other is a 404."""
    access_calibration(request)
    return get_object_or_404(
        cal.visible_sessions(request.user).select_related("rubric", "created_by"), pk=session_id
    )


def access_gold(request: HttpRequest, gold_id: int) -> GoldReply:
    """A gold reply this user may plant (qa.calibration.visible_golds; else 404); 403 for those
    who may not make gold replies."""
    access_calibration(request)
    require_perm(request, GOLD_PERM, message="Only supervisors may plant gold replies.")
    return get_object_or_404(cal.visible_golds(request.user).select_related("reply"), pk=gold_id)


def may_see_results(user, results: cal.SessionResults) -> bool:
    """Blind: reviewers see results once all is submitted; supervisors at any time."""
    return results.complete or user.has_perm(SUPERVISE_PERM)


# ---------- list + create ----------


def _recent_replies():
    return (
        Reply.objects.filter(state=Reply.State.SENT)
        .select_related("author", "case__channel")
        .order_by("-sent_at", "-id")[:RECENT_REPLIES]
    )


def _sessions(user):
    return (
        cal.visible_sessions(user)
        .select_related("rubric", "created_by")
        .annotate(
            n_replies=Count("replies", distinct=True),
            n_reviewers=Count("reviewers", distinct=True),
            n_reviews=Count("reviews", distinct=True),
            n_submitted=Count(
                "reviews", filter=Q(reviews__status=Review.Status.SUBMITTED), distinct=True
            ),
        )
        .order_by("-created_at", "-id")
    )


@dataclass
class SessionRow:
    session: CalibrationSession
    overall: float | None
    complete: bool
    visible: bool  # may this user see its alpha yet


def _session_rows(user, sessions) -> list[SessionRow]:
    """Overall alpha of each complete session: one query for every session's review scores."""
    from qa.agreement import krippendorff_alpha

    sessions = list(sessions)
    scores: dict[int, dict[int, dict[int, float | None]]] = {s.pk: {} for s in sessions}
    for session_id, reply_id, reviewer_id, score in Review.objects.filter(
        calibration__in=[s.pk for s in sessions], status=Review.Status.SUBMITTED
    ).values_list("calibration_id", "reply_id", "reviewer_id", "score"):
        scores[session_id].setdefault(reply_id, {})[reviewer_id] = score
    supervisor = user.has_perm(SUPERVISE_PERM)
    rows = []
    for session in sessions:
        complete = session.n_reviews > 0 and session.n_submitted == session.n_reviews
        by_reply = scores[session.pk]
        raters = sorted({r for by in by_reply.values() for r in by})
        data = [[by.get(r) for r in raters] for by in by_reply.values()]
        rows.append(
            SessionRow(
                session=session,
                overall=krippendorff_alpha(data, "interval") if data else None,
                complete=complete,
                visible=complete or supervisor,
            )
        )
    return rows


@require_http_methods(["GET", "POST"])
def calibration_list(request: HttpRequest) -> HttpResponse:
    access_calibration(request)
    can_create = request.user.has_perm(CREATE_PERM)
    form = SessionForm()
    if request.method == "POST":
        require_perm(
            request, CREATE_PERM, message="Only QA specialists may start a calibration session."
        )
        form = SessionForm(request.POST)
        if form.is_valid():
            from qa.rubrics import default_rubric

            try:
                session = cal.do_create_session(
                    form.cleaned_data["name"],
                    default_rubric(),
                    list(form.cleaned_data["replies"]),
                    list(form.cleaned_data["reviewers"]),
                    request.user,
                )
            except cal.CalibrationError as error:
                form.add_error(None, str(error))
            else:
                messages.success(
                    request,
                    f"Session “{session.name}” started: each reviewer finds its replies "
                    "in their review queue.",
                )
                return redirect("qa:calibration", session_id=session.pk)
    golds = (
        cal.visible_golds(request.user)
        .select_related("reply__author", "reply__case__channel", "created_by")
        .annotate(
            n_planted=Count("reply__reviews", filter=Q(reply__reviews__kind=Review.Kind.GOLD)),
            n_done=Count(
                "reply__reviews",
                filter=Q(
                    reply__reviews__kind=Review.Kind.GOLD,
                    reply__reviews__status=Review.Status.SUBMITTED,
                ),
            ),
        )
        .order_by("-created_at", "-id")
    )
    context = {
        "rows": _session_rows(request.user, _sessions(request.user)),
        "can_create": can_create,
        "can_gold": request.user.has_perm(GOLD_PERM),
        "form": form,
        "recent_replies": _recent_replies() if can_create else [],
        "reviewers": list(cal.reviewers_queryset()),
        "chosen_replies": {str(v) for v in form["replies"].value() or []},
        "chosen_reviewers": {str(v) for v in form["reviewers"].value() or []},
        "golds": golds,
        "show_gold": cal.sees_gold(request.user) or bool(golds),
        "TENTATIVE": TENTATIVE,
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "qa/calibration_list.html", context, status=status)


# ---------- one session ----------


@dataclass
class DriftView:
    reviewer: object
    chart: DriftChart
    svg: dict  # coordinates for the template (qa.charts.drift_coordinates)


@require_http_methods(["GET"])
def calibration_detail(request: HttpRequest, session_id: int) -> HttpResponse:
    session = access_session(request, session_id)
    results = cal.session_results(session)
    visible = may_see_results(request.user, results)
    sees_gold = cal.sees_gold(request.user)
    if not sees_gold:
        for item in results.items:
            item.is_gold = False
    mine = [d for d in results.reviewers if d.reviewer.pk == request.user.pk]
    context = {
        "session": session,
        "results": results,
        "visible": visible,
        "sees_gold": sees_gold,
        "my_progress": mine[0] if mine else None,
        "can_gold": sees_gold and request.user.has_perm(GOLD_PERM),
        "TENTATIVE": TENTATIVE,
        "RELIABLE": RELIABLE,
    }
    if visible and sees_gold:
        reviewer_ids = [d.reviewer.pk for d in results.reviewers]
        charts = reviewer_drift(reviewer_ids)
        context["drift"] = [
            DriftView(d.reviewer, charts[d.reviewer.pk], drift_coordinates(charts[d.reviewer.pk]))
            for d in results.reviewers
            if charts[d.reviewer.pk].points
        ]
        context["alarms"] = [v for v in context["drift"] if v.chart.alarm]
        context["gold"] = cal.gold_results(reviewer_ids)
    return render(request, "qa/calibration.html", context)


@require_POST
def calibration_gold(request: HttpRequest, session_id: int) -> HttpResponse:
    """Make one reply of a completed session a gold reply with the session's consensus."""
    session = access_session(request, session_id)
    require_perm(request, GOLD_PERM, message="Only supervisors may make gold replies.")
    reply = get_object_or_404(session.replies.all(), pk=parse_id(request.POST.get("reply")) or 0)
    results = cal.session_results(session)
    if not results.complete:
        messages.error(request, gettext("Wait until every reviewer has submitted."))
    else:
        try:
            cal.do_add_gold(
                reply, cal.consensus_scores(session, reply), request.user, session.rubric
            )
        except cal.CalibrationError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"Reply #{reply.pk} is now a gold reply.")
    return redirect(reverse("qa:calibration", args=[session.pk]) + "#items")


@require_POST
def gold_plant(request: HttpRequest, gold_id: int) -> HttpResponse:
    """Slip a gold reply blind into the chosen reviewers' queues."""
    gold = access_gold(request, gold_id)
    form = PlantForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("Pick at least one reviewer."))
    else:
        chosen = form.cleaned_data["reviewers"]
        try:
            planted = cal.do_plant_gold(gold, chosen)
        except cal.CalibrationError as error:
            messages.error(request, str(error))
        else:
            skipped = len(chosen) - len(planted)
            messages.success(
                request,
                f"Gold reply #{gold.reply_id} planted in {len(planted)} "
                f"queue{'s' if len(planted) != 1 else ''}."
                + (
                    f" Left out {skipped}: they wrote, agreed or already reviewed this reply."
                    if skipped
                    else ""
                ),
            )
    return redirect(reverse("qa:calibration_list") + "#gold")


urlpatterns = [
    path("calibration/", calibration_list, name="calibration_list"),
    path("calibration/<int:session_id>/", calibration_detail, name="calibration"),
    path("calibration/<int:session_id>/gold/", calibration_gold, name="calibration_gold"),
    path("calibration/gold/<int:gold_id>/plant/", gold_plant, name="gold_plant"),
]
