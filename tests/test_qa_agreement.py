"""Krippendorff's alpha against the worked example of Krippendorff (2011) and edge cases."""

import random

import pytest

from qa.agreement import coincidences, krippendorff_alpha, verdict

N = None
# "Computing Krippendorff's Alpha-Reliability" (2011), the 4-observer x 12-unit reliability
# data with missing values (observers as rows in the paper; units as rows here).
OBSERVER_A = [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N]
OBSERVER_B = [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3]
OBSERVER_C = [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N]
OBSERVER_D = [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N]
PAPER = [list(unit) for unit in zip(OBSERVER_A, OBSERVER_B, OBSERVER_C, OBSERVER_D, strict=True)]


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_alpha_matches_the_published_worked_example(level, published):
    assert round(krippendorff_alpha(PAPER, level), 3) == published


def test_coincidence_matrix_matches_the_paper():
    matrix = coincidences(PAPER)
    totals = {}
    for (c, _k), o in matrix.items():
        totals[c] = totals.get(c, 0) + o
    # The paper's matrix: n_c = 9, 13, 10, 5, 3 for the values 1..5 (n = 40 pairable values);
    # o_11 = 7, o_12 = 4/3, o_55 = 3 (unit 10: three observers all gave 5).
    assert {value: round(n, 6) for value, n in totals.items()} == {1: 9, 2: 13, 3: 10, 4: 5, 5: 3}
    assert matrix[(1, 1)] == pytest.approx(7)
    assert matrix[(1, 2)] == pytest.approx(4 / 3)
    assert matrix[(5, 5)] == pytest.approx(3)


def test_unit_with_a_single_value_is_left_out():
    with_lonely_unit = [*PAPER, [N, N, 4, N]]
    assert krippendorff_alpha(with_lonely_unit, "nominal") == krippendorff_alpha(PAPER, "nominal")


def test_perfect_agreement_is_one_at_every_level():
    data = [[1, 1, 1], [2, 2, N], [5, 5, 5], [3, N, 3]]
    for level in ("nominal", "ordinal", "interval", "ratio"):
        assert krippendorff_alpha(data, level) == pytest.approx(1.0)


def test_no_variation_is_undefined_not_perfect():
    assert krippendorff_alpha([[4, 4], [4, 4], [4, N]], "ordinal") is None
    assert verdict(None) == "undefined"


def test_nothing_pairable_is_undefined():
    assert krippendorff_alpha([[1, N], [N, 2]], "nominal") is None
    assert krippendorff_alpha([], "interval") is None


def test_two_raters_nominal_by_hand():
    # Two raters, four units, one disagreement: o(a,a)=2, o(b,b)=4, o(a,b)=o(b,a)=1, n=8.
    # alpha = 1 - (n-1) * sum o_ck d / sum n_c n_k d = 1 - 7 * 2 / (2 * 3 * 5) = 0.5333...
    data = [["a", "a"], ["b", "b"], ["b", "b"], ["a", "b"]]
    assert krippendorff_alpha(data, "nominal") == pytest.approx(1 - 14 / 30)


def test_systematic_disagreement_is_below_zero():
    assert krippendorff_alpha([[1, 2], [2, 1], [1, 2], [2, 1]], "nominal") < 0


def test_ordinal_counts_closeness_that_nominal_ignores():
    near_misses = [[1, 2], [2, 3], [3, 4], [4, 5], [5, 5], [1, 1]]
    assert krippendorff_alpha(near_misses, "ordinal") > krippendorff_alpha(near_misses, "nominal")


def test_unknown_level_and_negative_ratio_are_refused():
    with pytest.raises(ValueError, match="Unknown level"):
        krippendorff_alpha(PAPER, "cardinal")
    with pytest.raises(ValueError, match="negative"):
        krippendorff_alpha([[-1, 2], [1, 2]], "ratio")


def test_verdict_thresholds():
    assert verdict(0.81) == "reliable"
    assert verdict(0.70) == "tentative"
    assert verdict(0.66) == "unreliable"


def test_hundred_units_by_ten_raters_with_missing_ratings():
    rng = random.Random(4)
    truth = [rng.randint(1, 5) for _ in range(100)]
    data = [
        [t if rng.random() < 0.8 else rng.choice([1, 2, 3, 4, 5, N]) for _ in range(10)]
        for t in truth
    ]
    for level in ("nominal", "ordinal", "interval", "ratio"):
        assert 0.3 < krippendorff_alpha(data, level) < 1.0
