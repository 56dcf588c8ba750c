"""Posterior draws and per-draw clusterings as plain arrays aligned to a data set.

:class:`ClaimDraws` holds the variables a claim may read, one row per draw, in the data's
feature and worksite order (aligned by coordinate label, never by position, when the input is
labelled); the name keeps it apart from the judges' :class:`evaluation.metrics.draws.Draws`,
from which :func:`posterior_draws` builds it (or from an xarray Dataset or a mapping of arrays),
:func:`truth_draws` from a truth dict (one "draw": the generating parameters).
:class:`ClusterDraws` holds the per-draw cluster labels the clustering claims are evaluated on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from backends.spec import VAR_DIMS, HierData
from evaluation.metrics import draws as metric_draws
from evaluation.metrics.draws import select_labels

#: Variables a claim may read, with their dims after the draw dim.
CLAIM_VARS: tuple[str, ...] = ("alpha", "beta_site", "sigma_site", "sigma_worker", "beta_worker")


@dataclass(frozen=True)
class ClaimDraws:
    """Posterior draws, one row per draw (chains flattened), in the data's order.

    Attributes
    ----------
    beta_site : ndarray, shape (S, K_s) or None
    alpha, sigma_site, sigma_worker : ndarray, shape (S,) or None
    beta_worker : ndarray, shape (S, J, K_w) or None
    n_chains : int
        The draws are ``n_chains`` chains of equal length one after the other (1: one chain,
        or independent draws); the Monte Carlo error of a claim's probability uses it.
    """

    beta_site: np.ndarray | None = None
    alpha: np.ndarray | None = None
    sigma_site: np.ndarray | None = None
    sigma_worker: np.ndarray | None = None
    beta_worker: np.ndarray | None = None
    n_chains: int = 1

    @property
    def n_draws(self) -> int:
        """Number of draws S (0 when no variable is present)."""
        for name in CLAIM_VARS:
            value = getattr(self, name)
            if value is not None:
                return int(value.shape[0])
        return 0


@dataclass(frozen=True)
class ClusterDraws:
    """Per-draw clusterings of the worksites.

    Attributes
    ----------
    labels : ndarray of int, shape (M, J)
        Cluster label of each worksite in each clustered draw (any integer labels; a cluster
        is "non-empty" in a draw when some worksite carries its label).
    beta_worker : ndarray, shape (M, J, K_w) or None
        The coefficients of the same M draws; None means "use the posterior mean of
        ``ClaimDraws.beta_worker`` for every clustered draw".
    chosen_k : ndarray of int, shape (M,) or None
        The number of clusters the paper's criterion (the elbow of the log joint over K,
        :func:`evaluation.clustering.select.select_k_draws`) chooses for each draw; None when
        K was not selected per draw.
    """

    labels: np.ndarray
    beta_worker: np.ndarray | None = None
    chosen_k: np.ndarray | None = None

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels)
        if labels.ndim == 1:
            labels = labels[None]
        if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"cluster labels must be integers (draw, worksite), got {labels.shape}"
            )
        object.__setattr__(self, "labels", labels)
        if self.beta_worker is not None:
            bw = np.asarray(self.beta_worker, dtype=float)
            bw = bw[None] if bw.ndim == 2 else bw
            if bw.ndim != 3 or bw.shape[:2] != labels.shape:
                raise ValueError(
                    f"cluster beta_worker must be (draw, worksite, feature) matching labels "
                    f"{labels.shape}, got {bw.shape}"
                )
            object.__setattr__(self, "beta_worker", bw)
        if self.chosen_k is not None:
            k = np.asarray(self.chosen_k).reshape(-1)
            if k.shape != (labels.shape[0],) or not np.issubdtype(k.dtype, np.integer):
                raise ValueError(f"chosen_k must be {labels.shape[0]} integers, got {k!r}")
            object.__setattr__(self, "chosen_k", k)


def _coords(data: HierData) -> dict[str, tuple[str, ...]]:
    return {
        "site_feature": data.site_features,
        "worker_feature": data.worker_features,
        "worksite": data.worksite_ids,
    }


def _from_dataarray(da: xr.DataArray, name: str, data: HierData) -> np.ndarray:
    dims = VAR_DIMS[name]
    lead = [d for d in ("chain", "draw") if d in da.dims]
    if not lead:
        raise ValueError(f"claims: {name} has no chain/draw dim (dims {da.dims})")
    da = select_labels(da, {d: _coords(data)[d] for d in dims}, "claims", positional=True)
    arr = np.asarray(da.transpose(*lead, *dims).values, dtype=float)
    return arr.reshape(-1, *arr.shape[len(lead) :])


def _from_array(value: Any, name: str) -> np.ndarray:
    """(S, ...) from (S, ...) or (chain, draw, ...) by the variable's own number of dims."""
    arr = np.asarray(value, dtype=float)
    k = len(VAR_DIMS[name])
    if arr.ndim < k + 1:
        raise ValueError(f"claims: {name} needs a leading draw dim, got shape {arr.shape}")
    return arr.reshape(-1, *arr.shape[arr.ndim - k :]) if k else arr.reshape(-1)


