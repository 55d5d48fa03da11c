"""The case's service-level clocks, kept on the case row, and their warning/breach beat.

A case's policy (sla/policies.py) gives up to three targets in business minutes:

* first response: from the case's opening to the first reply sent;
* next response: from the first customer post after a reply (`Case.awaiting_since`, set by
  intake and cleared by the sender) to the next reply sent;
* resolution: from the opening to resolved (or closed).

`refresh_case_sla(s)` recomputes the due times whenever something they depend on changes
(intake, a reply sent, status, labels, a customer's flags, the policies), so the inbox sorts
and filters on `sla_due_at` by index and never computes business time per row:

* `first_response_due_at`, `resolution_due_at`: fixed by the opening (and kept after the
  clock stops, for the dashboard's met share);
* `response_due_at`: the running first- or next-response clock, None when nobody waits;
* `sla_due_at` / `sla_warn_at`: the soonest breach and warning point among the running clocks
  of an open case; None when no clock runs.

`sla_state` is "" (no clock runs), "ok", "warning" or "breached". The beat
(`advance_sla_states`) moves it forward with conditional UPDATEs, so each crossing is reported
exactly once however many beats run at once; a refresh that changes the due times starts a
new clock ("ok"), one that leaves them alone keeps the state.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext

from cases.models import OPEN_STATUSES, Case, CaseStatus, Customer
from listening.models import Channel
from sla.businesstime import NoOpeningHours, add_business_seconds
from sla.models import Policy
from sla.policies import CaseFacts, Rules, load_rules
from socialdesk.durations import format_duration
from socialdesk.pgjson import page_json

log = logging.getLogger(__name__)

SLA_FIELDS = [
    "sla_policy",
    "first_response_due_at",
    "response_due_at",
    "resolution_due_at",
    "sla_warn_at",
    "sla_due_at",
    "sla_state",
]


@dataclass(frozen=True)
class Due:
    policy_id: int | None = None
    first_response_due_at: datetime | None = None
    response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    warn_at: datetime | None = None
    due_at: datetime | None = None


def facts_of(case: Case, label_ids: frozenset[int]) -> CaseFacts:
    """The case as the policies' conditions see it (reads case.channel and case.customer)."""
    return CaseFacts(
        network=case.channel.network,
        channel_id=case.channel_id,
        priority=case.priority,
        label_ids=label_ids,
        is_vip=case.customer.is_vip,
        is_press=case.customer.is_press,
        channel_team_id=case.channel.team_id,
    )


def compute_due(case: "Case | _CaseRow", policy: Policy, rules: Rules, facts: CaseFacts) -> Due:
    """The due times `policy` gives `case` (the desk default has no id: policy_id None)."""
    schedule = rules.schedule_for(policy, facts)

    def after(start: datetime, minutes: int, share: float = 1.0) -> datetime:
        return add_business_seconds(schedule, start, minutes * 60 * share)

    try:
        first_due = after(case.opened_at, policy.first_response_minutes)
        resolution_due = (
            after(case.opened_at, policy.resolution_minutes) if policy.resolution_minutes else None
        )
        running: list[tuple[datetime, datetime]] = []  # (warn, due)
        response_due = None
        if case.status in OPEN_STATUSES:
            if case.first_response_at is None:
                start, minutes = case.opened_at, policy.first_response_minutes
            else:
                start, minutes = case.awaiting_since, policy.next_response_minutes
            if start is not None and minutes:
                response_due = after(start, minutes)
                running.append((after(start, minutes, policy.warn_percent / 100), response_due))
            if resolution_due is not None:
                warn = after(case.opened_at, policy.resolution_minutes, policy.warn_percent / 100)
                running.append((warn, resolution_due))
    except NoOpeningHours:
        # Hours saved without any opening time (the admin refuses them): no clock can run.
        log.warning("SLA hours never open", extra={"case_id": case.pk, "policy_id": policy.pk})
        return Due(policy.pk)
    return Due(
        policy.pk,
        first_due,
        response_due,
        resolution_due,
        min((warn for warn, _ in running), default=None),
        min((due for _, due in running), default=None),
    )


def _apply(case: "Case | _CaseRow", due: Due) -> bool:
    """Put `due` on the case; True when anything changed."""
    new = {
        "sla_policy_id": due.policy_id,
        "first_response_due_at": due.first_response_due_at,
        "response_due_at": due.response_due_at,
        "resolution_due_at": due.resolution_due_at,
    }
    clock_moved = (case.sla_due_at, case.sla_warn_at) != (due.due_at, due.warn_at)
    if clock_moved or not case.sla_state and due.due_at:
        new |= {
            "sla_due_at": due.due_at,
            "sla_warn_at": due.warn_at,
            "sla_state": "ok" if due.due_at else "",
        }
    changed = False
    for name, value in new.items():
        if getattr(case, name) != value:
            setattr(case, name, value)
            changed = True
    return changed


