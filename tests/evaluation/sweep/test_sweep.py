"""Sweep aggregation and the comparison report: on fabricated sweep dirs (fast), through a real
debug multirun of the app (fast enough), and every experiment file (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evaluation.app import CONF_DIR
from evaluation.sweep import collect as sweep

APP = str(Path(sys.executable).parent / "ppl-compare")
REPORT = str(Path(sys.executable).parent / "ppl-compare-report")
WORKSITES = [f"ws{j:03d}" for j in range(12)]


# ----------------------------------------------------------------------------- fabricated runs
def fake_metrics(backend: str, seed: int, sigma_worker: float = 0.5) -> dict:
    """A metrics.json in the layout evaluation.app writes (values made up, seed-dependent)."""
    rng = np.random.default_rng([seed, len(backend)])
    nuts = backend.endswith("nuts")
    shrink = 1.0 if nuts else 0.4  # a mean-field fit that shrinks sigma_worker

    def scale(truth: float, factor: float) -> dict:
        med = truth * factor * (1 + 0.05 * rng.standard_normal())
        return {
            "mean": med,
            "sd": 0.1 * med,
            "median": med,
            "q05": 0.7 * med,
            "q95": 1.3 * med,
            "truth": truth,
        }

    def cov(nominal: float) -> float:
        return nominal - (0 if nuts else 0.3) + 0.02 * rng.standard_normal()

    block = {
        "sme_mean_abs": 0.1 if nuts else 0.6,
        "sd_ratio_median": 1.0 if nuts else 0.35,
        "sd_ratio_min": 0.2,
        "sd_ratio_max": 1.2,
        "wasserstein_mean": 0.1,
        "wasserstein_std_mean": 0.2,
    }
    language, method = backend.split("_", 1)
    return {
        "status": "complete", "config_hash": f"h{seed}{backend}", "backend": backend,
        "language": language, "method": method, "seed": seed, "parameterization": "noncentered",
        "data": {"name": "paper", "kind": "paper", "seed": seed, "n_worksites": 12,
                 "n_workers": 600, "n_train": 480, "n_test": 120, "prevalence": 0.17,
                 "split": "workers", "test_fraction": 0.2, "sigma_worker_truth": sigma_worker,
                 "planted_clusters": True, "site_features": ["a"], "worker_features": ["b"],
                 "meta": {"knobs": {"n_worksites": 12, "sigma_site": None, "n_clusters": 2}}},
        "timing": {"fit_s": 2.0 if nuts else 0.5, "sampling_s": 1.5 if nuts else None,
                   "optimisation_s": None if nuts else 0.5, "total_s": 3.0},
        "fit": {"num_steps": None if nuts else 1000, "n_divergent": 0 if nuts else None},
        "predictive": {"accuracy": 0.85, "baseline_accuracy": 0.83, "auc": 0.7 + 0.01 * seed,
                       "lpd": -0.4, "brier": 0.12, "ece": 0.02, "in_sample": False,
                       "calibration": {"count": [1, 2, 3]}},
        "posterior": {
            "summary": {"alpha": scale(-1.8, 1.0), "sigma_site": scale(2.14, 1.0),
                        "sigma_worker": scale(sigma_worker, shrink)},
            "beta_site": {"a": {"mean": 0.3, "truth": 0.29}},
            "recovery": {"beta_worker": {"coverage50": cov(0.5), "coverage90": cov(0.9),
                                         "mean_abs_z": 0.8},
                         "beta_site": {"coverage50": cov(0.5), "coverage90": cov(0.9)}},
            "beta_site_coverage90": cov(0.9), "beta_worker_coverage90": cov(0.9),
            "sigma_collapse": {"sigma_worker": {
                "method": {"median": sigma_worker * shrink, "q05": 0.5 * sigma_worker * shrink,
                           "q95": 1.5 * sigma_worker * shrink, "p_below_eps": 0.0},
                "reference": {"median": sigma_worker, "q05": 0.6 * sigma_worker,
                              "q95": 1.4 * sigma_worker, "p_below_eps": 0.0},
                "ratio_median": shrink, "truth": sigma_worker, "eps": 0.01}},
        },
        "reference": {"blocks": {"beta_worker": block, "beta_site": block},
                      "all": block, "criteria": {"passed": True}},
        "diagnostics": {"vi": {"khat": 0.9 + 0.05 * seed, "n_steps": 1000}} if not nuts
        else {"mcmc": {"max_rhat": 1.003, "min_ess_bulk": 400.0 + seed, "n_divergent": 0}},
        "clustering": {"k": 2, "chosen_k": 2, "ari_seeds": {"mean": 0.9, "sd": 0.1, "min": 0.7,
                       "n": 10}, "ari_draws": {"mean": 0.5 if nuts else 0.95},
                       "ari_truth": 0.6 if nuts else 0.2},
    }  # fmt: skip


def write_clusters(run_dir: Path, labels: np.ndarray, order: np.ndarray) -> None:
    """A clusters.nc with labels over worksite ids, stored in the given worksite order."""
    import xarray as xr

    ws = [WORKSITES[i] for i in order]
    ds = xr.Dataset({"labels": (("worksite",), np.asarray(labels)[order])}, coords={"worksite": ws})
    ds.to_netcdf(run_dir / "clusters.nc")


def make_fake_sweep(root: Path) -> Path:
    """4 complete runs (2 methods x 2 seeds), one failed run, one interrupted run."""
    root.mkdir(parents=True, exist_ok=True)
    truth_labels = np.array([0] * 6 + [1] * 6)
    job = 0
    for seed in (0, 1):
        for backend in ("pyro_meanfield", "pymc_nuts"):
            d = root / f"{job}_{backend}_s{seed}"
            d.mkdir()
            (d / "metrics.json").write_text(json.dumps(fake_metrics(backend, seed)))
            # the NUTS run clusters like the truth; mean-field swaps two worksites; the files
            # store worksites in different orders, so only label alignment gives these ARIs
            labels = truth_labels.copy()
            if backend == "pyro_meanfield":
                labels[[0, 11]] = labels[[11, 0]]
            order = np.arange(12) if seed == 0 else np.arange(12)[::-1]
            write_clusters(d, labels, order if backend == "pymc_nuts" else np.roll(order, 5))
            job += 1
    bad = root / f"{job}_stan_nuts_s0"
    bad.mkdir()
    (bad / "failed.json").write_text(json.dumps({
        "status": "failed", "error": "BackendError: CmdStan not found; run make stan",
        "overrides": ["backend=stan_nuts", "seed=0"]}))  # fmt: skip
    (root / f"{job + 1}_stan_nuts_s1" / ".hydra").mkdir(parents=True)
    return root


@pytest.fixture
def fake_sweep(tmp_path):
    return make_fake_sweep(tmp_path / "sweep")


def test_collect_runs_statuses_in_job_order(fake_sweep):
    records = sweep.collect_runs(fake_sweep)
    assert [r.status for r in records] == ["complete"] * 4 + ["failed", "incomplete"]
    assert records[4].error.startswith("BackendError: CmdStan not found")
    assert records[4].overrides == ["backend=stan_nuts", "seed=0"]


def test_flatten_keeps_scalars_and_drops_lists():
    flat = sweep.flatten(
        {"a": {"b": 1.0, "c": [1, 2], "d": None, "e": {"f": "x"}}, "g": float("nan")}
    )
    assert flat == {"a.b": 1.0, "a.e.f": "x"}


def test_steps_run_uses_the_last_recorded_loss_step_of_a_sparse_trace():
    # CmdStan ADVI records -ELBO every eval_elbo iterations and may stop before num_steps
    sparse = {"fit": {"num_steps": 10000, "loss_steps": [100, 200, 300]},
              "diagnostics": {"vi": {"n_steps": 3}}}  # fmt: skip
    assert sweep.steps_run(sparse) == 300
    assert sweep.steps_run({"diagnostics": {"vi": {"n_steps": 400}}}) == 400
    assert sweep.steps_run({"fit": {"num_steps": 50}}) == 50
    assert sweep.steps_run({}) is None


def test_report_files_csv_rows_and_failure_listed(fake_sweep):
    import pandas as pd

    out = sweep.build_report(fake_sweep)
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

    out = sweep.build_report(fake_sweep)
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
    for name in (sweep.CSV_NAME, sweep.MD_NAME, sweep.HTML_NAME):
        (fake_sweep / name).unlink(missing_ok=True)
    assert sweep.cli([str(fake_sweep), "--title", "rebuilt"]) == 0
    assert (fake_sweep / sweep.MD_NAME).read_text().startswith("# Comparison report — rebuilt")
    assert (fake_sweep / sweep.HTML_NAME).exists() and (fake_sweep / sweep.CSV_NAME).exists()


def test_cli_missing_dir_is_an_error(tmp_path, capsys):
    assert sweep.cli([str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_empty_sweep_still_writes_a_report(tmp_path):
    out = sweep.build_report(tmp_path)
    assert out.n_complete == 0 and "0 runs" in out.markdown.read_text()


def test_newer_failure_overrides_an_older_complete_run(fake_sweep):
    import os

    run = fake_sweep / "0_pyro_meanfield_s0"
    (run / "failed.json").write_text(json.dumps({"status": "failed", "error": "E: later"}))
    old = (run / "metrics.json").stat().st_mtime
    os.utime(run / "failed.json", (old + 10, old + 10))
    rec = sweep.read_run(fake_sweep, run)
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
    md = sweep.build_report(root).markdown.read_text()
    assert "## Paper replication" in md
    assert "2.141032" in md and "0.006294" in md and "0.7688" in md
    assert "Percent Latino in ZIP" in md and "-1.89009" in md
    assert "No. Notes" in md  # the worker-coefficient table, published columns at least


def write_posterior(run_dir: Path, scale: float, order: np.ndarray, seed: int) -> None:
    """A posterior.nc with the canonical variables; every element's draws ~ Normal(0, scale)."""
    import xarray as xr

    rng = np.random.default_rng(seed)
    shape = (2, 500)
    dims = {"alpha": (), "beta_site": ("site_feature",), "sigma_site": (),
            "sigma_worker": (), "beta_worker": ("worksite", "worker_feature")}  # fmt: skip
    coords = {"site_feature": ["a", "b"], "worker_feature": ["c", "d"],
              "worksite": [WORKSITES[i] for i in order]}  # fmt: skip
    data = {}
    for name, d in dims.items():
        size = tuple(len(coords[k]) for k in d)
        draws = scale * rng.standard_normal(shape + size) + (1.0 if "sigma" in name else 0.0)
        data[name] = (("chain", "draw", *d), draws)
    xr.Dataset(data, coords=coords).to_netcdf(run_dir / "posterior.nc", group="posterior")


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
    df = pd.read_csv(sweep.build_report(fake_sweep).csv)
    mf = df[df.backend == "pyro_meanfield"]
    assert (mf["cross.nuts_partner"] == "pymc_nuts").all()
    # 1000 draws per element: the sd of a sample sd is ~2.2% of it, so a ratio of two is
    # within ~3% (1 sigma) of 0.5; the median over 24 elements is tighter still -> 0.05 is wide
    assert np.allclose(mf["vs_nuts.blocks.beta_worker.sd_ratio_median"], 0.5, atol=0.05)
    assert df[df.backend == "pymc_nuts"]["vs_nuts.blocks.beta_worker.n"].isna().all()
    width = (fake_sweep / sweep.MD_NAME).read_text().split("## Interval width")[1]
    row = next(line for line in width.splitlines() if "| pyro_meanfield |" in line)
    assert abs(float(row.split("|")[4].split()[0]) - 0.5) < 0.05  # the sd ratio column


