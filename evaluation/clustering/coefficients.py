"""Helpers of :mod:`evaluation.clustering.pipeline`: inputs, settings, ARI summaries, Fig. 7 table.

Input: the worksite x worker-feature matrix of ``beta_worker`` posterior means (the paper's
input) and single posterior draws of it, aligned to the data's worksites BY LABEL.

``standardize`` (per feature, over worksites, per matrix) defaults to ``false``: the paper
clustered the raw posterior means; every coefficient is in the same units (log-odds per unit of
a standardised worker feature) under one prior scale ``sigma_worker``; and standardising would
blow up features whose coefficients the data cannot identify (shrunk to ~0 at every worksite)
to the same weight as the informative ones, drowning real clusters in noise dimensions.  The
paper's ``sigma = 1e-4`` stays far below any realistic spread of coefficients (the paper's was
~0.005), so assignments are still the nearest-mean rule.  Set ``standardize: true`` to make
``sigma`` and ``eta`` fractions of each feature's spread instead (scale-free across data sets).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from backends.spec import HierData
from evaluation.clustering import gmm

#: Defaults of the ``clustering`` block of conf/evaluation/default.yaml.
DEFAULTS: dict[str, Any] = {
    "k": 2,
    "sigma": 1e-4,
    "alpha0": 1.0,
    "eta": 0.1,
    "n_iter": 400,
    "burn_in": 200,
    "standardize": False,
    "n_seeds": 5,
    "n_draws": 50,
    "draw_restarts": 3,
    "k_range": [1, 5],
    "k_chains": 3,
    "stability_threshold": 0.8,
    "bic": True,
    "seed": 0,
}
_IGNORED = {"enabled"}
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
    """``beta_worker`` from InferenceData / Dataset / DataArray, or None for a plain array."""
    import xarray as xr

    if hasattr(posterior, "posterior") and not isinstance(posterior, xr.Dataset):
        posterior = posterior.posterior
    if isinstance(posterior, xr.Dataset):
        if VAR not in posterior:
            raise ValueError(f"clustering: the posterior has no {VAR!r} variable")
        return posterior[VAR]
    return posterior if isinstance(posterior, xr.DataArray) else None


def _select(da: Any, dim: str, wanted: Sequence[str]) -> Any:
    have = [str(v) for v in da.coords[dim].values] if dim in da.coords else None
    if have is None:
        if da.sizes[dim] != len(wanted):
            raise ValueError(f"clustering: {dim} has {da.sizes[dim]} entries, data {len(wanted)}")
        return da
    if set(have) != set(wanted) or len(have) != len(wanted):
        raise ValueError(
            f"clustering: posterior {dim} labels differ from the data's "
            f"(only in posterior: {sorted(set(have) - set(wanted))[:5]}, "
            f"only in data: {sorted(set(wanted) - set(have))[:5]})"
        )
    return da.isel({dim: [have.index(w) for w in wanted]})


def coefficients(posterior: Any, data: HierData | None = None) -> Coefficients:
    """Extract ``beta_worker`` as aligned arrays.

    Parameters
    ----------
    posterior : InferenceData, xarray.Dataset, xarray.DataArray or array_like
        Labelled input needs dims (chain, draw, worksite, worker_feature); it is reordered to
        ``data``'s worksites and features by coordinate (``ValueError`` if the sets differ).
        A plain array is (J, D) (one matrix, e.g. a posterior mean), (S, J, D) or
        (chain, draw, J, D), in the data's order.
    data : HierData, optional
        Gives the labels; without it the posterior's own coordinates are used.
    """
    da = _as_dataarray(posterior)
    if da is None:
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
    else:
        da = da.transpose("chain", "draw", "worksite", "worker_feature")
        if data is not None:
            da = _select(da, "worksite", data.worksite_ids)
            da = _select(da, "worker_feature", data.worker_features)
        sites = tuple(str(v) for v in da.coords["worksite"].values)
        feats = tuple(str(v) for v in da.coords["worker_feature"].values)
        arr = np.asarray(da.values, dtype=float)
    nc, nd = arr.shape[:2]
    chain_draw = np.stack(np.meshgrid(np.arange(nc), np.arange(nd), indexing="ij"), -1)
    draws = arr.reshape(nc * nd, *arr.shape[2:])
    gmm.check_matrix(draws, 1)
    return Coefficients(draws.mean(axis=0), draws, chain_draw.reshape(-1, 2), sites, feats)


def standardize(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and scale each feature over worksites, per matrix.

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


class AriSummary(NamedTuple):
    """Mean, sd, min of a set of ARIs and how many there were."""

    mean: float | None
    sd: float | None
    min: float | None
    n: int

    def as_dict(self) -> dict[str, float | int | None]:
        """JSON-ready dict."""
        return self._asdict()


def summarise(values: Sequence[float]) -> AriSummary:
    """:class:`AriSummary` of ``values`` (all None when empty)."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return AriSummary(None, None, None, 0)
    return AriSummary(float(v.mean()), float(v.std()), float(v.min()), int(v.size))


