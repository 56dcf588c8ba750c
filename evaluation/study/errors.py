"""Per method of one world: its errors both ways, calibration, and the paired tests against NUTS
(issue 29).  Numbers only, as NamedTuples.

:func:`error_evidence` scores every method's first fits against the truth
(:mod:`evaluation.study.truth`) four ways: over the contestable claims (the headline; the rule
of :func:`~evaluation.study.truth.contestable_claims`, fixed before the runs) and over every
claim with a known truth, each with and without the runs that fail the approximation rule
(column ``failed``); and per claim kind.  Against NUTS (its first fit, same seeds and claims)
it gives paired differences (:class:`PairedDifference`): the cluster bootstrap over seeds of
the difference, the smallest difference the design detects at 80% power, and for the
confident errors the exact McNemar test on the (seed, claim) pairs where one of the two is
confidently wrong and the other not.  Verdict changes are tested the same way: the method's
flips against NUTS beside NUTS's repeat's flips against NUTS (:func:`verdict_changes`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from evaluation.claims.load import Thresholds
from evaluation.study.bootstrap import (
    BootInterval,
    McNemar,
    Statistic,
    cluster_bootstrap,
    detectable_difference,
    mcnemar_exact,
    ratio,
)
from evaluation.study.floors import flip_pairs
from evaluation.study.truth import (
    RATES,
    RATIOS,
    CalibrationBin,
    Contestable,
    TruthScores,
    calibration,
    calibration_error,
    contestable_claims,
    outcomes,
    seed_sums,
    truth_scores,
)

#: The statistics compared with NUTS, pair by pair (fields of :class:`TruthScores`).
PAIRED = ("confident_error", "credible_false", "power", "brier", "calibration_error")


class PairedDifference(NamedTuple):
    """A statistic of the method minus NUTS's, on the seeds (and claims) both hold.

    ``difference``: its cluster-bootstrap interval; ``detectable``: the smallest difference
    detected with 80% power (:func:`~evaluation.study.bootstrap.detectable_difference`);
    ``test``: the exact McNemar test of the paired outcomes where one applies, else None."""

    difference: BootInterval
    detectable: float
    test: McNemar | None = None


class ErrorEvidence(NamedTuple):
    """One method of one world against the truth, and against NUTS.

    Attributes
    ----------
    method : str
    contestable, contestable_ok : TruthScores
        Over the world's contestable claims: every first fit; without the failed runs.
    every_claim, every_claim_ok : TruthScores
        Over every claim with a known truth: the same two.
    by_kind : dict of str to TruthScores
        Every claim with a known truth, per claim kind (every first fit).
    calibration : list of CalibrationBin
        The contestable claims (every first fit).
    vs_nuts, vs_nuts_ok : dict of str to PairedDifference
        :data:`PAIRED` statistics minus NUTS's, contestable claims; every run, and without
        the seeds where either first fit failed.  Empty for NUTS itself.
    n_failed_runs : int
        First fits failing the approximation rule.
    """

    method: str
    contestable: TruthScores
    contestable_ok: TruthScores
    every_claim: TruthScores
    every_claim_ok: TruthScores
    by_kind: dict[str, TruthScores]
    calibration: list[CalibrationBin]
    vs_nuts: dict[str, PairedDifference]
    vs_nuts_ok: dict[str, PairedDifference]
    n_failed_runs: int


def _side(stat: Statistic, prefix: str, x: Mapping[str, np.ndarray]) -> np.ndarray:
    """``stat`` of the columns of ``x`` named ``prefix`` + column."""
    return stat({k[len(prefix) :]: v for k, v in x.items() if k.startswith(prefix)})


def scored_by_both(own: pd.DataFrame, ref: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two methods' :func:`outcomes` restricted to the (seed, claim) pairs both scored."""
    keep = ["replicate", "name"]
    both = own.loc[own["scored"] == 1, keep].merge(ref.loc[ref["scored"] == 1, keep])
    return own.merge(both, on=keep), ref.merge(both, on=keep)


def paired_differences(
    own: pd.DataFrame,
    ref: pd.DataFrame,
    fields: Sequence[str] = PAIRED,
    level: float = 0.9,
    **boot: int,
) -> dict[str, PairedDifference]:
    """``fields`` (of :data:`PAIRED`) of the method's :func:`outcomes` minus NUTS's, paired.

    Both are restricted to the (seed, claim) pairs both scored (:func:`scored_by_both`), so
    each resample holds the same seeds and claims for both.  For ``confident_error`` the
    McNemar test compares, per pair, a confident error of the method with one of NUTS.
    """
    a, b = scored_by_both(own, ref)
    sums = seed_sums(a).add_prefix("m.").join(seed_sums(b).add_prefix("r."), how="inner")
    out = {}
    for field in fields:
        stat = calibration_error if field == "calibration_error" else ratio(*RATIOS[field])
        iv = cluster_bootstrap(sums, lambda x, s=stat: _side(s, "m.", x) - _side(s, "r.", x),
                               level, **boot)  # fmt: skip
        n = None
        if field in RATES:  # the Bernoulli term of the smaller denominator
            den = RATES[field][1]
            n = int(min(sums[f"m.{den}"].sum(), sums[f"r.{den}"].sum())) if len(sums) else 0
        test = None
        if field == "confident_error":
            test = mcnemar_exact(a["wrong"].astype(bool), b["wrong"].astype(bool))
        out[field] = PairedDifference(iv, detectable_difference(iv.se, iv.n_seeds, n, level),
                                      test)  # fmt: skip
    return out