# ----------------------------------------------------------------------------- configs
def launcher_options() -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / "hydra" / "launcher").glob("*.yaml"))


#: The Hydra plugin whose config each of our launcher files extends (extras `launchers`, `ray`).
LAUNCHER_PLUGINS = {
    "local_parallel": ("hydra_plugins.hydra_joblib_launcher", "JoblibLauncher"),
    "slurm": ("hydra_plugins.hydra_submitit_launcher", "SlurmLauncher"),
    "submitit_debug": ("hydra_plugins.hydra_submitit_launcher", "LocalLauncher"),
    "ray_cluster": ("hydra_plugins.hydra_ray_launcher", "RayLauncher"),
}


def test_every_launcher_file_names_its_plugin():
    assert set(launcher_options()) == set(LAUNCHER_PLUGINS)


@pytest.mark.parametrize("name", sorted(LAUNCHER_PLUGINS))
def test_launcher_config_composes_where_its_plugin_is_installed(name):
    """Composes with the plugin installed; without it (ray here) the file must name the extra
    that installs it and composing must fail on that missing plugin config, nothing else."""
    import importlib.util

    from hydra import compose, initialize_config_dir
    from hydra.errors import MissingConfigException
    from omegaconf import OmegaConf

    module, target = LAUNCHER_PLUGINS[name]
    installed = importlib.util.find_spec(module) is not None
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        if not installed:
            text = (CONF_DIR / "hydra" / "launcher" / f"{name}.yaml").read_text()
            assert "pip install -e '.[ray]'" in text
            with pytest.raises(MissingConfigException, match="hydra/launcher/ray"):
                compose("config", overrides=[f"hydra/launcher={name}"], return_hydra_config=True)
            return
        cfg = compose("config", overrides=[f"hydra/launcher={name}"], return_hydra_config=True)
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=False)
    assert launcher["_target_"].endswith(target)
    if name == "local_parallel":
        assert OmegaConf.select(cfg, "hydra.launcher.n_jobs") == 2  # PPL_COMPARE_JOBS unset


