"""Write a sweep's files: the table from :mod:`evaluation.sweep`, then the report drawn by
:mod:`evaluation.report.sweep` (the top floor: the callback and ``ppl-compare-report`` call it).

:func:`build_report` writes, atomically, into the sweep dir:

``comparison.csv``   one row per run, the metrics flattened to dotted column names (last
                     column ``written_by``);
``report.md``        the comparison report (figures under ``figures/``);
``report.html``      the same report, self-contained (figures embedded as base64 PNG).

Every job the sweep launched is listed: the jobs of ``multirun.yaml`` (Hydra's basic
sweeper) that left no run directory are added as runs that did not start
(:func:`evaluation.sweep.jobs.sweep_runs`).

It never replaces a file it did not write, judged by content: the SHA-256 of every file it
writes is recorded in :data:`LEDGER` (a hidden JSON file in the sweep dir).  A
``comparison.csv`` / ``report.md`` / ``report.html`` whose bytes differ from the recorded ones
(edited by hand, written by someone else, or by a version that kept no record) is kept, and
the new file is written beside it (``report.new.md``, ...) with a one-line warning.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from evaluation import io
from evaluation.report.sweep.report import render_report
from evaluation.sweep.comparison import comparison_table
from evaluation.sweep.jobs import launched_jobs, sweep_runs
from evaluation.sweep.records import (
    CSV_NAME,
    HTML_NAME,
    MD_NAME,
    RUN_MARKERS,
    find_run_dirs,
    is_run_dir,
)

log = logging.getLogger("ppl_compare.sweep")

WRITER = "ppl-compare-report"
#: The marker column of comparison.csv (value :data:`WRITER` in every row).
WRITTEN_BY = "written_by"
#: The record of what :func:`build_report` wrote: ``{"sha256": {file name: hex digest}}``.
LEDGER = ".ppl-compare-report.json"


class ReportRefused(Exception):
    """The report was not written: the dir is not a sweep, or its record is not a file."""


class SweepOutputs(NamedTuple):
    """Paths written by :func:`build_report`, the run counts and the files kept.

    ``n_failed`` counts every run that is not complete: failed, interrupted or not started.
    ``kept`` lists the files that differ from what this module wrote there (kept; the new
    file is beside them, at the path in ``csv`` / ``markdown`` / ``html``).
    """

    csv: Path
    markdown: Path
    html: Path
    figures: list[Path]
    n_complete: int
    n_failed: int
    kept: tuple[Path, ...] = ()


# ----------------------------------------------------------------------------- ownership
def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_ledger(sweep_dir: Path) -> dict[str, str]:
    """File name -> SHA-256 of what :func:`build_report` last wrote in ``sweep_dir``.

    A missing or unreadable record is empty: then no file counts as this module's (an
    unreadable one is named by :func:`ledger_problem`).
    """
    return _ledger(sweep_dir)[0]


def ledger_problem(sweep_dir: Path) -> str | None:
    """Why the record of ``sweep_dir`` exists but cannot be read (None when it can, or is
    absent)."""
    return _ledger(sweep_dir)[1]


def _ledger(sweep_dir: Path) -> tuple[dict[str, str], str | None]:
    path = Path(sweep_dir) / LEDGER
    if not path.exists():
        return {}, None
    try:
        hashes = io.read_json(path).get("sha256")
    except (OSError, ValueError, AttributeError) as exc:
        return {}, f"{type(exc).__name__}: {exc}".splitlines()[0]
    if not isinstance(hashes, dict):
        return {}, "no sha256 object in it"
    return {str(k): str(v) for k, v in hashes.items()}, None


def written_by_us(path: Path, hashes: dict[str, str] | None = None) -> bool:
    """Whether ``path`` is absent or holds exactly what this module wrote (may be replaced).

    ``hashes`` is the sweep dir's record (:func:`read_ledger`, read when not given); a file
    it does not name, or whose bytes differ from the recorded hash, is not ours.
    """
    path = Path(path)
    if hashes is None:
        hashes = read_ledger(path.parent)
    if not path.exists() and not path.is_symlink():
        return True
    return path.is_file() and not path.is_symlink() and hashes.get(path.name) == _sha256(path)


def _beside(path: Path, n: int) -> Path:
    suffix = "" if n == 1 else str(n)
    return path.with_name(f"{path.stem}.new{suffix}{path.suffix}")


def report_target(path: Path, hashes: dict[str, str]) -> Path:
    """Where the new ``path`` goes: ``path`` itself when :func:`written_by_us`, else the first
    ``<stem>.new<n><ext>`` beside it that is absent or ours."""
    n = 0
    target = Path(path)
    while not written_by_us(target, hashes):
        n += 1
        target = _beside(Path(path), n)
    return target


def _drop_stale_copies(path: Path, hashes: dict[str, str]) -> None:
    """Remove copies this module once wrote beside ``path`` (it is now written in place)."""
    for copy in path.parent.glob(f"{path.stem}.new*{path.suffix}"):
        if copy.name in hashes and written_by_us(copy, hashes):
            copy.unlink()


def _record(sweep_dir: Path, hashes: dict[str, str], written: Sequence[Path]) -> None:
    """Record the hashes of ``written``; the entries of other files still there stay (an
    edited file's entry no longer matches it, so it stays the user's)."""
    kept = {name: h for name, h in hashes.items() if (sweep_dir / name).exists()}
    kept.update({p.name: _sha256(p) for p in written})
    io.write_json(sweep_dir / LEDGER, {"written_by": WRITER, "sha256": kept})


def require_sweep(sweep_dir: Path) -> None:
    """Raise :class:`ReportRefused` unless ``sweep_dir`` is a sweep: it holds run
    sub-directories, or a ``multirun.yaml`` that lists jobs (none of which started).

    Raises
    ------
    FileNotFoundError
        ``sweep_dir`` does not exist.
    ReportRefused
        ``sweep_dir`` is a file, or no sub-directory holds a run (e.g. a single run's dir, or
        a data folder).
    """
    sweep_dir = Path(sweep_dir)
    if sweep_dir.exists() and not sweep_dir.is_dir():
        raise ReportRefused(f"{sweep_dir} is a file, not a sweep dir; nothing written")
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep dir {sweep_dir} does not exist")
    if not find_run_dirs(sweep_dir) and not launched_jobs(sweep_dir):
        what = "a single run's dir, not a sweep dir" if is_run_dir(sweep_dir) else "not a sweep dir"
        raise ReportRefused(
            f"{sweep_dir} is {what}: no sub-directory holds a run "
            f"({', '.join(RUN_MARKERS)}); nothing written"
        )


def write_owned(sweep_dir: Path, texts: dict[str, str]) -> tuple[dict[str, Path], list[Path]]:
    """Write each ``texts[name]`` to ``sweep_dir/name``, or beside it when that file is not ours.

    Returns the path each text went to and the files kept (one warning line each); the hashes
    of what was written are recorded in :data:`LEDGER`.
    """
    hashes, problem = _ledger(sweep_dir)
    targets = {name: report_target(sweep_dir / name, hashes) for name in texts}
    written = [io.write_text(targets[name], text) for name, text in texts.items()]
    kept = []
    for name, target in targets.items():
        if target.name == name:
            _drop_stale_copies(target, hashes)
            continue
        kept.append(sweep_dir / name)
        if problem:
            why = f"the record of what %s wrote, {LEDGER}, cannot be read ({problem})"
        elif name in hashes:
            why = "it changed since %s wrote it (edited?)"
        else:
            why = "%s has no record of writing it (yours, or from before the record existed)"
        log.warning("kept %s: " + why + "; the new one is %s", sweep_dir / name, WRITER,
                    target.name)  # fmt: skip
    _record(sweep_dir, hashes, written)
    return targets, kept


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
        A file that differs from what this module wrote (:func:`written_by_us`) is kept and
        named in ``kept``; its new version is beside it (:func:`report_target`).

    Raises
    ------
    FileNotFoundError
        ``sweep_dir`` does not exist.
    ReportRefused
        Its record (:data:`LEDGER`) is there but not a file (nothing is written).
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep dir {sweep_dir} does not exist")
    record = sweep_dir / LEDGER
    if record.exists() and not record.is_file():
        raise ReportRefused(f"{record}, the record of what {WRITER} wrote, is not a file: "
                            "remove it; nothing written")  # fmt: skip
    records = sweep_runs(sweep_dir)
    df = comparison_table(records)
    rendered = render_report(df, records, sweep_dir, title=title or sweep_dir.name)
    texts = {CSV_NAME: df.assign(**{WRITTEN_BY: WRITER}).to_csv(index=False),
             MD_NAME: rendered.markdown, HTML_NAME: rendered.html}  # fmt: skip
    paths, kept = write_owned(sweep_dir, texts)
    n_complete = sum(r.status == "complete" for r in records)
    log.info("sweep report: %d runs (%d complete) -> %s", len(records), n_complete, paths[MD_NAME])
    return SweepOutputs(paths[CSV_NAME], paths[MD_NAME], paths[HTML_NAME], rendered.figures,
                        n_complete, len(records) - n_complete, tuple(kept))  # fmt: skip
