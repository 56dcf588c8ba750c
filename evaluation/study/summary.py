"""Per method, over the data seeds of one scenario: the evidence (:mod:`.evidence`).

:func:`method_evidence` gathers, for every method of a scenario, its flips against NUTS
beside NUTS against NUTS and beside its own repeat (VI against VI), the mean |ΔP| over the
claims, the false-credible rate, power and Brier score where the truth is known, and how many
of its runs failed.  :func:`metric_evidence` is a run metric (a ``comparison.csv`` column) as a
mean over seeds with its interval, beside NUTS's repeat.  Numbers only, as NamedTuples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from evaluation.claims.compare import compare_ledgers
from evaluation.study.evidence import (
    FlipTotals,
    Interval,
    Rate,
    TruthScores,
    flip_totals,
    ledger_section,
    rate_interval,
    seed_interval,
    truth_scores,
)
from evaluation.sweep.columns import first_of, repeat_label, truthy

#: The reference method of the study (its repeat is the NUTS-vs-NUTS floor).
NUTS = "pymc_nuts"
#: The order of the methods in the study's tables (others follow in sweep order): NUTS, the
#: mean-fields, then the richer approximations.
METHOD_ORDER = ("pymc_nuts", "pyro_meanfield", "pymc_meanfield", "stan_meanfield",
                "pyro_lowrank", "pymc_dadvi_lr", "pyro_fullrank")  # fmt: skip
#: The mean-field methods (the first is the one whose claims the document lists one by one).
MEANFIELDS = ("pyro_meanfield", "pymc_meanfield", "stan_meanfield")
LEVEL = 0.9


class MethodEvidence(NamedTuple):
    """One method of one scenario, over the data seeds holding its runs.

    Attributes
    ----------
    method : str
        Its label (``method_base``); ``family``: ``"mcmc"`` or ``"vi"``.
    flips : FlipTotals
        Claims flipped per seed against NUTS, NUTS's repeat against NUTS (the floor) and
        their paired difference.
    repeat_flips : Interval
        Claims flipped per seed between the method's two fits (its own seed floor; for NUTS,
        NUTS against NUTS).
    abs_delta, abs_delta_floor : Interval
        Per seed the mean |ΔP| over the claims both runs evaluated, against NUTS; NUTS's
        repeat against NUTS.
    truth : TruthScores or None
        Where the data's truth decides the claims (first fits only); None without truth.
    failed : Rate
        Runs (both fits) failing the approximation rule.
    fit_s : Interval
        Fit seconds per run.
    n_seeds : int
        Data seeds holding a run of the method.
    """

    method: str
    family: str
    flips: FlipTotals
    repeat_flips: Interval
    abs_delta: Interval
    abs_delta_floor: Interval
    truth: TruthScores | None
    failed: Rate
    fit_s: Interval
    n_seeds: int = 0


def _pivot(claims: pd.DataFrame, label: str) -> pd.DataFrame:
    rows = claims[claims["method_label"] == label]
    return rows.pivot_table(index="replicate", columns="name", values="probability",
                            aggfunc="first")  # fmt: skip


def mean_abs_delta(claims: pd.DataFrame, label: str, reference: str) -> pd.Series:
    """Per seed, the mean over claims of |P(label) − P(reference)| (claims both evaluated)."""
    a, b = _pivot(claims, label), _pivot(claims, reference)
    diff = (a - b.reindex_like(a)).abs()
    return diff.mean(axis=1, skipna=True).dropna()


def _truth(claims: pd.DataFrame, label: str, threshold: float) -> TruthScores | None:
    rows = claims[(claims["method_label"] == label) & claims["truth_value"].notna()]
    if rows.empty:
        return None
    p, truth, seeds = rows["probability"], rows["truth_value"], rows["replicate"]
    return truth_scores(p, truth, threshold, seeds, rows["mc_error"], LEVEL)


def method_evidence(
    claims: pd.DataFrame, runs: pd.DataFrame, threshold: float, nuts: str = NUTS
) -> list[MethodEvidence]:
    """Every method of one scenario, NUTS first, then in :data:`METHOD_ORDER` and sweep order.

    Parameters
    ----------
    claims : DataFrame
        :func:`evaluation.study.table.claims_table` of one scenario.
    runs : DataFrame
        The comparison table's complete runs of the same scenario.
    threshold : float
        The ledger's credible threshold.
    nuts : str
        The reference method; its repeat (``"<nuts> (repeat 1)"``) is the floor.
    """
    nuts_repeat = repeat_label(nuts, 1)
    present = list(dict.fromkeys(runs["method_base"]))
    ordered = [m for m in METHOD_ORDER if m in present and m != nuts]
    methods = [nuts, *ordered, *(m for m in present if m not in ordered and m != nuts)]
    out = []
    for m in methods:
        own = runs[runs["method_base"] == m]
        if own.empty:
            continue
        repeat = repeat_label(m, 1)
        floor_self = flip_totals(claims, repeat, m, repeat, LEVEL).flips
        fails = own["verdict.failed"].map(truthy) if "verdict.failed" in own else [0]
        out.append(MethodEvidence(
            method=m, family=str(own["family"].iloc[0]),
            flips=flip_totals(claims, m, nuts, nuts_repeat, LEVEL),
            repeat_flips=floor_self,
            abs_delta=seed_interval(mean_abs_delta(claims, m, nuts), LEVEL),
            abs_delta_floor=seed_interval(mean_abs_delta(claims, nuts_repeat, nuts), LEVEL),
            truth=_truth(claims, m, threshold),
            failed=rate_interval(int(np.sum(fails)), len(own), LEVEL),
            fit_s=seed_interval(pd.to_numeric(own.get("timing.fit_s"), errors="coerce"), LEVEL),
            n_seeds=int(own["replicate"].nunique()) if "replicate" in own else 0,
        ))  # fmt: skip
    return out


class FlipDirections(NamedTuple):
    """Where a method's flips against NUTS go, where the truth is known (first fits).

    ``sharper_right``: NUTS undecided, the method confident and right (credible and true, or
    contradicted and false); ``sharper_wrong``: confident and wrong; ``softer``: NUTS
    confident, the method undecided; ``reversed``: credible and contradicted swapped;
    ``unknown``: flips of claims without a truth.  ``seeds``: the seeds counted.
    """

    sharper_right: int
    sharper_wrong: int
    softer: int
    reversed: int
    unknown: int
    seeds: int


def flip_directions(claims: pd.DataFrame, method: str, nuts: str = NUTS) -> FlipDirections:
    """Count ``method``'s flips against ``nuts`` (both first fits) by where they go; a flip is
    :func:`~evaluation.claims.compare.compare_ledgers`' ``differs``, seed by seed."""
    truth = claims[claims["method_label"] == nuts].set_index(["replicate", "name"])["truth_value"]
    counts, seeds = dict.fromkeys(FlipDirections._fields[:-1], 0), 0
    for rep, group in claims.groupby("replicate", sort=False):
        ref, own = (group[group["method_label"] == label] for label in (nuts, method))
        if ref.empty or own.empty:
            continue
        seeds += 1
        for r in compare_ledgers(ledger_section(ref), ledger_section(own)):
            if r["differs"]:
                counts[_direction(r, truth.get((rep, r["name"])))] += 1
    return FlipDirections(**counts, seeds=seeds)


def _direction(row: dict, truth: object) -> str:
    """Which :class:`FlipDirections` field one flipped claim counts in."""
    before, after = row["verdict_reference"], row["verdict_other"]
    if truth is None or pd.isna(truth):
        return "unknown"
    if before == "undecided":
        return "sharper_right" if (after == "credible") == bool(truth) else "sharper_wrong"
    return "softer" if after == "undecided" else "reversed"


def metric_evidence(
    runs: pd.DataFrame, column: str | Sequence[str], methods: Sequence[str]
) -> dict[str, Interval]:
    """A run metric per method label (first fits and repeats apart): mean over seeds."""
    cols = [column] if isinstance(column, str) else list(column)
    values = pd.to_numeric(first_of(runs, cols), errors="coerce").astype(float)
    return {m: seed_interval(values[runs["method_label"] == m], LEVEL) for m in methods}


__all__ = [
    "LEVEL",
    "MEANFIELDS",
    "METHOD_ORDER",
    "NUTS",
    "FlipDirections",
    "MethodEvidence",
    "flip_directions",
    "mean_abs_delta",
    "method_evidence",
    "metric_evidence",
]
