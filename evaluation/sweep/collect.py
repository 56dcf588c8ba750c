"""Multirun aggregation: every run of a sweep into one table and one comparison report.

A sweep directory (``hydra.sweep.dir``) holds one sub-directory per job.  A finished job has a
``metrics.json`` with ``"status": "complete"``; a failed one a ``failed.json`` (written by
:mod:`evaluation.app`); a job that was killed has neither.  :func:`build_report` gathers them
all and writes, atomically, into the sweep dir:

``comparison.csv``   one row per run, the metrics flattened to dotted column names;
``report.md``        the comparison report (figures under ``figures/``);
``report.html``      the same report, self-contained (figures embedded as base64 PNG).

It runs at the end of every multirun through :class:`SweepReportCallback` (registered under
``hydra.callbacks`` in ``conf/hydra/default.yaml``) and on demand::

    ppl-compare-report outputs/multirun/2026-01-01_12-00-00
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from evaluation import io

log = logging.getLogger("ppl_compare.sweep")

CSV_NAME = "comparison.csv"
MD_NAME = "report.md"
HTML_NAME = "report.html"
FIG_DIR = "figures"
#: Leading columns of comparison.csv (the rest are the flattened metrics, sorted).
ID_COLUMNS: tuple[str, ...] = (
    "run", "status", "error", "overrides", "scenario", "method_label", "replicate",
)  # fmt: skip
_SKIP_DIRS = frozenset({FIG_DIR, "__pycache__"})


class RunRecord(NamedTuple):
    """One job of a sweep, as found on disk.

    Attributes
    ----------
    name : str
        Path of the run dir relative to the sweep dir (e.g. ``"3_pymc_nuts_s0"``).
    path : Path
        The run dir.
    status : str
        ``"complete"``, ``"failed"`` or ``"incomplete"`` (neither file: killed or running).
    metrics : dict
        The run's metrics.json (empty unless complete).
    error : str or None
        The one-line error of a failed or incomplete run.
    overrides : list of str
        The job's command-line overrides (``.hydra/overrides.yaml`` or failed.json).
    config : dict
        The job's resolved config (``.hydra/config.yaml``; sections that cannot be resolved
        outside Hydra are left out); empty when absent.
    """

    name: str
    path: Path
    status: str
    metrics: dict[str, Any]
    error: str | None
    overrides: list[str]
    config: dict[str, Any]


class SweepOutputs(NamedTuple):
    """Paths written by :func:`build_report` and the run counts."""

    csv: Path
    markdown: Path
    html: Path
    figures: list[Path]
    n_complete: int
    n_failed: int


# ----------------------------------------------------------------------------- collecting
def _load_yaml(path: Path) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.load(path)


def _job_config(run_dir: Path) -> dict[str, Any]:
    """The job's config from ``.hydra/config.yaml``, resolved section by section."""
    from omegaconf import OmegaConf

    path = run_dir / ".hydra" / "config.yaml"
    if not path.exists():
        return {}
    try:
        cfg = _load_yaml(path)
    except Exception as exc:  # a damaged file must not stop the report
        log.warning("cannot read %s: %s", path, exc)
        return {}
    out: dict[str, Any] = {}
    for key in cfg:
        try:
            node = OmegaConf.select(cfg, str(key))
            out[str(key)] = (OmegaConf.to_container(node, resolve=True)
                             if OmegaConf.is_config(node) else node)  # fmt: skip
        except Exception:  # e.g. an interpolation that needs Hydra's runtime
            continue
    return out


def _job_overrides(run_dir: Path) -> list[str]:
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.exists():
        return []
    try:
        return [str(o) for o in _load_yaml(path)]
    except Exception:
        return []


