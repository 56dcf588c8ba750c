"""ppl-compare-report and the sweep callback as scripts see them: what they refuse (one line, exit
status 2), what they never overwrite (a report file edited by hand is kept, the new one goes
beside it), the jobs they list and their exit status (issue 16 items 1, 4; issue 25 items 1, 6).
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess

import pandas as pd
import pytest
from omegaconf import OmegaConf
from sweepfakes import REPORT, fake_metrics

from evaluation.commands.callback import SweepReportCallback
from evaluation.commands.report import cli
from evaluation.commands.sweep_files import LEDGER, WRITTEN_BY, build_report
from evaluation.report.sweep.report import MARKER
from evaluation.sweep.jobs import NOT_STARTED, launched_jobs
from evaluation.sweep.records import CSV_NAME, HTML_NAME, MD_NAME

REPORT_FILES = (CSV_NAME, MD_NAME, HTML_NAME)


def snapshot(root) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def make_run_dir(root):
    """A single run's dir as the app leaves it: .hydra/, metrics.json, its own report.md."""
    run = root / "runs" / "2026-01-01_12-00-00_pyro_meanfield_s0"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("[]\n")
    (run / "metrics.json").write_text(json.dumps(fake_metrics("pyro_meanfield", 0)))
    (run / "report.md").write_text("# Run report — pyro_meanfield\n\nthe user's results\n")
    (run / "figures").mkdir()
    return run


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ----------------------------------------------------------------------------- not a sweep
def test_script_refuses_a_single_run_dir_and_leaves_it_untouched(tmp_path):
    run = make_run_dir(tmp_path)
    before = snapshot(run)
    proc = subprocess.run([REPORT, str(run)], capture_output=True, text=True, timeout=300,
                          check=False)  # fmt: skip
    assert proc.returncode == 2
    line = one_line(proc.stderr)
    assert line == (f"ppl-compare-report: error: {run} is a single run's dir, not a sweep dir: "
                    f"no sub-directory holds a run (metrics.json, failed.json, .hydra); "
                    f"nothing written")  # fmt: skip
    assert proc.stdout == ""
    assert snapshot(run) == before  # the run's report.md is not replaced, nothing added


def test_cli_refuses_a_folder_without_runs(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "units.csv").write_text("worker,site,y\n1,a,0\n")
    (data / "notes").mkdir()
    before = snapshot(data)
    assert cli([str(data)]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"ppl-compare-report: error: {data} is not a sweep dir: ")
    assert line.endswith("nothing written")
    assert snapshot(data) == before


def test_cli_missing_dir_is_one_line_and_exit_2(tmp_path, capsys):
    assert cli([str(tmp_path / "nope")]) == 2
    assert "does not exist" in one_line(capsys.readouterr().err)
    assert not (tmp_path / "nope").exists()