def test_callback_is_registered():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", return_hydra_config=True)
    assert (
        cfg.hydra.callbacks.sweep_report._target_ == "evaluation.sweep.collect.SweepReportCallback"
    )


# ----------------------------------------------------------------------------- real multiruns
def run_app(*overrides: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    full_env = {**os.environ, "PPL_COMPARE_CACHE": str(cwd / "cache"), **(env or {})}
    return subprocess.run([APP, *overrides], cwd=cwd, capture_output=True, text=True,
                          timeout=900, check=False, env=full_env)  # fmt: skip


def test_debug_multirun_lists_a_failed_run_and_a_rerun_skips_completed(tmp_path):
    import pandas as pd

    sweep_dir = tmp_path / "sweep"
    args = ("-m", "debug=fast", "evaluation.figures=false", "data.test_fraction=0.2,1.5",
            f"hydra.sweep.dir={sweep_dir}")  # fmt: skip
    proc = run_app(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    df = pd.read_csv(sweep_dir / sweep.CSV_NAME)
    assert sorted(df["status"]) == ["complete", "failed"]
    failed = df[df.status == "failed"].iloc[0]
    assert "test_fraction" in failed["error"] and "1.5" in failed["overrides"]
    md = (sweep_dir / sweep.MD_NAME).read_text()
    assert "test_fraction" in md and "did not complete" in md
    assert (sweep_dir / sweep.HTML_NAME).exists()
    done = sweep_dir / df[df.status == "complete"].iloc[0]["run"] / "metrics.json"
    stamp = done.stat().st_mtime_ns
    again = run_app(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "skipping" in again.stdout + again.stderr
    assert done.stat().st_mtime_ns == stamp  # the complete run was not redone
    assert len(pd.read_csv(sweep_dir / sweep.CSV_NAME)) == 2


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
    sweep.SweepReportCallback().on_job_end(config, job)
    assert job.status == JobStatus.COMPLETED and job.return_value is None
    failed = json.loads((tmp_path / "0_x" / "failed.json").read_text())
    assert failed == {"status": "failed", "error": "crash: RuntimeError: boom",
                      "overrides": ["backend=x"]}  # fmt: skip
    assert "Traceback" in (tmp_path / "0_x" / "crash.txt").read_text()
    rec = sweep.read_run(tmp_path, tmp_path / "0_x")
    assert rec.status == "failed" and rec.error.startswith("crash: RuntimeError")


@pytest.mark.parametrize("launcher", ["local_parallel", "submitit_debug"])
def test_sweep_through_joblib_and_submitit_launchers_writes_the_report(tmp_path, launcher):
    """The launcher path (jobs in worker processes / submitit's local executor, the callback's
    report in the submitting process); the jobs are two quick user errors, so no fit runs."""
    import pandas as pd

    sweep_dir = tmp_path / "sweep"
    proc = run_app("-m", "debug=fast", f"hydra/launcher={launcher}",
                   "data.test_fraction=1.5,2.0", f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path,
                   env={"PPL_COMPARE_JOBS": "2"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    df = pd.read_csv(sweep_dir / sweep.CSV_NAME)
    assert list(df["status"]) == ["failed", "failed"]
    assert df["error"].str.contains("test_fraction").all()
    assert "did not complete" in (sweep_dir / sweep.MD_NAME).read_text()


# ----------------------------------------------------------------------------- experiments (slow)
#: Command-line sweep overrides that narrow an experiment's own hydra.sweeper.params for the
#: smoke run (a command-line value replaces the experiment's value of the same key).
EXPERIMENT_SMOKE = {
    "main": [],
    "paper_replication": ["seed=0,1"],  # two runs: the report compares seeds
    "meanfield_study": ["data.sigma_worker=0.5", "seed=0", "backend=pymc_nuts,pyro_meanfield"],
    "calibration": ["backend=pymc_nuts,pyro_meanfield", "seed=range(0,5)"],
    "benchmark": [],
}
#: A heading each experiment's report must contain beyond the common ones.
EXPERIMENT_SECTION = {
    "main": "## Cluster stability",
    "paper_replication": "## Paper replication",
    "meanfield_study": "## Interval width against the reference posterior",
    "calibration": "## Calibration across replications",
    "benchmark": "## Cost",
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
    assert proc.returncode == 0, proc.stderr[-3000:]
    df = pd.read_csv(sweep_dir / sweep.CSV_NAME)
    md = (sweep_dir / sweep.MD_NAME).read_text()
    # a backend this machine cannot run (e.g. stan_pathfinder needs CmdStan >= 2.33) is a
    # recorded, listed failure; anything else failing is a bug
    failed = df[df.status != "complete"]
    unavailable = failed["error"].astype(str).str.startswith("BackendUnavailable")
    assert unavailable.all(), failed[["run", "error"]].to_string()
    assert all(run in md for run in failed["run"])
    assert (df.status == "complete").sum() >= 2
    assert EXPERIMENT_SECTION[name] in md
    assert (sweep_dir / sweep.HTML_NAME).stat().st_size > 10_000  # figures embedded