def _n_chains(value: Any, name: str) -> int:
    """How many chains a variable's leading dims hold (1 for a plain (S, ...) array)."""
    if isinstance(value, xr.DataArray):
        return int(value.sizes["chain"]) if "chain" in value.dims else 1
    arr = np.shape(value)
    return int(arr[0]) if len(arr) == len(VAR_DIMS[name]) + 2 else 1


def _arrays(draws: metric_draws.Draws, data: HierData) -> dict[str, np.ndarray]:
    """The claim variables of a metrics ``Draws`` as (chain, draw, ...) arrays in ``data``'s
    order."""
    draws = draws.reordered({d: list(v) for d, v in _coords(data).items()}, "claims")
    return {name: draws.params[name] for name in CLAIM_VARS}


def posterior_draws(posterior: Any, data: HierData) -> ClaimDraws:
    """The claim variables of a posterior, aligned to ``data``.

    Parameters
    ----------
    posterior : metrics Draws, xarray.Dataset or mapping of str to array
        A :class:`evaluation.metrics.draws.Draws` is taken as it is aligned (reordered to
        ``data``'s labels when they differ).  Labelled input needs (chain, draw) dims and is
        aligned by the ``site_feature``, ``worksite`` and ``worker_feature`` coordinates; a
        plain array is (S, ...) or
        (chain, draw, ...) in the data's order.  Missing variables stay None.
    data : HierData

    Returns
    -------
    ClaimDraws
        With ``n_chains`` from the (chain, draw) dims of the input.

    Raises
    ------
    TypeError
        For an InferenceData: the judge extracts it once (:func:`metrics.draws.extract`).
    """
    if isinstance(posterior, metric_draws.Draws):
        posterior = _arrays(posterior, data)
    elif hasattr(posterior, "posterior") and not isinstance(posterior, xr.Dataset):
        raise TypeError("claims: give the Draws of evaluation.metrics.draws.extract(idata, data), "
                        "not an InferenceData")  # fmt: skip
    out: dict[str, np.ndarray] = {}
    chains = {1}
    for name in CLAIM_VARS:
        if name not in posterior:
            continue
        value = posterior[name]
        chains = {_n_chains(value, name)}
        if isinstance(value, xr.DataArray):
            out[name] = _from_dataarray(value, name, data)
        else:
            out[name] = _from_array(value, name)
    sizes = {v.shape[0] for v in out.values()}
    if len(sizes) > 1:
        raise ValueError(f"claims: variables have different numbers of draws {sorted(sizes)}")
    n_chains = chains.pop()
    if sizes and sizes.pop() % n_chains:
        n_chains = 1
    return ClaimDraws(**out, n_chains=n_chains)


def truth_draws(truth: Mapping[str, Any] | None) -> ClaimDraws | None:
    """The generating parameters as a single draw (None when ``truth`` is None)."""
    if truth is None:
        return None
    out = {}
    for name in CLAIM_VARS:
        if name in truth and truth[name] is not None:
            out[name] = np.asarray(truth[name], dtype=float)[None]
    return ClaimDraws(**out)


__all__ = ["CLAIM_VARS", "ClaimDraws", "ClusterDraws", "posterior_draws", "truth_draws"]
