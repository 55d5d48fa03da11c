"""The cases app's forms: the composer's draft, the approvals' send-back note, the guidelines,
a transfer to another team."""

import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from socialdesk.params import parse_id, parse_int

if TYPE_CHECKING:
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
