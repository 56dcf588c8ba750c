"""Diagnostics on constructed draws: conjugate Normal k-hat, MCMC summaries, plumbing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from evalhelpers import make_data, make_idata, normal_draws, point
from scipy import stats

from backends.convergence import CONVERGENCE_RULE, converged_step
from backends.spec import ModelSpec
from evaluation.metrics.diagnostics import (
    diagnostics_section,
    khat_verdict,
    loss_convergence,
    mcmc_diagnostics,
    psis_khat,
    vi_diagnostics,
)
from evaluation.metrics.draws import extract
from evaluation.metrics.posterior import Paired, element_errors


def _conjugate(width: float, n_draws=4000, seed=0):
    """mu ~ N(0, 2), y_i ~ N(mu, 1), 20 points; q = N(post mean, width * post sd).

    Returns unnormalised log posterior, log q, draws from q and exact posterior draws.
    """
    rng = np.random.default_rng(seed)
    y = rng.normal(1.0, 1.0, 20)
    v = 1.0 / (1.0 / 4.0 + y.size)
    m = v * y.sum()
    x = rng.normal(m, width * np.sqrt(v), n_draws)
    log_p = stats.norm.logpdf(x, 0, 2.0) + stats.norm.logpdf(y[:, None], x, 1.0).sum(0)
    log_q = stats.norm.logpdf(x, m, width * np.sqrt(v))
    exact = rng.normal(m, np.sqrt(v), n_draws)
    return log_p, log_q, x, exact


def test_exact_posterior_draws_have_small_khat_and_unit_sd_ratio():
    log_p, log_q, x, exact = _conjugate(1.0)
    khat = psis_khat(log_p, log_q)
    # log_p - log_q is constant up to rounding: no tail at all (the constant-weight shortcut;
    # the Pareto fit itself is checked against a known tail below)
    assert khat == 0.0
    _, ratio = element_errors(Paired(x[:, None], exact[:, None], ["mu"]))
    # sd of 4000 Normal draws has relative error 1/sqrt(2*4000) = 1.1% each; 5 sd of the ratio
    assert ratio[0] == pytest.approx(1.0, abs=0.08)


def test_too_narrow_gaussian_has_large_khat_and_small_sd_ratio():
    log_p, log_q, x, exact = _conjugate(0.3)
    khat = psis_khat(log_p, log_q)
    # p/q for q = N(m, (0.3 sd)^2) has a Pareto tail with k = 1 - 0.3^2 = 0.91; the k-hat
    # estimate from 4000 draws has sd ~0.05, so > 0.7 holds with a 4-sd margin
    assert khat > 0.7
    assert "not reliable" in khat_verdict(khat)
    _, ratio = element_errors(Paired(x[:, None], exact[:, None], ["mu"]))
    assert ratio[0] == pytest.approx(0.3, abs=0.03)  # 1.1% relative error each, see above


@pytest.mark.parametrize("s", [1.25, 2.0])
def test_khat_fits_the_known_pareto_tail_of_normal_weights(s):
    """q = N(0, 1), p = N(0, s^2), s > 1: w = p/q ~ exp(x^2 (1 - 1/s^2) / 2), and
    P(w > t) = P(|x| > sqrt(2 log t / (1 - 1/s^2))) ~ t^(-1 / (1 - 1/s^2)) (up to a slowly
    varying log factor): a Pareto tail with k = 1 - 1/s^2 (0.36 for s = 1.25, 0.75 for s = 2).
    The weights are not constant, so this goes through ArviZ's generalised Pareto fit."""
    x = np.random.default_rng(0).normal(size=100_000)
    log_p, log_q = stats.norm.logpdf(x, 0, s), stats.norm.logpdf(x)
    khat = psis_khat(log_p, log_q)
    # Measured over 20 seeds at S = 100,000: sd 0.04 (s = 1.25) and 0.05 (s = 2), mean 0.01
    # and 0.05 below k (the log factor).  Tolerance 0.2 = that bias + 3 sd: a fit that ignored
    # the tail (0.0), or confused the two cases (gap 0.39), fails.
    assert khat == pytest.approx(1 - 1 / s**2, abs=0.2)
    assert ("not reliable" in khat_verdict(khat)) == (khat > 0.7)


