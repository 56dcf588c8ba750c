"""The clustering input: per-worksite ``beta_worker`` coefficients, aligned and optionally scaled.

Input: the worksite x worker-feature matrix of ``beta_worker`` posterior means (the paper's
input) and single posterior draws of it, aligned to the data's worksites BY LABEL.

The ``standardize`` setting (:func:`scale_columns`: per feature, over worksites, per matrix)
defaults to ``false``: the paper clustered the raw posterior means; every coefficient is in the
same units (log-odds per unit of a standardised worker feature) under one prior scale
``sigma_worker``; and standardising would blow up features whose coefficients the data cannot
identify (shrunk to ~0 at every worksite) to the same weight as the informative ones, drowning
real clusters in noise dimensions.  The paper's ``sigma = 1e-4`` stays far below any realistic
spread of coefficients (the paper's was ~0.005), so assignments are still the nearest-mean rule.
Set ``standardize: true`` to make ``sigma`` and ``eta`` fractions of each feature's spread
instead (scale-free across data sets).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from backends.spec import HierData
from evaluation.clustering import gmm
from evaluation.metrics.draws import Draws, select_labels

VAR = "beta_worker"


class Coefficients(NamedTuple):
    """Per-worksite coefficients aligned to the data.

    Attributes
    ----------
    mean : ndarray, shape (J, D)
        Posterior mean over (chain, draw).
    draws : ndarray, shape (S, J, D)
        Every posterior draw, (chain, draw) flattened.
    chain_draw : ndarray of int64, shape (S, 2)
        The (chain, draw) index of each flattened draw.
    worksites, features : tuple of str
        Coordinates of the rows and columns.
    """

    mean: np.ndarray
    draws: np.ndarray
    chain_draw: np.ndarray
    worksites: tuple[str, ...]
    features: tuple[str, ...]


def _as_dataarray(posterior: Any) -> Any:
    """``beta_worker`` from a Dataset / DataArray, or None for a plain array."""
    import xarray as xr

    if hasattr(posterior, "posterior") and not isinstance(posterior, xr.Dataset):
        raise TypeError("clustering: give the Draws of evaluation.metrics.draws.extract(idata, "
                        "data), not an InferenceData")  # fmt: skip
    if isinstance(posterior, xr.Dataset):
        if VAR not in posterior:
            raise ValueError(f"clustering: the posterior has no {VAR!r} variable")
        return posterior[VAR]
    return posterior if isinstance(posterior, xr.DataArray) else None


def _plain_array(posterior: Any, data: HierData | None) -> tuple[np.ndarray, tuple, tuple]:
    """(chain, draw, J, D) values and labels of an unlabelled array, in the data's order."""
    arr = np.asarray(posterior, dtype=float)
    if arr.ndim not in (2, 3, 4):
        raise ValueError(f"clustering: expected (J, D) .. (chain, draw, J, D), got {arr.shape}")
    arr = arr.reshape((1,) * (4 - arr.ndim) + arr.shape)
    j, d = arr.shape[-2:]
    sites = data.worksite_ids if data else tuple(map(str, range(j)))
    feats = data.worker_features if data else tuple(f"f{i}" for i in range(d))
    if (len(sites), len(feats)) != (j, d):
        raise ValueError(
            f"clustering: matrix is {j} x {d}, data has "
            f"{len(sites)} worksites x {len(feats)} worker features"
        )
    return arr, tuple(sites), tuple(feats)


def _labelled_array(da: Any, data: HierData | None) -> tuple[np.ndarray, tuple, tuple]:
    """(chain, draw, J, D) values and labels of a DataArray, reordered to ``data`` by label."""
    da = da.transpose("chain", "draw", "worksite", "worker_feature")
    if data is not None:
        labels = {"worksite": data.worksite_ids, "worker_feature": data.worker_features}
        da = select_labels(da, labels, "clustering", positional=True, exact=True)
    sites = tuple(str(v) for v in da.coords["worksite"].values)
    feats = tuple(str(v) for v in da.coords["worker_feature"].values)
    return np.asarray(da.values, dtype=float), sites, feats


def _draws_array(draws: Draws, data: HierData | None) -> tuple[np.ndarray, tuple, tuple]:
    """(chain, draw, J, D) values and labels of a :class:`Draws`, in ``data``'s order."""
    if data is not None:
        labels = {"worksite": list(data.worksite_ids), "worker_feature": list(data.worker_features)}
        draws = draws.reordered(labels, "clustering")
    labels = draws.labels
    return draws.params[VAR], tuple(labels["worksite"]), tuple(labels["worker_feature"])


def coefficients(posterior: Any, data: HierData | None = None) -> Coefficients:
    """Extract ``beta_worker`` as aligned arrays.

    Parameters
    ----------
    posterior : Draws, xarray.Dataset, xarray.DataArray or array_like
        A :class:`~evaluation.metrics.draws.Draws` (the judge's) is taken as it is aligned (or
        reordered to ``data``'s labels).  Labelled input needs dims (chain, draw, worksite,
        worker_feature); it is reordered to ``data``'s worksites and features by coordinate
        (``ValueError`` if the sets differ).
        A plain array is (J, D) (one matrix, e.g. a posterior mean), (S, J, D) or
        (chain, draw, J, D), in the data's order.
    data : HierData, optional
        Gives the labels; without it the posterior's own coordinates are used.

    Returns
    -------
    Coefficients
    """
    if isinstance(posterior, Draws):
        arr, sites, feats = _draws_array(posterior, data)
    elif (da := _as_dataarray(posterior)) is None:
        arr, sites, feats = _plain_array(posterior, data)
    else:
        arr, sites, feats = _labelled_array(da, data)
    nc, nd = arr.shape[:2]
    chain_draw = np.stack(np.meshgrid(np.arange(nc), np.arange(nd), indexing="ij"), -1)
    draws = arr.reshape(nc * nd, *arr.shape[2:])
    gmm.check_matrix(draws, 1)
    return Coefficients(draws.mean(axis=0), draws, chain_draw.reshape(-1, 2), sites, feats)


def scale_columns(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and scale each feature (column) over worksites, per matrix; flag constant ones.

    The ``standardize: true`` setting of the clustering.  Unlike
    :func:`evaluation.data.features.standardize` (one vector, ``sd > 0`` exactly), this works
    on a stack of matrices, detects constant columns relative to their magnitude and returns
    which ones were constant.

    Parameters
    ----------
    x : ndarray, shape (..., J, D)

    Returns
    -------
    z : ndarray, same shape
        Standardised values; a feature constant across worksites becomes 0 (no division).
    constant : ndarray of bool, shape (..., D)
        Which features were constant.
    """
    x = np.asarray(x, dtype=float)
    centred = x - x.mean(axis=-2, keepdims=True)
    sd = np.sqrt((centred**2).mean(axis=-2))
    scale = np.max(np.abs(x), axis=-2)
    constant = sd <= 1e-12 * np.maximum(scale, 1e-300)
    safe = np.where(constant, 1.0, sd)
    return np.where(constant[..., None, :], 0.0, centred / safe[..., None, :]), constant


__all__ = ["VAR", "Coefficients", "coefficients", "scale_columns"]
