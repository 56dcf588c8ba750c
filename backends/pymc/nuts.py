"""NUTS for the PyMC model, with nutpie (default) or PyMC's own sampler."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from types import MappingProxyType
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
from backends.convergence import count_divergent
from backends.pymc.convert import (
    json_safe,
    posterior_arrays,
    sample_stats_arrays,
    split_sampling_time,
)
from backends.pymc.model import (
    DATA_NAMES,
    INSTALL_HINTS,
    build_model,
    data_arrays,
    quiet_pytensor,
)
from backends.spec import HierData, ModelSpec

logger = logging.getLogger(__name__)

#: NUTS implementations this backend can drive.
SAMPLERS: tuple[str, ...] = ("nutpie", "pymc")
#: The default ``nutpie`` setting: the low-rank-modified mass matrix, which adapts to the
#: sigma_worker / z_worker correlations (~20 leapfrog steps per draw on the paper twin instead
#: of ~60 with nutpie's diagonal one).
NUTPIE_DEFAULTS: Mapping[str, Any] = MappingProxyType({"low_rank_modified_mass_matrix": True})
#: nutpie.sample keywords that choose the mass-matrix adaptation rather than a setting.
_NUTPIE_MODES: tuple[str, ...] = ("low_rank_modified_mass_matrix", "transform_adapt")
TIMING_RULE = (
    "compile_s: model compilation (+ PyMC's initialisation for sampler=pymc; ~0 when nutpie "
    "reuses a model compiled earlier in the process for the same structure, "
    "info.compile_cached); warmup_s and sampling_s split the sampler's wall time in "
    "proportion to leapfrog steps"
)
#: What the gradient counts of ``info`` are (machine load does not move them).
GRADIENT_RULE = (
    "n_grad_warmup / n_grad_draws: leapfrog steps (one log-density gradient each) summed over "
    "the chains' warm-up and kept iterations, from the sampler's n_steps statistic; "
    "fit_cpu_s: CPU seconds of the whole fit, sampling_cpu_s of the sampler call (warm-up and "
    "draws; for sampler=pymc pm.sample's compilation too), both backends.base.cpu_seconds"
)
#: ``nutpie.compile_pymc_model`` options (nutpie 0.16's defaults for numba, spelled out; part
#: of the cache key).  ``freeze_model=False`` keeps the data as shared variables, which
#: ``CompiledPyMCModel.with_data`` replaces.
COMPILE_OPTIONS: dict[str, Any] = {
    "backend": "numba",
    "gradient_backend": "pytensor",
    "freeze_model": False,
}
#: Compiled nutpie models a process keeps, least recently used dropped first (a study needs
#: one per parameterisation and data shape).
COMPILE_CACHE_SIZE = 4
_COMPILED: OrderedDict[Hashable, Any] = OrderedDict()
_COMPILED_LOCK = threading.Lock()


def structure_key(data: HierData, spec: ModelSpec) -> Hashable:
    """What a compiled nutpie model depends on besides its data values.

    The parameterisation and priors (``spec``), each data array's name, shape and dtype, the
    coordinate labels (nutpie keeps the compiled model's coordinates, and the posterior is
    selected by label) and :data:`COMPILE_OPTIONS`.  nutpie 0.16's ``with_data`` checks only
    the rank of a new array, so the shapes must be part of the key.
    """
    arrays = tuple((name, a.shape, a.dtype.str) for name, a in data_arrays(data).items())
    labels = (data.worksite_ids, data.site_features, data.worker_features)
    return spec, arrays, labels, tuple(sorted(COMPILE_OPTIONS.items()))


def clear_compile_cache() -> None:
    """Forget every compiled nutpie model of this process (the next fit compiles)."""
    with _COMPILED_LOCK:
        _COMPILED.clear()


def compiled_model(nutpie: Any, data: HierData, spec: ModelSpec) -> tuple[Any, bool]:
    """The nutpie model of ``spec`` holding ``data``, compiled once per structure.

    A model compiled earlier in this process for the same :func:`structure_key` gets the new
    arrays through ``with_data`` (no PyMC model is built); otherwise the model is built and
    compiled, and kept if its shared variables are exactly the data containers of
    :func:`backends.pymc.model.build_model` (anything else could not be replaced safely).
    The start point is data-free (zeros, scales at 1, jittered by the seed), so the compiled
    model's initial-point function serves every data set.

    Returns
    -------
    compiled : nutpie.compile_pymc.CompiledPyMCModel
    cached : bool
        True when no compilation happened.
    """
    key = structure_key(data, spec)
    with _COMPILED_LOCK:
        hit = _COMPILED.get(key)
        if hit is not None:
            _COMPILED.move_to_end(key)
    if hit is not None:
        return hit.with_data(**data_arrays(data)), True
    compiled = nutpie.compile_pymc_model(build_model(data, spec), **COMPILE_OPTIONS)
    if set(compiled.shared_data) == set(DATA_NAMES):
        with _COMPILED_LOCK:
            _COMPILED[key] = compiled
            while len(_COMPILED) > COMPILE_CACHE_SIZE:
                _COMPILED.popitem(last=False)
    return compiled, False


def gradient_counts(raw: Any, tune: int) -> dict[str, int]:
    """Log-density gradients a NUTS run evaluated, warm-up and kept draws apart.

    Each leapfrog step evaluates one gradient, and both nutpie and PyMC record the steps of
    every iteration as ``n_steps`` (in ``warmup_sample_stats`` when the warm-up is kept).

    Parameters
    ----------
    raw : arviz.InferenceData
        The sampler's own output, warm-up kept (``save_warmup`` / ``discard_tuned_samples``).
    tune : int
        Warm-up iterations per chain (0: no warm-up group).
    """
    warm = raw.warmup_sample_stats["n_steps"] if tune else None
    return {
        "n_grad_warmup": int(warm.sum()) if warm is not None else 0,
        "n_grad_draws": int(raw.sample_stats["n_steps"].sum()),
    }


class PyMCNUTS:
    """No-U-Turn sampling of the PyMC model (``pymc_nuts``).

    Parameters
    ----------
    model : ModelSpec
        Parameterisation and priors.
    name : str
        Backend name written into the results.
    chains, tune, draws : int
        Number of chains, warm-up iterations and kept draws per chain.
    target_accept : float
        Target mean acceptance probability of the step-size adaptation.
    cores : int or None
        Chains run in parallel; ``None`` = min(chains, CPUs).
    sampler : {"nutpie", "pymc"}
        ``nutpie`` compiles the model with numba and samples with nutpie (default: fastest
        in ``benchmarks/nuts_samplers.py``), compiling once per model structure in a process
        (:func:`compiled_model`; ``info["compile_cached"]``); ``pymc`` uses ``pm.sample``'s
        own NUTS (built and compiled on every fit).
    nutpie : mapping, optional
        Passed to ``nutpie.sample`` when ``sampler="nutpie"``:
        ``low_rank_modified_mass_matrix`` / ``transform_adapt`` and any nutpie setting
        (``mass_matrix_eigval_cutoff``, ``mass_matrix_gamma``, ``use_grad_based_mass_matrix``,
        ...); default :data:`NUTPIE_DEFAULTS` (the low-rank-modified mass matrix); None or
        ``{}``: nutpie's own defaults.  Ignored by ``sampler="pymc"``.
    max_treedepth : int
        Maximum tree depth (both samplers).
    max_divergence_fraction : float
        Above this fraction of divergent draws a warning is logged and
        ``info["divergence_warning"]`` is True (0 = any divergence).  The default, 0.01, is
        the evaluator's ``evaluation.divergence_warn_fraction`` default, so the backend warns
        exactly when the run's MCMC verdict fails.  The count itself is
        :func:`backends.convergence.count_divergent`, the one the diagnostics report.
    init : str
        ``pm.sample`` initialisation (``sampler="pymc"`` only).
    progress : bool
        Show the sampler's progress bar.
    """

    family: ClassVar[str] = "mcmc"

    def __init__(
        self,
        model: ModelSpec,
        name: str = "pymc_nuts",
        chains: int = 4,
        tune: int = 1000,
        draws: int = 1000,
        target_accept: float = 0.8,
        cores: int | None = None,
        sampler: str = "nutpie",
        nutpie: Mapping[str, Any] | None = NUTPIE_DEFAULTS,
        max_treedepth: int = 10,
        max_divergence_fraction: float = 0.01,
        init: str = "jitter+adapt_diag",
        progress: bool = True,
    ) -> None:
        if sampler not in SAMPLERS:
            raise BackendError(
                f"{name}: unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}"
            )
        if min(chains, tune + 1, draws) < 1 or not 0 < target_accept < 1:
            raise BackendError(
                f"{name}: need chains >= 1, tune >= 0, draws >= 1 and 0 < target_accept < 1"
            )
        if sampler == "nutpie" and tune < 1:  # nutpie 0.16 panics without a warm-up
            raise BackendError(f"{name}: nutpie needs backend.tune >= 1 (backend.sampler=pymc "
                               f"samples without a warm-up)")  # fmt: skip
        self.model, self.name, self.sampler = model, name, sampler
        self.chains, self.tune, self.draws = int(chains), int(tune), int(draws)
        self.target_accept, self.max_treedepth = float(target_accept), int(max_treedepth)
        self.cores = int(cores) if cores else min(self.chains, os.cpu_count() or 1)
        self.nutpie = json_safe(nutpie or {})
        self.max_divergence_fraction = float(max_divergence_fraction)
        self.init, self.progress = init, bool(progress)

    def fit(self, data: HierData, seed: int) -> FitResult:
        """Sample the posterior of the model given ``data``.

        Returns
        -------
        FitResult
            ``idata`` with the canonical posterior (+ ``z_worker`` if non-centred) and the
            sampler's statistics under ArviZ names (divergences among them); ``info`` with
            the settings, step statistics, ``compile_cached`` (no compilation this fit), the
            gradients of warm-up and kept draws (:func:`gradient_counts`) and CPU seconds
            (:data:`GRADIENT_RULE`).
        """
        start, cpu0 = time.perf_counter(), cpu_seconds()
        require("pymc", INSTALL_HINTS["pymc"])
        with quiet_pytensor():
            if self.sampler == "nutpie":
                raw, timing, cached = self._sample_nutpie(data, seed)
            else:
                raw, timing, cached = self._sample_pymc(data, seed)
        library = self.sampler
        stats = sample_stats_arrays(raw.sample_stats)
        info = {**self._info(stats), **gradient_counts(raw, self.tune)}
        info["compile_cached"] = cached
        info["sampling_cpu_s"] = timing.pop("sampling_cpu_s")
        info["fit_cpu_s"] = cpu_seconds() - cpu0
        timing["fit_s"] = time.perf_counter() - start
        return finish_fit(
            self,
            data,
            posterior_arrays(raw.posterior, data, self.model),
            model=self.model,
            seed=seed,
            library=library,
            library_version=library_version(library),
            timing=timing,
            info=info,
            sample_stats=stats,
            extra_attrs={
                "sampler": self.sampler,
                "chains": self.chains,
                "tune": self.tune,
                "draws": self.draws,
                "target_accept": self.target_accept,
            },
        )

    def _sample_nutpie(self, data: HierData, seed: int) -> tuple[Any, dict[str, float], bool]:
        """Sample with nutpie; the model is compiled once per structure (:func:`compiled_model`)."""
        nutpie = require("nutpie", INSTALL_HINTS["nutpie"])
        options = self._nutpie_options()
        t0 = time.perf_counter()
        compiled, cached = compiled_model(nutpie, data, self.model)
        t1, cpu1 = time.perf_counter(), cpu_seconds()
        try:
            raw = nutpie.sample(
                compiled,
                draws=self.draws,
                tune=self.tune,
                chains=self.chains,
                cores=self.cores,
                seed=int(seed),
                save_warmup=True,
                progress_bar=self.progress,
                target_accept=self.target_accept,
                maxdepth=self.max_treedepth,
                **options,
            )
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"{self.name}: nutpie failed: {exc}") from exc
        timing = self._phases(raw, time.perf_counter() - t1, cpu_seconds() - cpu1)
        return raw, {"compile_s": t1 - t0, **timing}, cached

    def _nutpie_options(self) -> dict[str, Any]:
        """The ``nutpie`` config mapping, checked against nutpie's own settings."""
        from nutpie import _lib

        # setting names (constructors are capitalised, methods start with set_)
        known = set(_NUTPIE_MODES) | {
            a
            for a in dir(_lib.PyNutsSettings)
            if not a.startswith(("_", "set_")) and not a[0].isupper()
        }
        owned = {"num_chains": "chains", "num_draws": "draws", "num_tune": "tune",
                 "target_accept": "target_accept", "maxdepth": "max_treedepth"}  # fmt: skip
        clash = sorted(set(self.nutpie) & set(owned))
        if clash:
            raise BackendError(
                f"{self.name}: set {', '.join('backend.' + owned[c] for c in clash)} instead "
                f"of backend.nutpie.{', backend.nutpie.'.join(clash)}"
            )
        unknown = sorted(set(self.nutpie) - known)
        if unknown:
            raise BackendError(
                f"{self.name}: unknown nutpie option(s) {unknown} for nutpie "
                f"{library_version('nutpie')}; known: {', '.join(sorted(known))}"
            )
        return dict(self.nutpie)

    def _sample_pymc(self, data: HierData, seed: int) -> tuple[Any, dict[str, float], bool]:
        """Sample with ``pm.sample`` (the model is built and compiled on every fit)."""
        import pymc as pm

        t0, cpu0 = time.perf_counter(), cpu_seconds()
        try:
            raw = pm.sample(
                draws=self.draws,
                tune=self.tune,
                chains=self.chains,
                cores=self.cores,
                random_seed=int(seed),
                init=self.init,
                progressbar=self.progress,
                discard_tuned_samples=False,
                compute_convergence_checks=False,
                model=build_model(data, self.model),
                nuts={"target_accept": self.target_accept, "max_treedepth": self.max_treedepth},
            )
        except (RuntimeError, ValueError, FloatingPointError) as exc:
            raise BackendError(f"{self.name}: pm.sample failed: {exc}") from exc
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
        sampling = float(raw.posterior.attrs.get("sampling_time", wall))
        return raw, {"compile_s": wall - sampling, **self._phases(raw, sampling, cpu)}, False

    def _phases(self, raw: Any, wall: float, cpu: float) -> dict[str, float]:
        """Warm-up and sampling seconds of the sampler's wall time (split by gradient counts)
        and ``sampling_cpu_s``, its CPU seconds (moved to ``info`` by :meth:`fit`)."""
        counts = gradient_counts(raw, self.tune)
        warmup_s, sampling_s = split_sampling_time(
            wall, counts["n_grad_warmup"], counts["n_grad_draws"]
        )
        return {"warmup_s": warmup_s, "sampling_s": sampling_s, "sampling_cpu_s": cpu}

    def _info(self, stats: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Settings and step statistics of the run (divergences are counted by diagnostics)."""
        return {
            "sampler": self.sampler,
            "nutpie": dict(self.nutpie) if self.sampler == "nutpie" else None,
            "chains": self.chains,
            "tune": self.tune,
            "draws": self.draws,
            "target_accept": self.target_accept,
            "max_treedepth": self.max_treedepth,
            "max_divergence_fraction": self.max_divergence_fraction,
            "divergence_warning": self._warn_divergences(stats["diverging"]),
            "mean_n_steps": float(np.mean(stats["n_steps"])),
            "mean_tree_depth": float(np.mean(stats["tree_depth"])),
            "mean_step_size": float(np.mean(stats["step_size"])),
            "timing_rule": TIMING_RULE,
            "count_rule": GRADIENT_RULE,
        }

    def _warn_divergences(self, diverging: np.ndarray) -> bool:
        """Log a warning when the fraction of divergent draws exceeds the threshold."""
        n_div = count_divergent(diverging)
        fraction = n_div / float(self.chains * self.draws)
        if fraction <= self.max_divergence_fraction:
            return False
        hint = (
            "try model.parameterization=noncentered or a higher backend.target_accept"
            if self.model.parameterization == "centered"
            else "try a higher backend.target_accept or longer backend.tune"
        )
        logger.warning(
            "%s: %d divergent transitions (%.2f%% of draws) exceed "
            "max_divergence_fraction = %g; the posterior may be biased (%s)",
            self.name, n_div, 100 * fraction, self.max_divergence_fraction, hint,
        )  # fmt: skip
        return True
