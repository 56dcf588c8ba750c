"""What ``make findings`` runs: the sweeps behind ``docs/findings.md``, and how to run them.

Each :class:`Study` is one sweep directory filled by one Hydra multirun (an experiment file)
plus a few extra small multiruns (override lists) run into the same directory, so the sweep
report pairs every run with the NUTS run of its data.  Running a study again resumes it: a job
whose directory already holds a complete run of the same config is skipped by the app.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger("ppl_compare.findings")

#: Extra sweeps of the face-value twin study: full-rank and the flow at every sigma_worker of
#: the sweep to the convergence rule (3.5 and 27 ms per step at paper scale since issue 20:
#: about 2.5 and 7-9 minutes per fit), full-rank with the paper's x0.9995 decay at sigma_worker
#: 1.0, Pathfinder started at a mean-field fit's mean, mean-field + PSIS; and a second NUTS
#: (Stan) at sigma_worker 1.0 and the paper's 0.006294 for the NUTS-vs-NUTS noise floor.
TWIN_EXTRAS: tuple[tuple[str, ...], ...] = (
    ("backend=pyro_fullrank,pyro_flow", "data.sigma_worker=0.006294,0.05,0.25,0.5,1.0"),
    ("backend=pyro_fullrank", "backend.lr_decay=0.9995", "backend.num_steps=18000",
     "data.sigma_worker=1.0"),
    ("backend=pymc_pathfinder", "backend.init=advi", "data.sigma_worker=1.0"),
    ("backend=pyro_meanfield", "evaluation.psis_resample=true", "data.sigma_worker=1.0"),
    ("backend=stan_nuts", "data.sigma_worker=1.0,0.006294"),
)  # fmt: skip


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
    """

    key: str
    title: str
    experiment: str
    extras: tuple[tuple[str, ...], ...] = ()


STUDIES: tuple[Study, ...] = (
    Study("twin", "Face-value twin (experiment=meanfield_study)", "meanfield_study", TWIN_EXTRAS),
    Study("calibrated", "Calibrated twin (experiment=meanfield_study_calibrated)",
          "meanfield_study_calibrated", (("backend=stan_nuts", "data.sigma_worker=0.006294"),)),
    Study("real", "Real data (experiment=meanfield_real)", "meanfield_real"),
)  # fmt: skip


class StudyRun(NamedTuple):
    """How one study ran: its sweep dir, wall seconds, and the exit codes of its commands."""

    study: Study
    sweep_dir: Path
    wall_s: float
    return_codes: list[int]


def commands(study: Study, sweep_dir: Path, overrides: Sequence[str] = ()) -> list[list[str]]:
    """The ``ppl-compare`` command lines of ``study`` (the multirun first, then the extras)."""
    app = [sys.executable, "-m", "evaluation.app"]
    base = [f"experiment={study.experiment}", f"hydra.sweep.dir={sweep_dir}", *overrides]
    out = [[*app, *base]]
    for i, extra in enumerate(study.extras):
        subdir = f"extra{i}_" + "${hydra.job.num}_${backend.name}_s${data.seed}"
        out.append([*app, *base, f"hydra.sweep.subdir={subdir}", *extra])
    return out


def run_study(study: Study, sweep_dir: Path, overrides: Sequence[str] = ()) -> StudyRun:
    """Run every command of ``study`` into ``sweep_dir``; a failing job does not stop it."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    start, codes = time.perf_counter(), []
    for cmd in commands(study, sweep_dir, overrides):
        log.info("running: %s", " ".join(cmd[2:]))
        codes.append(subprocess.run(cmd, check=False).returncode)
    return StudyRun(study, sweep_dir, time.perf_counter() - start, codes)