def _read(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    try:
        return io.read_json(path), None
    except (OSError, ValueError) as exc:
        return None, f"unreadable {path.name}: {type(exc).__name__}: {exc}".splitlines()[0]


def read_run(sweep_dir: Path, run_dir: Path) -> RunRecord:
    """The :class:`RunRecord` of one run dir (the newer of metrics.json / failed.json wins)."""
    name = run_dir.relative_to(sweep_dir).as_posix() if run_dir != sweep_dir else "."
    overrides, config = _job_overrides(run_dir), _job_config(run_dir)
    m_path, f_path = run_dir / "metrics.json", run_dir / "failed.json"
    metrics, m_err = _read(m_path) if m_path.exists() else (None, None)
    failed, f_err = _read(f_path) if f_path.exists() else (None, None)
    complete = metrics is not None and metrics.get("status") == "complete"
    if complete and (failed is None or m_path.stat().st_mtime >= f_path.stat().st_mtime):
        return RunRecord(name, run_dir, "complete", metrics, None, overrides, config)
    if failed is not None or f_err:
        failed = failed or {}
        error = str(failed.get("error") or f_err or "failed (no message)")
        return RunRecord(name, run_dir, "failed", {}, error,
                         list(failed.get("overrides") or overrides), config)  # fmt: skip
    if m_err or metrics is not None:
        error = m_err or f"metrics.json has status {metrics.get('status')!r}"
        return RunRecord(name, run_dir, "failed", {}, error, overrides, config)
    return RunRecord(name, run_dir, "incomplete", {},
                     "no metrics.json: the run was interrupted or is still running",
                     overrides, config)  # fmt: skip


def _is_run_dir(path: Path) -> bool:
    return any((path / f).exists() for f in ("metrics.json", "failed.json", ".hydra"))


def _natural(name: str) -> tuple[Any, ...]:
    head = name.split("/")[0].split("_")[0]
    return (0, int(head), name) if head.isdigit() else (1, 0, name)


def find_run_dirs(sweep_dir: Path) -> list[Path]:
    """Run dirs under ``sweep_dir`` (any depth; hidden dirs and ``figures/`` are skipped)."""
    sweep_dir = Path(sweep_dir)
    found = []
    for root, dirs, _files in os.walk(sweep_dir):
        here = Path(root)
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS]
        if here != sweep_dir and _is_run_dir(here):
            found.append(here)
            dirs[:] = []  # a run dir's own sub-dirs (figures/) are not runs
    return sorted(found, key=lambda p: _natural(p.relative_to(sweep_dir).as_posix()))


def collect_runs(sweep_dir: Path) -> list[RunRecord]:
    """Every run of the sweep, in job order."""
    sweep_dir = Path(sweep_dir)
    return [read_run(sweep_dir, d) for d in find_run_dirs(sweep_dir)]


# ----------------------------------------------------------------------------- the table
def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts to ``{"a.b.c": scalar}``; lists and None-valued leaves are dropped."""
    out: dict[str, Any] = {}
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    if isinstance(obj, bool | int | float | str) and prefix:
        if isinstance(obj, float) and not math.isfinite(obj):
            return out
        out[prefix[:-1]] = obj
    return out


def _backend_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The backend config with ``backend_overrides`` applied (what the app instantiated)."""
    backend = dict(config.get("backend") or {})
    overrides = config.get("backend_overrides") or {}
    backend.update({k: v for k, v in overrides.items() if k in backend})
    return {k: v for k, v in backend.items() if not str(k).startswith("_")}


def steps_run(metrics: Mapping[str, Any]) -> int | None:
    """Optimisation steps a VI run actually took: the last step with a recorded loss when the
    backend records the loss sparsely (``fit.loss_steps``, CmdStan), else the loss length."""
    fit = metrics.get("fit") or {}
    loss_steps = fit.get("loss_steps")
    if isinstance(loss_steps, list) and loss_steps:
        return int(loss_steps[-1])
    vi = (metrics.get("diagnostics") or {}).get("vi") or {}
    value = vi.get("n_steps") or fit.get("num_steps")
    return int(value) if value else None


def run_row(rec: RunRecord) -> dict[str, Any]:
    """One flat row of comparison.csv for a run (identity columns are added later)."""
    row: dict[str, Any] = {"run": rec.name, "status": rec.status, "error": rec.error or "",
                           "overrides": " ".join(rec.overrides)}  # fmt: skip
    row.update(flatten(rec.metrics))
    if rec.metrics:
        row["cost.steps"] = steps_run(rec.metrics)
    row.update(flatten(_backend_settings(rec.config), "config.backend."))
    for key in ("model", "data"):
        row.update(flatten(rec.config.get(key) or {}, f"config.{key}."))
    if not rec.metrics and rec.config:  # a failed run: still say what it was
        row.setdefault("backend", (rec.config.get("backend") or {}).get("name"))
        row.setdefault("seed", rec.config.get("seed"))
    return row


