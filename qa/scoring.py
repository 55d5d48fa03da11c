"""The review score: one documented formula, used by the server and mirrored on the review page.

    score = 100 × Σ wᵢ · (vᵢ − minᵢ) / (maxᵢ − minᵢ)  /  Σ wᵢ

over the criteria that are NOT N/A (value None), where wᵢ is the criterion's weight and
minᵢ..maxᵢ its scale (yes/no = 0..1, 1-3, 1-5). So each criterion counts as a share of its own
scale (a 4 on 1-5 is 0.75, a "yes" is 1.0) and heavier criteria count more; N/A criteria are
left out of both sums rather than counted as zero or as full marks.

Two rules override the mean:
* a **critical** criterion scored at its minimum (a "no", or a 1) fails the whole review:
  the score is 0 and `critical_failed` is True, whatever the other criteria say;
* when every criterion is N/A (or all weights are 0) there is nothing to score: None.

The score is rounded to one decimal. Worked examples are in tests/test_qa_scoring.py.
"""

from __future__ import annotations

from collections.abc import Mapping

from qa.models import Criterion

FORMULA_TEXT = (
    "Each criterion counts as a share of its own scale: (value − lowest) ÷ (highest − lowest), "
    "so Yes = 100%, a 4 on 1–5 = 75%, a 2 on 1–3 = 50%. The score is the weighted mean of "
    "those shares over the criteria that apply, × 100. N/A criteria are left out (they neither "
    "help nor hurt). A critical criterion at its lowest value fails the whole review: score 0. "
    "If every criterion is N/A there is no score."
)


def share(criterion: Criterion, value: int) -> float:
    """`value` as a share 0..1 of the criterion's scale. Raises ValueError outside the scale."""
    low, high = criterion.min_value, criterion.max_value
    if not low <= value <= high:
        raise ValueError(f"{criterion.name}: {value} is outside {low}..{high}")
    return (value - low) / (high - low)


def is_critical_failure(criterion: Criterion, value: int | None) -> bool:
    return criterion.critical and value is not None and value == criterion.min_value


def score_review(values: Mapping[Criterion, int | None]) -> tuple[float | None, bool]:
    """(score 0-100 or None when everything is N/A, critical_failed). See the module docstring.

    `values` maps each criterion to its value, None meaning N/A. Raises ValueError for a value
    outside a criterion's scale.
    """
    total_weight = 0.0
    weighted = 0.0
    failed = False
    for criterion, value in values.items():
        if value is None:
            continue
        part = share(criterion, value)
        if is_critical_failure(criterion, value):
            failed = True
        total_weight += criterion.weight
        weighted += criterion.weight * part
    if failed:
        return 0.0, True
    if total_weight <= 0:
        return None, False
    return round(100 * weighted / total_weight, 1), False
