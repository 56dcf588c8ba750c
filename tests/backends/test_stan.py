"""Stan backends (CmdStanPy): real CmdStan fits on small synthetic twins.

The program is compiled once per machine (cached in ~/.cache/ppl-compare/stan); the PyStan
build used for the log-density check is cached by httpstan.  Whole file: about 1.5 minutes
with both caches warm (2 cores), plus ~45 s + ~2 min the first time (compiles).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import stats as sp_stats

from backends.base import BackendError, BackendUnavailable, check_inference_data
from backends.spec import VAR_NAMES, ModelSpec, log_joint, random_params
from evaluation.metrics.diagnostics import (
    DIVERGENCE_WARN_FRACTION,
    loss_convergence,
    mcmc_diagnostics,
)
from evaluation.metrics.draws import extract

NONCENTERED = ModelSpec(parameterization="noncentered")


@pytest.fixture(scope="session")
def compiled():
    """The program, compiled once per session (a cache hit after the first session)."""
    from backends.stan.cmdstan import compile_program

    return compile_program()


@pytest.fixture(scope="session")
def nuts_fit(compiled, identified_twin):
    """2 chains x (600 warm-up + 1,000 draws), non-centred, on the 20 x 2,000 twin with an
    identified site design (conftest.identified; ~30 s)."""
    from backends.stan import StanNUTS

    backend = StanNUTS(model=NONCENTERED, chains=2, tune=600, draws=1000, progress=False)
    return backend.fit(identified_twin, seed=11)


@pytest.fixture(scope="session", params=["meanfield", "fullrank"])
def vi_fit(request, compiled, small_twin):
    from backends.stan import StanFullRank, StanMeanField

    cls = {"meanfield": StanMeanField, "fullrank": StanFullRank}[request.param]
    backend = cls(model=NONCENTERED, num_draws=300, num_steps=3000)
    seen = []  # CmdStan's own output object, for the mean row of its CSV
    draws = backend._draws
    backend._draws = lambda vb: seen.append(vb) or draws(vb)
    fit = backend.fit(small_twin, seed=5)
    return backend, fit, seen[0]


# ------------------------------------------------------------------------------- NUTS
def test_nuts_contract_and_sample_stats(nuts_fit, identified_twin):
    idata = nuts_fit.idata
    check_inference_data(idata, identified_twin)
    assert idata.posterior["z_worker"].dims == ("chain", "draw", "worksite", "worker_feature")
    stats = idata.sample_stats
    for name in (
        "lp",
        "acceptance_rate",
        "step_size",
        "tree_depth",
        "n_steps",
        "diverging",
        "energy",
    ):
        assert stats[name].shape == (2, 1000), name
    assert stats["diverging"].dtype == bool
    assert nuts_fit.loss is None
    assert set(nuts_fit.timing) <= {
        "compile_s",
        "warmup_s",
        "sampling_s",
        "optimisation_s",
        "fit_s",
    }
    assert nuts_fit.timing["warmup_s"] > 0 and nuts_fit.timing["sampling_s"] > 0
    assert mcmc_diagnostics(extract(idata))["n_divergent"] == int(stats["diverging"].sum())
    assert idata.posterior.attrs["inference_family"] == "mcmc"
    # the transformed parameter is exactly sigma_worker * z_worker, draw by draw
    post = idata.posterior
    np.testing.assert_allclose(
        post["beta_worker"], post["sigma_worker"] * post["z_worker"], rtol=1e-6, atol=1e-9
    )


def test_nuts_counts_gradients_of_warm_up_and_draws_apart(compiled, tiny_twin, monkeypatch):
    """Issue 31: leapfrog steps (one gradient each) of the 2 x 150 warm-up iterations and of
    the 2 x 100 kept ones, against CmdStan's own n_leapfrog__ column with the warm-up rows."""
    from backends.stan import StanNUTS

    backend = StanNUTS(model=NONCENTERED, chains=2, tune=150, draws=100, progress=False)
    runs = []
    sample = backend.compiled.model.sample
    monkeypatch.setattr(backend.compiled.model, "sample",
                        lambda **kw: runs.append(sample(**kw)) or runs[-1])  # fmt: skip
    fit = backend.fit(tiny_twin, seed=3)
    column = list(runs[0].column_names).index("n_leapfrog__")
    leapfrog = runs[0].draws(inc_warmup=True)[:, :, column]
    assert leapfrog.shape == (250, 2)  # warm-up rows first
    assert fit.info["n_grad_warmup"] == int(leapfrog[:150].sum()) >= 2 * 150
    assert fit.info["n_grad_draws"] == int(leapfrog[150:].sum())
    assert fit.info["n_grad_draws"] == int(fit.idata.sample_stats["n_steps"].sum())
    assert fit.idata.posterior.sizes["draw"] == 100 and fit.info["fit_cpu_s"] > 0