def comparison_table(records: Sequence[RunRecord]) -> Any:
    """A pandas DataFrame, one row per run, with scenario / method / replicate labels."""
    import pandas as pd

    from evaluation.sweep.tables import add_derived, add_labels

    df = pd.DataFrame([run_row(r) for r in records])
    if df.empty:
        return pd.DataFrame(columns=list(ID_COLUMNS))
    df = add_derived(add_labels(df), records)
    first = [c for c in ID_COLUMNS if c in df.columns]
    return df[first + sorted(c for c in df.columns if c not in first)]


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` atomically (evaluation.io's temporary-name-then-rename)."""
    return io._atomic(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))


# ----------------------------------------------------------------------------- the report
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
    """
    from evaluation.sweep.report import render_report

    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep dir {sweep_dir} does not exist")
    records = collect_runs(sweep_dir)
    df = comparison_table(records)
    csv = write_text(sweep_dir / CSV_NAME, df.to_csv(index=False))
    rendered = render_report(df, records, sweep_dir, title=title or sweep_dir.name)
    md = write_text(sweep_dir / MD_NAME, rendered.markdown)
    html = write_text(sweep_dir / HTML_NAME, rendered.html)
    n_complete = sum(r.status == "complete" for r in records)
    log.info("sweep report: %d runs (%d complete) -> %s", len(records), n_complete, md)
    return SweepOutputs(csv, md, html, rendered.figures, n_complete, len(records) - n_complete)


def _sweep_title(config: Any) -> str | None:
    try:
        choices = config.hydra.runtime.choices
        experiment = choices.get("experiment")
    except Exception:
        return None
    return f"experiment={experiment}" if experiment and experiment != "None" else None


try:  # Hydra is a dependency; the guard keeps `import evaluation.sweep.collect` cheap and safe
    from hydra.experimental.callback import Callback as _Callback
except ImportError:  # pragma: no cover
    _Callback = object  # type: ignore[assignment,misc]


class SweepReportCallback(_Callback):  # type: ignore[misc]
    """Hydra callback: write the sweep's comparison report when a multirun ends.

    Registered in ``conf/hydra/default.yaml``::

        callbacks:
          sweep_report:
            _target_: evaluation.sweep.collect.SweepReportCallback

    The app records a run's user errors in ``failed.json`` itself.  A job that raises anything
    else (a bug, an unexpected library error) would make Hydra abort the sweep after the
    current batch, with no report; with ``record_crashes`` the callback writes that job's
    ``failed.json`` (message + ``crash.txt`` traceback) and lets the sweep go on.

    Parameters
    ----------
    enabled : bool
        ``hydra.callbacks.sweep_report.enabled=false`` turns the report off.
    record_crashes : bool
        Record an unexpected job exception as a failed run instead of aborting the sweep.
    """

    def __init__(self, enabled: bool = True, record_crashes: bool = True) -> None:
        self.enabled = bool(enabled)
        self.record_crashes = bool(record_crashes)

    def on_job_end(self, config: Any, job_return: Any, **kwargs: Any) -> None:
        """In a multirun, turn an uncaught job exception into a recorded failed run."""
        from hydra.core.utils import JobStatus
        from hydra.types import RunMode

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
        """Build the report in ``hydra.sweep.dir``; a report error is logged, never raised."""
        if not self.enabled:
            return
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            out = build_report(sweep_dir, title=_sweep_title(config))
        except Exception as exc:  # the sweep's results are on disk; say how to rebuild
            log.error(
                "sweep report failed (%s: %s); rebuild with: ppl-compare-report %s",
                type(exc).__name__,
                exc,
                sweep_dir,
                exc_info=True,
            )
            return
        print(
            f"sweep report: {out.n_complete} complete, {out.n_failed} failed or "
            f"incomplete -> {out.markdown} (also {out.html.name}, {out.csv.name})"
        )


def record_crash(run_dir: Path, exc: BaseException, overrides: list[str]) -> Path:
    """Write ``failed.json`` (one-line error) and ``crash.txt`` (traceback) for a crashed job."""
    import traceback

    message = f"{type(exc).__name__}: {exc}".splitlines()[0]
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    write_text(Path(run_dir) / "crash.txt", trace)
    log.error("run crashed (recorded in failed.json, traceback in crash.txt): %s", message)
    return io.write_json(Path(run_dir) / "failed.json",
                         {"status": "failed", "error": f"crash: {message}",
                          "overrides": overrides})  # fmt: skip


def cli(argv: Sequence[str] | None = None) -> int:
    """``ppl-compare-report SWEEP_DIR``: rebuild a sweep's comparison report."""
    parser = argparse.ArgumentParser(
        prog="ppl-compare-report",
        description="Gather a sweep's metrics.json / failed.json into comparison.csv, "
                    "report.md and a self-contained report.html in the sweep dir.",
    )  # fmt: skip
    parser.add_argument("sweep_dir", type=Path, help="a Hydra multirun sweep dir")
    parser.add_argument("--title", default=None, help="report title (default: dir name)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        out = build_report(args.sweep_dir, title=args.title)
    except FileNotFoundError as exc:
        print(f"ppl-compare-report: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{out.n_complete} complete, {out.n_failed} failed or incomplete runs\n"
        f"wrote {out.csv}\nwrote {out.markdown}\nwrote {out.html}"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(cli())
