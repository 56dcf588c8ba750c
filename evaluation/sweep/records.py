"""The runs of a sweep as found on disk, and one flat row per run: the base of evaluation.sweep.

A sweep directory (``hydra.sweep.dir``) holds one sub-directory per job.  A finished job has a
``metrics.json`` with ``"status": "complete"``; a failed one a ``failed.json`` (written by
:mod:`evaluation.app` or by the sweep callback); a job that was killed has neither.
:func:`collect_runs` reads them all as :class:`RunRecord`; :func:`run_row` flattens one into a
row of ``comparison.csv``; :func:`run_truth` reads the true parameters a run on synthetic
data recorded (``truth.nc``; a report never rebuilds a data set).
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import xarray as xr
from omegaconf import OmegaConf

from evaluation import io
from evaluation.config import apply_backend_overrides, typed_backend_keys
from evaluation.data.truth import TRUTH_NC

log = logging.getLogger("ppl_compare.sweep")

CSV_NAME = "comparison.csv"
MD_NAME = "report.md"
HTML_NAME = "report.html"
FIG_DIR = "figures"
#: Files whose presence makes a directory a run dir.
RUN_MARKERS: tuple[str, ...] = ("metrics.json", "failed.json", ".hydra")
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
        The one-line error of a failed or incomplete run; for a complete run, a note on a
        file it lacks (:data:`NO_POSTERIOR`).
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


# ----------------------------------------------------------------------------- reading
def _job_config(run_dir: Path) -> dict[str, Any]:
    """The job's config from ``.hydra/config.yaml``, resolved section by section."""
    path = run_dir / ".hydra" / "config.yaml"
    if not path.exists():
        return {}
    try:
        cfg = OmegaConf.load(path)
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
        return [str(o) for o in OmegaConf.load(path)]
    except Exception:
        return []


def _read(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    try:
        content = io.read_json(path)
    except (OSError, ValueError) as exc:
        return None, f"unreadable {path.name}: {type(exc).__name__}: {exc}".splitlines()[0]
    if not isinstance(content, dict):
        return None, f"unreadable {path.name}: a JSON {type(content).__name__}, not an object"
    return content, None


#: What a complete run's metrics.json names besides its status.
COMPLETE_KEYS: tuple[str, ...] = ("backend", "seed")
#: Sections of metrics.json that are JSON objects wherever they are present.
SECTIONS: tuple[str, ...] = (
    "data", "timing", "phases", "fit", "predictive", "posterior", "reference", "diagnostics",
    "psis", "approximation", "clustering", "claims",
)  # fmt: skip
#: The posterior a complete run keeps beside metrics.json.
POSTERIOR_NC = "posterior.nc"
#: The note of a complete run whose posterior.nc is gone.
NO_POSTERIOR = (f"{POSTERIOR_NC} is missing (deleted?): the comparisons that read it leave this "
                "run out; running the job again rebuilds it")  # fmt: skip


def damage(metrics: Mapping[str, Any]) -> str | None:
    """Why a metrics.json that says ``complete`` is no result (a key it must name is missing,
    a section is not an object), or None."""
    missing = [k for k in COMPLETE_KEYS if k not in metrics]
    if missing:
        return f"metrics.json says complete but lacks {', '.join(missing)}"
    wrong = [k for k in SECTIONS if k in metrics and not isinstance(metrics[k], Mapping)]
    if wrong:
        kinds = ", ".join(f"{k} is a {type(metrics[k]).__name__}" for k in wrong)
        return f"metrics.json says complete, but not every section is an object ({kinds})"
    return None


def has_posterior(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds its posterior.nc."""
    return (Path(run_dir) / POSTERIOR_NC).is_file()


def read_run(sweep_dir: Path, run_dir: Path) -> RunRecord:
    """The :class:`RunRecord` of one run dir (the newer of metrics.json / failed.json wins)."""
    name = run_dir.relative_to(sweep_dir).as_posix() if run_dir != sweep_dir else "."
    overrides, config = _job_overrides(run_dir), _job_config(run_dir)
    m_path, f_path = run_dir / "metrics.json", run_dir / "failed.json"
    metrics, m_err = _read(m_path) if m_path.exists() else (None, None)
    failed, f_err = _read(f_path) if f_path.exists() else (None, None)
    complete = metrics is not None and metrics.get("status") == "complete"
    if complete and (failed is None or m_path.stat().st_mtime >= f_path.stat().st_mtime):
        if (broken := damage(metrics)) is not None:
            return RunRecord(name, run_dir, "failed", {}, broken, overrides, config)
        note = None if has_posterior(run_dir) else NO_POSTERIOR
        if note:
            log.warning("%s: %s", run_dir, note)
        return RunRecord(name, run_dir, "complete", metrics, note, overrides, config)
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


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` holds a run (metrics.json, failed.json or Hydra's ``.hydra/``)."""
    return any((Path(path) / f).exists() for f in RUN_MARKERS)


def _natural(name: str) -> tuple[Any, ...]:
    """Sort key reading every run of digits as a number: job dirs ``2`` before ``10``, and the
    study's ``pyro_meanfield_s2_r0`` before ``pyro_meanfield_s10_r0`` (strings at even
    positions, ints at odd, so keys always compare)."""
    parts = re.split(r"(\d+)", name)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def find_run_dirs(sweep_dir: Path) -> list[Path]:
    """Run dirs under ``sweep_dir`` (any depth; hidden dirs and ``figures/`` are skipped).

    A run dir's own sub-directories are not searched, and ``sweep_dir`` itself is never a run
    of its sweep: pointed at a single run's dir, this finds nothing.
    """
    sweep_dir = Path(sweep_dir)
    found = []
    for root, dirs, _files in os.walk(sweep_dir):
        here = Path(root)
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS]
        if here != sweep_dir and is_run_dir(here):
            found.append(here)
            dirs[:] = []  # a run dir's own sub-dirs (figures/) are not runs
    return sorted(found, key=lambda p: _natural(p.relative_to(sweep_dir).as_posix()))


def collect_runs(sweep_dir: Path) -> list[RunRecord]:
    """Every run of the sweep, in job order."""
    sweep_dir = Path(sweep_dir)
    return [read_run(sweep_dir, d) for d in find_run_dirs(sweep_dir)]


# ----------------------------------------------------------------------------- one row per run
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


def backend_settings(config: Mapping[str, Any], overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The backend config with ``backend_overrides`` applied as the app applied them (a
    ``backend.*`` setting typed in the job's ``overrides`` wins), without ``_target_``-style
    keys."""
    backend = apply_backend_overrides(
        config.get("backend") or {},
        config.get("backend_overrides"),
        warn=False,
        typed=typed_backend_keys(overrides),
    )
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
    row.update(flatten(backend_settings(rec.config, rec.overrides), "config.backend."))
    for key in ("model", "data"):
        row.update(flatten(rec.config.get(key) or {}, f"config.{key}."))
    if not rec.metrics and rec.config:  # a failed run: still say what it was
        row.setdefault("backend", (rec.config.get("backend") or {}).get("name"))
        row.setdefault("seed", rec.config.get("seed"))
    return row


# ----------------------------------------------------------------------------- a run's truth
def run_truth(rec: RunRecord) -> xr.Dataset | None:
    """The true parameters the run recorded (``truth.nc``, dims and coordinates), or None for
    real data (or a run that recorded none)."""
    path = rec.path / TRUTH_NC
    if not path.is_file():
        return None
    with xr.open_dataset(path) as ds:
        return ds.load()
