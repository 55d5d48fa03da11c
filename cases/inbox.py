"""The inbox's query logic: filters from the query string, the page of cases, counts, fingerprint.

The view (cases/views/inbox.py) stays parse → access → act → render; everything that decides
*which* cases, in *which* order and *how many* lives here, as plain functions tests call.

Costs, designed for a desk with 1,000,000 cases (see cases/migrations/0005 for the indexes):

* A page is one ordered index scan that stops after 51 rows (partial indexes on the open
  statuses for the default view), with per-row subqueries for the customer's identity, the
  latest mention and the labels: the same number of queries for 5 rows or 50.
* Keyset pagination: the token is the sort key of the last row shown, so page 200 costs what
  page 1 costs (no OFFSET).
* The live-update fingerprint is `max(updated_at)` and `max(id)` over *all* cases: two index
  edge lookups, well under a millisecond at any size. Counting the filtered set instead would
  cost a scan of the open cases on every poll of every tab. The price of the global choice is
  that any change anywhere re-renders the page once (an index-driven page, a few ms); a poll
  when nothing changed at all answers 204 after this one query.
* Saved-view counts are one aggregate with a conditional `Count(filter=Q)` per view over the
  open cases (about 10% of all). Views that search text or include resolved/closed cases are
  not counted (their count would need a scan); they show no number.
"""

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.models import User
from django.contrib.postgres.expressions import ArraySubquery
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    BooleanField,
    CharField,
    Count,
    Exists,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Transform,
    Value,
    When,
)
from django.db.models import Case as SqlCase
from django.db.models.expressions import RawSQL
from django.db.models.functions import JSONObject
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from cases.models import (
    OPEN_STATUSES,
    Case,
    CaseStatus,
    Identity,
    Label,
    MentionMedia,
    SavedView,
    Triage,
)
from cases.sla import breaching_q
from cases.visibility import visible_channels
from listening.models import Mention, Network
from socialdesk import roles
from socialdesk.models import Team

PAGE_SIZE = 50
SEARCH_MAX_LENGTH = 100

STATUS_CHOICES = [
    ("inbox", _("Inbox (all open)")),
    ("new", _("New")),
    ("open", _("Open")),
    ("pending", _("Pending")),
    ("snoozed", _("Snoozed")),
    ("resolved", _("Resolved")),
    ("closed", _("Closed")),
    ("all", _("All statuses")),
]
# Filters whose cases are all in the open statuses: the only ones counted in the sidebar.
COUNTABLE_STATUSES = {"inbox", "new", "open", "pending", "snoozed"}
PRIORITY_CHOICES = [
    ("high", _("High (70+)")),
    ("medium", _("Medium (40–69)")),
    ("low", _("Low (<40)")),
]
TRIAGE_CHOICES = list(Triage.choices)
DECISION_CHOICES = [*Triage.choices, ("none", _("Not decided"))]
SORT_CHOICES = [
    ("priority", _("Priority, then longest waiting")),
    ("waiting", _("Longest waiting")),
    ("due", _("SLA due soonest")),
]
SLA_CHOICES = [("soon", _("Due soon or overdue")), ("breached", _("Overdue"))]
LANGUAGE_CHOICES = [
    ("en", _("English")),
    ("es", _("Spanish")),
    ("fr", _("French")),
    ("de", _("German")),
    ("pt", _("Portuguese")),
    ("it", _("Italian")),
    ("nl", _("Dutch")),
    ("ja", _("Japanese")),
    ("und", _("Unknown")),
]
NETWORK_CHOICES = list(Network.choices)