def verdict_changes(
    claims: pd.DataFrame,
    method: str,
    nuts: str,
    nuts_repeat: str,
    thresholds: Thresholds,
    level: float = 0.9,
    **boot: int,
) -> PairedDifference:
    """The method's flips against NUTS minus NUTS's repeat's, per (seed, claim) compared.

    ``difference``: (Σ flips − Σ floor flips) / pairs, bootstrapped over seeds; ``test``: the
    McNemar test of the pairs where exactly one of the two flips.
    """
    pairs = flip_pairs(claims, method, nuts, nuts_repeat, thresholds=thresholds)
    sums = (pairs.assign(n=1).astype({"flip": float, "floor_flip": float})
            .groupby("replicate", sort=False)[["flip", "floor_flip", "n"]].sum())  # fmt: skip
    flips, floor = ratio("flip", "n"), ratio("floor_flip", "n")
    iv = cluster_bootstrap(sums, lambda x: flips(x) - floor(x), level, **boot)
    test = mcnemar_exact(pairs["flip"], pairs["floor_flip"])
    return PairedDifference(iv, detectable_difference(iv.se, iv.n_seeds, len(pairs), level), test)


def _ok_seeds(own: pd.DataFrame, ref: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both restricted to the seeds where neither first fit failed the rule."""
    bad = set(own.loc[own["failed"], "replicate"]) | set(ref.loc[ref["failed"], "replicate"])
    return own[~own["replicate"].isin(bad)], ref[~ref["replicate"].isin(bad)]


def error_evidence(
    claims: pd.DataFrame,
    methods: Sequence[str],
    nuts: str,
    thresholds: Thresholds,
    level: float = 0.9,
    **boot: int,
) -> tuple[Contestable, list[ErrorEvidence]]:
    """The world's contestable claims and, per method (``method_label`` of its first fit),
    its :class:`ErrorEvidence`; methods without a scored pair are left out.

    Parameters
    ----------
    claims : DataFrame
        :func:`evaluation.study.table.claims_table` of one world (with ``truth_status``).
    methods : sequence of str
        The methods, ``nuts`` among them or not (NUTS's own evidence comes first).
    nuts : str
        The reference's label.
    thresholds : Thresholds
        The ledger's.
    level : float
        Coverage of every interval; ``boot``: ``n_boot``, ``seed`` of the bootstrap.
    """
    rule = contestable_claims(claims, nuts, thresholds)
    ref = outcomes(claims, nuts, nuts, thresholds)
    out = []
    for m in dict.fromkeys([nuts, *methods]):
        own = ref if m == nuts else outcomes(claims, m, nuts, thresholds)
        if own["scored"].any():
            out.append(method_errors(m, own, None if m == nuts else ref, rule, level, **boot))
    return rule, out


def method_errors(
    method: str,
    own: pd.DataFrame,
    ref: pd.DataFrame | None,
    rule: Contestable,
    level: float = 0.9,
    **boot: int,
) -> ErrorEvidence:
    """:class:`ErrorEvidence` of one method's :func:`outcomes` (``ref``: NUTS's, to pair
    with; None for NUTS itself) under the world's contestable ``rule``."""
    own_c = own[own["name"].isin(rule.claims)]
    scores = {k: truth_scores(x, level, **boot) for k, x in (
        ("contestable", own_c), ("contestable_ok", own_c[~own_c["failed"]]),
        ("every_claim", own), ("every_claim_ok", own[~own["failed"]]))}  # fmt: skip
    vs, vs_ok = {}, {}
    if ref is not None:
        ref_c = ref[ref["name"].isin(rule.claims)]
        vs = paired_differences(own_c, ref_c, PAIRED, level, **boot)
        vs_ok = paired_differences(*_ok_seeds(own_c, ref_c), PAIRED, level, **boot)
    kinds = {k: truth_scores(g, level, **boot) for k, g in own.groupby("kind", sort=False)
             if g["scored"].any()}  # fmt: skip
    return ErrorEvidence(
        method=method, **scores, by_kind=kinds, calibration=calibration(own_c, level, **boot),
        vs_nuts=vs, vs_nuts_ok=vs_ok,
        n_failed_runs=int(own.drop_duplicates("replicate")["failed"].sum()),
    )  # fmt: skip


__all__ = ["PAIRED", "ErrorEvidence", "PairedDifference", "error_evidence", "method_errors",
           "paired_differences", "scored_by_both", "verdict_changes"]  # fmt: skip
