"""Auto-assignment: new cases worth answering go to the online agents who may work them.

Run by Celery beat (cases.tasks.auto_assign_cases) every few seconds. One run costs a fixed
handful of queries whatever the number of cases: settings, agents, their teams (two), their
languages and skills, their open-case counts, the candidate cases (locked, skipping rows
another transaction holds), one bulk update, one bulk insert of events, and the assignees'
notifications (their preferences, one insert).

Who may take a case, in order:

* team: the agent works in the team that owns the case (cases.visibility.reaches: the case's
  transfer team, else its channel's; a case of neither is every team's);
* language: an agent who lists languages (AgentProfile.languages) takes cases in those
  languages or of no known language; an agent who lists none takes any;
* cap and presence: online (cases.presence), below DeskSettings.max_open_cases_per_agent;
* skill: when some of those agents have a skill among the case's labels, only they do.

Among them the least recently assigned goes first. "Least recently assigned" is remembered
in the cache (when each agent last got a case from this function). If the cache is lost the
order falls back to the fewest open cases, then the user id: fair enough, and nothing in the
database has to be scanned to find it.
"""

import time
from dataclasses import dataclass

from django.contrib.postgres.aggregates import ArrayAgg
from django.contrib.postgres.expressions import ArraySubquery
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, OuterRef, Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from cases import presence
from cases.models import (
    OPEN_STATUSES,
    AgentProfile,
    Case,
    CaseEvent,
    CaseStatus,
    DeskSettings,
    Label,
    Triage,
)
from cases.visibility import reaches, team_reach
from notifications.actions import Notice, default_title, do_notify_all
from notifications.models import Kind as NotificationKind
from socialdesk import roles

LAST_ASSIGNED_TTL = 7 * 24 * 3600
# Candidates read per free slot: some top cases may fit none of the agents online (a team or
# a language nobody online covers); reading a few more keeps them from starving the rest.
CANDIDATES_PER_SLOT = 3


def _last_key(user_id: int) -> str:
    return f"assignment:last:{user_id}"


def language_code(language: str) -> str:
    """The primary subtag, lower case: "en-GB" and "EN" are both "en"."""
    return language.split("-")[0].strip().lower()


@dataclass
class _Agent:
    user: object
    teams: frozenset[int] | None  # None: every team
    languages: frozenset[str]  # empty: any language
    skills: frozenset[int]
    open_cases: int
    last: float

    def takes(self, owner: int | None, language: str) -> bool:
        if not reaches(self.teams, owner):
            return False
        return not (self.languages and language) or language in self.languages


def auto_assign() -> int:
    """Assign unassigned new engage/escalate cases, highest priority first; return how many.

    Only when DeskSettings.auto_assign is on; only to the inbox workers (roles.inbox_workers)
    in the agent role who are online (cases.presence) and may take the case (the module's
    docstring: team, language, skill); never above DeskSettings.max_open_cases_per_agent open
    cases per agent. Each assignment writes an ASSIGNED CaseEvent with no actor
    ("auto-assigned") and notifies the assignee.
    """
    desk = DeskSettings.load()
    cap = desk.max_open_cases_per_agent
    if not desk.auto_assign or cap == 0:
        return 0
    users = list(
        roles.inbox_workers()
        .filter(groups__name=roles.AGENT)
        .only("id", "username", "first_name", "last_name")
    )
    online_ids = presence.online_user_ids([user.pk for user in users])
    users = [user for user in users if user.pk in online_ids]
    if not users:
        return 0
    reach = team_reach(user.pk for user in users)
    profiles = {
        user_id: (languages, skills)
        for user_id, languages, skills in AgentProfile.objects.filter(user__in=users)
        .annotate(skill_ids=ArrayAgg("skills", filter=Q(skills__isnull=False), default=[]))
        .values_list("user_id", "languages", "skill_ids")
    }

    with transaction.atomic():
        open_counts = dict(
            Case.objects.filter(assignee__in=users, status__in=OPEN_STATUSES)
            .values("assignee")
            .annotate(n=Count("id"))
            .values_list("assignee", "n")
        )
        last = cache.get_many([_last_key(user.pk) for user in users])
        agents = []
        for user in users:
            languages, skills = profiles.get(user.pk, ([], []))
            agents.append(
                _Agent(
                    user=user,
                    teams=reach[user.pk],
                    languages=frozenset(language_code(code) for code in languages),
                    skills=frozenset(skills),
                    open_cases=open_counts.get(user.pk, 0),
                    last=last.get(_last_key(user.pk), 0.0),
                )
            )
        agents = [agent for agent in agents if agent.open_cases < cap]
        capacity = sum(cap - agent.open_cases for agent in agents)
        if capacity <= 0:
            return 0
        candidates = list(
            _candidates(agents)
            .select_for_update(skip_locked=True, of=("self",))
            .only("id", "assignee", "updated_at", "language", "subject")[
                : capacity * CANDIDATES_PER_SLOT
            ]
        )
        now = timezone.now()
        tick = time.time()
        assigned: list[Case] = []
        events: list[CaseEvent] = []
        stamps: dict[str, float] = {}
        for case in candidates:
            agent = _pick(agents, case, cap)
            if agent is None:
                continue
            case.assignee = agent.user
            case.updated_at = now
            assigned.append(case)
            events.append(
                CaseEvent(
                    case=case,
                    kind=CaseEvent.Kind.ASSIGNED,
                    actor=None,
                    data={
                        "assignee": presence.display_name(agent.user),
                        "assignee_id": agent.user.pk,
                        "previous": "",
                        "auto": True,
                    },
                    created_at=now,
                )
            )
            tick += 0.001  # strictly increasing, so the order survives within one run
            stamps[_last_key(agent.user.pk)] = agent.last = tick
            agent.open_cases += 1
            if len(assigned) == capacity:
                break
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


def _candidates(agents: list[_Agent]):  # noqa: ANN202 (a CaseQuerySet)
    """New unassigned engage/escalate cases, highest priority first, that at least one of
    `agents` may take by team and language; each with its owning team and label ids."""
    cases = (
        Case.objects.filter(
            status=CaseStatus.NEW,
            assignee__isnull=True,
            triage_suggestion__in=[Triage.ENGAGE, Triage.ESCALATE],
        )
        .exclude(triage_decision=Triage.IGNORE)
        .annotate(
            owner=Coalesce("team_id", "channel__team_id"),
            label_ids=ArraySubquery(
                Label.cases.through.objects.filter(case_id=OuterRef("pk")).values("label_id")
            ),
        )
        .order_by("-priority", "last_inbound_at", "id")
    )
    if all(agent.teams is not None for agent in agents):
        teams = set().union(*(agent.teams for agent in agents))
        cases = cases.filter(Q(owner__isnull=True) | Q(owner__in=teams))
    return cases


def _pick(agents: list[_Agent], case: Case, cap: int) -> _Agent | None:
    """The agent who gets `case`: the least recently assigned of those who may take it, the
    skilled ones first (see the module docstring); None when nobody may."""
    language = language_code(case.language)
    able = [
        agent for agent in agents if agent.open_cases < cap and agent.takes(case.owner, language)
    ]
    labels = set(case.label_ids)
    skilled = [agent for agent in able if agent.skills & labels]
    pool = skilled or able
    if not pool:
        return None
    return min(pool, key=lambda agent: (agent.last, agent.open_cases, agent.user.pk))