@dataclass(frozen=True)
class InboxFilters:
    """The inbox state, as in the query string. Empty string = no filter on that field."""

    status: str = "inbox"
    channel: str = ""  # a channel id
    network: str = ""
    assignee: str = ""  # "mine", "unassigned" or a user id
    priority: str = ""  # "high", "medium", "low"
    suggestion: str = ""
    decision: str = ""  # a Triage value or "none"
    language: str = ""
    label: str = ""  # a label id
    sla: str = ""  # "soon" (past the warning point) or "breached"
    q: str = ""
    sort: str = "priority"

    # The query-string keys, in the order the form shows them.
    KEYS = (
        "q",
        "status",
        "assignee",
        "priority",
        "network",
        "channel",
        "suggestion",
        "decision",
        "language",
        "label",
        "sla",
        "sort",
    )

    @property
    def is_default(self) -> bool:
        """True when no filter narrows the default inbox (the sort does not count)."""
        return replace(self, sort="priority") == InboxFilters()

    @property
    def is_countable(self) -> bool:
        """Whether a sidebar count for this view stays cheap (open cases, no text search)."""
        return self.status in COUNTABLE_STATUSES and not self.q

    def to_query(self, **overrides: str) -> str:
        """The query string for these filters (defaults left out), e.g. 'status=snoozed'."""
        values = {**{name: getattr(self, name) for name in self.KEYS}, **overrides}
        defaults = InboxFilters()
        return urlencode(
            [(k, v) for k, v in values.items() if v and v != getattr(defaults, k, None)]
        )


@dataclass(frozen=True)
class Choices:
    """What the filter form and the bulk bar offer: read in one query (`load_choices`)."""

    channels: list[tuple[int, str, str]] = field(default_factory=list)  # id, name, network
    agents: list[tuple[int, str]] = field(default_factory=list)  # id, display name
    labels: list[tuple[int, str, str]] = field(default_factory=list)  # id, name, color
    views: list[SavedView] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)  # the user's teams (socialdesk.Team.of)


def _is_int(raw: str, digits: int = 11) -> bool:
    return raw.isascii() and raw.isdigit() and len(raw) <= digits


def parse_filters(params: Mapping[str, str] | QueryDict) -> tuple[InboxFilters, list[str]]:
    """Filters from a query string; values that make no sense are dropped and named.

    Returns (filters, problems): a stale saved view (a deleted label, say) still opens,
    with a note saying which part was ignored.
    """
    valid = {
        "status": {value for value, _label in STATUS_CHOICES},
        "network": {value for value, _label in NETWORK_CHOICES},
        "priority": {value for value, _label in PRIORITY_CHOICES},
        "suggestion": {value for value, _label in TRIAGE_CHOICES},
        "decision": {value for value, _label in DECISION_CHOICES},
        "sort": {value for value, _label in SORT_CHOICES},
        "sla": {value for value, _label in SLA_CHOICES},
    }
    values: dict[str, str] = {}
    problems: list[str] = []
    for name in InboxFilters.KEYS:
        raw = (params.get(name) or "").strip()
        if not raw:
            continue
        if name == "q":
            values[name] = raw[:SEARCH_MAX_LENGTH]
        elif name in valid:
            if raw in valid[name]:
                values[name] = raw
            else:
                problems.append(f"Unknown {name} {raw[:40]!r}: ignored.")
        elif name in ("channel", "label"):
            if _is_int(raw):
                values[name] = raw
            else:
                problems.append(f"Unknown {name} {raw[:40]!r}: ignored.")
        elif name == "assignee":
            if raw in ("mine", "unassigned") or _is_int(raw):
                values[name] = raw
            else:
                problems.append(f"Unknown assignee {raw[:40]!r}: ignored.")
        elif name == "language":
            values[name] = raw[:16]
    return InboxFilters(**values), problems


def status_q(status: str, now: datetime) -> Q:
    """The status part of a filter. Snoozed = pending with a wake-up time still ahead."""
    snoozed = Q(status=CaseStatus.PENDING, snoozed_until__gt=now)
    if status == "inbox":
        # Same IN list as the partial indexes' predicate, so the planner can use them.
        return Q(status__in=list(OPEN_STATUSES)) & ~Q(snoozed_until__gt=now)
    if status == "snoozed":
        return snoozed
    if status == "all":
        return Q()
    return Q(status=status)


