"""CmdStan's adaptive NUTS through CmdStanPy (``stan_nuts``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import ClassVar

import numpy as np

from backends.base import FitResult, cpu_seconds
from backends.spec import HierData, ModelSpec
from backends.stan import convert
from backends.stan.cmdstan import output_dir, write_data
from backends.stan.common import SIG_FIGS, StanBackend, run_cmdstan


class StanNUTS(StanBackend):
    """CmdStan's adaptive NUTS (``stan_nuts``).

    Parameters
    ----------
    model : ModelSpec
    chains, tune, draws : int
        Chains, warm-up iterations (``iter_warmup``) and kept draws (``iter_sampling``) each.
    target_accept : float
        ``adapt_delta``.
    max_treedepth : int
    parallel_chains : int or None
        Chains run at once (None: as many as chains, capped by the CPU count by cmdstanpy).
    progress : bool
        Progress bars (and cmdstanpy's INFO log).
    name : str, optional
        Defaults to ``"stan_nuts"`` (Hydra passes the config's ``name``).
    stan_file : path, optional
        See :class:`~backends.stan.common.StanBackend`.
    """

    method: ClassVar[str] = "nuts"
    family: ClassVar[str] = "mcmc"

    def __init__(
        self,
        *,
        model: ModelSpec,
        chains: int = 4,
        tune: int = 1000,
        draws: int = 1000,
        target_accept: float = 0.8,
        max_treedepth: int = 10,
        parallel_chains: int | None = None,
        progress: bool = True,
        name: str | None = None,
        stan_file: str | Path | None = None,
    ) -> None:
        super().__init__(model=model, name=name, progress=progress, stan_file=stan_file)
        self.chains, self.tune, self.draws = int(chains), int(tune), int(draws)
        self.target_accept, self.max_treedepth = float(target_accept), int(max_treedepth)
        self.parallel_chains = parallel_chains

    def fit(self, data: HierData, seed: int) -> FitResult:
        """Sample the posterior of ``data``; see the class docstring for the settings.

        The warm-up is written too (``save_warmup``) for its leapfrog counts; the posterior
        and ``sample_stats`` hold the kept draws only.
        """
        start, cpu0 = time.perf_counter(), cpu_seconds()
        compile_s, compiled = self.compile_timing()
        with output_dir("nuts") as out:
            fit = run_cmdstan(
                "sampling",
                self.compiled.model.sample,
                data=write_data(out, convert.stan_data(data, self.spec)),
                chains=self.chains,
                parallel_chains=self.parallel_chains,
                iter_warmup=self.tune,
                iter_sampling=self.draws,
                adapt_delta=self.target_accept,
                max_treedepth=self.max_treedepth,
                seed=int(seed),
                output_dir=out,
                sig_figs=SIG_FIGS,
                show_progress=self.progress,
                save_warmup=True,
            )
            posterior = convert.canonical_posterior(
                fit.stan_variable, self.spec, self.chains, self.draws
            )
            # (tune + draws, chain) with the warm-up kept: the draws are the last `draws` rows
            method = {k: np.asarray(v) for k, v in fit.method_variables().items()}
            stats = convert.nuts_sample_stats({k: v[-self.draws :] for k, v in method.items()})
            leapfrog = method["n_leapfrog__"]
            chain_time = [dict(t) for t in fit.time]
        timing = {
            "compile_s": compile_s,
            "warmup_s": max(t.get("warmup", np.nan) for t in chain_time),
            "sampling_s": max(t.get("sampling", np.nan) for t in chain_time),
            "fit_s": time.perf_counter() - start + compile_s,
        }
        info = {
            "compiled": compiled,
            "sampler": "CmdStan NUTS (diag_e metric)",
            "chains": self.chains,
            "tune": self.tune,
            "draws": self.draws,
            "target_accept": self.target_accept,
            "max_treedepth": self.max_treedepth,
            "n_max_treedepth": int((stats["tree_depth"] >= self.max_treedepth).sum()),
            "n_grad_warmup": int(leapfrog[: -self.draws].sum()),
            "n_grad_draws": int(leapfrog[-self.draws :].sum()),
            "fit_cpu_s": cpu_seconds() - cpu0,
            "count_rule": "n_grad_warmup / n_grad_draws: leapfrog steps (one gradient each) "
            "of the warm-up and kept iterations, from CmdStan's n_leapfrog__; fit_cpu_s: CPU "
            "seconds of the fit, CmdStan's processes included",
            "chain_time_s": chain_time,
            "timing_note": "warmup_s / sampling_s: slowest chain (chains run in parallel)",
        }
        return self.finish(data, seed, posterior, stats, timing, info, loss=None)
