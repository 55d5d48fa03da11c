"""The default rubric (from the seeds' safety net) and versioned rubric editing.

A rubric that reviews, calibration sessions or gold replies use is never changed in place:
`do_edit_rubric` makes the next version (the old one stays, inactive, and its reviews keep
pointing at it). New reviews always use the active version of the default rubric.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction

from qa.models import CalibrationSession, Criterion, GoldReply, Review, Rubric

DEFAULT_RUBRIC_NAME = "Social reply quality"

# The criterion fields a rubric edit may set (everything but the rubric itself).
CRITERION_FIELDS = (
    "code",
    "name",
    "guidance",
    "weight",
    "scale",
    "allow_na",
    "critical",
    "auto_check",
    "position",
)

# From the seeds: engage the right people, spell and punctuate, be accurate and complete,
# show tact and empathy, take angry customers offline, follow each network's norms and
# terms, and answer in time.
DEFAULT_CRITERIA: list[dict[str, Any]] = [
    {
        "code": "right_person",
        "name": "Engaged the right person",
        "guidance": "Was the triage decision right? Customers and unhappy ex-customers get an "
        "answer; trolls and spam are ignored; legal threats and the press are escalated. "
        "No = we engaged someone we should not have, or missed someone we should have.",
        "weight": 2.0,
        "scale": Criterion.Scale.YES_NO,
        "allow_na": False,
        "critical": False,
        "auto_check": "triage",
    },
    {
        "code": "spelling",
        "name": "Spelling",
        "guidance": "3 = no mistakes; 2 = one slip that does not change the meaning; "
        "1 = several mistakes, or one that embarrasses the brand.",
        "weight": 1.0,
        "scale": Criterion.Scale.THREE,
        "allow_na": False,
        "critical": False,
        "auto_check": "spelling",
    },
    {
        "code": "punctuation",
        "name": "Punctuation and grammar",
        "guidance": "3 = clean sentences; 2 = small slips (a missing full stop, a comma "
        "splice); 1 = hard to read, shouting, or '!!!'.",
        "weight": 1.0,
        "scale": Criterion.Scale.THREE,
        "allow_na": False,
        "critical": False,
        "auto_check": "punctuation",
    },
    {
        "code": "accuracy",
        "name": "Accurate and complete information",
        "guidance": "Is every fact right (prices, policies, dates, links) and did the reply "
        "answer everything the customer asked, or say clearly what happens next? "
        "5 = correct and complete; 3 = correct but leaves a question open; 1 = wrong.",
        "weight": 3.0,
        "scale": Criterion.Scale.FIVE,
        "allow_na": False,
        "critical": False,
        "auto_check": "",
    },
    {
        "code": "tact_empathy",
        "name": "Tact and empathy",
        "guidance": "Does the reply acknowledge how the customer feels, in a human voice, "
        "without blame, sarcasm or a copy-paste feel? 5 = warm and personal; 3 = polite but "
        "generic; 1 = curt, defensive or hostile. The tone check only hints at this.",
        "weight": 2.0,
        "scale": Criterion.Scale.FIVE,
        "allow_na": False,
        "critical": False,
        "auto_check": "tone",
    },
    {
        "code": "offline",
        "name": "Invited the customer offline when needed",
        "guidance": "On a negative or escalated case the reply invites the customer to continue "
        "out of public view (DM, phone, e-mail). N/A when the case was not negative.",
        "weight": 1.5,
        "scale": Criterion.Scale.YES_NO,
        "allow_na": True,
        "critical": False,
        "auto_check": "offline",
    },
    {
        "code": "network_norms",
        "name": "Followed the network's norms and terms",
        "guidance": "3 = fits the network (length, @mention etiquette, no hashtag spam); "
        "2 = a minor slip; 1 = broke the terms, e.g. personal data (e-mail, phone, card or "
        "account number) posted publicly. 1 is critical: it fails the whole review.",
        "weight": 1.0,
        "scale": Criterion.Scale.THREE,
        "allow_na": False,
        "critical": True,
        "auto_check": "norms",
    },
    {
        "code": "response_time",
        "name": "Response time",
        "guidance": "From the customer's post to our reply, against the desk's first-response "
        "target. 3 = within the target; 2 = up to twice the target; 1 = later.",
        "weight": 1.0,
        "scale": Criterion.Scale.THREE,
        "allow_na": False,
        "critical": False,
        "auto_check": "response_time",
    },
]


def _create_criteria(rubric: Rubric, specs: Sequence[Mapping[str, Any]]) -> None:
    Criterion.objects.bulk_create(
        [
            Criterion(rubric=rubric, **{**_spec(spec), "position": spec.get("position", i)})
            for i, spec in enumerate(specs)
        ]
    )


def _spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(spec) - set(CRITERION_FIELDS)
    if unknown:
        raise ValueError(f"Unknown criterion fields: {', '.join(sorted(unknown))}")
    return {key: spec[key] for key in CRITERION_FIELDS if key in spec}


def default_rubric() -> Rubric:
    """The active version of the default rubric, created from DEFAULT_CRITERIA when missing."""
    rubric = Rubric.objects.filter(name=DEFAULT_RUBRIC_NAME, is_active=True).first()
    if rubric is not None:
        return rubric
    with transaction.atomic():
        rubric, created = Rubric.objects.select_for_update().get_or_create(
            name=DEFAULT_RUBRIC_NAME, is_active=True
        )
        if created:
            _create_criteria(rubric, DEFAULT_CRITERIA)
    return rubric


def rubric_in_use(rubric: Rubric) -> bool:
    """Do reviews, calibration sessions or gold replies point at this version?"""
    return (
        Review.objects.filter(rubric=rubric).exists()
        or CalibrationSession.objects.filter(rubric=rubric).exists()
        or GoldReply.objects.filter(rubric=rubric).exists()
    )


def criteria_specs(rubric: Rubric) -> list[dict[str, Any]]:
    """The rubric's criteria as plain dicts, in order (what do_edit_rubric takes)."""
    return [
        {field: getattr(c, field) for field in CRITERION_FIELDS}
        for c in rubric.criteria.order_by("position", "id")
    ]