def test_wider_gaussian_is_good_and_constant_weights_are_exact():
    log_p, log_q, *_ = _conjugate(1.3)
    assert psis_khat(log_p, log_q) < 0.5  # bounded ratios: theoretical k = 1 - 1.69 < 0
    assert psis_khat(np.ones(100), np.zeros(100)) == 0.0
    assert psis_khat(np.array([np.nan, 1.0]), np.zeros(2)) is None
    assert "marginal" in khat_verdict(0.6)


def _prior_draws(data, spec, sigma_worker_q=None, n=2000, seed=0):
    """Draws from the prior, which is the posterior of a data set without workers.

    ``sigma_worker_q`` replaces the HalfCauchy(5) of sigma_worker by HalfNormal(scale):
    a too narrow approximation.  Returns the draws (chain=1) and their log q, computed with
    scipy on the parameterisation's own space.
    """
    rng = np.random.default_rng(seed)
    ks, kw, j = len(data.site_features), len(data.worker_features), data.n_worksites
    ss = np.abs(5 * rng.standard_cauchy(n))
    if sigma_worker_q is None:
        sw = np.abs(5 * rng.standard_cauchy(n))
        log_q_sw = stats.halfcauchy.logpdf(sw, scale=5)
    else:
        sw = np.abs(sigma_worker_q * rng.normal(size=n))
        log_q_sw = stats.halfnorm.logpdf(sw, scale=sigma_worker_q)
    d = {
        "alpha": 5 * rng.normal(size=n),
        "sigma_site": ss,
        "sigma_worker": sw,
        "beta_site": ss[:, None] * rng.normal(size=(n, ks)),
    }
    z = rng.normal(size=(n, j, kw))
    d["beta_worker"] = sw[:, None, None] * z
    log_q = (
        stats.norm.logpdf(d["alpha"], 0, 5)
        + stats.halfcauchy.logpdf(ss, scale=5)
        + log_q_sw
        + stats.norm.logpdf(d["beta_site"], 0, ss[:, None]).sum(-1)
    )
    if spec.parameterization == "centered":
        log_q += stats.norm.logpdf(d["beta_worker"], 0, sw[:, None, None]).sum((-2, -1))
    else:
        d["z_worker"] = z
        log_q += stats.norm.logpdf(z).sum((-2, -1))
    return {k: v[None] for k, v in d.items()}, log_q[None]


@pytest.mark.parametrize("parameterization", ["centered", "noncentered"])
def test_vi_diagnostics_plumbing_on_tiny_data(parameterization):
    data = make_data(n_sites=3, n_workers=0, ks=2, kw=2)  # posterior = prior
    spec = ModelSpec(parameterization=parameterization)
    draws, log_q = _prior_draws(data, spec)
    idata = make_idata(draws, data, sample_stats={"log_q": log_q}, backend="test_meanfield")
    info = {"converged": True, "converged_step": 120, "convergence_rule": "test"}
    out = vi_diagnostics(extract(idata, data), data, spec, loss=np.linspace(10, 1, 200), info=info)
    # q = p exactly (both normalised; the wrong parameterisation's density would differ by
    # the Jacobian sigma_worker^(J*K_w) and give varying weights): k-hat is 0 by definition
    assert out["khat"] == 0.0 and out["ok"]
    assert out["final_loss"] == 1.0 and out["converged_step"] == 120
    narrow, log_q = _prior_draws(data, spec, sigma_worker_q=0.1, seed=1)
    bad = make_idata(narrow, data, sample_stats={"log_q": log_q}, backend="test_meanfield")
    out = diagnostics_section(extract(bad, data), data, spec, info, None, {"fit_s": 1.0})
    # p/q ~ exp(sigma^2 / 0.02) under sigma ~ HalfNormal(0.1): k near 1
    assert out["vi"]["khat"] > 0.7 and not out["ok"] and "mcmc" not in out
    json.dumps(out, allow_nan=False)


