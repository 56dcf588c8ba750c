"""``ppl-compare-findings`` end to end on tiny data: real sweeps (Pyro mean-field, PyMC NUTS),
the NUTS job reading the reference fit, and a document whose numbers are the runs' numbers."""

from __future__ import annotations

import json
import re

import pytest

from evaluation.study import cli
from evaluation.study.plan import Study

TINY = ("debug=fast", "backend=pymc_nuts,pyro_meanfield", "data.sigma_worker=0.05,1.0",
        # the reference with the pymc_nuts job's (debug) settings: one fit serves as both
        "evaluation.reference_overrides.chains=2", "evaluation.reference_overrides.tune=200",
        "evaluation.reference_overrides.draws=200")  # fmt: skip
STUDY = Study("twin", "Tiny twin", "meanfield_study",
              (("backend=pyro_meanfield", "evaluation.psis_resample=true",
                "data.sigma_worker=1.0"),), replicated=False)  # fmt: skip


@pytest.fixture(scope="module")
def findings(tmp_path_factory):
    root = tmp_path_factory.mktemp("findings")
    mp = pytest.MonkeyPatch()
    mp.setattr(cli, "STUDIES", (STUDY,))
    mp.setenv("PPL_COMPARE_CACHE", str(root / "cache"))
    argv = ["--runs-dir", str(root / "runs"), "--docs", str(root / "docs"), "--", *TINY]
    try:
        status = cli.cli(argv)
    finally:
        mp.undo()
    return root, status


def metrics(root, pattern):
    (path,) = [p for p in (root / "runs" / "twin").glob("*/metrics.json")
               if re.search(pattern, p.parent.name)]  # fmt: skip
    return json.loads(path.read_text())


def test_document_is_written_with_provenance_and_phase_tables(findings):
    root, status = findings
    assert status == 0
    text = (root / "docs" / "findings.md").read_text()
    assert text.startswith("# Findings")
    assert re.search(r"at commit `[0-9a-f]+(-dirty)?`", text)
    assert "wall time" in text and "## The answer" in text
    assert "_Runs: `ppl-compare-findings --runs-dir" in text and "(twin " in text
    assert "| method | σw = 0.05 | σw = 1 |" in text
    assert (root / "docs" / "figures" / "phase_twin.png").stat().st_size > 10_000
    timings = json.loads((root / "runs" / "timings.json").read_text())
    assert timings["twin"]["wall_s"] > 0 and timings["twin"]["return_codes"] == [0, 0]


def test_the_nuts_job_is_the_reference_fit(findings):
    import arviz as az
    import numpy as np

    root, _ = findings
    cache = {str(c) for c in (root / "cache" / "reference").glob("pymc_nuts-*.nc")}
    assert len(cache) == 2  # one NUTS fit per data set (two sigma_worker), no second one
    runs = list((root / "runs" / "twin").glob("*_pymc_nuts_*/metrics.json"))
    assert len(runs) == 2
    for path in runs:
        fit = json.loads(path.read_text())["fit"]
        assert fit["cache_file"] in cache and isinstance(fit["from_cache"], bool)
        own = az.from_netcdf(str(path.parent / "posterior.nc")).posterior
        ref = az.from_netcdf(fit["cache_file"]).posterior
        np.testing.assert_array_equal(own["beta_site"].values, ref["beta_site"].values)


def test_document_numbers_are_the_runs_numbers(findings):
    root, _ = findings
    text = (root / "docs" / "findings.md").read_text()
    block = text.split("**β_site 90% coverage, identified quantities (target 0.90)**")[1]
    row = next(line for line in block.splitlines() if line.startswith("| pyro_meanfield |"))
    cells = [c.strip() for c in row.strip("|").split("|")][1:]
    expected = []
    for sigma in ("0.05", "1.0"):
        for path in (root / "runs" / "twin").glob("*_pyro_meanfield_s0/metrics.json"):
            m = json.loads(path.read_text())
            if m["data"]["sigma_worker_truth"] == float(sigma) and "psis" not in m:
                expected.append(f"{m['posterior']['beta_site_identified_coverage90']:.2f}")
    assert cells == expected


def test_psis_extra_is_its_own_method_row(findings):
    root, _ = findings
    text = (root / "docs" / "findings.md").read_text()
    assert re.search(r"pyro_meanfield \[psis_resample=true\]", text, re.IGNORECASE)


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
    assert cli.cli(["--runs-dir", str(tmp_path), "--only", "twin,bogus"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["ppl-compare-findings: error: unknown study bogus; studies: "
                   "twin, calibrated, real"]  # fmt: skip


def test_a_resumed_study_adds_its_wall_time(findings, tmp_path):
    """Glue only: the sweeps themselves are replaced by a stand-in that takes 5 s."""
    import shutil

    from evaluation.study.plan import StudyRun

    root, _ = findings
    runs = tmp_path / "runs"
    shutil.copytree(root / "runs", runs)
    before = json.loads((runs / "timings.json").read_text())["twin"]
    mp = pytest.MonkeyPatch()
    mp.setattr(cli, "STUDIES", (STUDY,))
    mp.setattr(cli, "run_study", lambda study, d, o: StudyRun(study, d, 5.0, [0]))
    try:
        assert cli.cli(["--runs-dir", str(runs), "--docs", str(tmp_path / "docs")]) == 0
    finally:
        mp.undo()
    after = json.loads((runs / "timings.json").read_text())["twin"]
    assert after["wall_s"] == pytest.approx(before["wall_s"] + 5.0)
    assert after["calls"] == 2 and after["return_codes"] == [0]
    assert "over 2 calls" in (tmp_path / "docs" / "findings.md").read_text()
