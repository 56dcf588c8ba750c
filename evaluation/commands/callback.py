"""The Hydra callback that ends every multirun: record crashed jobs, write the comparison report,
and make the sweep's exit status say whether every run completed.

Registered under ``hydra.callbacks`` in ``conf/hydra/default.yaml``::

    callbacks:
      sweep_report:
        _target_: evaluation.commands.callback.SweepReportCallback
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from typing import Any

from hydra.core.utils import JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode

from evaluation import io
from evaluation.commands.sweep_files import ReportRefused, build_report
from evaluation.sweep.jobs import sweep_runs
from evaluation.sweep.records import MD_NAME

log = logging.getLogger("ppl_compare.sweep")
#: Exit status of a sweep in which a run failed or did not finish, or whose report failed.
EXIT_FAILED = 1


def record_crash(run_dir: Path, exc: BaseException, overrides: list[str]) -> Path:
    """Write ``failed.json`` (one-line error) and ``crash.txt`` (traceback) for a crashed job."""
    message = f"{type(exc).__name__}: {exc}".splitlines()[0]
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    io.write_text(Path(run_dir) / "crash.txt", trace)
    log.error("run crashed (recorded in failed.json, traceback in crash.txt): %s", message)
    return io.write_json(Path(run_dir) / "failed.json",
                         {"status": "failed", "error": f"crash: {message}",
                          "overrides": overrides})  # fmt: skip


def _sweep_title(config: Any) -> str | None:
    try:
        choices = config.hydra.runtime.choices
        experiment = choices.get("experiment")
    except Exception:
        return None
    return f"experiment={experiment}" if experiment and experiment != "None" else None


def _write_report(sweep_dir: Path, config: Any) -> tuple[int | None, int | None]:
    """Build the report; (complete, failed-or-incomplete) counts, (None, None) if it failed."""
    try:
        out = build_report(sweep_dir, title=_sweep_title(config))
    except ReportRefused as exc:  # not a sweep after all: one line, no traceback
        log.error("sweep report not written: %s", exc)
        return None, None
    except Exception as exc:  # the sweep's results are on disk; say how to rebuild
        log.error("sweep report failed (%s: %s); rebuild with: ppl-compare-report %s",
                  type(exc).__name__, exc, sweep_dir, exc_info=True)  # fmt: skip
        return None, None
    print(
        f"sweep report: {out.n_complete} complete, {out.n_failed} failed or "
        f"incomplete -> {out.markdown} (also {out.html.name}, {out.csv.name})"
    )
    return out.n_complete, out.n_failed


class SweepReportCallback(Callback):
    """Hydra callback: write the sweep's comparison report when a multirun ends.

    The app records a run's user errors in ``failed.json`` itself.  A job that raises anything
    else (a bug, an unexpected library error) would make Hydra abort the sweep after the
    current batch, with no report; with ``record_crashes`` the callback writes that job's
    ``failed.json`` (message + ``crash.txt`` traceback) and lets the sweep go on.

    When the multirun ends, the report is written (it lists the failed runs and the jobs that
    did not start; a report file edited by hand is kept and the new one written beside it) and
    then, if any run of the sweep dir failed, did not finish or did not start, or the report
    could not be written, one line goes to stderr and the process exits with status
    :data:`EXIT_FAILED` (``SystemExit``, which Hydra lets through; callbacks registered before
    this one are then not notified).

    Parameters
    ----------
    enabled : bool
        ``hydra.callbacks.sweep_report.enabled=false`` turns the report off (the exit status
        still reflects failed runs).
    record_crashes : bool
        Record an unexpected job exception as a failed run instead of aborting the sweep.
    """

    def __init__(self, enabled: bool = True, record_crashes: bool = True) -> None:
        self.enabled = bool(enabled)
        self.record_crashes = bool(record_crashes)

    def on_job_end(self, config: Any, job_return: Any, **kwargs: Any) -> None:
        """In a multirun, turn an uncaught job exception into a recorded failed run."""
        if not self.record_crashes or job_return.status != JobStatus.FAILED:
            return
        if config.hydra.mode != RunMode.MULTIRUN:
            return
        exc = job_return._return_value
        record_crash(Path(str(config.hydra.runtime.output_dir)), exc,
                     list(config.hydra.overrides.task))  # fmt: skip
        job_return.status = JobStatus.COMPLETED
        job_return.return_value = None

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        """Build the report in ``hydra.sweep.dir``; exit non-zero if a run failed.

        Raises
        ------
        SystemExit
            With :data:`EXIT_FAILED` after the report is written, when a run failed or did
            not finish, or when the report could not be written.
        """
        sweep_dir = Path(str(config.hydra.sweep.dir))
        if self.enabled:
            n_complete, n_failed = _write_report(sweep_dir, config)
        else:
            records = sweep_runs(sweep_dir)
            n_complete = sum(r.status == "complete" for r in records)
            n_failed = len(records) - n_complete
        if n_failed is None:
            print(f"ppl-compare: the sweep report could not be written (see the log); rebuild "
                  f"with: ppl-compare-report {sweep_dir}", file=sys.stderr)  # fmt: skip
            raise SystemExit(EXIT_FAILED)
        if n_failed:
            where = f" (listed in {sweep_dir / MD_NAME})" if self.enabled else ""
            print(f"ppl-compare: {n_failed} of {n_complete + n_failed} runs failed or did not "
                  f"finish{where}; exit status {EXIT_FAILED}", file=sys.stderr)  # fmt: skip
            raise SystemExit(EXIT_FAILED)
