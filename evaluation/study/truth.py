"""Verdicts against the truth, per (seed, claim): errors both ways, power, Brier score and
calibration, with the seed as the bootstrap unit (issue 29).

A claim's truth is the claims judge's (``truth_status``: "true", "false", "not applicable",
"unknown"; :mod:`evaluation.study.table`).  Only "true" and "false" are scored; the others are
left out of every rate and counted.  The verdict is the judge's function
(:func:`evaluation.claims.ledger.verdict`) on P, its Monte Carlo error and the ledger's
thresholds: a P within two Monte Carlo errors of a threshold is undecided.

Per (seed, claim) of one method (:func:`outcomes`):

confident        credible or contradicted;
wrong            credible but false, or contradicted but true (a *confident error*);
sharpened        confident where the NUTS first fit of the same seed is undecided;
sq_error         (P − truth)², the Brier score's term;
bin              the calibration bin of P (:data:`CALIBRATION_BINS`).

:func:`seed_sums` adds them up per seed; every statistic is a ratio of those sums (pooled over
the (seed, claim) pairs) and gets a cluster-bootstrap interval over seeds
(:mod:`evaluation.study.bootstrap`): :func:`truth_scores` and :func:`calibration`.  The
calibration error is ``Σ_bins n_b |mean P_b − fraction true_b| / Σ n_b`` (the expected
calibration error, on these bins).  :func:`contestable_claims` is the rule fixed before the
runs for the headline's denominators.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from evaluation.claims.ledger import verdict
from evaluation.claims.load import Thresholds
from evaluation.study.bootstrap import BootInterval, cluster_bootstrap, rate_bootstrap, ratio

#: Edges of the calibration bins: [0, .05), [.05, .25), [.25, .5), [.5, .75), [.75, .95),
#: [.95, 1] (the verdict thresholds are edges).
CALIBRATION_BINS = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
#: The truth statuses of a claim entry; only the first two are scored.
TRUTH_STATUSES = ("true", "false", "not applicable", "unknown")
#: The per-pair indicators :func:`seed_sums` adds up (besides the calibration bins).
COUNTS = ("scored", "confident", "wrong", "credible", "credible_false", "contradicted_true",
          "true", "credible_true", "sharpened", "sharpened_wrong", "sq_error")  # fmt: skip


def verdicts(p: Sequence[float], mc_error: Sequence[float], thresholds: Thresholds) -> np.ndarray:
    """The judge's verdict per claim from P and its Monte Carlo error ("not evaluated" where P
    is NaN or None; a missing Monte Carlo error counts as 0)."""
    out = []
    for q, e in zip(p, mc_error, strict=True):
        q = None if q is None or pd.isna(q) else float(q)
        out.append(verdict(q, thresholds, 0.0 if e is None or pd.isna(e) else float(e)))
    return np.array(out, dtype=object)


def outcomes(claims: pd.DataFrame, method: str, nuts: str, thresholds: Thresholds) -> pd.DataFrame:
    """Per (seed, claim) of ``method``'s run (label ``method``: its first fit), scored.

    Parameters
    ----------
    claims : DataFrame
        :func:`evaluation.study.table.claims_table` of one scenario.
    method, nuts : str
        ``method_label`` of the method's run and of the NUTS run it is paired with.
    thresholds : Thresholds
        The ledger's.

    Returns
    -------
    DataFrame
        ``replicate``, ``name``, ``kind``, ``failed``, ``probability``, ``truth_status``,
        ``verdict``, ``nuts_verdict`` (None where NUTS has no run of the seed) and the
        :data:`COUNTS` (0 / 1, ``sq_error`` a float; all 0 unless ``scored``).
    """
    own = claims[claims["method_label"] == method]
    ref = claims[claims["method_label"] == nuts].set_index(["replicate", "name"])
    out = own[["replicate", "name", "probability", "truth_status"]].copy()
    out["kind"] = own["kind"] if "kind" in own else "-"
    out["failed"] = own["failed"].astype(bool) if "failed" in own else False
    out["verdict"] = verdicts(own["probability"], own["mc_error"], thresholds)
    ref_v = pd.Series(verdicts(ref["probability"], ref["mc_error"], thresholds), ref.index)
    keys = pd.MultiIndex.from_frame(own[["replicate", "name"]])
    out["nuts_verdict"] = ref_v.reindex(keys).to_numpy() if len(ref_v) else None
    status = out["truth_status"].astype(str)
    truth = (status == "true").to_numpy()
    scored = status.isin(["true", "false"]).to_numpy() & np.isfinite(out["probability"])
    credible = scored & (out["verdict"] == "credible").to_numpy()
    contradicted = scored & (out["verdict"] == "contradicted").to_numpy()
    confident, wrong = credible | contradicted, (credible & ~truth) | (contradicted & truth)
    sharpened = confident & (out["nuts_verdict"] == "undecided").to_numpy()
    flags = {"scored": scored, "confident": confident, "wrong": wrong, "credible": credible,
             "credible_false": credible & ~truth, "contradicted_true": contradicted & truth,
             "true": scored & truth, "credible_true": credible & truth,
             "sharpened": sharpened, "sharpened_wrong": sharpened & wrong}  # fmt: skip
    for name, flag in flags.items():
        out[name] = flag.astype(int)
    p = out["probability"].to_numpy(dtype=float)
    out["sq_error"] = np.where(scored, (np.nan_to_num(p) - truth) ** 2, 0.0)
    out["bin"] = np.where(scored, _bin(p), -1)
    return out.reset_index(drop=True)


def _bin(p: np.ndarray) -> np.ndarray:
    """The calibration bin of each P (the last bin holds 1.0)."""
    inner = np.asarray(CALIBRATION_BINS[1:-1])
    return np.searchsorted(inner, np.nan_to_num(p), side="right")


def seed_sums(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per seed, the sums of :data:`COUNTS` and per calibration bin ``b``: ``n{b}`` (pairs),
    ``p{b}`` (ΣP) and ``t{b}`` (Σ truth).  One row per seed in ``pairs``."""
    cols = {c: pairs[c].to_numpy(dtype=float) for c in COUNTS}
    p = pairs["probability"].fillna(0.0).to_numpy(dtype=float)
    bins, true = pairs["bin"].to_numpy(), pairs["true"].to_numpy(dtype=float)
    for b in range(len(CALIBRATION_BINS) - 1):
        in_bin = (bins == b).astype(float)
        cols.update({f"n{b}": in_bin, f"p{b}": in_bin * p, f"t{b}": in_bin * true})
    frame = pd.DataFrame(cols, index=pairs.index)
    return frame.groupby(pairs["replicate"].to_numpy(), sort=False).sum()


