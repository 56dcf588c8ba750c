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

Seconds move with the machine's load; :func:`seed_costs` and :func:`method_costs` put beside
them what a fit records that load does not move (:data:`COUNTS`: NUTS gradient evaluations,
warm-up and kept draws apart, and VI optimiser steps) and the CPU seconds where recorded
(:data:`CPU`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from evaluation.sweep.columns import first_of, numeric, truthy

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


#: Counts of a fit's work that machine load does not move (per fit): (name, columns, first
#: found; ``fit.n_steps_run`` is what PyMC ADVI recorded before ``fit.n_steps``).
COUNTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("n_grad_warmup", ("fit.n_grad_warmup",)),
    ("n_grad_draws", ("fit.n_grad_draws",)),
    ("n_steps", ("fit.n_steps", "fit.n_steps_run")),
)
#: CPU seconds where a run recorded them: the fit's (backends.base.cpu_seconds) and the job's.
CPU: tuple[tuple[str, str], ...] = (
    ("fit_cpu_s", "fit.fit_cpu_s"),
    ("job_cpu_s", "timing.total_cpu_s"),
)
#: Seconds and counts of a job that a fit read from the reference cache did not pay.
_PAID_BY_FIT: tuple[str, ...] = ("fit_s", "fit_cpu_s", *(name for name, _ in COUNTS))


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


def seed_costs(df: pd.DataFrame) -> pd.DataFrame:
    """What each method cost per data seed: one row per (method, seed), its jobs summed.

    Columns: ``method`` (the method without its repeat, ``method_base``), ``seed``, ``jobs``
    (the seed's fits: first fits and repeats), ``job_s`` (total seconds), ``fit_s`` and
    ``eval_s``, the :data:`CPU` seconds and the :data:`COUNTS`.  A fit read from the reference
    cache (``fit.from_cache``) paid no fit seconds, fit CPU or counts: the job that made it did.
    A column no run recorded stays NaN.
    """
    done = df[df["status"] == "complete"]
    method = done["method_base"] if "method_base" in done else done.get("backend")
    frame = pd.DataFrame(
        {
            "method": method,
            "seed": done["replicate"] if "replicate" in done else "-",
            "jobs": 1,
            "job_s": numeric(done, "timing.total_s"),
            "fit_s": numeric(done, "timing.fit_s"),
            "eval_s": numeric(done, "phases.evaluation_s"),
            **{name: numeric(done, col) for name, col in CPU},
            **{name: pd.to_numeric(first_of(done, cols), errors="coerce") for name, cols in COUNTS},
        },
        index=done.index,
    )
    paid = ~_flag(done, "fit.from_cache")
    for col in _PAID_BY_FIT:
        frame[col] = frame[col].where(paid | frame[col].isna(), 0.0)
    grouped = frame.groupby(["method", "seed"], sort=False)
    return grouped.sum(min_count=1).reset_index()


def method_costs(df: pd.DataFrame) -> pd.DataFrame:
    """:func:`seed_costs` averaged over seeds: one row per method with ``seeds`` (how many) and
    the mean per seed of every seconds and count column."""
    per_seed = seed_costs(df)
    means = per_seed.drop(columns="seed").groupby("method", sort=False).mean()
    means.insert(0, "seeds", per_seed.groupby("method", sort=False)["seed"].nunique())
    return means.reset_index()
