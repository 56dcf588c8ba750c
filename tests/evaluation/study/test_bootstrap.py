"""The seed as the unit (evaluation.study.bootstrap): the cluster bootstrap's coverage, measured
on seeded simulated studies; the exact McNemar test against hand-computed binomial tails; and
the smallest detectable difference against its formula and a simulated power."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluation.study.bootstrap import (
    cluster_bootstrap,
    detectable_difference,
    expanded_tail,
    mcnemar_exact,
    rate_bootstrap,
    ratio,
    resample_weights,
)
from evaluation.study.evidence import wilson_bounds


def _study(rng: np.random.Generator, n_seeds: int, a: float, b: float) -> pd.DataFrame:
    """One simulated study: per seed 20 (seed, claim) verdicts; the seed's error probability
    p_s ~ Beta(a, b) for NUTS (claims of one seed err together), and p_s + 0.05 for the
    method on the same seed (paired)."""
    p = rng.beta(a, b, size=n_seeds)
    return pd.DataFrame({"m": rng.binomial(20, p + 0.05), "r": rng.binomial(20, p), "n": 20.0})


def _coverage(a: float, b: float, n_studies: int = 500) -> tuple[float, float]:
    """Coverage of the 90% interval of NUTS's error rate (true a / (a + b)) and of the paired
    difference (true 0.05), over seeded studies of 8 seeds."""
    rng = np.random.default_rng(2029)
    rate, diff = [], []
    m, r = ratio("m", "n"), ratio("r", "n")
    for i in range(n_studies):
        study = _study(rng, 8, a, b)
        one = rate_bootstrap(study, "r", "n", n_boot=1000, seed=i)
        rate.append(one.lo <= a / (a + b) <= one.hi)
        paired = cluster_bootstrap(study, lambda x: m(x) - r(x), n_boot=1000, seed=i)
        diff.append(paired.lo <= 0.05 <= paired.hi)
    return float(np.mean(rate)), float(np.mean(diff))


def test_cluster_bootstrap_intervals_cover_at_their_nominal_rate():
    # 500 seeded studies of 8 seeds, error rate 0.2 with a seed-level sd of 0.056.  A correct
    # 90% interval covers 0.90; the binomial sd of the measured coverage is
    # sqrt(0.9 * 0.1 / 500) = 0.013, so ±0.04 is a 3-sd band.  (The plain percentile
    # interval, too narrow with 8 seeds, covers about 0.84 here: it fails.)
    rate, diff = _coverage(10, 40)
    assert abs(rate - 0.90) <= 0.04, rate
    assert abs(diff - 0.90) <= 0.04, diff


def test_rate_intervals_stay_honest_when_errors_are_rare():
    # A 2% error rate (Beta(1, 49)): many studies see 0 errors, where every resample has 0
    # too and a percentile interval is the point 0 (it covers ~0.78 here).  Wilson's interval
    # at the effective sample size keeps ~0.88 (measured over 1,500 studies; 300 here, sd
    # 0.017, so >= 0.83 is 3 sd below it).
    rate, _ = _coverage(1, 49, n_studies=300)
    assert rate >= 0.83, rate
    zero = rate_bootstrap(pd.DataFrame({"k": [0.0] * 8, "n": [20.0] * 8}), "k", "n")
    assert zero.estimate == 0.0 and zero.lo == 0.0 and zero.hi > 0.01  # 0 of 160, not a point


def test_expanded_percentile_tail_matches_hesterbergs_rule():
    # z_{α'/2} = sqrt(S / (S - 1)) * t_{α/2, S-1}: 10 seeds at 90% -> 1.9322 -> α'/2 = 0.0267
    assert expanded_tail(10, 0.9) == pytest.approx(stats.norm.cdf(-1.93222), abs=2e-5)
    assert expanded_tail(1000, 0.9) == pytest.approx(0.05, abs=5e-4)  # many seeds: percentile
    assert math.isnan(expanded_tail(1, 0.9))
    with pytest.raises(ValueError, match="level"):
        expanded_tail(5, 1.5)


def test_bootstrap_is_seeded_resamples_whole_seeds_and_says_how_many():
    study = pd.DataFrame({"k": [1.0, 4.0, 0.0, 2.0], "n": [10.0, 10.0, 5.0, 5.0]})
    a, b = (rate_bootstrap(study, "k", "n", seed=7) for _ in range(2))
    assert a == b  # the same generator seed, the same interval
    assert a.estimate == pytest.approx(7 / 30) and (a.k, a.n, a.n_seeds) == (7, 30, 4)
    assert a.lo < a.estimate < a.hi
    w = resample_weights(4, 50, seed=1)
    assert w.shape == (50, 4) and (w.sum(axis=1) == 4).all()  # seeds drawn whole, 4 per resample
    one = rate_bootstrap(study.head(1), "k", "n")
    assert one.estimate == 0.1 and math.isnan(one.lo) and one.n_seeds == 1
    none = rate_bootstrap(study.assign(n=0.0), "k", "n")
    assert math.isnan(none.estimate) and none.n == 0


def test_no_spread_between_seeds_a_mean_is_a_point_and_a_rate_is_binomial():
    same = pd.DataFrame({"k": [2.0, 2.0, 2.0], "n": [10.0, 10.0, 10.0]})
    mean = cluster_bootstrap(same, ratio("k", "n"))
    assert (mean.lo, mean.hi, mean.se) == pytest.approx((0.2, 0.2, 0.0))
    # a proportion cannot be surer than its binomial: Wilson's at n = 30 (design effect 1)
    rate = rate_bootstrap(same, "k", "n")
    assert (rate.lo, rate.hi) == pytest.approx(wilson_bounds(0.2, 30.0))


def test_clustered_errors_widen_the_rate_interval_by_the_design_effect():
    # the same 40 errors of 200: spread evenly over 10 seeds, or 20 in two seeds and 0 in the
    # rest: the seeds move together in the second, so its interval is wider
    even = pd.DataFrame({"k": [4.0] * 10, "n": [20.0] * 10})
    lumpy = pd.DataFrame({"k": [20.0, 20.0] + [0.0] * 8, "n": [20.0] * 10})
    a, b = rate_bootstrap(even, "k", "n"), rate_bootstrap(lumpy, "k", "n")
    assert a.estimate == b.estimate == 0.2
    assert (b.hi - b.lo) > 2 * (a.hi - a.lo)


def test_mcnemar_is_the_exact_binomial_test_of_the_discordant_pairs():
    a = [1, 1, 1, 1, 1, 0, 0, 1]
    b = [0, 0, 0, 0, 0, 0, 0, 1]  # 5 pairs only a, none only b, 3 concordant
    got = mcnemar_exact(a, b)
    assert (got.only_a, got.only_b, got.n_pairs) == (5, 0, 8)
    assert got.p_value == pytest.approx(2 * 0.5**5)  # 0.0625
    mixed = mcnemar_exact([1, 1, 1, 0], [0, 0, 0, 1])  # 3 vs 1: 2 * P(X >= 3 | 4, 1/2)
    assert mixed.p_value == pytest.approx(2 * 5 / 16)
    assert mcnemar_exact([0, 1], [0, 1]).p_value == 1.0  # no discordant pair
    with pytest.raises(ValueError, match="same number"):
        mcnemar_exact([1, 0], [1])


def test_detectable_difference_formula_and_its_floor_without_variance():
    q = stats.t.ppf(0.95, 9) + stats.t.ppf(0.8, 9)
    assert detectable_difference(0.02, 10) == pytest.approx(q * 0.02)
    # no variance seen (0/100 vs 0/100): the Bernoulli variance of the shift itself,
    # δ = q²/N / (1 + q²/N) = 0.0687 with 10 seeds and 100 pairs
    got = detectable_difference(0.0, 10, n_pairs=100)
    assert got == pytest.approx((q * q / 100) / (1 + q * q / 100))
    assert 0.06 < got < 0.08
    assert detectable_difference(0.03, 10, n_pairs=100) > detectable_difference(0.03, 10)
    assert math.isnan(detectable_difference(0.02, 1))
    assert math.isnan(detectable_difference(0.0, 10))  # no variance and no Bernoulli model


def test_a_difference_of_the_detectable_size_is_found_about_80_percent_of_the_time():
    # 400 seeded studies of 10 seeds whose per-seed paired difference is Normal(δ, 0.1), δ the
    # detectable difference for SE = 0.1 / sqrt(10).  The normal approximation with t
    # quantiles gives ~0.8 (the noncentral t: 0.78); binomial sd 0.02, so ±0.07 is 3.5 sd.
    delta = detectable_difference(0.1 / math.sqrt(10), 10)
    rng = np.random.default_rng(80)
    found = []
    for i in range(400):
        d = pd.DataFrame({"d": rng.normal(delta, 0.1, size=10), "n": 1.0})
        found.append(cluster_bootstrap(d, ratio("d", "n"), n_boot=1000, seed=i).lo > 0)
    assert abs(np.mean(found) - 0.8) <= 0.07, np.mean(found)
