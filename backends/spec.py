"""The model contract: canonical names, dims, priors, data container and reference density.

Generative model (worker ``i`` at worksite ``j = site[i]``)::

    sigma_site        ~ HalfCauchy(priors.sigma_site_scale)        default scale 5
    sigma_worker      ~ HalfCauchy(priors.sigma_worker_scale)      default scale 5
    alpha             ~ Normal(0, priors.alpha_scale)              default scale 5
    beta_site[k]      ~ Normal(0, sigma_site)          k in site_feature    (shared)
    beta_worker[j, k] ~ Normal(0, sigma_worker)        j in worksite, k in worker_feature
    y[i]              ~ Bernoulli(logit = alpha + X_site[j] . beta_site
                                          + X_worker[i] . beta_worker[j])

Parameterisations:

* ``centered``: as written above (the paper's).
* ``noncentered``: ``z_worker[j, k] ~ Normal(0, 1)`` and
  ``beta_worker = sigma_worker * z_worker``. Backends still report ``beta_worker``.

Named dims of the data: ``obs`` (N workers), ``worksite`` (J, coordinates are the real site ids),
``site_feature`` (K_s), ``worker_feature`` (K_w).  Posterior variables and their dims are in
:data:`VAR_DIMS`; every backend returns exactly these names, with ``(chain, draw)`` first.

:func:`log_joint` is the executable definition of "the same model": every backend's log
density must equal it up to an additive constant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.special import log_expit

Parameterization = Literal["centered", "noncentered"]
PARAMETERIZATIONS: tuple[str, ...] = ("centered", "noncentered")

#: Posterior variables every backend reports, with their named dims (without chain, draw).
VAR_DIMS: dict[str, tuple[str, ...]] = {
    "alpha": (),
    "beta_site": ("site_feature",),
    "sigma_site": (),
    "sigma_worker": (),
    "beta_worker": ("worksite", "worker_feature"),
}
VAR_NAMES: tuple[str, ...] = tuple(VAR_DIMS)
#: The latent standard-normal block of the non-centred parameterisation.
Z_WORKER_DIMS: tuple[str, ...] = ("worksite", "worker_feature")
#: Scalar variance components.
SCALES: tuple[str, ...] = ("sigma_site", "sigma_worker")

_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class Priors:
    """Prior scales (all configurable; defaults are the paper's).

    Parameters
    ----------
    alpha_scale : float
        Standard deviation of the Normal(0, .) prior on ``alpha``.
    sigma_site_scale, sigma_worker_scale : float
        Scales of the HalfCauchy priors on the two variance components.
    """

    alpha_scale: float = 5.0
    sigma_site_scale: float = 5.0
    sigma_worker_scale: float = 5.0

    def __post_init__(self) -> None:
        for name in ("alpha_scale", "sigma_site_scale", "sigma_worker_scale"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"Priors.{name} must be a positive finite number, got {value!r}")


@dataclass(frozen=True)
class ModelSpec:
    """Which variant of the model a backend fits.

    Parameters
    ----------
    parameterization : {"centered", "noncentered"}
    priors : Priors
    """

    parameterization: Parameterization = "noncentered"
    priors: Priors = field(default_factory=Priors)

    def __post_init__(self) -> None:
        if self.parameterization not in PARAMETERIZATIONS:
            raise ValueError(
                f"model.parameterization must be one of {PARAMETERIZATIONS}, "
                f"got {self.parameterization!r}"
            )


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class HierData:
    """Immutable multilevel binary-outcome data set.

    Parameters
    ----------
    y : ndarray of int8, shape (N,)
        Outcome (1 = signed a card).
    site : ndarray of int64, shape (N,)
        Index into ``worksite_ids`` of each worker's worksite (0 .. J-1).
    X_site : ndarray of float64, shape (J, K_s)
        Worksite-level features.
    X_worker : ndarray of float64, shape (N, K_w)
        Worker-level features.
    site_features, worker_features : tuple of str
        Column names of ``X_site`` and ``X_worker`` (coordinates of the feature dims).
    worksite_ids : tuple of str
        Real worksite ids (coordinates of the ``worksite`` dim).
    truth : mapping of str to ndarray, optional
        True parameter values (canonical names) when the data are synthetic.
    cluster_labels : ndarray of int, shape (J,), optional
        Planted cluster label of each worksite, when the generator planted some.
    name : str
        Name of the data set (the data config that built it).
    meta : mapping
        Free-form provenance (seed, knobs, design), JSON-serialisable.
    """

    y: np.ndarray
    site: np.ndarray
    X_site: np.ndarray
    X_worker: np.ndarray
    site_features: tuple[str, ...]
    worker_features: tuple[str, ...]
    worksite_ids: tuple[str, ...]
    truth: Mapping[str, np.ndarray] | None = None
    cluster_labels: np.ndarray | None = None
    name: str = "data"
    meta: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "y", _frozen(np.asarray(self.y, dtype=np.int8)))
        set_(self, "site", _frozen(np.asarray(self.site, dtype=np.int64)))
        set_(self, "X_site", _frozen(np.asarray(self.X_site, dtype=np.float64)))
        set_(self, "X_worker", _frozen(np.asarray(self.X_worker, dtype=np.float64)))
        set_(self, "site_features", tuple(str(s) for s in self.site_features))
        set_(self, "worker_features", tuple(str(s) for s in self.worker_features))
        set_(self, "worksite_ids", tuple(str(s) for s in self.worksite_ids))
        if self.truth is not None:
            set_(self, "truth", {k: _frozen(np.asarray(v, float)) for k, v in self.truth.items()})
        if self.cluster_labels is not None:
            set_(self, "cluster_labels", _frozen(np.asarray(self.cluster_labels, np.int64)))
        set_(self, "meta", dict(self.meta))
        self._validate()

    def _validate(self) -> None:
        n, j = self.y.shape[0], len(self.worksite_ids)
        checks = [
            (self.y.ndim == 1, f"y must be 1-D, got shape {self.y.shape}"),
            (np.isin(self.y, (0, 1)).all(), "y must contain only 0 and 1"),
            (self.site.shape == (n,), f"site must have shape ({n},), got {self.site.shape}"),
            (
                self.X_site.shape == (j, len(self.site_features)),
                f"X_site must have shape ({j}, {len(self.site_features)}), got {self.X_site.shape}",
            ),
            (
                self.X_worker.shape == (n, len(self.worker_features)),
                f"X_worker must have shape ({n}, {len(self.worker_features)}), "
                f"got {self.X_worker.shape}",
            ),
            (
                n == 0 or (self.site.min() >= 0 and self.site.max() < j),
                f"site indices must lie in 0..{j - 1}",
            ),
            (
                np.isfinite(self.X_site).all() and np.isfinite(self.X_worker).all(),
                "X_site and X_worker must be finite",
            ),
            (len(set(self.worksite_ids)) == j, "worksite_ids must be unique"),
            (len(set(self.site_features)) == len(self.site_features), "duplicate site feature"),
            (
                len(set(self.worker_features)) == len(self.worker_features),
                "duplicate worker feature",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"HierData({self.name}): {message}")

    @property
    def n_workers(self) -> int:
        """Number of workers (rows), N."""
        return int(self.y.shape[0])

    @property
    def n_worksites(self) -> int:
        """Number of worksites, J."""
        return len(self.worksite_ids)

    @property
    def prevalence(self) -> float:
        """Fraction of positive outcomes."""
        return float(self.y.mean()) if self.n_workers else float("nan")

    def coords(self) -> dict[str, list]:
        """Coordinates of the named dims, for InferenceData and ``pm.Model(coords=...)``."""
        return {
            "worksite": list(self.worksite_ids),
            "site_feature": list(self.site_features),
            "worker_feature": list(self.worker_features),
            "obs": list(range(self.n_workers)),
        }

    def subset(self, rows: np.ndarray | Sequence[int], name: str | None = None) -> HierData:
        """Rows ``rows`` of the worker-level arrays; all worksites are kept (same coordinates)."""
        rows = np.asarray(rows, dtype=np.int64)
        return HierData(
            y=self.y[rows],
            site=self.site[rows],
            X_site=self.X_site,
            X_worker=self.X_worker[rows],
            site_features=self.site_features,
            worker_features=self.worker_features,
            worksite_ids=self.worksite_ids,
            truth=self.truth,
            cluster_labels=self.cluster_labels,
            name=name or self.name,
            meta=self.meta,
        )


# --------------------------------------------------------------------------------------------
# Reference log density (NumPy), vectorised over observations and over leading batch dims.
# --------------------------------------------------------------------------------------------
def normal_logpdf(x: np.ndarray, scale: np.ndarray | float) -> np.ndarray:
    """Log density of Normal(0, scale) at ``x``, with its normalising constant."""
    scale = np.asarray(scale, dtype=float)
    return -0.5 * (x / scale) ** 2 - np.log(scale) - 0.5 * _LOG_2PI


def halfcauchy_logpdf(x: np.ndarray, scale: float) -> np.ndarray:
    """Log density of HalfCauchy(scale) at ``x >= 0`` (``-inf`` below 0)."""
    x = np.asarray(x, dtype=float)
    out = np.log(2.0 / (np.pi * scale)) - np.log1p((x / scale) ** 2)
    return np.where(x >= 0, out, -np.inf)


def bernoulli_logit_loglik(y: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Log P(y | logit eta), elementwise and numerically stable."""
    return np.where(y == 1, log_expit(eta), log_expit(-eta))


def linear_predictor(params: Mapping[str, np.ndarray], data: HierData) -> np.ndarray:
    """Logits ``alpha + X_site[site] . beta_site + X_worker . beta_worker[site]``.

    Parameters
    ----------
    params : mapping
        ``alpha`` (...), ``beta_site`` (..., K_s), ``beta_worker`` (..., J, K_w); any common
        leading batch shape ``...`` (e.g. draws).
    data : HierData

    Returns
    -------
    ndarray, shape (..., N)
    """
    alpha = np.asarray(params["alpha"], dtype=float)
    beta_site = np.asarray(params["beta_site"], dtype=float)
    beta_worker = np.asarray(params["beta_worker"], dtype=float)
    site_eta = beta_site @ data.X_site.T  # (..., J)
    worker_eta = np.einsum("...nk,nk->...n", beta_worker[..., data.site, :], data.X_worker)
    return alpha[..., None] + site_eta[..., data.site] + worker_eta


def log_likelihood(params: Mapping[str, np.ndarray], data: HierData) -> np.ndarray:
    """Pointwise log likelihood, shape (..., N)."""
    return bernoulli_logit_loglik(data.y, linear_predictor(params, data))


def z_from_beta(beta_worker: np.ndarray, sigma_worker: np.ndarray) -> np.ndarray:
    """Non-centred coordinates ``z_worker = beta_worker / sigma_worker`` (batch-aware)."""
    sigma = np.asarray(sigma_worker, dtype=float)
    return np.asarray(beta_worker, dtype=float) / sigma[..., None, None]


def log_prior(params: Mapping[str, np.ndarray], spec: ModelSpec) -> np.ndarray:
    """Log prior density on the parameterisation's own (constrained) space.

    ``centered`` is a density over (alpha, beta_site, sigma_site, sigma_worker, beta_worker);
    ``noncentered`` over (alpha, beta_site, sigma_site, sigma_worker, z_worker).  For the
    non-centred form ``z_worker`` is taken from ``params`` when present, otherwise derived as
    ``beta_worker / sigma_worker``.
    """
    p = spec.priors
    alpha = np.asarray(params["alpha"], dtype=float)
    sigma_site = np.asarray(params["sigma_site"], dtype=float)
    sigma_worker = np.asarray(params["sigma_worker"], dtype=float)
    lp = normal_logpdf(alpha, p.alpha_scale)
    lp = lp + halfcauchy_logpdf(sigma_site, p.sigma_site_scale)
    lp = lp + halfcauchy_logpdf(sigma_worker, p.sigma_worker_scale)
    lp = lp + normal_logpdf(np.asarray(params["beta_site"]), sigma_site[..., None]).sum(-1)
    if spec.parameterization == "centered":
        block = normal_logpdf(np.asarray(params["beta_worker"]), sigma_worker[..., None, None])
    else:
        z = params.get("z_worker")
        if z is None:
            z = z_from_beta(params["beta_worker"], sigma_worker)
        block = normal_logpdf(np.asarray(z, dtype=float), 1.0)
    return lp + block.sum(axis=(-2, -1))


def log_joint(
    params: Mapping[str, np.ndarray], data: HierData, spec: ModelSpec | None = None
) -> np.ndarray:
    """Log joint density ``log p(theta, y)`` with every normalising constant, no Jacobian.

    Parameters
    ----------
    params : mapping
        Canonical variables (plus ``z_worker`` optionally for the non-centred form), each with
        an optional common leading batch shape.
    data : HierData
    spec : ModelSpec, optional
        Parameterisation and priors; defaults to ``ModelSpec()``.

    Returns
    -------
    ndarray
        Shape of the batch (a 0-d array for a single point).
    """
    spec = spec or ModelSpec()
    params = dict(params)
    if "beta_worker" not in params:
        sigma = np.asarray(params["sigma_worker"], dtype=float)
        params["beta_worker"] = np.asarray(params["z_worker"]) * sigma[..., None, None]
    return log_prior(params, spec) + log_likelihood(params, data).sum(-1)


def log_jacobian_unconstrained(params: Mapping[str, np.ndarray]) -> np.ndarray:
    """``log |d theta / d u|`` of the log transform of both scales (u = log sigma).

    A density on the unconstrained space is the constrained one plus this term.
    """
    return np.log(np.asarray(params["sigma_site"], float)) + np.log(
        np.asarray(params["sigma_worker"], float)
    )


def random_params(
    data: HierData, rng: np.random.Generator, batch: tuple[int, ...] = ()
) -> dict[str, np.ndarray]:
    """Random parameter points in the support (for density-equivalence tests).

    Returns canonical variables plus the matching ``z_worker``.
    """
    ks, kw, j = len(data.site_features), len(data.worker_features), data.n_worksites
    sigma_worker = rng.uniform(0.1, 2.0, size=batch)
    z = rng.normal(size=(*batch, j, kw))
    return {
        "alpha": rng.normal(size=batch),
        "beta_site": rng.normal(size=(*batch, ks)),
        "sigma_site": rng.uniform(0.1, 3.0, size=batch),
        "sigma_worker": sigma_worker,
        "z_worker": z,
        "beta_worker": z * np.asarray(sigma_worker)[..., None, None],
    }


__all__ = [
    "PARAMETERIZATIONS",
    "SCALES",
    "VAR_DIMS",
    "VAR_NAMES",
    "Z_WORKER_DIMS",
    "HierData",
    "ModelSpec",
    "Parameterization",
    "Priors",
    "bernoulli_logit_loglik",
    "halfcauchy_logpdf",
    "linear_predictor",
    "log_jacobian_unconstrained",
    "log_joint",
    "log_likelihood",
    "log_prior",
    "normal_logpdf",
    "random_params",
    "z_from_beta",
]
