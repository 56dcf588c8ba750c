"""The paper's Gaussian-mixture clustering of worksite coefficients: one run's numbers.

:func:`run_clustering` is the judge's one entry point: it validates the settings
(:mod:`~evaluation.clustering.settings`), aligns ``beta_worker`` to the data
(:mod:`~evaluation.clustering.coefficients`), clusters the posterior mean and single draws
(:mod:`~evaluation.clustering.cluster`), measures stability by the adjusted Rand index
(:mod:`~evaluation.clustering.stability`), on planted clusters runs the same GMM on the true
coefficients for the ceiling (:mod:`~evaluation.clustering.oracle`), tabulates the worksite
features by cluster (the paper's Fig. 7, :mod:`~evaluation.clustering.site_features`) and
builds the ``clusters.nc`` dataset (:mod:`~evaluation.clustering.dataset`).

It never draws and never writes: the app writes ``Clustering.dataset`` to ``clusters.nc`` and
passes the bundle to :func:`evaluation.report.run.cluster_figures.write_figures` for the
``cluster_*.png`` figures, whose names it records in the section's ``figures`` list (left
empty here).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from backends.spec import HierData
from evaluation.clustering import dataset, oracle, stability
from evaluation.clustering import select as gmm_select
from evaluation.clustering.cluster import ClusteringResult, cluster_posterior
from evaluation.clustering.coefficients import Coefficients, coefficients
from evaluation.clustering.oracle import OracleClustering
from evaluation.clustering.settings import settings
from evaluation.clustering.site_features import FeatureTable, feature_table


class Clustering(NamedTuple):
    """One run's clustering: the metrics section and what the figures are drawn from.

    Attributes
    ----------
    section : dict
        The ``clustering`` section of metrics.json (``figures`` empty until the caller draws).
    result : ClusteringResult
    coef : Coefficients
        The aligned ``beta_worker`` input.
    table : FeatureTable or None
        The Fig. 7 table (None when degenerate or without worksite features).
    dataset : xarray.Dataset
        What ``clusters.nc`` holds (:func:`evaluation.clustering.dataset.to_dataset`).
    oracle : OracleClustering or None
        The same procedure on the true coefficients (synthetic data): the clustering claims'
        truth (:func:`evaluation.clustering.oracle.oracle_clustering`).
    """

    section: dict[str, Any]
    result: ClusteringResult
    coef: Coefficients
    table: FeatureTable | None
    dataset: Any
    oracle: OracleClustering | None = None


def _num(v: Any) -> float | None:
    return float(v) if v is not None and np.isfinite(v) else None


def _k_section(ks: gmm_select.KSelection | None) -> dict[str, Any]:
    if ks is None:
        return dict.fromkeys(("chosen_k", "chosen_k_rule", "k_scores", "bic", "chosen_k_bic"))
    keys = [str(k) for k in ks.ks]
    return {
        "chosen_k": ks.chosen_k,
        "chosen_k_rule": ks.rule,
        "k_scores": dict(zip(keys, map(_num, ks.score), strict=True)),
        "bic": None if ks.bic is None else dict(zip(keys, map(_num, ks.bic), strict=True)),
        "chosen_k_bic": ks.chosen_k_bic,
    }


def _ari_summaries(res: ClusteringResult) -> tuple[stability.AriSummary, stability.AriSummary]:
    """ARIs across seeds (all pairs) and of each draw to the posterior-mean clustering."""
    seeds = stability.summarise(
        stability.pairwise_ari(res.seeds.labels) if res.seeds is not None else []
    )
    draw_labels = res.draws.labels if res.draws is not None else []
    draws = stability.summarise([stability.ari(lab, res.labels) for lab in draw_labels])
    return seeds, draws


def _truth_section(res: ClusteringResult, truth: np.ndarray | None) -> dict[str, Any]:
    """ARI of the posterior-mean clustering and of each draw's to the planted labels."""
    draw_labels = res.draws.labels if res.draws is not None else []
    return {
        "ari_truth": None if truth is None else stability.ari(res.labels, truth),
        "ari_truth_draws": None
        if truth is None or not len(draw_labels)
        else stability.summarise([stability.ari(lab, truth) for lab in draw_labels]).as_dict(),
    }


