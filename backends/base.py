"""Backend protocol, fit result, and the one place InferenceData is assembled.

Every backend is a class constructed by Hydra (``_target_``) with its settings plus
``model=ModelSpec(...)``, and exposes ``name`` and ``fit(data, seed) -> FitResult``.
Predictions, metrics and clustering are never computed here: ``evaluation/`` does that once,
from the posterior, for every backend.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

from backends.spec import VAR_DIMS, HierData, ModelSpec

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az

#: Keys of the wall-time breakdown (seconds); a backend fills the ones it knows.
TIMING_KEYS: tuple[str, ...] = ("compile_s", "warmup_s", "sampling_s", "optimisation_s", "fit_s")
#: Attributes every posterior carries.
REQUIRED_ATTRS: tuple[str, ...] = (
    "backend",
    "method",
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
        JSON-serialisable backend facts (e.g. ``converged_step``, ``n_divergent``, sampler).
    """

    idata: az.InferenceData
    loss: np.ndarray | None
    timing: dict[str, float]
    info: dict[str, Any]


@runtime_checkable
class Backend(Protocol):
    """A model + inference method in one probabilistic-programming language."""

    name: str

    def fit(self, data: HierData, seed: int) -> FitResult:
        """Fit the model to ``data`` with random seed ``seed``."""
        ...


def split_name(name: str) -> tuple[str, str]:
    """``"pyro_meanfield"`` -> ``("pyro", "meanfield")``."""
    language, _, method = name.partition("_")
    return language, method


def build_inference_data(
    posterior: Mapping[str, np.ndarray],
    data: HierData,
    *,
    backend: str,
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
    dims = {name: list(d) for name, d in VAR_DIMS.items()}
    dims["z_worker"] = ["worksite", "worker_feature"]
    dims.update(
        {
            "y": ["obs"],
            "X_worker": ["obs", "worker_feature"],
            "site": ["obs"],
            "X_site": ["worksite", "site_feature"],
        }
    )
    attrs: dict[str, Any] = {
        "backend": backend,
        "method": split_name(backend)[1],
        "inference_library": library,
        "inference_library_version": library_version,
        "seed": int(seed),
        "parameterization": model.parameterization,
        "prior_alpha_scale": model.priors.alpha_scale,
        "prior_sigma_site_scale": model.priors.sigma_site_scale,
        "prior_sigma_worker_scale": model.priors.sigma_worker_scale,
    }
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
        dims=dims,
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
    if problems:
        raise BackendError("InferenceData breaks the contract: " + "; ".join(problems))


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