def test_nuts_converges_and_recovers_truth(nuts_fit, identified_twin):
    import arviz as az

    idata, data, truth = nuts_fit.idata, identified_twin, identified_twin.truth
    # Divergences: the evaluator's threshold (evaluation.divergence_warn_fraction, 1% of draws)
    # rather than 0 -- an isolated divergence in 2,000 draws is what a healthy non-centred fit
    # may show; more than 1% fails the run's own MCMC verdict, and so this test.
    n_div = mcmc_diagnostics(extract(idata))["n_divergent"]
    assert n_div <= DIVERGENCE_WARN_FRACTION * 2 * 1000, n_div
    names = ["alpha", "beta_site", "sigma_site", "sigma_worker"]
    rhat = az.rhat(idata, var_names=names)
    worst = max(float(rhat[v].max()) for v in names)
    assert worst < 1.01, f"max R-hat {worst:.4f}"
    # Identified quantities only: on this design [1 | X_site] has full column rank, so alpha
    # and every beta_site are identified; the per-worksite logit alpha + X_site[j] . beta_site
    # is identified on any design (it is what the likelihood sees).
    post = idata.posterior
    logits = post["alpha"] + xr.dot(
        post["beta_site"], xr.DataArray(data.X_site, dims=("worksite", "site_feature")),
        dim="site_feature",
    )  # fmt: skip
    ds = xr.Dataset({"alpha": post["alpha"], "sigma_worker": post["sigma_worker"],
                     "beta_site": post["beta_site"], "site_logit": logits})  # fmt: skip
    summary = az.summary(ds, round_to="none")
    # Tolerance: |posterior mean - truth| < 4 posterior sd + 3 MCSE.  For a calibrated
    # posterior the truth is within 4 sd with probability 1 - 6e-5 per quantity (about 2.4e-3
    # over these 38 checks); 3 MCSE (mcse_mean ~ sd / sqrt(ESS), ESS > 400 here) covers the
    # Monte Carlo error of the mean.  sigma_worker's posterior is skewed and its sd wide
    # (0.1-0.2 at J=20), so the same rule is a meaningful, not a loose, check.
    expected = np.concatenate(
        [
            np.atleast_1d(truth["alpha"]),
            np.atleast_1d(truth["sigma_worker"]),
            truth["beta_site"],
            truth["alpha"] + data.X_site @ truth["beta_site"],
        ]
    )
    assert len(summary) == len(expected) == 2 + 16 + 20
    err = np.abs(summary["mean"].to_numpy() - expected)
    bound = 4 * summary["sd"].to_numpy() + 3 * summary["mcse_mean"].to_numpy()
    bad = summary.index[err > bound].tolist()
    assert not bad, f"outside 4 sd + 3 MCSE of the truth: {bad}"


