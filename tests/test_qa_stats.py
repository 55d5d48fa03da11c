"""qa.stats against known values: Wilson, the finite-population correction, sample sizes,
weighted means from additive sums and the evidence rules."""

import math
import random

import pytest

from qa.stats import (
    Estimate,
    Sums,
    compare,
    fpc,
    margin_of_error,
    percentile,
    required_sample_size,
    weighted_mean_ci,
    wilson_interval,
)


def test_wilson_interval_of_8_in_10_is_0_490_to_0_943():
    low, high = wilson_interval(8, 10)
    assert round(low, 3) == 0.490
    assert round(high, 3) == 0.943


def test_wilson_interval_stays_inside_0_1_at_the_extremes():
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and 0.15 < high < 0.17  # 0.161 (published Wilson value)
    low, high = wilson_interval(20, 20)
    assert 0.83 < low < 0.85 and high == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_margin_of_error_applies_the_finite_population_correction():
    infinite = 1.96 * math.sqrt(0.25 / 50)  # 0.1386
    assert margin_of_error(50, 200) == pytest.approx(infinite * math.sqrt(150 / 199))
    assert margin_of_error(50, 200) == pytest.approx(0.1203, abs=1e-4)
    # A population large enough makes the correction vanish.
    assert margin_of_error(50, 10**9) == pytest.approx(infinite, rel=1e-6)
    assert fpc(50, 200) == pytest.approx(math.sqrt(150 / 199))


def test_margin_of_error_edges():
    assert margin_of_error(0, 100) == math.inf
    assert margin_of_error(100, 100) == 0.0
    assert margin_of_error(10, 10**9, p=0.9) == pytest.approx(1.96 * math.sqrt(0.09 / 10))


def test_required_sample_size_for_1000_at_5_points_is_278():
    assert required_sample_size(1000, 0.05) == 278
    # Without a finite population it is Cochran's 385 (384.16 rounded up).
    assert required_sample_size(10**9, 0.05) == 385
    assert required_sample_size(200, 0.10) == 66  # 96.04 / (1 + 95.04/200) = 65.1
    assert required_sample_size(0, 0.05) == 0
    assert required_sample_size(10, 0.01) == 10  # never more than there is


@pytest.mark.parametrize("population", [12, 40, 200, 1000, 5000])
@pytest.mark.parametrize("margin", [0.05, 0.1, 0.2])
def test_required_sample_size_is_the_smallest_that_reaches_the_margin(population, margin):
    n = required_sample_size(population, margin)
    assert margin_of_error(n, population) <= margin + 1e-12
    if n > 1:
        assert margin_of_error(n - 1, population) > margin


def test_weighted_mean_with_equal_weights_is_the_ordinary_mean_and_t_free_interval():
    values = [70, 80, 90, 100]
    mean, low, high, effective_n = weighted_mean_ci(values, [1, 1, 1, 1])
    sd = math.sqrt(sum((v - 85) ** 2 for v in values) / 3)  # 12.91
    assert mean == 85
    assert high - mean == pytest.approx(1.96 * sd / 2)
    assert mean - low == pytest.approx(1.96 * sd / 2)
    assert effective_n == 4


def test_weighted_mean_weights_by_inverse_probability():
    # A risky reply picked with p = 0.5 stands for 2 replies, a plain one with p = 0.1 for 10.
    mean, low, high, effective_n = weighted_mean_ci([40, 90], [2, 10])
    assert mean == pytest.approx((2 * 40 + 10 * 90) / 12)  # 81.67
    assert effective_n == pytest.approx(144 / 104)
    assert low < mean < high


def test_weighted_mean_without_enough_values():
    assert weighted_mean_ci([], []) == (None, None, None, 0.0)
    assert weighted_mean_ci([75], [3]) == (75.0, None, None, 1.0)
    with pytest.raises(ValueError):
        weighted_mean_ci([1, 2], [1])


# ---------- weighted means from additive sums ----------


