"""``ppl-compare-report`` on damaged runs and a damaged record (issue 33, items 7, 10, 11): one
line, the exit status, and what is left on disk."""

from __future__ import annotations

import json
import logging

from evaluation.commands.report import cli
from evaluation.commands.sweep_files import LEDGER
from evaluation.sweep.records import NO_POSTERIOR, collect_runs


def edit_metrics(run_dir, **changes):
    path = run_dir / "metrics.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def test_a_run_whose_sections_are_not_objects_is_listed_as_failed(fake_sweep, capsys):
    edit_metrics(fake_sweep / "0_pyro_meanfield_s0", claims="oops")
    assert cli([str(fake_sweep)]) == 1  # also the fake sweep's own failed and interrupted runs
    out = capsys.readouterr()
    assert out.err.strip().splitlines() == [
        f"ppl-compare-report: 3 of 6 runs failed or did not finish (listed in "
        f"{fake_sweep / 'report.md'}); exit status 1"
    ]
    assert "Traceback" not in out.err and "3 complete, 3 failed" in out.out
    report = (fake_sweep / "report.md").read_text()
    assert ("metrics.json says complete, but not every section is an object (claims is a str)"
            in report)  # fmt: skip


def test_complete_alone_is_no_complete_run(fake_sweep):
    (fake_sweep / "1_pymc_nuts_s0" / "metrics.json").write_text('{"status": "complete"}')
    rec = next(r for r in collect_runs(fake_sweep) if r.name == "1_pymc_nuts_s0")
    assert rec.status == "failed"
    assert rec.error == "metrics.json says complete but lacks backend, seed"


def test_a_complete_run_without_its_posterior_is_flagged(fake_sweep, capsys, caplog):
    (fake_sweep / "2_pyro_meanfield_s1" / "posterior.nc").unlink()
    with caplog.at_level(logging.WARNING):
        assert cli([str(fake_sweep)]) == 1  # the fake sweep's failed and interrupted runs
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"{fake_sweep / '2_pyro_meanfield_s1'}: {NO_POSTERIOR}"
    ]
    report = (fake_sweep / "report.md").read_text()
    assert f"1 complete run(s) lack a file: `2_pyro_meanfield_s1`: {NO_POSTERIOR}." in report
    assert "4 complete, 2 failed" in capsys.readouterr().out


def test_an_unreadable_record_is_named_and_the_report_goes_beside(fake_sweep, quick, caplog):
    assert cli([str(fake_sweep)]) == 1
    (fake_sweep / LEDGER).write_text('{"sha256": ')
    with caplog.at_level(logging.WARNING):
        assert cli([str(fake_sweep)]) == 1
    kept = [r.getMessage() for r in caplog.records if r.getMessage().startswith("kept")]
    assert kept[0] == (
        f"kept {fake_sweep / 'comparison.csv'}: the record of what ppl-compare-report wrote, "
        f"{LEDGER}, cannot be read (JSONDecodeError: Expecting value: line 1 column 12 (char "
        "11)); the new one is comparison.new.csv"
    )
    assert len(kept) == 3 and (fake_sweep / "report.new.md").is_file()


def test_a_record_that_is_a_directory_is_one_line_and_nothing_written(fake_sweep, quick, capsys):
    (fake_sweep / LEDGER).mkdir()
    assert cli([str(fake_sweep)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"ppl-compare-report: error: {fake_sweep / LEDGER}, the record of what "
        "ppl-compare-report wrote, is not a file: remove it; nothing written"
    ]
    assert not list(fake_sweep.glob("report*")) and not list(fake_sweep.glob("comparison*"))
