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
* Sums: the same weighted mean (and a weighted pass share with Wilson's interval on Kish's
  effective n) from sums that add up across groups, so a database can GROUP BY the parts and
  any whole is the sum of its parts' sums.
* Additive: counts and sums that add field by field (Sums, the SLA and survey counts), so a
  team's or a whole desk's figures are the sum of its members' rows.
* Evidence: an Estimate from fewer than MIN_REVIEWS values, or with an interval wider than
  ±MAX_HALF_WIDTH points, is insufficient, and compare() makes no claim from it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Self

Z95 = 1.96
MIN_REVIEWS = 5
MAX_HALF_WIDTH = 20.0  # points


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


class Additive:
    """A dataclass of counts or sums that adds field by field: `sum(rows, Type())` is the
    figures of the whole from those of its parts."""

    def __add__(self, other: Self) -> Self:
        return type(self)(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass
class Sums(Additive):
    """Sufficient statistics of weighted values y with weights w (and a 0/1 pass flag p)."""

    n: int = 0
    w: float = 0.0
    wy: float = 0.0
    w2: float = 0.0
    w2y: float = 0.0
    w2y2: float = 0.0
    wp: float = 0.0

    def scaled(self, a: float, b: float) -> Sums:
        """The sums of a·y + b (how a criterion's raw value becomes 0..100)."""
        return Sums(
            self.n,
            self.w,
            a * self.wy + b * self.w,
            self.w2,
            a * self.w2y + b * self.w2,
            a * a * self.w2y2 + 2 * a * b * self.w2y + b * b * self.w2,
            self.wp,
        )

    @property
    def effective_n(self) -> float:
        return self.w * self.w / self.w2 if self.w2 > 0 else 0.0

    def mean(self, z: float = Z95) -> Estimate:
        """The Hájek mean and its 95 % interval: weighted_mean_ci from sums."""
        if self.n == 0 or self.w <= 0:
            return Estimate(self.n, None, None, None, 0.0)
        m = self.wy / self.w
        if self.n < 2:
            return Estimate(self.n, m, None, None, self.effective_n)
        squares = max(self.w2y2 - 2 * m * self.w2y + m * m * self.w2, 0.0)
        variance = self.n / (self.n - 1) * squares / (self.w * self.w)
        half = z * math.sqrt(variance)
        return Estimate(self.n, m, m - half, m + half, self.effective_n)

    def pass_rate(self, z: float = Z95) -> Estimate:
        """Weighted pass share in %, Wilson interval on the effective sample size."""
        if self.n == 0 or self.w <= 0:
            return Estimate(self.n, None, None, None, 0.0)
        p = min(max(self.wp / self.w, 0.0), 1.0)
        n_eff = self.effective_n
        # Wilson's formula only uses p = successes/n and n: a fractional effective n is fine.
        low, high = wilson_interval(p * n_eff, n_eff, z)  # type: ignore[arg-type]
        return Estimate(self.n, p * 100, low * 100, high * 100, n_eff)


@dataclass(frozen=True)
class Estimate:
    n: int
    mean: float | None
    low: float | None
    high: float | None
    effective_n: float

    @property
    def half_width(self) -> float | None:
        if self.low is None or self.high is None:
            return None
        return (self.high - self.low) / 2

    @property
    def insufficient(self) -> bool:
        hw = self.half_width
        return self.n < MIN_REVIEWS or hw is None or hw > MAX_HALF_WIDTH

    @property
    def insufficient_because(self) -> str:
        """Why no figure is shown, in words ("" when there is enough evidence)."""
        return self.insufficient_reason("review")

    def insufficient_reason(self, unit: str) -> str:
        """Why no figure is shown, counting `unit`s ("review", "case"); "" when there is
        enough evidence."""
        if not self.insufficient:
            return ""
        if self.n == 0:
            return f"no {unit}s"
        if self.n < MIN_REVIEWS:
            return (
                f"insufficient evidence: {self.n} {unit}{'s' * (self.n != 1)}, under {MIN_REVIEWS}"
            )
        hw = self.half_width
        if hw is None:
            return "insufficient evidence: no interval"
        return (
            f"insufficient evidence: 95% interval ±{hw:.1f} points, wider than ±{MAX_HALF_WIDTH:g}"
        )

    @property
    def shown_low(self) -> float | None:
        return None if self.low is None else max(0.0, self.low)

    @property
    def shown_high(self) -> float | None:
        return None if self.high is None else min(100.0, self.high)


def compare(agent: Estimate, team: Estimate) -> str:
    """'above' / 'below' the team when the intervals do not overlap, else 'within';
    'insufficient' when either lacks the evidence for any comparison."""
    if agent.insufficient or team.insufficient:
        return "insufficient"
    assert agent.low is not None and agent.high is not None  # noqa: S101 (insufficient else)
    assert team.low is not None and team.high is not None  # noqa: S101
    if agent.low > team.high:
        return "above"
    if agent.high < team.low:
        return "below"
    return "within"


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolation percentile, as PostgreSQL's percentile_cont (for tests and docs)."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def total(parts: Iterable[Sums]) -> Sums:
    """The sums of all the parts together."""
    out = Sums()
    for part in parts:
        out = out + part
    return out
