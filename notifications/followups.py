"""Coaching follow-ups that are due: the coach (and the agent) are told once per date set."""

from datetime import date, timedelta

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from notifications.actions import do_notify
from notifications.models import Kind

# A beat that was down for a few days still tells of the follow-ups that fell due meanwhile.
LOOK_BACK = timedelta(days=7)


def notify_follow_ups_due(today: date | None = None) -> int:
    """Notify the coach and the agent of each session whose follow-up date has come and that
    is not followed up; the key names the session and its date, so a rerun adds nothing and a
    new date is told again. Returns the notifications created."""
    from qa.models import CoachingSession

    today = today or timezone.localdate()
    sessions = (
        CoachingSession.objects.filter(follow_up_on__lte=today, follow_up_on__gte=today - LOOK_BACK)
        .exclude(status=CoachingSession.Status.FOLLOWED_UP)
        .select_related("agent", "coach")
        .order_by("follow_up_on", "id")
    )
    created = 0
    with transaction.atomic():
        for session in sessions:
            agent = session.agent.get_full_name() or session.agent.get_username()
            url = reverse("qa:coaching", args=[session.pk])
            key = f"follow-up:{session.pk}:{session.follow_up_on.isoformat()}"
            created += len(
                do_notify(
                    [session.coach],
                    Kind.FOLLOW_UP_DUE,
                    data={"agent": agent, "session_id": session.pk},
                    dedupe_key=key,
                    url=url,
                )
            )
            created += len(
                do_notify(
                    [session.agent],
                    Kind.FOLLOW_UP_DUE,
                    data={"session_id": session.pk},
                    dedupe_key=key,
                    url=url,
                )
            )
    return created