def test_beta_worker_element_order(compiled, tiny_twin):
    """posterior beta_worker[chain, draw, j, k] is CmdStan's column beta_worker[j+1, k+1]."""
    from backends.stan.convert import canonical_posterior, stan_data

    fit = compiled.model.sample(
        data=stan_data(tiny_twin, NONCENTERED),
        chains=2,
        iter_warmup=30,
        iter_sampling=4,
        seed=3,
        show_progress=False,
    )
    post = canonical_posterior(fit.stan_variable, NONCENTERED, n_chains=2, n_draws=4)
    frame = fit.draws_pd()
    n_sites, n_feat = post["beta_worker"].shape[2:]
    assert (n_sites, n_feat) == (tiny_twin.n_worksites, len(tiny_twin.worker_features))
    for chain in range(2):
        rows = frame[frame["chain__"] == chain + 1]
        for draw in range(4):
            for j in range(n_sites):
                for k in range(n_feat):
                    column = f"beta_worker[{j + 1},{k + 1}]"
                    assert post["beta_worker"][chain, draw, j, k] == rows[column].iloc[draw]
            assert post["alpha"][chain, draw] == rows["alpha"].iloc[draw]


# --------------------------------------------------------------------------------- VI
def _index(column: str) -> list[int]:
    """CmdStan column name -> its indices, e.g. ``z_worker[3,2]`` -> [3, 2] (row-major order)."""
    inside = column.partition("[")[2].rstrip("]")
    return [int(i) for i in inside.split(",")] if inside else []


def unconstrained(post, mean_row: dict) -> tuple[np.ndarray, np.ndarray]:
    """The draws on Stan's unconstrained space (S, D) and the approximation's mean (D,).

    ``mean_row`` is the first row of CmdStan's variational CSV: the mean of the Gaussian on
    the unconstrained space, mapped to the constrained one (log of the scales undoes it).
    """
    cols, means = [], []
    for name in ("alpha", "beta_site", "sigma_site", "sigma_worker", "z_worker"):
        x = post[name].values[0].reshape(post.sizes["draw"], -1)
        keys = sorted((k for k in mean_row if k == name or k.startswith(name + "[")), key=_index)
        m = np.array([mean_row[k] for k in keys], dtype=float)
        if name.startswith("sigma"):
            x, m = np.log(x), np.log(m)
        cols.append(x)
        means.append(m)
    return np.concatenate(cols, axis=1), np.concatenate(means)


def test_vi_log_q_is_the_density_of_the_draws(vi_fit):
    """Stan's log q against an independent Gaussian density of the draws."""
    backend, fit, vb = vi_fit
    post, stats = fit.idata.posterior, fit.idata.sample_stats
    u, mu = unconstrained(post, vb.variational_params_dict)
    n, d = u.shape
    assert d == 1 + 18 + 2 + 20 * 7
    log_g = stats["log_g"].values[0]
    # (1) For a Gaussian q on the unconstrained space, log_g = -|L^-1 (u - mu)|^2 / 2 is
    # -chi^2_D / 2 at q's own draws: mean(-2 log_g) = D with sd sqrt(2 D / S) = 1.04; 4.5 sd.
    assert abs(np.mean(-2 * log_g) - d) < 4.5 * np.sqrt(2 * d / n)
    # (2) The draws are centred on the mean CmdStan reports: per coordinate
    # |mean(u) - mu| < z sd(u) / sqrt(S), z = 4.0 (Bonferroni 1% over 161 coordinates).
    z_score = (u.mean(axis=0) - mu) / (u.std(axis=0, ddof=1) / np.sqrt(n))
    assert np.abs(z_score).max() < 4.0, np.abs(z_score).max()
    if backend.method != "meanfield":
        return  # full-rank: D (D + 1) / 2 = 13,041 covariance terms from 300 draws; (1), (2)
    # (3) Mean-field: solve log_g = -sum_d w_d (u_d - mu_d)^2 / 2 for the precisions w_d
    # (300 equations, 161 unknowns).  A diagonal Gaussian at the reported mean fits exactly
    # (residual = CmdStan's 9-significant-digit rounding), with positive precisions that
    # match the draws' spread: sample var x w = 1 within 4.5 x sqrt(2 / (S - 1)) (8% each).
    design = -0.5 * (u - mu) ** 2
    w, *_ = np.linalg.lstsq(design, log_g, rcond=None)
    assert np.abs(design @ w - log_g).max() < 1e-4 * np.abs(log_g).max()
    assert (w > 0).all()
    assert np.abs(np.log(u.var(axis=0, ddof=1) * w)).max() < 4.5 * np.sqrt(2 / (n - 1))
    # (4) Stan's log q on the constrained space is that Gaussian N(mu, 1 / sqrt(w)), moved
    # through sigma = exp(u) (lognormal densities for the two scales): equal up to one
    # constant (CmdStan's log_g omits the normaliser); a missing or wrong Jacobian varies.
    sd = 1 / np.sqrt(w)
    independent = sp_stats.norm.logpdf(u[:, :19], mu[:19], sd[:19]).sum(axis=1)
    independent += sp_stats.norm.logpdf(u[:, 21:], mu[21:], sd[21:]).sum(axis=1)
    for i, name in ((19, "sigma_site"), (20, "sigma_worker")):
        sigma = post[name].values[0]
        independent += sp_stats.lognorm(s=sd[i], scale=np.exp(mu[i])).logpdf(sigma)
    diff = stats["log_q"].values[0] - independent
    assert np.ptp(diff) < 1e-3, np.ptp(diff)


