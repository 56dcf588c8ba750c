"""Evaluate a claims ledger on one posterior.

Each claim gets a posterior probability (the fraction of draws in which its statement holds)
with its Monte Carlo error (:mod:`evaluation.claims.precision`), a verdict against the
ledger's thresholds ("credible", "contradicted", "undecided"; undecided too when P lies
within two Monte Carlo errors of a threshold), or "not identified" with the collinearity of
the design that causes it (computed from the design matrix by :mod:`evaluation.data.design`,
never from a hand list); identified claims on nearly collinear directions are flagged
"weakly identified" (:mod:`evaluation.claims.weak`); on synthetic data each claim also gets
its truth: its statement, by the same indicator, at the generating parameters (clustering claims
on the oracle clustering; "not applicable" where its presupposition fails there:
:mod:`evaluation.claims.truth`).

Public API: :func:`evaluate_ledger` (the JSON-ready ``claims`` metrics section),
:func:`evaluate_claim`, :func:`identification`, :func:`verdict`; :func:`summarise` and
:func:`compare_ledgers` (from :mod:`evaluation.claims.compare`).  Loading lives in
:mod:`evaluation.claims.load`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from backends.spec import HierData
from evaluation.claims import kinds as K
from evaluation.claims.compare import VERDICTS, compare_ledgers, summarise
from evaluation.claims.draws import ClaimDraws, ClusterDraws, posterior_draws
from evaluation.claims.load import Claim, Ledger, Thresholds, check_features, dropped_features
from evaluation.claims.precision import precision, within_margin
from evaluation.claims.truth import TruthWorld, claim_truth, dropped_truth, truth_world
from evaluation.claims.weak import weak_identification
from evaluation.data.design import (
    RANK_TOL,
    loading_directions,
    null_directions,
    site_design,
    worker_design,
)


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


def verdict(probability: float | None, thresholds: Thresholds, mc_error: float = 0.0) -> str:
    """ "credible", "contradicted" or "undecided" ("not evaluated" when ``probability`` is None).

    A probability within :data:`~evaluation.claims.precision.MC_MARGIN` Monte Carlo errors of
    a threshold is "undecided" (the draws cannot tell on which side of it the claim lies).
    """
    if probability is None:
        return "not evaluated"
    for threshold in (thresholds.credible, thresholds.contradicted):
        if within_margin(probability, threshold, mc_error):
            return "undecided"
    if probability >= thresholds.credible:
        return "credible"
    if probability <= thresholds.contradicted:
        return "contradicted"
    return "undecided"


def _missing(kind: str) -> str:
    if kind == "k_selected":
        return "needs the K chosen per clustered draw (evaluation.clustering.k_range)"
    if kind in K.CLUSTERING_KINDS:
        return "needs per-draw cluster labels (and beta_worker draws)"
    return "the posterior lacks a variable this claim reads"


def _probability(hits: np.ndarray | None, claim: Claim, context: K.Context) -> dict[str, Any]:
    """probability, mc_error, n_eff and n_draws of an indicator (all None without one)."""
    if hits is None or not hits.size:
        return dict.fromkeys(("probability", "mc_error", "n_eff", "n_draws"))
    clustered = claim.kind in K.CLUSTERING_KINDS  # draws picked at random: independent
    chains = 1 if clustered or context.draws is None else context.draws.n_chains
    prec = precision(np.asarray(hits, dtype=bool), chains, independent=clustered)
    return {"probability": float(np.mean(hits)), "mc_error": round(prec.mc_error, 6),
            "n_eff": round(prec.n_eff, 1), "n_draws": int(hits.size)}  # fmt: skip


def evaluate_claim(
    claim: Claim,
    context: K.Context,
    thresholds: Thresholds | None = None,
    truth: TruthWorld | None = None,
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
    truth : TruthWorld, optional
        The generating parameters as a single draw with the oracle clustering
        (:func:`evaluation.claims.truth.truth_world`); None: the truth is unknown.
    tol : float
        Relative rank tolerance of the design check.

    Returns
    -------
    dict
        The claim (name, kind, statement, source, params, counted_with); identified and
        not_identified_because; weakly_identified, variance_inflation and
        weakly_identified_because (:mod:`~evaluation.claims.weak`); probability, mc_error,
        n_eff, n_draws (:mod:`~evaluation.claims.precision`); verdict (:data:`VERDICTS`) and
        borderline (undecided only by the Monte Carlo margin); truth_status, truth_value and
        truth_note (:func:`evaluation.claims.truth.claim_truth`); detail; note.
    """
    thresholds = thresholds or Thresholds()
    data = context.data
    check_features(Ledger(claims=(claim,)), data.site_features, data.worker_features)
    ident, because = identification(claim, data, tol)
    kind = K.KINDS[claim.kind]
    hits = kind.indicator(claim.params, context) if ident else None
    prob = _probability(hits, claim, context)
    weak = weak_identification(claim, data) if ident else _NOT_WEAK
    said = verdict(prob["probability"], thresholds, prob["mc_error"] or 0.0)
    borderline = said == "undecided" and verdict(prob["probability"], thresholds) != said
    note = _missing(claim.kind) if ident and prob["probability"] is None else None
    if borderline:
        note = "P is within 2 Monte Carlo errors of a verdict threshold: undecided"
    return {
        **_claim_fields(claim),
        "identified": ident,
        "not_identified_because": because,
        **weak,
        **prob,
        "verdict": said if ident else "not identified",
        "borderline": borderline,
        **claim_truth(claim, truth),
        "detail": kind.detail(claim.params, context) if kind.detail and ident else None,
        "note": note,
    }


