"""The case's clocks: our first-response target and the network's own reply windows.

The case page shows them; static/js/case.js keeps the running ones counting down.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Case, Reply
from listening.models import Mention, MentionKind
from listening.networks import POLICIES
from socialdesk.durations import format_duration


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
            name,
            deadline,
            "overdue",
            _("Overdue by %(time)s") % {"time": format_duration(now - deadline)},
            detail,
        )
    left = _("%(time)s left") % {"time": format_duration(deadline - now)}
    return Clock(name, deadline, "running", left, detail)


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
                _("First response"),
                None,
                "met" if met else "missed",
                _("Met") if met else _("Missed"),
                _("Answered after %(took)s; our target is %(target)s.")
                % {"took": took, "target": format_duration(sla)},
            )
        ]
    elif not case.is_open:
        clocks = [Clock(_("First response"), None, "none", "–", _("Closed without a reply."))]
    else:
        clocks = [
            countdown(
                _("First response"),
                deadline,
                _("Our target: a first answer within %(target)s.")
                % {"target": format_duration(sla)},
                now,
            )
        ]

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
