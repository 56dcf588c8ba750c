"""Backend protocol, fit result, and the one place a fit is finished.

Every backend is a class constructed by Hydra (``_target_``) with its settings plus
``model=ModelSpec(...)``; it declares its inference ``family`` (``"mcmc"`` or ``"vi"``) and
exposes ``name`` and ``fit(data, seed) -> FitResult``.  Every ``fit`` ends with
:func:`finish_fit` (build the InferenceData, check the contract, return the FitResult).
Predictions, metrics, divergence counts and loss convergence are never computed here:
``evaluation/`` does that once, from the posterior, for every backend.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol, runtime_checkable

import numpy as np

from backends.spec import VAR_DIMS, Z_WORKER_DIMS, HierData, ModelSpec

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az

#: Keys of the wall-time breakdown (seconds); a backend fills the ones it knows.
TIMING_KEYS: tuple[str, ...] = ("compile_s", "warmup_s", "sampling_s", "optimisation_s", "fit_s")
#: Inference families a backend declares (``Backend.family``): draws from a sampler, or from a
#: fitted approximation.
FAMILIES: tuple[str, ...] = ("mcmc", "vi")
#: Named dims of every variable an InferenceData may hold (posterior, observed and constant data).
IDATA_DIMS: dict[str, tuple[str, ...]] = {
    **VAR_DIMS,
    "z_worker": Z_WORKER_DIMS,
    "y": ("obs",),
    "X_worker": ("obs", "worker_feature"),
    "site": ("obs",),
    "X_site": ("worksite", "site_feature"),
}
#: Attributes every posterior carries.
REQUIRED_ATTRS: tuple[str, ...] = (
    "backend",
    "method",
    "inference_family",
    "inference_library",
    "inference_library_version",
    "seed",
    "parameterization",
)


class BackendError(RuntimeError):
    """A fit could not be done or produced an unusable result; the message says why and what
    to do.  The app prints it as one line and writes no posterior."""


class BackendUnavailable(BackendError):
    """The inference library (or a tool it needs) is not installed; the message names it."""


class FitResult(NamedTuple):
    """What a backend returns.

    Attributes
    ----------
    idata : arviz.InferenceData
        Groups ``posterior`` (chain, draw first; canonical names, dims, coordinates),
        ``sample_stats`` (ArviZ reserved names; for VI ``log_q`` and ``log_p``),
        ``observed_data`` and ``constant_data``; attrs in :data:`REQUIRED_ATTRS` plus timings.
    loss : ndarray or None
        VI loss (negative ELBO) at every step; ``None`` for MCMC.
    timing : dict
        Wall-time breakdown in seconds, keys from :data:`TIMING_KEYS`.
    info : dict
        JSON-serialisable raw facts of the fit: the settings used (e.g. the convergence
        window and tolerance a VI backend was given), sampler, library-reported results.
        Derived judgements (divergence counts, whether the loss converged) are computed by
        ``evaluation.metrics.diagnostics``, not stored here.
    """

    idata: az.InferenceData
    loss: np.ndarray | None
    timing: dict[str, float]
    info: dict[str, Any]


@runtime_checkable
class Backend(Protocol):
    """A model + inference method in one probabilistic-programming language.

    ``family`` is ``"mcmc"`` or ``"vi"`` (:data:`FAMILIES`), declared by the class.
    """

    family: ClassVar[str]
    name: str

    def fit(self, data: HierData, seed: int) -> FitResult:
        """Fit the model to ``data`` with random seed ``seed``."""
        ...


def split_name(name: str) -> tuple[str, str]:
    """``"pyro_meanfield"`` -> ``("pyro", "meanfield")``."""
    language, _, method = name.partition("_")
    return language, method


def _contract_attrs(
    backend: str, family: str, library: str, library_version: str, seed: int, model: ModelSpec
) -> dict[str, Any]:
    """The attrs :data:`REQUIRED_ATTRS` (and the prior scales) of a backend's InferenceData."""
    if family not in FAMILIES:
        raise BackendError(f"{backend}: inference family must be one of {FAMILIES}, got {family!r}")
    return {
        "backend": backend,
        "method": split_name(backend)[1],
        "inference_family": family,
        "inference_library": library,
        "inference_library_version": library_version,
        "seed": int(seed),
        "parameterization": model.parameterization,
        "prior_alpha_scale": model.priors.alpha_scale,
        "prior_sigma_site_scale": model.priors.sigma_site_scale,
        "prior_sigma_worker_scale": model.priors.sigma_worker_scale,
    }