def test_cli_on_a_file_says_it_is_a_file(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("x")
    assert cli([str(tmp_path / "notes.txt")]) == 2
    assert one_line(capsys.readouterr().err) == (
        f"ppl-compare-report: error: {tmp_path / 'notes.txt'} is a file, not a sweep dir; "
        f"nothing written"
    )


def test_help_documents_the_exit_status(capsys):
    with pytest.raises(SystemExit) as info:
        cli(["--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "exit status: 0 = report written, every run complete; 1 = report written, but" in out
    assert "2 = nothing written" in out and "is kept; the new file goes beside it" in out


def test_cli_exits_0_only_when_every_run_completed(fake_sweep, quick, capsys):
    assert cli([str(fake_sweep)]) == 1
    out = capsys.readouterr()
    assert out.out.startswith("4 complete, 2 failed or incomplete runs\n")
    assert one_line(out.err) == (f"ppl-compare-report: 2 of 6 runs failed or did not finish "
                                 f"(listed in {fake_sweep / MD_NAME}); exit status 1")  # fmt: skip
    for bad in ("4_stan_nuts_s0", "5_stan_nuts_s1"):
        shutil.rmtree(fake_sweep / bad)
    assert cli([str(fake_sweep)]) == 0
    assert capsys.readouterr().err == ""


def test_cli_an_unwritable_sweep_dir_is_one_line(fake_sweep, quick, capsys, monkeypatch):
    def refuse(path, text):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("evaluation.commands.sweep_files.io.write_text", refuse)
    assert cli([str(fake_sweep)]) == 2
    assert one_line(capsys.readouterr().err) == (
        f"ppl-compare-report: error: cannot write {fake_sweep / CSV_NAME} (Permission denied); "
        f"make the sweep dir writable"
    )


# ----------------------------------------------------------------------------- ownership
BESIDE = {CSV_NAME: "comparison.new.csv", MD_NAME: "report.new.md", HTML_NAME: "report.new.html"}


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_written_files_are_recorded_and_replaced_on_rebuild(fake_sweep):
    out = build_report(fake_sweep)
    assert out.markdown.read_text().splitlines()[1] == MARKER
    assert out.html.read_text().splitlines()[:2] == ["<!DOCTYPE html>", MARKER]
    df = pd.read_csv(out.csv)
    assert df.columns[-1] == WRITTEN_BY and (df[WRITTEN_BY] == "ppl-compare-report").all()
    recorded = json.loads((fake_sweep / LEDGER).read_text())["sha256"]
    assert sorted(recorded) == sorted(REPORT_FILES)
    assert cli([str(fake_sweep)]) == 1  # its own files: replaced in place (1: failed runs)
    assert out.markdown.read_text().splitlines()[1] == MARKER
    assert not any((fake_sweep / name).exists() for name in BESIDE.values())


EDITS = {
    "appended notes": lambda text: text + "\nMy notes on this sweep.\n",
    "a changed first line": lambda text: "# My title\n" + text.split("\n", 1)[1],
    "an edited value": lambda text: text.replace("complete", "done", 1),
}


@pytest.mark.parametrize(
    ("name", "edit"),
    [(MD_NAME, "appended notes"), (MD_NAME, "a changed first line"),
     (CSV_NAME, "an edited value"), (HTML_NAME, "appended notes")],
)  # fmt: skip
def test_an_edited_report_file_is_kept_and_the_new_one_goes_beside(fake_sweep, quick, caplog,
                                                                   capsys, name, edit):  # fmt: skip
    build_report(fake_sweep)
    path = fake_sweep / name
    path.write_text(EDITS[edit](path.read_text()))
    mine = path.read_bytes()
    assert cli([str(fake_sweep)]) == 1  # the fake sweep has a failed and an interrupted run
    assert path.read_bytes() == mine
    beside = fake_sweep / BESIDE[name]
    assert MARKER in beside.read_text() or WRITTEN_BY in beside.read_text()
    assert warnings_of(caplog) == [f"kept {path}: it changed since ppl-compare-report wrote it "
                                   f"(edited?); the new one is {beside.name}"]  # fmt: skip
    assert f"wrote {beside}" in capsys.readouterr().out
    others = [n for n in REPORT_FILES if n != name]
    assert not any((fake_sweep / BESIDE[n]).exists() for n in others)  # rebuilt in place


def test_a_file_it_has_no_record_of_is_kept(fake_sweep, quick, caplog):
    """The user's own file, or one written before the record existed (marker and all)."""
    (fake_sweep / MD_NAME).write_text(f"# Comparison report — old\n{MARKER}\nmy notes\n")
    before = (fake_sweep / MD_NAME).read_bytes()
    out = build_report(fake_sweep)
    assert (fake_sweep / MD_NAME).read_bytes() == before
    assert out.markdown == fake_sweep / "report.new.md" and out.kept == (fake_sweep / MD_NAME,)
    assert warnings_of(caplog) == [
        f"kept {fake_sweep / MD_NAME}: ppl-compare-report has no record of writing it (yours, "
        f"or from before the record existed); the new one is report.new.md"
    ]


def test_the_copy_beside_is_replaced_and_goes_once_the_edited_file_is_gone(fake_sweep, quick):
    build_report(fake_sweep)
    (fake_sweep / MD_NAME).write_text("my notes\n")
    build_report(fake_sweep)
    again = build_report(fake_sweep)  # the copy beside is ours: replaced, no second copy
    assert again.markdown.name == "report.new.md" and not (fake_sweep / "report.new2.md").exists()
    (fake_sweep / "report.new.md").write_text("notes on the copy too\n")
    assert build_report(fake_sweep).markdown.name == "report.new2.md"
    (fake_sweep / MD_NAME).unlink()
    (fake_sweep / "report.new.md").unlink()
    rebuilt = build_report(fake_sweep)
    assert rebuilt.markdown == fake_sweep / MD_NAME and rebuilt.kept == ()
    assert not (fake_sweep / "report.new2.md").exists()  # our stale copy is removed


def test_a_sweep_rerun_keeps_an_edited_report(fake_sweep, quick, capsys):
    build_report(fake_sweep)
    (fake_sweep / MD_NAME).write_text((fake_sweep / MD_NAME).read_text() + "notes\n")
    mine = (fake_sweep / MD_NAME).read_bytes()
    with pytest.raises(SystemExit):
        SweepReportCallback().on_multirun_end(sweep_config(fake_sweep))
    assert (fake_sweep / MD_NAME).read_bytes() == mine
    assert MARKER in (fake_sweep / "report.new.md").read_text()
    assert "-> " + str(fake_sweep / "report.new.md") in capsys.readouterr().out


def test_html_in_a_title_is_not_raw_html_in_report_md(fake_sweep):
    out = build_report(fake_sweep, title="<img src=x onerror=alert(1)>")
    first = out.markdown.read_text().splitlines()[0]
    assert first == "# Comparison report — &lt;img src=x onerror=alert(1)>"
    assert "&lt;img src=x onerror=alert(1)&gt;" in out.html.read_text()


# ----------------------------------------------------------------------------- launched jobs
def write_multirun(sweep_dir, task, params=None):
    cfg = {"hydra": {"sweeper": {"_target_": "hydra._internal.core_plugins.basic_sweeper"
                                              ".BasicSweeper", "params": params},
                     "overrides": {"task": task}}}  # fmt: skip
    OmegaConf.save(OmegaConf.create(cfg), sweep_dir / "multirun.yaml")


def test_launched_jobs_are_the_sweeps_product(tmp_path):
    """The jobs Hydra's basic sweeper launches: ``hydra.sweeper.params`` (an experiment's
    sweep) first, then the command line's overrides, as in each job's overrides.yaml."""
    write_multirun(tmp_path, ["debug=fast", "data.seed=0,1"], {"backend": "pymc_nuts,stan_nuts"})
    assert launched_jobs(tmp_path) == [
        ["backend=pymc_nuts", "debug=fast", "data.seed=0"],
        ["backend=pymc_nuts", "debug=fast", "data.seed=1"],
        ["backend=stan_nuts", "debug=fast", "data.seed=0"],
        ["backend=stan_nuts", "debug=fast", "data.seed=1"],
    ]
    (tmp_path / "multirun.yaml").write_text("hydra: [not, a, sweep]\n")
    assert launched_jobs(tmp_path) is None  # a damaged file: the run dirs are the list


def test_every_launched_job_is_listed_also_one_that_never_started(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    for num, seed in enumerate((0, 1)):
        run = sweep / f"{num}_pyro_meanfield_s{seed}"
        (run / ".hydra").mkdir(parents=True)
        (run / ".hydra" / "overrides.yaml").write_text(f"- debug=fast\n- data.seed={seed}\n")
        (run / "metrics.json").write_text(json.dumps(fake_metrics("pyro_meanfield", seed)))
    write_multirun(sweep, ["debug=fast", "data.seed=0,1,2"])
    assert cli([str(sweep)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"ppl-compare-report: 1 of 3 runs failed or did not finish (listed in "
                   f"{sweep / MD_NAME}); exit status 1"]  # fmt: skip
    df = pd.read_csv(sweep / CSV_NAME)
    assert list(df["status"]) == ["complete", "complete", "incomplete"]
    assert df["run"].iloc[2] == "job 2 (not started)" and df["error"].iloc[2] == NOT_STARTED
    assert df["overrides"].iloc[2] == "debug=fast data.seed=2"
    md = (sweep / MD_NAME).read_text()
    assert "3 runs, 2 complete, 1 failed or incomplete" in md and NOT_STARTED in md


# ----------------------------------------------------------------------------- exit status
def sweep_config(sweep_dir):
    return OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep_dir)}}})


