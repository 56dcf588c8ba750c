"""Pyro SVI backend: same model as spec.log_joint, log_q, fits and recovery, NaN stop, seeds.

Real Pyro fits (no mocks) on the twins of tests/conftest.py plus one 120-worksite twin for
truth recovery.  Runtime on the shared 2-core machine: about 2-2.5 minutes.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyro
import pytest
import torch
from evalhelpers import assert_stop_keeps_identified
from scipy import stats
from scipy.special import expit

from backends.base import TIMING_KEYS, BackendError, check_inference_data
from backends.convergence import CONVERGENCE_RULE, check_every, converged_step, rolling_mean
from backends.pyro import PyroSVI
from backends.spec import VAR_NAMES, ModelSpec, linear_predictor, log_joint, random_params
from evaluation.metrics.diagnostics import loss_convergence

CONF = Path(__file__).resolve().parents[2] / "conf" / "backend"
CENTERED, NONCENTERED = ModelSpec("centered"), ModelSpec("noncentered")
SPECS = pytest.mark.parametrize("spec", [CENTERED, NONCENTERED], ids=["centered", "noncentered"])


def own_latents(params: dict, spec: ModelSpec) -> dict:
    """The parameterisation's own latent sites (non-centred: z_worker instead of beta_worker)."""
    drop = "z_worker" if spec.parameterization == "centered" else "beta_worker"
    return {k: v for k, v in params.items() if k != drop}


def backend(spec: ModelSpec = NONCENTERED, guide: str = "meanfield", **kw) -> PyroSVI:
    kw = {"num_steps": 300, "num_draws": 100, "progress": False, **kw}
    return PyroSVI(model=spec, name=f"pyro_{guide}", guide=guide, **kw)


# ------------------------------------------------------------------------------------------
# Same model: the Pyro model's log joint against the NumPy reference
# ------------------------------------------------------------------------------------------
@SPECS
def test_model_log_joint_matches_spec_up_to_a_constant(tiny_twin, spec):
    from pyro import poutine

    from backends.pyro.convert import log_prob_per_draw
    from backends.pyro.model import DRAW_DIM, make_model, to_tensors

    tensors, model = to_tensors(tiny_twin, torch.float64), make_model(spec)
    rng = np.random.default_rng(0)
    points = [own_latents(random_params(tiny_twin, rng), spec) for _ in range(6)]
    ours = []
    for p in points:
        cond = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in p.items()}
        trace = poutine.trace(poutine.condition(model, data=cond)).get_trace(*tensors)
        ours.append(float(trace.log_prob_sum()))
    ref = np.array([float(log_joint(p, tiny_twin, spec)) for p in points])
    # Same density up to one additive constant: float64 round-off only (1e-6 relative).
    assert np.ptp(np.array(ours) - ref) < 1e-6 * np.abs(ref).max(), np.array(ours) - ref

    # The batched evaluation used for draws (outer plate at dim -3) gives the same values.
    batch = {k: torch.as_tensor(np.stack([p[k] for p in points])) for k in points[0]}
    shapes = {"alpha": (-1, 1, 1), "sigma_site": (-1, 1, 1), "sigma_worker": (-1, 1, 1),
              "beta_site": (len(points), 1, -1)}  # fmt: skip
    batch = {k: v.reshape(shapes[k]) if k in shapes else v for k, v in batch.items()}
    with pyro.plate("_draws", len(points), dim=DRAW_DIM):
        trace = poutine.trace(poutine.condition(model, data=batch)).get_trace(*tensors)
    np.testing.assert_allclose(log_prob_per_draw(trace, len(points)), ours, rtol=1e-10)


