"""``ppl-compare-report SWEEP_DIR``: rebuild a sweep's comparison report on demand.

    ppl-compare-report outputs/multirun/2026-01-01_12-00-00

The report lists every job the sweep launched (``multirun.yaml``), also those that failed,
were interrupted or never started.  A ``comparison.csv`` / ``report.md`` / ``report.html``
that differs from what ppl-compare-report wrote there (edited by hand) is kept, and the new
one is written beside it (``report.new.md``, ...) with a one-line warning.

Exit status, as the sweep's own: 0 the report is written and every run completed; 1 the
report is written but a run failed, did not finish or did not start (one line on stderr
counts them); 2 nothing was written (no such dir, or not a sweep dir).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from evaluation.commands.sweep_files import ReportRefused, build_report, require_sweep

PROG = "ppl-compare-report"
EPILOG = (
    "exit status: 0 = report written, every run complete; 1 = report written, but a run "
    "failed, did not finish or did not start (listed in the report, counted on stderr); "
    "2 = nothing written: no such dir, or not a sweep dir (no run sub-directories). "
    f"A comparison.csv/report.md/report.html that differs from what {PROG} wrote there "
    "is kept; the new file goes beside it (report.new.md, ...)."
)
#: Exit status when the report is written but a run is not complete (as the sweep's).
EXIT_RUNS_FAILED = 1


def parser() -> argparse.ArgumentParser:
    """The command-line parser of ``ppl-compare-report``."""
    out = argparse.ArgumentParser(
        prog=PROG,
        description="Gather a sweep's metrics.json / failed.json into comparison.csv, "
                    "report.md and a self-contained report.html in the sweep dir.",
        epilog=EPILOG,
    )  # fmt: skip
    out.add_argument("sweep_dir", type=Path, help="a Hydra multirun sweep dir")
    out.add_argument("--title", default=None, help="report title (default: dir name)")
    return out


def cli(argv: Sequence[str] | None = None) -> int:
    """Run ``ppl-compare-report``; returns the exit status (see the module docstring)."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        require_sweep(args.sweep_dir)
        out = build_report(args.sweep_dir, title=args.title)
    except (FileNotFoundError, ReportRefused) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. a read-only sweep dir or a full disk
        where = exc.filename or args.sweep_dir
        print(f"{PROG}: error: cannot write {where} ({exc.strerror or exc}); make the sweep "
              f"dir writable", file=sys.stderr)  # fmt: skip
        return 2
    total = out.n_complete + out.n_failed
    print(f"{out.n_complete} complete, {out.n_failed} failed or incomplete runs\n"
          f"wrote {out.csv}\nwrote {out.markdown}\nwrote {out.html}")  # fmt: skip
    if out.n_failed:
        print(f"{PROG}: {out.n_failed} of {total} runs failed or did not finish (listed in "
              f"{out.markdown}); exit status {EXIT_RUNS_FAILED}", file=sys.stderr)  # fmt: skip
        return EXIT_RUNS_FAILED
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(cli())
