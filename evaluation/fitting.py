"""The one place that fits: a run's backend, and the reference posterior with its cache.

A reference posterior (``evaluation.reference``: a backend config, or a ``posterior.nc``) is a
long NUTS run, computed once per (data, model, backend settings, seed) and cached by a content
hash under ``paths.cache_dir/reference`` (atomic writes, a file lock for concurrent jobs, a
``.json`` provenance sidecar holding the fit's timing, info and criteria check).  A run whose
backend settings equal the reference's (e.g. the ``pymc_nuts`` job of a study) reads that one
cached fit instead of fitting twice.  The criteria are judged by
:mod:`evaluation.metrics.reference`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from omegaconf import DictConfig

from backends.base import FitResult, check_inference_data, file_lock
from backends.spec import HierData, ModelSpec
from evaluation.config import (
    backend_config,
    instantiate_backend,
    plain,
    reference_cache,
    reference_config,
)
from evaluation.io import read_json, write_json, write_netcdf
from evaluation.metrics.reference import ReferenceCheck, check_reference

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az

log = logging.getLogger("ppl_compare")

#: Backend settings that do not change the draws (left out of the cache key).
NON_RESULT_KEYS = ("progress",)


def fit_run(
    cfg: DictConfig, train: HierData, spec: ModelSpec, backend_cfg: DictConfig | None = None
) -> tuple[Any, FitResult]:
    """Instantiate the run's backend and fit it; contract-check the result.

    A backend whose settings equal the reference's (``evaluation.reference`` with its
    ``reference_overrides``) is not fitted twice: its fit is the cached reference fit of the
    same data and seed (computed here if missing; ``fit.info["from_cache"]`` says which).
    """
    bcfg = backend_config(cfg) if backend_cfg is None else backend_cfg
    backend = instantiate_backend(bcfg, spec)
    log.info("fitting %s on %d workers x %d worksites (seed %d)", backend.name,
             train.n_workers, train.n_worksites, cfg.seed)  # fmt: skip
    ref_cfg = reference_config(cfg)
    if ref_cfg is not None and same_settings(ref_cfg, bcfg):
        log.info("%s has the reference's settings: one fit serves as both", backend.name)
        fit = cached_fit(ref_cfg, train, spec, int(cfg.seed), reference_cache(cfg))
    else:
        fit = backend.fit(train, seed=int(cfg.seed))
    check_inference_data(fit.idata, train)
    return backend, fit


def reference_posterior(
    cfg: DictConfig, train: HierData, spec: ModelSpec
) -> tuple[az.InferenceData | None, ReferenceCheck | None]:
    """The reference posterior named by ``evaluation.reference`` and its criteria check
    (``(None, None)`` when the reference is off): read from a ``posterior.nc``, or fitted once
    and cached (:func:`cached_reference`)."""
    ref = cfg.evaluation.get("reference")
    if not ref:
        return None, None
    if str(ref).endswith(".nc"):
        return load_reference(Path(str(ref)))
    log.info("reference posterior: %s (cache %s)", ref, reference_cache(cfg))
    return cached_reference(reference_config(cfg), train, spec, int(cfg.seed), reference_cache(cfg))


def load_reference(path: Path) -> tuple[az.InferenceData, ReferenceCheck]:
    """Read a reference ``posterior.nc`` and check it.

    Raises
    ------
    FileNotFoundError
        With the path, when there is no such file.
    """
    idata = _read_idata(Path(path))
    return idata, check_reference(idata)


def _read_idata(path: Path) -> az.InferenceData:
    """Read a ``posterior.nc`` into memory (FileNotFoundError naming it when absent)."""
    import arviz as az

    if not path.is_file():
        raise FileNotFoundError(f"reference posterior {path} does not exist")
    idata = az.from_netcdf(str(path))
    idata.load()  # read into memory and release the file
    return idata


def reference_key(backend_cfg: Any, data: HierData, model_spec: ModelSpec, seed: int) -> str:
    """Hash of (data arrays and coordinates, model spec, backend settings, seed)."""
    h = hashlib.sha256()
    for arr in (data.y, data.site, data.X_site, data.X_worker):
        a = np.ascontiguousarray(arr)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    settings = {k: v for k, v in plain(backend_cfg).items() if k not in NON_RESULT_KEYS}
    meta = {
        "coords": [data.worksite_ids, data.site_features, data.worker_features],
        "model": [model_spec.parameterization, model_spec.priors.alpha_scale,
                  model_spec.priors.sigma_site_scale, model_spec.priors.sigma_worker_scale],
        "backend": settings,
        "seed": int(seed),
    }  # fmt: skip
    h.update(json.dumps(meta, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def same_settings(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two backend configs give the same draws (equal but for :data:`NON_RESULT_KEYS`)."""

    def result_keys(cfg: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in plain(cfg).items() if k not in NON_RESULT_KEYS}

    return result_keys(a) == result_keys(b)


