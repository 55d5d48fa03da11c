"""The sampling page and planner (/qa/sampling/): how much of each agent's work QA sees.

Per policy and period (the current one so far, or the last complete one): per agent, the
replies sent (N), sampled (n), reviewed, and the margin of error n gives with the
finite-population correction; the planner sets the policy's target margin and shows, per
agent, the reviews that margin needs next to what the policy's rate gives. Supervisors
(qa.change_samplingpolicy) change the target and may sample the current period now; QA
specialists (qa.view_samplingpolicy) read. Supervisors who are not QA specialists or admins
see the agents of the teams they supervise.

Queries per page are constant: one aggregate each for replies, samples and agents.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from cases.models import Reply
from qa.forms import PlanForm
from qa.models import Review, Sample, SamplingPolicy, SamplingRun
from qa.sampling import SamplingError, current_window, period_bounds, run_sampling
from qa.stats import margin_of_error, required_sample_size
from socialdesk.access import require_perm

VIEW_PERM = "qa.view_samplingpolicy"
CHANGE_PERM = "qa.change_samplingpolicy"
ALL_AGENTS_PERM = "qa.review_replies"  # QA specialists and admins see every agent
TEAM_PERM = "qa.view_team_reviews"
RECENT_RUNS = 6


# ---------- access ----------


def access_sampling(request: HttpRequest) -> None:
    require_perm(
        request, VIEW_PERM, message="The sampling page is for supervisors and QA specialists."
    )


def visible_agent_ids(user) -> set[int] | None:
    """None for everyone; else the members of the teams the user supervises."""
    if user.is_superuser or user.has_perm(ALL_AGENTS_PERM):
        return None
    if user.has_perm(TEAM_PERM):
        return set(
            get_user_model().objects.filter(teams__supervisors=user).values_list("pk", flat=True)
        )
    return set()


# ---------- numbers ----------


@dataclass
class AgentRow:
    agent: object
    sent: int  # N
    sampled: int  # n (replies)
    risky: int
    ignored: int  # ignored cases sampled
    reviewed: int
    margin: float  # with the FPC, 95 %
    needed: int  # reviews for the target margin
    by_rate: int  # what the policy's rate and minimum give
    margin_by_rate: float
    unassigned: int = 0  # sampled, no review: only the agent could have reviewed it

    @property
    def short_by(self) -> int:
        return max(0, self.needed - self.by_rate)

    @property
    def still_to_sample(self) -> int:
        return max(0, self.needed - self.sampled)


def expected_by_policy(policy: SamplingPolicy, sent: int) -> int:
    """Reviews the policy's rate gives an agent who sent `sent` replies (at least the minimum)."""
    if sent <= 0:
        return 0
    by_rate = math.ceil(policy.rate * sent - 1e-9)
    return min(sent, max(policy.per_agent_minimum, by_rate))


def agent_rows(
    policy: SamplingPolicy,
    start,
    end,
    target_margin: float,
    visible: set[int] | None,
) -> list[AgentRow]:
    # The replies the sampler draws from (qa/sampling.py): surveys are the desk's, not the agent's.
    sent_query = Reply.objects.filter(
        state=Reply.State.SENT, sent_at__gte=start, sent_at__lt=end, survey__isnull=True
    )
    sample_query = Sample.objects.filter(
        run__policy=policy, run__period_start__gte=start, run__period_start__lt=end
    )
    if visible is not None:
        sent_query = sent_query.filter(author_id__in=visible)
        sample_query = sample_query.filter(agent_id__in=visible)
    sent = dict(
        sent_query.values("author_id").annotate(n=Count("id")).values_list("author_id", "n")
    )
    replies = Q(reply__isnull=False)
    samples = {
        row["agent_id"]: row
        for row in sample_query.values("agent_id").annotate(
            n=Count("id", filter=replies, distinct=True),
            risky=Count("id", filter=replies & Q(is_risky=True), distinct=True),
            ignored=Count("id", filter=Q(reply__isnull=True), distinct=True),
            reviewed=Count(
                "id",
                filter=Q(reviews__status=Review.Status.SUBMITTED, reviews__kind="sample"),
                distinct=True,
            ),
            unassigned=Count("id", filter=Q(reviews__isnull=True), distinct=True),
        )
    }
    ids = set(sent) | set(samples)
    users = get_user_model().objects.filter(pk__in=ids).order_by("first_name", "username")
    rows = []
    for user in users:
        n_sent = sent.get(user.pk, 0)
        s = samples.get(user.pk, {})
        n = s.get("n", 0)
        by_rate = expected_by_policy(policy, n_sent)
        rows.append(
            AgentRow(
                agent=user,
                sent=n_sent,
                sampled=n,
                risky=s.get("risky", 0),
                ignored=s.get("ignored", 0),
                reviewed=s.get("reviewed", 0),
                margin=margin_of_error(n, n_sent),
                needed=required_sample_size(n_sent, target_margin),
                by_rate=by_rate,
                margin_by_rate=margin_of_error(by_rate, n_sent),
                unassigned=s.get("unassigned", 0),
            )
        )
    return rows


