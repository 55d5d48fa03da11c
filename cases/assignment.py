"""Auto-assignment: new cases worth answering go round-robin to the agents who are online.

Run by Celery beat (cases.tasks.auto_assign_cases) every few seconds. One run costs a fixed
handful of queries whatever the number of cases: settings, agents, their open-case counts,
the candidate cases (locked, skipping rows another transaction holds), one bulk update, one
bulk insert of events, and the assignees' notifications (their preferences, one insert).

"Least recently assigned" is remembered in the cache (when each agent last got a case from
this function). If the cache is lost the order falls back to the fewest open cases, then the
user id: fair enough, and nothing in the database has to be scanned to find it.
"""

import heapq
import time

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from cases import presence
from cases.models import OPEN_STATUSES, Case, CaseEvent, CaseStatus, DeskSettings, Triage
from notifications.actions import Notice, default_title, do_notify_all
from notifications.models import Kind as NotificationKind
from socialdesk import roles

LAST_ASSIGNED_TTL = 7 * 24 * 3600


def _last_key(user_id: int) -> str:
    return f"assignment:last:{user_id}"


def auto_assign() -> int:
    """Assign unassigned new engage/escalate cases, highest priority first; return how many.

    Only when DeskSettings.auto_assign is on; only to the inbox workers (roles.inbox_workers)
    in the agent role who are online (cases.presence); never above
    DeskSettings.max_open_cases_per_agent open cases per agent. Each assignment writes an
    ASSIGNED CaseEvent with no actor ("auto-assigned") and notifies the assignee.
    """
    desk = DeskSettings.load()
    if not desk.auto_assign or desk.max_open_cases_per_agent == 0:
        return 0
    agents = list(
        roles.inbox_workers()
        .filter(groups__name=roles.AGENT)
        .only("id", "username", "first_name", "last_name")
    )
    online_ids = presence.online_user_ids([agent.pk for agent in agents])
    agents = [agent for agent in agents if agent.pk in online_ids]
    if not agents:
        return 0

    with transaction.atomic():
        open_counts = dict(
            Case.objects.filter(assignee__in=agents, status__in=OPEN_STATUSES)
            .values("assignee")
            .annotate(n=Count("id"))
            .values_list("assignee", "n")
        )
        last = cache.get_many([_last_key(agent.pk) for agent in agents])
        # Heap of (last assigned, open cases, id): the agent who waited longest comes first.
        heap = [
            (last.get(_last_key(agent.pk), 0.0), open_counts.get(agent.pk, 0), agent.pk, agent)
            for agent in agents
            if open_counts.get(agent.pk, 0) < desk.max_open_cases_per_agent
        ]
        capacity = sum(desk.max_open_cases_per_agent - item[1] for item in heap)
        if capacity <= 0:
            return 0
        heapq.heapify(heap)
        candidates = list(
            Case.objects.filter(
                status=CaseStatus.NEW,
                assignee__isnull=True,
                triage_suggestion__in=[Triage.ENGAGE, Triage.ESCALATE],
            )
            .exclude(triage_decision=Triage.IGNORE)
            .order_by("-priority", "last_inbound_at", "id")
            .select_for_update(skip_locked=True)
            .only("id", "assignee", "updated_at", "subject")[:capacity]
        )
        now = timezone.now()
        tick = time.time()
        assigned: list[Case] = []
        events: list[CaseEvent] = []
        stamps: dict[str, float] = {}
        for case in candidates:
            if not heap:
                break
            _, count, agent_id, agent = heapq.heappop(heap)
            case.assignee = agent
            case.updated_at = now
            assigned.append(case)
            events.append(
                CaseEvent(
                    case=case,
                    kind=CaseEvent.Kind.ASSIGNED,
                    actor=None,
                    data={
                        "assignee": presence.display_name(agent),
                        "assignee_id": agent.pk,
                        "previous": "",
                        "auto": True,
                    },
                    created_at=now,
                )
            )
            tick += 0.001  # strictly increasing, so the order survives within one run
            stamps[_last_key(agent_id)] = tick
            if count + 1 < desk.max_open_cases_per_agent:
                heapq.heappush(heap, (tick, count + 1, agent_id, agent))
        if assigned:
            Case.objects.bulk_update(assigned, ["assignee", "updated_at"])
            CaseEvent.objects.bulk_create(events)
            do_notify_all(
                [
                    Notice(
                        recipient_id=event.data["assignee_id"],
                        kind=NotificationKind.ASSIGNED,
                        dedupe_key=f"assigned:{event.pk}",
                        title=default_title(
                            NotificationKind.ASSIGNED,
                            case=event.case,
                            review=None,
                            actor=None,
                            data={},
                        ),
                        url=reverse("cases:detail", args=[event.case_id]),
                        case_id=event.case_id,
                    )
                    for event in events
                ],
                now=now,
            )
            transaction.on_commit(lambda: cache.set_many(stamps, LAST_ASSIGNED_TTL))
    return len(assigned)
