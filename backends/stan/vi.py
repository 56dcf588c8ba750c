"""Stan's approximate methods through CmdStanPy: ADVI (mean-field, full-rank) and Pathfinder.

Every draw carries ``log_p`` / ``log_g`` as CmdStan wrote them and ``lp`` / ``log_q`` on the
constrained space of the contract (see :func:`backends.stan.convert.vi_sample_stats`).
CmdStan's ADVI decides its own convergence (``tol_rel_obj``); that verdict, parsed from its
console, is kept in ``info`` as a raw fact of the run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from backends.base import BackendError, FitResult, cpu_seconds
from backends.spec import HierData, ModelSpec
from backends.stan import convert
from backends.stan.cmdstan import output_dir, write_data
from backends.stan.common import SIG_FIGS, StanBackend, run_cmdstan


class StanVI(StanBackend):
    """CmdStan's ADVI (``variational``); use :class:`StanMeanField` or :class:`StanFullRank`.

    Parameters
    ----------
    model : ModelSpec
    num_steps : int
        Maximum iterations (``iter``).
    lr : float or None
        Step-size scale ``eta``; None engages CmdStan's adaptation (``adapt_iter`` per trial).
    lr_decay : None
        CmdStan's step-size sequence is fixed (adaptive, decaying as 1/sqrt(t)); only None.
    num_draws : int
        Draws from the fitted approximation (``output_samples``).
    tol_rel_obj, grad_samples, elbo_samples, eval_elbo, adapt_iter
        As in CmdStan; the ELBO (hence ``loss``) is evaluated every ``eval_elbo`` iterations.
    """

    family: ClassVar[str] = "vi"

    def __init__(
        self,
        *,
        model: ModelSpec,
        num_steps: int = 10000,
        lr: float | None = None,
        lr_decay: float | None = None,
        num_draws: int = 1000,
        tol_rel_obj: float = 0.01,
        grad_samples: int = 1,
        elbo_samples: int = 100,
        eval_elbo: int = 100,
        adapt_iter: int = 50,
        progress: bool = False,
        name: str | None = None,
        stan_file: str | Path | None = None,
    ) -> None:
        if lr_decay is not None:
            raise BackendError(
                f"stan_{self.method}: CmdStan ADVI has no learning-rate decay (its step-size "
                f"sequence is built in); set backend.lr_decay=null"
            )
        super().__init__(model=model, name=name, progress=progress, stan_file=stan_file)
        self.num_steps, self.lr, self.num_draws = int(num_steps), lr, int(num_draws)
        self.tol_rel_obj, self.grad_samples = float(tol_rel_obj), int(grad_samples)
        self.elbo_samples, self.eval_elbo = int(elbo_samples), int(eval_elbo)
        self.adapt_iter = int(adapt_iter)

    def fit(self, data: HierData, seed: int) -> FitResult:
        """Fit the approximation to ``data`` and draw ``num_draws`` from it."""
        start, cpu0 = time.perf_counter(), cpu_seconds()
        compile_s, compiled = self.compile_timing()
        with output_dir(self.method) as out:
            vb = run_cmdstan(
                f"variational ({self.method})",
                self.compiled.model.variational,
                data=write_data(out, convert.stan_data(data, self.spec)),
                seed=int(seed),
                output_dir=out,
                algorithm=self.method,
                iter=self.num_steps,
                eta=self.lr,
                adapt_engaged=self.lr is None,
                adapt_iter=self.adapt_iter,
                draws=self.num_draws,
                tol_rel_obj=self.tol_rel_obj,
                grad_samples=self.grad_samples,
                elbo_samples=self.elbo_samples,
                eval_elbo=self.eval_elbo,
                require_converged=False,
                sig_figs=SIG_FIGS,
            )
            opt_s = time.perf_counter() - start
            console = Path(vb.runset.stdout_files[0]).read_text()
            posterior, stats = self._draws(vb)
        trace = convert.parse_elbo(console)
        timing = {
            "compile_s": compile_s,
            "optimisation_s": opt_s,
            "fit_s": time.perf_counter() - start + compile_s,
        }
        info = {"compiled": compiled, **self._info(vb, trace), "fit_cpu_s": cpu_seconds() - cpu0}
        return self.finish(data, seed, posterior, stats, timing, info, loss=-trace.elbo)

    def _info(self, vb: Any, trace: convert.ElboTrace) -> dict[str, Any]:
        """Settings and CmdStan's own report of the run (step size, ELBO steps, convergence)."""
        return {
            "algorithm": f"CmdStan ADVI ({self.method})",
            "num_steps": self.num_steps,
            "eta": vb.eta if trace.eta is None else trace.eta,
            "eta_adapted": self.lr is None,
            "num_draws": self.num_draws,
            "tol_rel_obj": self.tol_rel_obj,
            "grad_samples": self.grad_samples,
            "elbo_samples": self.elbo_samples,
            "loss_every": self.eval_elbo,
            "loss_steps": trace.steps.tolist(),
            "converged": trace.converged_step is not None,
            "converged_step": trace.converged_step,
            # CmdStan checks convergence only where it prints the ELBO, and stops there
            "n_steps": trace.converged_step or self.num_steps,
            "n_steps_adapt": trace.adapt_steps,
            "count_rule": (
                f"n_steps: stochastic gradient steps of the run ({self.grad_samples} gradient(s) "
                f"each; an ELBO of {self.elbo_samples} draws every {self.eval_elbo}); "
                f"n_steps_adapt: steps of the eta adaptation before it"
            ),
            "convergence_rule": (
                f"CmdStan: mean or median relative ELBO change over the last "
                f"evaluations < tol_rel_obj={self.tol_rel_obj}, checked every "
                f"eval_elbo={self.eval_elbo} iterations"
            ),
            "loss_note": "loss = -ELBO at info['loss_steps'] (every eval_elbo iterations)",
        }

    def _draws(self, vb: Any) -> tuple[dict, dict]:
        """Canonical posterior (one chain) and VI sample_stats of CmdStan's draws."""
        columns = list(vb.column_names)
        sample = np.asarray(vb.variational_sample)  # the mean row is already dropped
        posterior = convert.canonical_posterior(
            lambda name: vb.stan_variable(name, mean=False), self.spec, 1, sample.shape[0]
        )
        stats = convert.vi_sample_stats(
            sample[None, :, columns.index("log_p__")],
            sample[None, :, columns.index("log_g__")],
            posterior,
        )
        return posterior, stats