def refresh_case_sla(case: Case, rules: Rules | None = None) -> None:
    """Recompute and save one case's SLA columns (the in-memory case is updated too).

    Reads the case's labels, channel and customer; saves only when something changed.
    """
    rules = rules or load_rules()
    labels = frozenset(case.labels.values_list("id", flat=True))
    facts = facts_of(case, labels)
    if _apply(case, compute_due(case, rules.policy_for(facts), rules, facts)):
        case.save(update_fields=SLA_FIELDS)


@dataclass(slots=True)
class _CaseRow:
    """A case as `_READ_SQL` answers it: what dating reads, and the columns it may change (the
    names of Case's, so compute_due and _apply take either)."""

    pk: int
    status: str
    priority: int
    opened_at: datetime
    first_response_at: datetime | None
    awaiting_since: datetime | None
    sla_policy_id: int | None
    first_response_due_at: datetime | None
    response_due_at: datetime | None
    resolution_due_at: datetime | None
    sla_warn_at: datetime | None
    sla_due_at: datetime | None
    sla_state: str
    channel_id: int
    network: str
    channel_team_id: int | None
    is_vip: bool
    is_press: bool
    label_ids: list[int]

    def facts(self) -> CaseFacts:
        return CaseFacts(
            network=self.network,
            channel_id=self.channel_id,
            priority=self.priority,
            label_ids=frozenset(self.label_ids),
            is_vip=self.is_vip,
            is_press=self.is_press,
            channel_team_id=self.channel_team_id,
        )


def _read_sql() -> str:
    """One statement for a batch of cases with their channel, customer flags and labels, read
    as plain rows: building Case, Channel and Customer objects for each cost more than the
    dating itself, on the intake's path."""
    case, channel, customer = (m._meta.db_table for m in (Case, Channel, Customer))
    labels = Case.labels.through._meta.db_table
    columns = [
        "id", "status", "priority", "opened_at", "first_response_at", "awaiting_since",
        *_COLUMNS,
    ]  # fmt: skip
    return f"""
        SELECT {", ".join(f"c.{name}" for name in columns)}, c.channel_id, ch.network,
               ch.team_id, cu.is_vip, cu.is_press,
               ARRAY(SELECT l.label_id FROM {labels} l WHERE l.case_id = c.id)
        FROM {case} c
        JOIN {channel} ch ON ch.id = c.channel_id
        JOIN {customer} cu ON cu.id = c.customer_id
        WHERE c.id = ANY(%s)
    """


REFRESH_BATCH = 500


def refresh_case_slas(case_ids: list[int], rules: Rules | None = None) -> int:
    """Recompute the SLA columns of these cases, in batches; how many rows changed."""
    rules = rules or load_rules()
    changed = 0
    ids = sorted(set(case_ids))
    for start in range(0, len(ids), REFRESH_BATCH):
        with connection.cursor() as cursor:
            cursor.execute(_READ_SQL, [ids[start : start + REFRESH_BATCH]])
            cases = [_CaseRow(*row) for row in cursor.fetchall()]
        dirty = []
        for case in cases:
            facts = case.facts()
            if _apply(case, compute_due(case, rules.policy_for(facts), rules, facts)):
                dirty.append(case)
        _write(dirty)
        changed += len(dirty)
    return changed


@dataclass(frozen=True)
class Opening:
    """A case intake is about to open: it is new, nobody has answered, the customer waits
    since it opened, and it has no labels yet."""

    customer_id: int
    opened_at: datetime
    priority: int


