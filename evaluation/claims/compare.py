"""Count an evaluated ledger's verdicts, and compare two evaluated ledgers claim by claim.

A claim *flips* between two runs when both give it a verdict (credible, contradicted or
undecided: "not identified" and "not evaluated" are not verdicts) and the verdicts differ.  A
claim marked ``counted_with`` another (a near-duplicate, e.g. the variance share that is
nearly a function of sigma_worker) flips together with it: of the flips of such a group only
the first in ledger order is counted, the others are reported as counted with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: The verdicts a flip compares (the others say there is nothing to compare).
EVALUATED = ("credible", "contradicted", "undecided")
VERDICTS = (*EVALUATED, "not identified", "not evaluated")


def _confidently_wrong(r: Mapping[str, Any]) -> bool:
    tv = r.get("truth_value")
    return (r["verdict"] == "credible" and tv is False) or (
        r["verdict"] == "contradicted" and tv is True
    )


def summarise(results: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Counts over evaluated claims (a list of ledger entries).

    Returns
    -------
    dict
        n_claims, n_identified, n_not_identified, n_credible, n_contradicted, n_undecided,
        n_not_evaluated, n_weakly_identified (identified, but on a nearly collinear
        direction), n_borderline (undecided because P is within 2 Monte Carlo errors of a
        threshold), n_with_truth (truth value known), n_true (true in truth),
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
        "n_weakly_identified": sum(r.get("weakly_identified") is True for r in results),
        "n_borderline": sum(bool(r.get("borderline")) for r in results),
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
        evaluated (a verdict in both), weakly_identified (in either), verdict_reference,
        verdict_other, probability_reference, probability_other, mc_error_reference,
        mc_error_other, ``differs`` (evaluated in both and the verdicts differ),
        ``changed`` (a counted flip: differs, and no earlier claim of its ``counted_with``
        group was counted) and ``counted_with`` (the claim a differing, uncounted one is
        counted with; else None).
    """
    theirs = {r["name"]: r for r in other["claims"]}
    counted: dict[str, str] = {}  # group -> the claim whose flip was counted
    rows = []
    for r in reference["claims"]:
        o = theirs.get(r["name"])
        if o is None:
            continue
        evaluated = r["verdict"] in EVALUATED and o["verdict"] in EVALUATED
        differs = evaluated and r["verdict"] != o["verdict"]
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
            "differs": differs,
            "changed": differs and first == r["name"],
            "counted_with": first if differs and first != r["name"] else None,
        })  # fmt: skip
    return rows


__all__ = ["EVALUATED", "VERDICTS", "compare_ledgers", "summarise"]