def test_vi_draws_and_log_densities(vi_fit, small_twin):
    backend, fit, _ = vi_fit
    check_inference_data(fit.idata, small_twin)
    stats, post = fit.idata.sample_stats, fit.idata.posterior
    for name in ("log_p", "log_g", "log_q", "lp"):
        assert stats[name].shape == (1, 300), name
        assert np.isfinite(stats[name]).all(), name
    for name in VAR_NAMES:
        assert np.isfinite(post[name]).all(), name
    # log_q against an independent density of the draws: test_vi_log_q_is_the_density_...
    # lp (= CmdStan's log_p__ minus the Jacobian) is spec.log_joint of the same draw: the
    # program keeps every constant, so the difference is 0 up to the 9 significant digits
    # CmdStan writes (|lp| ~ 600 -> ~1e-6; draws rounded too -> allow 1e-3).
    draws = {name: post[name].values[0] for name in (*VAR_NAMES, "z_worker")}
    reference = log_joint(draws, small_twin, NONCENTERED)
    np.testing.assert_allclose(stats["lp"].values[0], reference, atol=1e-3, rtol=0)
    # the loss trace: -ELBO every eval_elbo iterations
    steps = np.asarray(fit.info["loss_steps"])
    assert fit.loss is not None and len(fit.loss) == len(steps) > 0
    assert np.isfinite(fit.loss).all()
    np.testing.assert_array_equal(np.diff(steps), backend.eval_elbo)
    assert fit.timing["optimisation_s"] > 0
    assert isinstance(fit.info["converged"], bool)
    # the optimiser steps as counts (issue 31): CmdStan stops at an ELBO row (converged) or
    # at num_steps (a multiple of eval_elbo here), so the last row is the steps run; before
    # them the eta adaptation ran adapt_iter steps for each of 2 to 5 step sizes tried
    assert fit.info["n_steps"] == steps[-1] == (fit.info["converged_step"] or backend.num_steps)
    assert fit.info["n_steps_adapt"] in {k * backend.adapt_iter for k in range(2, 6)}
    assert fit.info["fit_cpu_s"] > 0
    # CmdStan's own convergence verdict (tol_rel_obj) is what the diagnostics report
    verdict = loss_convergence(fit.loss, fit.info)
    assert verdict == {k: fit.info[k] for k in ("converged", "converged_step", "convergence_rule")}
    assert "tol_rel_obj" in verdict["convergence_rule"]
    assert fit.idata.posterior.attrs["inference_family"] == "vi"


