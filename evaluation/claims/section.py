"""The ``claims`` section of one run: the configured ledger, checked early, evaluated late.

:func:`ledger_from_config` turns the composed ``claims`` config group into a
:class:`~evaluation.claims.load.Ledger` (None when it holds no claims: ``claims=none``);
:func:`check_run_claims` checks its feature names against the data before the fit;
:func:`claims_section` evaluates it on the fitted posterior (with the per-draw clusterings the
clustering judge computed, and its oracle clustering of the true coefficients, the clustering
claims' truth) and adds the ``beta_site`` intervals the forest plot is drawn from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from backends.spec import HierData
from evaluation.claims.draws import ClaimDraws, ClusterDraws, posterior_draws
from evaluation.claims.kinds import CLUSTERING_KINDS
from evaluation.claims.ledger import evaluate_ledger
from evaluation.claims.load import Ledger, check_features, load_ledger

#: Quantiles of the forest plot's intervals (90% and 50%, and the median).
FOREST_QUANTILES: dict[str, float] = {
    "q05": 0.05, "q25": 0.25, "median": 0.5, "q75": 0.75, "q95": 0.95,
}  # fmt: skip
#: Note of the clustering claims when the run did not cluster.
CLUSTERING_OFF = "clustering disabled (evaluation.clustering.enabled=false): not evaluated"


def ledger_from_config(node: Any) -> Ledger | None:
    """The ledger of the ``claims`` config group, or None when it has no claims.

    Raises
    ------
    ValueError
        A malformed ledger (one line naming the claim and the key).
    """
    if node is None:
        return None
    ledger = load_ledger(node)
    return ledger if ledger.claims else None


def check_run_claims(node: Any, data: HierData) -> Ledger | None:
    """Load the configured ledger and check its feature names against ``data`` (before a fit).

    Raises
    ------
    ValueError
        One line naming the claim and the unknown feature.
    """
    ledger = ledger_from_config(node)
    if ledger is not None:
        dropped = data.meta.get("dropped_site_features") or ()
        check_features(ledger, data.site_features, data.worker_features, dropped)
    return ledger


def beta_site_intervals(draws: ClaimDraws, data: HierData) -> dict[str, dict[str, float]]:
    """Per site feature: q05, q25, median, q75, q95 of ``beta_site`` (and ``truth`` if known)."""
    if draws.beta_site is None:
        return {}
    qs = np.quantile(draws.beta_site, list(FOREST_QUANTILES.values()), axis=0)
    truth = None if data.truth is None else data.truth.get("beta_site")
    out = {}
    for k, name in enumerate(data.site_features):
        row = {key: float(qs[i, k]) for i, key in enumerate(FOREST_QUANTILES)}
        if truth is not None:
            row["truth"] = float(np.asarray(truth, dtype=float)[k])
        out[name] = row
    return out


def cluster_draws(result: Any, coef: Any) -> ClusterDraws | None:
    """The per-draw clusterings of a clustering result (``ClusteringResult``, ``Coefficients``).

    Labels of the clustered draws (``result.draws.labels``) with the coefficients of the same
    draws (``coef.draws[result.draw_index]``) and the K the paper's criterion chose for each
    (``result.draw_k``, None when K was not selected per draw); None when no draw was
    clustered.
    """
    draws = getattr(result, "draws", None)
    if draws is None or not len(result.draw_index):
        return None
    labels = np.asarray(draws.labels, dtype=np.int64)
    beta = np.asarray(coef.draws, dtype=float)[np.asarray(result.draw_index)]
    chosen = getattr(result, "draw_k", None)
    return ClusterDraws(labels, beta, None if chosen is None else np.asarray(chosen, np.int64))


def oracle_draws(oracle: Any) -> ClusterDraws | None:
    """The oracle clustering (``OracleClustering``) as one clustered "draw": its labels, the
    true ``beta_worker`` and the elbow K on it; None without one."""
    if oracle is None:
        return None
    chosen = None if oracle.chosen_k is None else np.array([oracle.chosen_k], np.int64)
    labels = np.asarray(oracle.result.labels, dtype=np.int64)[None]
    return ClusterDraws(labels, np.asarray(oracle.coef.mean, dtype=float)[None], chosen)


def claims_section(
    ledger: Ledger,
    data: HierData,
    posterior: Any,
    clusters: ClusterDraws | None = None,
    cluster_note: str | None = None,
    oracle: ClusterDraws | None = None,
) -> dict[str, Any]:
    """The ``claims`` section of metrics.json.

    Parameters
    ----------
    ledger : Ledger
    data : HierData
        The fitted data (its truth gives the truth values).
    posterior : Draws (evaluation.metrics.draws), xarray.Dataset or mapping
    clusters : ClusterDraws, optional
        The per-draw clusterings; without them the clustering claims are "not evaluated".
    cluster_note : str, optional
        Why there are no clusterings (replaces the generic note of those claims).
    oracle : ClusterDraws, optional
        The oracle clustering (:func:`oracle_draws`): the clustering claims' truth.

    Returns
    -------
    dict
        :func:`~evaluation.claims.ledger.evaluate_ledger` output plus ``description`` and
        ``beta_site`` (:func:`beta_site_intervals`).
    """
    draws = posterior_draws(posterior, data)
    out = evaluate_ledger(
        ledger.for_outcome(outcome_name(data)), data, draws, clusters, oracle=oracle
    )
    if clusters is None and cluster_note:
        for row in out["claims"]:
            if row["verdict"] == "not evaluated" and _is_clustering(row):
                row["note"] = cluster_note
    out["description"] = ledger.description
    out["subject"] = ledger.subject
    out["beta_site"] = beta_site_intervals(draws, data)
    return out


def outcome_name(data: HierData) -> str | None:
    """What a generated statement's odds are of when the ledger names no ``outcome``: the
    outcome column of table data (``meta["design"]["outcome"]``), as "the outcome (passed)";
    None for the twin (its statements say signing)."""
    design = data.meta.get("design")
    column = design.get("outcome") if isinstance(design, Mapping) else None
    return f"the outcome ({column})" if column else None


def _is_clustering(row: Mapping[str, Any]) -> bool:
    return row["kind"] in CLUSTERING_KINDS


__all__ = [
    "CLUSTERING_OFF",
    "FOREST_QUANTILES",
    "beta_site_intervals",
    "check_run_claims",
    "claims_section",
    "cluster_draws",
    "ledger_from_config",
    "oracle_draws",
]
