"""ADVI for the PyMC model: mean-field (``pymc_meanfield``) and full-rank (``pymc_fullrank``).

The per-draw ``log_q`` / ``lp`` of the fitted approximation are computed in
:mod:`backends.pymc.convert`.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from backends.base import (
    BackendError,
    FitResult,
    cpu_seconds,
    finish_fit,
    library_version,
    require,
)
from backends.convergence import check_every, converged_step
from backends.pymc.convert import constrained_log_q, model_log_density, posterior_arrays
from backends.pymc.model import INSTALL_HINTS, build_model, quiet_pytensor
from backends.spec import HierData, ModelSpec

#: ADVI families, by backend method name.
METHODS: dict[str, str] = {"meanfield": "ADVI", "fullrank": "FullRankADVI"}


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
        Pyro backend's (:data:`backends.convergence.CONVERGENCE_RULE`); recorded in ``info``,
        the rule is applied to the loss by ``evaluation.metrics.diagnostics``.
    stop_at_convergence : bool
        Stop as soon as the loss so far meets the convergence rule (checked every
        :func:`backends.convergence.check_every` steps by a ``pm.fit`` callback that raises
        ``StopIteration``); ``num_steps`` is then only the cap.  False (default): the paper's
        exact schedule, always ``num_steps`` steps.
    progress : bool
        Show PyMC's progress bar.
    """

    family: ClassVar[str] = "vi"

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
        stop_at_convergence: bool = False,
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
        self.stop_at_convergence = bool(stop_at_convergence)

    def fit(self, data: HierData, seed: int) -> FitResult:
        """Fit the approximation, record the loss, draw from it with ``log_q`` and ``lp``.

        Returns
        -------
        FitResult
            One-chain ``idata``; ``loss`` = negative ELBO per step; ``info`` with the settings,
            including the convergence window and tolerance, and the steps run (``n_steps``, also
            as ``n_steps_run``; ``stopped_early``: fewer than ``num_steps``, only with
            ``stop_at_convergence``) and ``fit_cpu_s`` (:func:`backends.base.cpu_seconds`).
        """
        start, cpu0 = time.perf_counter(), cpu_seconds()
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
        settings = {"num_steps": self.num_steps, "lr": self.lr, "lr_decay": self.lr_decay,
                    "num_draws": self.num_draws}  # fmt: skip
        info = {
            "method": self.method,
            **settings,
            "obj_n_mc": self.obj_n_mc,
            "convergence_window": self.window,
            "convergence_rtol": self.rtol,
            "stop_at_convergence": self.stop_at_convergence,
            "stopped_early": len(loss) < self.num_steps,
            "n_steps_run": len(loss),
            "n_steps": len(loss),  # Adam steps, obj_n_mc gradients each
            "fit_cpu_s": cpu_seconds() - cpu0,
            "log_q_space": "constrained (log q_u - log|dtheta/du|)",
        }
        return finish_fit(
            self,
            data,
            posterior,
            model=self.model,
            seed=seed,
            library="pymc",
            library_version=library_version("pymc"),
            timing=timing,
            info=info,
            loss=loss,
            sample_stats=stats,
            extra_attrs=settings,
        )

    def _optimise(self, pm: Any, model: Any, seed: int) -> tuple[Any, np.ndarray, dict]:
        import pytensor

        learning_rate = pytensor.shared(np.float64(self.lr), name="learning_rate")
        first_step: list[float] = []
        stopped: list[np.ndarray] = []  # the loss trace of a fit stopped at convergence
        every = check_every(self.window)
        # PyMC's interrupt message indexes past the trace of a fit shorter than 10 steps
        can_stop = self.stop_at_convergence and self.num_steps >= 10

        def on_step(_approx: Any, losses: np.ndarray, i: int) -> None:
            """After ``i`` steps: the learning rate of the next one; stop at convergence."""
            if not first_step:
                first_step.append(time.perf_counter())
            learning_rate.set_value(np.float64(self.lr * self.lr_decay**i))
            if can_stop and i % every == 0 and self._converged(losses):
                # PyMC drops the last step's loss when a callback stops the fit: keep all i
                stopped.append(np.array(losses, dtype=float))
                raise StopIteration(f"{self.name}: the loss converged by step {i}")

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
        loss = stopped[0] if stopped else np.asarray(approx.hist, dtype=float)
        compile_s = (first_step[0] if first_step else t1) - t0
        return approx, loss, {"compile_s": compile_s, "optimisation_s": t1 - t0 - compile_s}

    def _converged(self, loss: np.ndarray) -> bool:
        """Whether ``loss`` (the steps so far) meets the convergence rule."""
        return converged_step(loss, self.window, self.rtol) is not None