def test_sums_give_the_same_interval_as_weighted_mean_ci():
    rng = random.Random(4)
    values = [rng.choice([0, 40, 62.5, 80, 100]) for _ in range(40)]
    weights = [rng.choice([1, 1, 2.5, 4]) for _ in range(40)]
    sums = Sums()
    for v, w in zip(values, weights, strict=True):
        sums = sums + Sums(1, w, w * v, w * w, w * w * v, w * w * v * v, 0)
    est = sums.mean()
    mean, low, high, eff = weighted_mean_ci(values, weights)
    assert est.mean == pytest.approx(mean)
    assert est.low == pytest.approx(low)
    assert est.high == pytest.approx(high)
    assert est.effective_n == pytest.approx(eff)


def test_weighted_mean_by_hand():
    # scores 100, 50, 80 with weights 1, 3, 2 (1 / inclusion probability)
    sums = Sums()
    for y, w in ((100, 1), (50, 3), (80, 2)):
        sums = sums + Sums(1, w, w * y, w * w, w * w * y, w * w * y * y, 0)
    est = sums.mean()
    assert est.mean == pytest.approx(410 / 6)  # 68.33, not the unweighted 76.67
    # n/(n-1) * sum w^2 (y - m)^2 / (sum w)^2 = 1.5 * 4572.22 / 36 = 190.51
    half = 1.96 * math.sqrt(1.5 * (31.6667**2 + 9 * 18.3333**2 + 4 * 11.6667**2) / 36)
    assert est.low == pytest.approx(410 / 6 - half, abs=0.01)
    assert est.high == pytest.approx(410 / 6 + half, abs=0.01)
    assert est.effective_n == pytest.approx(36 / 14)
    assert est.insufficient  # only 3 reviews


def test_criterion_values_are_scaled_to_0_100():
    # a 1-5 criterion: raw values 4 and 2 -> 75 and 25
    sums = Sums(2, 2, 6, 2, 6, 20, 0).scaled(25, -25)
    est = sums.mean()
    assert est.mean == pytest.approx(50)
    ref = weighted_mean_ci([75, 25], [1, 1])
    assert (est.low, est.high) == (pytest.approx(ref[1]), pytest.approx(ref[2]))


def test_insufficient_evidence_rules():
    four = Estimate(4, 90.0, 88.0, 92.0, 4.0)
    wide = Estimate(30, 60.0, 35.0, 85.0, 30.0)  # ±25 points
    fine = Estimate(5, 60.0, 45.0, 75.0, 5.0)  # ±15 points
    assert four.insufficient and wide.insufficient and not fine.insufficient


def test_groups_only_where_intervals_separate():
    team = Estimate(30, 70.0, 66.0, 74.0, 30)
    assert compare(Estimate(10, 90.0, 85.0, 95.0, 10), team) == "above"
    assert compare(Estimate(10, 50.0, 45.0, 60.0, 10), team) == "below"
    # a higher mean whose interval still touches the team's: no claim
    assert compare(Estimate(10, 80.0, 73.0, 87.0, 10), team) == "within"
    assert compare(Estimate(3, 99.0, 98.0, 100.0, 3), team) == "insufficient"


def test_percentile_interpolates_like_postgres():
    assert percentile([10, 20, 30, 40], 0.5) == pytest.approx(25)
    assert percentile([10, 20, 30, 40], 0.9) == pytest.approx(37)
    assert percentile([], 0.5) is None


def test_counts_and_sums_add_field_by_field_into_the_whole():
    from csat.stats import Counts
    from qa.service import SlaCounts

    parts = [SlaCounts(3, 2, 1, 1), SlaCounts(5, 4, 0, 0)]
    assert sum(parts, SlaCounts()) == SlaCounts(8, 6, 1, 1)
    assert Counts(10, 4, 15, 61, 3) + Counts(2, 1, 5, 25, 1) == Counts(12, 5, 20, 86, 4)
    whole = Sums(2, 2.0, 7.0, 2.0, 7.0, 25.0, 1.0) + Sums(1, 1.0, 3.0, 1.0, 3.0, 9.0, 0.0)
    assert whole == Sums(3, 3.0, 10.0, 3.0, 10.0, 34.0, 1.0)
    assert whole.mean().mean == pytest.approx(10 / 3)