def calibration_error(x: Mapping[str, np.ndarray]) -> np.ndarray:
    """``Σ_b |ΣP_b − Σtruth_b| / Σ_b n_b`` of :func:`seed_sums` columns (NaN without pairs)."""
    bins = range(len(CALIBRATION_BINS) - 1)
    gap = sum(np.abs(np.asarray(x[f"p{b}"]) - np.asarray(x[f"t{b}"])) for b in bins)
    n = sum(np.asarray(x[f"n{b}"], dtype=float) for b in bins)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, gap / np.where(n > 0, n, 1.0), np.nan)


class TruthScores(NamedTuple):
    """How one method's verdicts fare against the truth, over (seed, claim) pairs.

    Attributes
    ----------
    confident_error : BootInterval
        (credible but false + contradicted but true) / confident verdicts.
    credible_false : BootInterval
        The share of credible calls that are false.
    power : BootInterval
        Credible calls among the true claims.
    sharpened_error : BootInterval
        Confident errors among the verdicts made confident where NUTS is undecided.
    brier : BootInterval
        Mean (P − truth)² over the scored pairs.
    calibration_error : BootInterval
        :func:`calibration_error`.
    n_credible_false, n_contradicted_true : int
        The confident errors of each kind.
    n_pairs : int
        (seed, claim) pairs scored (truth "true"/"false" and P evaluated).
    n_not_applicable, n_unknown, n_not_evaluated : int
        Pairs left out: truth "not applicable"; "unknown"; known but no P.
    """

    confident_error: BootInterval
    credible_false: BootInterval
    power: BootInterval
    sharpened_error: BootInterval
    brier: BootInterval
    calibration_error: BootInterval
    n_credible_false: int
    n_contradicted_true: int
    n_pairs: int
    n_not_applicable: int
    n_unknown: int
    n_not_evaluated: int


#: The proportions of :class:`TruthScores`: field -> (numerator, denominator) of
#: :data:`COUNTS`.
RATES = {
    "confident_error": ("wrong", "confident"),
    "credible_false": ("credible_false", "credible"),
    "power": ("credible_true", "true"),
    "sharpened_error": ("sharpened_wrong", "sharpened"),
}
#: Every ratio of sums of :class:`TruthScores`: the proportions and the Brier score (a mean).
RATIOS = {**RATES, "brier": ("sq_error", "scored")}


def truth_scores(pairs: pd.DataFrame, level: float = 0.9, **boot: int) -> TruthScores:
    """:class:`TruthScores` of :func:`outcomes` rows (any subset: a claim kind, the
    contestable claims, the runs that did not fail), bootstrapped over their seeds.

    ``boot``: ``n_boot`` and ``seed`` of :func:`~evaluation.study.bootstrap.cluster_bootstrap`.
    """
    sums = seed_sums(pairs)
    rates = {f: rate_bootstrap(sums, num, den, level, **boot) for f, (num, den) in RATES.items()}
    brier = cluster_bootstrap(sums, ratio(*RATIOS["brier"]), level, **boot)
    rates["brier"] = brier._replace(k=float(sums["sq_error"].sum()),
                                    n=float(sums["scored"].sum()))  # fmt: skip
    status = pairs["truth_status"].astype(str)
    known = status.isin(["true", "false"])
    return TruthScores(
        **rates,
        calibration_error=cluster_bootstrap(sums, calibration_error, level, **boot),
        n_credible_false=int(pairs["credible_false"].sum()),
        n_contradicted_true=int(pairs["contradicted_true"].sum()),
        n_pairs=int(pairs["scored"].sum()),
        n_not_applicable=int((status == "not applicable").sum()),
        n_unknown=int((~known & (status != "not applicable")).sum()),
        n_not_evaluated=int((known & ~pairs["probability"].notna()).sum()),
    )


