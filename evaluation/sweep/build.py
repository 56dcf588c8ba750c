"""Build a sweep's comparison report: every run into one table, then the three files.

:func:`build_report` writes, atomically, into the sweep dir:

``comparison.csv``   one row per run, the metrics flattened to dotted column names (last
                     column ``written_by``);
``report.md``        the comparison report (figures under ``figures/``);
``report.html``      the same report, self-contained (figures embedded as base64 PNG).

It never replaces a file it did not write: each file carries a marker (the ``written_by``
column; the comment :data:`~evaluation.sweep.report.MARKER` on the second line of the report),
and an existing ``comparison.csv`` / ``report.md`` / ``report.html`` without it stops the
build, before anything is written, with :class:`ReportRefused`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from evaluation import io
from evaluation.sweep.cross import add_cross_run
from evaluation.sweep.records import (
    CSV_NAME,
    HTML_NAME,
    ID_COLUMNS,
    MD_NAME,
    RUN_MARKERS,
    RunRecord,
    collect_runs,
    find_run_dirs,
    is_run_dir,
    run_row,
)
from evaluation.sweep.report import MARKER, render_report
from evaluation.sweep.tables import add_cost, add_labels, add_verdicts

log = logging.getLogger("ppl_compare.sweep")

WRITER = "ppl-compare-report"
#: The marker column of comparison.csv (value :data:`WRITER` in every row).
WRITTEN_BY = "written_by"
#: Files written by ppl-compare-report before the markers existed, recognised by their start.
_LEGACY_CSV_HEADER = "run,status,error,overrides,"
_LEGACY_REPORT_LINES = ("_Generated ", "<p><em>Generated ")
_HEAD_LINES = 6


class ReportRefused(Exception):
    """The report was not written: the dir is not a sweep, or a file in the way is not ours."""


class SweepOutputs(NamedTuple):
    """Paths written by :func:`build_report` and the run counts."""

    csv: Path
    markdown: Path
    html: Path
    figures: list[Path]
    n_complete: int
    n_failed: int


def comparison_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """A pandas DataFrame, one row per run, with scenario / method / replicate labels, the cost
    columns and each run against the MCMC run of its data (:mod:`evaluation.sweep.cross`)."""
    df = pd.DataFrame([run_row(r) for r in records])
    if df.empty:
        return pd.DataFrame(columns=list(ID_COLUMNS))
    df = add_verdicts(add_cross_run(add_cost(add_labels(df)), records))
    first = [c for c in ID_COLUMNS if c in df.columns]
    return df[first + sorted(c for c in df.columns if c not in first)]


def _head(path: Path) -> list[str]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return [line.rstrip("\r\n") for _, line in zip(range(_HEAD_LINES), fh, strict=False)]


def written_by_us(path: Path) -> bool:
    """Whether ``path`` is absent or a file this module wrote (so it may be replaced).

    A ``.csv`` must name the :data:`WRITTEN_BY` column in its header; a report must hold
    :data:`~evaluation.sweep.report.MARKER` in its first lines.  Files written before the
    markers existed are recognised too (the CSV's leading ``run,status,error,overrides``
    columns; the report's "Generated ... by ppl-compare-report." line).
    """
    path = Path(path)
    if not path.exists():
        return True
    if not path.is_file():
        return False
    head = _head(path)
    if path.suffix == ".csv":
        header = head[0] if head else ""
        return WRITTEN_BY in header.split(",") or header.startswith(_LEGACY_CSV_HEADER)
    legacy = any(line.startswith(_LEGACY_REPORT_LINES) and f"by {WRITER}." in line
                 for line in head)  # fmt: skip
    return MARKER in head or legacy


def check_targets(sweep_dir: Path) -> None:
    """Raise :class:`ReportRefused` if a report file in ``sweep_dir`` was not written by us."""
    for name in (CSV_NAME, MD_NAME, HTML_NAME):
        path = Path(sweep_dir) / name
        if not written_by_us(path):
            raise ReportRefused(
                f"{path} was not written by {WRITER}; refusing to replace it "
                f"(move it away to build the sweep report here)"
            )


def require_sweep(sweep_dir: Path) -> None:
    """Raise :class:`ReportRefused` unless ``sweep_dir`` holds run sub-directories.

    Raises
    ------
    FileNotFoundError
        ``sweep_dir`` does not exist.
    ReportRefused
        No sub-directory holds a run (e.g. a single run's dir, or a data folder).
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep dir {sweep_dir} does not exist")
    if not find_run_dirs(sweep_dir):
        what = "a single run's dir, not a sweep dir" if is_run_dir(sweep_dir) else "not a sweep dir"
        raise ReportRefused(
            f"{sweep_dir} is {what}: no sub-directory holds a run "
            f"({', '.join(RUN_MARKERS)}); nothing written"
        )


def build_report(sweep_dir: Path, *, title: str | None = None) -> SweepOutputs:
    """Gather the runs of ``sweep_dir`` and write comparison.csv, report.md and report.html.

    Parameters
    ----------
    sweep_dir : Path
        A Hydra sweep dir (or any dir whose sub-dirs are run dirs).
    title : str, optional
        Report title; defaults to the sweep dir's name.

    Returns
    -------
    SweepOutputs

    Raises
    ------
    FileNotFoundError
        ``sweep_dir`` does not exist.
    ReportRefused
        A comparison.csv, report.md or report.html there was not written by this module
        (:func:`written_by_us`); nothing is written.
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep dir {sweep_dir} does not exist")
    check_targets(sweep_dir)
    records = collect_runs(sweep_dir)
    df = comparison_table(records)
    csv = io.write_text(sweep_dir / CSV_NAME, df.assign(**{WRITTEN_BY: WRITER}).to_csv(index=False))
    rendered = render_report(df, records, sweep_dir, title=title or sweep_dir.name)
    md = io.write_text(sweep_dir / MD_NAME, rendered.markdown)
    html = io.write_text(sweep_dir / HTML_NAME, rendered.html)
    n_complete = sum(r.status == "complete" for r in records)
    log.info("sweep report: %d runs (%d complete) -> %s", len(records), n_complete, md)
    return SweepOutputs(csv, md, html, rendered.figures, n_complete, len(records) - n_complete)
