"""The review score formula (qa.scoring), against worked examples worked out by hand."""

import pytest

from qa.models import Criterion
from qa.scoring import score_review, share

YES_NO, THREE, FIVE = Criterion.Scale.YES_NO, Criterion.Scale.THREE, Criterion.Scale.FIVE


def crit(pk: int, scale: str, weight: float = 1.0, *, critical: bool = False) -> Criterion:
    return Criterion(pk=pk, name=f"c{pk}", scale=scale, weight=weight, critical=critical)


# (description, [(scale, weight, critical, value)], expected score, expected critical_failed)
WORKED_EXAMPLES = [
    (
        "all top marks",
        [(YES_NO, 1, False, 1), (THREE, 1, False, 3), (FIVE, 1, False, 5)],
        100.0,
        False,
    ),
    ("all bottom marks, none critical", [(YES_NO, 1, False, 0), (FIVE, 1, False, 1)], 0.0, False),
    # shares 1, 0.5, 0.75 with weights 1,1,1 -> 2.25 / 3 = 75
    (
        "equal weights",
        [(YES_NO, 1, False, 1), (THREE, 1, False, 2), (FIVE, 1, False, 4)],
        75.0,
        False,
    ),
    # shares 1 (w2), 0.5 (w1), 0.25 (w3) -> (2 + 0.5 + 0.75) / 6 = 54.166.. -> 54.2
    ("weights", [(YES_NO, 2, False, 1), (THREE, 1, False, 2), (FIVE, 3, False, 2)], 54.2, False),
    # N/A left out of both sums: only 0.5 (w1) and 1.0 (w1) count -> 75
    (
        "N/A left out",
        [(THREE, 1, False, 2), (YES_NO, 5, False, None), (FIVE, 1, False, 5)],
        75.0,
        False,
    ),
    # a critical criterion at its minimum gives 0 whatever the rest
    (
        "critical failure",
        [(YES_NO, 1, False, 1), (FIVE, 3, False, 5), (THREE, 1, True, 1)],
        0.0,
        True,
    ),
    ("critical yes/no failed", [(YES_NO, 1, True, 0), (FIVE, 1, False, 5)], 0.0, True),
    # a critical criterion above its minimum is an ordinary criterion: shares 0.5 and 1 -> 75
    ("critical passed", [(THREE, 1, True, 2), (FIVE, 1, False, 5)], 75.0, False),
    ("critical N/A does not fail", [(THREE, 1, True, None), (FIVE, 1, False, 3)], 50.0, False),
    ("all N/A", [(YES_NO, 1, False, None), (FIVE, 2, False, None)], None, False),
    ("nothing to score", [], None, False),
    # the default rubric's weights: right person 2 yes, spelling 1 (3/3), punctuation 1 (2/3),
    # accuracy 3 (4/5), tact 2 (3/5), offline N/A, norms 1 (3/3), response time 1 (2/3)
    # = (2 + 1 + 0.5 + 2.25 + 1 + 1 + 0.5) / 11 = 8.25 / 11 = 75.0
    (
        "default rubric reply",
        [
            (YES_NO, 2, False, 1),
            (THREE, 1, False, 3),
            (THREE, 1, False, 2),
            (FIVE, 3, False, 4),
            (FIVE, 2, False, 3),
            (YES_NO, 1.5, False, None),
            (THREE, 1, True, 3),
            (THREE, 1, False, 2),
        ],
        75.0,
        False,
    ),
]


@pytest.mark.parametrize(
    ("rows", "expected", "failed"),
    [
        pytest.param(rows, expected, failed, id=name)
        for name, rows, expected, failed in WORKED_EXAMPLES
    ],
)
def test_score_matches_the_worked_example(rows, expected, failed):
    values = {
        crit(i, scale, weight, critical=critical): value
        for i, (scale, weight, critical, value) in enumerate(rows, start=1)
    }
    assert score_review(values) == (expected, failed)


@pytest.mark.parametrize(
    ("scale", "value", "expected"),
    [(YES_NO, 0, 0.0), (YES_NO, 1, 1.0), (THREE, 2, 0.5), (FIVE, 4, 0.75), (FIVE, 1, 0.0)],
)
def test_share_of_the_scale(scale, value, expected):
    assert share(crit(1, scale), value) == expected


@pytest.mark.parametrize(("scale", "value"), [(YES_NO, 2), (THREE, 0), (FIVE, 6)])
def test_a_value_outside_the_scale_is_refused(scale, value):
    with pytest.raises(ValueError, match="outside"):
        score_review({crit(1, scale): value})
