"""Reliability of a run as a user meets it (issue 16, items 2, 3, 7, 8 and signals; issue 25,
items 2, 5, 7 and 8; issue 33, items 3, 7, 8, 10, 12 and the size of posterior.nc).

Each test runs ``ppl-compare`` as a user would and asserts the message, the exit code and
what is left on disk.  Runs are tiny (``debug=fast``, a few steps, no clustering).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from evalhelpers import APP, one_error_line, run_app

from evaluation.config import CONF_DIR

#: A fast, complete run (seconds): tiny twin, 30 Pyro steps, no clustering, no figures.
FAST = (
    "debug=fast",
    "backend.num_steps=30",
    "evaluation.clustering.enabled=false",
    "evaluation.figures=false",
)
RESULTS = ("posterior.nc", "metrics.json", "report.md", "clusters.nc", "loss.png")


def results_in(run_dir: Path) -> list[str]:
    """The result files present in ``run_dir`` (and any figure or temp file)."""
    found = [name for name in RESULTS if (run_dir / name).exists()]
    found += [str(p.relative_to(run_dir)) for p in run_dir.rglob("*.png")]
    return found + [str(p.relative_to(run_dir)) for p in run_dir.rglob(".*.tmp")]


# -------------------------------------------------------- item 2: what the user typed wins
def test_debug_fast_keeps_the_steps_typed_on_the_command_line(tmp_path):
    out = tmp_path / "run"
    proc = run_app(
        *FAST[:1], "backend.num_steps=50", *FAST[2:], f"hydra.run.dir={out}", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["fit"]["num_steps"] == 50
    assert "backend.num_steps=50 (command line) wins over backend_overrides.num_steps=400" in (
        proc.stdout
    )
    assert "pyro_meanfield has no chains, draws, tune; ignored" in proc.stdout


@pytest.mark.parametrize(
    "overrides",
    [
        ("backend.num_steps=-5",),
        ("backend=pymc_nuts", "backend.chains=0"),
        ("backend=pymc_nuts", "backend.draws=0"),
        ("backend.lr=0",),
        ("seed=-1", "data.seed=0"),  # issue 25 item 8: the message names seed, not a library
        ("data.seed=4294967296",),
        ("repeat=-1",),
    ],
)
def test_a_bad_value_is_an_error_whatever_the_debug_preset(tmp_path, overrides):
    out = tmp_path / "run"
    line = one_error_line(run_app("debug=fast", *overrides, f"hydra.run.dir={out}", cwd=tmp_path))
    first = overrides[0]
    key = (
        first.split("=")[0] if "seed" in first or "repeat" in first else overrides[-1].split("=")[0]
    )
    assert line.startswith(f"ppl-compare: error: {key}=") and ": must be " in line
    assert not out.exists()  # nothing written: the run dir Hydra made for it is gone too


# ------------------------------------------------------------- item 3: the file system
def test_an_unwritable_run_dir_is_one_line_naming_the_path_and_the_fix(tmp_path):
    (tmp_path / "afile").write_text("not a directory")
    line = one_error_line(
        run_app(*FAST, f"hydra.run.dir={tmp_path / 'afile' / 'run'}", cwd=tmp_path)
    )
    assert str(tmp_path / "afile") in line and "hydra.run.dir=" in line


def test_a_log_file_hydra_cannot_open_is_one_line(tmp_path):
    out = tmp_path / "run"
    (out / "app.log").mkdir(parents=True)  # Hydra's file handler cannot open it
    proc = run_app(*FAST, f"hydra.run.dir={out}", cwd=tmp_path)
    line = one_error_line(proc)
    assert str(out / "app.log") in line and "Unable to configure handler" not in proc.stderr
    assert results_in(out) == []


def test_an_unwritable_figures_dir_is_named_before_the_fit(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "figures").write_text("a file where figures/ should be")
    proc = run_app(*FAST[:3], "evaluation.figures=true", f"hydra.run.dir={out}", cwd=tmp_path)
    line = one_error_line(proc)
    assert str(out / "figures") in line and "hydra.run.dir=" in line
    assert "fitting" not in proc.stdout  # checked before the fit
    assert results_in(out) == []


def test_a_run_failing_after_the_fit_leaves_no_result(tmp_path):
    out = tmp_path / "run"
    bad = ("evaluation.reference=pymc_nuts", "++evaluation.reference_overrides.chains=0")
    proc = run_app(*FAST, *bad, f"hydra.run.dir={out}", cwd=tmp_path)  # the reference's fit
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "fitting" in proc.stdout  # it failed after the fit (posterior.nc had been written)
    assert results_in(out) == []


# --------------------------------------------------------------- item 7: config ergonomics
def test_a_misspelled_backend_key_is_one_line_naming_the_valid_ones(tmp_path):
    out = tmp_path / "run"
    line = one_error_line(run_app("+backend.num_step=10", f"hydra.run.dir={out}", cwd=tmp_path))
    assert "backend.num_step;" in line and "num_steps" in line and "num_draws" in line
    assert results_in(out) == []


def test_feature_lists_and_mappings_work_with_data_tables(tmp_path):
    from evaluation.data.export import write_example_tables

    tables = write_example_tables(tmp_path / "tables", n_groups=6, n_units=300, seed=0)
    out = tmp_path / "run"
    proc = run_app(
        *FAST,
        "data=tables",
        f"data.units_path={tables.units}",
        f"data.groups_path={tables.groups}",
        "data.outcome=signed",
        "data.group_id=worksite_id",
        "data.unit_features=[is_male,n_notes]",
        "data.group_features={pct_male:standardize,ndo:standardize}",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["worker_features"] == ["is_male", "n_notes"]
    assert metrics["data"]["site_features"] == ["pct_male", "ndo"]


# ------------------------------------------------------------ item 8: a run owns its dir
def test_a_run_clears_what_it_will_rewrite_and_a_skipped_run_touches_nothing(tmp_path):
    out = tmp_path / "run"
    (out / "figures").mkdir(parents=True)
    stale = [
        "metrics.json", "failed.json", "posterior.nc", "clusters.nc", "report.md", "loss.png",
        "figures/roc.png", ".posterior.nc.1a2b.tmp", "figures/.roc.png.3c4d.tmp",
    ]  # fmt: skip
    for name in stale:
        (out / name).write_text("stale")
    (out / "metrics.json").write_text(json.dumps({"status": "failed"}))
    proc = run_app(*FAST, f"hydra.run.dir={out}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(results_in(out)) == ["metrics.json", "posterior.nc", "report.md"]
    assert not (out / "failed.json").exists()
    assert json.loads((out / "metrics.json").read_text())["status"] == "complete"
    # the same run again is skipped and leaves the directory alone
    (out / "figures" / "mine.png").write_text("kept")
    again = run_app(*FAST, f"hydra.run.dir={out}", cwd=tmp_path)
    assert again.returncode == 0 and "skipping" in again.stdout
    assert (out / "figures" / "mine.png").read_text() == "kept"
    # issue 25 item 7: another config replaces the complete run, with one warning naming it
    other = run_app(*FAST, "seed=1", f"hydra.run.dir={out}", cwd=tmp_path)
    assert other.returncode == 0, other.stderr[-3000:]
    lines = [line for line in other.stdout.splitlines() if "replacing" in line]
    assert len(lines) == 1 and lines[0].endswith(
        f"[WARNING] - replacing the complete run in {out} (pyro_meanfield, seed 0, data paper; "
        f"its config differs from this one): removing metrics.json, posterior.nc, truth.nc, "
        f"report.md, 1 figure(s) in figures/"
    )
    assert json.loads((out / "metrics.json").read_text())["seed"] == 1
    # a user error leaves the complete run (and the dir) as they were
    one_error_line(run_app(*FAST, "backend.lr=0", f"hydra.run.dir={out}", cwd=tmp_path))
    assert sorted(results_in(out)) == ["metrics.json", "posterior.nc", "report.md"]
    assert json.loads((out / "metrics.json").read_text())["seed"] == 1


def test_a_sweep_job_keeps_only_its_latest_outcome(tmp_path):
    sweep = tmp_path / "sweep"
    job = sweep / "0_pyro_meanfield_s0"
    common = ("-m", *FAST, f"hydra.sweep.dir={sweep}", "~hydra.callbacks.sweep_report")
    first = run_app(*common, cwd=tmp_path)
    assert (job / "metrics.json").is_file() and not (job / "failed.json").exists(), first.stderr
    failed = run_app(*common, "backend.lr=-1", cwd=tmp_path)  # a failed re-run of the job
    assert json.loads((job / "failed.json").read_text())["status"] == "failed", failed.stderr
    assert "backend.lr=-1" in (job / "failed.json").read_text()
    assert not (job / "metrics.json").exists() and not (job / "posterior.nc").exists()
    fixed = run_app(*common, cwd=tmp_path)
    assert (job / "metrics.json").is_file(), fixed.stderr[-3000:]
    assert not (job / "failed.json").exists()


# ------------------------------------------- issue 25 items 7, 8: what a run leaves behind
def test_a_user_error_after_hydra_made_the_run_dir_leaves_no_dir(tmp_path):
    out = tmp_path / "run"
    proc = run_app(*FAST[:3], "evaluation.figures=true", "data=paper_tables",
                   f"data.units_path={tmp_path}", f"data.groups_path={tmp_path / 'g.csv'}",
                   f"hydra.run.dir={out}", cwd=tmp_path)  # fmt: skip
    line = one_error_line(proc)  # issue 25 item 8: a directory is not "file not found"
    assert line == (
        f"ppl-compare: error: DataValidationError: {tmp_path}: a directory, not a file; set "
        "data.units_path=PATH to an existing CSV or Parquet file"
    )
    assert not out.exists()  # not .hydra/, app.log nor an empty figures/


def test_a_user_error_with_the_run_dir_here_removes_only_hydras_files(tmp_path):
    here = tmp_path / "here"
    here.mkdir()
    one_error_line(run_app(*FAST, "seed=-1", "hydra.run.dir=.", cwd=here))
    assert here.is_dir() and list(here.iterdir()) == []  # the working dir itself stays
    (here / "mine").mkdir()  # a dir holding anything of the user's is left as it is
    one_error_line(run_app(*FAST, "seed=-1", "hydra.run.dir=.", cwd=here))
    assert sorted(p.name for p in here.iterdir()) == [".hydra", "app.log", "mine"]


# ------------------------------------------------------- issue 25 items 2, 5: claims ledgers
LEDGERS = ", ".join(sorted(p.stem for p in (CONF_DIR / "claims").glob("*.yaml")))


@pytest.mark.parametrize("overrides", [("claims=does_not_exist",), ("data=paper", "claims=papr")])
def test_an_unknown_claims_ledger_is_one_line_listing_the_ledgers(tmp_path, overrides):
    out = tmp_path / "run"
    line = one_error_line(run_app(*FAST, *overrides, f"hydra.run.dir={out}", cwd=tmp_path))
    name = overrides[-1].split("=")[1]
    assert line == (f"ppl-compare: error: claims={name}: no such claims ledger; ledgers: "
                    f"{LEDGERS} (claims=none turns it off)")  # fmt: skip
    assert not out.exists()


def test_a_claims_yaml_with_a_python_tag_is_one_line_and_never_run(tmp_path):
    conf = tmp_path / "myconf" / "claims"
    conf.mkdir(parents=True)
    (conf / "evil.yaml").write_text(
        "claims:\n  - !!python/object/apply:os.system ['touch pwned']\n"
    )
    out = tmp_path / "run"
    proc = run_app(*FAST, f"hydra.searchpath=[file://{tmp_path / 'myconf'}]", "claims=evil",
                   f"hydra.run.dir={out}", cwd=tmp_path)  # fmt: skip
    line = one_error_line(proc)
    assert line == (f"ppl-compare: error: cannot read {conf / 'evil.yaml'}, line 2: could not "
                    f"determine a constructor for the tag 'tag:yaml.org,2002:python/object/"
                    f"apply:os.system' (only plain YAML is read: no Python tags)")  # fmt: skip
    assert not (tmp_path / "pwned").exists() and not out.exists()


def test_the_ledger_loader_refuses_a_python_tag_in_one_line(tmp_path):
    from evaluation.claims.load import load_ledger

    path = tmp_path / "ledger.yaml"
    path.write_text("claims:\n  - !!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(ValueError, match=r"^claims: cannot read .*ledger\.yaml, line 2: ") as info:
        load_ledger(path)
    assert "\n" not in str(info.value) and not (tmp_path / "pwned").exists()


# ------------------------------------------------ issue 25 item 8: no raw HTML in report.md
def test_html_in_names_is_not_raw_html_in_the_run_report(tmp_path):
    from evaluation.report.format import no_html
    from evaluation.report.run.report import render_run_report

    metrics = {"status": "complete", "backend": "pyro_meanfield", "seed": 0,
               "data": {"name": "<img src=x onerror=alert(1)>", "n_worksites": 2}}  # fmt: skip
    text = render_run_report(metrics, tmp_path)
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)>" in text
    assert no_html("P < 0.05, `<b>` and <b>x</b>") == "P < 0.05, `<b>` and &lt;b>x&lt;/b>"


# ------------------------------------------------------------------------------ signals
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_the_fit_ends_the_run_with_one_line_and_no_files(tmp_path, sig):
    out = tmp_path / "run"
    cmd = [APP, *FAST[:1], "backend.num_steps=1000000", *FAST[2:], f"hydra.run.dir={out}"]
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            logs = list(out.glob("*.log"))
            if logs and "fitting" in logs[0].read_text():
                break
            time.sleep(0.5)
        time.sleep(2.0)  # well inside the fit
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig, stderr[-2000:]
    lines = stderr.strip().splitlines()
    assert lines == [f"ppl-compare: interrupted ({sig.name}); nothing written"], stderr[-2000:]
    assert results_in(out) == []
    assert not list(out.rglob("*.tmp"))


# ----------------------------------------------------------------------------- issue 33
@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """One fast run whose posterior.nc keeps 50 draws in single precision (the scale option)."""
    root = tmp_path_factory.mktemp("saved")
    out = root / "run"
    small = ("evaluation.posterior_dtype=float32", "evaluation.posterior_draws=50")
    proc = run_app(*FAST, *small, f"hydra.run.dir={out}", cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root, out, small


def test_posterior_nc_can_be_smaller_and_every_reader_still_reads_it(saved_run):
    """Issue 33, scale: ``posterior_dtype=float32``, ``posterior_draws=50`` make a smaller
    posterior.nc (the judges score the fit in memory) that every reader of it still reads."""
    import arviz as az

    from evaluation.report.sweep.calibration import run_checks
    from evaluation.report.sweep.paper import posterior_mean_beta_worker
    from evaluation.sweep.cross import compare_posteriors
    from evaluation.sweep.records import read_run

    _, out, _ = saved_run
    idata = az.from_netcdf(str(out / "posterior.nc"))
    assert idata.posterior.sizes["draw"] == 50 and idata.posterior["beta_worker"].dtype == "float32"
    assert idata.sample_stats["log_q"].dtype == "float32"
    assert idata.constant_data["X_worker"].dtype == "float64"  # the data stay exact
    assert json.loads((out / "metrics.json").read_text())["diagnostics"]["vi"]["khat"] is not None
    rec = read_run(out.parent, out)
    assert rec.status == "complete" and rec.error is None
    same = compare_posteriors(out / "posterior.nc", out / "posterior.nc")
    assert same["blocks"]["beta_site"]["sd_ratio_median"] == pytest.approx(1.0)
    checks = run_checks(rec)
    assert 0.0 <= checks["beta_site"].coverage[0.9] <= 1.0
    assert posterior_mean_beta_worker(rec).shape == (10, 7)


def test_a_reference_of_the_same_data_is_read_and_of_other_data_refused_before_the_fit(
    saved_run,
):
    """Issue 33, item 3: the reference's recorded data are compared with the run's."""
    root, saved, _ = saved_run
    ref = f"evaluation.reference={saved / 'posterior.nc'}"
    same = run_app(*FAST, ref, f"hydra.run.dir={root / 'same'}", cwd=root)
    assert same.returncode == 0, same.stderr[-3000:]
    assert json.loads((root / "same" / "metrics.json").read_text())["reference"]["blocks"]
    out = root / "other"
    proc = run_app(*FAST, "data.seed=1", ref, f"hydra.run.dir={out}", cwd=root)
    line = one_error_line(proc)
    assert line.startswith(
        f"ppl-compare: error: {ref}: fitted to other data than this run's (the reference's "
        "against this run's: the same sizes (480 rows, 10 groups) but other values (data hash "
    )
    assert "fitting" not in proc.stdout and not out.exists()  # refused before the fit


def test_a_complete_run_that_lost_its_posterior_runs_again(saved_run):
    """Issue 33, item 10: metrics.json alone is no complete run."""
    from evaluation.sweep.records import NO_POSTERIOR

    root, saved, small = saved_run
    out = root / "lost"
    shutil.copytree(saved, out)
    (out / "posterior.nc").unlink()
    proc = run_app(*FAST, *small, f"hydra.run.dir={out}", cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "skipping" not in proc.stdout
    assert f"running {out} again: {NO_POSTERIOR}" in proc.stdout
    assert (out / "posterior.nc").is_file()
    again = run_app(*FAST, *small, f"hydra.run.dir={out}", cwd=root)
    assert again.returncode == 0 and "skipping" in again.stdout


@pytest.mark.parametrize(
    "overrides",
    [("experiment=main", "data.seed=0,1", "data.sigma_wroker=1"),
     ("data.seed=0,1", "+data.sigma_wroker=1")],
)  # fmt: skip
def test_a_typo_beside_a_sweep_value_is_named(tmp_path, overrides):
    """Issue 33, item 8: not Hydra's "Ambiguous value for argument 'data.seed=0,1'"."""
    line = one_error_line(run_app(*overrides, cwd=tmp_path))
    assert line.startswith("ppl-compare: error: unknown config key data.sigma_wroker; data "
                           "accepts: cluster_separation, ")  # fmt: skip
    assert list(tmp_path.iterdir()) == []  # no sweep dir, no run dir


@pytest.mark.parametrize(
    ("text", "line"),
    [("claims: []\n", "claims=mine: the ledger holds no claims (no entries under claims:); add "
                      "some, or claims=none to turn claims off"),
     ("thresholds: {credible: 0.9}\n", "claims=mine: the ledger holds no claims"),
     ("thresholds: {credible: '0.95'}\nclaims:\n  - {name: a, kind: sign, feature: ndo, "
      "direction: positive}\n",
      "ValueError: claims.thresholds.credible must be a number in [0, 1], got '0.95'")],
)  # fmt: skip
def test_an_empty_or_broken_ledger_is_one_line_and_leaves_nothing(tmp_path, text, line):
    """Issue 33, items 7 and 12."""
    conf = tmp_path / "myconf" / "claims"
    conf.mkdir(parents=True)
    (conf / "mine.yaml").write_text(text)
    out = tmp_path / "run"
    got = one_error_line(run_app(*FAST, f"hydra.searchpath=[file://{tmp_path / 'myconf'}]",
                                 "claims=mine", f"hydra.run.dir={out}", cwd=tmp_path))  # fmt: skip
    assert got.startswith(f"ppl-compare: error: {line}")
    assert not out.exists()  # not even .hydra/ and app.log