def build_inference_data(
    posterior: Mapping[str, np.ndarray],
    data: HierData,
    *,
    backend: str,
    family: str,
    library: str,
    library_version: str,
    seed: int,
    model: ModelSpec,
    sample_stats: Mapping[str, np.ndarray] | None = None,
    timing: Mapping[str, float] | None = None,
    extra_attrs: Mapping[str, Any] | None = None,
) -> az.InferenceData:
    """Assemble InferenceData in the canonical layout from arrays shaped (chain, draw, ...).

    Parameters
    ----------
    posterior : mapping
        At least every name in :data:`backends.spec.VAR_DIMS`; extra latent blocks with dims
        ``(worksite, worker_feature)`` (``z_worker``) are kept.
    data : HierData
        Gives coordinates, ``observed_data`` (y) and ``constant_data`` (X_site, X_worker,
        site index).
    backend, library, library_version : str
        ``backend`` is e.g. ``"pyro_meanfield"``; the method is the part after the language.
    family : {"mcmc", "vi"}
        The backend's declared inference family, recorded as the attr ``inference_family``.
    seed : int
    model : ModelSpec
    sample_stats : mapping, optional
        Arrays shaped (chain, draw) under ArviZ names.
    timing, extra_attrs : mapping, optional
        Added to the attrs of every group.
    """
    import arviz as az

    missing = [v for v in VAR_DIMS if v not in posterior]
    if missing:
        raise BackendError(f"{backend}: posterior lacks canonical variables {missing}")
    attrs = _contract_attrs(backend, family, library, library_version, seed, model)
    attrs.update({k: float(v) for k, v in (timing or {}).items()})
    attrs.update(extra_attrs or {})
    idata = az.from_dict(
        posterior={k: np.asarray(v) for k, v in posterior.items()},
        sample_stats={k: np.asarray(v) for k, v in (sample_stats or {}).items()} or None,
        observed_data={"y": np.asarray(data.y)},
        constant_data={
            "X_site": np.asarray(data.X_site),
            "X_worker": np.asarray(data.X_worker),
            "site": np.asarray(data.site),
        },
        coords=data.coords(),
        dims={name: list(d) for name, d in IDATA_DIMS.items()},
    )
    for group in idata.groups():
        idata[group].attrs.update(attrs)
    return idata


def check_inference_data(idata: az.InferenceData, data: HierData) -> None:
    """Raise ``BackendError`` unless ``idata`` follows the contract (names, dims, coords, attrs).

    Used by every backend's tests and by the app before anything is written.
    """
    post = idata.posterior
    problems = []
    for name, dims in VAR_DIMS.items():
        if name not in post:
            problems.append(f"missing variable {name}")
            continue
        if tuple(post[name].dims) != ("chain", "draw", *dims):
            problems.append(f"{name} dims {tuple(post[name].dims)} != {('chain', 'draw', *dims)}")
    expected = data.coords()
    for dim in ("worksite", "site_feature", "worker_feature"):
        if dim in post.coords and list(map(str, post.coords[dim].values)) != expected[dim]:
            problems.append(f"coordinates of {dim} differ from the data's")
    missing_attrs = [a for a in REQUIRED_ATTRS if a not in post.attrs]
    if missing_attrs:
        problems.append(f"posterior attrs lack {missing_attrs}")
    elif post.attrs["inference_family"] not in FAMILIES:
        problems.append(
            f"inference_family {post.attrs['inference_family']!r} is not one of {FAMILIES}"
        )
    if problems:
        raise BackendError("InferenceData breaks the contract: " + "; ".join(problems))


def finish_fit(
    backend: Backend,
    data: HierData,
    posterior: Mapping[str, np.ndarray],
    *,
    model: ModelSpec,
    seed: int,
    library: str,
    library_version: str,
    timing: Mapping[str, float],
    info: dict[str, Any],
    loss: np.ndarray | None = None,
    sample_stats: Mapping[str, np.ndarray] | None = None,
    extra_attrs: Mapping[str, Any] | None = None,
) -> FitResult:
    """The tail of every backend's ``fit``: InferenceData, contract check, FitResult.

    Parameters
    ----------
    backend : Backend
        Gives ``name`` and the declared ``family`` (recorded as ``inference_family``).
    data : HierData
    posterior : mapping
        Canonical arrays shaped (chain, draw, ...), see :func:`build_inference_data`.
    model : ModelSpec
    seed : int
    library, library_version : str
    timing : mapping
        Wall-time breakdown (keys from :data:`TIMING_KEYS`), also stored as attrs.
    info : dict
        Raw facts of the fit (:attr:`FitResult.info`).
    loss : ndarray, optional
        VI loss trace; None for MCMC.
    sample_stats, extra_attrs : mapping, optional
        As in :func:`build_inference_data`.

    Raises
    ------
    BackendError
        The result breaks the contract (:func:`check_inference_data`).
    """
    idata = build_inference_data(
        posterior,
        data,
        backend=backend.name,
        family=backend.family,
        library=library,
        library_version=library_version,
        seed=seed,
        model=model,
        sample_stats=sample_stats,
        timing=timing,
        extra_attrs=extra_attrs,
    )
    check_inference_data(idata, data)
    return FitResult(idata=idata, loss=loss, timing=dict(timing), info=info)


@contextlib.contextmanager
def file_lock(lock_path: Path) -> Iterator[None]:
    """Exclusive advisory lock on ``lock_path`` (created if missing), so concurrent jobs of a
    sweep do a shared piece of work (a Stan compile, a reference fit) once."""
    import fcntl

    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def library_version(module_name: str) -> str:
    """Installed version of a distribution/module, or ``"unknown"``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module_name)
    except PackageNotFoundError:
        return "unknown"


def require(module: str, install_hint: str) -> Any:
    """Import ``module`` or raise :class:`BackendUnavailable` naming what to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised with a missing module in tests
        raise BackendUnavailable(
            f"{module} is not installed ({exc}); install it with: {install_hint}"
        ) from exc


def cpu_seconds() -> float:
    """CPU seconds of this process (every thread) and of its finished, waited-for children.

    The difference of two calls around a fit is its CPU cost whatever runs it: nutpie's and
    PyTorch's threads, ``pm.sample``'s worker processes, CmdStan's subprocesses.  Unlike wall
    time it does not grow when other jobs share the cores.
    """
    import resource
    import time

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime
