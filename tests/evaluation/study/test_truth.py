"""Verdicts against the truth (evaluation.study.truth), on hand-made claims tables: errors both
ways, the Monte Carlo margin, sharpened verdicts, calibration bins and error, what is left out
and counted, and the contestable rule."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from evaluation.claims.load import Thresholds
from evaluation.study.truth import (
    CALIBRATION_BINS,
    calibration,
    contestable_claims,
    outcomes,
    truth_scores,
)

TH = Thresholds(0.95, 0.05)


def row(seed, label, name, p, status, mc=0.005, kind="sign", failed=False):
    return {"replicate": str(seed), "method_label": label, "name": name, "kind": kind,
            "probability": p, "mc_error": mc, "truth_status": status, "failed": failed}  # fmt: skip


def table(rows) -> pd.DataFrame:
    return pd.DataFrame(rows)


def test_a_contradicted_though_true_verdict_is_a_confident_error():
    # vi: credible and false (a), contradicted and true (b), credible and true (c),
    # undecided and false (d).  Two confident errors of the three confident verdicts.
    rows = [row(0, "vi", "a", 0.99, "false"), row(0, "vi", "b", 0.007, "true"),
            row(0, "vi", "c", 0.98, "true"), row(0, "vi", "d", 0.5, "false")]  # fmt: skip
    rows += [row(0, "nuts", n, 0.5, "true") for n in "abcd"]
    pairs = outcomes(table(rows), "vi", "nuts", TH)
    got = truth_scores(pairs)
    assert (got.n_credible_false, got.n_contradicted_true) == (1, 1)
    assert (got.confident_error.k, got.confident_error.n) == (2, 3)
    assert got.confident_error.estimate == pytest.approx(2 / 3)
    assert (got.credible_false.k, got.credible_false.n) == (1, 2)  # of the credible calls
    assert (got.power.k, got.power.n) == (1, 2)  # c of the true b, c
    # all four were undecided under NUTS: the three confident verdicts are sharpened
    assert (got.sharpened_error.k, got.sharpened_error.n) == (2, 3)
    brier = ((0.99 - 0) ** 2 + (0.007 - 1) ** 2 + (0.98 - 1) ** 2 + 0.5**2) / 4
    assert got.brier.estimate == pytest.approx(brier)


def test_the_verdict_is_the_judges_with_its_monte_carlo_margin():
    # 0.96 lies within 2 x 0.01 of 0.95: undecided, so no confident error; with a tiny error
    # the same P is credible, and false
    wide = [row(0, "vi", "a", 0.96, "false", mc=0.01), row(0, "nuts", "a", 0.5, "false")]
    narrow = [row(0, "vi", "a", 0.96, "false", mc=0.001), row(0, "nuts", "a", 0.5, "false")]
    assert truth_scores(outcomes(table(wide), "vi", "nuts", TH)).confident_error.n == 0
    assert truth_scores(outcomes(table(narrow), "vi", "nuts", TH)).confident_error.k == 1
    # a missing Monte Carlo error counts as none
    none = [row(0, "vi", "a", 0.96, "false", mc=None), row(0, "nuts", "a", 0.5, "false")]
    assert truth_scores(outcomes(table(none), "vi", "nuts", TH)).confident_error.k == 1


def test_only_true_and_false_are_scored_and_the_rest_is_counted():
    rows = [row(0, "vi", "a", 0.99, "true"), row(0, "vi", "b", 0.99, "not applicable"),
            row(0, "vi", "c", 0.99, "unknown"), row(0, "vi", "d", None, "false"),
            row(0, "vi", "e", 0.01, "false")]  # fmt: skip
    got = truth_scores(outcomes(table(rows), "vi", "nuts", TH))
    assert got.n_pairs == 2
    assert (got.n_not_applicable, got.n_unknown, got.n_not_evaluated) == (1, 1, 1)
    assert (got.confident_error.k, got.confident_error.n) == (0, 2)
    # a "not applicable" claim called credible is no error: the claim has no truth to miss
    assert got.n_credible_false == 0


def test_sharpened_means_confident_where_the_nuts_run_of_the_same_seed_is_undecided():
    rows = [
        row(0, "nuts", "a", 0.6, "false"), row(0, "vi", "a", 0.99, "false"),  # sharpened, wrong
        row(1, "nuts", "a", 0.99, "false"), row(1, "vi", "a", 0.99, "false"),  # not sharpened
        row(2, "nuts", "a", 0.5, "true"), row(2, "vi", "a", 0.99, "true"),  # sharpened, right
        row(3, "vi", "a", 0.99, "false"),  # no NUTS run in seed 3: not sharpened
    ]  # fmt: skip
    got = truth_scores(outcomes(table(rows), "vi", "nuts", TH))
    assert (got.sharpened_error.k, got.sharpened_error.n) == (1, 2)
    assert (got.confident_error.k, got.confident_error.n) == (3, 4)


def test_calibration_bins_hold_p_against_the_fraction_true():
    # P values on and between the edges: 0.05 opens the second bin, 0.95 and 1.0 the last
    ps = [0.0, 0.04, 0.05, 0.2, 0.3, 0.6, 0.8, 0.95, 1.0, 0.97]
    truth = ["false", "false", "true", "false", "true", "true", "false", "true", "true", "false"]
    rows = [row(i % 3, "vi", f"c{i}", p, t)
            for i, (p, t) in enumerate(zip(ps, truth, strict=True))]  # fmt: skip
    bins = calibration(outcomes(table(rows), "vi", "nuts", TH))
    assert [(b.lo, b.hi) for b in bins] == list(itertools.pairwise(CALIBRATION_BINS))
    assert [b.n for b in bins] == [2, 2, 1, 1, 1, 3]
    assert bins[0].mean_p == pytest.approx(0.02) and bins[0].fraction_true.estimate == 0.0
    assert bins[1].mean_p == pytest.approx(0.125) and bins[1].fraction_true.estimate == 0.5
    assert bins[5].mean_p == pytest.approx((0.95 + 1.0 + 0.97) / 3)
    assert bins[5].fraction_true.estimate == pytest.approx(2 / 3)
    assert (bins[5].fraction_true.k, bins[5].fraction_true.n) == (2, 3)
    # calibration error: Σ_b |ΣP_b − Σtruth_b| / n
    gaps = [abs(0.04 - 0), abs(0.25 - 1), abs(0.3 - 1), abs(0.6 - 1), abs(0.8 - 0),
            abs(2.92 - 2)]  # fmt: skip
    got = truth_scores(outcomes(table(rows), "vi", "nuts", TH)).calibration_error
    assert got.estimate == pytest.approx(sum(gaps) / 10)


def test_calibration_intervals_come_from_the_seeds_and_do_not_collapse():
    rng = np.random.default_rng(3)
    rows = []
    for seed in range(6):
        for i, p in enumerate(rng.uniform(0.5, 0.75, size=8)):
            rows.append(row(seed, "vi", f"c{i}", p, "true" if rng.random() < p else "false"))
    b = calibration(outcomes(table(rows), "vi", "nuts", TH))[3]  # [0.5, 0.75)
    assert b.n == 48 and b.fraction_true.n_seeds == 6
    assert b.fraction_true.lo < b.fraction_true.estimate < b.fraction_true.hi
    assert math.isnan(calibration(outcomes(table(rows), "vi", "nuts", TH))[0].mean_p)


def test_contestable_claims_follow_the_rule_fixed_before_the_runs():
    rows = []
    for seed in range(3):
        rows += [
            row(seed, "nuts", "varies", 0.99, "true" if seed else "false"),
            row(seed, "nuts", "undecided", 0.6 if seed == 2 else 0.99, "true"),
            row(seed, "nuts", "settled", 0.99, "true"),
            row(seed, "nuts", "no_truth", 0.99, "not applicable"),
            row(seed, "vi", "settled", 0.5, "true"),  # the method's doubt does not count
        ]  # fmt: skip
    rule = contestable_claims(table(rows), "nuts", TH)
    assert rule.claims == ("varies", "undecided")
    assert rule.excluded == ("settled", "no_truth")
    assert rule.varies == ("varies",) and rule.nuts_undecided == ("undecided",)
    # undecided by the Monte Carlo margin alone counts too (0.96 ± 0.01 at 0.95)
    margin = [row(0, "nuts", "m", 0.96, "true", mc=0.01), row(1, "nuts", "m", 0.99, "true")]
    assert contestable_claims(table(margin), "nuts", TH).claims == ("m",)
