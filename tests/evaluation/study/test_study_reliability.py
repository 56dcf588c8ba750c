"""``ppl-compare-findings`` as a user meets it (issue 33, items 1, 2, 5, 6, 7, 8 and 14): which
dirs a call writes, the calls it refuses, its exit codes and what it leaves on disk.

Most calls are refused before anything runs, or run a stand-in for the sweeps (our own glue);
the document is written from the tiny study's real runs (the session's ``findings``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from studyfakes import TINY, tiny_cli

from evaluation.study import runs
from evaluation.study.plan import MAX_SEEDS, StudyRun

PROG = "ppl-compare-findings"


def err_lines(capsys) -> list[str]:
    """The error lines a call printed (its log lines, INFO/WARNING, left out)."""
    err = capsys.readouterr().err.strip().splitlines()
    return [line for line in err if not line.startswith(("INFO ", "WARNING "))]


def snapshot(root: Path) -> dict[str, float]:
    """Every file under ``root`` with its modification time."""
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def smoke_runs(findings, tmp_path):
    """A copy of the tiny study's runs (made with the TINY overrides)."""
    root, _ = findings
    shutil.copytree(root / "runs", tmp_path / "runs", ignore=shutil.ignore_patterns(".lock"))
    return tmp_path / "runs"


def no_run(study, sweep_dir, *args):
    raise AssertionError("nothing may run")


# ------------------------------------------------ item 1: a smoke run never replaces a study
def test_overrides_get_their_own_runs_dir_and_document_dir(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert runs.default_dirs([]) == (Path("outputs/findings"), Path("docs"))
    assert runs.default_dirs(["hydra/launcher=slurm"]) == (Path("outputs/findings"), Path("docs"))
    smoke, docs = runs.default_dirs(["debug=fast"])
    assert smoke.parent == Path("outputs") and smoke.name.startswith("findings-")
    assert docs == smoke / "docs" and runs.default_dirs(["debug=fast"])[0] == smoke
    assert runs.default_dirs(["debug=fast", "data.seed=1"])[0] != smoke


def test_document_only_on_a_smoke_dir_writes_beside_it_not_docs(smoke_runs, monkeypatch, capsys):
    monkeypatch.chdir(smoke_runs.parent)
    assert tiny_cli(["--document-only", "--runs-dir", str(smoke_runs)]) == 0
    assert (smoke_runs / "docs" / "findings.md").read_text().startswith("# Findings")
    assert not (smoke_runs.parent / "docs").exists()
    assert capsys.readouterr().out.strip() == f"wrote {smoke_runs / 'docs' / 'findings.md'}"


def test_docs_is_refused_for_runs_made_with_overrides(smoke_runs, monkeypatch, capsys):
    monkeypatch.chdir(smoke_runs.parent)
    Path("outputs").mkdir()
    smoke_runs.rename("outputs/findings")  # a smoke run where the study's runs go
    assert tiny_cli(["--document-only"]) == 2
    (line,) = err_lines(capsys)
    assert line.startswith(
        f"{PROG}: error: docs/ holds the study's own document, but "
        "outputs/findings/right holds runs made with overrides (8 with "
    )
    assert "debug=fast" in line and line.endswith("write it elsewhere with --docs DIR")
    assert not Path("docs").exists()
    assert tiny_cli(["--docs", "docs", "--", "debug=fast"], run_study=no_run) == 2
    assert err_lines(capsys) == [
        f"{PROG}: error: docs/ holds the study's own document; with "
        "overrides (debug=fast) write it elsewhere with --docs DIR"
    ]


def test_a_call_of_another_configuration_never_replaces_complete_runs(smoke_runs, capsys):
    before = snapshot(smoke_runs)
    argv = ["--runs-dir", str(smoke_runs), "--docs", str(smoke_runs / "docs")]
    assert tiny_cli([*argv, "--", "debug=fast"], run_study=no_run) == 2
    (line,) = err_lines(capsys)
    assert line.startswith(
        f"{PROG}: error: {smoke_runs / 'right'} holds complete runs of another "
        "configuration (8 with debug=fast evaluation.reference_overrides."
    )
    assert line.endswith(
        "this call (debug=fast) would replace them: choose another --runs-dir, "
        "or --force to remove them"
    )
    assert snapshot(smoke_runs) == before  # nothing touched, not even timings.json
    # --force removes them (the stand-in sweep then finds an empty study)
    ran = []

    def stand_in(study, sweep_dir, *args):
        ran.append(sorted(p.name for p in sweep_dir.glob("*/.hydra")))
        return StudyRun(study, sweep_dir, 1.0, [0])

    assert tiny_cli([*argv, "--force", "--", "debug=fast"], run_study=stand_in) == 1
    assert ran == [[]]  # every run of the other configuration was removed first
    assert err_lines(capsys)[-1] == f"{PROG}: error: no complete run under {smoke_runs}"


# ------------------------------------------------- item 7: runs of two configurations
def test_a_study_mixing_two_configurations_is_named_in_one_line(smoke_runs, capsys):
    run = next((smoke_runs / "right").glob("pyro_meanfield_s0_r1"))
    overrides = run / ".hydra" / "overrides.yaml"
    overrides.write_text(overrides.read_text() + "- data.n_workers=900\n")
    assert tiny_cli(["--document-only", "--runs-dir", str(smoke_runs)]) == 1
    (line,) = err_lines(capsys)
    assert line.startswith(
        f"{PROG}: error: {smoke_runs / 'right'} mixes runs of 2 configurations "
        "(all with debug=fast "
    )
    assert "; 7 with nothing else; 1 with data.n_workers=900)" in line or (
        "; 1 with data.n_workers=900; 7 with nothing else)" in line
    )
    assert not (smoke_runs / "docs").exists()


def test_keys_the_study_itself_sweeps_make_one_configuration(tmp_path):
    # the forensics study sweeps backend.init_sigma in its own overrides: its 9 jobs are one
    # configuration (a clean `make findings` was refused at its document for "3 configurations")
    study = ["experiment=paper_forensics", "data.sigma_worker=0.006294",
             "backend.init_sigma=0.01,0.1,1.0"]  # fmt: skip
    for i, (sigma, extra) in enumerate([("0.01", ""), ("0.1", ""), ("1.0", ""), ("0.1", "x")]):
        run = tmp_path / str(i)
        (run / ".hydra").mkdir(parents=True)
        (run / "metrics.json").write_text('{"status": "complete"}')
        job = [*study[:2], f"backend.init_sigma={sigma}", "backend=pyro_meanfield", "repeat=0"]
        job += ["data.n_workers=900"] if extra else []
        (run / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in job))
    line = runs.mixed(tmp_path, study)
    assert line is not None and "mixes runs of 2 configurations" in line  # the extra key only
    assert "3 with nothing else; 1 with data.n_workers=900" in line
    shutil.rmtree(tmp_path / "3")
    assert runs.mixed(tmp_path, study) is None