class CalibrationBin(NamedTuple):
    """One bin of P: ``[lo, hi)`` (the last ``[lo, 1]``), its ``n`` pairs, their ``mean_p``
    and the ``fraction_true`` with its cluster-bootstrap interval."""

    lo: float
    hi: float
    n: int
    mean_p: float
    fraction_true: BootInterval


def calibration(pairs: pd.DataFrame, level: float = 0.9, **boot: int) -> list[CalibrationBin]:
    """P in :data:`CALIBRATION_BINS` against the fraction true, per bin (scored pairs only)."""
    sums = seed_sums(pairs)
    out = []
    for b, (lo, hi) in enumerate(itertools.pairwise(CALIBRATION_BINS)):
        n = float(sums[f"n{b}"].sum())
        mean_p = float(sums[f"p{b}"].sum()) / n if n else math.nan
        frac = rate_bootstrap(sums, f"t{b}", f"n{b}", level, **boot)
        out.append(CalibrationBin(lo, hi, int(n), mean_p, frac))
    return out


class Contestable(NamedTuple):
    """Which claims of a world the headline rates count (:func:`contestable_claims`).

    ``claims``: contestable, in table order; ``excluded``: the others (truth fixed in every
    seed and NUTS confident in every seed); ``varies``, ``nuts_undecided``: which contestable
    claims qualify by which half of the rule."""

    claims: tuple[str, ...]
    excluded: tuple[str, ...]
    varies: tuple[str, ...]
    nuts_undecided: tuple[str, ...]


def contestable_claims(claims: pd.DataFrame, nuts: str, thresholds: Thresholds) -> Contestable:
    """The rule fixed before the runs: a (world, claim) is contestable when its truth
    ("true"/"false") varies across the world's seeds, or NUTS (its first fit) leaves it
    undecided in some seed.  ``claims`` is one world's claims table."""
    names = list(dict.fromkeys(claims["name"]))
    status = claims.drop_duplicates(["replicate", "name"])
    known = status[status["truth_status"].isin(["true", "false"])]
    varies = set(known.groupby("name")["truth_status"].nunique().loc[lambda s: s > 1].index)
    ref = claims[claims["method_label"] == nuts]
    said = pd.Series(verdicts(ref["probability"], ref["mc_error"], thresholds), ref.index)
    undecided = set(ref.loc[said == "undecided", "name"])
    keep = [n for n in names if n in varies or n in undecided]
    return Contestable(tuple(keep), tuple(n for n in names if n not in keep),
                       tuple(n for n in keep if n in varies),
                       tuple(n for n in keep if n in undecided))  # fmt: skip


def claim_outcomes(
    claims: pd.DataFrame, method: str, nuts: str, thresholds: Thresholds
) -> pd.DataFrame:
    """Per claim, over the seeds: how often ``method``'s verdict differs from NUTS's and how
    often each of them is confidently wrong.

    Returns
    -------
    DataFrame
        Indexed by claim name (the claims' order): ``paired`` (seeds with both verdicts),
        ``differs`` (of those, the verdicts differ: any change, noise included), ``scored``
        and ``wrong`` (seeds with a true / false truth; confident and wrong there), and
        ``nuts_scored``, ``nuts_wrong`` (NUTS's own, on its first fits).
    """
    own = outcomes(claims, method, nuts, thresholds)
    ref = outcomes(claims, nuts, nuts, thresholds)
    both = own["nuts_verdict"].notna()
    own = own.assign(
        paired=both.astype(int),
        differs=(both & (own["verdict"] != own["nuts_verdict"])).astype(int),
    )
    out = own.groupby("name", sort=False)[["paired", "differs", "scored", "wrong"]].sum()
    ref_sums = ref.groupby("name", sort=False)[["scored", "wrong"]].sum()
    ref_sums.columns = ["nuts_scored", "nuts_wrong"]
    return out.join(ref_sums).fillna(0).astype(int)


__all__ = ["CALIBRATION_BINS", "COUNTS", "RATES", "RATIOS", "TRUTH_STATUSES", "CalibrationBin",
           "Contestable", "TruthScores", "calibration", "calibration_error", "claim_outcomes",
           "contestable_claims", "outcomes", "seed_sums", "truth_scores", "verdicts"]  # fmt: skip
