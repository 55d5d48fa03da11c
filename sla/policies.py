"""Which policy applies to a case, and in whose business hours its clocks run.

`load_rules()` answers every enabled policy and every team's hours; `Rules.policy_for` and
`Rules.schedule_for` are then pure. Intake dates the cases of every page it stores, so the
rules are kept per process and read again only when their tables changed: one query asks
for a digest of the tables' contents (they are small), and the five queries that build the
rules run only when it differs from the digest they were built at. A digest of the rows
themselves, not a version someone must remember to bump, so an edit in the admin, the
shell, a migration or a rolled-back test transaction is seen alike.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, time
from zoneinfo import ZoneInfo

from django.db import connection

from cases.models import DeskSettings
from sla.businesstime import Schedule
from sla.models import BusinessHours, CustomerFlag, Holiday, OpeningTime, Policy


@dataclass(frozen=True)
class CaseFacts:
    """What the conditions of a policy look at."""

    network: str
    channel_id: int
    priority: int
    label_ids: frozenset[int]
    is_vip: bool
    is_press: bool
    # The team the channel belongs to, where channels have teams.
    channel_team_id: int | None = None


def matches(policy: Policy, facts: CaseFacts) -> bool:
    """Whether every condition `policy` sets holds for the case."""
    if policy.network and policy.network != facts.network:
        return False
    if policy.channel_id and policy.channel_id != facts.channel_id:
        return False
    if policy.priority_min is not None and facts.priority < policy.priority_min:
        return False
    if policy.priority_max is not None and facts.priority > policy.priority_max:
        return False
    if policy.label_id and policy.label_id not in facts.label_ids:
        return False
    if policy.customer_flag == CustomerFlag.VIP and not facts.is_vip:
        return False
    return not (policy.customer_flag == CustomerFlag.PRESS and not facts.is_press)


DEFAULT_NAME = "Desk default"


def default_policy(first_response_minutes: int) -> Policy:
    """The policy of every case no other policy picks: the desk settings' first-response
    target, around the clock (what the desk did before policies). Never saved: its one home is
    DeskSettings.first_response_sla_minutes."""
    return Policy(name=DEFAULT_NAME, first_response_minutes=first_response_minutes)


@dataclass(frozen=True)
class Rules:
    policies: list[Policy] = field(default_factory=list)  # enabled, in matching order
    schedules: dict[int, Schedule] = field(default_factory=dict)  # by team id
    default: Policy = field(default_factory=lambda: default_policy(60))

    def policy_for(self, facts: CaseFacts) -> Policy:
        """The first enabled policy, in position order, whose conditions all hold; else the
        desk's default."""
        return next((p for p in self.policies if matches(p, facts)), self.default)

    @property
    def reads_priority(self) -> bool:
        """Whether a case's priority can choose its policy."""
        return any(p.priority_min is not None or p.priority_max is not None for p in self.policies)

    def policy_by_id(self, policy_id: int | None) -> Policy:
        """The enabled policy with this id; the desk default for None or a policy disabled or
        deleted since (a case keeps the id its clocks were dated with)."""
        return next((p for p in self.policies if p.pk == policy_id), self.default)

    def schedule_for(self, policy: Policy, facts: CaseFacts) -> Schedule | None:
        return self.schedule_in(policy, facts.channel_team_id)

    def schedule_in(self, policy: Policy, channel_team_id: int | None) -> Schedule | None:
        """The hours of the policy's team, else of the channel's team; None: the clocks run
        around the clock."""
        team_id = policy.hours_team_id or channel_team_id
        return self.schedules.get(team_id) if team_id is not None else None


def build_schedule(
    time_zone: str, openings: list[tuple[int, time, time]], holidays: list[date]
) -> Schedule:
    week: dict[int, list[tuple[time, time]]] = defaultdict(list)
    for weekday, opens, closes in openings:
        week[weekday].append((opens, closes))
    return Schedule(
        tz=ZoneInfo(time_zone),
        week={day: tuple(intervals) for day, intervals in week.items()},
        holidays=frozenset(holidays),
    )


def _digest_sql() -> str:
    each_row = "SELECT string_agg(t::text, ',' ORDER BY t.id) FROM {} t"
    rows = [
        f"coalesce(({each_row.format(model._meta.db_table)}), '')"
        for model in (Policy, BusinessHours, OpeningTime, Holiday)
    ]
    target = DeskSettings._meta.get_field("first_response_sla_minutes").column
    rows.append(
        f"coalesce((SELECT {target}::text FROM {DeskSettings._meta.db_table} WHERE id = 1), '')"
    )
    return f"SELECT md5(concat_ws('|', {', '.join(rows)}))"


_DIGEST_SQL = _digest_sql()
_loaded: tuple[str, "Rules"] | None = None  # (digest, rules) of this process


def load_rules() -> Rules:
    """The rules as they stand: one query while the tables are unchanged, six when they
    changed since this process last read them (see the module)."""
    global _loaded
    with connection.cursor() as cursor:
        cursor.execute(_DIGEST_SQL)
        (digest,) = cursor.fetchone()
    if _loaded is not None and _loaded[0] == digest:
        return _loaded[1]
    rules = _read_rules()
    _loaded = (digest, rules)
    return rules


def _read_rules() -> Rules:
    """Enabled policies, every team's business hours and the desk default: five queries."""
    policies = list(Policy.objects.filter(enabled=True).order_by("position", "id"))
    hours = list(BusinessHours.objects.all())
    openings: dict[int, list[tuple[int, time, time]]] = defaultdict(list)
    for row in OpeningTime.objects.values_list("hours_id", "weekday", "opens", "closes"):
        openings[row[0]].append(row[1:])
    holidays: dict[int, list[date]] = defaultdict(list)
    for hours_id, day in Holiday.objects.values_list("hours_id", "date"):
        holidays[hours_id].append(day)
    schedules = {
        h.team_id: build_schedule(h.time_zone, openings[h.pk], holidays[h.pk]) for h in hours
    }
    # Read, not DeskSettings.load(): a read-only path never creates the row.
    target = DeskSettings._meta.get_field("first_response_sla_minutes")
    minutes = DeskSettings.objects.filter(pk=1).values_list(target.name, flat=True).first()
    default = default_policy(target.default if minutes is None else minutes)
    return Rules(policies, schedules, default)