# ------------------------------------------------------------------------------------------
# log_q: the guide density of each draw on the constrained space
# ------------------------------------------------------------------------------------------
def test_log_q_of_a_half_cauchy_site_is_the_change_of_variables_by_hand():
    """1-D check: AutoNormal on a HalfCauchy site; q(x) = N(log x; m, s) / x."""
    import pyro.distributions as dist
    from pyro.distributions import constraints
    from pyro.infer.autoguide import AutoNormal
    from torch.distributions import biject_to

    from backends.pyro.convert import draw_posterior

    def model():
        pyro.sample("sigma_site", dist.HalfCauchy(torch.tensor(5.0, dtype=torch.float64)))

    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    guide = AutoNormal(model)
    guide()
    with torch.no_grad():  # set the unconstrained parameters behind loc 0.3, scale 0.7
        guide.locs.sigma_site_unconstrained.fill_(0.3)
        inv = biject_to(constraints.softplus_positive).inv(torch.tensor(0.7, dtype=torch.float64))
        guide.scales.sigma_site_unconstrained.fill_(float(inv))
        loc, scale = guide.locs.sigma_site.item(), guide.scales.sigma_site.item()
    assert loc == 0.3 and np.isclose(scale, 0.7)
    draws = draw_posterior(model, guide, (), num_draws=400, batch=128)
    x = draws.posterior["sigma_site"]
    assert x.shape == (400,) and (x > 0).all()
    by_hand = stats.norm(0.3, 0.7).logpdf(np.log(x)) - np.log(x)
    np.testing.assert_allclose(draws.log_q, by_hand, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(draws.lp, stats.halfcauchy(scale=5.0).logpdf(x), rtol=1e-10)


@pytest.fixture(scope="module")
def short_fits(tiny_twin):
    """Short (unconverged) fits: log_q must be right for any Gaussian, converged or not.
    The guide's parameters are read from Pyro's param store right after each fit."""
    out = {}
    for guide in ("meanfield", "lowrank", "fullrank"):
        fit = backend(NONCENTERED, guide, num_steps=200, num_draws=200, rank=3).fit(
            tiny_twin, seed=1
        )
        store = pyro.get_param_store()
        params = {k: store[k].detach().double().numpy().copy() for k in store.keys()}
        out[guide] = (fit, params)
    return out


def draws_of(fit, names=("alpha", "sigma_site", "sigma_worker", "beta_site", "z_worker")):
    return {k: fit.idata.posterior[k].values[0] for k in names}


@pytest.mark.parametrize("guide", ["meanfield", "lowrank", "fullrank"])
def test_log_q_matches_scipy_density_of_the_latent_minus_jacobian(short_fits, guide):
    fit, params = short_fits[guide]
    d = draws_of(fit)
    n = len(d["alpha"])
    # AutoContinuous packs the unconstrained sites in the model's sample order.
    order = ("alpha", "sigma_site", "sigma_worker", "beta_site", "z_worker")
    u = np.concatenate(
        [(np.log(d[k]) if k.startswith("sigma") else d[k]).reshape(n, -1) for k in order], 1
    )
    prefix = {"meanfield": "AutoDiagonalNormal", "lowrank": "AutoLowRankMultivariateNormal",
              "fullrank": "AutoFullRankNormal"}[guide]  # fmt: skip
    loc = params[f"{prefix}.loc"]
    if guide == "meanfield":  # independent normals: the paper's AutoNormal family
        cov = np.diag(params[f"{prefix}.scale"] ** 2)
    elif guide == "lowrank":
        scale = params[f"{prefix}.scale"]
        factor = params[f"{prefix}.cov_factor"] * scale[:, None]
        cov = factor @ factor.T + np.diag(scale**2)
    else:  # scale_tril = diag(scale) @ (I + strictly lower part), as Pyro 1.9's
        lower = params[f"{prefix}.lower"]
        assert not np.triu(lower).any()  # upper triangle and diagonal stay exactly zero
        tril = params[f"{prefix}.scale"][:, None] * (np.eye(len(loc)) + lower)
        cov = tril @ tril.T
    expected = stats.multivariate_normal(loc, cov).logpdf(u)
    expected -= np.log(d["sigma_site"]) + np.log(d["sigma_worker"])
    # float32 guide, 77 latent dims: 1e-5 relative covers the round-off.
    np.testing.assert_allclose(fit.idata.sample_stats["log_q"].values[0], expected, rtol=1e-5)


@pytest.mark.parametrize("guide", ["meanfield", "lowrank", "fullrank"])
def test_lp_is_the_model_log_joint_of_each_draw(short_fits, tiny_twin, guide):
    fit, _ = short_fits[guide]
    check_inference_data(fit.idata, tiny_twin)
    assert set(fit.idata.posterior.data_vars) == {*VAR_NAMES, "z_worker"}
    lp = fit.idata.sample_stats["lp"].values[0]
    ref = log_joint(draws_of(fit), tiny_twin, NONCENTERED)
    # float32 model: round-off of a ~300-term sum, 1e-5 relative.
    assert np.ptp(lp - ref) < 1e-5 * np.abs(ref).max(), (lp - ref)[:5]
    np.testing.assert_allclose(  # beta_worker is reported as sigma_worker * z_worker
        fit.idata.posterior["beta_worker"].values,
        fit.idata.posterior["z_worker"].values
        * fit.idata.posterior["sigma_worker"].values[..., None, None],
        rtol=1e-6,
    )


# ------------------------------------------------------------------------------------------
# Fits on the small twin: prediction, contract, timing
# ------------------------------------------------------------------------------------------
def predicted_prob(idata, test) -> np.ndarray:
    post = idata.posterior
    params = {v: post[v].values.reshape(-1, *post[v].shape[2:])
              for v in ("alpha", "beta_site", "beta_worker")}  # fmt: skip
    return expit(linear_predictor(params, test)).mean(axis=0)


@pytest.fixture(scope="module")
def small_split(small_twin):
    from evaluation.data.split import split_data

    return split_data(small_twin, test_fraction=0.2, by="workers", seed=0)


FITS = [
    ("meanfield", CENTERED, 2000),
    ("lowrank", NONCENTERED, 1500),
    ("fullrank", NONCENTERED, 1500),
]


@pytest.mark.parametrize(("guide", "spec", "num_steps"), FITS, ids=[f[0] for f in FITS])
def test_fit_predicts_held_out_workers_and_keeps_the_contract(
    small_split, guide, spec, num_steps, oracle_comparison
):
    train, test = small_split
    fit = backend(spec, guide, num_steps=num_steps, num_draws=300).fit(train, seed=0)
    check_inference_data(fit.idata, train)
    post = fit.idata.posterior
    assert post.sizes["chain"] == 1 and post.sizes["draw"] == 300
    assert set(post.data_vars) == set(VAR_NAMES) | ({"z_worker"} if spec is NONCENTERED else set())
    assert post.attrs["parameterization"] == spec.parameterization
    assert fit.loss.dtype == np.float64 and fit.loss.shape == (num_steps,)
    assert fit.loss[-200:].mean() < fit.loss[:200].mean()
    # the backend records its rule settings; the diagnostics apply the shared rule to the loss
    assert (fit.info["convergence_window"], fit.info["convergence_rtol"]) == (1000, 1e-3)
    verdict = loss_convergence(fit.loss, fit.info)
    assert verdict["convergence_rule"] == CONVERGENCE_RULE
    assert verdict["converged_step"] == converged_step(fit.loss, 1000, 1e-3)
    assert verdict["converged"] == (verdict["converged_step"] is not None)
    assert post.attrs["inference_family"] == "vi"
    assert set(fit.timing) <= set(TIMING_KEYS) and fit.timing["compile_s"] >= 0
    assert fit.timing["fit_s"] >= fit.timing["optimisation_s"] + fit.timing["sampling_s"]
    # Held-out prediction against the oracle (true parameters, same 400 rows): within 3
    # standard errors of the oracle's AUC (Hanley-McNeil) and accuracy (binomial).  A broken
    # predictive (rows scored with the wrong worksite's effects, a sign error, worker effects
    # dropped) falls well below; a leak of the held-out labels rises above.
    res = oracle_comparison(predicted_prob(fit.idata, test), test)
    assert abs(res["auc"] - res["oracle_auc"]) < 3 * res["auc_se"], res
    assert abs(res["accuracy"] - res["oracle_accuracy"]) < 3 * res["accuracy_se"], res


def test_recovers_the_identified_site_level_truth_on_120_worksites():
    """alpha and beta_site are compared with the truth in the directions the data identify.

    On the paper design they are not all identified: the five campaign-length dummies sum to
    the intercept, and log_mean_degree is (after standardising) a linear combination of
    log_n_edges and log_n_discovered, so single coefficients along those directions are set by
    the prior, not the data; with only 20 worksites (small_twin) 19 site-level coefficients face
    20 worksite means and nothing is identified.  What the data do identify is the site-level
    logit ``alpha + X_site @ beta_site`` of every worksite; it is checked here on 120 worksites
    with moderate site effects (sigma_site 0.5), where each worksite has ~140 workers.
    """
    from evaluation.data.twin import make_paper_twin

    data = make_paper_twin(n_worksites=120, n_workers=16553, sigma_worker=0.5, sigma_site=0.5,
                           seed=0)  # fmt: skip
    fit = backend(NONCENTERED, num_steps=2500, num_draws=300).fit(data, seed=0)
    post, truth = fit.idata.posterior, data.truth
    eta = post["alpha"].values[0][:, None] + post["beta_site"].values[0] @ data.X_site.T
    eta_true = truth["alpha"] + data.X_site @ truth["beta_site"]
    err = eta.mean(axis=0) - eta_true
    # Tolerance: a worksite mean of ~140 workers at ~17% prevalence pins its logit to
    # ~1/sqrt(140 * 0.17 * 0.83) = 0.19; the 19-coefficient regression over 120 worksites
    # averages that to ~0.19 * sqrt(19 / 120) = 0.08 rms, plus prior shrinkage and the
    # unfinished optimisation (observed: rms 0.15 / 0.13, max 0.45 / 0.35 for seeds 0 / 1).
    # Mean-field sds are too small to be the yardstick (they are conditional sds), so the bound
    # is stated on the truth scale: rms error < 0.25 and no worksite off by more than 0.75.
    assert np.sqrt(np.mean(err**2)) < 0.25, np.sqrt(np.mean(err**2))
    assert np.abs(err).max() < 0.75, np.abs(err).max()
    # The variance components are identified: within a factor 1.6 of the truth (0.5, 0.5).
    for name in ("sigma_site", "sigma_worker"):
        ratio = float(post[name].values.mean()) / float(truth[name])
        assert 1 / 1.6 < ratio < 1.6, (name, ratio)


# ------------------------------------------------------------------------------------------
# Failure, seeds, JIT
# ------------------------------------------------------------------------------------------
def test_nan_loss_stops_the_fit_with_the_step_and_returns_nothing(tiny_twin):
    # lr=1e6: the first Adam step moves every log-scale by ~1e6, so the sampled scales
    # overflow to inf and the next loss is nan/inf -- a real divergence, not a mock.
    b = backend(NONCENTERED, lr=1e6, num_steps=500)
    pattern = r"pyro_meanfield: loss became (nan|inf) at step (\d+); lower backend\.lr"
    with pytest.raises(BackendError, match=pattern) as excinfo:
        b.fit(tiny_twin, seed=0)
    step = int(re.match(pattern, str(excinfo.value)).group(2))
    assert step < 10  # stopped at once, not after the remaining steps


def test_same_seed_gives_identical_draws_and_loss(tiny_twin):
    def run(seed):
        return backend(CENTERED, num_steps=150, num_draws=50).fit(tiny_twin, seed=seed)

    a, b, c = run(7), run(7), run(8)
    np.testing.assert_array_equal(a.loss, b.loss)
    for v in VAR_NAMES:
        np.testing.assert_array_equal(a.idata.posterior[v].values, b.idata.posterior[v].values)
    np.testing.assert_array_equal(a.idata.sample_stats.log_q.values,
                                  b.idata.sample_stats.log_q.values)  # fmt: skip
    assert not np.array_equal(a.idata.posterior.alpha.values, c.idata.posterior.alpha.values)


@SPECS
def test_jit_and_plain_elbo_give_the_same_losses(tiny_twin, spec):
    kw = {"num_steps": 5, "num_draws": 10, "dtype": "float64"}
    jit = backend(spec, jit=True, **kw).fit(tiny_twin, seed=3)
    plain = backend(spec, jit=False, **kw).fit(tiny_twin, seed=3)
    # Same random numbers, same arithmetic up to operation order: float64 round-off.
    np.testing.assert_allclose(jit.loss, plain.loss, rtol=1e-10)
    assert "compile_s" in jit.timing and "compile_s" not in plain.timing


def test_torch_threads_are_restored_and_bad_settings_fail_early(tiny_twin):
    before = torch.get_num_threads()
    backend(num_steps=5, num_draws=5, num_threads=1).fit(tiny_twin, seed=0)
    assert torch.get_num_threads() == before
    for bad in ({"guide": "diag"}, {"optimizer": "sgd"}, {"lr": 0.0}, {"dtype": "half"}):
        with pytest.raises(ValueError):
            PyroSVI(model=NONCENTERED, **bad)


def test_clipped_adam_runs(tiny_twin):
    fit = backend(NONCENTERED, optimizer="clipped_adam", num_steps=100, num_draws=20).fit(
        tiny_twin, seed=0
    )
    assert np.isfinite(fit.loss).all() and fit.info["optimizer"] == "clipped_adam"


# ------------------------------------------------------------------------------------------
# Stopping at the convergence rule (backend.stop_at_convergence, issue 15)
# ------------------------------------------------------------------------------------------
#: A generous cap with a 500-step window: the rule can first hold after 2 x 500 steps.
STOP = {"num_steps": 4000, "num_draws": 1000, "convergence_window": 500}


@pytest.fixture(scope="module")
def stop_pair(small_twin):
    """The same seed fitted stopping at convergence and on the full (capped) schedule."""
    stopped = backend(NONCENTERED, stop_at_convergence=True, **STOP).fit(small_twin, seed=0)
    return stopped, backend(NONCENTERED, **STOP).fit(small_twin, seed=0)


def test_stop_at_convergence_stops_at_the_first_check_where_the_rule_holds(stop_pair):
    stopped, full = stop_pair
    n, window, every = stopped.info["n_steps_run"], STOP["convergence_window"], check_every(500)
    assert stopped.info["stop_at_convergence"] and stopped.info["stopped_early"]
    assert n < STOP["num_steps"] == stopped.info["num_steps"]  # num_steps: the cap, as set
    assert stopped.loss.shape == (n,)
    # the same random numbers and learning-rate schedule as the full run, step for step
    np.testing.assert_array_equal(stopped.loss, full.loss[:n])
    # stopped at a check, with a window of evidence after the converged step, not one earlier
    step = converged_step(stopped.loss, window, 1e-3)
    assert step is not None and n - 1 - step >= window and n % every == 0
    assert converged_step(stopped.loss[: n - every], window, 1e-3) is None
    assert loss_convergence(stopped.loss, stopped.info)["converged_step"] == step
    # per-step costs divide by the steps run, not the cap
    assert stopped.info["ms_per_step"] == pytest.approx(1e3 * stopped.timing["optimisation_s"] / n)
    # off (the default, the paper's schedule): exactly num_steps
    assert (full.info["n_steps_run"], full.loss.shape) == (STOP["num_steps"], (STOP["num_steps"],))
    assert not full.info["stop_at_convergence"] and not full.info["stopped_early"]


def test_stopping_at_convergence_keeps_what_the_data_identify(stop_pair, small_twin):
    """The stopped fit against the full schedule of the same seed.

    Tolerance: displacing a Gaussian approximation's mean by delta posterior sds along one
    direction raises the expected negative ELBO by delta^2 / 2 nats.  The rule stops once the
    rolling mean of the loss stays within its band (here ~2 nats: the rolling mean's noise
    floor, about rtol x the ~400-nat loss) and the stopped fit's rolling loss is within ~2
    nats of the full run's (asserted < 3), so a quantity can lag by about sqrt(2 x 2) = 2
    posterior sds at most.  Checked: every worksite's logit alpha + X_site beta_site (each
    pinned by its ~100 workers; single coefficients are not identified on 20 worksites) within
    2 sds (observed max 0.88; stopped at step 1,850 of 4,000, gap 2.3 nats), and sigma_worker
    (pinned by all 2,000 workers) within 1 sd (observed 0.16).
    """
    stopped, full = stop_pair
    assert_stop_keeps_identified(stopped, full, small_twin.X_site, STOP["convergence_window"])


# ------------------------------------------------------------------------------------------
# Convergence rule and configs
# ------------------------------------------------------------------------------------------
def test_convergence_rule_on_synthetic_loss_curves():
    t = np.arange(20000)
    curve = 100.0 + 1000.0 * np.exp(-t / 1000.0)
    # Noise-free: band = rtol * 100 = 0.1; the trailing mean (centre t - 250) is within 0.1 of
    # 100 once 1000 exp(-(t - 250) / 1000) < 0.1, i.e. t = 250 + 1000 ln(1e4) = 9460.
    assert abs(converged_step(curve, window=500, rtol=1e-3) - 9460) < 30
    # Monte Carlo noise sd 1: the band widens to 6 / sqrt(500) = 0.27 (the noise floor), so
    # convergence comes a little earlier (t ~ 9460 - 1000 ln 2.7 = 8470 plus noise excursions);
    # accept 8,000-10,500.
    noisy = curve + np.random.default_rng(0).normal(0, 1.0, t.size)
    step = converged_step(noisy, window=500, rtol=1e-3)
    assert step is not None and 8000 < step < 10500, step
    np.testing.assert_allclose(rolling_mean(np.arange(5.0), 2), [0.5, 1.5, 2.5, 3.5])
    assert converged_step(np.full(3000, 5.0), window=100) == 99  # flat from the start
    assert converged_step(np.linspace(1000, 0, 3000), window=100) is None  # still falling
    assert converged_step(np.ones(50), window=100) is None  # shorter than a window


@pytest.mark.parametrize("name", ["pyro_meanfield", "pyro_lowrank", "pyro_fullrank"])
def test_backend_configs_instantiate_with_the_papers_optimiser(name):
    from hydra.utils import instantiate

    from evaluation.config import compose_backend

    cfg = compose_backend(name)  # the leaf YAML starts from a shared base (defaults list)
    b = instantiate(cfg, _partial_=True, _convert_="all")(model=CENTERED)
    assert isinstance(b, PyroSVI) and b.name == name == f"pyro_{b.guide}"
    # mean-field keeps the paper's schedule; low- and full-rank default to the converging one
    # (issue 14: x0.9999 over 40k steps, full-rank 80k (issue 20); the paper's stays
    # selectable by override)
    steps = {"pyro_meanfield": 18000, "pyro_lowrank": 40000, "pyro_fullrank": 80000}[name]
    decay = 0.9995 if name == "pyro_meanfield" else 0.9999
    assert (b.num_steps, b.lr, b.lr_decay, b.optimizer) == (steps, 0.015, decay, "adam")
    assert b.stop_at_convergence is False  # the exact schedule unless asked
    assert b.model is CENTERED