def test_cache_reuse(compiled):
    """A second backend construction takes the executable from the cache."""
    from backends.stan import StanMeanField

    first = StanMeanField(model=NONCENTERED)
    second = StanMeanField(model=ModelSpec(parameterization="centered"))
    for backend in (first, second):
        assert backend.compiled.compiled is False and backend.compiled.compile_s == 0.0
        assert backend.compiled.exe_file == compiled.exe_file
        assert backend.compile_timing() == (0.0, False)


# ---------------------------------------------------------------- same model as spec.py
@pytest.mark.parametrize("parameterization", ["noncentered", "centered"])
def test_log_density_matches_spec(tiny_twin, parameterization):
    from backends.stan.logprob import stan_log_density

    spec = ModelSpec(parameterization=parameterization)
    rng = np.random.default_rng(42)
    points = [random_params(tiny_twin, rng) for _ in range(6)]
    stan_lp, _route = stan_log_density(points, tiny_twin, spec)
    reference = np.array([log_joint(p, tiny_twin, spec) for p in points])
    diff = stan_lp - reference
    # same density up to one constant (relative 1e-6 of the log density's size) ...
    assert np.ptp(diff) <= 1e-6 * np.abs(reference).max()
    # ... and that constant is 0: every normalising constant is kept on both sides
    assert abs(diff.mean()) <= 1e-6 * np.abs(reference).max()


# ------------------------------------------------------------------------------ errors
def test_pathfinder_needs_newer_cmdstan(compiled):
    from backends.stan import StanPathfinder

    if compiled.cmdstan.version >= (2, 33):
        pytest.fail("this check is for CmdStan < 2.33; with a newer one, fit stan_pathfinder")
    with pytest.raises(BackendUnavailable, match=r"CmdStan >= 2\.33"):
        StanPathfinder(model=NONCENTERED)


def test_lr_decay_is_refused():
    from backends.stan import StanMeanField

    with pytest.raises(BackendError, match="lr_decay=null"):
        StanMeanField(model=NONCENTERED, lr_decay=0.999)


def test_compile_error_surfaces_stanc_message(tmp_path):
    from backends.stan.cmdstan import compile_program

    broken = tmp_path / "broken.stan"
    broken.write_text(
        "parameters { real a; }\nmodel { target += normal_lpdf(a | 0, undefined_scale); }\n"
    )
    with pytest.raises(BackendError, match="undefined_scale") as err:
        compile_program(broken, cache=tmp_path / "cache")
    assert "does not compile" in str(err.value)
    assert not list((tmp_path / "cache").glob("broken-*/broken"))  # nothing cached


def test_missing_cmdstan_says_how_to_install(monkeypatch, tmp_path):
    from backends.stan.cmdstan import find_cmdstan

    monkeypatch.setenv("CMDSTAN", str(tmp_path / "no-cmdstan-here"))
    with pytest.raises(BackendUnavailable, match=r"python -m backends\.stan\.install") as err:
        find_cmdstan()
    assert "\n" not in str(err.value)


def test_concurrent_builds_compile_once(tmp_path):
    """Two callers racing for the same program: one builds, the other waits and reuses it."""
    import threading
    import time

    from backends.stan.cmdstan import PROGRAM_FILE, CmdStanInfo, cached_build

    calls = []

    def slow_build(stan_file, target_dir, cmdstan):
        calls.append(stan_file)
        time.sleep(0.5)  # long enough for the other thread to reach the lock
        target_dir.mkdir(parents=True)
        exe = target_dir / stan_file.stem
        tmp = target_dir / ".partial"
        tmp.write_text("exe")
        tmp.replace(exe)
        return exe

    info = CmdStanInfo(tmp_path, (2, 27), "2.27.0")
    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(cached_build(PROGRAM_FILE, info, tmp_path, slow_build))
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert sorted(r[1] for r in results) == [False, True]
    assert results[0][0] == results[1][0] and results[0][0].read_text() == "exe"
