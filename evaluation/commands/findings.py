"""``ppl-compare-findings`` (``make findings``): run the study's sweeps, write docs/findings.md.

    ppl-compare-findings                          # run (or resume) every study, then write
    ppl-compare-findings --only right             # one study (the others' runs are reused)
    ppl-compare-findings --seeds 50               # 50 data seeds in every replicated study
    ppl-compare-findings --document-only          # rewrite the document from the runs on disk
    ppl-compare-findings -- debug=fast            # Hydra overrides for every sweep (smoke)
    ppl-compare-findings --only yours -- data.source_overrides='{units_path: u.csv, ...}' \
        claims=my_claims                          # worlds drawn from your data's posterior

Sweeps go to ``<runs-dir>/<study>/`` (default ``outputs/findings``, the document ``docs/``);
with overrides (other than ``hydra.*``) the default runs dir is
``outputs/findings-<hash of the overrides>`` and the document goes into its ``docs/``, so
only the study itself writes ``outputs/findings`` and ``docs/``.  A second call resumes
(complete jobs are skipped by the app); a call whose overrides differ from those a study's
complete runs were made with is refused unless ``--force`` (which removes those runs first),
and a study being run by another call is refused (naming its pid).  The wall time of each study
(summed over the calls that ran it, stopped ones included) is kept in
``<runs-dir>/timings.json`` and printed at the top of the document.  While a study runs, one
line every 30 s and after each of its commands says which study, its jobs done of planned, the
elapsed time and the time left at this call's pace (:mod:`evaluation.study.progress`).
SIGINT or SIGTERM stop the running sweep's processes and end the call with one line (run it
again to resume).

Exit status: 0 the document was written and every command succeeded; 1 a command failed (the
document is written from the complete runs when there are any), no complete run, runs of
several configurations in one study, or the document could not be written; 2 bad arguments
or a refusal before anything ran; 130 / 143 stopped by SIGINT / SIGTERM.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from evaluation import io
from evaluation.config import compose_error
from evaluation.report.study.document import write_document
from evaluation.signals import Interrupted, interrupts_raise
from evaluation.study import runs
from evaluation.study.plan import STUDIES, Study, StudyRun, commands, run_study, seed_overrides
from evaluation.study.results import load_study

PROG = "ppl-compare-findings"
TIMINGS = "timings.json"
log = logging.getLogger("ppl_compare.findings")


class Refused(Exception):
    """The call stops here: one line for stderr, and the exit status."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def parser() -> argparse.ArgumentParser:
    """The command-line parser of ``ppl-compare-findings``."""
    out = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    out.add_argument("--runs-dir", type=Path, default=None,
                     help="where the sweeps run (default: outputs/findings; with overrides "
                          "outputs/findings-<hash>)")  # fmt: skip
    out.add_argument("--docs", type=Path, default=None,
                     help="where findings.md and figures/ go (default: docs for the study's "
                          "own runs dir, else <runs-dir>/docs)")  # fmt: skip
    out.add_argument(
        "--only",
        default=None,
        help="comma-separated studies to run (default: "
        + ", ".join(s.key for s in STUDIES if s.default)
        + "; also: "
        + ", ".join(s.key for s in STUDIES if not s.default)
        + ")",
    )
    out.add_argument("--seeds", type=int, default=None,
                     help="data seeds of every replicated study (default: each study's own: "
                          + ", ".join(f"{s.key} {s.seeds}" for s in STUDIES if s.replicated)
                          + "; subsets of the first seeds stay; at most 1000)")  # fmt: skip
    out.add_argument(
        "--document-only",
        action="store_true",
        help="do not run anything; write the document from the runs on disk",
    )
    out.add_argument("--force", action="store_true",
                     help="run even where a study's complete runs were made with other "
                          "overrides (those runs are removed first)")  # fmt: skip
    out.add_argument("overrides", nargs="*", help="Hydra overrides for every sweep (after --)")
    return out


def commit() -> str:
    """``git describe``-like id of the working tree (``<sha>``, ``-dirty`` if modified)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip

    try:
        sha = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return sha + ("-dirty" if dirty else "")


def record_timing(path: Path, key: str, wall_s: float, facts: dict) -> dict:
    """Add one study's call to ``timings.json``: its wall seconds to the earlier calls' (a
    resumed study), its ``facts`` (command, commit, ...), when it first started and last ended
    (UTC, ISO 8601).  The file is read just before it is
    written, so two calls running other studies at once keep each other's entries."""
    timings = runs.read_timings(path)
    before = timings.get(key) or {}
    end = dt.datetime.now(dt.UTC)
    start = (end - dt.timedelta(seconds=wall_s)).isoformat(timespec="seconds")
    timings[key] = {
        "wall_s": float(before.get("wall_s") or 0.0) + wall_s,
        "calls": (int(before.get("calls") or 1) if before else 0) + 1,
        **facts,
        "started": before.get("started") or start,
        "ended": end.isoformat(timespec="seconds"),
    }
    io.write_json(path, timings)
    return timings


