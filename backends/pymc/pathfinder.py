"""Multi-path Pathfinder of ``pymc-extras`` on the PyMC model (``pymc_pathfinder``).

Pathfinder (Zhang et al. 2022) runs L-BFGS from ``num_paths`` jittered starts and fits a
Gaussian (low-rank + diagonal inverse Hessian) along each path; the draws of every path
(``num_draws_per_path`` each) are pooled.  ``pymc_extras.inference.pathfinder`` returns each
raw draw's ``logP`` (the model's log density on the unconstrained space, Jacobian included) and
``logQ`` (its path's Gaussian there).  This backend then, like the library's
``importance_sampling="psis"``, keeps ``num_draws`` of the pooled draws resampled without
replacement by Pareto-smoothed weights ``logP - logQ`` (``importance_sampling: psis``), or keeps
the pooled draws as they are (``importance_sampling: none``).  Paths run one after another in
this process (``concurrent=None``: no process pool on a shared 2-core machine).

Contract of ``sample_stats``: ``lp`` (the model's log joint on the constrained space) for every
draw; ``log_q`` (the proposal density on the constrained space) only with
``importance_sampling: none``, because resampled draws are no longer distributed as the
proposal and a k-hat computed from them would be meaningless.  With ``psis`` the proposal
density is kept as ``log_q_proposal`` and the k-hat of the pooled raw draws is in ``info``
(``pareto_k``) and the attrs; the evaluator's diagnostics report that k-hat.

**How it fails on this model** (main twin, true sigma_worker 1; one run each, seed 0; the
library's own ``fit_pathfinder`` gives the same sigma_worker, 2.7e-9, so the collapse is not a
transform bug of this backend).  With ``jitter: 2`` the paths start from ``z_worker`` jittered in
(-2, 2), where log p is about -20,000; the steepest way up is to shrink log sigma_worker to
about -22, after which the gradient on ``z_worker`` vanishes and the objective sits on the
Jacobian's slope-1 plateau, where L-BFGS reports convergence (``ftol`` 1e-12 does not help).
The pooled draws then have sigma_worker ~ 0, the proposal's k-hat is 19.7 (2.9 on the
Contraception data) and held-out AUC drops from 0.893 to 0.756.  ``jitter: 0.1`` reaches the
joint mode instead (sigma_worker 5.4-5.9, k-hat 8.5).  ``init: advi`` (paths started at a
mean-field ADVI fit's mean) avoids the collapse but overshoots: sigma_worker 2.28 (jitter 2)
and 1.85 (jitter 0.1) against NUTS's 1.01, k-hat 8.8 and 11.1, 240 s per fit against NUTS's
119-137 s.  No setting tried makes it a remedy here.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from backends.base import BackendError, FitResult, finish_fit, library_version, require
from backends.pymc.convert import posterior_arrays
from backends.pymc.model import INSTALL_HINTS, build_model, latent_names, quiet_pytensor
from backends.spec import HierData, ModelSpec, log_jacobian_unconstrained

#: How the pooled draws become the posterior.
IMPORTANCE_SAMPLING: tuple[str, ...] = ("psis", "none")
#: Where the paths start (before jitter).
INITS: tuple[str, ...] = ("default", "advi")
EXTRAS_HINT = "pip install 'ppl-compare[pymc]'  (or: pip install pymc-extras)"


class PyMCPathfinder:
    """Multi-path Pathfinder (``pymc_extras``) on the model of :mod:`backends.pymc.model`.

    Parameters
    ----------
    model : ModelSpec
    name : str
    num_paths : int
        Independent L-BFGS paths (jittered starts).
    num_draws : int
        Draws kept after PSIS resampling (``importance_sampling: psis``).
    num_draws_per_path : int
        Draws from each path's Gaussian (pooled: ``num_paths * num_draws_per_path``).
    maxiter : int
        L-BFGS iterations per path.
    num_elbo_draws : int
        Draws per ELBO estimate along a path (picks the path's best Gaussian).
    jitter : float
        Uniform jitter of the start on the unconstrained space.
    importance_sampling : {"psis", "none"}
        Resample the pooled draws by Pareto-smoothed importance weights, or keep them all.
    init : {"default", "advi"}
        Where the jittered paths start: the model's initial point, or the posterior mean of a
        PyMC mean-field ADVI fit (stopped at the convergence rule) run first.
    progress : bool
    """

    family: ClassVar[str] = "vi"

    def __init__(
        self,
        model: ModelSpec,
        name: str = "pymc_pathfinder",
        num_paths: int = 4,
        num_draws: int = 1000,
        num_draws_per_path: int = 1000,
        maxiter: int = 1000,
        num_elbo_draws: int = 10,
        jitter: float = 2.0,
        importance_sampling: str = "psis",
        init: str = "default",
        progress: bool = False,
    ) -> None:
        if init not in INITS:
            raise BackendError(f"{name}: init must be one of {INITS}, got {init!r}")
        if importance_sampling not in IMPORTANCE_SAMPLING:
            raise BackendError(
                f"{name}: importance_sampling must be one of {IMPORTANCE_SAMPLING}, "
                f"got {importance_sampling!r}"
            )
        if min(num_paths, num_draws, num_draws_per_path, maxiter, num_elbo_draws) < 1:
            raise BackendError(f"{name}: every count (paths, draws, iterations) must be >= 1")
        self.model, self.name = model, name
        self.num_paths, self.num_draws = int(num_paths), int(num_draws)
        self.num_draws_per_path, self.maxiter = int(num_draws_per_path), int(maxiter)
        self.num_elbo_draws, self.jitter = int(num_elbo_draws), float(jitter)
        self.importance_sampling, self.progress = importance_sampling, bool(progress)
        self.init = init

    def fit(self, data: HierData, seed: int) -> FitResult:
        """Run the paths, pool (and PSIS-resample) their draws, return them as one chain."""
        start = time.perf_counter()
        require("pymc", INSTALL_HINTS["pymc"])
        pf = require("pymc_extras.inference.pathfinder.pathfinder", EXTRAS_HINT)
        model = build_model(data, self.model)
        advi_s = self._set_advi_start(model, data, seed)
        with quiet_pytensor():
            mpr = self._run(pf, model, seed)
            t0 = time.perf_counter()
            flat = np.asarray(mpr.samples, float).reshape(-1, mpr.samples.shape[-1])
            log_p_u = np.asarray(mpr.logP, float).ravel()
            log_q_u = np.asarray(mpr.logQ, float).ravel()
            keep, khat = self._select(log_p_u, log_q_u, seed)
            raw = pf.convert_flat_trace_to_idata(
                flat[keep], model=model, importance_sampling="psis"
            )
            posterior = posterior_arrays(raw.posterior, data, self.model)
        jac = log_jacobian_unconstrained({k: v[0] for k, v in posterior.items()})
        stats = {"lp": (log_p_u[keep] - jac)[None]}
        q_name = "log_q" if self.importance_sampling == "none" else "log_q_proposal"
        stats[q_name] = (log_q_u[keep] - jac)[None]
        timing = {
            "compile_s": float(mpr.compile_time or 0.0),
            "optimisation_s": float(mpr.compute_time or 0.0),
            "sampling_s": time.perf_counter() - t0,
        }
        timing["fit_s"] = time.perf_counter() - start
        info = {**self._info(mpr, khat, len(log_p_u)), "init": self.init, "init_fit_s": advi_s}
        return finish_fit(
            self, data, posterior, model=self.model, seed=seed, library="pymc-extras",
            library_version=library_version("pymc-extras"), timing=timing, info=info,
            sample_stats=stats, extra_attrs={"importance_sampling": self.importance_sampling,
                                             "pareto_k": -1.0 if khat is None else khat},
        )  # fmt: skip

    def _set_advi_start(self, model: Any, data: HierData, seed: int) -> float | None:
        """With ``init: advi``, start the paths at a mean-field ADVI fit's posterior mean
        (the model's initial values); returns that fit's seconds (None without it)."""
        if self.init != "advi":
            return None
        from backends.pymc.vi import PyMCADVI

        advi = PyMCADVI(model=self.model, name=f"{self.name}_init", num_draws=200,
                        stop_at_convergence=True, convergence_window=2000)  # fmt: skip
        fit = advi.fit(data, seed)
        post = fit.idata.posterior
        for name in latent_names(self.model):
            model.set_initval(model[name], post[name].mean(("chain", "draw")).values)
        return float(fit.timing["fit_s"])

    def _run(self, pf: Any, model: Any, seed: int) -> Any:
        """``multipath_pathfinder`` without resampling: pooled draws with logP and logQ."""
        try:
            return pf.multipath_pathfinder(
                model,
                num_paths=self.num_paths,
                num_draws=self.num_draws,
                num_draws_per_path=self.num_draws_per_path,
                maxcor=_maxcor(model, pf),
                maxiter=self.maxiter,
                ftol=1e-5,
                gtol=1e-8,
                maxls=1000,
                num_elbo_draws=self.num_elbo_draws,
                jitter=self.jitter,
                epsilon=1e-12,
                importance_sampling=None,
                progressbar=self.progress,
                concurrent=None,
                random_seed=int(seed),
                display_summary=False,
            )
        except ValueError as exc:
            first = str(exc).strip().splitlines()[0]
            raise BackendError(f"{self.name}: Pathfinder failed: {first}") from exc

    def _select(
        self, log_p_u: np.ndarray, log_q_u: np.ndarray, seed: int
    ) -> tuple[np.ndarray, float | None]:
        """Indices of the kept draws and the k-hat of the pooled draws' weights."""
        import warnings

        import arviz as az

        finite = np.flatnonzero(np.isfinite(log_p_u) & np.isfinite(log_q_u))
        if finite.size == 0:
            raise BackendError(f"{self.name}: no Pathfinder draw has a finite log density")
        lw = log_p_u[finite] - log_q_u[finite]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # psislw warns on k-hat > 0.7; it is reported
            smoothed, khat = az.psislw(lw - lw.max(), reff=1.0)
        if self.importance_sampling == "none":
            return finite, float(khat)
        weights = np.exp(smoothed - smoothed.max())
        n = min(self.num_draws, int(np.count_nonzero(weights)))
        rng = np.random.default_rng(int(seed))
        chosen = rng.choice(finite.size, size=n, replace=False, p=weights / weights.sum())
        return finite[np.sort(chosen)], float(khat)

    def _info(self, mpr: Any, khat: float | None, n_pooled: int) -> dict[str, Any]:
        return {
            "algorithm": "pymc-extras multi-path Pathfinder",
            "num_paths": self.num_paths,
            "num_draws_per_path": self.num_draws_per_path,
            "num_pooled_draws": n_pooled,
            "maxiter": self.maxiter,
            "num_elbo_draws": self.num_elbo_draws,
            "jitter": self.jitter,
            "importance_sampling": self.importance_sampling,
            "pareto_k": khat,
            "lbfgs_niter": [int(x) for x in np.ravel(mpr.lbfgs_niter)],
            "path_status": {str(k): int(v) for k, v in mpr.path_status.items()},
            "library_warnings": [str(w) for w in mpr.warnings],
            "log_q_space": "constrained (path Gaussian log q_u - log|dtheta/du|)",
        }


def _maxcor(model: Any, pf: Any) -> int:
    """The library's default history size: max(5, ceil(3 log N)), N unconstrained dims."""
    n = pf.DictToArrayBijection.map(model.initial_point()).data.shape[0]
    return max(5, int(np.ceil(3 * np.log(n))))
