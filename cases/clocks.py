"""The case's clocks: our service-level targets and the network's own reply windows.

The case page shows them; static/js/case.js keeps the running ones counting down. The
service-level due times are computed in business time when the case changes (cases/sla.py);
here they are only read from the row and put into words.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Case, DeskSettings, Reply
from listening.models import Mention, MentionKind
from listening.networks import POLICIES
from sla.models import Policy
from sla.policies import default_policy
from socialdesk.durations import format_duration


@dataclass(frozen=True)
class Clock:
    """One deadline of this case. `deadline` None: nothing counts down (see `state`)."""

    name: str
    deadline: datetime | None
    state: str  # "running" | "soon" | "overdue" | "met" | "missed" | "none"
    value: str  # what the clock shows now; static/js/case.js keeps running ones current
    detail: str
    warn_at: datetime | None = None  # a service-level clock turns "soon" from here


def countdown(
    name: str, deadline: datetime, detail: str, now: datetime, warn_at: datetime | None = None
) -> Clock:
    if deadline <= now:
        return Clock(
            name,
            deadline,
            "overdue",
            _("Overdue by %(time)s") % {"time": format_duration(now - deadline)},
            detail,
            warn_at,
        )
    state = "soon" if warn_at is not None and warn_at <= now else "running"
    left = _("%(time)s left") % {"time": format_duration(deadline - now)}
    return Clock(name, deadline, state, left, detail, warn_at)


@dataclass(frozen=True)
class SlaTerms:
    """The policy a case's clocks follow, as the case page words it."""

    policy: Policy
    hours: str  # "around the clock" or "in the business hours of Team (Europe/Berlin)"


def sla_terms(case: Case) -> SlaTerms:
    """The case's policy (its row, or the desk default) and whose hours apply: one query."""
    if case.sla_policy_id is None:
        return SlaTerms(default_policy(DeskSettings.load().first_response_sla_minutes), "")
    policy = Policy.objects.select_related("hours_team__business_hours").get(pk=case.sla_policy_id)
    team = policy.hours_team
    hours = getattr(team, "business_hours", None) if team else None
    where = f"in the business hours of {team} ({hours.time_zone})" if hours else ""
    return SlaTerms(policy, where)


def _target(minutes: int, terms: SlaTerms) -> str:
    return f"{format_duration(timedelta(minutes=minutes))} {terms.hours or 'around the clock'}"


def sla_clocks(case: Case, terms: SlaTerms, now: datetime) -> list[Clock]:
    """First response, next response and resolution under the case's policy, from the due
    times kept on the row (cases/sla.py)."""
    policy = terms.policy

    def warn_at(start: datetime, due: datetime) -> datetime:
        # The row keeps the exact business-time warning point of its soonest clock; another
        # clock's is placed at the same share of its wall-clock span (a hint for the colour).
        if due == case.sla_due_at and case.sla_warn_at is not None:
            return case.sla_warn_at
        return start + (due - start) * (policy.warn_percent / 100)

    clocks = []
    target = _target(policy.first_response_minutes, terms)
    due = case.first_response_due_at
    if case.first_response_at:
        took = format_duration(case.first_response_at - case.opened_at)
        met = due is None or case.first_response_at <= due
        clocks.append(
            Clock(
                _("First response"),
                None,
                "met" if met else "missed",
                _("Met") if met else _("Missed"),
                _("Answered after %(took)s; our target is %(target)s.")
                % {"took": took, "target": target},
            )
        )
    elif not case.is_open or due is None:
        clocks.append(Clock(_("First response"), None, "none", "–", _("Closed without a reply.")))
    else:
        clocks.append(
            countdown(
                _("First response"),
                due,
                _("Our target: a first answer within %(target)s.") % {"target": target},
                now,
                warn_at(case.opened_at, due),
            )
        )
    if policy.next_response_minutes and case.first_response_at:
        target = _target(policy.next_response_minutes, terms)
        if case.is_open and case.response_due_at and case.awaiting_since:
            clocks.append(
                countdown(
                    "Next response",
                    case.response_due_at,
                    f"The customer wrote again; target: an answer within {target}.",
                    now,
                    warn_at(case.awaiting_since, case.response_due_at),
                )
            )
        else:
            clocks.append(
                Clock(
                    "Next response",
                    None,
                    "none",
                    "Not waiting",
                    f"Each new customer post is answered within {target}.",
                )
            )
    if policy.resolution_minutes and case.resolution_due_at:
        target = _target(policy.resolution_minutes, terms)
        if case.resolved_at:
            met = case.resolved_at <= case.resolution_due_at
            clocks.append(
                Clock(
                    "Resolution",
                    None,
                    "met" if met else "missed",
                    "Met" if met else "Missed",
                    f"Resolved after {format_duration(case.resolved_at - case.opened_at)}; "
                    f"the target is {target}.",
                )
            )
        elif case.is_open:
            clocks.append(
                countdown(
                    "Resolution",
                    case.resolution_due_at,
                    f"Target: resolved within {target}.",
                    now,
                    warn_at(case.opened_at, case.resolution_due_at),
                )
            )
    return clocks


def network_clocks(
    case: Case, mentions: list[Mention], replies: list[Reply], now: datetime
) -> list[Clock]:
    """The network's own reply windows for this case."""
    clocks: list[Clock] = []
    policy = POLICIES.get(case.channel.network)
    if policy is None or policy.private_window is None:
        rule = policy.private_window_rule if policy else ""
        label = policy.label if policy else case.channel.get_network_display()
        clocks.append(
            Clock(
                _("Reply window"),
                None,
                "none",
                _("None"),
                _("%(network)s sets no reply window.") % {"network": label} + f" {rule}",
            )
        )
        return clocks
    live = [m for m in mentions if m.deleted_at is None]
    if case.is_private:
        last = max((m.posted_at for m in live if m.is_private), default=case.last_inbound_at)
        clocks.append(
            countdown(
                _("%(label)s window") % {"label": policy.private_label},
                last + policy.private_window,
                _("Replies are allowed within %(window)s of the customer's last message.")
                % {"window": format_duration(policy.private_window)},
                now,
            )
        )
        return clocks
    window = policy.private_reply_to_comment_window
    comments = [m for m in live if m.kind in (MentionKind.COMMENT, MentionKind.VISITOR_POST)]
    if comments and window is not None:
        latest = max(comments, key=lambda m: m.posted_at)
        if any(r.is_private and r.in_reply_to_id == latest.pk for r in replies):
            clocks.append(
                Clock(
                    _("Private reply"),
                    None,
                    "met",
                    _("Used"),
                    _("The one private reply to the latest comment has been used."),
                )
            )
        else:
            clocks.append(
                countdown(
                    _("Private reply"),
                    latest.posted_at + window,
                    _("%(network)s allows one private reply to a comment, within %(window)s of it.")
                    % {"network": policy.label, "window": format_duration(window)},
                    now,
                )
            )
    return clocks


def snooze_presets(now: datetime) -> list[tuple[str, str, datetime]]:
    """(value, label, moment) for the snooze buttons, in the desk's time zone."""
    local = timezone.localtime(now)
    tomorrow = (local + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    return [
        ("1h", _("Snooze 1 hour"), now + timedelta(hours=1)),
        ("tomorrow", _("Until tomorrow 9:00"), tomorrow),
    ]
