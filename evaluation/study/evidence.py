"""The statistics of the study's evidence (issue 22): replicated, paired and falsifiable.

Numbers only (no fit, file or figure), as small NamedTuples: :func:`seed_interval` (a mean
over data seeds, Student-t), :func:`rate_interval` (a count, Wilson), :func:`delta_p` (ΔP =
P(method) − P(NUTS) with its Monte Carlo error), :func:`paired_floor` and :func:`flip_totals`
(a method against NUTS beside NUTS against NUTS of the same seeds), :func:`truth_scores`
(false-credible rate, power and Brier score where the claims' truth is known by design).

Verdicts and flips are the claims judge's, imported, never redefined: the verdict is
:func:`evaluation.claims.ledger.verdict` (credible, contradicted; undecided also within two Monte
Carlo errors of a threshold) and a claim *flips* when both runs give it a verdict and the
verdicts differ (:func:`evaluation.claims.compare.compare_ledgers`; "not identified" and "not
evaluated" are no verdict, so never a flip; a ``counted_with`` group counts once in
:func:`flip_totals`).

The claims table
----------------
:func:`paired_floor` and :func:`flip_totals` read a long table with one row per (run, claim):
one entry of a run's ``metrics["claims"]["claims"]`` (what :mod:`evaluation.sweep.claims` pairs
through :func:`~evaluation.claims.compare.compare_ledgers`) beside the run's labels in
``comparison.csv``.  Columns read (:data:`CLAIM_COLUMNS`):

``replicate``      the data seed (comparison.csv's ``replicate``): runs pair within it;
``method_label``   which run (comparison.csv's ``method_label``, or ``label_column``); the two
                   NUTS runs of one seed need two labels (e.g. ``"pymc_nuts"``, ``"pymc_nuts #2"``);
``name``           the claim's name;
``probability``    P(claim) (NaN or None when not evaluated);
``mc_error``       its Monte Carlo error (:mod:`evaluation.claims.precision`);
``verdict``        the run's verdict (:data:`evaluation.claims.compare.VERDICTS`);
``counted_with``   optional: the claim whose flip this near-duplicate's counts with;
``scenario``       optional: if present it must hold one value (pair one scenario at a time).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from evaluation.claims.compare import compare_ledgers
from evaluation.claims.ledger import verdict
from evaluation.claims.load import Thresholds

#: Columns of the claims table :func:`paired_floor` needs (``method_label`` is the default of
#: its ``label_column``).
CLAIM_COLUMNS = ("replicate", "method_label", "name", "probability", "mc_error", "verdict")


class Interval(NamedTuple):
    """The ``mean`` of ``n`` finite values (seeds) and its interval ``(lo, hi)``: all NaN when
    ``n == 0``, ``lo`` and ``hi`` NaN when ``n == 1``."""

    mean: float
    lo: float
    hi: float
    n: int


class Rate(NamedTuple):
    """``k`` successes out of ``n`` trials: ``rate = k / n`` and its Wilson interval
    ``(lo, hi)`` (all three NaN when ``n == 0``)."""

    rate: float
    lo: float
    hi: float
    k: int
    n: int


class DeltaP(NamedTuple):
    """ΔP = P(method) − P(reference) and its Monte Carlo error ``sqrt(mc_m² + mc_r²)``."""

    delta: Any
    mc_error: Any


class ClaimFloor(NamedTuple):
    """One claim: a method against NUTS beside NUTS against NUTS, over the same seeds.

    Attributes
    ----------
    delta : Interval
        Signed ΔP = P(method) − P(NUTS) (> 0: the method is surer the claim holds).
    abs_delta, abs_delta_floor : Interval
        |ΔP(method, NUTS)| and |ΔP(NUTS repeat, NUTS)|.
    excess_abs_delta : Interval
        The paired per-seed differences ``|ΔP(method)| − |ΔP(floor)|``.
    mc_error : float
        Mean Monte Carlo error of ΔP(method, NUTS).
    flips, floor_flips : Rate
        Seeds in which this claim flips (method vs NUTS; NUTS repeat vs NUTS; ``counted_with``
        aside) out of those in which both runs gave it a verdict.
    excess_flips : Interval
        The paired per-seed differences ``flip(method) − flip(floor)`` (0 or ±1), over the
        seeds in which both comparisons gave a verdict.
    """

    delta: Interval
    abs_delta: Interval
    abs_delta_floor: Interval
    excess_abs_delta: Interval
    mc_error: float
    flips: Rate
    floor_flips: Rate
    excess_flips: Interval


class FlipTotals(NamedTuple):
    """Claims flipped per seed (``counted_with`` groups once): method vs NUTS (``flips``), NUTS
    repeat vs NUTS (``floor_flips``) and their paired difference (``excess``), over seeds."""

    flips: Interval
    floor_flips: Interval
    excess: Interval


class TruthScores(NamedTuple):
    """How a method's claims fare in a world built to know their truth.

    Attributes
    ----------
    false_credible, power : Rate
        Called credible, of the claims false (true) by construction.
    brier : Interval
        Per seed the mean of ``(P - truth)²`` over its claims; over seeds.
    n_unknown, n_not_evaluated : int
        Entries left out: truth unknown (NaN or None); truth known but P NaN (not evaluated).
    """

    false_credible: Rate
    power: Rate
    brier: Interval
    n_unknown: int
    n_not_evaluated: int


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")


def seed_interval(values: ArrayLike, level: float = 0.9) -> Interval:
    """The mean over seeds and its Student-t interval.

    Parameters
    ----------
    values : array_like of float
        One value per seed; NaN and infinite values are left out (and not counted in ``n``).
    level : float
        Coverage of the interval.

    Returns
    -------
    Interval
        ``mean ± t_{(1+level)/2, n-1} · sd / sqrt(n)`` (``sd`` with ``ddof=1``).
    """
    _check_level(level)
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1)
    half = float(stats.t.ppf((1.0 + level) / 2.0, n - 1)) * float(x.std(ddof=1)) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or int(value) != value:
        raise ValueError(f"{what} must be a whole number, got {value!r}")
    return int(value)


def rate_interval(successes: int, trials: int, level: float = 0.9) -> Rate:
    """A rate and its Wilson score interval.

    With ``z`` the ``(1 + level) / 2`` normal quantile and ``p = k / n``, the interval is
    ``(p + z²/2n ± z · sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)``: unlike ``p ± z·se`` it stays in
    [0, 1] and is not empty at ``k = 0`` or ``k = n``.

    Parameters
    ----------
    successes, trials : int
        Whole numbers, ``0 <= successes <= trials`` (else ValueError).
    level : float
        Coverage of the interval.

    Returns
    -------
    Rate
        All NaN but the counts when ``trials == 0``.
    """
    _check_level(level)
    k, n = _count(successes, "successes"), _count(trials, "trials")
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= successes <= trials, got {k} of {n}")
    if n == 0:
        return Rate(math.nan, math.nan, math.nan, 0, 0)
    z = float(stats.norm.ppf((1.0 + level) / 2.0))
    p, z2 = k / n, z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4 * n * n)) / denom
    return Rate(p, max(0.0, centre - half), min(1.0, centre + half), k, n)


def delta_p(
    p_method: ArrayLike, p_reference: ArrayLike, mc_method: ArrayLike, mc_reference: ArrayLike
) -> DeltaP:
    """ΔP = P(method) − P(reference) per claim, with its Monte Carlo error.

    The two runs are independent, so their Monte Carlo errors add in quadrature:
    ``sqrt(mc_method² + mc_reference²)``.  Arrays broadcast; None and NaN give NaN.

    Returns
    -------
    DeltaP
        Arrays of the broadcast shape (NumPy scalars for scalars).
    """
    pm, pr, mm, mr = (np.asarray(a, dtype=float) for a in (p_method, p_reference, mc_method,
                                                            mc_reference))  # fmt: skip
    return DeltaP(np.subtract(pm, pr)[()], np.hypot(mm, mr)[()])


# ------------------------------------------------------------------------------ paired floor
def ledger_section(rows: pd.DataFrame) -> dict[str, Any]:
    """The claims-table rows of one run as the ``claims`` section :func:`compare_ledgers`
    reads (so flips are counted by the claims judge, never redefined here)."""
    entries = []
    for rec in rows.to_dict("records"):
        p, mc, group = rec["probability"], rec["mc_error"], rec.get("counted_with")
        entries.append({
            "name": str(rec["name"]),
            "verdict": rec["verdict"],
            "identified": rec["verdict"] != "not identified",
            "probability": None if pd.isna(p) else float(p),
            "mc_error": None if pd.isna(mc) else float(mc),
            "counted_with": None if pd.isna(group) else group,
        })  # fmt: skip
    return {"claims": entries}


def _check_table(claims: pd.DataFrame, label_column: str) -> None:
    needed = [c if c != "method_label" else label_column for c in CLAIM_COLUMNS]
    missing = [c for c in needed if c not in claims.columns]
    if missing:
        raise ValueError(f"the claims table lacks the column(s) {', '.join(missing)}")
    if "scenario" in claims.columns and claims["scenario"].nunique(dropna=False) > 1:
        raise ValueError("the claims table holds several scenarios: pair one at a time")
    if claims.duplicated(["replicate", label_column, "name"]).any():
        raise ValueError("the claims table repeats a (replicate, run, claim) row")


def _paired_seeds(
    claims: pd.DataFrame, labels: tuple[str, str, str], label_column: str
) -> list[tuple[list[dict], list[dict]]]:
    """Per seed holding all three runs: (NUTS vs method, NUTS vs NUTS repeat) comparisons."""
    _check_table(claims, label_column)
    method, nuts, repeat = labels
    out = []
    for _, group in claims.groupby("replicate", sort=False):
        runs = {label: group[group[label_column] == label] for label in labels}
        if any(run.empty for run in runs.values()):
            continue
        reference = ledger_section(runs[nuts])
        out.append((compare_ledgers(reference, ledger_section(runs[method])),
                    compare_ledgers(reference, ledger_section(runs[repeat]))))  # fmt: skip
    return out


_DELTA_KEYS = ("probability_other", "probability_reference", "mc_error_other",
               "mc_error_reference")  # fmt: skip


def _delta(row: dict | None) -> DeltaP:
    """ΔP of one compared claim (other minus reference); NaN when absent or not evaluated."""
    if row is None:
        return DeltaP(math.nan, math.nan)
    return delta_p(*(row[k] for k in _DELTA_KEYS))


def _flip(row: dict | None) -> float:
    """1 if the claim flips, 0 if both runs gave it the same verdict, NaN if not compared."""
    return float(row["differs"]) if row is not None and row["evaluated"] else math.nan


def _rate_of(flags: Sequence[float], level: float) -> Rate:
    x = np.asarray(flags, dtype=float)
    x = x[np.isfinite(x)]
    return rate_interval(int(x.sum()), int(x.size), level)


def _per_seed(seeds: list[tuple[list[dict], list[dict]]]) -> dict[str, dict[str, list[float]]]:
    """Per claim (first-seen order), per seed: ΔP, its error and the flips of both pairs."""
    keys = ("delta", "floor", "mc", "flip", "floor_flip")
    acc: dict[str, dict[str, list[float]]] = {}
    for vs_method, vs_floor in seeds:
        m, f = {r["name"]: r for r in vs_method}, {r["name"]: r for r in vs_floor}
        for name in dict.fromkeys([*m, *f]):
            a = acc.setdefault(name, {k: [] for k in keys})
            d = _delta(m.get(name))
            values = (d.delta, _delta(f.get(name)).delta, d.mc_error,
                      _flip(m.get(name)), _flip(f.get(name)))  # fmt: skip
            for key, value in zip(keys, values, strict=True):
                a[key].append(float(value))
    return acc


def paired_floor(
    claims: pd.DataFrame,
    method: str,
    nuts: str,
    nuts_repeat: str,
    level: float = 0.9,
    label_column: str = "method_label",
) -> dict[str, ClaimFloor]:
    """Per claim, a method against NUTS beside NUTS against NUTS on the same data seeds.

    Parameters
    ----------
    claims : DataFrame
        The long claims table of one scenario (module docstring); ValueError when a column is
        missing, it holds several scenarios or repeats a (replicate, run, claim).
    method, nuts, nuts_repeat : str
        Labels (in ``label_column``): the method, the NUTS run both are compared with, and
        the second NUTS run of the same data (another chain seed), the floor.
    level : float
        Coverage of every interval.
    label_column : str

    Returns
    -------
    dict of str to ClaimFloor
        By claim, in first-seen order, over the seeds holding all three runs (each ``n`` says
        how many).
    """
    acc = _per_seed(_paired_seeds(claims, (method, nuts, nuts_repeat), label_column))
    out = {}
    for name, a in acc.items():
        delta, floor = np.asarray(a["delta"]), np.asarray(a["floor"])
        flip, floor_flip = np.asarray(a["flip"]), np.asarray(a["floor_flip"])
        out[name] = ClaimFloor(
            delta=seed_interval(delta, level),
            abs_delta=seed_interval(np.abs(delta), level),
            abs_delta_floor=seed_interval(np.abs(floor), level),
            excess_abs_delta=seed_interval(np.abs(delta) - np.abs(floor), level),
            mc_error=seed_interval(a["mc"], level).mean,
            flips=_rate_of(flip, level),
            floor_flips=_rate_of(floor_flip, level),
            excess_flips=seed_interval(flip - floor_flip, level),
        )
    return out


def flip_totals(
    claims: pd.DataFrame,
    method: str,
    nuts: str,
    nuts_repeat: str,
    level: float = 0.9,
    label_column: str = "method_label",
) -> FlipTotals:
    """Counted flips per seed of a method and of the floor, as the sweep counts them.

    Per seed, the number of claims flipping between the method and NUTS, and between the NUTS
    repeat and NUTS (:func:`~evaluation.claims.compare.compare_ledgers`' ``changed``: a
    ``counted_with`` group counts once), then their means over the seeds holding all three
    runs and the paired mean difference.  Parameters as :func:`paired_floor`.
    """
    seeds = _paired_seeds(claims, (method, nuts, nuts_repeat), label_column)
    own = np.array([sum(r["changed"] for r in m) for m, _ in seeds], dtype=float)
    floor = np.array([sum(r["changed"] for r in f) for _, f in seeds], dtype=float)
    return FlipTotals(seed_interval(own, level), seed_interval(floor, level),
                      seed_interval(own - floor, level))  # fmt: skip


# ------------------------------------------------------------------------------ truth scores
def _truth(truth: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(known, value): which truths are known (not NaN or None), and those true."""
    raw = np.asarray(truth, dtype=object).ravel()
    known = ~pd.isna(raw).astype(bool)
    bad = [v for v in raw[known] if v not in (0, 1)]
    if bad:
        raise ValueError(f"a claim's truth must be true, false or unknown, got {bad[0]!r}")
    value = np.array([bool(v) if k else False for v, k in zip(raw, known, strict=True)])
    return known, value.astype(bool)


