"""Noise floors of cross-method numbers (issue 13 item 4) and the effective n of a coverage band,
on hand-made posteriors whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest
from evalhelpers import make_data, make_idata, normal_draws, point

from evaluation.metrics import floors
from evaluation.metrics.draws import extract
from evaluation.metrics.posterior import compare_to_reference
from evaluation.report.headline import coverage_verdict

DATA = make_data(n_sites=30, ks=2, kw=3)
CENTRE = point(DATA)


def posterior(sd: float, chains: int, draws: int, seed: int):
    return make_idata(normal_draws(DATA, CENTRE, sd, chains=chains, draws=draws, seed=seed), DATA)


@pytest.fixture(scope="module")
def ref():
    return posterior(1.0, chains=4, draws=500, seed=1)


def test_split_chains_gives_disjoint_halves(ref):
    a, b = floors.split_chains(extract(ref))
    assert a.n_chains == b.n_chains == 2
    np.testing.assert_array_equal(a.params["alpha"], ref.posterior["alpha"].values[:2])
    np.testing.assert_array_equal(b.params["alpha"], ref.posterior["alpha"].values[2:])
    one = ref.posterior.isel(chain=[0])  # one chain: first vs second half of its draws
    a1, b1 = floors.split_chains(extract(one))
    assert a1.n_draws == b1.n_draws == 250
    np.testing.assert_array_equal(b1.params["alpha"], one["alpha"].values[:, 250:])
    np.testing.assert_array_equal(b1.params["beta_worker"], one["beta_worker"].values[:, 250:])
    with pytest.raises(ValueError, match="cannot split"):
        floors.split_chains(extract(one.isel(draw=slice(0, 3))))


def test_thin_to_matches_the_method_sample_size(ref):
    a, _ = floors.split_chains(extract(ref))
    assert floors.thin_to(a, 200).n_samples == 200
    assert floors.thin_to(a, 10_000) is a
    # the floor of a 200-draw method is computed with a 200-draw first half
    got = floors.floor_of(compare_to_reference, extract(ref), n_draws=200)
    assert got["n_draws"] == 200 and got["ref_n_draws"] == 1000


def test_floor_of_two_exact_samples_is_their_own_noise(ref):
    """An exact second sample sits at its floor: every number within FLOOR_FACTOR x the floor,
    and the floor is a real noise level (sd ratio near 1, small but non-zero distances)."""
    exact = posterior(1.0, chains=4, draws=250, seed=2)
    out = floors.compare_with_floor(compare_to_reference, extract(exact), extract(ref))
    bw = out["blocks"]["beta_worker"]
    assert not out["all"]["beyond_floor"] and not bw["beyond_floor"]
    for stat in floors.FLOOR_STATS:
        assert bw[f"{stat}_beyond_floor"] is False, stat
    assert abs(np.log(bw["sd_ratio_median_floor"])) < 0.05
    assert 0.0 < bw["sme_mean_abs_floor"] < 0.1
    # the value and its floor are the same size: noise, not a difference
    for stat in ("sme_mean_abs", "wasserstein_std_mean", "corr_frobenius"):
        assert 0.5 < bw[stat] / bw[f"{stat}_floor"] < 2.0, stat
    assert out["floor"]["method"] == "chains 0-1 vs 2-3 of the exact posterior"


def test_sd_ratio_half_is_beyond_the_floor(ref):
    narrow = posterior(0.5, chains=4, draws=250, seed=3)
    bw = floors.compare_with_floor(compare_to_reference, extract(narrow), extract(ref))["blocks"][
        "beta_worker"
    ]
    assert bw["sd_ratio_median"] == pytest.approx(0.5, abs=0.03)
    assert bw["sd_ratio_median_beyond_floor"] is True
    assert bw["wasserstein_std_mean_beyond_floor"] is True
    assert bw["sme_mean_abs_beyond_floor"] is False  # the means agree: not flagged
    assert bw["beyond_floor"] is True


def test_beyond_floor_uses_log_distance_for_ratios():
    assert floors.beyond_floor("sd_ratio_median", 0.5, 0.95)
    assert floors.beyond_floor("sd_ratio_median", 2.0, 0.95)  # too wide counts as well
    assert not floors.beyond_floor("sd_ratio_median", 0.97, 0.95)
    assert floors.beyond_floor("corr_frobenius", 10.0, 3.0)
    assert not floors.beyond_floor("corr_frobenius", 5.0, 3.0)
    assert floors.beyond_floor("corr_frobenius", None, 3.0) is None


def test_no_floor_without_two_halves():
    one = posterior(1.0, chains=1, draws=3, seed=4)
    out = floors.compare_with_floor(compare_to_reference, extract(one), extract(one))
    assert "cannot split" in out["floor"]["note"]
    assert "sd_ratio_median_floor" not in out["blocks"]["beta_worker"]


# ----------------------------------------------------------------------------- coverage band
def test_perfectly_correlated_coefficients_give_a_much_wider_band():
    rng = np.random.default_rng(0)
    independent = rng.standard_normal((1000, 840))
    correlated = np.repeat(rng.standard_normal((1000, 1)), 840, axis=1)
    dep_i = floors.coverage_dependence(independent)
    dep_c = floors.coverage_dependence(correlated)
    assert dep_i["n_eff"] > 600  # independent draws: close to n after the noise correction
    assert dep_c["n_eff"] == pytest.approx(1.0)
    lo_i, hi_i = floors.coverage_band(0.9, dep_i["n_eff"])
    lo_c, hi_c = floors.coverage_band(0.9, dep_c["n_eff"])
    assert (hi_c - lo_c) > 10 * (hi_i - lo_i)
    # 0.8 coverage: overconfident if the 840 were independent, consistent if they are one trial
    assert "narrow" in coverage_verdict(0.8, 0.9, 840, dep_i["n_eff"])
    verdict = coverage_verdict(0.8, 0.9, 840, dep_c["n_eff"])
    assert verdict.startswith("consistent with nominal")
    assert "effective n of 1 of the 840 coefficients" in verdict
    assert coverage_verdict(0.8, 0.9, 840) == "intervals too narrow (overconfident)"


def test_effective_n_formula():
    assert floors.effective_n(840, 0.0) == 840
    assert floors.effective_n(840, 1.0) == 1
    assert floors.effective_n(101, 0.1) == pytest.approx(101 / 11)


def test_coverage_dependence_section_needs_truth():
    idata = posterior(1.0, chains=2, draws=200, seed=5)
    assert floors.coverage_dependence_section(extract(idata, DATA), DATA) is None
    with_truth = make_data(n_sites=30, ks=2, kw=3, truth=CENTRE)
    sec = floors.coverage_dependence_section(extract(idata, with_truth), with_truth)
    assert set(sec) == {"beta_worker", "beta_site"}
    assert sec["beta_worker"]["n"] == 90
    assert sec["beta_worker"]["n_eff"] > 60  # independent draws
