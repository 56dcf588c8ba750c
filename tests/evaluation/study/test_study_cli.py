"""``ppl-compare-findings`` end to end on tiny data: a real replicated sweep (PyMC NUTS and Pyro
mean-field, two data seeds, each fitted twice), the NUTS job reading the reference fit, and a
document whose numbers are the runs' numbers."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from studyfakes import STUDY, TINY, metrics

from evaluation.commands import findings as cli
from evaluation.study.plan import STUDIES


def test_document_is_written_with_provenance_and_the_evidence_tables(findings):
    root, status = findings
    assert status == 0
    text = (root / "docs" / "findings.md").read_text()
    assert text.startswith("# Findings")
    assert re.search(r"at commit `[0-9a-f]+(-dirty)?`", text)
    assert "wall time" in text and "## The answer" in text and "## Tiny world" in text
    # the top of the page: the header, the answer in short, then the answer in full
    assert text.index("## In short") < text.index("## The answer") < text.index("## Tiny world")
    assert "8 complete runs over 2 data seeds" in text
    assert (
        "| method | seeds | runs failed | flips vs NUTS per seed | NUTS vs NUTS (floor) |" in text
    )
    assert (root / "docs" / "figures" / "evidence.png").stat().st_size > 5_000
    timings = json.loads((root / "runs" / "timings.json").read_text())
    assert timings["right"]["wall_s"] > 0 and timings["right"]["return_codes"] == [0]
    assert timings["right"]["seeds"] == 2


def test_each_seed_holds_two_fits_of_each_method_with_different_draws(findings):
    root, _ = findings
    for seed in (0, 1):
        for backend in ("pymc_nuts", "pyro_meanfield"):
            runs = {m["repeat"]: m for m in metrics(root, rf"^{backend}_s{seed}_r\d$")}
            assert sorted(runs) == [0, 1]
            a, b = (runs[k]["posterior"]["summary"]["sigma_worker"]["median"] for k in (0, 1))
            assert a != b  # another chain / optimiser seed on the same data
            assert runs[0]["data"] == runs[1]["data"]


def test_the_nuts_job_is_the_reference_fit(findings):
    import arviz as az

    root, _ = findings
    cache = {str(c) for c in (root / "cache" / "reference").glob("pymc_nuts-*.nc")}
    assert len(cache) == 2  # one NUTS fit per data set (two seeds), no second one
    runs = list((root / "runs" / "right").glob("pymc_nuts_s*_r0/metrics.json"))
    assert len(runs) == 2
    for repeat in (root / "runs" / "right").glob("pymc_nuts_s*_r1/metrics.json"):
        assert "cache_file" not in json.loads(repeat.read_text())["fit"]  # its own fit
    for path in runs:
        fit = json.loads(path.read_text())["fit"]
        assert fit["cache_file"] in cache and isinstance(fit["from_cache"], bool)
        own = az.from_netcdf(str(path.parent / "posterior.nc")).posterior
        ref = az.from_netcdf(fit["cache_file"]).posterior
        np.testing.assert_array_equal(own["beta_site"].values, ref["beta_site"].values)


def test_document_numbers_are_the_runs_numbers(findings):
    root, _ = findings
    text = (root / "docs" / "findings.md").read_text()
    block = text.split("**The fits themselves**")[1]
    row = next(line for line in block.splitlines() if line.startswith("| pyro_meanfield |"))
    heads = next(line for line in block.splitlines() if line.startswith("| method |"))
    col = [c.strip() for c in heads.strip("|").split("|")].index("held-out AUC")
    cell = [c.strip() for c in row.strip("|").split("|")][col]
    aucs = [m["predictive"]["auc"] for m in metrics(root, r"^pyro_meanfield_s\d_r0$")]
    assert len(aucs) == 2
    assert cell.startswith(f"{np.mean(aucs):.3f} (")  # mean over the 2 seeds, then its interval


def test_document_only_rewrites_without_running(findings, tmp_path):
    root, _ = findings
    before = json.loads((root / "runs" / "timings.json").read_text())
    argv = ["--runs-dir", str(root / "runs"), "--docs", str(tmp_path), "--document-only"]
    mp = pytest.MonkeyPatch()
    mp.setattr(cli, "STUDIES", (STUDY,))
    try:
        assert cli.cli(argv) == 0
    finally:
        mp.undo()
    assert json.loads((root / "runs" / "timings.json").read_text()) == before
    text = (tmp_path / "findings.md").read_text()
    assert text.startswith("# Findings")
    # the runs keep the command that made them; the document names its own writer
    assert "_Runs: `ppl-compare-findings --runs-dir" in text and "-- debug=fast" in text
    assert "--document-only` at commit" in text


def test_unknown_study_is_one_line_and_exit_2(capsys, tmp_path):
    assert cli.cli(["--runs-dir", str(tmp_path), "--only", "right,bogus"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    keys = ", ".join(s.key for s in STUDIES)
    assert err == [f"ppl-compare-findings: error: unknown study bogus; studies: {keys}"]


def test_too_few_seeds_is_one_line_and_exit_2(capsys, tmp_path):
    assert cli.cli(["--runs-dir", str(tmp_path), "--seeds", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["ppl-compare-findings: error: --seeds 1: a replicated study needs at least 2"]


def test_a_resumed_study_adds_its_wall_time(findings, tmp_path):
    """Glue only: the sweeps themselves are replaced by a stand-in that takes 5 s."""
    import shutil

    from evaluation.study.plan import StudyRun

    root, _ = findings
    runs = tmp_path / "runs"
    shutil.copytree(root / "runs", runs)
    before = json.loads((runs / "timings.json").read_text())["right"]
    mp = pytest.MonkeyPatch()
    mp.setattr(cli, "STUDIES", (STUDY,))
    mp.setattr(cli, "run_study", lambda study, d, *args: StudyRun(study, d, 5.0, [0]))
    try:
        argv = ["--runs-dir", str(runs), "--docs", str(tmp_path / "docs"), "--", *TINY]
        assert cli.cli(argv) == 0  # the same configuration: resumed
    finally:
        mp.undo()
    after = json.loads((runs / "timings.json").read_text())["right"]
    assert after["wall_s"] == pytest.approx(before["wall_s"] + 5.0)
    assert after["calls"] == 2 and after["return_codes"] == [0]
    assert "over 2 calls" in (tmp_path / "docs" / "findings.md").read_text()


def test_two_calls_at_once_keep_each_others_timings(tmp_path):
    """Glue only: a call that read timings.json before another call wrote it keeps both."""
    path = tmp_path / "timings.json"
    cli.record_timing(path, "right", 10.0, {"commit": "a"})
    cli.record_timing(path, "thornton", 5.0, {"commit": "b"})  # another call, same runs dir
    timings = cli.record_timing(path, "right", 2.0, {"commit": "c"})  # right resumed
    assert {k: timings["thornton"][k] for k in ("wall_s", "calls", "commit")} == {
        "wall_s": 5.0,
        "calls": 1,
        "commit": "b",
    }
    assert timings["right"]["wall_s"] == 12.0 and timings["right"]["calls"] == 2
    assert timings["right"]["started"] <= timings["right"]["ended"]


def test_overlapping_calls_report_their_elapsed_span():
    from evaluation.report.study.document import elapsed_minutes

    a = {"started": "2026-01-01T10:00:00+00:00", "ended": "2026-01-01T11:00:00+00:00"}
    b = {"started": "2026-01-01T10:30:00+00:00", "ended": "2026-01-01T11:10:00+00:00"}
    assert elapsed_minutes([a, b]) == 70.0  # not the 100 minutes of their summed walls
    assert elapsed_minutes([a, {"wall_s": 5.0}]) is None