def opening_clocks(
    channel: Channel, openings: list[Opening], rules: Rules
) -> list[dict[str, object]]:
    """The SLA columns of each case in `openings`, as `refresh_case_slas` would write them once
    it is stored: intake inserts new cases with their clocks rather than update every new row
    at once (an UPDATE of the clock columns rewrites each of the case table's indexes).

    Reads the customers' VIP and press flags (one query) only when a policy asks for them.
    """
    flags: dict[int, tuple[bool, bool]] = {}
    if any(policy.customer_flag for policy in rules.policies):
        flags = {
            pk: (is_vip, is_press)
            for pk, is_vip, is_press in Customer.objects.filter(
                pk__in={opening.customer_id for opening in openings}
            ).values_list("pk", "is_vip", "is_press")
        }
    out = []
    for opening in openings:
        is_vip, is_press = flags.get(opening.customer_id, (False, False))
        case = _CaseRow(
            0, CaseStatus.NEW, opening.priority, opening.opened_at, None, opening.opened_at,
            None, None, None, None, None, None, "",
            channel.pk, channel.network, channel.team_id, is_vip, is_press, [],
        )  # fmt: skip
        facts = case.facts()
        _apply(case, compute_due(case, rules.policy_for(facts), rules, facts))
        out.append({column: getattr(case, column) for column in _COLUMNS})
    return out


# One UPDATE for a batch: Django's bulk_update builds a CASE per column and row, which costs
# more than computing the due times themselves.
_WRITE_SQL = """
UPDATE cases_case c SET sla_policy_id = v.sla_policy_id,
    first_response_due_at = v.first_response_due_at, response_due_at = v.response_due_at,
    resolution_due_at = v.resolution_due_at, sla_warn_at = v.sla_warn_at,
    sla_due_at = v.sla_due_at, sla_state = v.sla_state
FROM json_to_recordset(%s::json) AS v (id bigint, sla_policy_id bigint,
    first_response_due_at timestamptz, response_due_at timestamptz,
    resolution_due_at timestamptz, sla_warn_at timestamptz, sla_due_at timestamptz,
    sla_state varchar)
WHERE c.id = v.id
"""


def _write(cases: list[_CaseRow]) -> None:
    if not cases:
        return
    rows = [
        {"id": case.pk, **{column: getattr(case, column) for column in _COLUMNS}} for case in cases
    ]
    with connection.cursor() as cursor:
        cursor.execute(_WRITE_SQL, [page_json(rows)])


_COLUMNS = ["sla_policy_id", *SLA_FIELDS[1:]]
_READ_SQL = _read_sql()


def refresh_open_case_slas() -> int:
    """Every open case again (after the policies or business hours changed)."""
    ids = list(Case.objects.filter(status__in=OPEN_STATUSES).values_list("pk", flat=True))
    return refresh_case_slas(ids)


@dataclass(frozen=True)
class ResponseTarget:
    """What a reply to a customer's post was due by under the case's policy."""

    minutes: int
    business_hours: bool  # counted in a team's business hours (else around the clock)
    due_at: datetime  # the target reached
    twice_at: datetime  # twice the target reached


def response_target(
    case: Case, posted_at: datetime, *, first: bool, rules: Rules | None = None
) -> ResponseTarget | None:
    """The target for answering a post made at `posted_at`: the policy the case's clocks were
    dated with (sla_policy), its first-response target for the case's first reply and its
    next-response target after, in the business hours its clocks run in. None when the
    policy sets no such target or its hours never open. Reads case.channel (its team)."""
    rules = rules or load_rules()
    policy = rules.policy_by_id(case.sla_policy_id)
    minutes = policy.first_response_minutes if first else policy.next_response_minutes
    if not minutes:
        return None
    schedule = rules.schedule_in(policy, case.channel.team_id)
    try:
        due = add_business_seconds(schedule, posted_at, minutes * 60)
        twice = add_business_seconds(schedule, posted_at, minutes * 120)
    except NoOpeningHours:
        return None
    return ResponseTarget(minutes, schedule is not None, due, twice)


# ---------- the beat: warnings and breaches, each reported once ----------

_ADVANCE_SQL = """
UPDATE cases_case SET sla_state = %(to)s, updated_at = GREATEST(updated_at, %(now)s)
WHERE status IN %(open)s AND {condition}
RETURNING id
"""


def advance_sla_states(now: datetime | None = None) -> dict[str, list[int]]:
    """Move the cases whose clocks crossed a point since the last run: {"warning": [ids],
    "breached": [ids]}, each case id in the answer exactly once per crossing.

    The UPDATEs are conditional on the state they start from, so two runs at once split the
    cases between them and neither reports a case the other did. A case that crossed both
    points since the last run is reported as breached only. The rows' updated_at moves on, so
    open inboxes show the new state at their next poll. Callers (notifications) act on the
    ids after this commits.
    """
    now = now or timezone.now()
    params = {"open": tuple(OPEN_STATUSES), "now": now}
    out = {}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _ADVANCE_SQL.format(
                condition="sla_state IN ('ok', 'warning') AND sla_due_at <= %(now)s"
            ),
            {**params, "to": "breached"},
        )
        out["breached"] = sorted(row[0] for row in cursor.fetchall())
        cursor.execute(
            _ADVANCE_SQL.format(condition="sla_state = 'ok' AND sla_warn_at <= %(now)s"),
            {**params, "to": "warning"},
        )
        out["warning"] = sorted(row[0] for row in cursor.fetchall())
        notify_crossings(out, now)
    return out


