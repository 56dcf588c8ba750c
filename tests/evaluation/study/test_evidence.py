"""The study's intervals (evaluation.study.evidence): Student-t over seeds, Wilson rates and
ΔP.  Pure NumPy: no fit, no file."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from evaluation.study.evidence import delta_p, rate_interval, seed_interval


def _nan(*values: float) -> bool:
    return all(math.isnan(v) for v in values)


# ------------------------------------------------------------------------------ seed_interval
def test_seed_interval_is_the_student_t_interval_of_the_mean():
    values = np.array([1.2, 0.4, 2.2, 1.9, 0.7, 1.1])
    for level in (0.9, 0.5):
        lo, hi = stats.t.interval(level, df=5, loc=values.mean(), scale=stats.sem(values))
        got = seed_interval(values, level)
        assert got.n == 6
        assert got.mean == pytest.approx(values.mean())
        assert (got.lo, got.hi) == pytest.approx((lo, hi), rel=1e-12)


def test_seed_interval_leaves_out_nan_and_inf_and_counts_only_finite_values():
    assert seed_interval([1.0, np.nan, 3.0, np.inf, -np.inf]) == seed_interval([1.0, 3.0])
    assert seed_interval([1.0, np.nan, 3.0]).n == 2


def test_seed_interval_edge_cases():
    for empty in ([], [np.nan, np.nan], [np.inf]):  # no finite value: nothing, and no warning
        got = seed_interval(empty)
        assert got.n == 0 and _nan(got.mean, got.lo, got.hi)
    one = seed_interval([np.nan, 2.5])  # one seed: a mean, no interval, n stated
    assert (one.mean, one.n) == (2.5, 1) and _nan(one.lo, one.hi)
    same = seed_interval([0.3, 0.3, 0.3])  # no spread: the interval is the point
    assert same.lo == pytest.approx(0.3) and same.hi == pytest.approx(0.3)
    with pytest.raises(ValueError, match="level"):
        seed_interval([1.0, 2.0], level=90)


def test_seed_interval_covers_the_true_mean_90_percent_of_the_time():
    # 2,000 replicates of 5 seeds: the coverage's binomial sd is sqrt(0.9 * 0.1 / 2000) =
    # 0.0067, so 0.90 ± 0.02 is a 3-sd band a correct interval leaves once in ~370 seeds; a
    # normal-quantile interval (z instead of t with 4 df) covers ~0.83 and would fail.
    rng = np.random.default_rng(22)
    draws = rng.normal(0.3, 0.2, size=(2000, 5))
    covered = [(iv := seed_interval(row)).lo <= 0.3 <= iv.hi for row in draws]
    assert 0.88 <= np.mean(covered) <= 0.92


# ------------------------------------------------------------------------------ rate_interval
def test_rate_interval_is_wilson_against_hand_computed_values():
    # 5 of 20 at 90%: z = 1.644854, z²/n = 0.135277, p = 0.25;
    # centre = (0.25 + 0.067639) / 1.135277 = 0.279790,
    # half = z * sqrt(0.25 * 0.75 / 20 + 2.705543 / 1600) / 1.135277 = 0.152411
    # -> (0.12738, 0.43220).
    got = rate_interval(5, 20)
    assert (got.rate, got.k, got.n) == (0.25, 5, 20)
    assert (got.lo, got.hi) == pytest.approx((0.12738, 0.43220), abs=1e-5)
    # 0 of 10: the lower end is 0 and the upper end z² / (n + z²) = 2.705543 / 12.705543.
    zero = rate_interval(0, 10)
    assert zero.rate == 0.0 and zero.lo == 0.0
    assert zero.hi == pytest.approx(0.212942, abs=1e-6)
    full = rate_interval(10, 10)  # the mirror image
    assert full.hi == 1.0 and full.lo == pytest.approx(1 - 0.212942, abs=1e-6)


def test_rate_interval_covers_90_percent_on_average():
    # Exact coverage (binomial sum, no simulation) for n = 50 over p = 0.05 .. 0.95: Wilson's
    # averages 0.903; the Wald interval p ± z·se averages 0.882 and would fail.
    n, k = 50, np.arange(51)
    bounds = [rate_interval(int(i), n) for i in k]
    lo, hi = np.array([b.lo for b in bounds]), np.array([b.hi for b in bounds])
    coverage = [
        stats.binom.pmf(k, n, p)[(lo <= p) & (p <= hi)].sum() for p in np.linspace(0.05, 0.95, 91)
    ]
    assert abs(np.mean(coverage) - 0.90) <= 0.01


def test_rate_interval_edge_cases():
    none = rate_interval(0, 0)
    assert (none.k, none.n) == (0, 0) and _nan(none.rate, none.lo, none.hi)
    assert rate_interval(np.int64(3), np.int64(4)).k == 3  # NumPy counts are counts
    for k, n in ((3, 2), (-1, 4), (2.5, 4), (True, 4)):
        with pytest.raises(ValueError):
            rate_interval(k, n)


# ------------------------------------------------------------------------------ delta_p
def test_delta_p_is_vectorised_with_errors_in_quadrature():
    got = delta_p([0.9, 0.2, 0.5], [0.5, 0.2, None], [0.03, 0.0, 0.01], [0.04, 0.01, 0.01])
    np.testing.assert_allclose(got.delta[:2], [0.4, 0.0])
    np.testing.assert_allclose(got.mc_error, [0.05, 0.01, math.sqrt(2) * 0.01])
    assert math.isnan(got.delta[2])  # None (not evaluated) gives NaN
    scalar = delta_p(0.25, 0.75, 0.3, 0.4)
    assert float(scalar.delta) == -0.5 and float(scalar.mc_error) == pytest.approx(0.5)
