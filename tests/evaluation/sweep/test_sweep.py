"""Sweep aggregation and the comparison report on fabricated sweep dirs (fast)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sweepfakes import fake_metrics, make_fake_sweep, write_posterior

from evaluation.commands.report import cli
from evaluation.commands.sweep_files import build_report
from evaluation.sweep.records import (
    CSV_NAME,
    HTML_NAME,
    MD_NAME,
    collect_runs,
    find_run_dirs,
    flatten,
    read_run,
    steps_run,
)


@pytest.fixture
def fake_sweep(tmp_path):
    return make_fake_sweep(tmp_path / "sweep")


def test_collect_runs_statuses_in_job_order(fake_sweep):
    records = collect_runs(fake_sweep)
    assert [r.status for r in records] == ["complete"] * 4 + ["failed", "incomplete"]
    assert records[4].error.startswith("BackendError: CmdStan not found")
    assert records[4].overrides == ["backend=stan_nuts", "seed=0"]


def test_run_dirs_are_in_numeric_order_of_their_seeds(tmp_path):
    # the study names its runs <method>_s<seed>_r<repeat>: seed 10 comes after seed 2, not
    # before it (a report read "seed 0, seed 10, ..., seed 19, seed 1")
    for name in ["m_s10_r0", "m_s2_r0", "m_s1_r1", "m_s1_r0", "12", "3"]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text("{}")
    found = [p.name for p in find_run_dirs(tmp_path)]
    assert found == ["3", "12", "m_s1_r0", "m_s1_r1", "m_s2_r0", "m_s10_r0"]


def test_flatten_keeps_scalars_and_drops_lists():
    flat = flatten({"a": {"b": 1.0, "c": [1, 2], "d": None, "e": {"f": "x"}}, "g": float("nan")})
    assert flat == {"a.b": 1.0, "a.e.f": "x"}


def test_steps_run_uses_the_last_recorded_loss_step_of_a_sparse_trace():
    # CmdStan ADVI records -ELBO every eval_elbo iterations and may stop before num_steps
    sparse = {"fit": {"num_steps": 10000, "loss_steps": [100, 200, 300]},
              "diagnostics": {"vi": {"n_steps": 3}}}  # fmt: skip
    assert steps_run(sparse) == 300
    assert steps_run({"diagnostics": {"vi": {"n_steps": 400}}}) == 400
    assert steps_run({"fit": {"num_steps": 50}}) == 50
    assert steps_run({}) is None


def test_report_files_csv_rows_and_failure_listed(fake_sweep):
    import pandas as pd

    out = build_report(fake_sweep)
    assert (out.n_complete, out.n_failed) == (4, 2)
    df = pd.read_csv(out.csv)
    assert len(df) == 6
    assert list(df.columns[:3]) == ["run", "status", "error"]
    assert {
        "posterior.recovery.beta_worker.coverage90",
        "timing.fit_s",
        "predictive.auc",
        "cross.ari_vs_nuts",
        "cost.ms_per_step",
    } <= set(df.columns)
    mf = df[df.backend == "pyro_meanfield"]
    # fabricated labels: mean-field differs from NUTS by swapping two of 12 worksites, so the
    # aligned ARI is well below 1 but far above 0; misalignment by position would give ~0 or 1
    ari = mf["cross.ari_vs_nuts"].to_numpy()
    assert np.allclose(ari, ari[0]) and 0.2 < ari[0] < 0.9
    assert (df[df.backend == "pymc_nuts"]["cross.ari_vs_nuts"].isna()).all()
    assert np.allclose(mf["cost.ms_per_step"], 0.5)  # 0.5 s / 1000 steps
    md = out.markdown.read_text()
    assert "CmdStan not found" in md and "4_stan_nuts_s0" in md
    assert "interrupted" in md
    for title in (
        "## Coverage",
        "## Variance components",
        "## Cluster stability",
        "## Held-out prediction",
        "## Cost",
        "## Runs",
    ):
        assert title in md
    # coverage and the other headline themes come before held-out prediction
    assert md.index("## Coverage") < md.index("## Held-out prediction")
    assert "±" in md  # spreads across the two seeds, not only means


def test_html_is_self_contained_and_figures_are_valid_pngs(fake_sweep):
    import re

    import matplotlib.image as mpimg

    out = build_report(fake_sweep)
    html = out.html.read_text()
    srcs = re.findall(r'src="([^"]*)"', html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<link" not in html and "<script" not in html
    assert len(srcs) == len(out.figures) >= 5
    for path in out.figures:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert mpimg.imread(path).ndim == 3
    assert "CmdStan not found" in html


def test_cli_rebuilds_the_report(fake_sweep):
    for name in (CSV_NAME, MD_NAME, HTML_NAME):
        (fake_sweep / name).unlink(missing_ok=True)
    assert cli([str(fake_sweep), "--title", "rebuilt"]) == 1  # 1: a run failed, one was cut
    assert (fake_sweep / MD_NAME).read_text().startswith("# Comparison report — rebuilt")
    assert (fake_sweep / HTML_NAME).exists() and (fake_sweep / CSV_NAME).exists()


def test_cli_missing_dir_is_an_error(tmp_path, capsys):
    assert cli([str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_empty_sweep_still_writes_a_report(tmp_path):
    out = build_report(tmp_path)
    assert out.n_complete == 0 and "0 runs" in out.markdown.read_text()


def test_newer_failure_overrides_an_older_complete_run(fake_sweep):
    import os

    run = fake_sweep / "0_pyro_meanfield_s0"
    (run / "failed.json").write_text(json.dumps({"status": "failed", "error": "E: later"}))
    old = (run / "metrics.json").stat().st_mtime
    os.utime(run / "failed.json", (old + 10, old + 10))
    rec = read_run(fake_sweep, run)
    assert rec.status == "failed" and rec.error == "E: later"


def test_paper_section_shows_published_values(tmp_path):
    root = tmp_path / "paper"
    root.mkdir()
    for backend in ("pyro_meanfield", "pymc_nuts"):
        metrics = fake_metrics(backend, 0, sigma_worker=0.006294)
        metrics["data"]["n_worksites"] = 120
        d = root / f"0_{backend}"
        d.mkdir()
        (d / "metrics.json").write_text(json.dumps(metrics))
    md = build_report(root).markdown.read_text()
    assert "## Paper replication" in md
    assert "2.141032" in md and "0.006294" in md and "0.7688" in md
    assert "Percent Latino in ZIP" in md and "-1.89009" in md
    assert "No. Notes" in md  # the worker-coefficient table, published columns at least


def test_runs_without_a_reference_are_compared_with_the_nuts_run_of_their_data(fake_sweep):
    import pandas as pd

    for run in sorted(fake_sweep.glob("[0-3]_*")):
        metrics = json.loads((run / "metrics.json").read_text())
        del metrics["reference"]  # as with evaluation.reference=null
        (run / "metrics.json").write_text(json.dumps(metrics))
        nuts = "nuts" in run.name
        # mean-field draws half as wide; stored in a different worksite order than NUTS's
        order = np.arange(12) if nuts else np.arange(12)[::-1]
        write_posterior(run, 1.0 if nuts else 0.5, order, seed=len(run.name))
    df = pd.read_csv(build_report(fake_sweep).csv)
    mf = df[df.backend == "pyro_meanfield"]
    assert (mf["cross.nuts_partner"] == "pymc_nuts").all()
    # 1000 draws per element: the sd of a sample sd is ~2.2% of it, so a ratio of two is
    # within ~3% (1 sigma) of 0.5; the median over 24 elements is tighter still -> 0.05 is wide
    assert np.allclose(mf["vs_nuts.blocks.beta_worker.sd_ratio_median"], 0.5, atol=0.05)
    assert df[df.backend == "pymc_nuts"]["vs_nuts.blocks.beta_worker.n"].isna().all()
    width = (fake_sweep / MD_NAME).read_text().split("## Interval width")[1]
    row = next(line for line in width.splitlines() if "| pyro_meanfield |" in line)
    assert abs(float(row.split("|")[4].split()[0]) - 0.5) < 0.05  # the sd ratio column


def test_a_truth_drawn_with_the_seed_names_no_scenario():
    import pandas as pd

    from evaluation.sweep.columns import add_labels

    # a posterior world: each seed draws its own sigma_worker, shared by every run of the seed
    drawn = pd.DataFrame({"backend": ["pymc_nuts", "pyro_meanfield"] * 2,
                          "data.seed": [0, 0, 1, 1],
                          "data.name": ["paper_posterior"] * 4,
                          "data.sigma_worker_truth": [0.006, 0.006, 0.047, 0.047]})  # fmt: skip
    assert set(add_labels(drawn)["scenario"]) == {"paper_posterior"}
    # a sweep over sigma_worker: two values within one seed are two scenarios
    swept = drawn.assign(**{"data.sigma_worker_truth": [0.5, 0.5, 1.0, 1.0], "data.seed": 0})
    swept["backend"] = "pymc_nuts"
    assert list(add_labels(swept)["scenario"]) == ["σw=0.5", "σw=0.5", "σw=1", "σw=1"]
