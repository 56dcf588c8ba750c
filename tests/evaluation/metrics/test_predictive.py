"""Predictive metrics on constructed posteriors with known answers."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from evalhelpers import make_data, make_idata, normal_draws, point
from scipy.special import expit

from backends.spec import linear_predictor
from evaluation.metrics import predictive
from evaluation.metrics.draws import extract
from evaluation.metrics.predictive import (
    calibration,
    predictive_curves,
    predictive_metrics,
    predictive_pass,
)


def _zero_centre(data, alpha=0.0):
    c = point(data, alpha=alpha, scale=0.0)
    return c


def test_perfect_predictor_has_auc_and_accuracy_one():
    data0 = make_data(n_workers=400)
    truth = point(data0, scale=20.0, seed=3)
    y = (linear_predictor(truth, data0) > 0).astype(int)
    data = make_data(n_workers=400, y=y)
    idata = make_idata(normal_draws(data, truth, sd=0.0, chains=2, draws=5), data)
    m = predictive_metrics(extract(idata, data), data)
    assert m["auc"] == 1.0
    assert m["accuracy"] == 1.0
    assert m["in_sample"] is False
    json.dumps(m, allow_nan=False)


def test_uninformative_predictor_has_auc_near_half():
    data = make_data(n_workers=2000, seed=5)  # y independent of the features
    idata = make_idata(normal_draws(data, point(data, seed=9), sd=0.3, chains=2, draws=20), data)
    m = predictive_metrics(extract(idata, data), data)
    # Under independence the AUC's sd is sqrt((n0+n1+1)/(12 n0 n1)) ~ 0.013 for 1000/1000;
    # 4 sd = 0.052 keeps the false-failure rate below 1e-4.
    assert abs(m["auc"] - 0.5) < 0.052


def test_constant_probability_is_perfectly_calibrated():
    y = np.zeros(200, int)
    y[:60] = 1  # prevalence exactly 0.3
    data = make_data(n_workers=200, y=y)
    centre = _zero_centre(data, alpha=np.log(0.3 / 0.7))
    idata = make_idata(normal_draws(data, centre, sd=0.0, chains=1, draws=3), data)
    m = predictive_metrics(extract(idata, data), data, in_sample=True)
    assert m["ece"] == pytest.approx(0.0, abs=1e-12)
    assert m["brier"] == pytest.approx(0.3 * 0.7**2 + 0.7 * 0.3**2)
    assert m["accuracy"] == pytest.approx(0.7)  # predicts 0 everywhere
    assert m["baseline_accuracy"] == pytest.approx(0.7)
    assert m["prevalence"] == pytest.approx(0.3)
    assert m["calibration"]["count"] == [200]
    assert m["in_sample"] is True


def test_lpd_by_hand_on_two_draws():
    data = make_data(n_sites=1, n_workers=3, ks=1, kw=1, y=np.array([1, 0, 1]))
    a = np.array([0.5, -1.0])  # two draws of alpha, everything else zero
    draws = {
        "alpha": a.reshape(1, 2),
        "beta_site": np.zeros((1, 2, 1)),
        "sigma_site": np.ones((1, 2)),
        "sigma_worker": np.ones((1, 2)),
        "beta_worker": np.zeros((1, 2, 1, 1)),
    }
    m = predictive_metrics(extract(make_idata(draws, data), data), data)
    p1 = (expit(0.5) + expit(-1.0)) / 2  # P(y=1) averaged over the two draws
    expected = np.mean([np.log(p1), np.log(1 - p1), np.log(p1)])
    assert m["lpd"] == pytest.approx(expected, rel=1e-12)
    assert m["n_draws"] == 2


def test_chunking_does_not_change_results(monkeypatch):
    data = make_data(n_workers=300, seed=2)
    idata = make_idata(normal_draws(data, point(data, seed=1), sd=0.5, chains=2, draws=30), data)
    whole = predictive_metrics(extract(idata, data), data)
    monkeypatch.setattr(predictive, "CHUNK_ELEMENTS", 300 * 2 * 7)  # 7 draws per chunk
    chunked = predictive_metrics(extract(idata, data), data)
    for key in ("auc", "lpd", "brier", "ece", "accuracy"):
        assert chunked[key] == pytest.approx(whole[key], rel=1e-12)


def test_single_class_gives_no_auc_with_a_reason():
    data = make_data(n_workers=50, y=np.zeros(50, int))
    idata = make_idata(normal_draws(data, point(data), sd=0.1, chains=1, draws=4), data)
    m = predictive_metrics(extract(idata, data), data)
    assert m["auc"] is None and "every evaluated outcome is 0" in m["auc_note"]
    assert m["baseline_accuracy"] == 1.0


def test_worksites_are_aligned_by_label():
    data = make_data(n_workers=200, seed=4)
    idata = make_idata(normal_draws(data, point(data, seed=2), sd=0.2, chains=1, draws=10), data)
    reordered = idata.posterior.isel(worksite=[3, 1, 0, 2], site_feature=[1, 0])
    idata2 = idata.copy()
    idata2.posterior = reordered
    assert (
        predictive_metrics(extract(idata2, data), data)["lpd"]
        == predictive_metrics(extract(idata, data), data)["lpd"]
    )


def test_curves_hold_the_numbers_of_the_figures():
    data = make_data(n_sites=5, n_workers=200, seed=6)
    idata = make_idata(normal_draws(data, point(data, seed=2), sd=0.2, chains=1, draws=60), data)
    res = predictive_pass(extract(idata, data), data)
    curves = predictive_curves(res, data)
    fpr, tpr, auc = curves.roc
    assert auc == predictive_metrics(extract(idata, data), data, res=res)["auc"]
    assert fpr[0] == tpr[0] == 0.0 and fpr[-1] == tpr[-1] == 1.0
    assert curves.calibration == calibration(res.p, data.y)
    assert curves.obs_rate == pytest.approx(data.y.mean())
    assert curves.rep_rate.shape == (60,) and curves.rep_site_rate.shape == (60, 5)
    site_rate = [data.y[data.site == j].mean() for j in range(5)]
    np.testing.assert_allclose(curves.obs_site_rate, site_rate)


def test_curves_drop_empty_worksites_and_a_one_class_roc():
    data = make_data(n_sites=4, n_workers=30, y=np.zeros(30, int))
    keep = data.site != 3  # worksite 3 has no evaluated workers
    test = data.subset(np.flatnonzero(keep))
    idata = make_idata(normal_draws(data, point(data), sd=0.1, chains=1, draws=4), data)
    curves = predictive_curves(predictive_pass(extract(idata, test), test), test)
    assert curves.roc is None
    assert curves.rep_site_rate.shape == (4, 3) and curves.obs_site_rate.tolist() == [0.0] * 3


@pytest.mark.slow
def test_paper_scale_test_set_is_fast():
    data = make_data(n_sites=120, n_workers=3300, ks=18, kw=7, seed=0)
    idata = make_idata(normal_draws(data, point(data, seed=2), sd=0.2, chains=4, draws=1000), data)
    t0 = time.perf_counter()
    predictive_metrics(extract(idata, data), data)
    assert time.perf_counter() - t0 < 30  # generous: ~3 s measured on 2 shared cores
