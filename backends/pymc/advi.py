"""ADVI for the PyMC model: mean-field (``pymc_meanfield``) and full-rank (``pymc_fullrank``)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from backends.base import (
    BackendError,
    FitResult,
    build_inference_data,
    check_inference_data,
    library_version,
    require,
)
from backends.convergence import CONVERGENCE_RULE, converged_step
from backends.pymc.convert import posterior_arrays
from backends.pymc.model import build_model, quiet_pytensor
from backends.pymc.nuts import INSTALL_HINTS
from backends.spec import HierData, ModelSpec

#: ADVI families, by backend method name.
METHODS: dict[str, str] = {"meanfield": "ADVI", "fullrank": "FullRankADVI"}


class Unconstrained(NamedTuple):
    """Draws mapped to the approximation's unconstrained space.

    Attributes
    ----------
    u : ndarray, shape (S, d)
        Flat unconstrained vectors in the approximation's ordering.
    log_det_jacobian : ndarray, shape (S,)
        ``log |d theta / d u|`` summed over the transformed variables (``log sigma`` for the
        two HalfCauchy scales).
    """

    u: np.ndarray
    log_det_jacobian: np.ndarray


def to_unconstrained(approx: Any, draws: Mapping[str, np.ndarray]) -> Unconstrained:
    """Map constrained draws (S, *shape) to the flat unconstrained vectors ADVI works with.

    Parameters
    ----------
    approx : pymc.variational.Approximation
        A single-group approximation; its ``ordering`` says where each value variable sits.
    draws : mapping
        Constrained draws of the model's free variables by name, draw axis first.
    """
    import pytensor.tensor as pt

    group = approx.groups[0]
    model = approx.model
    rv_of_value = {value.name: rv for rv, value in model.rvs_to_values.items()}
    n = len(next(iter(draws.values())))
    u = np.empty((n, group.ddim))
    log_det = np.zeros(n)
    for value_name, (_, slc, _, _) in group.ordering.items():
        rv = rv_of_value[value_name]
        x = np.asarray(draws[rv.name], dtype=float)
        transform = model.rvs_to_transforms.get(rv)
        if transform is not None:
            params = rv.owner.inputs[2:]
            x = _evaluate(transform.forward(pt.as_tensor_variable(x), *params))
            jac = _evaluate(transform.log_jac_det(pt.as_tensor_variable(x), *params))
            log_det += np.broadcast_to(jac, x.shape).reshape(n, -1).sum(axis=1)
        u[:, slc] = x.reshape(n, -1)
    return Unconstrained(u=u, log_det_jacobian=log_det)


def _evaluate(expr: Any) -> np.ndarray:
    return np.asarray(expr.eval() if hasattr(expr, "eval") else expr, dtype=float)


def gaussian_log_q(approx: Any, u: np.ndarray) -> np.ndarray:
    """Log density of the fitted Gaussian at unconstrained points ``u`` (S, d)."""
    from scipy.linalg import solve_triangular

    group = approx.groups[0]
    mu = np.asarray(group.mean.eval(), dtype=float)
    if hasattr(group, "L"):  # full rank: q = N(mu, L L^T)
        chol = np.asarray(group.L.eval(), dtype=float)
        z = solve_triangular(chol, (u - mu).T, lower=True).T
        log_det = np.log(np.diag(chol)).sum()
    else:  # mean field: independent normals
        std = np.asarray(group.std.eval(), dtype=float)
        z = (u - mu) / std
        log_det = np.log(std).sum()
    return -0.5 * (z**2).sum(axis=1) - log_det - 0.5 * u.shape[1] * np.log(2 * np.pi)


def constrained_log_q(approx: Any, draws: Mapping[str, np.ndarray]) -> np.ndarray:
    """Log density of the approximation on the CONSTRAINED space of the latents.

    ``log q_theta(theta) = log q_u(u) - log |d theta / d u|``: directly comparable with
    :func:`backends.spec.log_joint`, so ``log_joint - log_q`` are importance log-weights.
    """
    un = to_unconstrained(approx, draws)
    return gaussian_log_q(approx, un.u) - un.log_det_jacobian


def model_log_density(model: Any, approx: Any, draws: Mapping[str, np.ndarray]) -> np.ndarray:
    """PyMC's log joint of each draw on the constrained space (``jacobian=False``)."""
    logp = model.compile_logp(jacobian=False)
    un = to_unconstrained(approx, draws)
    point_of = approx.groups[0].ordering
    out = np.empty(len(un.u))
    for s, u in enumerate(un.u):
        point = {name: u[slc].reshape(shape) for name, (_, slc, shape, _) in point_of.items()}
        out[s] = logp(point)
    return out