_NOT_WEAK = {"weakly_identified": None, "variance_inflation": None,
             "weakly_identified_because": None}  # fmt: skip


def _claim_fields(claim: Claim) -> dict[str, Any]:
    """The fields of a ledger entry that restate the claim itself (every entry starts so)."""
    return {
        "name": claim.name,
        "kind": claim.kind,
        "statement": claim.text,
        "source": claim.source,
        "params": dict(claim.params),
        "counted_with": claim.counted_with,
    }


def _dropped_entry(
    claim: Claim, gone: Sequence[str], truth: TruthWorld | None = None
) -> dict[str, Any]:
    """The entry of a claim naming columns the data's design dropped: not evaluated (and,
    with a truth, not applicable)."""
    return {
        **_claim_fields(claim),
        "identified": None,
        "not_identified_because": None,
        **_NOT_WEAK,
        "probability": None,
        "mc_error": None,
        "n_eff": None,
        "n_draws": None,
        "verdict": "not evaluated",
        "borderline": False,
        **dropped_truth(gone, truth),
        "detail": None,
        "note": f"names {', '.join(gone)}, which the data's design dropped (data.design)",
    }


def evaluate_ledger(
    ledger: Ledger,
    data: HierData,
    posterior: Any,
    clusters: ClusterDraws | np.ndarray | None = None,
    tol: float = RANK_TOL,
    oracle: ClusterDraws | None = None,
) -> dict[str, Any]:
    """Evaluate every claim of ``ledger`` on one posterior: the ``claims`` metrics section.

    Parameters
    ----------
    ledger : Ledger
    data : HierData
        The data the posterior was fitted to (design, features, workers); its ``truth`` gives
        the claims' truths (:mod:`evaluation.claims.truth`).
    posterior : ClaimDraws, xarray.Dataset or mapping of arrays
        The claims' :class:`~evaluation.claims.draws.ClaimDraws` or the judge's
        :class:`evaluation.metrics.draws.Draws`; see
        :func:`evaluation.claims.draws.posterior_draws`.
    clusters : ClusterDraws or int array (draw, worksite), optional
        Per-draw clusterings for the clustering claims (labels only: their coefficients are
        taken as the posterior mean of ``beta_worker``).
    tol : float
    oracle : ClusterDraws, optional
        The oracle clustering: the paper's procedure on the true ``beta_worker`` as one draw
        (:func:`evaluation.claims.section.oracle_draws`), the clustering claims' truth; without
        it their truth is "unknown".

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
    draws = posterior if isinstance(posterior, ClaimDraws) else posterior_draws(posterior, data)
    if clusters is not None and not isinstance(clusters, ClusterDraws):
        clusters = ClusterDraws(np.asarray(clusters))
    context = K.Context(data, draws, clusters)
    truth = truth_world(data, oracle)
    results = [
        _dropped_entry(c, gone, truth)
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


__all__ = [
    "VERDICTS",
    "compare_ledgers",
    "evaluate_claim",
    "evaluate_ledger",
    "identification",
    "summarise",
    "verdict",
]
