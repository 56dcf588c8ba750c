"""Stan backends through CmdStanPy: shared construction, NUTS, and the method registry.

The approximate methods (ADVI mean-field / full-rank, Pathfinder) are in
:mod:`backends.stan.vi`.

Each backend compiles ``hier_logit.stan`` at construction (or takes it from the executable
cache, see :mod:`backends.stan.cmdstan`), and ``fit(data, seed)`` runs CmdStan in a temporary
output directory and returns the canonical :class:`~backends.base.FitResult`.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from backends.base import (
    BackendError,
    BackendUnavailable,
    FitResult,
    build_inference_data,
    library_version,
)
from backends.spec import HierData, ModelSpec
from backends.stan import convert
from backends.stan.cmdstan import (
    PROGRAM_FILE,
    CmdStanInfo,
    compile_program,
    find_cmdstan,
    quiet_cmdstanpy,
)

#: First CmdStan (major, minor) with each method.
METHOD_MIN_VERSION: dict[str, tuple[int, int]] = {
    "nuts": (2, 0),
    "meanfield": (2, 0),
    "fullrank": (2, 0),
    "pathfinder": (2, 33),
}
_SIG_FIGS = 9  # CSV precision: CmdStan's default of 6 is too coarse for log_p__ / log_g__


def supported_methods(cmdstan: CmdStanInfo) -> list[str]:
    """Methods this CmdStan installation can run."""
    return [m for m, v in METHOD_MIN_VERSION.items() if cmdstan.version >= v]


class _StanBackend:
    """Shared construction (compile or cache hit) and result assembly."""

    method: str = ""

    def __init__(
        self,
        *,
        model: ModelSpec,
        name: str | None = None,
        progress: bool = False,
        stan_file: str | Path | None = None,
    ) -> None:
        self.spec = model
        self.name = name or f"stan_{self.method}"
        self.progress = bool(progress)
        quiet_cmdstanpy(self.progress)
        cmdstan = find_cmdstan()
        needed = METHOD_MIN_VERSION[self.method]
        if cmdstan.version < needed:
            raise BackendUnavailable(
                f"{self.name} needs CmdStan >= {needed[0]}.{needed[1]} (found "
                f"{cmdstan.version_string} at {cmdstan.path}); methods available here: "
                f"{', '.join(supported_methods(cmdstan))}"
            )
        self.compiled = compile_program(
            Path(stan_file) if stan_file else PROGRAM_FILE, cmdstan=cmdstan
        )
        self._compile_pending = self.compiled.compiled

    def _compile_timing(self) -> tuple[float, bool]:
        """Compile seconds and flag for this fit: charged to the first fit only."""
        compiled, self._compile_pending = self._compile_pending, False
        return (self.compiled.compile_s if compiled else 0.0), compiled

    def _result(
        self,
        data: HierData,
        seed: int,
        posterior: dict,
        stats: dict,
        timing: dict,
        info: dict,
        loss: np.ndarray | None,
    ) -> FitResult:
        cmdstan = self.compiled.cmdstan
        info = {
            "cmdstan_version": cmdstan.version_string,
            "exe_file": str(self.compiled.exe_file),
            **info,
        }
        idata = build_inference_data(
            posterior,
            data,
            backend=self.name,
            library="cmdstanpy",
            library_version=f"{library_version('cmdstanpy')} (CmdStan {cmdstan.version_string})",
            seed=seed,
            model=self.spec,
            sample_stats=stats,
            timing=timing,
        )
        return FitResult(idata=idata, loss=loss, timing=timing, info=info)

    @staticmethod
    def _run(what: str, call, **kwargs: Any) -> Any:
        """Call a cmdstanpy method, turning its failures into one-line BackendErrors."""
        try:
            return call(**kwargs)
        except (RuntimeError, ValueError) as exc:
            lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
            tail = " | ".join(lines[-6:])
            raise BackendError(f"CmdStan {what} failed: {tail}") from exc


class StanNUTS(_StanBackend):
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
    """

    method = "nuts"

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
        progress: bool = False,
        name: str | None = None,
        stan_file: str | Path | None = None,
    ) -> None:
        super().__init__(model=model, name=name, progress=progress, stan_file=stan_file)
        self.chains, self.tune, self.draws = int(chains), int(tune), int(draws)
        self.target_accept, self.max_treedepth = float(target_accept), int(max_treedepth)
        self.parallel_chains = parallel_chains

    def fit(self, data: HierData, seed: int) -> FitResult:
        """Sample the posterior of ``data``; see the class docstring for the settings."""
        start = time.perf_counter()
        compile_s, compiled = self._compile_timing()
        with tempfile.TemporaryDirectory(prefix="stan-nuts-") as out:
            fit = self._run(
                "sampling",
                self.compiled.model.sample,
                data=convert.stan_data(data, self.spec),
                chains=self.chains,
                parallel_chains=self.parallel_chains,
                iter_warmup=self.tune,
                iter_sampling=self.draws,
                adapt_delta=self.target_accept,
                max_treedepth=self.max_treedepth,
                seed=int(seed),
                output_dir=out,
                sig_figs=_SIG_FIGS,
                show_progress=self.progress,
            )
            posterior = convert.canonical_posterior(
                fit.stan_variable, self.spec, self.chains, self.draws
            )
            stats = convert.nuts_sample_stats(fit.method_variables())
            chain_time = [dict(t) for t in fit.time]
        n_div = int(stats["diverging"].sum())
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
            "n_divergent": n_div,
            "n_max_treedepth": int((stats["tree_depth"] >= self.max_treedepth).sum()),
            "chain_time_s": chain_time,
            "timing_note": "warmup_s / sampling_s: slowest chain (chains run in parallel)",
        }
        return self._result(data, seed, posterior, stats, timing, info, loss=None)


def backend_classes() -> dict[str, type[_StanBackend]]:
    """Method name -> backend class."""
    from backends.stan.vi import StanFullRank, StanMeanField, StanPathfinder

    return {
        "nuts": StanNUTS,
        "meanfield": StanMeanField,
        "fullrank": StanFullRank,
        "pathfinder": StanPathfinder,
    }


def make_backend(method: str, *, model: ModelSpec, **settings: Any) -> _StanBackend:
    """The Stan backend for ``method`` (e.g. ``"nuts"``), checked against the installed CmdStan.

    Raises
    ------
    BackendError
        Unknown method; the message lists the methods this CmdStan supports.
    """
    cmdstan = find_cmdstan()
    classes = backend_classes()
    if method not in classes:
        raise BackendError(
            f"unknown Stan method {method!r}; CmdStan {cmdstan.version_string} supports: "
            f"{', '.join(supported_methods(cmdstan))}"
        )
    return classes[method](model=model, **settings)
