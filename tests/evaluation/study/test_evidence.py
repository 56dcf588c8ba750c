"""The statistics of issue 22's evidence: intervals over seeds, Wilson rates, ΔP, paired
floors and truth scores (evaluation.study.evidence).  Pure NumPy / pandas: no fit, no file."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluation.study.evidence import (
    CLAIM_COLUMNS,
    delta_p,
    flip_totals,
    paired_floor,
    rate_interval,
    seed_interval,
    truth_scores,
)


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


# ------------------------------------------------------------------------------ paired floor
MC = 0.01


def _row(seed, label, name, p, verdict, counted_with=None):
    mc = MC if p is not None else None
    return {"replicate": seed, "method_label": label, "name": name, "probability": p,
            "mc_error": mc, "verdict": verdict, "counted_with": counted_with}  # fmt: skip


def _table() -> pd.DataFrame:
    """Seeds 0-3 with mean-field (mf), NUTS and a second NUTS chain seed (nuts2); seed 4 lacks
    nuts2, so it cannot be paired.

    a  NUTS and nuts2 credible (0.99, 0.98); mf contradicted (0.02) in seeds 0, 1, credible
       (0.97) in 2, 3: flips 2 of 4, the floor 0 of 4.
    b  mf "not evaluated" (no P) everywhere: never a flip, nothing to compare.
    c  mf "not identified" everywhere; nuts2 undecided (0.94) in seed 0, else credible.
    d  a near-duplicate of a (counted with it), behaving like a.
    """
    rows = []
    for s in range(5):
        flipped = s < 2
        mf = (0.02, "contradicted") if flipped else (0.97, "credible")
        rows += [_row(s, "nuts", "a", 0.99, "credible"), _row(s, "mf", "a", *mf)]
        rows += [_row(s, "nuts", "b", 0.99, "credible"), _row(s, "mf", "b", None, "not evaluated")]
        rows += [_row(s, "nuts", "c", 0.96, "credible"), _row(s, "mf", "c", None, "not identified")]
        rows += [_row(s, "nuts", "d", 0.99, "credible", "a"), _row(s, "mf", "d", *mf, "a")]
        if s < 4:
            c2 = (0.94, "undecided") if s == 0 else (0.96, "credible")
            rows += [_row(s, "nuts2", "a", 0.98, "credible"), _row(s, "nuts2", "c", *c2),
                     _row(s, "nuts2", "b", 0.98, "credible"),
                     _row(s, "nuts2", "d", 0.98, "credible", "a")]  # fmt: skip
    return pd.DataFrame(rows)


def test_paired_floor_sets_a_method_beside_nuts_against_nuts_on_the_same_seeds():
    got = paired_floor(_table(), "mf", "nuts", "nuts2")
    assert list(got) == ["a", "b", "c", "d"]
    a = got["a"]
    # seed 4 has no nuts2 and is left out: every number rests on seeds 0-3
    assert a.delta.n == a.abs_delta.n == a.abs_delta_floor.n == 4
    assert a.delta.mean == pytest.approx(-0.495)  # (-0.97 - 0.97 - 0.02 - 0.02) / 4
    assert a.abs_delta.mean == pytest.approx(0.495)
    assert a.abs_delta_floor.mean == pytest.approx(0.01)
    assert a.excess_abs_delta.mean == pytest.approx(0.485)
    assert a.mc_error == pytest.approx(math.sqrt(2) * MC)
    assert (a.flips.k, a.flips.n) == (2, 4) and a.flips == rate_interval(2, 4)
    assert (a.floor_flips.k, a.floor_flips.n) == (0, 4)
    per_seed = np.array([1.0, 1.0, 0.0, 0.0])  # flip(method) - flip(floor) per seed
    lo, hi = stats.t.interval(0.9, df=3, loc=0.5, scale=stats.sem(per_seed))
    assert a.excess_flips.mean == 0.5 and a.excess_flips.n == 4
    assert (a.excess_flips.lo, a.excess_flips.hi) == pytest.approx((lo, hi))
    c = got["c"]  # the floor flips (credible -> undecided in seed 0); the method cannot
    assert (c.floor_flips.k, c.floor_flips.n) == (1, 4)
    assert c.flips.n == 0 and c.excess_flips.n == 0


def test_a_claim_not_evaluated_or_not_identified_is_never_a_flip():
    got = paired_floor(_table(), "mf", "nuts", "nuts2")
    for name in ("b", "c"):  # NUTS credible, the method gives no verdict
        flips = got[name].flips
        assert (flips.k, flips.n) == (0, 0) and math.isnan(flips.rate)
        assert got[name].abs_delta.n == 0 and math.isnan(got[name].abs_delta.mean)
    assert got["b"].floor_flips == rate_interval(0, 4)  # the floor still compares


def test_flip_totals_count_a_counted_with_group_once():
    # per seed, mf flips a and d (d counted with a): 1, 1, 0, 0; the floor flips c in seed 0
    got = flip_totals(_table(), "mf", "nuts", "nuts2")
    assert got.flips.mean == 0.5 and got.flips.n == 4
    assert got.floor_flips.mean == 0.25
    assert got.excess.mean == 0.25  # per seed 0, 1, 0, 0
    d = paired_floor(_table(), "mf", "nuts", "nuts2")["d"]
    assert d.flips.k == 2  # per claim, d's own flips still show


def test_paired_floor_reads_any_label_column_and_checks_its_table():
    table = _table().rename(columns={"method_label": "run_label"})
    got = paired_floor(table, "mf", "nuts", "nuts2", label_column="run_label")
    assert got["a"].flips.k == 2
    for column in CLAIM_COLUMNS:
        with pytest.raises(ValueError, match=column):
            paired_floor(_table().drop(columns=column), "mf", "nuts", "nuts2")
    two = _table().assign(scenario=lambda t: np.arange(len(t)) % 2)
    with pytest.raises(ValueError, match="scenarios"):
        paired_floor(two, "mf", "nuts", "nuts2")
    with pytest.raises(ValueError, match="repeats"):
        paired_floor(pd.concat([_table(), _table().head(1)]), "mf", "nuts", "nuts2")
    assert paired_floor(_table(), "mf", "nuts", "absent") == {}  # no seed holds all three


# ------------------------------------------------------------------------------ truth scores
def test_a_false_claim_called_credible_is_false_credible():
    got = truth_scores([0.99, 0.50, 0.99, 0.20], [False, False, True, True], 0.95)
    assert (got.false_credible.k, got.false_credible.n) == (1, 2)
    assert (got.power.k, got.power.n) == (1, 2)
    assert got.false_credible == rate_interval(1, 2)


def test_credible_is_the_claims_judges_verdict_with_its_monte_carlo_margin():
    # 0.96 is within 2 x 0.01 of 0.95: undecided, so not credible (and not false-credible)
    assert truth_scores([0.96], [False], 0.95, mc_error=[0.01]).false_credible.k == 0
    assert truth_scores([0.96], [False], 0.95).false_credible.k == 1
    assert truth_scores([0.96], [True], 0.95, mc_error=[0.001]).power.k == 1


def test_brier_of_perfect_and_of_coin_flip_forecasts():
    truth = [True, False, True, False]
    perfect = truth_scores([1.0, 0.0, 1.0, 0.0], truth, 0.95, seeds=[0, 0, 1, 1])
    assert perfect.brier.mean == 0.0 and perfect.brier.n == 2
    coin = truth_scores([0.5] * 4, truth, 0.95, seeds=[0, 0, 1, 1])
    assert coin.brier.mean == 0.25 and coin.brier.lo == pytest.approx(0.25)
    # averaged per seed, then over seeds (0 and 0.25), not pooled over claims (1/12)
    mixed = truth_scores([1.0, 1.0, 0.5], [1, 1, 0], 0.95, seeds=["s0", "s0", "s1"])
    assert mixed.brier.mean == pytest.approx(0.125) and mixed.brier.n == 2
    assert truth_scores([0.5, 0.5], [1, 0], 0.95).brier.n == 1  # no seeds: one seed


def test_truth_scores_leave_out_unknown_truth_and_unevaluated_claims_and_count_them():
    p = [0.99, 0.99, 0.99, 0.01, np.nan, None]
    truth = [True, None, np.nan, False, False, True]
    got = truth_scores(p, truth, 0.95)
    assert (got.n_unknown, got.n_not_evaluated) == (2, 2)
    assert (got.power.k, got.power.n) == (1, 1)
    assert (got.false_credible.k, got.false_credible.n) == (0, 1)
    assert got.brier.mean == pytest.approx((0.01**2 + 0.01**2) / 2)


def test_truth_scores_edge_cases():
    none = truth_scores([np.nan, np.nan], [True, False], 0.95)  # nothing evaluated, no warning
    assert none.false_credible.n == none.power.n == none.brier.n == 0
    assert _nan(none.brier.mean, none.power.rate)
    empty = truth_scores([], [], 0.95)
    assert empty.n_unknown == empty.n_not_evaluated == 0 and empty.brier.n == 0
    with pytest.raises(ValueError, match="truth"):
        truth_scores([0.5], ["yes"], 0.95)
    with pytest.raises(ValueError, match="one entry"):
        truth_scores([0.5, 0.6], [True], 0.95)