# ----------------------------------------------------------------------------- the call
class Call(NamedTuple):
    """A checked command line: the studies to run, the runs and docs dirs, the command."""

    args: argparse.Namespace
    to_run: list[Study]
    runs_dir: Path
    docs: Path
    command: str


def own_overrides(study: Study) -> list[str]:
    """The overrides every command of ``study`` has before the user's."""
    return [f"experiment={study.experiment}", *study.overrides]


def check_call(args: argparse.Namespace, argv: Sequence[str] | None) -> Call:
    """The call's arguments checked, its dirs chosen (:func:`runs.default_dirs`).

    Raises
    ------
    Refused
        Bad ``--seeds`` or ``--only``, or ``docs/`` as the document dir of overrides.
    """
    keys = [s.key for s in STUDIES]
    try:  # the plan's own check of the seeds, before anything runs
        for study in STUDIES:
            seed_overrides(study, args.seeds)
    except ValueError as exc:
        raise Refused(str(exc)) from None
    default = [s.key for s in STUDIES if s.default]
    only = default if args.only is None else [k.strip() for k in args.only.split(",") if k.strip()]
    if not only:
        raise Refused(f"--only {args.only!r} names no study; studies: {', '.join(keys)}")
    if unknown := sorted(set(only) - set(keys)):
        raise Refused(f"unknown study {', '.join(unknown)}; studies: {', '.join(keys)}")
    runs_default, docs_default = runs.default_dirs(args.overrides)
    runs_dir = args.runs_dir or runs_default
    own = runs.is_default(runs_dir, runs.DEFAULT_RUNS_DIR) and not runs.config_overrides(
        args.overrides
    )
    docs = args.docs or (docs_default if args.runs_dir is None or own else runs_dir / "docs")
    if runs.config_overrides(args.overrides) and runs.is_default(docs, runs.DEFAULT_DOCS):
        shown = " ".join(args.overrides)
        raise Refused(f"{docs}/ holds the study's own document; with overrides ({shown}) "
                      "write it elsewhere with --docs DIR")  # fmt: skip
    command = " ".join([PROG, *(argv if argv is not None else sys.argv[1:])])
    to_run = [] if args.document_only else [s for s in STUDIES if s.key in only]
    return Call(args, to_run, Path(runs_dir), Path(docs), command)


