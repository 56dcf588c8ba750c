"""ppl-compare-report and the sweep callback as scripts see them: what they refuse (with one line
and exit status 2), what they never overwrite, and the sweep's exit status (issue 16 items 1, 4).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pandas as pd
import pytest
from omegaconf import OmegaConf
from sweepfakes import REPORT, fake_metrics, make_fake_sweep

from evaluation.sweep.build import WRITTEN_BY, ReportRefused, build_report
from evaluation.sweep.callback import SweepReportCallback
from evaluation.sweep.cli import cli
from evaluation.sweep.records import CSV_NAME, HTML_NAME, MD_NAME
from evaluation.sweep.report import MARKER

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


@pytest.fixture
def fake_sweep(tmp_path):
    return make_fake_sweep(tmp_path / "sweep")


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


def test_help_documents_the_exit_status(capsys):
    with pytest.raises(SystemExit) as info:
        cli(["--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "exit status: 0 = report written, also when some runs failed" in out
    assert "2 = nothing written" in out


# ----------------------------------------------------------------------------- markers
def test_written_files_carry_the_marker_and_are_replaced_on_rebuild(fake_sweep):
    out = build_report(fake_sweep)
    assert out.markdown.read_text().splitlines()[1] == MARKER
    assert out.html.read_text().splitlines()[:2] == ["<!DOCTYPE html>", MARKER]
    df = pd.read_csv(out.csv)
    assert df.columns[-1] == WRITTEN_BY and (df[WRITTEN_BY] == "ppl-compare-report").all()
    stamp = out.markdown.stat().st_mtime_ns
    assert cli([str(fake_sweep)]) == 0  # its own files: replaced
    assert out.markdown.stat().st_mtime_ns >= stamp
    assert out.markdown.read_text().splitlines()[1] == MARKER


@pytest.mark.parametrize("name", REPORT_FILES)
def test_cli_never_replaces_a_file_it_did_not_write(fake_sweep, capsys, name):
    (fake_sweep / name).write_text("my own notes\n")
    before = snapshot(fake_sweep)
    assert cli([str(fake_sweep)]) == 2
    line = one_line(capsys.readouterr().err)
    assert line == (f"ppl-compare-report: error: {fake_sweep / name} was not written by "
                    f"ppl-compare-report; refusing to replace it (move it away to build the "
                    f"sweep report here)")  # fmt: skip
    assert snapshot(fake_sweep) == before  # nothing written, not even the other two files


def test_a_marker_further_down_a_user_file_does_not_count(fake_sweep):
    (fake_sweep / MD_NAME).write_text("# mine\n" + "text\n" * 10 + MARKER + "\n")
    with pytest.raises(ReportRefused, match="was not written by ppl-compare-report"):
        build_report(fake_sweep)


def test_reports_written_before_the_markers_are_recognised_and_replaced(fake_sweep):
    """Files of the previous version (no marker) are still its own: rebuilt, not refused."""
    (fake_sweep / MD_NAME).write_text(
        "# Comparison report — old\n\n_Generated 2026-01-01 12:00 by ppl-compare-report._\n"
    )
    (fake_sweep / HTML_NAME).write_text(
        "<!DOCTYPE html>\n<html><head></head><body>\n<h1>Comparison report — old</h1>\n"
        "<p><em>Generated 2026-01-01 12:00 by ppl-compare-report.</em></p>\n"
    )
    (fake_sweep / CSV_NAME).write_text("run,status,error,overrides,scenario\n0_x,complete,,,a\n")
    out = build_report(fake_sweep)
    assert out.markdown.read_text().splitlines()[1] == MARKER
    assert WRITTEN_BY in pd.read_csv(out.csv).columns


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


def test_callback_refused_report_exits_1_and_keeps_the_users_file(fake_sweep, capsys):
    (fake_sweep / MD_NAME).write_text("my own notes\n")
    with pytest.raises(SystemExit) as info:
        SweepReportCallback().on_multirun_end(sweep_config(fake_sweep))
    assert info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"ppl-compare: the sweep report could not be written (see the log); "
                       f"rebuild with: ppl-compare-report {fake_sweep}")  # fmt: skip
    assert (fake_sweep / MD_NAME).read_text() == "my own notes\n"
    assert not (fake_sweep / CSV_NAME).exists()
