"""Stability of the clustering in adjusted Rand indices (ARI), and its verdict.

* across ``n_seeds`` Gibbs seeds on the same input (all pairs: mean, sd, min);
* across ``n_draws`` posterior draws, each clustered on its own, against the posterior-mean
  clustering (mean, sd, min), plus the worksite x worksite co-clustering matrix (fraction of
  draws in which two worksites share a cluster; label-switching invariant);
* against the planted labels (``HierData.cluster_labels``) when the data have them;
* across runs (backends) with :func:`cross_run_ari` / :func:`cross_run_ari_files`, which match
  worksites by label.

The verdict (:func:`stability_verdict`) is "stable" when the mean ARI across draws and the
minimum ARI across seeds both reach ``stability_threshold`` (default 0.8), else "unstable";
"trivial" for K = 1; "degenerate" when every worksite has the same posterior-mean coefficients
(nothing to cluster; no sampler is run) or when all worksites land in one cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from evaluation.clustering import gmm
from evaluation.clustering.cluster import ClusteringResult, prepare
from evaluation.clustering.coefficients import Coefficients


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


def ari(a: Any, b: Any) -> float:
    """Adjusted Rand index of two label vectors in the same worksite order.

    scikit-learn's ``adjusted_rand_score`` formula (from the pair confusion matrix, 1.0 when
    the two partitions agree on every pair) in plain NumPy: the same value without its input
    validation, which cost more than the index itself over a run's clustered draws.
    """
    _, x = np.unique(np.asarray(a), return_inverse=True)
    _, y = np.unique(np.asarray(b), return_inverse=True)
    if x.size != y.size:
        raise ValueError(f"ari: label vectors of different lengths {x.size} and {y.size}")
    n = int(x.size)
    table = np.zeros((int(x.max(initial=-1)) + 1, int(y.max(initial=-1)) + 1), np.int64)
    np.add.at(table, (x.ravel(), y.ravel()), 1)
    squares = int((table**2).sum())
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    fp, fn = int((table @ cols).sum()) - squares, int((table.T @ rows).sum()) - squares
    tp, tn = squares - n, n * n - fp - fn - squares
    if fn == 0 and fp == 0:
        return 1.0
    return float(2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)))


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


def _verdict(seeds: AriSummary, draws: AriSummary, thr: float) -> tuple[str, str]:
    """Stability verdict and its reason in words."""
    parts, ok = [], True
    for name, value in (
        ("min ARI across Gibbs seeds", seeds.min),
        ("mean ARI of posterior draws to the posterior-mean clustering", draws.mean),
    ):
        if value is None:
            parts.append(f"{name}: not measured")
            continue
        ok &= value >= thr
        parts.append(f"{name} {value:.3f} {'>=' if value >= thr else '<'} {thr}")
    return ("stable" if ok else "unstable"), "; ".join(parts)


def sigma_over_spread(coef: Coefficients, s: Mapping[str, Any]) -> float | None:
    """``sigma`` over the median sd across worksites of the non-constant clustered features.

    Much below 1 (the paper's regime): assignments are the nearest-mean rule.  Near or above 1
    (e.g. a collapsed ``sigma_worker`` shrinking every coefficient to ~0): the likelihood no
    longer separates worksites and the clusters are mostly noise.

    Parameters
    ----------
    coef : Coefficients
    s : mapping
        Validated settings (``sigma``, ``standardize``).

    Returns
    -------
    float or None
        None when every feature is constant across worksites.
    """
    x, constant = prepare(coef.mean, s)
    sd = x.std(axis=0)[~constant]
    sigma = gmm.likelihood_sd(s["sigma"], s.get("sigma_is", "sd"))
    return float(sigma / np.median(sd)) if sd.size else None


def stability_verdict(
    res: ClusteringResult,
    coef: Coefficients,
    s: Mapping[str, Any],
    seeds: AriSummary,
    draws: AriSummary,
) -> dict[str, Any]:
    """``{"verdict", "threshold", "reason"}`` (see the module docstring for the rule).

    Parameters
    ----------
    res : ClusteringResult
    coef : Coefficients
        The clustered input (for ``sigma / spread`` in the reason of a collapse).
    s : mapping
        Validated settings (``stability_threshold``, ``sigma``, ``standardize``).
    seeds, draws : AriSummary
        ARIs across Gibbs seeds and of the draws to the posterior-mean clustering.
    """
    verdict, reason = _verdict(seeds, draws, s["stability_threshold"])
    if res.degenerate_reason:
        verdict, reason = "degenerate", res.degenerate_reason
    elif res.k == 1:
        verdict, reason = "trivial", "K = 1: a single cluster, nothing to compare"
    elif np.unique(res.labels).size < 2:
        verdict = "degenerate"
        reason = (
            f"every worksite fell into one of the K = {res.k} clusters (sigma / spread = "
            f"{sigma_over_spread(coef, s):.3g}; sigma may be too large for this scale)"
        )
    return {"verdict": verdict, "threshold": s["stability_threshold"], "reason": reason}


def uncertain_pairs(res: ClusteringResult) -> float | None:
    """Fraction of worksite pairs together in more than 10% but less than 90% of the draws."""
    if res.draws is None or len(res.labels) < 2:
        return None
    cc = coclustering(res.draws.labels)[np.triu_indices(len(res.labels), 1)]
    return float(((cc > 0.1) & (cc < 0.9)).mean())


__all__ = [
    "AriSummary",
    "ari",
    "coclustering",
    "cross_run_ari",
    "cross_run_ari_files",
    "load_clusters",
    "pairwise_ari",
    "sigma_over_spread",
    "stability_verdict",
    "summarise",
    "uncertain_pairs",
]