def test_callback_writes_the_report_then_exits_1_when_a_run_failed(fake_sweep, capsys):
    with pytest.raises(SystemExit) as info:
        SweepReportCallback().on_multirun_end(sweep_config(fake_sweep))
    assert info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"ppl-compare: 2 of 6 runs failed or did not finish (listed in "
                       f"{fake_sweep / MD_NAME}); exit status 1")  # fmt: skip
    md = (fake_sweep / MD_NAME).read_text()
    assert "CmdStan not found" in md and "did not complete" in md
    assert (fake_sweep / CSV_NAME).exists() and (fake_sweep / HTML_NAME).exists()


def test_callback_returns_normally_when_every_run_completed(fake_sweep, capsys):
    for bad in ("4_stan_nuts_s0", "5_stan_nuts_s1"):
        shutil.rmtree(fake_sweep / bad)
    assert SweepReportCallback().on_multirun_end(sweep_config(fake_sweep)) is None
    assert "4 complete, 0 failed" in capsys.readouterr().out


def test_callback_disabled_writes_nothing_but_still_exits_1(fake_sweep, capsys):
    with pytest.raises(SystemExit) as info:
        SweepReportCallback(enabled=False).on_multirun_end(sweep_config(fake_sweep))
    assert info.value.code == 1
    assert "2 of 6 runs failed" in capsys.readouterr().err
    assert not any((fake_sweep / name).exists() for name in REPORT_FILES)


def test_callback_exits_1_when_the_report_fails(fake_sweep, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("evaluation.commands.callback.build_report", broken)
    with pytest.raises(SystemExit) as info:
        SweepReportCallback().on_multirun_end(sweep_config(fake_sweep))
    assert info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"ppl-compare: the sweep report could not be written (see the log); "
                       f"rebuild with: ppl-compare-report {fake_sweep}")  # fmt: skip
    assert not (fake_sweep / CSV_NAME).exists()