# ---------------------------------------------------------- item 2: absurd seeds, signals
def test_an_absurd_seed_count_is_refused_before_anything_runs(tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    assert tiny_cli(["--runs-dir", str(runs_dir), "--seeds", "1000000000"], run_study=no_run) == 2
    assert err_lines(capsys) == [
        f"{PROG}: error: --seeds 1000000000: at most {MAX_SEEDS} (a seed "
        f"is about 13 fits; {MAX_SEEDS} seeds are weeks on 2 cores)"
    ]
    assert not runs_dir.exists()


#: A stand-in sweep: it starts a worker of its own, and dies noisily on SIGINT.
CHILD = textwrap.dedent("""
    import os, pathlib, signal, subprocess, sys, time
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    pathlib.Path(sys.argv[1]).write_text(f"{os.getpid()} {worker.pid}")
    def noisy(signum, frame):
        print("Traceback (most recent call last):\\n  a dying worker", file=sys.stderr)
        sys.exit(1)
    signal.signal(signal.SIGINT, noisy)
    time.sleep(600)
""")
#: The CLI with the stand-in (a script) as every study command.
DRIVER = textwrap.dedent("""
    import sys
    from evaluation.commands import findings as cli
    from evaluation.study import plan
    plan.commands = lambda *args: [[sys.executable, sys.argv[1], sys.argv[2]]]
    plan.planned_jobs = lambda cmd: 1
    sys.exit(cli.cli(sys.argv[3:]))
""")


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stopping_the_cli_stops_its_sweeps_with_one_line(tmp_path, sig):
    pids, child_py = tmp_path / "pids", tmp_path / "child.py"
    child_py.write_text(CHILD)
    argv = ["--runs-dir", str(tmp_path / "runs"), "--only", "right"]
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(child_py), str(pids), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not pids.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert pids.exists(), proc.communicate(timeout=60)[1][-3000:]
        child, worker = map(int, pids.read_text().split())
        time.sleep(0.5)
        os.killpg(proc.pid, sig)  # as a terminal's Ctrl-C: the CLI's whole process group
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig, stderr
    lines = [x for x in stderr.strip().splitlines() if not x.startswith("INFO ")]
    assert lines == [f"{PROG}: stopped ({sig.name}); the complete runs are kept: run the same "
                     "command again to resume"], stderr  # fmt: skip
    assert not alive(child) and not alive(worker)
    timings = json.loads((tmp_path / "runs" / "timings.json").read_text())["right"]
    assert timings["stopped"] is True and timings["return_codes"] == [128 + sig]


# ------------------------------------------------------------ item 5: exit codes on failure
def test_a_call_whose_every_command_failed_exits_1_and_keeps_the_document(smoke_runs, capsys):
    docs = smoke_runs / "docs"
    assert tiny_cli(["--document-only", "--runs-dir", str(smoke_runs)]) == 0
    before = (docs / "findings.md").read_text(), (smoke_runs / "timings.json").read_text()
    capsys.readouterr()

    def failing(study, sweep_dir, *args):
        return StudyRun(study, sweep_dir, 3.0, [1, 1])

    assert tiny_cli(["--runs-dir", str(smoke_runs), "--", *TINY], run_study=failing) == 1
    assert err_lines(capsys) == [
        f"{PROG}: error: every command failed (see above): nothing new, "
        "the document was not rewritten"
    ]
    assert ((docs / "findings.md").read_text(), (smoke_runs / "timings.json").read_text()) == before


def test_runs_dir_with_only_an_unreadable_run_exits_1_and_writes_nothing(tmp_path, capsys):
    run = tmp_path / "runs" / "right" / "pyro_meanfield_s0_r0"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text('{"status": "compl')
    assert tiny_cli(["--document-only", "--runs-dir", str(tmp_path / "runs")]) == 1
    assert err_lines(capsys) == [
        f"{PROG}: error: no complete run under {tmp_path / 'runs'} (1 failed or unreadable runs)"
    ]
    assert not (tmp_path / "runs" / "docs").exists()


# ------------------------------------------------------------- item 6: one call per study
def test_a_study_being_run_by_another_call_is_refused_naming_its_pid(smoke_runs, capsys):
    other = runs.StudyLock(smoke_runs / "right")
    other.acquire()  # another call holds it (this process; a lock is per open file)
    try:
        argv = ["--runs-dir", str(smoke_runs), "--", *TINY]
        assert tiny_cli(argv, run_study=no_run) == 2
    finally:
        other.release()
    assert err_lines(capsys) == [
        f"{PROG}: error: {smoke_runs / 'right'} is being run by another "
        f"{PROG} (pid {os.getpid()}); wait for it to end, or use "
        "another --runs-dir"
    ]


# ------------------------------------------------------ items 7, 8, 14: one line, exit 2
@pytest.mark.parametrize(
    "case",
    [
        "runs dir is a file",
        "runs dir under a file",
        "corrupt timings",
        "typo",
        "typo by a sweep",
        "empty --only",
    ],
)
def test_a_bad_call_is_one_line_exit_2_and_nothing_runs(tmp_path, capsys, case):
    (tmp_path / "afile").write_text("")
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "timings.json").write_text('{"right": ')
    argv, want = {
        "runs dir is a file": (
            ["--runs-dir", str(tmp_path / "afile")],
            f"{tmp_path / 'afile'} is a file, not a directory: choose another --runs-dir",
        ),
        "runs dir under a file": (
            ["--runs-dir", str(tmp_path / "afile" / "r")],
            f"{tmp_path / 'afile'} is a file, not a directory: choose another --runs-dir",
        ),
        "corrupt timings": (
            ["--runs-dir", str(tmp_path / "runs")],
            f"cannot read {tmp_path / 'runs' / 'timings.json'} (JSONDecodeError: "
            "Expecting value: line 1 column 11 (char 10)); fix it, or remove it "
            "(the wall times of earlier calls are then lost)",
        ),
        "typo": (
            ["--runs-dir", str(tmp_path / "r2"), "--", "data.sigma_wroker=1"],
            "study right: unknown config key data.sigma_wroker; data accepts: ",
        ),
        "typo by a sweep": (
            ["--runs-dir", str(tmp_path / "r2"), "--", "data.seed=0,1", "data.sigma_wroker=1"],
            "study right: unknown config key data.sigma_wroker; data accepts: ",
        ),
        "empty --only": (
            ["--runs-dir", str(tmp_path / "r2"), "--only", ""],
            "--only '' names no study; studies: right",
        ),
    }[case]
    before = snapshot(tmp_path)
    assert tiny_cli(argv, run_study=no_run) == 2
    (line,) = err_lines(capsys)
    assert line.startswith(f"{PROG}: error: {want}")
    assert snapshot(tmp_path) == before and not (tmp_path / "r2").exists()
