"""The remedies for mean-field (issues 14, 20): pymc_pathfinder, pymc_dadvi, pymc_dadvi_lr,
pyro_flow, and the converging full-rank / low-rank schedules.

Real fits (no mocks), one per backend on a 20-worksite twin with moderate site effects, each
shared by the contract, the log-density and the recovery tests.  Both PyMC-based backends use the
already-tested PyMC model (tests/backends/test_pymc.py), so "the same model" is checked on
what they return: ``lp`` in ``sample_stats`` equals ``spec.log_joint`` of the draws up to one
constant, and ``log_p - log_q`` gives a finite PSIS k-hat.  Runtime on the shared 2-core
machine: about 2 minutes (PyTensor compiles Pathfinder's and DADVI's graphs, ~30 s each).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from backends.base import TIMING_KEYS, BackendError, check_inference_data
from backends.pymc import PyMCDADVI, PyMCPathfinder
from backends.pyro import PyroSVI
from backends.spec import ModelSpec, linear_predictor, log_jacobian_unconstrained, z_from_beta
from evaluation.metrics.diagnostics import diagnostics_section, draw_log_joint, psis_khat
from evaluation.metrics.draws import extract

CONF = Path(__file__).resolve().parents[2] / "conf" / "backend"
SPEC = ModelSpec("noncentered")


def _pathfinder(data, importance_sampling="psis"):
    b = PyMCPathfinder(model=SPEC, num_paths=4, num_draws=300, num_draws_per_path=300,
                       importance_sampling=importance_sampling)  # fmt: skip
    return b.fit(data, seed=0)


@pytest.fixture(scope="module")
def twin():
    """20 worksites x 2,000 workers with moderate site effects (sigma_site 0.5, as the Pyro
    recovery test): the default twin's large site effects push some worksite logits to -5,
    where ~100 workers with almost no positives pin nothing."""
    from evaluation.data.twin import make_paper_twin

    return make_paper_twin(n_worksites=20, n_workers=2000, sigma_worker=0.5, sigma_site=0.5,
                           seed=0)  # fmt: skip


@pytest.fixture(scope="module")
def fits(twin):
    """One fit per new backend on :func:`twin`."""
    return {
        "pymc_pathfinder": _pathfinder(twin, "none"),
        "pymc_dadvi": PyMCDADVI(model=SPEC, num_draws=300).fit(twin, seed=0),
        "pymc_dadvi_lr": PyMCDADVI(model=SPEC, name="pymc_dadvi_lr", num_draws=300,
                                   lr_covariance=True).fit(twin, seed=0),
        "pyro_flow": PyroSVI(model=SPEC, name="pyro_flow", guide="flow", num_steps=1500,
                             lr=0.005, lr_decay=0.9995, num_draws=300, jit=False,
                             progress=False).fit(twin, seed=0),
    }  # fmt: skip


NAMES = pytest.mark.parametrize(
    "name", ["pymc_pathfinder", "pymc_dadvi", "pymc_dadvi_lr", "pyro_flow"]
)


@NAMES
def test_each_remedy_follows_the_contract(fits, twin, name):
    fit = fits[name]
    check_inference_data(fit.idata, twin)
    post = fit.idata.posterior
    assert post.attrs["backend"] == name and post.attrs["inference_family"] == "vi"
    assert post.attrs["inference_library_version"] not in ("", "unknown")
    assert set(fit.timing) <= set(TIMING_KEYS) and fit.timing["fit_s"] > 0
    stats = fit.idata.sample_stats
    assert {"log_q", "lp"} <= set(stats.data_vars)
    assert np.isfinite(stats["log_q"].values).all() and np.isfinite(stats["lp"].values).all()


@NAMES
def test_lp_is_spec_log_joint_of_the_draws_up_to_a_constant(fits, twin, name):
    fit = fits[name]
    ours = fit.idata.sample_stats["lp"].values.ravel()
    ref = draw_log_joint(extract(fit.idata, twin), twin, SPEC)
    # float64 (PyMC): round-off only; float32 (Pyro): ~1e-7 relative of a ~1e3 log density.
    tol = 1e-8 if name.startswith("pymc") else 1e-5
    assert np.ptp(ours - ref) < tol * np.abs(ref).max(), np.ptp(ours - ref)
    # log_q is a density of the same variables: the PSIS k-hat is a finite number.
    khat = psis_khat(ref, fit.idata.sample_stats["log_q"].values.ravel())
    assert khat is not None and np.isfinite(khat)


def test_dadvi_log_q_is_its_gaussian_carried_to_the_constrained_space(tiny_twin):
    """log_q is a density of (alpha, beta_site, sigma_site, sigma_worker, z_worker): the
    mean-field Gaussian of the unconstrained u = (alpha, beta_site, log sigma_site,
    log sigma_worker, z_worker) minus log|d theta / d u| = log sigma_site + log sigma_worker.
    Computed independently from the draws: log_q + log|d theta / d u| must be, to round-off,
    a separable quadratic in u (fitted by least squares on 400 draws, 2 x 77 + 1 unknowns)
    whose exponential integrates to 1 with its vertex at the draws' mean.  With the
    Jacobian's sign flipped the quadratic still fits, but integrates to about
    (E sigma_site x E sigma_worker)^2 instead of 1: its log is off by ~2 (log 0.5 + log 2)."""
    fit = PyMCDADVI(model=SPEC, num_draws=400).fit(tiny_twin, seed=0)
    post = {k: v.values[0] for k, v in fit.idata.posterior.items()}
    u = np.column_stack(
        [
            post["alpha"],
            post["beta_site"],
            np.log(post["sigma_site"]),
            np.log(post["sigma_worker"]),
            z_from_beta(post["beta_worker"], post["sigma_worker"]).reshape(400, -1),
        ]
    )
    log_q_u = fit.idata.sample_stats["log_q"].values[0] + log_jacobian_unconstrained(post)
    centre, scale = u.mean(0), u.std(0)
    t = (u - centre) / scale  # well-conditioned coordinates of u (an affine map)
    design = np.column_stack([t**2, t, np.ones(len(t))])
    coef, *_ = np.linalg.lstsq(design, log_q_u, rcond=None)
    assert np.abs(design @ coef - log_q_u).max() < 1e-6 * np.abs(log_q_u).max()
    n = u.shape[1]
    a, b, c = coef[:n], coef[n : 2 * n], coef[-1]
    assert (a < 0).all()  # a Gaussian in every coordinate
    log_mass = c + np.sum(b**2 / (-4 * a) + 0.5 * np.log(np.pi / -a) + np.log(scale))
    assert abs(log_mass) < 1e-4, log_mass
    vertex = -b / (2 * a)  # the Gaussian's mean in t: the draws' mean within 5 of its errors
    assert np.abs(vertex).max() < 5 / np.sqrt(len(t)), np.abs(vertex).max()


def worksite_mean_logit(params: dict, data) -> np.ndarray:
    """Mean logit of each worksite's workers, shape (..., J): what its outcomes pin down.

    ``alpha + X_site . beta_site`` alone is not identified per worksite: the worker features are
    not centred within worksites (e.g. 0/1 dummies), so a worksite's shift trades off against
    its ``beta_worker``; the mean of the full linear predictor over its workers does not.
    """
    eta = linear_predictor(params, data)
    return np.stack([eta[..., data.site == j].mean(-1) for j in range(data.n_worksites)], -1)


@NAMES
def test_each_remedy_recovers_the_worksite_logits(fits, twin, name):
    """Posterior mean of every worksite's mean logit vs the truth's.

    ~100 workers per worksite at ~17% prevalence pin a worksite's logit to about
    1/sqrt(100 x 0.17 x 0.83) = 0.27, plus the uncertainty of the 7 worker coefficients: the
    bound is rms error < 0.6 and no worksite off by more than 1.5 (observed on this twin: rms
    0.42 / 0.36 / 0.37, max 1.07 / 0.76 / 0.79 for Pathfinder / DADVI / flow; mean-field
    1,500 steps: 0.38, 0.91).
    """
    post = fits[name].idata.posterior
    keys = ("alpha", "beta_site", "beta_worker")
    est = worksite_mean_logit({k: post[k].values[0] for k in keys}, twin).mean(0)
    err = est - worksite_mean_logit({k: twin.truth[k] for k in keys}, twin)
    assert np.sqrt(np.mean(err**2)) < 0.6, np.sqrt(np.mean(err**2))
    assert np.abs(err).max() < 1.5, np.abs(err).max()


@pytest.mark.parametrize("name", ["pymc_dadvi", "pymc_dadvi_lr", "pyro_flow"])
def test_dadvi_and_flow_recover_sigma_worker(fits, twin, name):
    """sigma_worker (truth 0.5) within a factor 1.6 (observed 0.42 / 0.41).  Not asserted for
    Pathfinder: on this twin its sigma_worker came out at 1.7-1.9 (raw or PSIS-resampled
    draws): an observed limitation, reported, not a test bound."""
    ratio = float(fits[name].idata.posterior["sigma_worker"].values.mean()) / 0.5
    assert 1 / 1.6 < ratio < 1.6, ratio


def test_linear_response_widens_what_mean_field_understates(fits):
    """On this twin NUTS's beta_site sds are 2.6 x DADVI mean-field's (median; measured with
    4 x 500 draws, ESS >= 199) and 1.3 x the LR-corrected ones: the LR draws must be at least
    1.5 x as spread as the mean-field draws of the same optimum, which a covariance left at
    the mean-field diagonal (ratio 1) cannot pass.  The Gaussian case, where LR is exact, is
    in test_linear_response.py."""

    def sds(name):
        return fits[name].idata.posterior["beta_site"].std(("chain", "draw")).values

    ratio = np.median(sds("pymc_dadvi_lr") / sds("pymc_dadvi"))
    assert ratio > 1.5, ratio
    info = fits["pymc_dadvi_lr"].info
    assert info["lr_covariance"] is True and info["hessian_products"] == 2 * (21 + 7) + 1
    assert fits["pymc_dadvi"].info["lr_covariance"] is False


def test_pathfinder_psis_resamples_and_keeps_the_proposal_density_apart(tiny_twin):
    fit = _pathfinder(tiny_twin, "psis")
    check_inference_data(fit.idata, tiny_twin)
    stats = fit.idata.sample_stats
    # Resampled draws are not distributed as q: no log_q (no k-hat from them), the proposal's
    # density kept under another name, the k-hat of the pooled draws in info and attrs.
    assert "log_q" not in stats and "log_q_proposal" in stats
    assert fit.idata.posterior.sizes["draw"] == 300
    assert np.isfinite(fit.info["pareto_k"])
    assert fit.idata.posterior.attrs["importance_sampling"] == "psis"
    ref = draw_log_joint(extract(fit.idata, tiny_twin), tiny_twin, SPEC)
    assert np.ptp(stats["lp"].values.ravel() - ref) < 1e-8 * np.abs(ref).max()
    # the diagnostics show that k-hat (issue 20: they said "no diagnostic applies", ok: true)
    diag = diagnostics_section(
        extract(fit.idata, tiny_twin), tiny_twin, SPEC, fit.info, fit.loss, fit.timing
    )
    assert diag["vi"]["khat"] == fit.info["pareto_k"] and "note" not in diag
    assert diag["ok"] is (fit.info["pareto_k"] <= 0.7)


def test_bad_settings_fail_at_construction():
    with pytest.raises(BackendError, match="importance_sampling"):
        PyMCPathfinder(model=SPEC, importance_sampling="psir")
    with pytest.raises(BackendError, match="n_fixed_draws"):
        PyMCDADVI(model=SPEC, n_fixed_draws=0)
    with pytest.raises(ValueError, match="guide must be one of"):
        PyroSVI(model=SPEC, guide="spline")


# ------------------------------------------------------------------------------------------
# Schedules: converging by default, the paper's selectable
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["pyro_fullrank", "pyro_lowrank", "pymc_fullrank", "pyro_flow"])
def test_full_and_low_rank_default_to_the_converging_schedule(name):
    text = (CONF / f"{name}.yaml").read_text()
    cfg = yaml.safe_load(text)
    # full-rank's cap is 80k (issue 20: at 40k its paper-scale loss was still falling)
    assert cfg["lr_decay"] == 0.9999 and cfg["num_steps"] >= 40000
    # The paper's schedule stays one override away, written in the config's comment.
    assert "backend.lr_decay=0.9995 backend.num_steps=18000" in text
    # The learning rate still anneals (lr x decay^steps well below lr) but 5x later than the
    # paper's, whose total step budget lr / (1 - decay) is 5x smaller.
    assert cfg["lr_decay"] ** cfg["num_steps"] < 0.05
    assert (1 - 0.9995) / (1 - cfg["lr_decay"]) == pytest.approx(5.0)


def test_new_backends_compose_and_are_in_the_studies():
    """Each remedy is in the benchmark and in a study sweep (meanfield_study, or the real-data
    one for the flow); the remedies that work (DADVI with linear response, full-rank) are in
    the replicated evidence study of make findings (evaluation/study/plan.py)."""
    from evaluation.config import compose_backend, schema
    from evaluation.study.plan import STUDIES

    def swept(study: str) -> list[str]:
        text = (CONF.parent / "experiment" / f"{study}.yaml").read_text()
        return yaml.safe_load(text)["hydra"]["sweeper"]["params"]["backend"].split(",")

    schema.register()
    for name in ("pymc_pathfinder", "pymc_dadvi", "pymc_dadvi_lr", "pyro_flow"):
        cfg = compose_backend(name, {})
        assert cfg["name"] == name and "progress" in cfg
        assert name in swept("benchmark")
        assert name in swept("meanfield_study") or name in swept("meanfield_real")
    assert "pymc_dadvi_lr" in swept("evidence")
    default = [study for study in STUDIES if study.default]
    planned = {m for study in default for sweep in study.sweeps for m in sweep.methods}
    assert {"pymc_dadvi_lr", "pyro_fullrank", "pyro_lowrank"} <= planned
