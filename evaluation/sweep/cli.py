"""``ppl-compare-report SWEEP_DIR``: rebuild a sweep's comparison report on demand.

    ppl-compare-report outputs/multirun/2026-01-01_12-00-00

Exit status: 0 the report is written, also when it lists runs that failed or did not finish
(the sweep itself exits 1 then; here the job, rebuilding the report, succeeded and the counts
are printed); 2 nothing was written (no such dir, not a sweep dir, or a comparison.csv /
report.md / report.html there that ppl-compare-report did not write).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from evaluation.sweep.build import ReportRefused, build_report, require_sweep

PROG = "ppl-compare-report"
EPILOG = (
    "exit status: 0 = report written, also when some runs failed or did not finish (they are "
    "counted on stdout and listed in the report); 2 = nothing written: no such dir, not a "
    "sweep dir (no run sub-directories), or a comparison.csv/report.md/report.html there "
    f"that {PROG} did not write (it never replaces those)."
)


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
    print(
        f"{out.n_complete} complete, {out.n_failed} failed or incomplete runs\n"
        f"wrote {out.csv}\nwrote {out.markdown}\nwrote {out.html}"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(cli())
