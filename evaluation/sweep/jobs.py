"""Every job a sweep launched, as runs: the run dirs, then the jobs that left none.

A job of ``multirun.yaml`` (Hydra's basic sweeper) that left no run directory is a run that
did not start (:data:`NOT_STARTED`): the sweep's table lists it, so a sweep that lost a job
says so.  Reading only; the table is :func:`evaluation.sweep.comparison.comparison_table`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from omegaconf import OmegaConf

from evaluation.sweep.records import RunRecord, collect_runs

log = logging.getLogger("ppl_compare.sweep")

#: Error of a job of ``multirun.yaml`` that left no run directory.
NOT_STARTED = "not started: the sweep launched it, but it left no run directory"


def launched_jobs(sweep_dir: Path) -> list[list[str]] | None:
    """The override list of every job the sweep launched, from its ``multirun.yaml``.

    None when there is no ``multirun.yaml`` or its sweeper is not Hydra's basic sweeper
    (whose job list can be recomputed from the sweep's overrides and ``hydra.sweeper.params``).
    """
    path = Path(sweep_dir) / "multirun.yaml"
    if not path.is_file():
        return None
    try:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser

        hydra_cfg = OmegaConf.load(path).hydra
        if not str(hydra_cfg.sweeper.get("_target_", "")).endswith(".BasicSweeper"):
            return None
        params, task = hydra_cfg.sweeper.get("params") or {}, hydra_cfg.overrides.task or []
        parsed = OverridesParser.create().parse_overrides(
            [f"{k}={v}" for k, v in params.items()] + [str(o) for o in task]
        )
        return [list(job) for job in BasicSweeper.split_arguments(parsed, None)[0]]
    except Exception as exc:  # a damaged multirun.yaml must not stop the report
        log.warning("cannot list the jobs of %s: %s", path, exc)
        return None


def not_started(sweep_dir: Path, records: Sequence[RunRecord]) -> list[RunRecord]:
    """A record (status ``incomplete``) for every launched job no run dir answers to.

    A run dir answers to a job when its overrides are the job's (in any order).
    """
    jobs = launched_jobs(sweep_dir)
    if not jobs:
        return []
    seen = [sorted(r.overrides) for r in records]
    missing = []
    for num, job in enumerate(jobs):
        if sorted(job) in seen:
            seen.remove(sorted(job))
            continue
        missing.append(RunRecord(f"job {num} (not started)", Path(sweep_dir) / f"job_{num}",
                                 "incomplete", {}, NOT_STARTED, list(job), {}))  # fmt: skip
    return missing


def sweep_runs(sweep_dir: Path) -> list[RunRecord]:
    """Every run of the sweep: the run dirs, then the launched jobs that left none."""
    records = collect_runs(sweep_dir)
    return records + not_started(sweep_dir, records)