class PyMCADVI:
    """Automatic differentiation VI of the PyMC model with a Gaussian on the log-scale space.

    Parameters
    ----------
    model : ModelSpec
        Parameterisation and priors.
    name : str
        Backend name (``pymc_meanfield`` or ``pymc_fullrank``).
    method : {"meanfield", "fullrank"}
        ``pm.ADVI`` (diagonal Gaussian) or ``pm.FullRankADVI`` (dense Cholesky factor).
    num_steps : int
        Adam steps.
    lr : float
        Adam learning rate at step 0.
    lr_decay : float
        Per-step multiplicative decay: step ``t`` uses ``lr * lr_decay**t`` (the same rule as
        Pyro's ``ClippedAdam(lrd=...)``); 1 = constant.
    num_draws : int
        Draws from the fitted approximation (one chain).
    obj_n_mc : int
        Monte Carlo samples per gradient estimate of the ELBO.
    convergence_window, convergence_rtol : int, float
        Rolling-mean window and relative tolerance of the convergence rule, the same as the
        Pyro backend's (:data:`backends.convergence.CONVERGENCE_RULE`).
    progress : bool
        Show PyMC's progress bar.
    """

    def __init__(
        self,
        model: ModelSpec,
        name: str = "pymc_meanfield",
        method: str = "meanfield",
        num_steps: int = 18000,
        lr: float = 0.015,
        lr_decay: float = 0.9995,
        num_draws: int = 1000,
        obj_n_mc: int = 1,
        convergence_window: int = 1000,
        convergence_rtol: float = 1e-3,
        progress: bool = False,
    ) -> None:
        if method not in METHODS:
            raise BackendError(f"{name}: unknown method {method!r}; choose one of {list(METHODS)}")
        if num_steps < 1 or num_draws < 1 or lr <= 0 or not 0 < lr_decay <= 1:
            raise BackendError(
                f"{name}: need num_steps >= 1, num_draws >= 1, lr > 0 and 0 < lr_decay <= 1"
            )
        self.model, self.name, self.method = model, name, method
        self.num_steps, self.num_draws = int(num_steps), int(num_draws)
        self.lr, self.lr_decay, self.obj_n_mc = float(lr), float(lr_decay), int(obj_n_mc)
        self.window = int(convergence_window)
        self.rtol, self.progress = float(convergence_rtol), bool(progress)

    def fit(self, data: HierData, seed: int) -> FitResult:
        """Fit the approximation, record the loss, draw from it with ``log_q`` and ``lp``.

        Returns
        -------
        FitResult
            One-chain ``idata``; ``loss`` = negative ELBO per step; ``info`` with
            ``converged_step`` and its rule.
        """
        start = time.perf_counter()
        pm = require("pymc", INSTALL_HINTS["pymc"])
        with quiet_pytensor():
            model = build_model(data, self.model)
            approx, loss, timing = self._optimise(pm, model, seed)
            t0 = time.perf_counter()
            raw = approx.sample(self.num_draws, random_seed=int(seed), return_inferencedata=True)
            posterior = posterior_arrays(raw.posterior, data, self.model)
            draws = {name: values[0] for name, values in posterior.items()}
            stats = {
                "log_q": constrained_log_q(approx, draws)[None, :],
                "lp": model_log_density(model, approx, draws)[None, :],
            }
        timing["sampling_s"] = time.perf_counter() - t0
        timing["fit_s"] = time.perf_counter() - start
        step = converged_step(loss, self.window, self.rtol)
        info = {
            "method": self.method,
            "num_steps": self.num_steps,
            "lr": self.lr,
            "lr_decay": self.lr_decay,
            "num_draws": self.num_draws,
            "obj_n_mc": self.obj_n_mc,
            "final_loss": float(np.mean(loss[-self.window :])),
            "converged_step": step,
            "converged": step is not None,
            "convergence_rule": CONVERGENCE_RULE,
            "convergence_window": self.window,
            "convergence_rtol": self.rtol,
            "log_q_space": "constrained (log q_u - log|dtheta/du|)",
        }
        idata = build_inference_data(
            posterior,
            data,
            backend=self.name,
            library="pymc",
            library_version=library_version("pymc"),
            seed=seed,
            model=self.model,
            sample_stats=stats,
            timing=timing,
            extra_attrs={
                "num_steps": self.num_steps,
                "lr": self.lr,
                "lr_decay": self.lr_decay,
                "num_draws": self.num_draws,
            },
        )
        check_inference_data(idata, data)
        return FitResult(idata=idata, loss=loss, timing=timing, info=info)

    def _optimise(self, pm: Any, model: Any, seed: int) -> tuple[Any, np.ndarray, dict]:
        import pytensor

        learning_rate = pytensor.shared(np.float64(self.lr), name="learning_rate")
        first_step: list[float] = []

        def on_step(_approx: Any, _losses: np.ndarray, i: int) -> None:
            if not first_step:
                first_step.append(time.perf_counter())
            learning_rate.set_value(np.float64(self.lr * self.lr_decay**i))

        t0 = time.perf_counter()
        with model:
            inference = getattr(pm, METHODS[self.method])(random_seed=int(seed))
        try:
            approx = inference.fit(
                n=self.num_steps,
                obj_optimizer=pm.adam(learning_rate=learning_rate),
                obj_n_mc=self.obj_n_mc,
                callbacks=[on_step],
                progressbar=self.progress,
            )
        except FloatingPointError as exc:
            raise BackendError(
                f"{self.name}: the ELBO became NaN; lower backend.lr ({self.lr}) or set "
                f"backend.lr_decay < 1"
            ) from exc
        t1 = time.perf_counter()
        loss = np.asarray(approx.hist, dtype=float)
        compile_s = (first_step[0] if first_step else t1) - t0
        return approx, loss, {"compile_s": compile_s, "optimisation_s": t1 - t0 - compile_s}