SEARCH_CANDIDATES = 1000  # above this many matching rows a term counts as common


@CharField.register_lookup
@TextField.register_lookup
class Fold(Transform):
    """`desk_fold(text)`: accents and case folded (see cases/migrations/0010_folded_search)."""

    lookup_name = "fold"
    function = "desk_fold"
    output_field = TextField()


def folded_contains(column: str, term: str) -> Q:
    """`column` contains `term`, both folded in SQL; a constant term folds at plan time, so the
    trigram index on desk_fold(column) serves it."""
    return Q(**{f"{column}__fold__contains": Fold(Value(term))})


def search_q(term: str) -> Q:
    """Cases whose customer handle/name or any (not deleted) mention contains `term`.

    Accents and case are folded on both sides ("weiss" finds "Weiß"), and a leading "@" names a
    handle: "@acme" finds the customer whose handle is acme, and the posts that write "@acme".

    The subject is the start of the first mention, so the mentions cover it: searching it
    again would cost a trigram index on a table rewritten by every case update, for nothing.
    A substring match served by the trigram GIN indexes on desk_fold(col). Two plans, chosen by
    one capped query:

    * a rare term (a handle, an order number): the matching case ids are listed from the
      trigram indexes (at most SEARCH_CANDIDATES per source) and the page filters on them;
    * a common term ("refund"): listing would fetch tens of thousands of rows, so the page
      walks its ordered index and checks each case's mentions with a correlated EXISTS (OFFSET
      0 keeps PostgreSQL from turning it into a hash of every matching mention); it stops as
      soon as the page is full.
    """
    name = term.removeprefix("@") or term
    people = Identity.objects.filter(
        folded_contains("handle", name) | folded_contains("name", name)
    )
    by_mention = Mention.objects.filter(folded_contains("text", term), deleted_at__isnull=True)
    by_person = Case.objects.filter(customer_id__in=people.values("customer_id"))
    candidates = list(
        by_mention.order_by()
        .values_list("case_id", flat=True)[:SEARCH_CANDIDATES]
        .union(by_person.order_by().values_list("id", flat=True)[:SEARCH_CANDIDATES], all=True)
        .order_by()
    )
    if len(candidates) < SEARCH_CANDIDATES:
        return Q(id__in=sorted(set(candidates)))
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    mention_exists = RawSQL(
        'EXISTS (SELECT 1 FROM listening_mention m WHERE m.case_id = "cases_case"."id"'
        " AND m.deleted_at IS NULL AND desk_fold(m.text) LIKE desk_fold(%s) OFFSET 0)",
        [f"%{escaped}%"],
        output_field=BooleanField(),
    )
    return Q(customer_id__in=people.values("customer_id")) | Q(mention_exists)


def filters_q(filters: InboxFilters, user: User, now: datetime) -> Q:
    """All the filters as one Q on Case (the text search included)."""
    q = status_q(filters.status, now)
    if filters.channel:
        q &= Q(channel_id=int(filters.channel))
    if filters.network:
        q &= Q(channel__network=filters.network)
    if filters.assignee == "mine":
        q &= Q(assignee_id=user.pk)
    elif filters.assignee == "unassigned":
        q &= Q(assignee__isnull=True)
    elif filters.assignee:
        q &= Q(assignee_id=int(filters.assignee))
    if filters.priority == "high":
        q &= Q(priority__gte=70)
    elif filters.priority == "medium":
        q &= Q(priority__gte=40, priority__lt=70)
    elif filters.priority == "low":
        q &= Q(priority__lt=40)
    if filters.suggestion:
        q &= Q(triage_suggestion=filters.suggestion)
    if filters.decision == "none":
        q &= Q(triage_decision="")
    elif filters.decision:
        q &= Q(triage_decision=filters.decision)
    if filters.language:
        q &= Q(language=filters.language)
    if filters.label:
        q &= Q(
            Exists(
                Case.labels.through.objects.filter(
                    case_id=OuterRef("pk"), label_id=int(filters.label)
                )
            )
        )
    if filters.sla:
        q &= breaching_q(now, filters.sla)
    if filters.sort == "due":
        # Only cases with a running clock have a due time to sort on (index case_sla_due).
        q &= Q(sla_due_at__isnull=False)
    if filters.q:
        q &= search_q(filters.q)
    return q


