"""Deterministic ADVI (DADVI, Giordano, Ingram & Broderick 2024) on the PyMC model
(``pymc_dadvi``), optionally with linear-response covariances (``pymc_dadvi_lr``).

DADVI fixes ``n_fixed_draws`` standard-normal draws once and minimises the resulting
*deterministic* negative ELBO of a mean-field Gaussian on the unconstrained space with a
second-order optimiser (trust-region Newton-CG with Hessian-vector products).  The objective is
the one of ``pymc_extras.inference.dadvi.dadvi.create_dadvi_graph``, built here with the fixed
draws passed in, so that their random stream is this backend's: the fixed draws and the output
draws come from two children of ``SeedSequence(seed)`` (:func:`draw_streams`).  (Drawing both
from ``default_rng(seed)`` made the first 30 output draws *equal* the fixed draws, the very
points the optimiser overfits, and inflated k-hat from about 5 to 17.)  The optimisation is run
here rather than through ``fit_dadvi`` because that function starts from unit scales and aborts
on the first non-finite trial step; here a non-finite objective is +inf, which shrinks the trust
region instead.

With ``lr_covariance: true`` the output is the linear-response correction
(:mod:`backends.linear_response`): the objective's Hessian at the optimum, built from
Hessian-vector products grouped by the model's sparsity (a worksite's coefficients never meet
another worksite's), gives ``Sigma_LR = J H^{-1} J^T``; the draws come from
``N(mu + s * zbar, Sigma_LR)`` on the unconstrained space.  ``sample_stats``: ``log_q`` (the
output Gaussian on the constrained space) and ``lp`` (PyMC's log joint, no Jacobian).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from backends import linear_response as lr
from backends.base import (
    BackendError,
    FitResult,
    cpu_seconds,
    finish_fit,
    library_version,
    require,
)
from backends.pymc.convert import posterior_arrays
from backends.pymc.model import INSTALL_HINTS, build_model, quiet_pytensor
from backends.spec import HierData, ModelSpec, log_jacobian_unconstrained

EXTRAS_HINT = "pip install 'ppl-compare[pymc]'  (or: pip install pymc-extras)"
#: The latent block whose worksites never couple with each other, per parameterisation.
GROUP_VARIABLE: dict[str, str] = {"centered": "beta_worker", "noncentered": "z_worker"}


def draw_streams(seed: int, n_fixed: int, n_out: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The objective's fixed draws ``(n_fixed, n)`` and the output's standard-normal draws
    ``(n_out, n)``, from two independent children of ``SeedSequence(seed)``."""
    fixed_ss, out_ss = np.random.SeedSequence(int(seed)).spawn(2)
    fixed = np.random.default_rng(fixed_ss).standard_normal((n_fixed, n))
    return fixed, np.random.default_rng(out_ss).standard_normal((n_out, n))