def notify_crossings(crossed: dict[str, list[int]], now: datetime) -> None:
    """Tell the people on each case that crossed a point, in the transaction that moved it:
    its assignee and the assignee's team supervisors, or the supervisors when nobody has it.
    Once per crossing: the key names the case, the point and the due time it was for."""
    from notifications.actions import (
        Notice,
        default_title,
        default_url,
        do_notify_all,
        team_supervisors,
    )
    from notifications.models import Kind
    from socialdesk import roles

    kinds = {"warning": Kind.SLA_WARNING, "breached": Kind.SLA_BREACHED}
    ids = [pk for state in kinds for pk in crossed.get(state, [])]
    if not ids:
        return
    cases = Case.objects.filter(pk__in=ids).only("pk", "assignee_id", "sla_due_at", "subject")
    cases = {case.pk: case for case in cases}
    leads = set(
        roles.holders_of("cases.approve_reply", superusers=False).values_list("pk", flat=True)
    )
    watchers: dict[int, set[int]] = {}  # assignee → them and their supervisors, asked once

    def people_on(case: Case) -> set[int]:
        if not case.assignee_id:
            return leads
        if case.assignee_id not in watchers:
            supervisors = team_supervisors(case.assignee_id, "cases.approve_reply")
            watchers[case.assignee_id] = {case.assignee_id} | set(
                supervisors.values_list("pk", flat=True)
            )
        return watchers[case.assignee_id]

    notices = []
    for state, kind in kinds.items():
        for pk in crossed.get(state, []):
            case = cases.get(pk)
            if case is None:
                continue
            recipients = people_on(case)
            due = case.sla_due_at.isoformat() if case.sla_due_at else ""
            notices += [
                Notice(
                    recipient_id=recipient,
                    kind=kind,
                    dedupe_key=f"sla:{pk}:{state}:{due}",
                    title=default_title(kind, case=case, review=None, actor=None, data={}),
                    url=default_url(kind, case=case, review=None),
                    case_id=pk,
                )
                for recipient in sorted(recipients)
            ]
    do_notify_all(notices, now=now)


def state_at(case: Case, now: datetime) -> str:
    """The state the clocks are in at `now` ("", "ok", "warning", "breached"), from the row:
    the page does not wait for the beat."""
    if case.sla_due_at is None or case.status not in OPEN_STATUSES:
        return ""
    if case.sla_due_at <= now:
        return "breached"
    if case.sla_warn_at is not None and case.sla_warn_at <= now:
        return "warning"
    return "ok"


def breaching_q(now: datetime, which: str) -> Q:
    """Cases whose clock is past its warning point ("soon": warning or breached) or past its
    due time ("breached"), from the row's columns (index case_sla_due)."""
    if which == "breached":
        return Q(sla_due_at__lte=now)
    return Q(sla_warn_at__lte=now, sla_due_at__isnull=False)


def running_clock_name(case: Case) -> str:
    """Which clock `sla_due_at` belongs to, from the row alone, in the reader's language."""
    if case.response_due_at is not None and case.response_due_at == case.sla_due_at:
        if case.first_response_at is None:
            return gettext("First response")
        return gettext("Next response")
    return gettext("Resolution")


@dataclass(frozen=True)
class RowClock:
    """The inbox's view of a case's running SLA clock."""

    state: str  # "ok" | "warning" | "breached"
    text: str
    title: str


def row_clock(case: Case, now: datetime) -> RowClock | None:
    """The soonest running clock of an inbox row, in words; None when no clock runs."""
    state = state_at(case, now)
    if not state:
        return None
    name = running_clock_name(case)
    due = date_format(timezone.localtime(case.sla_due_at), "D d M, H:i")
    if state == "breached":
        late = format_duration(now - case.sla_due_at)
        return RowClock(
            state,
            gettext("SLA overdue"),
            gettext("%(clock)s overdue by %(time)s (due %(due)s)")
            % {"clock": name, "time": late, "due": due},
        )
    left = format_duration(case.sla_due_at - now)
    return RowClock(
        state,
        gettext("SLA %(time)s left") % {"time": left},
        gettext("%(clock)s due %(due)s") % {"clock": name, "due": due},
    )
