"""The QA app's forms: the review's scores, calibration sessions, planting gold, the sampling
planner, coaching."""

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from cases.models import Reply
from qa import calibration as cal
from qa.autocheck import AutoScore
from qa.models import Criterion, Review
from qa.scoring import score_review
from socialdesk.params import parse_ids, parse_int

# ---------- the review form: one radio group per criterion ----------


_NO, _YES = Criterion.values_of(Criterion.Scale.YES_NO)
SCALE_OPTIONS: dict[str, list[tuple[int, str, str]]] = {
    # (value, label, keyboard key); the values are Criterion.SCALE_BOUNDS'
    Criterion.Scale.YES_NO: [(_YES, "Yes", "y"), (_NO, "No", "n")],
    Criterion.Scale.THREE: [
        (v, f"{v} {word}", str(v))
        for v, word in zip(
            Criterion.values_of(Criterion.Scale.THREE), ("Poor", "Fair", "Good"), strict=True
        )
    ],
    Criterion.Scale.FIVE: [(v, str(v), str(v)) for v in Criterion.values_of(Criterion.Scale.FIVE)],
}


@dataclass
class CriterionRow:
    """One criterion of the review form: its scale's options, the automatic pre-score offered
    as a suggestion, and what is selected (field `c<criterion id>`). Nothing arrives selected:
    the reviewer chooses, or accepts the suggestion (field `s<criterion id>` = 1)."""

    criterion: Criterion
    options: list[tuple[int, str, str]]
    na_allowed: bool
    auto: AutoScore | None
    selected: str  # "" (nothing), "na", or the value as text
    error: str = ""
    accepted: bool = False  # the selected answer is the accepted suggestion

    @property
    def auto_key(self) -> str:
        if self.auto is None or not self.auto.suggests:
            return ""
        return "na" if self.auto.na else str(self.auto.value)

    @property
    def auto_label(self) -> str:
        if self.auto is None or not self.auto.suggests:
            return ""
        if self.auto.na:
            return "N/A"
        return next((label for v, label, _hint in self.options if v == self.auto.value), "")

    @property
    def field(self) -> str:
        return f"c{self.criterion.pk}"

    @property
    def accept_field(self) -> str:
        return f"s{self.criterion.pk}"


def parse_values(post: Any, criteria: list[Criterion]) -> tuple[dict[int, int | None], set[int]]:
    """({criterion id: value or None for N/A} for the criteria answered, ids with junk)."""
    values: dict[int, int | None] = {}
    junk: set[int] = set()
    for criterion in criteria:
        raw = post.get(f"c{criterion.pk}", "").strip()
        if not raw:
            continue
        value = parse_int(raw, low=-1000, high=1000)
        if raw == "na":
            values[criterion.pk] = None
        elif value is not None:
            values[criterion.pk] = value
        else:
            junk.add(criterion.pk)
    return values, junk


def parse_accepted(post: Any, values: dict[int, int | None]) -> set[int]:
    """The criteria whose answer the reviewer took from the suggestion (`s<id>` = 1)."""
    return {pk for pk in values if post.get(f"s{pk}") == "1"}


def selected_key(row_value: int | None, answered: bool) -> str:
    """A criterion's answer as the form's radio value: "" (none), "na" or the number."""
    if not answered:
        return ""
    return "na" if row_value is None else str(row_value)


def score_preview(rows: list[CriterionRow]) -> tuple[float | None, bool]:
    """The score (and whether a critical criterion failed) of the values chosen so far."""
    chosen: dict[Criterion, int | None] = {}
    for row in rows:
        if row.selected == "na":
            chosen[row.criterion] = None
        elif row.selected:
            value = int(row.selected)
            if row.criterion.min_value <= value <= row.criterion.max_value:
                chosen[row.criterion] = value
    return score_review(chosen)


# ---------- the other forms ----------


class SessionForm(forms.Form):
    name = forms.CharField(max_length=100)
    replies = forms.ModelMultipleChoiceField(
        queryset=Reply.objects.filter(state=Reply.State.SENT),
        error_messages={"required": _("Pick at least one reply.")},
    )
    reviewers = forms.ModelMultipleChoiceField(
        queryset=cal.reviewers_queryset(),
        error_messages={"required": _("Pick at least two reviewers.")},
    )

    def clean_reviewers(self):
        reviewers = self.cleaned_data["reviewers"]
        if len(reviewers) < 2:
            raise forms.ValidationError(_("Pick at least two reviewers: agreement needs two."))
        return reviewers

    def clean_replies(self):
        replies = self.cleaned_data["replies"]
        if len(replies) > cal.MAX_REPLIES:
            raise forms.ValidationError(
                _("Pick at most %(count)s replies.") % {"count": cal.MAX_REPLIES}
            )
        return replies


class PlantForm(forms.Form):
    reviewers = forms.ModelMultipleChoiceField(
        queryset=cal.reviewers_queryset(),
        error_messages={"required": _("Pick at least one reviewer.")},
    )


class PlanForm(forms.Form):
    target_margin = forms.FloatField(
        min_value=1,
        max_value=50,
        label=_("Target margin of error (± points)"),
        error_messages={
            "min_value": _("Choose a margin of at least ±1 point."),
            "max_value": _("Choose a margin of at most ±50 points."),
            "required": _("Enter the margin of error you want, in points (e.g. 10)."),
            "invalid": _("Enter a number of points, e.g. 10."),
        },
    )


class IdsField(forms.Field):
    """Repeated ids (checkboxes); junk is dropped, never an error."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: object) -> list[int]:
        return parse_ids(value if isinstance(value, list | tuple) else [])


class CoachingNotesForm(forms.Form):
    """What a coach writes about a session, when planning it and afterwards."""

    notes = forms.CharField(required=False, widget=forms.Textarea)
    action_items = forms.CharField(required=False, widget=forms.Textarea)  # one per line
    follow_up_on = forms.DateField(
        required=False, error_messages={"invalid": _("Give the follow-up date as YYYY-MM-DD.")}
    )


class CoachingForm(CoachingNotesForm):
    """Plan a session with one of `agents`, linked to reviews of theirs that prompted it.

    Review ids that are not the chosen agent's submitted, sampled reviews are left out
    silently (the list offered only those).
    """

    agent = forms.ModelChoiceField(
        queryset=User.objects.none(),
        error_messages={
            "required": _("Choose one of your agents."),
            "invalid_choice": _("Choose one of your agents."),
        },
    )
    reviews = IdsField(required=False)
    scheduled_for = forms.DateTimeField(
        required=False, error_messages={"invalid": _("Give the session time as YYYY-MM-DD HH:MM.")}
    )

    def __init__(self, *args: object, agents: QuerySet[User], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = agents

    def clean(self) -> dict:
        cleaned = super().clean()
        agent = cleaned.get("agent")
        cleaned["reviews"] = list(
            Review.objects.filter(
                agent=agent,
                kind=Review.Kind.SAMPLE,
                status=Review.Status.SUBMITTED,
                pk__in=cleaned.get("reviews") or [],
            )
            if agent is not None
            else []
        )
        return cleaned