class PyMCDADVI:
    """DADVI of the PyMC model: mean-field, or with linear-response covariances.

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
    lr_covariance : bool
        Draw from the linear-response-corrected Gaussian instead of the mean-field one.
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
        lr_covariance: bool = False,
        progress: bool = False,
    ) -> None:
        if min(n_fixed_draws, num_draws, maxiter) < 1:
            raise BackendError(f"{name}: n_fixed_draws, num_draws and maxiter must be >= 1")
        self.model, self.name = model, name
        self.n_fixed_draws, self.num_draws = int(n_fixed_draws), int(num_draws)
        self.maxiter, self.init_log_sd = int(maxiter), float(init_log_sd)
        self.lr_covariance, self.progress = bool(lr_covariance), bool(progress)

    def fit(self, data: HierData, seed: int) -> FitResult:
        """Minimise the deterministic objective, draw from the Gaussian with log_q and lp."""
        start, cpu0 = time.perf_counter(), cpu_seconds()
        require("pymc", INSTALL_HINTS["pymc"])
        pf = require("pymc_extras.inference.pathfinder.pathfinder", EXTRAS_HINT)
        with quiet_pytensor():
            model = build_model(data, self.model)
            n = pf.DictToArrayBijection.map(model.initial_point()).data.shape[0]
            fixed, eps = draw_streams(seed, self.n_fixed_draws, self.num_draws, n)
            funcs, timing = compile_objective(model, fixed)
            result = self._optimise(funcs, n, timing)
            flat, log_q_u, info = self._output(funcs, model, result.x, fixed, eps, timing)
            t0 = time.perf_counter()
            raw = pf.convert_flat_trace_to_idata(flat, model=model, importance_sampling="psis")
            posterior = posterior_arrays(raw.posterior, data, self.model)
            jac = log_jacobian_unconstrained({k: v[0] for k, v in posterior.items()})
            lp = _model_logp(pf, model, flat)
        timing["sampling_s"] = timing.get("sampling_s", 0.0) + time.perf_counter() - t0
        timing["fit_s"] = time.perf_counter() - start
        info.update(self._optimiser_info(result), fit_cpu_s=cpu_seconds() - cpu0)
        return finish_fit(
            self, data, posterior, model=self.model, seed=seed, library="pymc-extras",
            library_version=library_version("pymc-extras"), timing=timing, info=info,
            sample_stats={"log_q": (log_q_u - jac)[None], "lp": lp[None]},
            extra_attrs={"n_fixed_draws": self.n_fixed_draws,
                         "lr_covariance": int(self.lr_covariance)},
        )  # fmt: skip

    def _optimise(self, funcs: tuple[Any, Any], n: int, timing: dict[str, float]) -> Any:
        """trust-ncg on the objective, non-finite values mapped to +inf; the result carries
        the calls made of each compiled function (``n_objective``, ``n_hvp``)."""
        from scipy.optimize import minimize

        f_fused, f_hessp = funcs
        calls = {"n_objective": 0, "n_hvp": 0}

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            calls["n_objective"] += 1
            value, grad = f_fused(x)
            if not np.isfinite(value) or not np.isfinite(grad).all():
                return np.inf, np.zeros_like(x)
            return float(value), np.asarray(grad, float)

        def hessp(x: np.ndarray, v: np.ndarray) -> np.ndarray:
            calls["n_hvp"] += 1
            out = np.asarray(f_hessp(x, v), float)
            return np.where(np.isfinite(out), out, 0.0)

        x0 = np.concatenate([np.zeros(n), np.full(n, self.init_log_sd)])
        t1 = time.perf_counter()
        result = minimize(fun, x0, jac=True, hessp=hessp, method="trust-ncg",
                          options={"maxiter": self.maxiter})  # fmt: skip
        timing["optimisation_s"] = time.perf_counter() - t1
        if not np.isfinite(result.fun):
            raise BackendError(f"{self.name}: DADVI objective is not finite ({result.message})")
        result.update(calls)
        return result

    def _output(
        self, funcs: tuple[Any, Any], model: Any, x: np.ndarray, fixed: np.ndarray,
        eps: np.ndarray, timing: dict[str, float],
    ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:  # fmt: skip
        """Unconstrained output draws, their log q, and what was done to get them."""
        mean, log_sd = np.split(np.asarray(x, float), 2)
        if not self.lr_covariance:
            flat = mean + np.exp(log_sd) * eps
            log_q_u = (-0.5 * eps**2 - log_sd - 0.5 * np.log(2 * np.pi)).sum(axis=1)
            return flat, log_q_u, {"algorithm": "DADVI, mean-field", "lr_covariance": False}
        t0 = time.perf_counter()
        hess, n_products = lr.structured_hessian(funcs[1], x, sparsity(model, self.model))
        hessian_s = time.perf_counter() - t0  # in fit_s; not a TIMING_KEYS phase
        try:
            corrected = lr.lr_covariance(hess, x, fixed)
        except lr.NotPositiveDefinite as exc:
            raise BackendError(
                f"{self.name}: no linear-response covariance: {exc} (the optimiser stopped "
                "short of a minimum; raise backend.maxiter)"
            ) from exc
        flat, log_q_u = lr.gaussian_draws(corrected, eps)
        timing["sampling_s"] = time.perf_counter() - t0 - hessian_s
        sd_ratio = np.sqrt(np.diag(corrected.cov)) / np.exp(log_sd)
        info = {"algorithm": "DADVI with linear-response covariance", "lr_covariance": True,
                "hessian_products": n_products, "hessian_dim": int(hess.shape[0]),
                "hessian_s": hessian_s,
                "lr_sd_over_meanfield_sd_median": float(np.median(sd_ratio))}  # fmt: skip
        return flat, log_q_u, info

    def _optimiser_info(self, result: Any) -> dict[str, Any]:
        return {
            "n_fixed_draws": self.n_fixed_draws,
            "maxiter": self.maxiter,
            "optimizer_success": bool(result.success),
            "optimizer_message": str(result.message),
            "optimizer_nit": int(result.nit),
            "n_steps": int(result.nit),
            "n_objective": int(result.n_objective),
            "n_hvp": int(result.n_hvp),
            "count_rule": "n_steps: trust-ncg iterations; n_objective: objective-and-gradient "
            "evaluations (each over the n_fixed_draws draws); n_hvp: Hessian-vector products of "
            "the optimiser (hessian_products: those of the LR Hessian)",
            "final_objective": float(result.fun),
            "draw_streams": "fixed and output draws: independent children of SeedSequence(seed)",
            "log_q_space": "constrained (log q_u - log|dtheta/du|)",
        }


def compile_objective(
    model: Any, fixed: np.ndarray, mode: str | None = None
) -> tuple[tuple[Any, Any], dict[str, float]]:
    """The DADVI objective on ``fixed`` draws, compiled: ``(f_fused, f_hessp)`` and its
    compile seconds.  ``f_fused(x) -> (value, grad)``; ``f_hessp(x, v) -> H(x) v``, the
    gradient of ``grad . v`` (what ``pytensor.gradient.hessian_vector_product`` builds).
    ``mode``: PyTensor's compile mode (None: its default)."""
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt
    from pymc.pytensorf import join_nonshared_inputs, rewrite_pregrad

    t0 = time.perf_counter()
    n = fixed.shape[1]
    [logp], flat_input = join_nonshared_inputs(
        point=model.initial_point(), outputs=[model.logp()], inputs=model.continuous_value_vars
    )
    eta = pt.vector(name="eta", shape=(2 * n,))
    samples = eta[:n] + pt.exp(eta[n:]) * pt.constant(fixed)
    logp_draws = pytensor.graph.vectorize_graph(logp, replace={flat_input: samples})
    objective = rewrite_pregrad(-pt.mean(logp_draws) - pt.sum(eta[n:]))
    grad = pytensor.grad(objective, eta)
    direction = pt.vector(name="v", shape=(2 * n,))
    hessp = pytensor.grad(pt.sum(grad * direction), eta)
    mode = objective_mode(mode)
    f_fused = pm.compile([eta], [objective, grad], mode=mode)
    f_hessp = pm.compile([eta, direction], hessp, mode=mode)
    return (f_fused, f_hessp), {"compile_s": time.perf_counter() - t0}


