"""Count an evaluated ledger's verdicts, and compare two evaluated ledgers claim by claim.

A claim *flips* between two runs only beyond Monte Carlo noise (:func:`is_flip`, the one rule of
run, sweep and study reports and of ``api.compare_claims``): both give it a verdict (credible,
contradicted or undecided: "not identified" and "not evaluated" are not verdicts), the verdicts
differ, a verdict threshold lies between the two probabilities, and they differ by more than
twice their joint Monte Carlo error.  Verdicts that differ within that noise (e.g. P 0.955 ±
0.0066, undecided by the margin, against 0.968 ± 0.0056, credible) are reported as
``within_noise``, never counted.  A claim marked ``counted_with`` another (a near-duplicate,
e.g. the variance share that is nearly a function of sigma_worker) flips together with it: of
the flips of such a group only the first in ledger order is counted, the others are reported as
counted with it.

:func:`summarise` counts verdicts and, on synthetic data, confident errors both ways (credible
but false, contradicted but true) over the claims whose truth is known: a claim whose truth is
"not applicable" (:mod:`evaluation.claims.truth`) is counted apart, in no rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from evaluation.claims.load import Thresholds
from evaluation.claims.truth import FALSE, NOT_APPLICABLE, TRUE, truth_status

#: The verdicts a flip compares (the others say there is nothing to compare).
EVALUATED = ("credible", "contradicted", "undecided")
VERDICTS = (*EVALUATED, "not identified", "not evaluated")
#: A flip's |dP| must exceed this many joint Monte Carlo errors.
FLIP_MC_ERRORS = 2.0


def _confidently_wrong(r: Mapping[str, Any]) -> bool:
    status = truth_status(r)
    return (r["verdict"] == "credible" and status == FALSE) or (
        r["verdict"] == "contradicted" and status == TRUE
    )


def _threshold_values(thresholds: Thresholds | Mapping[str, Any] | None) -> tuple[float, float]:
    """(credible, contradicted) of a :class:`Thresholds`, a section's ``thresholds`` mapping
    or None (the defaults)."""
    if thresholds is None:
        thresholds = Thresholds()
    if isinstance(thresholds, Thresholds):
        return thresholds.credible, thresholds.contradicted
    default = Thresholds()
    return (float(thresholds.get("credible", default.credible)),
            float(thresholds.get("contradicted", default.contradicted)))  # fmt: skip


def is_flip(
    p_ref: float | None,
    p_other: float | None,
    mc_ref: float | None,
    mc_other: float | None,
    verdict_ref: str,
    verdict_other: str,
    thresholds: Thresholds | Mapping[str, Any] | None = None,
) -> bool:
    """Whether two verdicts on a claim flip beyond Monte Carlo noise (the one flip rule).

    All three must hold: the verdicts are both evaluated and differ; a verdict threshold
    (credible or contradicted) lies between the two probabilities (inclusive); and
    ``|p_ref - p_other| > 2 * sqrt(mc_ref**2 + mc_other**2)`` (a missing error counts 0).

    Parameters
    ----------
    p_ref, p_other : float or None
        The two probabilities (None: not evaluated, never a flip).
    mc_ref, mc_other : float or None
        Their Monte Carlo errors.
    verdict_ref, verdict_other : str
    thresholds : Thresholds or mapping, optional
        ``{"credible", "contradicted"}`` (a section's ``thresholds``); default 0.95 / 0.05.

    Returns
    -------
    bool
    """
    if verdict_ref not in EVALUATED or verdict_other not in EVALUATED:
        return False
    if verdict_ref == verdict_other or p_ref is None or p_other is None:
        return False
    lo, hi = sorted((float(p_ref), float(p_other)))
    if not any(lo <= t <= hi for t in _threshold_values(thresholds)):
        return False
    joint = math.hypot(float(mc_ref or 0.0), float(mc_other or 0.0))
    return hi - lo > FLIP_MC_ERRORS * joint


def summarise(results: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Counts over evaluated claims (a list of ledger entries).

    Returns
    -------
    dict
        n_claims, n_identified, n_not_identified, n_credible, n_contradicted, n_undecided,
        n_not_evaluated, n_weakly_identified (identified, but on a nearly collinear
        direction), n_borderline (undecided because P is within 2 Monte Carlo errors of a
        threshold), n_with_truth (truth "true" or "false"), n_true (true in truth),
        n_not_applicable (truth "not applicable": counted in none of these),
        n_confidently_wrong (credible but false, or contradicted but true, in truth).
    """
    count = {v: sum(r["verdict"] == v for r in results) for v in VERDICTS}
    status = [truth_status(r) for r in results]
    return {
        "n_claims": len(results),
        "n_identified": sum(bool(r["identified"]) for r in results),
        "n_not_identified": count["not identified"],
        "n_credible": count["credible"],
        "n_contradicted": count["contradicted"],
        "n_undecided": count["undecided"],
        "n_not_evaluated": count["not evaluated"],
        "n_weakly_identified": sum(r.get("weakly_identified") is True for r in results),
        "n_borderline": sum(bool(r.get("borderline")) for r in results),
        "n_with_truth": sum(s in (TRUE, FALSE) for s in status),
        "n_true": status.count(TRUE),
        "n_not_applicable": status.count(NOT_APPLICABLE),
        "n_confidently_wrong": sum(_confidently_wrong(r) for r in results),
    }


def compare_ledgers(reference: Mapping[str, Any], other: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Claim-by-claim comparison of two evaluated ``claims`` sections (e.g. NUTS vs mean-field).

    Each section's ``thresholds`` (default 0.95 / 0.05) give the thresholds a flip must cross
    (:func:`is_flip`; either section's, should they differ).

    Returns
    -------
    list of dict
        For each claim present in both (reference order): name, identified (in both),
        evaluated (a verdict in both), weakly_identified (in either), verdict_reference,
        verdict_other, probability_reference, probability_other, mc_error_reference,
        mc_error_other, ``verdicts_differ`` (evaluated in both and the verdicts differ),
        ``differs`` (a flip beyond Monte Carlo noise: :func:`is_flip`), ``within_noise``
        (the verdicts differ, but not beyond the noise), ``changed`` (a counted flip:
        differs, and no earlier claim of its ``counted_with`` group was counted) and
        ``counted_with`` (the claim a flipped, uncounted one is counted with; else None).
    """
    theirs = {r["name"]: r for r in other["claims"]}
    limits = [reference.get("thresholds"), other.get("thresholds")]
    counted: dict[str, str] = {}  # group -> the claim whose flip was counted
    rows = []
    for r in reference["claims"]:
        o = theirs.get(r["name"])
        if o is None:
            continue
        evaluated = r["verdict"] in EVALUATED and o["verdict"] in EVALUATED
        verdicts_differ = evaluated and r["verdict"] != o["verdict"]
        differs = any(is_flip(r["probability"], o["probability"], r.get("mc_error"),
                              o.get("mc_error"), r["verdict"], o["verdict"], th)
                      for th in limits)  # fmt: skip
        group = r.get("counted_with") or r["name"]
        first = counted.setdefault(group, r["name"]) if differs else None
        rows.append({
            "name": r["name"],
            "identified": bool(r["identified"] and o["identified"]),
            "evaluated": evaluated,
            "weakly_identified": bool(r.get("weakly_identified") or o.get("weakly_identified")),
            "verdict_reference": r["verdict"],
            "verdict_other": o["verdict"],
            "probability_reference": r["probability"],
            "probability_other": o["probability"],
            "mc_error_reference": r.get("mc_error"),
            "mc_error_other": o.get("mc_error"),
            "verdicts_differ": verdicts_differ,
            "differs": differs,
            "within_noise": verdicts_differ and not differs,
            "changed": differs and first == r["name"],
            "counted_with": first if differs and first != r["name"] else None,
        })  # fmt: skip
    return rows


__all__ = ["EVALUATED", "FLIP_MC_ERRORS", "VERDICTS", "compare_ledgers", "is_flip", "summarise"]