def _mcmc_idata(shift=0.0, n_div=0, seed=0):
    data = make_data(n_sites=3, kw=2)
    d = normal_draws(data, point(data), 0.3, chains=4, draws=500, seed=seed)
    d["alpha"] = d["alpha"] + shift * np.arange(4)[:, None]
    rng = np.random.default_rng(seed)
    diverging = np.zeros((4, 500), bool)
    diverging[0, :n_div] = True
    ss = {"diverging": diverging, "tree_depth": np.where(np.arange(500) < 50, 10, 4)[None]
          .repeat(4, 0), "energy": rng.normal(size=(4, 500))}  # fmt: skip
    return data, make_idata(d, data, sample_stats=ss)


def test_mcmc_diagnostics_of_iid_draws_pass():
    data, idata = _mcmc_idata()
    out = mcmc_diagnostics(extract(idata), wall_s=2.0)
    # iid draws, fixed seed: split rank R-hat of 4 x 500 draws is within ~0.005 of 1 per element
    # (max over 11 elements measured 1.004); ESS ~ 2000 +- a few hundred
    assert out["max_rhat"] < 1.01 and out["min_ess_bulk"] > 1000 and out["min_ess_tail"] > 1000
    assert out["n_divergent"] == 0 and out["frac_max_tree_depth"] == pytest.approx(0.1)
    assert out["min_ebfmi"] > 1.5  # iid energies: E-BFMI ~ 2
    assert out["ess_bulk_per_s"] == pytest.approx(out["min_ess_bulk"] / 2.0)
    assert out["ok"]
    section = diagnostics_section(
        extract(idata, data), data, ModelSpec(), {}, None, {"sampling_s": 2.0}
    )
    assert "vi" not in section and section["ok"]


def test_mcmc_diagnostics_flag_disagreeing_chains_and_divergences():
    _, idata = _mcmc_idata(shift=1.0, n_div=7)
    out = mcmc_diagnostics(extract(idata))
    assert out["max_rhat"] > 1.1 and out["max_rhat_at"] == "alpha"
    assert out["n_divergent"] == 7 and not out["ok"]
    assert any("Chains disagree" in v for v in out["verdicts"])
    assert any("7 divergent" in v for v in out["verdicts"])


def test_loss_convergence_applies_the_shared_rule_to_the_backends_settings():
    t = np.arange(5000)
    loss = 100.0 + 1000.0 * np.exp(-t / 300.0)
    info = {"convergence_window": 200, "convergence_rtol": 1e-3}
    verdict = loss_convergence(loss, info)
    step = converged_step(loss, 200, 1e-3)
    assert step is not None
    assert verdict == {"converged": True, "converged_step": step,
                       "convergence_rule": CONVERGENCE_RULE}  # fmt: skip
    falling = loss_convergence(np.linspace(1000, 0, 3000), info)
    assert falling["converged"] is False and falling["converged_step"] is None
    # a backend that did not record its settings keeps its library's own verdict (CmdStan)
    own = {"converged": True, "converged_step": 400, "convergence_rule": "CmdStan: tol_rel_obj"}
    assert loss_convergence(loss, own) == own
    assert loss_convergence(None, {}) == dict.fromkeys(own)


def test_vi_section_reports_the_rule_and_final_loss_mean_of_the_last_percent():
    data = make_data(n_sites=3, n_workers=0, ks=2, kw=2)
    spec = ModelSpec()
    draws, log_q = _prior_draws(data, spec, n=200)
    idata = make_idata(draws, data, sample_stats={"log_q": log_q}, backend="test_meanfield")
    loss = np.concatenate([np.linspace(50, 10, 1000), np.full(1000, 10.0)])
    loss[-20:] = 9.0  # the last 1% of 2,000 steps
    info = {"convergence_window": 100, "convergence_rtol": 1e-3}
    out = vi_diagnostics(extract(idata, data), data, spec, loss=loss, info=info)
    assert out["convergence_rule"] == CONVERGENCE_RULE
    assert out["converged_step"] == converged_step(loss, 100, 1e-3)
    assert out["final_loss_mean"] == 9.0 and out["n_steps"] == 2000