# ---------- keyset pagination ----------


def _micros(moment: datetime) -> int:
    return round(moment.timestamp() * 1_000_000)


def _from_micros(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


# Sorts on one column and the id, and their page-key prefixes.
_SINGLE_KEY_SORTS = {"waiting": "w", "due": "d"}


@dataclass(frozen=True)
class PageKey:
    """The sort key of the last row shown.

    Encoded as p<priority>.<µs>.<id> (priority sort), w<µs>.<id> (waiting sort) or d<µs>.<id>
    (SLA due sort). `moment` is the row's last_inbound_at, or its sla_due_at for the due sort.
    """

    sort: str
    moment: datetime
    case_id: int
    priority: int = 0

    def encode(self) -> str:
        micros = _micros(self.moment)
        if self.sort in _SINGLE_KEY_SORTS:
            return f"{_SINGLE_KEY_SORTS[self.sort]}{micros}.{self.case_id}"
        return f"p{self.priority}.{micros}.{self.case_id}"

    @classmethod
    def decode(cls, raw: str, sort: str) -> "PageKey":
        """Parse a token made by `encode` for this sort; ValueError on anything else."""
        prefix = _SINGLE_KEY_SORTS.get(sort, "p")
        parts = raw[1:].split(".") if raw[:1] == prefix else []
        wanted = 2 if sort in _SINGLE_KEY_SORTS else 3
        if len(parts) != wanted or not all(_is_int(part, 18) for part in parts):
            raise ValueError(f"not a page key: {raw[:40]!r}")
        numbers = [int(part) for part in parts]
        if sort in _SINGLE_KEY_SORTS:
            return cls(sort, _from_micros(numbers[0]), numbers[1])
        return cls(sort, _from_micros(numbers[1]), numbers[2], priority=numbers[0])

    @classmethod
    def after(cls, case: Case, sort: str) -> "PageKey":
        moment = case.sla_due_at if sort == "due" else case.last_inbound_at
        return cls(sort, moment, case.pk, priority=case.priority)

    def q(self) -> Q:
        """Rows strictly after this key in the sort order.

        The first, redundant condition bounds the index scan (it starts at the key instead of
        at the top of the index); the rest breaks ties exactly.
        """
        if self.sort in _SINGLE_KEY_SORTS:
            column = "sla_due_at" if self.sort == "due" else "last_inbound_at"
            return Q(**{f"{column}__gte": self.moment}) & (
                Q(**{f"{column}__gt": self.moment}) | Q(id__gt=self.case_id)
            )
        return Q(priority__lte=self.priority) & (
            Q(priority__lt=self.priority)
            | Q(last_inbound_at__gt=self.moment)
            | Q(last_inbound_at=self.moment, id__gt=self.case_id)
        )


def ordering(sort: str) -> list[str]:
    if sort == "waiting":
        return ["last_inbound_at", "id"]
    if sort == "due":
        return ["sla_due_at", "id"]
    return ["-priority", "last_inbound_at", "id"]


def page_queryset(
    filters: InboxFilters, user: User, now: datetime, after: PageKey | None
) -> QuerySet[Case]:
    """One page of matching cases, in one query whatever the page size.

    Channel and assignee are joined; the customer's identity on the case's network, the latest
    not-deleted mention text, whether its posts carry images and the labels come as per-row
    subqueries (indexed lookups).
    """
    identity = (
        Identity.objects.filter(customer_id=OuterRef("customer_id"))
        .annotate(elsewhere=SqlCase(When(network=OuterRef("channel__network"), then=0), default=1))
        .order_by("elsewhere", "id")
        .values(
            data=JSONObject(
                handle="handle", name="name", followers="followers", verified="verified"
            )
        )[:1]
    )
    latest_text = (
        Mention.objects.filter(case_id=OuterRef("pk"), deleted_at__isnull=True)
        .order_by("-posted_at", "-id")
        .values("text")[:1]
    )
    # Images on the case's posts (not deleted at the source): the row shows a paperclip.
    images = MentionMedia.objects.filter(
        mention__case_id=OuterRef("pk"), mention__deleted_at__isnull=True
    )
    labels = ArraySubquery(
        Label.objects.filter(cases=OuterRef("pk"))
        .order_by("name")
        .values(data=JSONObject(name="name", color="color"))
    )
    cases = (
        Case.objects.visible_to(user)
        .filter(filters_q(filters, user, now))
        .select_related("channel", "assignee")
        .only(
            *(
                f.name
                for f in Case._meta.concrete_fields
                if f.name not in ("triage_decided_by", "triage_decided_at")
            ),
            "channel__id",
            "channel__name",
            "channel__network",
            "assignee__id",
            "assignee__username",
            "assignee__first_name",
            "assignee__last_name",
        )
        .annotate(
            identity_data=Subquery(identity),
            latest_text=Subquery(latest_text),
            has_images=Exists(images),
            label_data=labels,
        )
        .order_by(*ordering(filters.sort))
    )
    if after is not None:
        cases = cases.filter(after.q())
    return cases


@dataclass
class Page:
    rows: list[Case]
    next_key: str


def load_page(filters: InboxFilters, user: User, now: datetime, after: PageKey | None) -> Page:
    """The rows of one page and the key of the next page ('' on the last page)."""
    rows = list(page_queryset(filters, user, now, after)[: PAGE_SIZE + 1])
    has_more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    next_key = PageKey.after(rows[-1], filters.sort).encode() if has_more else ""
    return Page(rows, next_key)


# ---------- live updates ----------


@dataclass(frozen=True)
class Fingerprint:
    """The newest change to any case: max(updated_at) and max(id)."""

    last_change: datetime | None
    last_id: int

    def encode(self) -> str:
        return f"{_micros(self.last_change) if self.last_change else 0}-{self.last_id}"

    @classmethod
    def decode(cls, raw: str) -> "Fingerprint | None":
        micros, _, last_id = raw.partition("-")
        if not all(part.isascii() and part.isdigit() for part in (micros, last_id)):
            return None
        if len(micros) > 18 or len(last_id) > 18:
            return None
        return cls(_from_micros(int(micros)) if int(micros) else None, int(last_id))


def fingerprint() -> Fingerprint:
    """Two index edge lookups (case_updated, the primary key): cheap at any table size."""
    row = Case.objects.aggregate(last_change=Max("updated_at"), last_id=Max("id"))
    return Fingerprint(row["last_change"], row["last_id"] or 0)


# ---------- choices and counts ----------

_CHOICES_SQL = """
SELECT 'channel', id, name, network, NULL::int, 0 FROM listening_channel
WHERE id IN ({channels})
UNION ALL
SELECT 'label', id, name, color, NULL, 0 FROM cases_label
UNION ALL
SELECT 'agent', u.id,
       coalesce(nullif(btrim(u.first_name || ' ' || u.last_name), ''), u.username), '', NULL, 0
FROM auth_user u
WHERE u.id IN ({inbox_workers})
UNION ALL
SELECT 'view', id, name, query, owner_id, position FROM cases_savedview
WHERE owner_id IS NULL OR owner_id = %s
UNION ALL
SELECT 'team', id, name, '', NULL, 0 FROM qa_team
WHERE id IN ({teams})
"""


def load_choices(user: User) -> Choices:
    """Channels, labels, agents, the user's and the desk's saved views, the user's teams: one
    query."""
    with connection.cursor() as cursor:
        # The agents are socialdesk.roles.inbox_workers(), compiled into this one query.
        # The channels are those whose cases the user sees (cases.visibility.visible_channels).
        channels, channel_params = visible_channels(user).values("id").query.sql_with_params()
        workers, worker_params = roles.inbox_workers().values("id").query.sql_with_params()
        teams, team_params = Team.objects.of(user).order_by().values("id").query.sql_with_params()
        cursor.execute(
            _CHOICES_SQL.format(channels=channels, inbox_workers=workers, teams=teams),
            [*channel_params, *worker_params, user.pk, *team_params],
        )
        rows = cursor.fetchall()
    choices = Choices()
    views = []
    for kind, pk, name, extra, owner_id, position in rows:
        if kind == "team":
            choices.teams.append(name)
        elif kind == "channel":
            choices.channels.append((pk, name, extra))
        elif kind == "label":
            choices.labels.append((pk, name, extra))
        elif kind == "agent":
            choices.agents.append((pk, name))
        elif kind == "view":
            views.append(
                SavedView(id=pk, name=name, query=extra, owner_id=owner_id, position=position)
            )
    choices.channels.sort(key=lambda c: c[1].lower())
    choices.labels.sort(key=lambda c: c[1].lower())
    choices.agents.sort(key=lambda c: c[1].lower())
    choices.teams.sort(key=str.lower)
    # The desk's shared views first, then the user's own; each in position, then name order.
    views.sort(key=lambda v: (v.owner_id is not None, v.position, v.name.lower()))
    return replace(choices, views=views)


@dataclass(frozen=True)
class ViewCount:
    view: SavedView
    filters: InboxFilters
    count: int | None  # None: not counted (text search, or beyond the open cases)


COUNTS_CACHE_SECONDS = 120


def count_views(
    views: Iterable[SavedView], user: User, now: datetime, current: Fingerprint
) -> tuple[list[ViewCount], dict[str, int]]:
    """Each countable view's number of cases, plus the inbox summary: one aggregate query.

    Summary keys: "open" (the default inbox), "new_last_hour" (opened in the last hour).
    The numbers are cached per user under the change fingerprint and the minute: they are
    computed again as soon as any case changes (or a minute passes, for snoozes ending and
    the last hour moving), and not on every page view of an unchanged desk.
    """
    parsed = [(view, parse_filters(QueryDict(view.query))[0]) for view in views]
    queries = "|".join(view.query for view, _filters in parsed)
    key = "inbox:counts:{}:{}:{}:{}".format(
        user.pk,
        current.encode(),
        now.strftime("%Y%m%d%H%M"),
        hashlib.sha256(queries.encode()).hexdigest()[:16],
    )
    totals = cache.get(key)
    if totals is None:
        totals = _count(parsed, user, now)
        cache.set(key, totals, COUNTS_CACHE_SECONDS)
    counts = [
        ViewCount(view, filters, totals.get(f"v{i}")) for i, (view, filters) in enumerate(parsed)
    ]
    return counts, {"open": totals["open"], "new_last_hour": totals["new_last_hour"]}


def _count(parsed: list[tuple[SavedView, InboxFilters]], user: User, now: datetime) -> dict:
    aggregates: dict[str, Any] = {
        "open": Count("id", filter=status_q("inbox", now)),
        "new_last_hour": Count(
            "id", filter=status_q("inbox", now) & Q(opened_at__gte=now - timedelta(hours=1))
        ),
    }
    for i, (_view, filters) in enumerate(parsed):
        if filters.is_countable:
            aggregates[f"v{i}"] = Count("id", filter=filters_q(filters, user, now))
    return (
        Case.objects.visible_to(user).filter(status__in=list(OPEN_STATUSES)).aggregate(**aggregates)
    )
