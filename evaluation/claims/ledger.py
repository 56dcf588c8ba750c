"""Evaluate a claims ledger on one posterior, and compare two evaluated ledgers.

Each claim gets a posterior probability (the fraction of draws in which its statement holds),
a verdict against the ledger's thresholds ("credible", "contradicted", "undecided"), or "not
identified" with the collinearity of the design that causes it (computed from the design
matrix by :mod:`evaluation.data.design`, never from a hand list), and on synthetic data its
truth value under the generating parameters.

Public API: :func:`evaluate_ledger` (the JSON-ready ``claims`` metrics section),
:func:`evaluate_claim`, :func:`identification`, :func:`verdict`, :func:`summarise` and
:func:`compare_ledgers`.  Loading lives in :mod:`evaluation.claims.load`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from backends.spec import HierData
from evaluation.claims import kinds as K
from evaluation.claims.draws import ClusterDraws, Draws, posterior_draws, truth_draws
from evaluation.claims.load import Claim, Ledger, Thresholds, check_features, dropped_features
from evaluation.data.design import (
    RANK_TOL,
    loading_directions,
    null_directions,
    site_design,
    worker_design,
)

VERDICTS = ("credible", "contradicted", "undecided", "not identified", "not evaluated")


# ------------------------------------------------------------------------------------------
# Identification and evaluation
# ------------------------------------------------------------------------------------------
def _listing(items: Sequence[str], limit: int = 3) -> str:
    items = list(items)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def identification(claim: Claim, data: HierData, tol: float = RANK_TOL) -> tuple[bool, str | None]:
    """Whether the design identifies what ``claim`` rests on, and if not, why.

    A claim on ``beta_site`` is identified when each linear functional of
    ``(alpha, beta_site)`` it depends on is estimable from ``[1 | X_site]``; a clustering
    claim when ``X_worker`` has full column rank; the others always.

    Returns
    -------
    (identified, reason) : (bool, str or None)
        ``reason`` names the functionals and the null direction(s) of the design they load on.
    """
    kind = K.KINDS[claim.kind]
    if kind.site_functionals is not None:
        matrix, names = site_design(data)
        failing: list[str] = []
        loads: list[str] = []
        for label, weights in kind.site_functionals(claim.params, data):
            c = np.zeros(len(names))
            for feature, w in weights.items():
                c[names.index(feature)] += w
            dirs = loading_directions(c, matrix, names, tol)
            if dirs:
                failing.append(label)
                loads += [d for d in dirs if d not in loads]
        if failing:
            verb = "is" if len(failing) == 1 else "are"
            which = "; ".join(f"'{d} = 0'" for d in loads)
            return False, (
                f"{_listing(failing)} {verb} not estimable from [1 | X_site]: "
                f"collinear columns ({which} on the data)"
            )
    if kind.whole_worker_design:
        dirs = [d["expression"] for d in null_directions(*worker_design(data), tol)]
        if dirs:
            which = "; ".join(f"'{d} = 0'" for d in dirs)
            return False, f"X_worker is rank deficient ({which} on the data): beta_worker is not"
    return True, None


def verdict(probability: float | None, thresholds: Thresholds) -> str:
    """ "credible", "contradicted" or "undecided" ("not evaluated" when ``probability`` is None)."""
    if probability is None:
        return "not evaluated"
    if probability >= thresholds.credible:
        return "credible"
    if probability <= thresholds.contradicted:
        return "contradicted"
    return "undecided"


def _missing(kind: str) -> str:
    if kind in ("n_clusters", "cluster_separates", "cluster_effect_order"):
        return "needs per-draw cluster labels (and beta_worker draws)"
    return "the posterior lacks a variable this claim reads"


def evaluate_claim(
    claim: Claim,
    context: K.Context,
    thresholds: Thresholds | None = None,
    truth: K.Context | None = None,
    tol: float = RANK_TOL,
) -> dict[str, Any]:
    """One claim's entry of the ``claims`` section.

    Parameters
    ----------
    claim : Claim
    context : Context
        The data, the posterior draws and (for clustering claims) the per-draw clusterings.
    thresholds : Thresholds, optional
        Defaults to 0.95 / 0.05.
    truth : Context, optional
        The same data with the generating parameters as a single draw (and the true labels).
    tol : float
        Relative rank tolerance of the design check.

    Returns
    -------
    dict
        name, kind, statement, source, params, identified, not_identified_because (None when
        identified), probability (None when not identified or not evaluated), verdict (one
        of :data:`VERDICTS`), n_draws, truth_value (True / False / None), note.
    """
    thresholds = thresholds or Thresholds()
    data = context.data
    check_features(Ledger(claims=(claim,)), data.site_features, data.worker_features)
    ident, because = identification(claim, data, tol)
    indicator = K.KINDS[claim.kind].indicator
    hits = indicator(claim.params, context) if ident else None
    prob = float(np.mean(hits)) if hits is not None and hits.size else None
    true_hits = indicator(claim.params, truth) if truth is not None else None
    note = None
    if ident and prob is None:
        note = _missing(claim.kind)
    return {
        **_claim_fields(claim),
        "identified": ident,
        "not_identified_because": because,
        "probability": prob,
        "verdict": verdict(prob, thresholds) if ident else "not identified",
        "n_draws": None if hits is None else int(hits.size),
        "truth_value": None if true_hits is None or not true_hits.size else bool(true_hits[0]),
        "note": note,
    }


def _claim_fields(claim: Claim) -> dict[str, Any]:
    """The fields of a ledger entry that restate the claim itself (every entry starts so)."""
    return {
        "name": claim.name,
        "kind": claim.kind,
        "statement": claim.text,
        "source": claim.source,
        "params": dict(claim.params),
    }


def _dropped_entry(claim: Claim, gone: Sequence[str]) -> dict[str, Any]:
    """The entry of a claim naming columns the data's design dropped: not evaluated."""
    return {
        **_claim_fields(claim),
        "identified": None,
        "not_identified_because": None,
        "probability": None,
        "verdict": "not evaluated",
        "n_draws": None,
        "truth_value": None,
        "note": f"names {', '.join(gone)}, which the data's design dropped (data.design)",
    }