def truth_scores(
    p: ArrayLike,
    truth: ArrayLike,
    credible_threshold: float,
    seeds: ArrayLike | None = None,
    mc_error: ArrayLike | None = None,
    level: float = 0.9,
) -> TruthScores:
    """False-credible rate, power and Brier score of claims whose truth is known by design.

    Parameters
    ----------
    p : array_like of float, shape (m,)
        P(claim), one per (seed, claim); NaN (or None) when the claim was not evaluated.
    truth : array_like, shape (m,)
        True or False (or 1 / 0) by construction; NaN or None when unknown.
    credible_threshold : float
        The ledger's.  "Credible" is :func:`evaluation.claims.ledger.verdict`'s: with
        ``mc_error``, a P within two Monte Carlo errors of the threshold is undecided.
    seeds : array_like, shape (m,), optional
        Each entry's data seed: Brier is averaged per seed, then over seeds (default: one).
    mc_error : array_like of float, shape (m,), optional
        Monte Carlo errors of ``p`` (default 0).
    level : float

    Returns
    -------
    TruthScores
        The rates count every (seed, claim) as one trial; claims of one seed share a data set
        and are not independent, so their Wilson intervals may be too narrow.
    """
    prob = np.asarray(p, dtype=float).ravel()
    known, value = _truth(truth)
    mc = np.zeros_like(prob) if mc_error is None else np.asarray(mc_error, float).ravel()
    group = np.zeros(prob.size) if seeds is None else np.asarray(seeds, dtype=object).ravel()
    if not prob.size == known.size == mc.size == group.size:
        raise ValueError("p, truth, seeds and mc_error need one entry per (seed, claim)")
    used = known & np.isfinite(prob)
    th = Thresholds(credible=credible_threshold, contradicted=0.0)
    credible = np.array([bool(u) and verdict(float(q), th, float(e)) == "credible"
                         for q, e, u in zip(prob, mc, used, strict=True)], dtype=bool)  # fmt: skip
    sq = pd.Series((prob[used] - value[used]) ** 2)
    per_seed = sq.groupby(group[used], sort=False).mean() if used.any() else sq
    false, true = used & ~value, used & value
    return TruthScores(
        false_credible=rate_interval(int((credible & false).sum()), int(false.sum()), level),
        power=rate_interval(int((credible & true).sum()), int(true.sum()), level),
        brier=seed_interval(per_seed.to_numpy(), level),
        n_unknown=int((~known).sum()),
        n_not_evaluated=int((known & ~np.isfinite(prob)).sum()),
    )


__all__ = ["CLAIM_COLUMNS", "ClaimFloor", "DeltaP", "FlipTotals", "Interval", "Rate",
           "TruthScores", "delta_p", "flip_totals", "ledger_section", "paired_floor",
           "rate_interval", "seed_interval", "truth_scores"]  # fmt: skip
