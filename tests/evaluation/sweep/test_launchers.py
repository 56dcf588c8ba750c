"""Scale-out (issue 15 item 2): every launcher file composes with its Hydra plugin, and the
joblib (default suite), submitit-local and Ray (slow suite; Ray only where the `ray` extra is
installed) launchers run the same tiny sweep unchanged: both fits complete and the submitting
process writes the sweep report."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from sweepfakes import run_app

from evaluation.app import CONF_DIR
from evaluation.sweep.records import CSV_NAME, HTML_NAME, MD_NAME

#: The Hydra plugin whose config each of our launcher files extends, and the extra that
#: installs it.
LAUNCHER_PLUGINS = {
    "local_parallel": ("hydra_plugins.hydra_joblib_launcher", "JoblibLauncher", "launchers"),
    "slurm": ("hydra_plugins.hydra_submitit_launcher", "SlurmLauncher", "launchers"),
    "submitit_debug": ("hydra_plugins.hydra_submitit_launcher", "LocalLauncher", "launchers"),
    "ray_cluster": ("hydra_plugins.hydra_ray_launcher", "RayLauncher", "ray"),
}

#: A two-job sweep that really fits (Pyro mean-field, 50 steps, debug-size twin, two data seeds).
TINY_SWEEP = ("-m", "debug=fast", "backend=pyro_meanfield", "backend.num_steps=50",
              "data.seed=0,1", "evaluation.figures=false", "evaluation.clustering.enabled=false",
              "claims=none")  # fmt: skip


def launcher_options() -> list[str]:
    """Names of the launcher configs shipped in conf/hydra/launcher/."""
    return sorted(p.stem for p in (CONF_DIR / "hydra" / "launcher").glob("*.yaml"))


# ----------------------------------------------------------------------------- configs
def test_every_launcher_file_names_its_plugin():
    assert set(launcher_options()) == set(LAUNCHER_PLUGINS)


@pytest.mark.parametrize("name", sorted(LAUNCHER_PLUGINS))
def test_launcher_config_composes_where_its_plugin_is_installed(name):
    """Every file names the extra that installs its plugin. The `launchers` extra is part of
    the test environment, so those plugins must be installed; without the `ray` extra composing
    must fail on that missing plugin config, nothing else."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import MissingConfigException
    from omegaconf import OmegaConf

    module, target, extra = LAUNCHER_PLUGINS[name]
    text = (CONF_DIR / "hydra" / "launcher" / f"{name}.yaml").read_text()
    assert f"pip install -e '.[{extra}]'" in text
    installed = importlib.util.find_spec(module) is not None
    assert installed or extra == "ray", f"{module} missing: pip install -e '.[{extra}]'"
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        if not installed:
            with pytest.raises(MissingConfigException, match="hydra/launcher/ray"):
                compose("config", overrides=[f"hydra/launcher={name}"], return_hydra_config=True)
            return
        cfg = compose("config", overrides=[f"hydra/launcher={name}"], return_hydra_config=True)
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=False)
    assert launcher["_target_"].endswith(target)
    if name == "local_parallel":
        assert OmegaConf.select(cfg, "hydra.launcher.n_jobs") == 2  # PPL_COMPARE_JOBS unset


# ----------------------------------------------------------------------------- real multiruns
@pytest.mark.parametrize("launcher", ["local_parallel", "submitit_debug"])
def test_sweep_through_joblib_and_submitit_launchers_writes_the_report(tmp_path, launcher):
    """The launcher path (jobs in worker processes / submitit's local executor, the callback's
    report in the submitting process); the jobs are two quick user errors, so no fit runs."""
    import pandas as pd

    sweep_dir = tmp_path / "sweep"
    proc = run_app("-m", "debug=fast", f"hydra/launcher={launcher}",
                   "data.test_fraction=1.5,2.0", f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path,
                   env={"PPL_COMPARE_JOBS": "2"})  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-3000:]  # every run failed: the sweep exits 1
    assert "2 of 2 runs failed or did not finish" in proc.stderr
    df = pd.read_csv(sweep_dir / CSV_NAME)
    assert list(df["status"]) == ["failed", "failed"]
    assert df["error"].str.contains("test_fraction").all()
    assert "did not complete" in (sweep_dir / MD_NAME).read_text()


def assert_two_complete_runs(sweep_dir: Path, proc) -> None:
    """Exit 0, both runs' metrics.json complete, and the sweep report lists 2 complete runs."""
    import pandas as pd

    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = sorted(p.parent.name for p in sweep_dir.glob("*/metrics.json"))
    assert runs == ["0_pyro_meanfield_s0", "1_pyro_meanfield_s1"]
    for run in runs:
        metrics = json.loads((sweep_dir / run / "metrics.json").read_text())
        assert metrics["status"] == "complete"
    df = pd.read_csv(sweep_dir / CSV_NAME)
    assert sorted(df["run"]) == runs and list(df["status"]) == ["complete", "complete"]
    assert "2 runs, 2 complete, 0 failed or incomplete" in (sweep_dir / MD_NAME).read_text()
    assert (sweep_dir / HTML_NAME).exists()
    assert "sweep report: 2 complete, 0 failed or incomplete" in proc.stdout + proc.stderr


def test_joblib_launcher_runs_a_real_sweep_unchanged(tmp_path):
    """`hydra/launcher=local_parallel`: the two fits run in joblib worker processes."""
    sweep_dir = tmp_path / "sweep"
    proc = run_app(*TINY_SWEEP, "hydra/launcher=local_parallel", f"hydra.sweep.dir={sweep_dir}",
                   cwd=tmp_path, env={"PPL_COMPARE_JOBS": "2"})  # fmt: skip
    assert "Joblib.Parallel(n_jobs=2" in proc.stdout + proc.stderr
    assert_two_complete_runs(sweep_dir, proc)


@pytest.mark.slow
def test_submitit_local_launcher_runs_a_real_sweep_unchanged(tmp_path):
    """`hydra/launcher=submitit_debug`: the SLURM launcher's code path (pickled jobs, job
    array, .submitit/ logs) through submitit's local executor."""
    sweep_dir = tmp_path / "sweep"
    proc = run_app(*TINY_SWEEP, "hydra/launcher=submitit_debug", f"hydra.sweep.dir={sweep_dir}",
                   cwd=tmp_path)  # fmt: skip
    assert_two_complete_runs(sweep_dir, proc)
    logs = sorted((sweep_dir / ".submitit").rglob("*_log.out"))
    assert len(logs) == 2  # one submitit job per run


@pytest.mark.slow
def test_ray_launcher_runs_a_real_sweep_unchanged(tmp_path):
    """`hydra/launcher=ray_cluster` with a local Ray instance (address null). Needs the `ray`
    extra, which the default environment does not install (ray is ~70 MB)."""
    pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason="pip install -e '.[ray]'")
    sweep_dir = tmp_path / "sweep"
    proc = run_app(*TINY_SWEEP, "hydra/launcher=ray_cluster", f"hydra.sweep.dir={sweep_dir}",
                   cwd=tmp_path, env={"RAY_AUTH_MODE": "disabled"})  # fmt: skip
    assert "Started a local Ray instance" in proc.stdout + proc.stderr
    assert_two_complete_runs(sweep_dir, proc)
