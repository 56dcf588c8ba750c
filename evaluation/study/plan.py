"""What ``make findings`` runs: the sweeps behind ``docs/findings.md``, and how to run them.

Each :class:`Study` is one sweep directory filled by one Hydra multirun (an experiment file)
plus a few extra small multiruns (override lists) run into the same directory, so the sweep
report pairs every run with the NUTS run of its data.  Running a study again resumes it: a job
whose directory already holds a complete run of the same config is skipped by the app.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from evaluation.signals import Interrupted
from evaluation.study.processes import run_command

log = logging.getLogger("ppl_compare.findings")

#: The data seeds of a replicated study by default (``--seeds N``: ``range(0, N)``).
DEFAULT_SEEDS = 10
#: The fewest seeds a replicated study may run (a seed interval needs a few).
MIN_SEEDS = 2
#: The most: a seed is about 13 fits (~5 min on 2 cores at the study's size), so 1,000 seeds
#: are weeks of computing, and Hydra lists every job of a sweep in memory before the first.
MAX_SEEDS = 1000


class Study(NamedTuple):
    """One sweep of the findings.

    Attributes
    ----------
    key : str
        Directory name under the findings run dir, and the document's anchor.
    title : str
    experiment : str
        ``conf/experiment/<experiment>.yaml``: the multirun.
    extras : tuple of override tuples
        Extra sweeps into the same sweep dir (each a multirun: a comma list sweeps).
    overrides : tuple of str
        Overrides of every command of the study (its world: e.g. ``data.n_clusters=0``).
    replicated : bool
        Whether ``--seeds`` sets its data seeds (``data.seed=range(0,N)``).
    world : str
        What the study's data are, in one sentence for the document.
    seeds : int
        Its data seeds by default (``--seeds`` overrides every replicated study's).
    """

    key: str
    title: str
    experiment: str
    extras: tuple[tuple[str, ...], ...] = ()
    overrides: tuple[str, ...] = ()
    replicated: bool = True
    world: str = ""
    seeds: int = DEFAULT_SEEDS


#: Full-rank is fitted once per seed (no VI-vs-VI repeat): at 3 ms per step to the convergence
#: rule (~36k steps, ~2 min) its repeat would cost 30 min of the 120 on 2 cores.
FULLRANK_ONCE: tuple[tuple[str, ...], ...] = (("backend=pyro_fullrank", "repeat=0"),)
#: The worlds of the study (issue 22): the paper's conclusions true, then false in a known
#: share of seeds, on the quarter-sized twin; Thornton's experiment (real data, real claims);
#: and the scale case (2.6x the paper's units, one seed, for its cost).
STUDIES: tuple[Study, ...] = (
    Study("right", "Paper right: the paper's worksite effects, two planted clusters",
          "evidence", FULLRANK_ONCE,
          world="β_site is the paper's table × 0.3 and two worksite clusters are planted, true "
          "σ_worker 0.25: the paper's conclusions hold where its own table says so."),
    Study("wrong", "Paper wrong: worksite effects drawn around zero, no clusters", "evidence",
          FULLRANK_ONCE, overrides=("data.sigma_site=1.0", "data.n_clusters=0"),
          world="β_site is redrawn per seed ~ Normal(0, 1) × 0.3 and no clusters are planted, "
          "true σ_worker 0.25: each sign claim is false in about half the seeds, every "
          "cluster claim is false."),
    Study("thornton", "Real data: Thornton's HIV-results experiment", "evidence_thornton",
          FULLRANK_ONCE, seeds=5,
          world="causaldata/thornton_hiv (Thornton 2008): people in villages; replicates are "
          "train/test splits (5 by default: the 120-minute budget); no truth, NUTS is the "
          "reference."),
    Study("scale", "Scale: TV16, 2.6× the paper's units", "evidence_scale", replicated=False,
          world="stevedata/TV16 (CCES 2016): 43,009 respondents with a vote in 51 states "
          "(2.6× the paper's 16,553 workers), one split; what a fit costs at this size."),
)  # fmt: skip


def seed_overrides(study: Study, n_seeds: int | None = None) -> tuple[str, ...]:
    """``data.seed=range(0,N)`` of a replicated study: N is ``n_seeds`` (``--seeds``), else
    the study's own; nothing for a study that is not replicated."""
    if not study.replicated:
        return ()
    n = study.seeds if n_seeds is None else int(n_seeds)
    if n < MIN_SEEDS:
        raise ValueError(f"--seeds {n}: a replicated study needs at least {MIN_SEEDS}")
    if n > MAX_SEEDS:
        raise ValueError(f"--seeds {n}: at most {MAX_SEEDS} (a seed is about 13 fits; "
                         f"{MAX_SEEDS} seeds are weeks on 2 cores)")  # fmt: skip
    return (f"data.seed=range(0,{n})",)


class StudyRun(NamedTuple):
    """How one study ran: its sweep dir, wall seconds, the exit codes of its commands, and
    the signal that stopped it (None when it ran to its end)."""

    study: Study
    sweep_dir: Path
    wall_s: float
    return_codes: list[int]
    stopped: int | None = None


def commands(
    study: Study, sweep_dir: Path, overrides: Sequence[str] = (), n_seeds: int | None = None
) -> list[list[str]]:
    """The ``ppl-compare`` command lines of ``study`` (the multirun first, then the extras):
    its experiment, its world's overrides, its seeds (:func:`seed_overrides`), then
    ``overrides`` (so a user's override wins)."""
    app = [sys.executable, "-m", "evaluation.app"]
    base = [f"experiment={study.experiment}", f"hydra.sweep.dir={sweep_dir}",
            *study.overrides, *seed_overrides(study, n_seeds), *overrides]  # fmt: skip
    out = [[*app, *base]]
    for i, extra in enumerate(study.extras):
        subdir = f"extra{i}_" + "${hydra.job.num}_${backend.name}_s${data.seed}_r${repeat}"
        out.append([*app, *base, f"hydra.sweep.subdir={subdir}", *extra])
    for cmd in out[:-1]:  # one sweep report, by the last command, covers every run of the dir
        cmd.append("hydra.callbacks.sweep_report.enabled=false")
    return out


def run_study(
    study: Study, sweep_dir: Path, overrides: Sequence[str] = (), n_seeds: int | None = None
) -> StudyRun:
    """Run every command of ``study`` into ``sweep_dir``; a failing job does not stop it.

    Each command runs in its own process group (:func:`~evaluation.study.processes.
    run_command`); when the CLI is stopped (SIGINT, SIGTERM) the running command's group is
    stopped and the StudyRun says so (``stopped``: the signal; its wall time counts).
    """
    sweep_dir.mkdir(parents=True, exist_ok=True)
    start, codes = time.perf_counter(), []
    for cmd in commands(study, sweep_dir, overrides, n_seeds):
        log.info("running: %s", " ".join(cmd[2:]))
        try:
            codes.append(run_command(cmd))
        except Interrupted as exc:
            codes.append(128 + exc.signum)
            return StudyRun(study, sweep_dir, time.perf_counter() - start, codes, exc.signum)
    return StudyRun(study, sweep_dir, time.perf_counter() - start, codes)