class StanMeanField(StanVI):
    """ADVI with a mean-field Gaussian on the unconstrained space (``stan_meanfield``)."""

    method: ClassVar[str] = "meanfield"


class StanFullRank(StanVI):
    """ADVI with a full-rank Gaussian on the unconstrained space (``stan_fullrank``)."""

    method: ClassVar[str] = "fullrank"


class StanPathfinder(StanBackend):
    """CmdStan's multi-path Pathfinder (``stan_pathfinder``; needs CmdStan >= 2.33).

    Draws are taken from the approximation without PSIS resampling (``psis_resample=False``,
    CmdStan >= 2.34) so that ``log_q`` describes them; ``lp__`` / ``lp_approx__`` give ``log_p``
    / ``log_g`` as for ADVI.
    """

    method: ClassVar[str] = "pathfinder"
    family: ClassVar[str] = "vi"

    def __init__(
        self,
        *,
        model: ModelSpec,
        num_paths: int = 4,
        num_draws: int = 1000,
        max_lbfgs_iters: int = 1000,
        num_elbo_draws: int = 25,
        progress: bool = False,
        name: str | None = None,
        stan_file: str | Path | None = None,
    ) -> None:
        super().__init__(model=model, name=name, progress=progress, stan_file=stan_file)
        self.num_paths, self.num_draws = int(num_paths), int(num_draws)
        self.max_lbfgs_iters, self.num_elbo_draws = int(max_lbfgs_iters), int(num_elbo_draws)

    def fit(self, data: HierData, seed: int) -> FitResult:  # pragma: no cover - CmdStan>=2.33
        """Run Pathfinder on ``data`` and keep ``num_draws`` approximate draws."""
        start = time.perf_counter()
        compile_s, compiled = self.compile_timing()
        with output_dir("pathfinder") as out:
            pf = run_cmdstan(
                "pathfinder",
                self.compiled.model.pathfinder,
                data=write_data(out, convert.stan_data(data, self.spec)),
                seed=int(seed),
                output_dir=out,
                num_paths=self.num_paths,
                draws=self.num_draws,
                max_lbfgs_iters=self.max_lbfgs_iters,
                num_elbo_draws=self.num_elbo_draws,
                psis_resample=False,
                sig_figs=SIG_FIGS,
            )
            n = np.asarray(pf.stan_variable("alpha")).shape[0]
            posterior = convert.canonical_posterior(pf.stan_variable, self.spec, 1, n)
            stats = convert.vi_sample_stats(
                pf.method_variables()["lp__"], pf.method_variables()["lp_approx__"], posterior
            )
        timing = {
            "compile_s": compile_s,
            "optimisation_s": time.perf_counter() - start,
            "fit_s": time.perf_counter() - start + compile_s,
        }
        info = {
            "compiled": compiled,
            "algorithm": "CmdStan multi-path Pathfinder",
            "num_paths": self.num_paths,
            "num_draws": n,
        }
        return self.finish(data, seed, posterior, stats, timing, info, loss=None)