def _truth_context(data: HierData) -> K.Context | None:
    """The generating parameters as a context; no planted clusters means one cluster."""
    draws = truth_draws(data.truth)
    if draws is None:
        return None
    labels = data.cluster_labels
    if labels is None:
        labels = np.zeros(data.n_worksites, dtype=np.int64)
    clusters = ClusterDraws(np.asarray(labels, dtype=np.int64)[None], draws.beta_worker)
    return K.Context(data, draws, clusters)


def evaluate_ledger(
    ledger: Ledger,
    data: HierData,
    posterior: Any,
    clusters: ClusterDraws | np.ndarray | None = None,
    tol: float = RANK_TOL,
) -> dict[str, Any]:
    """Evaluate every claim of ``ledger`` on one posterior: the ``claims`` metrics section.

    Parameters
    ----------
    ledger : Ledger
    data : HierData
        The data the posterior was fitted to (design, features, workers); its ``truth`` and
        ``cluster_labels`` give the truth values (synthetic data without planted clusters:
        one true cluster, so "two clusters" is false in truth).
    posterior : Draws, InferenceData, xarray.Dataset or mapping of arrays
        See :func:`evaluation.claims.draws.posterior_draws`.
    clusters : ClusterDraws or int array (draw, worksite), optional
        Per-draw clusterings for the clustering claims (labels only: their coefficients are
        taken as the posterior mean of ``beta_worker``).
    tol : float

    Returns
    -------
    dict
        JSON-ready: ``thresholds``, ``summary`` (:func:`summarise`) and ``claims`` (one
        :func:`evaluate_claim` dict per claim, in ledger order).

    Raises
    ------
    ValueError
        A claim naming a feature the data lack (one line naming claim and feature).
    """
    dropped = data.meta.get("dropped_site_features") or ()
    check_features(ledger, data.site_features, data.worker_features, dropped)
    draws = posterior if isinstance(posterior, Draws) else posterior_draws(posterior, data)
    if clusters is not None and not isinstance(clusters, ClusterDraws):
        clusters = ClusterDraws(np.asarray(clusters))
    context = K.Context(data, draws, clusters)
    truth = _truth_context(data)
    results = [
        _dropped_entry(c, gone)
        if (gone := dropped_features(c, dropped))
        else evaluate_claim(c, context, ledger.thresholds, truth, tol)
        for c in ledger.claims
    ]
    th = ledger.thresholds
    return {
        "thresholds": {"credible": th.credible, "contradicted": th.contradicted},
        "summary": summarise(results),
        "claims": results,
    }


def _confidently_wrong(r: Mapping[str, Any]) -> bool:
    tv = r.get("truth_value")
    return (r["verdict"] == "credible" and tv is False) or (
        r["verdict"] == "contradicted" and tv is True
    )


def summarise(results: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Counts over evaluated claims (a list of :func:`evaluate_claim` dicts).

    Returns
    -------
    dict
        n_claims, n_identified, n_not_identified, n_credible, n_contradicted, n_undecided,
        n_not_evaluated, n_with_truth (truth value known), n_true (true in truth),
        n_confidently_wrong (credible but false, or contradicted but true, in truth).
    """
    count = {v: sum(r["verdict"] == v for r in results) for v in VERDICTS}
    return {
        "n_claims": len(results),
        "n_identified": sum(bool(r["identified"]) for r in results),
        "n_not_identified": count["not identified"],
        "n_credible": count["credible"],
        "n_contradicted": count["contradicted"],
        "n_undecided": count["undecided"],
        "n_not_evaluated": count["not evaluated"],
        "n_with_truth": sum(r.get("truth_value") is not None for r in results),
        "n_true": sum(r.get("truth_value") is True for r in results),
        "n_confidently_wrong": sum(_confidently_wrong(r) for r in results),
    }


def compare_ledgers(reference: Mapping[str, Any], other: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Claim-by-claim comparison of two evaluated ``claims`` sections (e.g. NUTS vs mean-field).

    Returns
    -------
    list of dict
        For each claim present in both (reference order): name, identified (in both),
        verdict_reference, verdict_other, probability_reference, probability_other and
        ``changed`` (both identified and the verdicts differ).
    """
    theirs = {r["name"]: r for r in other["claims"]}
    rows = []
    for r in reference["claims"]:
        o = theirs.get(r["name"])
        if o is None:
            continue
        both = bool(r["identified"] and o["identified"])
        rows.append({
            "name": r["name"],
            "identified": both,
            "verdict_reference": r["verdict"],
            "verdict_other": o["verdict"],
            "probability_reference": r["probability"],
            "probability_other": o["probability"],
            "changed": both and r["verdict"] != o["verdict"],
        })  # fmt: skip
    return rows


__all__ = [
    "VERDICTS",
    "compare_ledgers",
    "evaluate_claim",
    "evaluate_ledger",
    "identification",
    "summarise",
    "verdict",
]
