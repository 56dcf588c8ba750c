"""What a study sweep cost, part by part, and before/after the savings of issue 15 (prints).

    python benchmarks/study_cost.py outputs/findings/right           # a findings study
    python benchmarks/study_cost.py outputs/findings/right --seeds 50  # projected to 50 seeds
    python benchmarks/study_cost.py outputs/multirun/<stamp>_meanfield_study --wall 2400

Reads every run of the sweep dir (``metrics.json``: ``phases``, ``timing``, ``fit``) and prints

* per cell (scenario x method, both fits of a seed together): seeds, job seconds per seed,
  and the cell's projected job seconds and wall minutes at ``--seeds`` seeds (default: the
  seeds run) on ``--jobs`` parallel jobs (default 2);
* per method and data seed, then per method as the mean per seed: jobs (first fits and
  repeats), job seconds, seconds of the fit (compile included; a fit read from the reference
  cache counts 0 here) and of the evaluation, CPU seconds where the runs recorded them
  (``fit.fit_cpu_s``, ``timing.total_cpu_s``) and the counts load does not move: NUTS gradient
  evaluations in warm-up and in the kept draws, VI optimiser steps
  (``evaluation/sweep/cost.py``: ``seed_costs``, ``method_costs``);
* per part of a job (data build, compile, fit, scoring, reference, clustering, claims,
  figures, report): summed seconds and share;
* the savings, reconstructed from the measured rates (see ``evaluation/sweep/cost.py``):
  VI steps skipped by ``stop_at_convergence`` x measured seconds per step, the NUTS job's
  second fit that the reference cache avoided, nutpie compiles avoided; and so the cost of the
  same jobs before the savings.

``--wall`` (seconds; default: the study's entry in ``<sweep dir>/../timings.json`` written by
``ppl-compare-findings``, if any) adds the measured wall clock and the reconstructed wall clock
before the savings at the same parallelism.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.sweep.columns import numeric
from evaluation.sweep.comparison import comparison_table
from evaluation.sweep.cost import (
    COUNTS,
    CPU,
    cost_summary,
    method_costs,
    seed_costs,
    summary_rows,
)
from evaluation.sweep.records import collect_runs


def study_wall(sweep_dir: Path) -> float | None:
    """The study's wall seconds from ``../timings.json`` (ppl-compare-findings), or None."""
    path = sweep_dir.parent / "timings.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get(sweep_dir.name, {}).get("wall_s")


def _cell(value: float, width: int) -> str:
    """A number right-aligned in ``width`` (``-`` for a missing one)."""
    return f"{'-':>{width}s}" if pd.isna(value) else f"{value:>{width},.0f}"


def print_costs(table: pd.DataFrame, first: str) -> None:
    """Print a :func:`seed_costs` / :func:`method_costs` table: its ``first`` column after the
    method, then seconds (CPU only where some run recorded it) and counts."""
    cols = ["jobs", "job_s", "fit_s", "eval_s"]
    cols += [c for c, _ in CPU if table[c].notna().any()] + [c for c, _ in COUNTS]
    print(f"{'method':34s} {first:>5s}" + "".join(f"{c:>14s}" for c in cols))
    for _, row in table.iterrows():
        head = row[first] if isinstance(row[first], str) else f"{row[first]:.0f}"
        cells = "".join(_cell(row[c], 14) for c in cols)
        print(f"{str(row['method'])[:34]:34s} {head:>5s}{cells}")


def per_cell(df, seeds: int | None, jobs: int) -> float:
    """Print one line per (scenario, method): job seconds per seed and the projection at
    ``seeds`` seeds; returns the projected job seconds of all cells."""
    done = df[df["status"] == "complete"].copy()
    done["job_s"] = numeric(done, "timing.total_s")
    base = done["method_base"] if "method_base" in done else done["method_label"]
    print(f"{'scenario':24s} {'method':24s} {'seeds':>5s} {'job s/seed':>10s} {'projected s':>11s}")
    total = 0.0
    for (scen, method), g in done.groupby([done["scenario"], base], sort=False):
        n = g["replicate"].nunique()
        per_seed = g["job_s"].sum() / max(n, 1)
        projected = per_seed * (seeds or n)
        total += projected
        print(f"{str(scen)[:24]:24s} {str(method)[:24]:24s} {n:5d} {per_seed:10.0f} "
              f"{projected:11.0f}")  # fmt: skip
    print(
        f"projected: {total:,.0f} job s = {total / jobs / 60:.1f} min on {jobs} parallel jobs "
        f"(at {seeds or 'the run'} seeds; the sweep report and idle slots come on top)\n"
    )
    return total


def main(argv: list[str] | None = None) -> int:
    """Print the cost tables of one sweep dir; exit status 2 when it holds no complete run."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep_dir", type=Path)
    ap.add_argument("--wall", type=float, default=None, help="measured wall seconds")
    ap.add_argument("--seeds", type=int, default=None, help="project the cells to this many seeds")
    ap.add_argument("--jobs", type=int, default=2, help="parallel jobs of the projection")
    args = ap.parse_args(argv)
    df = comparison_table(collect_runs(args.sweep_dir))
    if df.empty or not (df["status"] == "complete").any():
        print(f"study_cost: no complete run under {args.sweep_dir}", file=sys.stderr)
        return 2
    per_cell(df, args.seeds, args.jobs)
    print(
        "per method and data seed (its jobs summed; a fit read from the reference cache "
        "paid no fit seconds or counts):"
    )
    print_costs(seed_costs(df), "seed")
    print("\nper method, mean per data seed:")
    print_costs(method_costs(df), "seeds")
    summary = cost_summary(df)
    wall = args.wall if args.wall is not None else study_wall(args.sweep_dir)
    print(f"\n{summary.n_jobs} complete jobs")
    for part, seconds, share in summary_rows(summary, wall):
        share_txt = "" if share is None else f"{share:6.1%}"
        print(f"  {part:78s} {seconds:9.0f} s {share_txt}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
