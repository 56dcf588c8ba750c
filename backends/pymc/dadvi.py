"""Deterministic ADVI (DADVI, Giordano, Ingram & Broderick 2024) of ``pymc-extras`` on the PyMC
model (``pymc_dadvi``).

DADVI fixes ``n_fixed_draws`` standard-normal draws once and minimises the resulting
*deterministic* negative ELBO of a mean-field Gaussian on the unconstrained space with a
second-order optimiser (trust-region Newton-CG with Hessian-vector products).  The objective is
the library's own graph (``pymc_extras.inference.dadvi.dadvi.create_dadvi_graph``); the
optimisation is run here rather than through ``fit_dadvi`` because that function starts the
optimiser from unit scales and aborts on the first non-finite trial step (seen on the twin:
"array must not contain infs or NaNs" / L-BFGS-B "ABNORMAL"): here a non-finite objective is
returned as +inf, which makes the trust region shrink instead.

The linear-response (LR) covariance correction of the DADVI paper is not offered by
``pymc-extras`` 0.10 (``fit_dadvi`` returns the mean-field draws only); this backend is the
mean-field DADVI.  ``sample_stats``: ``log_q`` (the mean-field Gaussian on the constrained
space) and ``lp`` (PyMC's log joint, no Jacobian).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from backends.base import BackendError, FitResult, finish_fit, library_version, require
from backends.pymc.convert import posterior_arrays
from backends.pymc.model import INSTALL_HINTS, build_model, quiet_pytensor
from backends.spec import HierData, ModelSpec, log_jacobian_unconstrained

EXTRAS_HINT = "pip install 'ppl-compare[pymc]'  (or: pip install pymc-extras)"


class PyMCDADVI:
    """Mean-field DADVI of the PyMC model.

    Parameters
    ----------
    model : ModelSpec
    name : str
    n_fixed_draws : int
        Fixed Monte Carlo draws of the deterministic objective (paper: 30).
    num_draws : int
        Draws from the fitted Gaussian (one chain).
    maxiter : int
        Optimiser iterations.
    init_log_sd : float
        Initial log scale of every coordinate (the library starts at 0; -2 keeps the first
        trial steps inside the region where the likelihood is finite).
    progress : bool
        Unused (the optimiser prints nothing); kept so ``backend_overrides.progress`` applies.
    """

    family: ClassVar[str] = "vi"

    def __init__(
        self,
        model: ModelSpec,
        name: str = "pymc_dadvi",
        n_fixed_draws: int = 30,
        num_draws: int = 1000,
        maxiter: int = 1000,
        init_log_sd: float = -2.0,
        progress: bool = False,
    ) -> None:
        if min(n_fixed_draws, num_draws, maxiter) < 1:
            raise BackendError(f"{name}: n_fixed_draws, num_draws and maxiter must be >= 1")
        self.model, self.name = model, name
        self.n_fixed_draws, self.num_draws = int(n_fixed_draws), int(num_draws)
        self.maxiter, self.init_log_sd = int(maxiter), float(init_log_sd)
        self.progress = bool(progress)

    def fit(self, data: HierData, seed: int) -> FitResult:
        """Minimise the deterministic objective, draw from the Gaussian with log_q and lp."""
        start = time.perf_counter()
        require("pymc", INSTALL_HINTS["pymc"])
        dadvi = require("pymc_extras.inference.dadvi.dadvi", EXTRAS_HINT)
        pf = require("pymc_extras.inference.pathfinder.pathfinder", EXTRAS_HINT)
        with quiet_pytensor():
            model = build_model(data, self.model)
            result, timing = self._optimise(dadvi, model, seed)
            t0 = time.perf_counter()
            mean, log_sd = np.split(np.asarray(result.x, float), 2)
            eps = np.random.default_rng(int(seed)).standard_normal((self.num_draws, mean.size))
            flat = mean + np.exp(log_sd) * eps
            raw = pf.convert_flat_trace_to_idata(flat, model=model, importance_sampling="psis")
            posterior = posterior_arrays(raw.posterior, data, self.model)
            log_q_u = (-0.5 * eps**2 - log_sd - 0.5 * np.log(2 * np.pi)).sum(axis=1)
            jac = log_jacobian_unconstrained({k: v[0] for k, v in posterior.items()})
            lp = _model_logp(pf, model, flat)
        timing["sampling_s"] = time.perf_counter() - t0
        timing["fit_s"] = time.perf_counter() - start
        info = {
            "algorithm": "DADVI (pymc-extras objective, trust-ncg), mean-field",
            "n_fixed_draws": self.n_fixed_draws,
            "maxiter": self.maxiter,
            "optimizer_success": bool(result.success),
            "optimizer_message": str(result.message),
            "optimizer_nit": int(result.nit),
            "final_objective": float(result.fun),
            "lr_covariance": "not offered by pymc-extras 0.10 (mean-field only)",
            "log_q_space": "constrained (log q_u - log|dtheta/du|)",
        }
        return finish_fit(
            self, data, posterior, model=self.model, seed=seed, library="pymc-extras",
            library_version=library_version("pymc-extras"), timing=timing, info=info,
            sample_stats={"log_q": (log_q_u - jac)[None], "lp": lp[None]},
            extra_attrs={"n_fixed_draws": self.n_fixed_draws},
        )  # fmt: skip

    def _optimise(self, dadvi: Any, model: Any, seed: int) -> tuple[Any, dict[str, float]]:
        """trust-ncg on the library's DADVI objective, non-finite values mapped to +inf."""
        from pymc import DictToArrayBijection
        from pymc_extras.inference.laplace_approx.scipy_interface import (
            scipy_optimize_funcs_from_loss,
        )
        from scipy.optimize import minimize

        t0 = time.perf_counter()
        n = DictToArrayBijection.map(model.initial_point()).data.shape[0]
        params, objective = dadvi.create_dadvi_graph(
            model, n_params=n, n_fixed_draws=self.n_fixed_draws, random_seed=int(seed)
        )
        f_fused, f_hessp = scipy_optimize_funcs_from_loss(
            loss=objective, inputs=[params], initial_point_dict=None, use_grad=True,
            use_hessp=True, use_hess=False, gradient_backend="pytensor", inputs_are_flat=True,
        )  # fmt: skip

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            value, grad = f_fused(x)
            if not np.isfinite(value) or not np.isfinite(grad).all():
                return np.inf, np.zeros_like(x)
            return float(value), np.asarray(grad, float)

        def hessp(x: np.ndarray, v: np.ndarray) -> np.ndarray:
            out = np.asarray(f_hessp(x, v), float)
            return np.where(np.isfinite(out), out, 0.0)

        x0 = np.concatenate([np.zeros(n), np.full(n, self.init_log_sd)])
        t1 = time.perf_counter()
        result = minimize(fun, x0, jac=True, hessp=hessp, method="trust-ncg",
                          options={"maxiter": self.maxiter})  # fmt: skip
        t2 = time.perf_counter()
        if not np.isfinite(result.fun):
            raise BackendError(f"{self.name}: DADVI objective is not finite ({result.message})")
        return result, {"compile_s": t1 - t0, "optimisation_s": t2 - t1}


def _model_logp(pf: Any, model: Any, flat: np.ndarray) -> np.ndarray:
    """PyMC's log joint (constrained space, no Jacobian) at flat unconstrained points."""
    from pymc.blocking import RaveledVars

    ip = model.initial_point()
    info = pf.DictToArrayBijection.map(ip).point_map_info
    logp = model.compile_logp(jacobian=False)
    return np.array(
        [logp(pf.DictToArrayBijection.rmap(RaveledVars(u, info), ip)) for u in flat], float
    )
