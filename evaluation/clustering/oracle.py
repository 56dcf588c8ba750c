"""The clustering's ceiling: the same GMM on the TRUE coefficients, scored against planted labels.

On synthetic data with planted worksite clusters (``data.truth["beta_worker"]`` and
``data.cluster_labels``), :func:`oracle_section` runs the very settings a fit's posterior mean is
clustered with (:func:`evaluation.clustering.cluster.cluster_posterior`: same K or K rule,
``standardize``, sigma, seeds) on the true coefficient matrix and reports its adjusted Rand
index against the planted labels.  Read beside the method's ARI:

* oracle ARI < :data:`RECOVERABLE`: even the truth does not give the planted partition back, so a
  low method ARI is the limit of the data (how the clusters were planted) and of the clustering
  settings, not of the inference;
* oracle ARI >= :data:`RECOVERABLE` but method ARI lower: the GMM can recover the clusters, the loss
  is in the estimated coefficients - what the data tell about each worksite, or the inference
  (an exact-posterior run on the same data, e.g. NUTS, separates the two);
* both >= :data:`RECOVERABLE`: the method recovers the planted clusters.

The same oracle clustering is the truth of the clustering claims (:mod:`evaluation.claims.truth`):
:func:`oracle_clustering` runs the paper's procedure (the elbow K over ``k_range`` and the Gibbs
GMM with the configured ``k``) on the true ``beta_worker`` whether or not clusters were planted,
so a claim about the clusters is true when the procedure, given the truth, says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from backends.spec import HierData
from evaluation.clustering import stability
from evaluation.clustering.cluster import ClusteringResult, cluster_posterior
from evaluation.clustering.coefficients import Coefficients, coefficients

#: ARI vs planted at or above which the planted clusters count as recovered.
RECOVERABLE = 0.8


def oracle_settings(s: Mapping[str, Any]) -> dict[str, Any]:
    """The method's settings for one true matrix: no draws, K selected over ``k_range`` (the
    truth of the claim that the criterion selects K) without the BIC beside it."""
    return {**s, "n_draws": 0, "bic": False}


class OracleClustering(NamedTuple):
    """The paper's procedure run on the true coefficients.

    Attributes
    ----------
    result : ClusteringResult
        Labels (the configured ``k``, best of ``n_seeds`` chains), the K selection over
        ``k_range`` (None without one), ``degenerate_reason`` when every worksite has the same
        true coefficients.
    coef : Coefficients
        The true ``beta_worker`` aligned to the data (``coef.mean``).
    chosen_k : int or None
        The elbow K on the truth: 1 when there is nothing to cluster, None without ``k_range``.
    """

    result: ClusteringResult
    coef: Coefficients
    chosen_k: int | None


def oracle_clustering(data: HierData, s: Mapping[str, Any]) -> OracleClustering | None:
    """The paper's procedure on ``data.truth["beta_worker"]`` (None without one).

    Parameters
    ----------
    data : HierData
        Its truth's ``beta_worker`` (J, D) is in the data's worksite order.
    s : mapping
        Validated settings (:func:`evaluation.clustering.settings.settings`), as for the fit.
    """
    truth = (data.truth or {}).get("beta_worker")
    if truth is None:
        return None
    coef = coefficients(np.asarray(truth, dtype=float), data)
    res = cluster_posterior(coef, oracle_settings(s))
    if res.degenerate_reason is not None:
        chosen = 1
    else:
        chosen = None if res.k_selection is None else int(res.k_selection.chosen_k)
    return OracleClustering(res, coef, chosen)


def limit_verdict(oracle_ari: float | None, method_ari: float | None) -> tuple[str, str]:
    """``(limit, sentence)``: where a low ARI against the planted clusters comes from.

    ``limit`` is ``"recovered"``, ``"data"`` (the oracle is low too), ``"estimates"`` (the oracle
    is high, the method is not) or ``"unknown"`` (a missing number).
    """
    if oracle_ari is None or method_ari is None:
        return "unknown", "no oracle or method ARI against planted clusters"
    o, m = f"{oracle_ari:.2f}", f"{method_ari:.2f}"
    if oracle_ari < RECOVERABLE:
        return "data", (
            f"the same GMM on the TRUE coefficients reaches only ARI {o} (< {RECOVERABLE}): "
            f"the method's ARI {m} is bounded by the data and the clustering settings, "
            "not by the inference"
        )
    if method_ari >= RECOVERABLE:
        return "recovered", f"method ARI {m}, oracle {o}: the planted clusters are recovered"
    return "estimates", (
        f"the same GMM on the TRUE coefficients reaches ARI {o}, the posterior means only {m}: "
        "the loss is in the estimated coefficients (what the data identify per worksite, or "
        "the inference; compare an exact-posterior run on the same data), not in the GMM"
    )


def oracle_section(
    data: HierData,
    s: Mapping[str, Any],
    method_ari: float | None,
    oracle: OracleClustering | None = None,
) -> dict[str, Any] | None:
    """The ``clustering.oracle`` section: the GMM on the true ``beta_worker`` vs planted labels.

    Parameters
    ----------
    data : HierData
        Needs ``truth["beta_worker"]`` (J, D), in the data's worksite order, and
        ``cluster_labels``; otherwise there is no oracle (None).
    s : mapping
        Validated settings (:func:`evaluation.clustering.settings.settings`), as for the fit.
    method_ari : float or None
        The fit's posterior-mean ARI against the planted labels (for the verdict).
    oracle : OracleClustering, optional
        :func:`oracle_clustering` of ``data`` when already run (else it is run here).

    Returns
    -------
    dict or None
        ``ari_vs_planted``, ``k``, ``chosen_k`` (the elbow K on the truth), ``n_per_cluster``,
        ``method_ari_vs_planted``, ``recoverable`` (the threshold), ``limit`` and ``verdict``
        (see :func:`limit_verdict`).
    """
    if data.cluster_labels is None:
        return None
    oracle = oracle or oracle_clustering(data, s)
    if oracle is None:
        return None
    res = oracle.result
    ari = None if res.degenerate_reason else stability.ari(res.labels, data.cluster_labels)
    limit, verdict = limit_verdict(ari, method_ari)
    return {
        "ari_vs_planted": ari,
        "k": res.k,
        "chosen_k": oracle.chosen_k,
        "n_per_cluster": np.bincount(res.labels, minlength=res.k).tolist(),
        "method_ari_vs_planted": method_ari,
        "recoverable": RECOVERABLE,
        "limit": limit,
        "verdict": verdict,
    }


__all__ = ["RECOVERABLE", "OracleClustering", "limit_verdict", "oracle_clustering",
           "oracle_section", "oracle_settings"]  # fmt: skip
