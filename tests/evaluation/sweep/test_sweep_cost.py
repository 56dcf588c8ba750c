"""What a sweep cost per method and data seed (evaluation/sweep/cost.py) and the script that
prints it (benchmarks/study_cost.py), on hand-made runs: our own glue (issue 31 items 5, 6)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sweepfakes import fake_metrics, make_fake_sweep

from evaluation.sweep.cost import method_costs, seed_costs

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "study_cost.py"


def table(rows: list[dict]) -> pd.DataFrame:
    base = {"status": "complete", "run": "r"}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_seed_costs_sum_a_seeds_jobs_and_a_cached_fit_pays_nothing():
    nuts = {"method_base": "pymc_nuts", "timing.fit_s": 100.0, "fit.n_grad_warmup": 9000,
            "fit.n_grad_draws": 3000, "fit.fit_cpu_s": 150.0}  # fmt: skip
    df = table([
        {**nuts, "replicate": "0", "timing.total_s": 110.0, "fit.from_cache": False},
        {**nuts, "replicate": "0", "timing.total_s": 12.0, "fit.from_cache": True},
        {**nuts, "replicate": "1", "timing.total_s": 104.0, "fit.n_grad_warmup": 7000},
        {"method_base": "pymc_meanfield", "replicate": "0", "timing.total_s": 30.0,
         "timing.fit_s": 20.0, "fit.n_steps_run": 4000},  # recorded before fit.n_steps
        {"method_base": "pymc_meanfield", "replicate": "0", "timing.total_s": 28.0,
         "timing.fit_s": 18.0, "fit.n_steps": 3000},
        {"method_base": "pymc_meanfield", "replicate": "1", "status": "failed"},
    ])  # fmt: skip
    per_seed = seed_costs(df).set_index(["method", "seed"])
    first = per_seed.loc[("pymc_nuts", "0")]
    assert first["jobs"] == 2 and first["job_s"] == pytest.approx(122.0)
    # the second job read the first one's fit from the cache: its fit, CPU and gradients are 0
    assert first["fit_s"] == pytest.approx(100.0) and first["fit_cpu_s"] == pytest.approx(150.0)
    assert (first["n_grad_warmup"], first["n_grad_draws"]) == (9000, 3000)
    assert per_seed.loc[("pymc_nuts", "1"), "n_grad_warmup"] == 7000
    vi = per_seed.loc[("pymc_meanfield", "0")]
    assert vi["n_steps"] == 7000 and vi["jobs"] == 2  # the failed run is not counted
    assert pd.isna(vi["n_grad_warmup"]) and pd.isna(vi["job_cpu_s"])  # never recorded
    per_method = method_costs(df).set_index("method")
    assert per_method.loc["pymc_nuts", "seeds"] == 2
    assert per_method.loc["pymc_nuts", "n_grad_warmup"] == pytest.approx(8000.0)
    assert per_method.loc["pymc_nuts", "job_s"] == pytest.approx((122.0 + 104.0) / 2)
    assert per_method.loc["pymc_meanfield", "seeds"] == 1


def run_script(sweep: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(sweep)], capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip


def test_study_cost_prints_every_sweep_even_one_without_from_cache(tmp_path):
    """The fake sweep has no fit.from_cache, no repeat and no counts (the crash of issue 31);
    one run gains counts and a CPU time, and the script prints them per method and seed."""
    sweep = make_fake_sweep(tmp_path / "sweep")
    run = next(sweep.glob("*_pymc_nuts_s1"))
    metrics = fake_metrics("pymc_nuts", 1)
    metrics["fit"].update(n_grad_warmup=12345, n_grad_draws=6789, fit_cpu_s=42.0)
    (run / "metrics.json").write_text(json.dumps(metrics))
    out = run_script(sweep)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("per method and data")))
    seed_rows = {tuple(line.split()[:2]): line.split() for line in lines[start + 2 : start + 6]}
    assert set(seed_rows) == {(m, s) for m in ("pymc_nuts", "pyro_meanfield") for s in "01"}
    header = lines[start + 1].split()
    row = dict(zip(header, seed_rows[("pymc_nuts", "1")], strict=True))
    assert row["fit_cpu_s"] == "42" and row["n_grad_warmup"] == "12,345"
    assert row["n_grad_draws"] == "6,789" and row["job_s"] == "3"
    assert dict(zip(header, seed_rows[("pymc_nuts", "0")], strict=True))["n_grad_warmup"] == "-"


def test_study_cost_refuses_a_dir_without_complete_runs(tmp_path):
    (tmp_path / "empty").mkdir()
    out = run_script(tmp_path / "empty")
    assert out.returncode == 2 and "no complete run" in out.stderr