def _writable(directory: Path, what: str) -> None:
    """Refuse a dir that cannot be made or written (nothing is created here)."""
    path = Path(directory).absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise Refused(f"{existing} is a file, not a directory: choose another {what}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise Refused(f"cannot write to {existing} (permission denied): choose another {what}")


def check_before_running(call: Call) -> None:
    """What can refuse a call before a fit: the dirs, ``timings.json`` and the overrides
    (composed as each study's sweep would compose them)."""
    _writable(call.runs_dir, "--runs-dir")
    _writable(call.docs, "--docs")
    try:
        runs.read_timings(call.runs_dir / TIMINGS)
    except ValueError as exc:
        raise Refused(str(exc)) from None
    for study in call.to_run:
        first = commands(study, call.runs_dir / study.key, call.args.overrides,
                         call.args.seeds)[0][3:]  # fmt: skip
        if error := compose_error(first):
            raise Refused(f"study {study.key}: {error}")


def check_foreign(call: Call, study: Study, *, remove: bool = True) -> None:
    """Refuse to run ``study`` where its complete runs were made with other overrides
    (``--force``: remove them first, when ``remove``)."""
    sweep_dir, own = call.runs_dir / study.key, own_overrides(study)
    call_overrides = [*own, *call.args.overrides]
    foreign = runs.foreign_runs(sweep_dir, call_overrides, own)
    if foreign and not call.args.force:
        made = "; ".join(f"{len(v)} with {k}" for k, v in foreign.items())
        this = runs.describe(runs.signature(call_overrides).items(), runs.signature(own))
        raise Refused(f"{sweep_dir} holds complete runs of another configuration ({made}); "
                      f"this call ({this}) would replace them: choose another --runs-dir, "
                      "or --force to remove them")  # fmt: skip
    if foreign and remove:
        n = runs.remove_runs(sweep_dir, call_overrides)
        log.warning("--force: removed %d runs of another configuration from %s", n, sweep_dir)


def run_studies(call: Call) -> list[tuple[StudyRun, bool]]:
    """Run the call's studies, each locked for the call, and record their wall times; stops
    after a study that was stopped by a signal.  Each with whether it made progress (a
    command succeeded, a run completed, or it was stopped while running)."""
    check_before_running(call)
    args, done = call.args, []
    locks = [runs.StudyLock(call.runs_dir / s.key) for s in call.to_run]
    for study in call.to_run:  # before the locks: a refused call leaves nothing behind
        check_foreign(call, study, remove=False)
    try:
        for lock in locks:
            lock.acquire()
        for study in call.to_run:  # again, under the locks: what another call left
            check_foreign(call, study)
        log.info("runs: %s; document: %s", call.runs_dir, call.docs / "findings.md")
        for study in call.to_run:
            sweep_dir = call.runs_dir / study.key
            before = len(runs.complete_runs(sweep_dir))
            ran = run_study(study, sweep_dir, args.overrides, args.seeds)
            progress = (ran.stopped is not None or 0 in ran.return_codes
                        or len(runs.complete_runs(sweep_dir)) > before)  # fmt: skip
            done.append((ran, progress))
            if progress:  # a call whose every command failed is no part of the study's cost
                record_timing(call.runs_dir / TIMINGS, study.key, ran.wall_s, {
                    "return_codes": ran.return_codes, "overrides": list(args.overrides),
                    "seeds": args.seeds if args.seeds is not None else study.seeds,
                    "command": call.command, "commit": commit(),
                    **({"stopped": True} if ran.stopped is not None else {}),
                })  # fmt: skip
            if ran.stopped is not None:
                raise Interrupted(ran.stopped)
    except runs.Busy as exc:
        raise Refused(str(exc)) from None
    finally:
        for lock in locks:
            lock.release()
    return done


# ----------------------------------------------------------------------------- the document
def check_document(call: Call) -> None:
    """Refuse a document from runs it cannot rest on: a study whose runs mix configurations,
    or ``docs/`` from runs made with overrides."""
    for study in STUDIES:
        sweep_dir = call.runs_dir / study.key
        if line := runs.mixed(sweep_dir, own_overrides(study)):
            raise Refused(f"{line}: keep one with `{PROG} --only {study.key} --force -- "
                          "OVERRIDES` (removes the others' runs), or choose one --runs-dir",
                          1)  # fmt: skip
        if not runs.is_default(call.docs, runs.DEFAULT_DOCS):
            continue
        other = runs.foreign_runs(sweep_dir, own_overrides(study), own_overrides(study))
        if other:
            made = "; ".join(f"{len(v)} with {k}" for k, v in other.items())
            raise Refused(f"{call.docs}/ holds the study's own document, but {sweep_dir} holds "
                          f"runs made with overrides ({made}); write it elsewhere with "
                          "--docs DIR")  # fmt: skip


def write(call: Call) -> Path:
    """Read every study's runs and write the document; its path.

    Raises
    ------
    Refused
        No runs dir, a damaged ``timings.json``, runs it cannot rest on, no complete run, or
        a document dir it cannot write (status 1, 2 before anything is read).
    """
    if not call.runs_dir.is_dir():
        raise Refused(f"no runs dir {call.runs_dir}" + (" (a file)" if call.runs_dir.exists()
                                                         else ""))  # fmt: skip
    try:
        timings = runs.read_timings(call.runs_dir / TIMINGS)
    except ValueError as exc:
        raise Refused(str(exc)) from None
    check_document(call)
    shown = [s for s in STUDIES if s.default or (call.runs_dir / s.key).is_dir()]
    results = [load_study(s, call.runs_dir / s.key, (timings.get(s.key) or {}).get("wall_s"))
               for s in shown]  # fmt: skip
    status = [str(x) for r in results if not r.df.empty for x in r.df["status"]]
    if "complete" not in status:
        bad = f" ({len(status)} failed or unreadable runs)" if status else ""
        raise Refused(f"no complete run under {call.runs_dir}{bad}", 1)
    try:
        return write_document(results, call.docs, timings, call.command, commit())
    except OSError as exc:
        raise Refused(f"cannot write the document to {call.docs} ({exc.strerror or exc}); "
                      "choose another --docs", 1) from None  # fmt: skip


def _main(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    call = check_call(args, argv)
    ran = run_studies(call) if call.to_run else []
    if ran and not any(progress for _, progress in ran):
        raise Refused("every command failed (see above): nothing new, the document was not "
                      "rewritten", 1)  # fmt: skip
    path = write(call)
    print(f"wrote {path}")
    failed = [f"{r.study.key} {r.return_codes}" for r, _ in ran if any(r.return_codes)]
    if failed:
        print(f"{PROG}: a command failed (exit codes: {'; '.join(failed)}): its failed runs are "
              f"listed in {path}", file=sys.stderr)  # fmt: skip
        return 1
    return 0


def cli(argv: Sequence[str] | None = None) -> int:
    """Run ``ppl-compare-findings``; returns the exit status (see the module docstring)."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        with interrupts_raise():
            return _main(args, argv)
    except Refused as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.status
    except OSError as exc:  # the file system said no where no check could know beforehand
        print(f"{PROG}: error: cannot write {exc.filename or ''} ({exc.strerror or exc})",
              file=sys.stderr)  # fmt: skip
        return 1
    except (Interrupted, KeyboardInterrupt) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else int(signal.SIGINT)
        print(f"{PROG}: stopped ({signal.Signals(signum).name}); the complete runs are kept: "
              "run the same command again to resume", file=sys.stderr)  # fmt: skip
        return 128 + signum


def main() -> None:
    """Console-script entry point."""
    raise SystemExit(cli())


if __name__ == "__main__":  # pragma: no cover
    main()
