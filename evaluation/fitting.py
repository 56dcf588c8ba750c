"""The one place that fits: a backend from its config (:func:`fit_backend`, which the Python
API and so the app call), and the reference posterior with its cache.

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
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from backends.base import FitResult, check_inference_data, file_lock
from backends.spec import HierData, ModelSpec
from evaluation.config import instantiate_backend, plain
from evaluation.io import read_json, write_json, write_netcdf
from evaluation.metrics.draws import extract
from evaluation.metrics.reference import ReferenceCheck, check_reference

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az

log = logging.getLogger("ppl_compare")

#: Backend settings that do not change the draws (left out of the cache key).
NON_RESULT_KEYS = ("progress",)


def fit_backend(
    backend_cfg: Mapping[str, Any],
    data: HierData,
    model_spec: ModelSpec,
    seed: int,
    cache_dir: Path | None = None,
) -> FitResult:
    """Instantiate a backend from its config, fit it to ``data`` and contract-check the result.

    With ``cache_dir`` the fit is computed once and cached there (:func:`cached_fit`); the
    run whose settings equal the reference's reads the reference's fit this way.
    """
    log.info("fitting %s on %d workers x %d worksites (seed %d)",
             plain(backend_cfg).get("name"), data.n_workers, data.n_worksites, seed)  # fmt: skip
    if cache_dir is not None:
        fit = cached_fit(backend_cfg, data, model_spec, int(seed), Path(cache_dir))
    else:
        fit = instantiate_backend(backend_cfg, model_spec).fit(data, seed=int(seed))
    check_inference_data(fit.idata, data)
    return fit


def load_reference(
    path: Path, data: HierData | None = None
) -> tuple[az.InferenceData, ReferenceCheck]:
    """Read a reference ``posterior.nc`` and check it (against ``data``, when given, first).

    Raises
    ------
    FileNotFoundError
        With the path, when there is no such file.
    OtherData
        The file's posterior was fitted to other data than ``data`` (the line says what
        differs: sizes, or the data hash).
    """
    idata = _read_idata(Path(path))
    if data is not None:
        check_same_data(idata, data, f"reference {path}", "the data given")
    return idata, check_reference(extract(idata))


def _read_idata(path: Path) -> az.InferenceData:
    """Read a ``posterior.nc`` into memory (FileNotFoundError naming it when absent)."""
    import arviz as az

    if not path.is_file():
        raise FileNotFoundError(f"reference posterior {path} does not exist")
    idata = az.from_netcdf(str(path))
    idata.load()  # read into memory and release the file
    return idata


# ----------------------------------------------------------------------------- same data?
class OtherData(ValueError):
    """A posterior (or a judgement) of other data than the data it is used with; ``problem``
    says what differs."""

    def __init__(self, message: str, problem: str) -> None:
        super().__init__(f"{message}: {problem}")
        self.problem = problem


def _data_arrays(source: Any) -> dict[str, np.ndarray] | None:
    """y, site, X_site, X_worker of a HierData, or of the data an InferenceData records
    (``observed_data``, ``constant_data``); None when it records none."""
    if isinstance(source, HierData):
        return {"y": source.y, "site": source.site, "X_site": source.X_site,
                "X_worker": source.X_worker}  # fmt: skip
    obs, const = getattr(source, "observed_data", None), getattr(source, "constant_data", None)
    if obs is None or const is None or "y" not in obs:
        return None
    names = ("site", "X_site", "X_worker")
    if any(n not in const for n in names):
        return None
    return {"y": obs["y"].values, **{n: const[n].values for n in names}}


def data_hash(arrays: Mapping[str, np.ndarray]) -> str:
    """A short content hash of a data set's arrays (values as float64, so a file round trip
    of an int column does not change it)."""
    h = hashlib.sha256()
    for name in ("y", "site", "X_site", "X_worker"):
        a = np.ascontiguousarray(np.asarray(arrays[name], dtype=np.float64))
        h.update(f"{name}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:12]


def data_difference(source: Any, data: HierData) -> str | None:
    """What differs between the data ``source`` (a HierData, or an InferenceData recording
    its ``observed_data`` and ``constant_data``) holds and ``data``: sizes, then values (by
    :func:`data_hash`); None when they are the same, or when ``source`` records no data."""
    theirs, ours = _data_arrays(source), _data_arrays(data)
    if theirs is None or ours is None:
        return None
    sizes = {"rows": lambda d: len(d["y"]), "groups": lambda d: np.shape(d["X_site"])[0],
             "group features": lambda d: np.shape(d["X_site"])[-1],
             "unit features": lambda d: np.shape(d["X_worker"])[-1]}  # fmt: skip
    differ = [f"{size(theirs)} {label} against {size(ours)}" for label, size in sizes.items()
              if size(theirs) != size(ours)]  # fmt: skip
    if differ:
        return "; ".join(differ)
    a, b = data_hash(theirs), data_hash(ours)
    if a != b:
        return (f"the same sizes ({len(ours['y'])} rows, {np.shape(ours['X_site'])[0]} groups) "
                f"but other values (data hash {a} against {b})")  # fmt: skip
    return None


def check_same_data(source: Any, data: HierData, what: str, than: str = "these") -> None:
    """Raise :class:`OtherData` ("``what`` is of other data than ``than``: ...") when
    ``source`` holds other data than ``data`` (:func:`data_difference`)."""
    if (problem := data_difference(source, data)) is not None:
        raise OtherData(f"{what} is of other data than {than}", problem)


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


def fit_seed(seed: int, repeat: int = 0) -> int:
    """The seed of the ``repeat``-th fit of one data set and method.

    Repeat 0 is ``seed`` itself (so the reference fit and its cache are shared); repeat ``k``
    draws an unrelated seed from ``SeedSequence([seed, k])``, a stream independent of every
    other (seed, repeat), in [0, 2**31).
    """
    if repeat == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(repeat)]).generate_state(1)[0] >> 1)


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
                     else check_reference(extract(idata)))  # fmt: skip
            info = {**meta.get("info", {}), "from_cache": True, "cache_file": str(path)}
            return FitResult(idata, None, dict(meta.get("timing", {})), info), check
        log.info("computing %s once for these data (cache %s)", name, path)
        fit = instantiate_backend(settings, model_spec).fit(data, seed=int(seed))
        check = check_reference(extract(fit.idata))
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


class SourcePosterior(NamedTuple):
    """A posterior fitted once and cached (:func:`source_posterior`), ready to draw worlds from.

    Attributes
    ----------
    fit : FitResult
        The cached fit (``info["cache_file"]``, ``info["from_cache"]``, the fit's timing).
    check : ReferenceCheck
        R-hat, ESS and divergences against the reference criteria.
    key : str
        The cache's content hash (data, model, settings, seed): :func:`reference_key`.
    draws : dict of str to ndarray
        The canonical variables stacked over (chain, draw), shaped (S, ...) and aligned to
        the data's coordinates.
    """

    fit: FitResult
    check: ReferenceCheck
    key: str
    draws: dict[str, np.ndarray]


def source_posterior(
    backend_cfg: Mapping[str, Any],
    data: HierData,
    model_spec: ModelSpec,
    seed: int,
    cache_dir: Path,
) -> SourcePosterior:
    """The posterior of real ``data`` a posterior world draws its parameters from: the fit of
    ``backend_cfg`` (NUTS), computed once and cached like the reference (:func:`cached_fit`),
    so the 20+ worlds of one source fit it once."""
    fit, check = _cached(backend_cfg, data, model_spec, int(seed), Path(cache_dir))
    check_inference_data(fit.idata, data)
    key = reference_key(backend_cfg, data, model_spec, int(seed))
    return SourcePosterior(fit, check, key, extract(fit.idata, data).flat())
