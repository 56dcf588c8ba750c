"""Per method, over the data seeds of one scenario: the evidence.

:func:`method_evidence` gathers, for every method of a scenario, its flips against NUTS
beside NUTS against NUTS and beside its own repeat (VI against VI; :mod:`.floors`), the
paired test of those verdict changes, the mean |ΔP| over the claims, its errors against the
truth and calibration where the truth is known, paired with NUTS (:mod:`.errors`), and how
many of its runs failed.  :func:`metric_evidence` is a run metric (a ``comparison.csv``
column) of the first fits as a mean over seeds with its interval, beside NUTS's repeat.
:func:`flip_directions` says where a method's flips against NUTS go.  Numbers only, as
NamedTuples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from evaluation.claims.compare import compare_ledgers
from evaluation.claims.load import Thresholds
from evaluation.study.errors import ErrorEvidence, PairedDifference, error_evidence
from evaluation.study.errors import verdict_changes as paired_verdict_changes
from evaluation.study.evidence import Interval, Rate, rate_interval, seed_interval
from evaluation.study.facts import RunFacts, run_facts
from evaluation.study.floors import FlipTotals, flip_totals, ledger_section
from evaluation.study.truth import Contestable
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
    verdict_changes : PairedDifference or None
        Per (seed, claim) flips against NUTS minus NUTS's repeat's: bootstrap, McNemar test
        and smallest detectable difference (None for NUTS or without a seed holding all
        three runs).
    errors : ErrorEvidence or None
        Against the truth (first fits), paired with NUTS; None where no truth is known.
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
    verdict_changes: PairedDifference | None
    errors: ErrorEvidence | None
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


def ordered_methods(runs: pd.DataFrame, nuts: str = NUTS) -> list[str]:
    """The methods (``method_base``) of the runs: NUTS first, then in :data:`METHOD_ORDER`,
    then the others in sweep order."""
    present = list(dict.fromkeys(runs["method_base"]))
    ordered = [m for m in METHOD_ORDER if m in present and m != nuts]
    return [nuts, *ordered, *(m for m in present if m not in ordered and m != nuts)]


def method_evidence(
    claims: pd.DataFrame,
    runs: pd.DataFrame,
    thresholds: Thresholds,
    nuts: str = NUTS,
    rule: tuple[Contestable, list[ErrorEvidence]] | None = None,
) -> list[MethodEvidence]:
    """Every method of one scenario, in :func:`ordered_methods`' order.

    Parameters
    ----------
    claims : DataFrame
        :func:`evaluation.study.table.claims_table` of one scenario.
    runs : DataFrame
        The comparison table's complete runs of the same scenario.
    thresholds : Thresholds
        The ledger's.
    nuts : str
        The reference method; its repeat (``"<nuts> (repeat 1)"``) is the floor.
    rule : (Contestable, list of ErrorEvidence), optional
        :func:`~evaluation.study.errors.error_evidence` of the same claims, if already made.
    """
    nuts_repeat = repeat_label(nuts, 1)
    methods = ordered_methods(runs, nuts)
    _, errors = rule or error_evidence(claims, methods, nuts, thresholds, LEVEL)
    by_method = {e.method: e for e in errors}
    out = []
    for m in methods:
        own = runs[runs["method_base"] == m]
        if own.empty:
            continue
        repeat = repeat_label(m, 1)
        floor_self = flip_totals(claims, repeat, m, repeat, LEVEL, thresholds=thresholds).flips
        fails = own["verdict.failed"].map(truthy) if "verdict.failed" in own else [0]
        changes = None
        if m != nuts:
            changes = paired_verdict_changes(claims, m, nuts, nuts_repeat, thresholds, LEVEL)
        out.append(MethodEvidence(
            method=m, family=str(own["family"].iloc[0]),
            flips=flip_totals(claims, m, nuts, nuts_repeat, LEVEL, thresholds=thresholds),
            repeat_flips=floor_self,
            abs_delta=seed_interval(mean_abs_delta(claims, m, nuts), LEVEL),
            abs_delta_floor=seed_interval(mean_abs_delta(claims, nuts_repeat, nuts), LEVEL),
            verdict_changes=changes if changes and changes.test.n_pairs else None,
            errors=by_method.get(m),
            failed=rate_interval(int(np.sum(fails)), len(own), LEVEL),
            fit_s=seed_interval(pd.to_numeric(own.get("timing.fit_s"), errors="coerce"), LEVEL),
            n_seeds=int(own["replicate"].nunique()) if "replicate" in own else 0,
        ))  # fmt: skip
    return out


class WorldEvidence(NamedTuple):
    """One world of the study: its methods' evidence (:func:`method_evidence`), the
    contestable claims its headline rates count, and its runs' facts."""

    methods: list[MethodEvidence]
    contestable: Contestable | None
    facts: RunFacts


def world_evidence(
    claims: pd.DataFrame, df: pd.DataFrame, thresholds: Thresholds, nuts: str = NUTS
) -> WorldEvidence:
    """:class:`WorldEvidence` of one world from its claims table and its comparison table
    (every job: the facts count failed and incomplete ones too)."""
    done = df[df["status"] == "complete"] if "status" in df else df
    if done.empty or claims.empty:
        return WorldEvidence([], None, run_facts(df, nuts))
    methods = ordered_methods(done, nuts)
    rule = error_evidence(claims, methods, nuts, thresholds, LEVEL)
    evidence = method_evidence(claims, done, thresholds, nuts, rule)
    return WorldEvidence(evidence, rule[0], run_facts(df, nuts, methods))


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


def flip_directions(
    claims: pd.DataFrame, method: str, nuts: str = NUTS, thresholds: Thresholds | None = None
) -> FlipDirections:
    """Count ``method``'s flips against ``nuts`` (both first fits) by where they go; a flip is
    :func:`~evaluation.claims.compare.compare_ledgers`' ``differs``, seed by seed (truth
    "not applicable" or "unknown" counts as ``unknown``)."""
    ref_rows = claims[claims["method_label"] == nuts].set_index(["replicate", "name"])
    truth = ref_rows["truth_status"].map({"true": True, "false": False})
    counts, seeds = dict.fromkeys(FlipDirections._fields[:-1], 0), 0
    for rep, group in claims.groupby("replicate", sort=False):
        ref, own = (group[group["method_label"] == label] for label in (nuts, method))
        if ref.empty or own.empty:
            continue
        seeds += 1
        sections = (ledger_section(ref, thresholds), ledger_section(own, thresholds))
        for r in compare_ledgers(*sections):
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
    """A run metric per method label, mean over seeds: a label is one fit of each seed (the
    first fit is the method's own name, the repeat ``"<method> (repeat 1)"``), never both."""
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
    "WorldEvidence",
    "flip_directions",
    "mean_abs_delta",
    "method_evidence",
    "metric_evidence",
    "ordered_methods",
    "world_evidence",
]
