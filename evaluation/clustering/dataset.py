"""``clusters.nc``: every array of one run's clustering as an xarray Dataset.

Built by :func:`to_dataset` from the numbers of :mod:`evaluation.clustering.cluster` and
:mod:`evaluation.clustering.site_features`; written atomically by
:func:`evaluation.clustering.pipeline.run_clustering`; read back with
:func:`evaluation.clustering.stability.load_clusters`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from backends.spec import HierData
from evaluation.clustering import gmm
from evaluation.clustering import select as gmm_select
from evaluation.clustering.cluster import ClusteringResult
from evaluation.clustering.coefficients import Coefficients
from evaluation.clustering.site_features import FeatureTable
from evaluation.clustering.stability import coclustering

FILENAME = "clusters.nc"


def cluster_means(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Mean row of ``x`` (J, D) per cluster 0..k-1 -> (k, D); NaN rows for empty clusters."""
    onehot = (np.asarray(labels)[:, None] == np.arange(k)).astype(float)
    counts = onehot.sum(axis=0)
    sums = onehot.T @ np.asarray(x, dtype=float)
    out = np.full_like(sums, np.nan)
    np.divide(sums, counts[:, None], out=out, where=counts[:, None] > 0)
    return out


def to_dataset(
    res: ClusteringResult,
    coef: Coefficients,
    data: HierData,
    table: FeatureTable | None,
    s: Mapping[str, Any],
) -> Any:
    """``clusters.nc`` as an xarray Dataset.

    Variables (present when computed): ``labels`` (worksite; posterior-mean clustering),
    ``truth_labels``, ``labels_seed`` (gibbs_seed, worksite), ``labels_draw`` (draw_sample,
    worksite) with ``draw_chain``/``draw_draw`` (which posterior draw), ``coclustering``
    (worksite, worksite_other), ``log_joint_seed``/``log_joint_draw`` (.., iteration),
    ``log_joint_k`` (k_candidate, k_chain, iteration), ``k_score``, ``bic``, ``cluster_means``
    (cluster, worker_feature; input units), ``n_per_cluster``, ``site_feature_mean``
    (site_feature, cluster_present), ``welch_t``, ``welch_p``, ``kruskal_p``.  Attributes:
    ``k``, ``chosen_k`` (-1 if not selected), ``degenerate``, ``degenerate_reason`` and every
    setting as ``setting_<key>``.  All label arrays are canonical (0 = largest cluster).
    """
    import xarray as xr

    v = {**_label_vars(res, coef, data), **_selection_vars(res.k_selection, table)}
    coords = _coords(res, coef, data, table)
    ds = xr.Dataset(
        v, coords={c: val for c, val in coords.items() if any(c in dims for dims, _ in v.values())}
    )
    ds.attrs.update(_attrs(res, s))
    return ds


def _label_vars(res: ClusteringResult, coef: Coefficients, data: HierData) -> dict[str, Any]:
    """Dataset variables of the clusterings (posterior mean, seeds, draws, planted)."""
    v: dict[str, Any] = {
        "labels": (("worksite",), res.labels),
        "cluster_means": (
            ("cluster", "worker_feature"),
            cluster_means(coef.mean, res.labels, res.k),
        ),
        "n_per_cluster": (("cluster",), np.bincount(res.labels, minlength=res.k)),
    }
    if data.cluster_labels is not None:
        v["truth_labels"] = (("worksite",), np.asarray(data.cluster_labels, np.int64))
    if res.seeds is not None:
        v["labels_seed"] = (("gibbs_seed", "worksite"), gmm.canonical_labels(res.seeds.labels))
        v["log_joint_seed"] = (("gibbs_seed", "iteration"), res.seeds.log_joint)
    if res.draws is not None:
        v["labels_draw"] = (("draw_sample", "worksite"), gmm.canonical_labels(res.draws.labels))
        v["log_joint_draw"] = (("draw_sample", "iteration"), res.draws.log_joint)
        v["draw_chain"] = (("draw_sample",), coef.chain_draw[res.draw_index, 0])
        v["draw_draw"] = (("draw_sample",), coef.chain_draw[res.draw_index, 1])
        v["coclustering"] = (("worksite", "worksite_other"), coclustering(res.draws.labels))
    return v


def _coords(
    res: ClusteringResult, coef: Coefficients, data: HierData, table: FeatureTable | None
) -> dict[str, Any]:
    """Every coordinate the variables may use (unused ones are dropped by the caller)."""
    ws = list(coef.worksites)
    coords: dict[str, Any] = {
        "worksite": ws,
        "worksite_other": ws,
        "worker_feature": list(coef.features),
        "cluster": np.arange(res.k),
        "site_feature": list(data.site_features),
    }
    if table is not None:
        coords["cluster_present"] = table.clusters
    if res.k_selection is not None:
        coords["k_candidate"] = res.k_selection.ks
    return coords


def _selection_vars(ks: gmm_select.KSelection | None, table: FeatureTable | None) -> dict[str, Any]:
    """Dataset variables of the K selection and of the Fig. 7 table."""
    v: dict[str, Any] = {}
    if ks is not None:
        v["k_score"] = (("k_candidate",), ks.score)
        v["log_joint_k"] = (("k_candidate", "k_chain", "iteration"), ks.traces)
        if ks.bic is not None:
            v["bic"] = (("k_candidate",), ks.bic)
    if table is not None:
        v["site_feature_mean"] = (("site_feature", "cluster_present"), table.means)
        for name in ("welch_t", "welch_p", "kruskal_p"):
            v[name] = (("site_feature",), getattr(table, name))
    return v


def _attrs(res: ClusteringResult, s: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "k": res.k,
        "degenerate": int(res.degenerate_reason is not None),
        "degenerate_reason": res.degenerate_reason or "",
        "chosen_k": -1 if res.k_selection is None else res.k_selection.chosen_k,
    }
    for key, value in s.items():
        if value is None:
            continue
        out[f"setting_{key}"] = int(value) if isinstance(value, bool) else value
    return out


__all__ = ["FILENAME", "cluster_means", "to_dataset"]