def objective_mode(mode: str | None = None) -> Any:
    """PyTensor's compile ``mode`` with :func:`scatter_by_column` after its specialisation.

    The objective's gradient adds each row of a (rows x draws) block into the rows of the
    coefficients it came from; PyTensor runs that row by row in Python (``np.add.at`` on
    rows: 8x slower than on a vector at paper scale, and 3/4 of a Hessian-vector product).
    """
    from pytensor.compile.mode import get_mode
    from pytensor.graph.rewriting.basic import in2out

    return get_mode(mode).register((in2out(scatter_by_column()), 2.5))


def scatter_by_column() -> Any:
    """A graph rewrite: ``x[idx] += y`` on the rows of a matrix with a known number of columns
    becomes one vector ``x[:, k][idx] += y[:, k]`` per column (the same values)."""
    import pytensor.tensor as pt
    from pytensor.graph.rewriting.basic import node_rewriter
    from pytensor.tensor.subtensor import AdvancedIncSubtensor1

    @node_rewriter([AdvancedIncSubtensor1])
    def by_column(fgraph: Any, node: Any) -> list[Any] | None:
        x, y, idx = node.inputs
        width = x.type.shape[-1] if x.ndim == 2 else None
        if node.op.set_instead_of_inc or width is None or width > 256:
            return None
        column = (lambda k: y[:, 0]) if y.type.broadcastable[-1] else (lambda k: y[:, k])
        columns = [pt.inc_subtensor(x[:, k][idx], column(k)) for k in range(width)]
        return [pt.stack(columns, axis=1)]

    return by_column


def sparsity(model: Any, spec: ModelSpec) -> lr.Sparsity:
    """Where the model's worksite block lies in the flat unconstrained vector; the rest is
    global (:class:`backends.linear_response.Sparsity`)."""
    from pymc import DictToArrayBijection

    group_name, offset = GROUP_VARIABLE[spec.parameterization], 0
    group, rest = None, []
    for name, shape, size, _ in DictToArrayBijection.map(model.initial_point()).point_map_info:
        if name == group_name:
            group = offset + np.arange(size).reshape(shape)
        else:
            rest.extend(range(offset, offset + size))
        offset += size
    if group is None or group.ndim != 2:
        raise BackendError(f"no {group_name} block of shape (worksite, worker_feature)")
    return lr.Sparsity(np.asarray(rest, dtype=int), group)


def _model_logp(pf: Any, model: Any, flat: np.ndarray) -> np.ndarray:
    """PyMC's log joint (constrained space, no Jacobian) at flat unconstrained points."""
    from pymc.blocking import RaveledVars

    ip = model.initial_point()
    info = pf.DictToArrayBijection.map(ip).point_map_info
    logp = model.compile_logp(jacobian=False)
    return np.array(
        [logp(pf.DictToArrayBijection.rmap(RaveledVars(u, info), ip)) for u in flat], float
    )
