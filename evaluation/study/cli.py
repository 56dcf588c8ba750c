"""``ppl-compare-findings`` (``make findings``): run the study's sweeps, write docs/findings.md.

    ppl-compare-findings                          # run (or resume) every study, then write
    ppl-compare-findings --only right             # one study (the others' runs are reused)
    ppl-compare-findings --seeds 50               # 50 data seeds in every replicated study
    ppl-compare-findings --document-only          # rewrite the document from the runs on disk
    ppl-compare-findings -- debug=fast            # Hydra overrides for every sweep (smoke)

Sweeps go to ``<runs-dir>/<study>/`` (default ``outputs/findings``); a second call resumes them
(complete jobs are skipped by the app).  The wall time of each study (summed over the calls
that ran it) is kept in ``<runs-dir>/timings.json`` and printed at the top of the document.
Exit status 0 when the document was written, 1 when no study has a complete run, 2 for bad
arguments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from evaluation import io
from evaluation.report.study_document import load_study, write_document
from evaluation.study.plan import STUDIES, run_study, seed_overrides

PROG = "ppl-compare-findings"
TIMINGS = "timings.json"


def parser() -> argparse.ArgumentParser:
    """The command-line parser of ``ppl-compare-findings``."""
    out = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    out.add_argument("--runs-dir", type=Path, default=Path("outputs/findings"),
                     help="where the sweeps run (default: outputs/findings)")  # fmt: skip
    out.add_argument("--docs", type=Path, default=Path("docs"),
                     help="where findings.md and figures/ go (default: docs)")  # fmt: skip
    out.add_argument(
        "--only",
        default=None,
        help="comma-separated studies to run: " + ", ".join(s.key for s in STUDIES),
    )
    out.add_argument("--seeds", type=int, default=None,
                     help="data seeds of every replicated study (default: each study's own, "
                          "10 for the twin's worlds)")  # fmt: skip
    out.add_argument(
        "--document-only",
        action="store_true",
        help="do not run anything; write the document from the runs on disk",
    )
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
    timings = io.read_json(path) if path.is_file() else {}
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


def cli(argv: Sequence[str] | None = None) -> int:
    """Run ``ppl-compare-findings``; returns the exit status (see the module docstring)."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    keys = [s.key for s in STUDIES]
    try:  # the plan's own check of the seeds, before anything runs
        for study in STUDIES:
            seed_overrides(study, args.seeds)
    except ValueError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    only = keys if args.only is None else [k.strip() for k in args.only.split(",") if k.strip()]
    if unknown := sorted(set(only) - set(keys)):
        print(f"{PROG}: error: unknown study {', '.join(unknown)}; studies: {', '.join(keys)}",
              file=sys.stderr)  # fmt: skip
        return 2
    timings_path = args.runs_dir / TIMINGS
    command = " ".join([PROG, *(argv if argv is not None else sys.argv[1:])])
    for study in STUDIES:
        if args.document_only or study.key not in only:
            continue
        ran = run_study(study, args.runs_dir / study.key, args.overrides, args.seeds)
        record_timing(timings_path, study.key, ran.wall_s, {
            "return_codes": ran.return_codes, "overrides": list(args.overrides),
            "seeds": args.seeds if args.seeds is not None else study.seeds,
            "command": command, "commit": commit(),
        })  # fmt: skip
    timings = io.read_json(timings_path) if timings_path.is_file() else {}
    results = [load_study(s, args.runs_dir / s.key, timings.get(s.key, {}).get("wall_s"))
               for s in STUDIES]  # fmt: skip
    if all(r.df.empty for r in results):
        print(f"{PROG}: error: no runs under {args.runs_dir}", file=sys.stderr)
        return 1
    path = write_document(results, args.docs, timings, command, commit())
    print(f"wrote {path}")
    return 0


def main() -> None:
    """Console-script entry point."""
    raise SystemExit(cli())


if __name__ == "__main__":  # pragma: no cover
    main()
