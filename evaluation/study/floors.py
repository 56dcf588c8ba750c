"""A method against NUTS beside NUTS against NUTS on the same data seeds: the paired floors.

A claim *flips* between two runs as the claims judge says
(:func:`evaluation.claims.compare.compare_ledgers`' ``differs``: a change of verdict beyond
Monte Carlo noise; "not identified" and "not evaluated" are no verdict, so never a flip; a
``counted_with`` group counts once in :func:`flip_totals`).  Flips are imported, never
redefined here.  :func:`paired_floor` gives per claim ΔP and flip rates of the method and of
NUTS's repeat (the floor); :func:`flip_totals` the flips per seed; :func:`flip_pairs` the
flips per (seed, claim), for the paired tests of :mod:`evaluation.study.errors`.

The claims table
----------------
These functions read a long table with one row per (run, claim): one entry of a run's
``metrics["claims"]["claims"]`` beside the run's labels in ``comparison.csv``
(:func:`evaluation.study.table.claims_table`).  Columns read (:data:`CLAIM_COLUMNS`):

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
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from evaluation.claims.compare import compare_ledgers
from evaluation.claims.load import Thresholds
from evaluation.study.evidence import DeltaP, Interval, Rate, delta_p, rate_interval, seed_interval

#: Columns of the claims table :func:`paired_floor` needs (``method_label`` is the default of
#: its ``label_column``).
CLAIM_COLUMNS = ("replicate", "method_label", "name", "probability", "mc_error", "verdict")


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


def ledger_section(rows: pd.DataFrame, thresholds: Thresholds | None = None) -> dict[str, Any]:
    """The claims-table rows of one run as the ``claims`` section :func:`compare_ledgers`
    reads (so flips are counted by the claims judge, never redefined here), with the ledger's
    ``thresholds`` (the judge's default when None)."""
    th = thresholds or Thresholds()
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
    return {"claims": entries,
            "thresholds": {"credible": th.credible, "contradicted": th.contradicted}}  # fmt: skip


def _check_table(claims: pd.DataFrame, label_column: str) -> None:
    needed = [c if c != "method_label" else label_column for c in CLAIM_COLUMNS]
    missing = [c for c in needed if c not in claims.columns]
    if missing:
        raise ValueError(f"the claims table lacks the column(s) {', '.join(missing)}")
    if "scenario" in claims.columns and claims["scenario"].nunique(dropna=False) > 1:
        raise ValueError("the claims table holds several scenarios: pair one at a time")
    if claims.duplicated(["replicate", label_column, "name"]).any():
        raise ValueError("the claims table repeats a (replicate, run, claim) row")


def paired_seeds(
    claims: pd.DataFrame,
    labels: tuple[str, str, str],
    label_column: str = "method_label",
    thresholds: Thresholds | None = None,
) -> dict[Any, tuple[list[dict], list[dict]]]:
    """Per seed holding all three runs ``(method, nuts, nuts_repeat)``: the
    :func:`~evaluation.claims.compare.compare_ledgers` rows of NUTS vs the method and of NUTS
    vs its repeat (the floor), by seed in first-seen order."""
    _check_table(claims, label_column)
    method, nuts, repeat = labels
    out = {}
    for seed, group in claims.groupby("replicate", sort=False):
        runs = {label: group[group[label_column] == label] for label in labels}
        if any(run.empty for run in runs.values()):
            continue
        ref, own, floor = (ledger_section(runs[x], thresholds) for x in (nuts, method, repeat))
        out[seed] = (compare_ledgers(ref, own), compare_ledgers(ref, floor))
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


def _per_seed(seeds: Iterable[tuple[list[dict], list[dict]]]) -> dict[str, dict[str, list[float]]]:
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
    thresholds: Thresholds | None = None,
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
    thresholds : Thresholds, optional
        The ledger's (a flip needs a threshold between the two P): the judge's default if None.

    Returns
    -------
    dict of str to ClaimFloor
        By claim, in first-seen order, over the seeds holding all three runs (each ``n`` says
        how many).
    """
    seeds = paired_seeds(claims, (method, nuts, nuts_repeat), label_column, thresholds)
    acc = _per_seed(seeds.values())
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
    thresholds: Thresholds | None = None,
) -> FlipTotals:
    """Counted flips per seed of a method and of the floor, as the sweep counts them.

    Per seed, the number of claims flipping between the method and NUTS, and between the NUTS
    repeat and NUTS (:func:`~evaluation.claims.compare.compare_ledgers`' ``changed``: a
    ``counted_with`` group counts once), then their means over the seeds holding all three
    runs and the paired mean difference.  Parameters as :func:`paired_floor`.
    """
    seeds = paired_seeds(claims, (method, nuts, nuts_repeat), label_column, thresholds).values()
    own = np.array([sum(r["changed"] for r in m) for m, _ in seeds], dtype=float)
    floor = np.array([sum(r["changed"] for r in f) for _, f in seeds], dtype=float)
    return FlipTotals(seed_interval(own, level), seed_interval(floor, level),
                      seed_interval(own - floor, level))  # fmt: skip


def flip_pairs(
    claims: pd.DataFrame,
    method: str,
    nuts: str,
    nuts_repeat: str,
    label_column: str = "method_label",
    thresholds: Thresholds | None = None,
) -> pd.DataFrame:
    """Per (seed, claim) compared by both pairs: whether the method flips against NUTS and
    whether NUTS's repeat does (the floor), for a paired test of the verdict changes.

    Returns
    -------
    DataFrame
        Columns ``replicate``, ``name``, ``flip`` and ``floor_flip`` (bool), one row per
        (seed, claim) to which all three runs gave a verdict, over the seeds holding all three.
    """
    rows = []
    seeds = paired_seeds(claims, (method, nuts, nuts_repeat), label_column, thresholds)
    for seed, (vs_method, vs_floor) in seeds.items():
        floor = {r["name"]: r for r in vs_floor}
        for r in vs_method:
            f = floor.get(r["name"])
            if r["evaluated"] and f is not None and f["evaluated"]:
                rows.append((seed, r["name"], bool(r["differs"]), bool(f["differs"])))
    return pd.DataFrame(rows, columns=["replicate", "name", "flip", "floor_flip"])


__all__ = ["CLAIM_COLUMNS", "ClaimFloor", "FlipTotals", "flip_pairs", "flip_totals",
           "ledger_section", "paired_floor", "paired_seeds"]  # fmt: skip
