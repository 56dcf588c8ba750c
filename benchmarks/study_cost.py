"""What a study sweep cost, part by part, and before/after the savings of issue 15 (prints).

    python benchmarks/study_cost.py outputs/findings/right           # a findings study
    python benchmarks/study_cost.py outputs/findings/right --seeds 50  # projected to 50 seeds
    python benchmarks/study_cost.py outputs/multirun/<stamp>_meanfield_study --wall 2400

Reads every run of the sweep dir (``metrics.json``: ``phases``, ``timing``, ``fit``) and prints

* per cell (scenario x method, both fits of a seed together): seeds, job seconds per seed,
  and the cell's projected job seconds and wall minutes at ``--seeds`` seeds (default: the
  seeds run) on ``--jobs`` parallel jobs (default 2);
* per method: jobs, seconds of the fit (compile included; a fit read from the reference cache
  counts 0 here), of the evaluation and in total, steps run of the cap for VI;
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.sweep.columns import numeric
from evaluation.sweep.comparison import comparison_table
from evaluation.sweep.cost import cost_summary, summary_rows
from evaluation.sweep.records import collect_runs


def study_wall(sweep_dir: Path) -> float | None:
    """The study's wall seconds from ``../timings.json`` (ppl-compare-findings), or None."""
    path = sweep_dir.parent / "timings.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get(sweep_dir.name, {}).get("wall_s")


def per_method(df) -> None:
    """Print one line per method: jobs, fit, evaluation and total seconds, VI steps run."""
    done = df[df["status"] == "complete"].copy()
    cached = done.get("fit.from_cache", False).astype(str) == "True"
    done["fit_paid"] = numeric(done, "timing.fit_s").where(~cached, 0.0)
    print(f"{'method':44s} {'jobs':>4s} {'fit s':>8s} {'eval s':>8s} {'total s':>8s}  steps")
    for method, g in done.groupby("method_label", sort=False):
        steps = numeric(g, "fit.n_steps_run")
        cap = numeric(g, "fit.num_steps")
        step_txt = f"{steps.mean():.0f} of {cap.mean():.0f}" if steps.notna().any() else "-"
        print(f"{method[:44]:44s} {len(g):4d} {g['fit_paid'].sum():8.0f} "
              f"{numeric(g, 'phases.evaluation_s').sum():8.0f} "
              f"{numeric(g, 'timing.total_s').sum():8.0f}  {step_txt}")  # fmt: skip


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
    per_method(df)
    summary = cost_summary(df)
    wall = args.wall if args.wall is not None else study_wall(args.sweep_dir)
    print(f"\n{summary.n_jobs} complete jobs")
    for part, seconds, share in summary_rows(summary, wall):
        share_txt = "" if share is None else f"{share:6.1%}"
        print(f"  {part:78s} {seconds:9.0f} s {share_txt}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
