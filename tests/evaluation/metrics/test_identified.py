"""Identified quantities: invariant to null-direction moves, equal to the coefficient when
estimable; the oracle's AUC and accuracy on cases where they are known."""

from __future__ import annotations

import numpy as np
import pytest
from evalhelpers import make_idata, normal_draws, point
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from backends.spec import HierData
from evaluation.metrics.draws import extract
from evaluation.metrics.identified import (
    contrasts,
    identified_reference,
    identified_truth,
    site_predictor,
)
from evaluation.metrics.oracle import auc, difficulty, oracle_metrics
from evaluation.metrics.posterior import estimable_coefficients, recovery

J, N = 50, 500


def _collinear_data(truth=None, y=None) -> HierData:
    """X_site = [a, a, b]: s0 and s1 are not identified, alpha and s2 are."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=J), rng.normal(size=J)
    site = np.arange(N) % J
    return HierData(
        y=rng.integers(0, 2, N) if y is None else y,
        site=site,
        X_site=np.column_stack([a, a, b]),
        X_worker=rng.normal(size=(N, 2)),
        site_features=("s0", "s1", "s2"),
        worker_features=("w0", "w1"),
        worksite_ids=tuple(f"ws{j}" for j in range(J)),
        truth=truth,
        name="collinear",
    )


def _case():
    data0 = _collinear_data()
    truth = point(data0, alpha=-0.5, seed=3)
    data = _collinear_data(truth=truth)
    draws = normal_draws(data, truth, 0.1, chains=4, draws=250, seed=5)
    shifted = {k: v.copy() for k, v in draws.items()}
    c = np.random.default_rng(9).normal(3.0, 0.5, size=(4, 250))  # far off along the null
    shifted["beta_site"][..., 0] += c
    shifted["beta_site"][..., 1] -= c
    return data, truth, draws, shifted


def test_estimable_marks():
    assert estimable_coefficients(_collinear_data()) == {
        "alpha": True, "s0": False, "s1": False, "s2": True,
    }  # fmt: skip


def test_identified_quantities_ignore_null_moves_and_match_a_direct_computation():
    data, truth, draws, shifted = _case()
    plain, moved = (
        identified_truth(extract(make_idata(d, data), data), data) for d in (draws, shifted)
    )
    for key in ("site_predictor", "contrasts"):
        for stat in ("bias", "rmse", "mean_abs_z", "coverage50", "coverage90", "sd_mean"):
            assert moved[key][stat] == pytest.approx(plain[key][stat], abs=1e-9)
    # the direct computation of the site predictor
    a = draws["alpha"].reshape(-1)
    bs = draws["beta_site"].reshape(-1, 3)
    eta = a[:, None] + bs @ data.X_site.T
    true_eta = truth["alpha"] + data.X_site @ truth["beta_site"]
    direct = recovery(eta, true_eta)
    for stat in ("bias", "rmse", "coverage90"):
        assert plain["site_predictor"][stat] == pytest.approx(direct[stat])
    np.testing.assert_allclose(site_predictor(a, bs, data), eta)
    # contrasts: the coefficient itself when estimable, the identified part otherwise
    cc = contrasts(a, bs, data)
    np.testing.assert_allclose(cc[:, 3], bs[:, 2])
    np.testing.assert_allclose(cc[:, 1], (bs[:, 0] + bs[:, 1]) / 2)
    per = moved["contrasts"]["per_coefficient"]
    assert per["s0"]["identified"] is False and per["s2"]["identified"] is True
    assert per["s0"]["truth"] == pytest.approx(truth["beta_site"][:2].mean())
    assert moved["rank"] == 3 and moved["n_coefficients"] == 4
    # ... while the raw coefficient s0 is far off (z ~ 3 / 0.5 = 6)
    s0 = shifted["beta_site"][..., 0].reshape(-1)
    assert abs(s0.mean() - truth["beta_site"][0]) / s0.std() > 4


def test_identified_reference_ignores_null_moves():
    data, _, draws, shifted = _case()
    ref = make_idata(normal_draws(data, point(data, alpha=-0.5, seed=3), 0.1, seed=8), data)
    a = identified_reference(extract(make_idata(draws, data), data), extract(ref, data), data)
    b = identified_reference(extract(make_idata(shifted, data), data), extract(ref, data), data)
    assert b["site_predictor"] == pytest.approx(a["site_predictor"])
    assert 0.8 < a["site_predictor"]["sd_ratio_median"] < 1.25  # two samples of one Normal


def test_auc_against_sklearn_and_a_known_value():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 3000)
    s = np.round(rng.normal(size=3000) + y, 1)  # with ties
    assert auc(s, y) == pytest.approx(roc_auc_score(y, s))
    # binormal: AUC = Phi(d / sqrt 2); se <= 1 / sqrt(12 n) ~ 0.002 for n = 20000 each
    d, n = 1.0, 20000
    score = np.concatenate([rng.normal(d, 1, n), rng.normal(0, 1, n)])
    lab = np.r_[np.ones(n), np.zeros(n)]
    assert auc(score, lab) == pytest.approx(norm.cdf(d / np.sqrt(2)), abs=0.01)
    assert auc(np.zeros(10), np.r_[np.ones(5), np.zeros(5)]) == 0.5
    assert auc(np.arange(4.0), np.ones(4)) is None


def test_oracle_is_perfect_when_the_truth_separates_the_outcome():
    data0 = _collinear_data()
    truth = point(data0, alpha=0.0, seed=1)
    truth["beta_worker"] = np.zeros_like(truth["beta_worker"])
    eta = truth["alpha"] + (data0.X_site @ truth["beta_site"])[data0.site]
    y = (eta > 0).astype(np.int8)
    o = oracle_metrics(_collinear_data(truth=truth, y=y))
    assert o["auc"] == 1.0 and o["accuracy"] == 1.0
    assert o["baseline_accuracy"] == max(y.mean(), 1 - y.mean())
    flipped = oracle_metrics(_collinear_data(truth=truth, y=1 - y))
    assert flipped["auc"] == 0.0 and flipped["accuracy"] == 0.0


def test_difficulty_counts_and_site_logit_sd():
    truth = point(_collinear_data(), alpha=0.0, seed=1)
    y = np.zeros(N, dtype=np.int8)
    site = np.arange(N) % J
    y[site == 0] = 1  # worksite 0: only positives
    y[(site == 1) & (np.arange(N) < J)] = 1  # worksite 1: one positive of ten
    data = _collinear_data(truth=truth, y=y)
    d = difficulty(data)
    assert d["sites_all_positive"] == 1 and d["sites_no_positive"] == J - 2
    assert d["site_logit_sd"] == pytest.approx((data.X_site @ truth["beta_site"]).std())
