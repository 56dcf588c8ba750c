"""The directory a run owns: what it writes there, when it may replace it, and cleaning up.

A run writes :data:`RUN_OUTPUTS` (and ``figures/*.png``) into its Hydra run dir, last
``metrics.json``; :func:`is_complete` tells a finished run of the same config (skipped).
Before a fit the run checks the dir is writable (:func:`check_writable`), says which complete
run it replaces (:func:`warn_replacing`) and clears the outputs it will rewrite
(:func:`clear_outputs`); a single run stopped by a user error removes a run dir that holds
only Hydra's files of that attempt (:func:`remove_if_empty`).  :func:`saved_posterior` is what
``posterior.nc`` keeps (``evaluation.posterior_dtype``, ``evaluation.posterior_draws``).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from evaluation import io
from evaluation.config import cannot_write
from evaluation.data.truth import TRUTH_NC
from evaluation.sweep.records import NO_POSTERIOR, POSTERIOR_NC, damage, has_posterior

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az

log = logging.getLogger("ppl_compare")

#: What a run writes into its directory besides ``figures/*.png`` (cleared before a fit,
#: removed when the run fails).  Hydra's ``.hydra/`` and the run log are left alone.
RUN_OUTPUTS: tuple[str, ...] = (
    "metrics.json",
    "failed.json",
    POSTERIOR_NC,
    "clusters.nc",
    TRUTH_NC,
    "report.md",
    "loss.png",
)


class RunFailed(RuntimeError):
    """A run could not complete; the message is the one line shown to the user."""


def _complete_metrics(run_dir: Path) -> dict[str, Any] | None:
    """metrics.json of ``run_dir`` when it says complete (None when absent or unreadable)."""
    path = Path(run_dir) / "metrics.json"
    try:
        metrics = io.read_json(path) if path.is_file() else None
    except (OSError, ValueError):
        return None
    return metrics if isinstance(metrics, dict) and metrics.get("status") == "complete" else None


def is_complete(run_dir: Path, digest: str) -> bool:
    """True when ``run_dir`` already holds a complete run of the same config: metrics.json
    says so and is whole (:func:`evaluation.sweep.records.damage`), and posterior.nc is
    there; a damaged one is named in a warning and run again."""
    metrics = _complete_metrics(run_dir)
    if metrics is None or metrics.get("config_hash") != digest:
        return False
    broken = damage(metrics) or (None if has_posterior(run_dir) else NO_POSTERIOR)
    if broken is not None:
        log.warning("running %s again: %s", run_dir, broken)
        return False
    return True


def check_writable(directory: Path) -> None:
    """Create ``directory`` if needed and write (then remove) a probe file in it.

    Raises
    ------
    RunFailed
        One line naming the directory, the reason and the fix.
    """
    probe = Path(directory) / f".write-probe.{os.getpid()}.tmp"
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise RunFailed(cannot_write(directory, exc)) from None


def clear_outputs(run_dir: Path) -> None:
    """Remove the outputs a run writes, and ``.*.tmp`` leftovers of a killed run."""
    run_dir = Path(run_dir)
    fig_dir = run_dir / "figures"
    stale = [run_dir / name for name in RUN_OUTPUTS]
    if fig_dir.is_dir():
        stale += [*fig_dir.glob("*.png"), *fig_dir.glob(".*.tmp")]
    stale += list(run_dir.glob(".*.tmp")) if run_dir.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)


def warn_replacing(run_dir: Path, digest: str) -> None:
    """One warning line when ``run_dir`` holds a complete run that this one replaces (another
    config, or ``force=true``), naming that run and the files removed before the fit."""
    old = _complete_metrics(run_dir)
    if old is None or damage(old) is not None:  # no result to lose
        return
    if old.get("config_hash") == digest and not has_posterior(run_dir):
        return  # the same run, run again without its posterior.nc: said by is_complete
    why = "force=true" if old.get("config_hash") == digest else "its config differs from this one"
    data = old.get("data") or {}
    files = [name for name in RUN_OUTPUTS if (Path(run_dir) / name).exists()]
    if n_png := len(list((Path(run_dir) / "figures").glob("*.png"))):
        files.append(f"{n_png} figure(s) in figures/")
    log.warning(
        "replacing the complete run in %s (%s, seed %s, data %s; %s): removing %s",
        run_dir, old.get("backend"), old.get("seed"), data.get("name"), why, ", ".join(files),
    )  # fmt: skip


def saved_posterior(idata: az.InferenceData, evaluation: Any) -> az.InferenceData:
    """The InferenceData a run writes as ``posterior.nc``: the fit's, or with
    ``evaluation.posterior_draws`` at most that many draws per chain (evenly spaced) and with
    ``evaluation.posterior_dtype=float32`` its ``posterior`` and ``sample_stats`` floats in
    single precision (``observed_data`` and ``constant_data`` stay exact, so a later
    reference check compares the data themselves)."""
    draws, dtype = evaluation.get("posterior_draws"), evaluation.get("posterior_dtype", "float64")
    n_draws = int(idata.posterior.sizes["draw"])
    if (draws is None or int(draws) >= n_draws) and dtype == "float64":
        return idata
    out = idata
    if draws is not None and int(draws) < n_draws:
        keep = np.unique(np.linspace(0, n_draws - 1, int(draws)).round().astype(int))
        out = out.isel(draw=keep, groups=["posterior", "sample_stats"])
    if dtype == "float32":
        out = out.copy() if out is idata else out
        for group in ("posterior", "sample_stats"):
            if group in out.groups():
                ds = out[group]
                out[group] = ds.map(lambda v: v.astype(np.float32) if v.dtype.kind == "f" else v,
                                    keep_attrs=True).assign_attrs(ds.attrs)  # fmt: skip
    return out


def remove_if_empty(run_dir: Path, log_name: str) -> bool:
    """Remove ``run_dir`` when it holds nothing but what Hydra put there for this run
    (``.hydra/``, the job's log ``log_name``) and an empty ``figures/``; True if removed.

    A run dir that holds anything else (an earlier run's results, the user's files) is left.
    The working directory and its parents (``hydra.run.dir=.``) are never removed, only
    Hydra's files in them.
    """
    run_dir = Path(run_dir)
    hydra_dir = run_dir / ".hydra"
    hydra_files = {"config.yaml", "hydra.yaml", "overrides.yaml"}
    own = {".hydra", log_name}
    try:
        entries = list(run_dir.iterdir())
        empty_figures = [e for e in entries if e.name == "figures" and e.is_dir()
                         and not any(e.iterdir())]  # fmt: skip
        if any(e.name not in own and e not in empty_figures for e in entries):
            return False
        if hydra_dir.is_dir() and {e.name for e in hydra_dir.iterdir()} - hydra_files:
            return False
        here = Path.cwd().resolve()
        if run_dir.resolve() not in (here, *here.parents):
            shutil.rmtree(run_dir)
            return True
        shutil.rmtree(hydra_dir, ignore_errors=True)
        (run_dir / log_name).unlink(missing_ok=True)
        for empty in empty_figures:
            empty.rmdir()
    except OSError:
        return False
    return False