def _period(policy: SamplingPolicy, which: str, now):
    if which == "current":
        start, end = period_bounds(policy, now)
        return start, end, min(now, end)
    current_start, _ = period_bounds(policy, now)
    start, end = period_bounds(policy, current_start - dt.timedelta(seconds=1))
    return start, end, end


def _pick_policy(request: HttpRequest, policies: list[SamplingPolicy]) -> SamplingPolicy | None:
    wanted = request.GET.get("policy") or request.POST.get("policy")
    for policy in policies:
        if wanted and str(policy.pk) == wanted:
            return policy
    return policies[0] if policies else None


# ---------- the page ----------


def _target_from(request: HttpRequest, policy: SamplingPolicy | None) -> float:
    """The planner's margin: a what-if `target_margin` (points) in the query, else the policy's."""
    stored = policy.target_margin if policy else 0.10
    try:
        points = float(request.GET.get("target_margin", ""))
    except ValueError:
        return stored
    return min(max(points, 1.0), 50.0) / 100 if math.isfinite(points) else stored


def _render(
    request: HttpRequest,
    policies: list[SamplingPolicy],
    policy: SamplingPolicy | None,
    form: PlanForm | None = None,
    status: int = 200,
) -> HttpResponse:
    which = "current" if request.GET.get("period") == "current" else "last"
    target = _target_from(request, policy)
    context = {
        "policies": policies,
        "policy": policy,
        "which": which,
        "can_change": request.user.has_perm(CHANGE_PERM),
        "form": form or PlanForm(initial={"target_margin": round(target * 100, 1)}),
        "target": target,
        "target_points": round(target * 100, 1),
    }
    if policy is not None:
        start, end, until = _period(policy, which, timezone.now())
        visible = visible_agent_ids(request.user)
        rows = agent_rows(policy, start, until, target, visible)
        context.update(
            {
                "start": start,
                "end": end,
                "until": until,
                "rows": rows,
                "team_only": visible is not None,
                "totals": {
                    "sent": sum(r.sent for r in rows),
                    "sampled": sum(r.sampled for r in rows),
                    "ignored": sum(r.ignored for r in rows),
                    "reviewed": sum(r.reviewed for r in rows),
                    "unassigned": sum(r.unassigned for r in rows),
                    "needed": sum(r.needed for r in rows),
                    "by_rate": sum(r.by_rate for r in rows),
                    "short": sum(1 for r in rows if r.short_by),
                },
                "runs": list(
                    SamplingRun.objects.filter(policy=policy).order_by("-period_start")[
                        :RECENT_RUNS
                    ]
                ),
            }
        )
    if request.htmx and request.method == "GET":
        return render(request, "qa/sampling.html#agents", context)
    return render(request, "qa/sampling.html", context, status=status)


def _policies() -> list[SamplingPolicy]:
    return list(SamplingPolicy.objects.order_by("-enabled", "name", "pk"))


@require_http_methods(["GET", "POST"])
def sampling_page(request: HttpRequest) -> HttpResponse:
    """GET: the page (htmx: the agents table). POST: sample the current period now."""
    access_sampling(request)
    policies = _policies()
    policy = _pick_policy(request, policies)
    if request.method == "GET":
        return _render(request, policies, policy)
    require_perm(request, CHANGE_PERM, message="Only supervisors run sampling.")
    if policy is None:
        raise PermissionDenied("There is no sampling policy to run.")
    start, end = current_window(policy, timezone.now())
    if start >= end:
        messages.info(request, gettext("The current period has just been sampled."))
    else:
        try:
            run = run_sampling(policy, start, end, seed=random.SystemRandom().randrange(2**62))
        except SamplingError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                f"Sampled {run.sampled} of {run.population} replies sent since "
                f"{timezone.localtime(start):%-d %b, %H:%M}; the reviews are in the QA queue.",
            )
    return redirect(f"{reverse('qa:sampling')}?policy={policy.pk}&period=current")


@require_http_methods(["GET", "POST"])
def planner(request: HttpRequest) -> HttpResponse:
    """GET: the agents table for a what-if margin. POST: store the policy's target margin."""
    access_sampling(request)
    policies = _policies()
    policy = _pick_policy(request, policies)
    if request.method == "GET":
        return _render(request, policies, policy)
    require_perm(request, CHANGE_PERM, message="Only supervisors change the planner's target.")
    if policy is None:
        raise PermissionDenied("There is no sampling policy to plan.")
    form = PlanForm(request.POST)
    if not form.is_valid():
        return _render(request, policies, policy, form=form, status=400)
    points = form.cleaned_data["target_margin"]
    policy.target_margin = points / 100
    policy.save(update_fields=["target_margin"])
    messages.success(request, f"Target margin of error for {policy.name}: ±{points:g} points.")
    which = "current" if request.POST.get("period") == "current" else "last"
    return redirect(f"{reverse('qa:sampling')}?policy={policy.pk}&period={which}")


urlpatterns = [
    path("sampling/", sampling_page, name="sampling"),
    path("sampling/planner/", planner, name="planner"),
]
