"""Survey statistics for QA: intervals, margins of error, sample sizes, weighted means.

Pure functions, no Django. The formulas, with z = 1.96 for 95 %:

* Wilson score interval for a proportion k/n (Wilson 1927): centre
  (p + z²/2n) / (1 + z²/n), half-width z / (1 + z²/n) · sqrt(p(1-p)/n + z²/4n²).
  For 8 of 10 that is (0.490, 0.943).
* Margin of error of a proportion estimated from n of N items, sampled without replacement:
  z · sqrt(p(1-p)/n) · sqrt((N-n)/(N-1)); the second factor is the finite-population
  correction (FPC). Worst case p = 0.5.
* Sample size for a wanted margin e (Cochran): n0 = z² p(1-p) / e², then with the FPC
  n = n0 / (1 + (n0-1)/N), rounded up. This is the exact inverse of the margin above, so
  margin_of_error(required_sample_size(N, e), N) <= e. N = 1000, e = 0.05 gives 278.
* Weighted (Hájek) mean Σwx/Σw with weights w = 1/inclusion probability, its linearised
  variance n/(n-1) · Σ w²(x - mean)² / (Σw)², and Kish's effective sample size (Σw)²/Σw².
  With equal weights this is the ordinary mean with variance s²/n.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z95 = 1.96


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of successes/n; (0.0, 1.0) when n is 0."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n ({successes} of {n})")
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


def fpc(n: int, population: int) -> float:
    """The finite-population correction factor sqrt((N-n)/(N-1)) for n of N items."""
    if population <= 1 or n >= population:
        return 0.0
    return math.sqrt((population - n) / (population - 1))


def margin_of_error(n: int, population: int, p: float = 0.5, z: float = Z95) -> float:
    """Half-width of the confidence interval of a proportion from n of `population` items.

    0.0 when every item is sampled (nothing left to estimate); math.inf when n is 0.
    """
    if n <= 0:
        return math.inf
    if n >= population:
        return 0.0
    return z * math.sqrt(p * (1 - p) / n) * fpc(n, population)


def required_sample_size(population: int, margin: float, p: float = 0.5, z: float = Z95) -> int:
    """How many of `population` items to sample for a margin of error of at most `margin`."""
    if population <= 0:
        return 0
    if not margin > 0:
        raise ValueError("margin must be positive")
    n0 = z * z * p * (1 - p) / (margin * margin)
    if n0 <= 0:
        return 0
    n = n0 / (1 + (n0 - 1) / population)
    # A hair below an integer is that integer (floating point), never one more.
    return min(population, math.ceil(n - 1e-9))


def weighted_mean_ci(
    values: Sequence[float], weights: Sequence[float], z: float = Z95
) -> tuple[float | None, float | None, float | None, float]:
    """(mean, low, high, effective n) of values weighted by inverse inclusion probabilities.

    (None, None, None, 0.0) with no values; low and high are None with a single value (no
    variance to estimate from).
    """
    if len(values) != len(weights):
        raise ValueError("values and weights differ in length")
    pairs = [(float(x), float(w)) for x, w in zip(values, weights, strict=True) if w > 0]
    if not pairs:
        return (None, None, None, 0.0)
    total_w = sum(w for _, w in pairs)
    mean = sum(w * x for x, w in pairs) / total_w
    effective_n = total_w * total_w / sum(w * w for _, w in pairs)
    n = len(pairs)
    if n < 2:
        return (mean, None, None, effective_n)
    variance = n / (n - 1) * sum(w * w * (x - mean) ** 2 for x, w in pairs) / (total_w * total_w)
    half = z * math.sqrt(variance)
    return (mean, mean - half, mean + half, effective_n)
