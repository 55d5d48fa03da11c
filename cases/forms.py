"""The cases app's forms: the composer's draft, the approvals' send-back note, the guidelines,
a transfer to another team, the case page's status change and the inbox's bulk action."""

import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django import forms
from django.contrib.auth.models import User
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cases import clocks
from cases.actions import BULK_ASSIGN, BULK_UNASSIGN
from cases.models import CaseStatus, Label, Triage
from socialdesk import roles
from socialdesk.params import parse_id, parse_ids, parse_int

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django.db.models import QuerySet

    from socialdesk.models import Team


@dataclass
class Draft:
    """What the composer posted, parsed; every field has a safe default.

    The composer re-renders on every keystroke batch (the checks), so this is a lenient parse
    rather than a validating form: nothing the agent typed is ever refused here.
    """

    text: str = ""
    is_private: bool = False
    in_reply_to_id: int | None = None
    override: bool = False
    override_reason: str = ""
    opened_at: datetime = field(default_factory=timezone.now)
    submit_token: str = field(default_factory=lambda: uuid.uuid4().hex)
    confirm_collision: bool = False

    @classmethod
    def parse(cls, data: dict) -> "Draft":
        draft = cls(
            text=data.get("text", "").replace("\r\n", "\n").strip(),
            is_private=data.get("visibility") == "private",
            override=data.get("override") == "on",
            override_reason=data.get("override_reason", "").strip()[:500],
            confirm_collision=data.get("confirm_collision") == "1",
        )
        draft.in_reply_to_id = parse_id(data.get("in_reply_to", ""))
        opened_ms = parse_int(data.get("opened_at", ""), low=0)
        if opened_ms is not None:
            # Unusable numbers leave the default: the composer counts as opened now.
            with contextlib.suppress(OverflowError, ValueError, OSError):
                draft.opened_at = datetime.fromtimestamp(opened_ms / 1000, tz=UTC)
        token = data.get("submit_token", "")
        if len(token) == 32:
            with contextlib.suppress(ValueError):
                draft.submit_token = uuid.UUID(hex=token).hex
        return draft


class SendBackForm(forms.Form):
    note = forms.CharField(
        max_length=2000,
        strip=True,
        error_messages={"required": _("Say what to change: the agent sees this note.")},
    )


class GuidelinesForm(forms.Form):
    body = forms.CharField(
        label=_("Guidelines"),
        widget=forms.Textarea(attrs={"rows": 24}),
        max_length=50_000,
        strip=True,
        error_messages={
            "required": _("The guidelines can't be empty: write what agents should follow."),
        },
        help_text=_(
            "Plain text. A line starting with “# ” is a heading, “## ” a subheading, “- ” a list "
            "item; a blank line starts a new paragraph."
        ),
    )


class TransferForm(forms.Form):
    """A case's transfer: to one of `teams` (every team but the case's own), with a note."""

    team = forms.ModelChoiceField(
        queryset=None,
        empty_label=_("Choose a team"),
        error_messages={
            "required": _("Choose the team to transfer the case to."),
            "invalid_choice": _("Choose one of the teams listed."),
        },
    )
    note = forms.CharField(
        max_length=1000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("Write a note for the team: why the case is theirs.")},
    )

    def __init__(self, *args: object, teams: "QuerySet[Team]", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams


@dataclass
class StatusChange:
    """The case page's status form, parsed: the status and, for a snooze, when it ends.

    `error` says what to fix; `unknown_preset` is a snooze preset the page never offers (a
    forged or stale form)."""

    status: str
    until: datetime | None = None
    error: str = ""
    unknown_preset: bool = False

    @classmethod
    def parse(cls, data: QueryDict, now: datetime) -> "StatusChange":
        """POST status, optional snooze_until (datetime-local, desk time) or snooze_preset."""
        status = data.get("status", "")
        preset = data.get("snooze_preset", "")
        raw_until = data.get("snooze_until", "").strip()
        until: datetime | None = None
        if preset:
            until = next(
                (moment for value, _, moment in clocks.snooze_presets(now) if value == preset),
                None,
            )
            if until is None:
                return cls(status, unknown_preset=True)
            status = CaseStatus.PENDING
        elif raw_until and status == CaseStatus.PENDING:
            try:
                parsed = parse_datetime(raw_until)
            except ValueError:  # well formed but impossible, such as month 13
                parsed = None
            if parsed is None:
                return cls(status, error="Enter the snooze time as date and time.")
            until = timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed
        if until is not None and until <= now:
            return cls(status, until, error="Snooze until a time in the future.")
        return cls(status, until)


MAX_BULK = 200
BULK_STATUSES = [
    (CaseStatus.OPEN, _("Open")),
    (CaseStatus.PENDING, _("Pending")),
    (CaseStatus.RESOLVED, _("Resolved")),
    (CaseStatus.CLOSED, _("Closed")),
]
BULK_ACTIONS = [
    ("assign_me", _("Assign to me")),
    ("assign", _("Assign to…")),
    ("unassign", _("Unassign")),
    ("status", _("Set status…")),
    ("engage", _("Triage: engage")),
    ("ignore", _("Triage: ignore")),
    ("escalate", _("Triage: escalate")),
    ("label", _("Add label…")),
    ("hide_comments", _("Hide their comments")),
]


@dataclass
class BulkAction:
    """The inbox's bulk form, parsed: the action, the selected case ids (at most MAX_BULK)
    and what the action needs (an assignee, a status, a triage reason or a label). `error`
    says what to fix, in the reader's language."""

    action: str
    ids: list[int]
    change: str = ""  # the cases.actions.do_bulk_change action
    assignee: "User | AbstractBaseUser | AnonymousUser | None" = None
    status: str = ""
    reason: str = ""
    label: Label | None = None
    error: str = ""

    @property
    def label_text(self) -> str:
        return str(dict(BULK_ACTIONS)[self.action]).rstrip("…")

    @classmethod
    def parse(cls, data: QueryDict, user: "AbstractBaseUser | AnonymousUser") -> "BulkAction":
        action = data.get("action", "")
        ids = sorted(parse_ids(data.getlist("ids")))[:MAX_BULK]
        bulk = cls(action, ids)
        if action not in dict(BULK_ACTIONS):
            bulk.error = gettext("Choose an action for the selected cases.")
            return bulk
        if not ids:
            bulk.error = gettext("Select at least one case first.")
            return bulk
        bulk.reason = data.get("reason", "").strip()
        bulk.status = data.get("status", "")
        bulk.change = {"assign_me": BULK_ASSIGN, "unassign": BULK_UNASSIGN}.get(action, action)
        if action == "assign_me":
            bulk.assignee = user
        elif action == "assign":
            bulk.assignee = roles.inbox_workers().filter(pk=parse_id(data.get("assignee"))).first()
            if bulk.assignee is None:
                bulk.error = gettext("Choose the person to assign the cases to.")
        elif action == "status" and bulk.status not in dict(BULK_STATUSES):
            bulk.error = gettext("Choose the status to set.")
        elif action in Triage.values and not bulk.reason:
            bulk.error = gettext("Give a reason for the triage decision: QA reviews it.")
        elif action == "label":
            label_id = parse_id(data.get("label", ""))
            bulk.label = Label.objects.filter(pk=label_id).first() if label_id else None
            if bulk.label is None:
                bulk.error = gettext("Choose the label to add.")
        return bulk