def cached_fit(
    backend_cfg: Mapping[str, Any],
    data: HierData,
    model_spec: ModelSpec,
    seed: int,
    cache_dir: Path,
) -> FitResult:
    """The fit of ``backend_cfg`` to ``data``, computed once and cached by a content hash.

    The reference posterior (:func:`cached_reference`) and a run whose backend settings equal
    the reference's (e.g. the ``pymc_nuts`` job of a study, whose reference is ``pymc_nuts``)
    share one entry, so that fit is computed once.  A cached fit carries the timing and info
    of the fit that made it, and ``info["from_cache"] = True``.

    Parameters
    ----------
    backend_cfg : DictConfig or mapping
        Backend config with ``_target_`` (e.g. ``conf/backend/stan_nuts.yaml`` plus longer
        chains); instantiated with ``_partial_=True`` and then called with
        ``model=model_spec`` (so the ModelSpec reaches the backend as a ModelSpec, not a dict).
    data : HierData
        The data to fit (the training rows).
    model_spec : ModelSpec
    seed : int
    cache_dir : Path
        Holds ``<backend>-<hash>.nc`` (written atomically), a ``.json`` provenance sidecar and
        a ``.lock`` file.
    """
    return _cached(backend_cfg, data, model_spec, seed, cache_dir)[0]


def _cached(
    backend_cfg: Mapping[str, Any],
    data: HierData,
    model_spec: ModelSpec,
    seed: int,
    cache_dir: Path,
) -> tuple[FitResult, ReferenceCheck]:
    """:func:`cached_fit` and the fit's :class:`ReferenceCheck`, computed once with the fit and
    kept in the sidecar (so a job reading the cache does not recompute R-hat and ESS)."""
    settings = plain(backend_cfg)
    name = str(settings.get("name", "reference"))
    key = reference_key(settings, data, model_spec, seed)
    path = Path(cache_dir) / f"{name}-{key}.nc"
    with file_lock(path.with_suffix(".lock")):
        sidecar = path.with_suffix(".json")
        if path.is_file() and sidecar.is_file():
            log.info("fit from cache: %s", path)
            idata, meta = _read_idata(path), read_json(sidecar)
            check = (ReferenceCheck(**meta["check"]) if "check" in meta
                     else check_reference(idata))  # fmt: skip
            info = {**meta.get("info", {}), "from_cache": True, "cache_file": str(path)}
            return FitResult(idata, None, dict(meta.get("timing", {})), info), check
        log.info("computing %s once for these data (cache %s)", name, path)
        fit = instantiate_backend(settings, model_spec).fit(data, seed=int(seed))
        check = check_reference(fit.idata)
        write_netcdf(path, fit.idata)
        write_json(sidecar, {
            "key": key, "backend": settings, "seed": int(seed), "data": data.name,
            "model": model_spec.parameterization, "timing": fit.timing, "info": fit.info,
            "check": check._asdict(),
        })  # fmt: skip
    info = {**fit.info, "from_cache": False, "cache_file": str(path)}
    return fit._replace(info=info), check


def cached_reference(
    backend_cfg: Mapping[str, Any],
    data: HierData,
    model_spec: ModelSpec,
    seed: int,
    cache_dir: Path,
) -> tuple[az.InferenceData, ReferenceCheck]:
    """The reference posterior of ``data``, computed once and cached (:func:`cached_fit`),
    with its check against the criteria (computed once, with the fit).

    Returns
    -------
    (InferenceData, ReferenceCheck)
    """
    fit, check = _cached(backend_cfg, data, model_spec, seed, cache_dir)
    return fit.idata, check
