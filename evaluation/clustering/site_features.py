"""The paper's Fig. 7 as numbers: worksite features by cluster, with per-feature tests.

Numbers only (the figure is drawn by :mod:`evaluation.report.run.cluster_figures`): the mean of each
worksite feature per cluster, Welch's two-sample t test (two clusters) and the Kruskal-Wallis
test (any number of clusters), unadjusted for the number of features.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np


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


__all__ = ["FeatureTable", "feature_table"]
