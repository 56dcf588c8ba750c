"""Posterior vs truth and vs a reference, on constructed draws with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from evalhelpers import make_data, make_idata, normal_draws, point

from evaluation.metrics.distance import wasserstein_1d
from evaluation.metrics.draws import extract
from evaluation.metrics.posterior import (
    compare_to_reference,
    interval_coverage,
    posterior_section,
    recovery,
    sigma_collapse,
    wasserstein,
    yao_points,
)


def _calibrated_case(n_sites=200, kw=5, chains=2, draws=500, seed=0, s=0.3):
    """Truth ~ N(mu, s) and posterior draws ~ N(mu, s): a calibrated posterior."""
    rng = np.random.default_rng(seed)
    shape_data = make_data(n_sites=n_sites, n_workers=2 * n_sites, kw=kw, seed=seed)
    mu = point(shape_data, seed=seed + 1)
    mu["sigma_site"], mu["sigma_worker"] = np.asarray(5.0), np.asarray(5.0)  # far from 0
    truth = {k: v + s * rng.normal(size=np.shape(v)) for k, v in mu.items()}
    data = make_data(n_sites=n_sites, n_workers=2 * n_sites, kw=kw, seed=seed, truth=truth)
    return data, make_idata(normal_draws(data, mu, s, chains, draws, seed + 2), data)


def test_coverage_of_a_calibrated_posterior_is_nominal():
    data, idata = _calibrated_case()
    sec = posterior_section(extract(idata, data), data)
    json.dumps(sec, allow_nan=False)
    bw = sec["recovery"]["beta_worker"]
    assert bw["n"] == 1000
    # 1000 independent elements: binomial sd of a 90% coverage is sqrt(.9*.1/1000) = 0.0095,
    # of a 50% coverage 0.0158; 4 sd (plus a little for 1000-draw quantile noise) as tolerance.
    assert bw["coverage90"] == pytest.approx(0.90, abs=0.04)
    assert bw["coverage50"] == pytest.approx(0.50, abs=0.065)
    assert sec["beta_worker_coverage90"] == bw["coverage90"]
    # posterior mean = mu, so z = -(truth - mu)/s ~ N(0, 1): E|z| = sqrt(2/pi) = 0.798; the sd
    # of a mean of 1000 |z| is 0.603/sqrt(1000) = 0.019, so 4 sd = 0.08.
    assert bw["mean_abs_z"] == pytest.approx(np.sqrt(2 / np.pi), abs=0.08)
    assert sec["summary"]["alpha"]["truth"] == pytest.approx(float(data.truth["alpha"]))
    assert set(sec["beta_site"]) == set(data.site_features)


def test_truth_is_aligned_by_label_not_position():
    data, idata = _calibrated_case(n_sites=20, kw=2, draws=100)
    base = posterior_section(extract(idata, data), data)
    shuffled = idata.copy()
    shuffled.posterior = idata.posterior.isel(worksite=np.arange(20)[::-1], worker_feature=[1, 0])
    again = posterior_section(extract(shuffled, data), data)
    assert again["recovery"] == base["recovery"]


def test_real_data_without_truth_has_no_recovery():
    data = make_data()
    idata = make_idata(normal_draws(data, point(data), 0.1, 2, 20), data)
    sec = posterior_section(extract(idata, data), data)
    assert sec["recovery"] is None and sec["beta_worker_coverage90"] is None
    assert "truth" not in sec["summary"]["sigma_worker"]


def test_sigma_collapse_detects_a_collapsed_scale():
    data = make_data()
    c = point(data)
    c["sigma_worker"] = np.asarray(0.001)
    collapsed = make_idata(
        normal_draws(data, c, {**dict.fromkeys(c, 0.1), "sigma_worker": 0.001}, 2, 200), data
    )
    ref = make_idata(normal_draws(data, point(data), 0.1, 2, 200, seed=1), data)
    out = sigma_collapse(
        extract(collapsed), reference=extract(ref), truth={"sigma_worker": 0.5}, eps=0.01
    )
    sw = out["sigma_worker"]
    assert sw["method"]["p_below_eps"] == 1.0  # |N(0.001, 0.001)| < 0.01 always in practice
    assert sw["reference"]["p_below_eps"] == 0.0
    assert sw["ratio_median"] < 0.01 and sw["truth"] == 0.5
    assert out["sigma_site"]["truth"] is None
    assert sigma_collapse(extract(collapsed))["sigma_site"]["reference"] is None


def test_identical_posteriors_compare_as_identical():
    _data, idata = _calibrated_case(n_sites=10, kw=2, draws=200)
    out = compare_to_reference(extract(idata), extract(idata))
    for block in out["blocks"].values():
        assert block["sme_max_abs"] == 0.0 and block["sd_ratio_median"] == 1.0
        assert block["wasserstein_mean"] == 0.0
        assert block["corr_frobenius"] in (None, 0.0)
    assert out["all"]["corr_frobenius"] == pytest.approx(0.0, abs=1e-12)
    assert out["reference_flag"] is None
    assert wasserstein(extract(idata), extract(idata)) == dict.fromkeys(
        [*out["blocks"], "all"], 0.0
    )


def test_too_narrow_posterior_has_sd_ratio_below_one():
    data = make_data(n_sites=10, kw=2)
    c = point(data)
    ref = make_idata(normal_draws(data, c, 0.2, 4, 500, seed=1), data)
    narrow = make_idata(normal_draws(data, c, 0.1, 4, 500, seed=2), data)
    bw = compare_to_reference(extract(narrow), extract(ref))["blocks"]["beta_worker"]
    # sd estimated from 2000 draws has relative error ~1/sqrt(2*2000) = 1.6%; 20 elements
    assert 0.45 < bw["sd_ratio_min"] <= bw["sd_ratio_max"] < 0.55
    assert bw["sme_max_abs"] < 0.2  # |mean error| / 0.2 with mean error sd ~0.2/sqrt(2000)


def test_wasserstein_of_a_shift_is_the_shift():
    data = make_data(n_sites=3, kw=1)
    d = normal_draws(data, point(data), 0.3, 2, 50)
    shifted = {k: (v + 0.25 if k == "beta_site" else v) for k, v in d.items()}
    w = wasserstein(
        extract(make_idata(shifted, data)), extract(make_idata(d, data)), var_names=["beta_site"]
    )
    assert w["beta_site"] == pytest.approx(0.25, rel=1e-12)


def test_correlation_distance_sees_missing_correlation():
    data = make_data(n_sites=2, ks=2, kw=1)
    rng = np.random.default_rng(0)
    d = normal_draws(data, point(data), 0.3, 4, 1000)
    z = rng.normal(size=(4, 1000))
    corr = dict(d)
    corr["beta_site"] = np.stack([z, 0.9 * z + np.sqrt(1 - 0.81) * rng.normal(size=z.shape)], -1)
    out = compare_to_reference(
        extract(make_idata(d, data)), extract(make_idata(corr, data)), ["beta_site"]
    )
    # ||C_ref - I||_F = sqrt(2) * 0.9; each sample correlation has sd ~ (1-r^2)/sqrt(4000)
    assert out["blocks"]["beta_site"]["corr_frobenius"] == pytest.approx(np.sqrt(2) * 0.9, abs=0.05)


def test_reference_mismatch_names_what_differs():
    data = make_data(n_sites=3)
    idata = make_idata(normal_draws(data, point(data), 0.3, 1, 10), data)
    other = make_data(n_sites=3)
    object.__setattr__(other, "site_features", ("s0", "income"))
    ref = make_idata(normal_draws(data, point(data), 0.3, 1, 10), other)
    with pytest.raises(
        ValueError,
        match=r"beta_site: coordinate site_feature differs: "
        r"reference has \['income'\] missing \['s1'\]",
    ):
        compare_to_reference(extract(idata), extract(ref))
    with pytest.raises(ValueError, match=r"reference lacks \['sigma_site'\]"):
        full = extract(idata)
        short = full._replace(params={k: v for k, v in full.params.items() if k != "sigma_site"})
        compare_to_reference(full, short)
    # a posterior without a canonical variable is refused once, when its draws are extracted
    with pytest.raises(ValueError, match=r"posterior lacks variables \['sigma_site'\]"):
        extract(ref.posterior.drop_vars("sigma_site"))


def test_reference_in_another_order_is_aligned():
    _data, idata = _calibrated_case(n_sites=6, kw=2, draws=50)
    ref = idata.copy()
    ref.posterior = idata.posterior.isel(worksite=[5, 4, 3, 2, 1, 0]).transpose(
        "chain", "draw", "worker_feature", "worksite", ...
    )
    assert compare_to_reference(extract(idata), extract(ref))["all"]["sme_max_abs"] == 0.0


def test_interval_coverage_counts_closed_central_intervals():
    draws = np.arange(101.0)[:, None] * np.ones((1, 5))  # quantiles: 5, 25, 75, 95
    assert interval_coverage(draws, [25.0, 75.0, 24.9, 75.1, 50.0], 0.5) == pytest.approx(0.6)
    assert interval_coverage(draws, [5.0, 95.0, 4.9, 95.1, 50.0], 0.9) == pytest.approx(0.6)
    # any trailing shape: (S, J, K) draws against (J, K) truth, element by element
    grid = np.arange(101.0)[:, None, None] + np.array([[0.0, 100.0], [200.0, 300.0]])
    assert interval_coverage(grid, [[50.0, 150.0], [0.0, 0.0]], 0.9) == 0.5
    with pytest.raises(ValueError, match="coverage level"):
        interval_coverage(draws, np.zeros(5), 1.0)


def test_recovery_coverage_is_interval_coverage():
    rng = np.random.default_rng(7)
    draws = rng.integers(0, 5, size=(101, 300)).astype(float)  # ties at the quantiles
    truth = rng.integers(0, 5, size=300).astype(float)
    rec = recovery(draws, truth)
    assert rec["coverage50"] == interval_coverage(draws, truth, 0.5)
    assert rec["coverage90"] == interval_coverage(draws, truth, 0.9)
    q05, q25, q75, q95 = np.quantile(draws, [0.05, 0.25, 0.75, 0.95], axis=0)
    assert rec["coverage90"] == np.mean((q05 <= truth) & (truth <= q95))
    assert rec["coverage50"] == np.mean((q25 <= truth) & (truth <= q75))


def test_yao_points_of_a_too_narrow_posterior():
    data = make_data(n_sites=10, kw=2)
    ref = make_idata(normal_draws(data, point(data), 0.2, 2, 100, seed=1), data, None, "ref_nuts")
    narrow = make_idata(normal_draws(data, point(data), 0.1, 2, 100, seed=2), data)
    pts = yao_points(extract(narrow), extract(ref))
    n = 1 + 2 + 1 + 1 + 10 * 2  # alpha, beta_site, sigma_site, sigma_worker, beta_worker
    assert pts.sme.shape == pts.log_sd_ratio.shape == (n,) and len(pts.blocks) == n
    assert list(dict.fromkeys(pts.blocks)) == list(
        compare_to_reference(extract(narrow), extract(ref))["blocks"]
    )
    assert (pts.method, pts.reference) == ("test_nuts", "ref_nuts")
    # sd 0.1 against 0.2: log ratio near log(1/2); 200 draws give a relative sd error ~5%
    assert np.median(pts.log_sd_ratio) == pytest.approx(np.log(0.5), abs=0.15)


def test_vectorised_wasserstein_equals_scipy():
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(37, 4)), rng.standard_t(3, size=(50, 4))
    expected = [wasserstein_distance(a[:, e], b[:, e]) for e in range(4)]
    np.testing.assert_allclose(wasserstein_1d(a, b), expected, rtol=1e-10)
    np.testing.assert_allclose(wasserstein_1d(a, a[::-1]), 0.0, atol=1e-15)