def ari(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index of two label vectors in the same worksite order."""
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(np.asarray(a), np.asarray(b)))


def pairwise_ari(labels: np.ndarray) -> np.ndarray:
    """ARI of every pair of rows of ``labels`` (C, J) -> (C * (C - 1) / 2,)."""
    return np.array([ari(labels[i], labels[j]) for i, j in combinations(range(len(labels)), 2)])


def coclustering(labels: np.ndarray) -> np.ndarray:
    """Fraction of rows of ``labels`` (M, J) in which worksites j and j' share a cluster (J, J).

    Invariant to label switching between rows.
    """
    labels = np.atleast_2d(np.asarray(labels))
    same = labels[:, :, None] == labels[:, None, :]
    return same.mean(axis=0)


def _label_map(labels: Any) -> dict[str, int]:
    if hasattr(labels, "dims") and hasattr(labels, "coords"):
        if tuple(labels.dims) != ("worksite",):
            raise ValueError(
                f"cross_run_ari: labels must have dim ('worksite',), got {labels.dims}"
            )
        keys = [str(v) for v in labels.coords["worksite"].values]
        return dict(zip(keys, np.asarray(labels.values).astype(int).tolist(), strict=True))
    if hasattr(labels, "items"):
        return {str(k): int(v) for k, v in labels.items()}
    raise TypeError(
        "cross_run_ari: labels must be an xarray.DataArray over 'worksite', a "
        "pandas Series or a mapping worksite -> label (positions are not accepted)"
    )


def cross_run_ari(labels_a: Any, labels_b: Any) -> float:
    """ARI between two runs' clusterings, matching worksites by label (never by position).

    Parameters
    ----------
    labels_a, labels_b : xarray.DataArray (dim ``worksite``), pandas.Series or mapping
        Cluster label per worksite id.

    Raises
    ------
    ValueError
        If the two runs do not cluster exactly the same worksites.
    """
    a, b = _label_map(labels_a), _label_map(labels_b)
    if set(a) != set(b):
        raise ValueError(
            f"cross_run_ari: worksite sets differ ({len(a)} vs {len(b)}; only in a: "
            f"{sorted(set(a) - set(b))[:5]}, only in b: {sorted(set(b) - set(a))[:5]})"
        )
    keys = sorted(a)
    return ari([a[k] for k in keys], [b[k] for k in keys])


def load_clusters(path: Path | str) -> Any:
    """Read a ``clusters.nc`` fully into memory (the file is closed on return)."""
    import xarray as xr

    with xr.open_dataset(Path(path)) as ds:
        return ds.load()


def cross_run_ari_files(path_a: Path | str, path_b: Path | str) -> float:
    """ARI between the posterior-mean clusterings stored in two runs' ``clusters.nc`` files."""
    return cross_run_ari(load_clusters(path_a)["labels"], load_clusters(path_b)["labels"])


def settings(cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    """``DEFAULTS`` updated with ``cfg``; ``ValueError`` on unknown keys or bad values."""
    cfg = {str(k): cfg[k] for k in (cfg or {})}
    unknown = set(cfg) - set(DEFAULTS) - _IGNORED
    if unknown:
        raise ValueError(
            f"clustering: unknown config keys {sorted(unknown)}; known: {sorted(DEFAULTS)}"
        )
    s = {**DEFAULTS, **{k: v for k, v in cfg.items() if k in DEFAULTS}}
    for key in ("n_iter", "burn_in", "n_seeds", "n_draws", "draw_restarts", "k_chains", "seed"):
        s[key] = int(s[key])
    for key in ("sigma", "alpha0", "eta", "stability_threshold"):
        s[key] = float(s[key])
    s["standardize"], s["bic"] = bool(s["standardize"]), bool(s["bic"])
    s["k_range"] = None if s["k_range"] is None else [int(v) for v in s["k_range"]]
    if s["k"] != "auto":
        s["k"] = int(s["k"])
        gmm.check_settings(s["k"], s["sigma"], s["alpha0"], s["eta"], s["n_iter"], s["burn_in"])
    elif s["k_range"] is None:
        raise ValueError("clustering: k = 'auto' needs a k_range")
    if min(s["n_seeds"], s["k_chains"], s["draw_restarts"]) < 1 or s["n_draws"] < 0:
        raise ValueError("clustering: need n_seeds, k_chains, draw_restarts >= 1 and n_draws >= 0")
    return s


class FeatureTable(NamedTuple):
    """The paper's Fig. 7 as numbers: worksite features by cluster.

    Attributes
    ----------
    features : tuple of str
    clusters : ndarray of int64
        Cluster labels present (columns of ``means``).
    means : ndarray, shape (F, n_clusters)
        Feature mean per cluster.
    welch_t, welch_p : ndarray, shape (F,)
        Welch two-sample t statistic and p-value (exactly two clusters of >= 2 worksites and a
        non-zero pooled variance; NaN otherwise).
    kruskal_p : ndarray, shape (F,)
        Kruskal-Wallis p-value across clusters (NaN when < 2 clusters or the feature is
        constant).  All p-values are unadjusted for the F tests.
    """

    features: tuple[str, ...]
    clusters: np.ndarray
    means: np.ndarray
    welch_t: np.ndarray
    welch_p: np.ndarray
    kruskal_p: np.ndarray

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """JSON-ready ``{feature: {means, welch_t, welch_p, kruskal_p}}`` (NaN -> None)."""

        def num(v: float) -> float | None:
            return float(v) if np.isfinite(v) else None

        return {
            f: {
                "means": {
                    str(c): num(m) for c, m in zip(self.clusters, self.means[i], strict=True)
                },
                "welch_t": num(self.welch_t[i]),
                "welch_p": num(self.welch_p[i]),
                "kruskal_p": num(self.kruskal_p[i]),
            }
            for i, f in enumerate(self.features)
        }


def _tests(groups: list[np.ndarray]) -> tuple[float, float, float]:
    """(Welch t, Welch p, Kruskal-Wallis p) for one feature split into groups."""
    from scipy import stats

    t = p_w = p_k = np.nan
    values = np.concatenate(groups)
    if len(groups) < 2 or np.ptp(values) == 0:
        return t, p_w, p_k
    with warnings.catch_warnings():  # scipy's precision-loss notes on near-constant groups
        warnings.simplefilter("ignore", RuntimeWarning)
        p_k = float(stats.kruskal(*groups).pvalue)
        a, b = groups[0], groups[-1]
        if len(groups) == 2 and min(len(a), len(b)) >= 2 and a.var() + b.var() > 0:
            res = stats.ttest_ind(a, b, equal_var=False)
            t, p_w = float(res.statistic), float(res.pvalue)
    return t, p_w, p_k


def feature_table(x_site: np.ndarray, labels: np.ndarray, features: Sequence[str]) -> FeatureTable:
    """Means of each worksite feature per cluster with Welch / Kruskal-Wallis tests.

    Parameters
    ----------
    x_site : ndarray, shape (J, F)
        Worksite features, rows in the order of ``labels``.
    labels : ndarray of int, shape (J,)
    features : sequence of str
    """
    x_site, labels = np.asarray(x_site, dtype=float), np.asarray(labels)
    clusters = np.unique(labels)
    means = np.stack([x_site[labels == c].mean(axis=0) for c in clusters], axis=1)
    rows = [_tests([x_site[labels == c, f] for c in clusters]) for f in range(x_site.shape[1])]
    t, p_w, p_k = (np.array(col, dtype=float).reshape(-1) for col in zip(*rows, strict=True))
    return FeatureTable(tuple(features), clusters, means, t, p_w, p_k)


def cluster_means(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Mean row of ``x`` (J, D) per cluster 0..k-1 -> (k, D); NaN rows for empty clusters."""
    onehot = (np.asarray(labels)[:, None] == np.arange(k)).astype(float)
    counts = onehot.sum(axis=0)
    sums = onehot.T @ np.asarray(x, dtype=float)
    out = np.full_like(sums, np.nan)
    np.divide(sums, counts[:, None], out=out, where=counts[:, None] > 0)
    return out


__all__ = [
    "DEFAULTS",
    "AriSummary",
    "Coefficients",
    "FeatureTable",
    "ari",
    "cluster_means",
    "coclustering",
    "coefficients",
    "cross_run_ari",
    "cross_run_ari_files",
    "feature_table",
    "load_clusters",
    "pairwise_ari",
    "settings",
    "standardize",
    "summarise",
]