@transaction.atomic
def do_edit_rubric(
    rubric: Rubric,
    *,
    criteria: Sequence[Mapping[str, Any]],
    name: str | None = None,
) -> Rubric:
    """Give `rubric` these criteria (a full list of dicts of CRITERION_FIELDS) and name.

    Preconditions: `rubric` is a saved version as stored (not modified in memory). When
    nothing changes, returns it as it is. When reviews, calibration sessions or gold replies
    use it, makes version n+1 (active; the old one stays, inactive, with its criteria) and
    returns the new one; otherwise edits it in place.
    """
    rubric = Rubric.objects.select_for_update().get(pk=rubric.pk)
    new_name = (name or rubric.name).strip()
    specs = [
        {**_spec(spec), "position": spec.get("position", i)} for i, spec in enumerate(criteria)
    ]
    if not specs:
        raise ValueError("A rubric needs at least one criterion.")
    codes = [spec["code"] for spec in specs]
    if len(set(codes)) != len(codes):
        raise ValueError("Each criterion needs its own code.")
    current = criteria_specs(rubric)
    if new_name == rubric.name and _normalised(specs) == _normalised(current):
        return rubric
    if not rubric_in_use(rubric):
        if new_name != rubric.name:
            rubric.name = new_name
            rubric.save(update_fields=["name"])
        rubric.criteria.all().delete()
        _create_criteria(rubric, specs)
        return rubric
    if new_name != rubric.name:
        raise ValueError(
            "A rubric that reviews use keeps its name (its versions share it); "
            "create a new rubric for a new name."
        )
    if Rubric.objects.filter(previous=rubric).exists():
        raise ValueError(f"{rubric} already has a newer version: edit that one.")
    rubric.is_active = False
    rubric.save(update_fields=["is_active"])
    successor = Rubric.objects.create(
        name=rubric.name, version=rubric.version + 1, previous=rubric, is_active=True
    )
    _create_criteria(successor, specs)
    return successor


def _normalised(specs: Sequence[Mapping[str, Any]]) -> list[tuple]:
    out = []
    for spec in specs:
        full = {**dict.fromkeys(CRITERION_FIELDS), **spec}
        full["weight"] = float(full["weight"]) if full["weight"] is not None else None
        out.append(tuple(full[f] for f in CRITERION_FIELDS))
    return sorted(out, key=lambda row: (row[-1] or 0, row[0]))


def version_chain(rubric: Rubric) -> list[Rubric]:
    """Every version of this rubric's name, newest first."""
    return list(Rubric.objects.filter(name=rubric.name).order_by("-version"))