def test_divergences_are_counted_from_the_sampler_stats():
    data, idata = _mcmc_idata(n_div=3)
    assert mcmc_diagnostics(extract(idata))["n_divergent"] == 3
    section = diagnostics_section(
        extract(idata, data), data, ModelSpec(), {"n_divergent": 99}, None, {}
    )
    assert section["mcmc"]["n_divergent"] == 3  # never a count a backend reported


@pytest.mark.parametrize(("n_div", "ok"), [(20, True), (21, False)])
def test_divergence_verdict_reads_the_warn_fraction(n_div, ok):
    """evaluation.divergence_warn_fraction (default 0.01) is the verdict's threshold: 20 of
    2,000 draws (1.00%) pass, 21 (1.05%) fail; a given threshold overrides the default."""
    data, idata = _mcmc_idata(n_div=n_div)
    out = mcmc_diagnostics(extract(idata))
    assert out["n_divergent"] == n_div and out["ok"] is ok
    assert any(f"{n_div} divergent transitions ({100 * n_div / 2000:.2f}% of draws" in v
               for v in out["verdicts"])  # fmt: skip
    strict = diagnostics_section(
        extract(idata, data), data, ModelSpec(), {}, None, {}, divergence_warn_fraction=0.0
    )
    assert strict["mcmc"]["ok"] is False and not strict["ok"]


def _vi_idata_without_log_q(data, spec):
    """One chain of an approximation whose draws carry no log_q (resampled Pathfinder)."""
    from backends.base import build_inference_data

    draws, log_q = _prior_draws(data, spec)
    return build_inference_data(draws, data, backend="test_pathfinder", family="vi",
                                library="none", library_version="0", seed=0, model=spec,
                                sample_stats={"log_q_proposal": log_q})  # fmt: skip


def test_a_resampling_backends_proposal_khat_is_shown_and_judged():
    """Issue 20: Pathfinder with PSIS kept its proposal's k-hat (19.7 on the twin) in info,
    and the diagnostics said "no diagnostic applies" with ok: true."""
    data, spec = make_data(n_sites=3, n_workers=0, ks=2, kw=2), ModelSpec()
    idata = _vi_idata_without_log_q(data, spec)
    out = diagnostics_section(
        extract(idata, data), data, spec, {"pareto_k": 19.7}, None, {"fit_s": 1.0}
    )
    assert out["vi"]["khat"] == 19.7 and "before PSIS resampling" in out["vi"]["khat_source"]
    assert out["vi"]["ok"] is False and out["ok"] is False and "note" not in out
    assert "19.70 > 0.7" in out["vi"]["verdicts"][0]


@pytest.mark.parametrize("info", [{}, {"pareto_k": None}, {"pareto_k": -1.0}])
def test_no_khat_is_not_diagnosable_never_ok(info):
    data, spec = make_data(n_sites=3, n_workers=0, ks=2, kw=2), ModelSpec()
    idata = _vi_idata_without_log_q(data, spec)
    out = diagnostics_section(extract(idata, data), data, spec, info, None, {"fit_s": 1.0})
    assert out["vi"]["khat"] is None and out["vi"]["ok"] is None and out["ok"] is None
    assert out["vi"]["verdicts"][0].startswith("K-hat not diagnosable: the draws carry no")
    # a draw set of no declared family and no log_q: nothing ran, so "not checked", not ok
    draws, _ = _prior_draws(data, spec)
    other = make_idata(draws, data)  # one chain, mcmc family but no sampler stats
    other.posterior.attrs["inference_family"] = "other"
    out = diagnostics_section(extract(other, data), data, spec, {}, None, {"fit_s": 1.0})
    assert out["ok"] is None and out["note"].startswith("not checked")
