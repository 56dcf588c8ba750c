"""Sweeps through the real app: the callback config, debug multiruns, the callback's crash
recording, and every experiment file (slow). Launchers: test_launchers.py."""

from __future__ import annotations

import json

import pytest
from sweepfakes import run_app

from evaluation.app import CONF_DIR
from evaluation.commands.callback import SweepReportCallback
from evaluation.sweep.records import CSV_NAME, HTML_NAME, MD_NAME, read_run


# ----------------------------------------------------------------------------- configs
# (launcher configs and launcher sweeps: test_launchers.py)
def test_callback_is_registered():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", return_hydra_config=True)
    assert (
        cfg.hydra.callbacks.sweep_report._target_
        == "evaluation.commands.callback.SweepReportCallback"
    )


# ----------------------------------------------------------------------------- real multiruns
def test_debug_multirun_lists_a_failed_run_exits_1_and_a_rerun_skips_completed(tmp_path):
    """Issue 16 item 4: a sweep with a failed run writes its report (listing the failure) and
    exits 1 with one line on stderr; a re-run skips the complete run and exits 1 again."""
    import pandas as pd

    sweep_dir = tmp_path / "sweep"
    args = ("-m", "debug=fast", "evaluation.figures=false", "evaluation.clustering.enabled=false",
            "backend=pyro_meanfield", "backend.num_steps=50", "data.prevalence=0.17,1.5",
            f"hydra.sweep.dir={sweep_dir}")  # fmt: skip
    proc = run_app(*args, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (f"ppl-compare: 1 of 2 runs failed or did not finish (listed in "
                    f"{sweep_dir / MD_NAME}); exit status 1")  # fmt: skip
    assert "Traceback" not in proc.stderr
    df = pd.read_csv(sweep_dir / CSV_NAME)
    assert sorted(df["status"]) == ["complete", "failed"]
    failed = df[df.status == "failed"].iloc[0]
    assert "prevalence" in failed["error"] and "1.5" in failed["overrides"]
    md = (sweep_dir / MD_NAME).read_text()
    assert "prevalence" in md and "did not complete" in md
    assert (sweep_dir / HTML_NAME).exists()
    done = sweep_dir / df[df.status == "complete"].iloc[0]["run"] / "metrics.json"
    stamp = done.stat().st_mtime_ns
    again = run_app(*args, cwd=tmp_path)
    assert again.returncode == 1, again.stderr[-3000:]
    assert "skipping" in again.stdout + again.stderr
    assert done.stat().st_mtime_ns == stamp  # the complete run was not redone
    assert len(pd.read_csv(sweep_dir / CSV_NAME)) == 2


def test_callback_records_a_crashed_job_and_lets_the_sweep_go_on(tmp_path):
    from hydra.core.utils import JobReturn, JobStatus
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    config = OmegaConf.create({"hydra": {"mode": RunMode.MULTIRUN,
                                         "runtime": {"output_dir": str(tmp_path / "0_x")},
                                         "overrides": {"task": ["backend=x"]}}})  # fmt: skip
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError as exc:
        job = JobReturn(status=JobStatus.FAILED, _return_value=exc)
    SweepReportCallback().on_job_end(config, job)
    assert job.status == JobStatus.COMPLETED and job.return_value is None
    failed = json.loads((tmp_path / "0_x" / "failed.json").read_text())
    assert failed == {"status": "failed", "error": "crash: RuntimeError: boom",
                      "overrides": ["backend=x"]}  # fmt: skip
    assert "Traceback" in (tmp_path / "0_x" / "crash.txt").read_text()
    rec = read_run(tmp_path, tmp_path / "0_x")
    assert rec.status == "failed" and rec.error.startswith("crash: RuntimeError")


# ----------------------------------------------------------------------------- experiments (slow)
#: Command-line sweep overrides that narrow an experiment's own hydra.sweeper.params for the
#: smoke run (a command-line value replaces the experiment's value of the same key).
EXPERIMENT_SMOKE = {
    "main": [],
    "paper_replication": ["seed=0,1"],  # two runs: the report compares seeds
    "meanfield_study": ["data.sigma_worker=0.5", "seed=0", "backend=pymc_nuts,pyro_meanfield"],
    "calibration": ["backend=pymc_nuts,pyro_meanfield", "seed=range(0,5)"],
    "benchmark": [],
    "paper_forensics": [
        "data.sigma_worker=0.05",
        "backend=pyro_meanfield,pyro_typeii",
        "backend.init_sigma=0.1",
    ],
    "meanfield_study_calibrated": ["data.sigma_worker=0.5", "backend=pymc_nuts,pyro_meanfield"],
    "meanfield_real": ["backend=pymc_nuts,pyro_meanfield"],
    "evidence": ["data.seed=0,1", "backend=pymc_nuts,pyro_meanfield"],
    "evidence_thornton": ["data.seed=0", "backend=pymc_nuts,pyro_meanfield"],
    "evidence_null": ["data.seed=0,1", "backend=pymc_nuts,pyro_meanfield"],
    "evidence_world": ["data.seed=0,1", "backend=pymc_nuts,pyro_meanfield"],
    "evidence_scale": ["backend=pymc_nuts,pyro_meanfield"],
    "evidence_paper": ["data.seed=0", "backend=pymc_nuts,pyro_meanfield"],
    "evidence_right": ["data.seed=0,1", "backend=pymc_nuts,pyro_meanfield"],
}
#: A heading each experiment's report must contain beyond the common ones.
EXPERIMENT_SECTION = {
    "main": "## Cluster stability",
    "paper_replication": "## Paper replication",
    "meanfield_study": "## Interval width against the reference posterior",
    "calibration": "## Calibration across replications",
    "benchmark": "## Cost",
    "paper_forensics": "## Paper forensics",
    "meanfield_study_calibrated": "## Interval width against the reference posterior",
    "meanfield_real": "## Interval width against the reference posterior",
    "evidence": "## Findings: the study's conclusions, method by method",
    "evidence_thornton": "## Findings: the study's conclusions, method by method",
    "evidence_null": "## Findings: the study's conclusions, method by method",
    "evidence_world": "## Findings: the study's conclusions, method by method",
    "evidence_scale": "## Cost",
    "evidence_paper": "## Findings: the study's conclusions, method by method",
    "evidence_right": "## Findings: the study's conclusions, method by method",
}


def experiment_options() -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


def test_every_experiment_has_a_smoke_setting_and_a_command_line_header():
    assert set(experiment_options()) == set(EXPERIMENT_SMOKE)
    for name in experiment_options():
        text = (CONF_DIR / "experiment" / f"{name}.yaml").read_text()
        assert text.startswith("# @package _global_")
        assert f"ppl-compare experiment={name}" in text
        assert "mode: MULTIRUN" in text


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPERIMENT_SMOKE))
def test_experiment_runs_with_debug_fast_and_writes_its_report(tmp_path, name):
    import pandas as pd

    sweep_dir = tmp_path / "sweep"
    proc = run_app(f"experiment={name}", "debug=fast", *EXPERIMENT_SMOKE[name],
                   f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path)  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    df = pd.read_csv(sweep_dir / CSV_NAME)
    md = (sweep_dir / MD_NAME).read_text()
    # a backend this machine cannot run (e.g. stan_pathfinder needs CmdStan >= 2.33) is a
    # recorded, listed failure; anything else failing is a bug
    failed = df[df.status != "complete"]
    assert proc.returncode == (1 if len(failed) else 0), proc.stderr[-3000:]
    unavailable = failed["error"].astype(str).str.startswith("BackendUnavailable")
    assert unavailable.all(), failed[["run", "error"]].to_string()
    assert all(run in md for run in failed["run"])
    assert (df.status == "complete").sum() >= 2
    assert EXPERIMENT_SECTION[name] in md
    assert (sweep_dir / HTML_NAME).stat().st_size > 10_000  # figures embedded