def metrics_section(
    res: ClusteringResult,
    coef: Coefficients,
    data: HierData,
    table: FeatureTable | None,
    s: Mapping[str, Any],
    truth_run: OracleClustering | None = None,
) -> dict[str, Any]:
    """The JSON-serialisable ``clustering`` section of metrics.json (without ``figures``);
    ``truth_run`` is :func:`~evaluation.clustering.oracle.oracle_clustering` if already run."""
    seeds, draws = _ari_summaries(res)
    truth = _truth_section(res, None if res.degenerate_reason else data.cluster_labels)
    return {
        "k": res.k,
        **_k_section(res.k_selection),
        "ari_seeds": seeds.as_dict(),
        "ari_draws": draws.as_dict(),
        **truth,
        "oracle": oracle.oracle_section(data, s, truth["ari_truth"], truth_run),
        "n_per_cluster": np.bincount(res.labels, minlength=res.k).tolist(),
        "stability": stability.stability_verdict(res, coef, s, seeds, draws),
        "coclustering_uncertain_pairs": stability.uncertain_pairs(res),
        "degenerate": res.degenerate_reason is not None,
        "degenerate_reason": res.degenerate_reason,
        "empty_clusters": int(res.k - np.unique(res.labels).size),
        "constant_features": list(res.constant_features),
        "feature_table": None if table is None else table.as_dict(),
        "separating_site_features": []
        if table is None
        else [f for f, p in zip(table.features, table.kruskal_p, strict=True) if p < 0.05],
        "sigma_over_spread": stability.sigma_over_spread(coef, s),
        "settings": dict(s),
    }


def run_clustering(posterior: Any, data: HierData, cfg: Mapping[str, Any] | None) -> Clustering:
    """Cluster, measure stability, build the ``clusters.nc`` dataset; numbers only.

    Parameters
    ----------
    posterior : Draws, xarray.Dataset/DataArray or array_like
        Holds ``beta_worker`` (chain, draw, worksite, worker_feature); aligned to ``data`` by
        label (the judge passes its :class:`~evaluation.metrics.draws.Draws`).  A plain
        (J, D) array is a single matrix (then no draw stability).
    data : HierData
        Worksite ids, worksite features (Fig. 7) and planted labels if any.
    cfg : mapping
        The ``evaluation.clustering`` config block, every key of
        :data:`evaluation.clustering.settings.KEYS` (defaults: conf/evaluation/default.yaml).

    Returns
    -------
    Clustering
        ``section`` is the ``clustering`` section of metrics.json; ``dataset`` the content
        of ``clusters.nc``; draw the figures with
        :func:`evaluation.report.run.cluster_figures.write_figures`.

    Raises
    ------
    ValueError
        K larger than the number of worksites, NaN/inf coefficients, misaligned labels, or
        missing, unknown or bad settings.
    """
    start = time.perf_counter()
    s = settings(cfg)
    coef = coefficients(posterior, data)
    res = cluster_posterior(coef, s)
    table = None
    if res.degenerate_reason is None and data.X_site.shape[1]:
        table = feature_table(data.X_site, res.labels, data.site_features)
    truth_run = oracle.oracle_clustering(data, s)
    section = metrics_section(res, coef, data, table, s, truth_run)
    ds = dataset.to_dataset(res, coef, data, table, s)
    section["figures"] = []
    section["runtime_s"] = time.perf_counter() - start
    return Clustering(section, res, coef, table, ds, truth_run)


__all__ = ["Clustering", "metrics_section", "run_clustering"]
