"""What a study cost, part by part, and what it would have cost without the savings.

Every run's ``metrics.json`` records its phases (``phases``: data build, scoring, reference,
figures, clustering, claims, report; ``timing``: compile, fit, total) and whether its fit came
from the reference cache (``fit.from_cache``) or stopped at the convergence rule
(``fit.stopped_early``, ``fit.n_steps_run`` of ``fit.num_steps``).  From these,
:func:`cost_summary` sums the measured seconds and reconstructs the cost of the same jobs
*before* the savings of issue 15:

* a VI fit that stopped early would have run all ``num_steps`` at its measured seconds per step;
* a job whose fit is the reference fit of its data (made or read through the cache) would have
  been fitted twice, once as the job and once as the reference (its measured fit time again);
* a NUTS fit that reused a compiled model would have compiled (the largest compile time
  measured for that backend in the study).

The reconstruction is an estimate from measured rates, and is labelled so wherever shown.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from evaluation.sweep.columns import numeric, truthy

#: Measured parts of a job, in the order a run does them: (label, column).
PHASES: tuple[tuple[str, str], ...] = (
    ("data build", "phases.data_s"),
    ("compile", "timing.compile_s"),
    ("fit (without compile)", "derived.fit_only_s"),
    ("scoring (predictive, posterior, diagnostics)", "phases.scoring_s"),
    ("reference and noise floors (incl. a reference fit)", "phases.reference_s"),
    ("clustering", "phases.clustering_s"),
    ("claims and forest plot", "phases.claims_s"),
    ("figures", "phases.figures_s"),
    ("run report", "phases.report_s"),
)


class CostSummary(NamedTuple):
    """Seconds summed over the jobs of a study.

    Attributes
    ----------
    n_jobs : int
        Complete jobs counted.
    phases : dict
        ``{label: seconds}`` over :data:`PHASES` (measured).
    jobs_s : float
        Sum of every job's total seconds (measured; jobs that ran in parallel overlap).
    saved_s : dict
        ``{saving: seconds}``: early stopping, reference reuse, compile reuse (reconstructed).
    before_jobs_s : float
        ``jobs_s`` plus the savings: the same jobs without them (reconstructed).
    """

    n_jobs: int
    phases: dict[str, float]
    jobs_s: float
    saved_s: dict[str, float]
    before_jobs_s: float


def _flag(df: pd.DataFrame, col: str) -> pd.Series:
    """``col`` read as yes/no (:func:`~evaluation.sweep.columns.truthy`); no where absent."""
    if col not in df:
        return pd.Series(False, index=df.index)
    return df[col].map(truthy).astype(bool)


def early_stop_saving(df: pd.DataFrame) -> pd.Series:
    """Seconds each VI job would have spent on the steps its early stop skipped."""
    opt = numeric(df, "timing.optimisation_s")
    run = numeric(df, "fit.n_steps_run")
    cap = numeric(df, "fit.num_steps")
    skipped = (cap - run).clip(lower=0)
    per_step = opt / run.replace(0, np.nan)
    return (per_step * skipped).where(_flag(df, "fit.stopped_early"), 0.0).fillna(0.0)


def cost_summary(df: pd.DataFrame) -> CostSummary:
    """The :class:`CostSummary` of the complete jobs of a comparison table."""
    done = df[df["status"] == "complete"].copy()
    cached = _flag(done, "fit.from_cache")
    fit = numeric(done, "timing.fit_s")
    compile_s = numeric(done, "timing.compile_s").fillna(0.0)
    # a cached fit cost this job nothing: its fit time was paid by the job that made it
    done["derived.fit_only_s"] = (fit - compile_s).where(~cached, 0.0)
    done["timing.compile_s"] = compile_s.where(~cached, 0.0)
    phases = {label: float(numeric(done, col).fillna(0.0).sum()) for label, col in PHASES}
    compile_saved = 0.0
    if "fit.compile_cached" in done:
        reused = _flag(done, "fit.compile_cached") & ~cached
        for backend, group in done[reused].groupby("backend"):
            first = numeric(done[done["backend"] == backend], "timing.compile_s").max()
            compile_saved += float(first) * len(group)
    is_reference = _flag(done, "fit.cache_file")  # the fit went through the reference cache
    saved = {
        "VI stopped at the convergence rule": float(early_stop_saving(done).sum()),
        "NUTS job is the reference fit": float(fit.where(is_reference, 0.0).fillna(0.0).sum()),
        "nutpie compiles once per model structure": compile_saved,
    }
    jobs_s = float(numeric(done, "timing.total_s").fillna(0.0).sum())
    return CostSummary(len(done), phases, jobs_s, saved, jobs_s + sum(saved.values()))


def summary_rows(summary: CostSummary, wall_s: float | None) -> list[list[Any]]:
    """``[[part, seconds, share]]`` rows for a report table, then totals and the estimate."""
    total = sum(summary.phases.values()) or 1.0
    rows: list[list[Any]] = [[k, v, v / total] for k, v in summary.phases.items()]
    rows.append(["sum of the jobs' total seconds (measured)", summary.jobs_s, None])
    for k, v in summary.saved_s.items():
        rows.append([f"saved: {k} (reconstructed)", v, None])
    rows.append(["the same jobs before the savings (reconstructed)", summary.before_jobs_s, None])
    if wall_s is not None:
        rows.append(["wall clock of the study (measured)", wall_s, None])
        if summary.jobs_s > 0:
            ratio = wall_s / summary.jobs_s
            rows.append(["wall clock before the savings, at the same parallelism "
                         "(reconstructed)", summary.before_jobs_s * ratio, None])  # fmt: skip
    return rows
