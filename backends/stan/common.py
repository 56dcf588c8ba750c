"""The CmdStan plumbing every Stan backend shares: construction, the method registry by
CmdStan version, running a CmdStan method, and finishing a fit.

Each backend compiles ``hier_logit.stan`` at construction (or takes it from the executable
cache, see :mod:`backends.stan.cmdstan`), and ``fit(data, seed)`` runs CmdStan in a temporary
output directory and returns the canonical :class:`~backends.base.FitResult`.  NUTS is in
:mod:`backends.stan.nuts`, ADVI and Pathfinder in :mod:`backends.stan.vi`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from backends.base import BackendError, BackendUnavailable, FitResult, finish_fit, library_version
from backends.spec import HierData, ModelSpec
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
#: CSV precision: CmdStan's default of 6 is too coarse for ``log_p__`` / ``log_g__``.
SIG_FIGS = 9


def supported_methods(cmdstan: CmdStanInfo) -> list[str]:
    """Methods this CmdStan installation can run."""
    return [m for m, v in METHOD_MIN_VERSION.items() if cmdstan.version >= v]


def run_cmdstan(what: str, call: Callable[..., Any], **kwargs: Any) -> Any:
    """Call a cmdstanpy method, turning its failures into one-line BackendErrors."""
    try:
        return call(**kwargs)
    except (RuntimeError, ValueError) as exc:
        lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
        tail = " | ".join(lines[-6:])
        raise BackendError(f"CmdStan {what} failed: {tail}") from exc


class StanBackend:
    """Shared construction (compile or cache hit) and result assembly of the Stan backends.

    Subclasses set ``method`` (a key of :data:`METHOD_MIN_VERSION`) and ``family``.

    Parameters
    ----------
    model : ModelSpec
    name : str, optional
        Defaults to ``"stan_<method>"``.
    progress : bool
        Progress bars (and cmdstanpy's INFO log).
    stan_file : path, optional
        Another Stan program with the same data and parameters (default ``hier_logit.stan``).
    """

    method: ClassVar[str] = ""
    family: ClassVar[str] = ""

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

    def compile_timing(self) -> tuple[float, bool]:
        """Compile seconds and flag for this fit: charged to the first fit only."""
        compiled, self._compile_pending = self._compile_pending, False
        return (self.compiled.compile_s if compiled else 0.0), compiled

    def finish(
        self,
        data: HierData,
        seed: int,
        posterior: Mapping[str, np.ndarray],
        stats: Mapping[str, np.ndarray],
        timing: Mapping[str, float],
        info: Mapping[str, Any],
        loss: np.ndarray | None,
    ) -> FitResult:
        """The FitResult of a CmdStan run (:func:`backends.base.finish_fit`), with the CmdStan
        version and executable added to ``info``."""
        cmdstan = self.compiled.cmdstan
        return finish_fit(
            self,
            data,
            posterior,
            model=self.spec,
            seed=seed,
            library="cmdstanpy",
            library_version=f"{library_version('cmdstanpy')} (CmdStan {cmdstan.version_string})",
            timing=timing,
            info={
                "cmdstan_version": cmdstan.version_string,
                "exe_file": str(self.compiled.exe_file),
                **info,
            },
            loss=loss,
            sample_stats=stats,
        )
