"""What ``make findings`` runs: the sweeps behind ``docs/findings.md``, and how to run them.

Each :class:`Study` is one world: one sweep directory filled by the Hydra multiruns of its
:class:`Sweep` s (one experiment file; each sweep its methods, repeats and how many of the
world's seeds), so the sweep report pairs every run with the NUTS run of its data.  The
default study and its budget (<= 120 min on 2 cores) are written out above :data:`STUDIES`.
Running a study again resumes it: a job whose directory already holds a complete run of the
same config is skipped by the app.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from evaluation.config.compose import sweep_params
from evaluation.signals import Interrupted
from evaluation.study import runs
from evaluation.study.processes import run_command
from evaluation.study.progress import EVERY_S, Progress

log = logging.getLogger("ppl_compare.findings")

#: The data seeds of a replicated study when the plan gives none (``--seeds N``: ``range(0, N)``).
DEFAULT_SEEDS = 10
#: The fewest seeds a replicated study may run (a seed interval needs a few).
MIN_SEEDS = 2
#: The most: a seed is about 13 fits (~5 min on 2 cores at the study's size), so 1,000 seeds
#: are weeks of computing, and Hydra lists every job of a sweep in memory before the first.
MAX_SEEDS = 1000
#: The methods fitted in every seed of a world: NUTS (the reference), the three mean-fields
#: and DADVI with linear-response covariances.
HEADLINE = ("pymc_nuts", "pyro_meanfield", "pymc_meanfield", "stan_meanfield", "pymc_dadvi_lr")
#: The seeds (the first ones) that hold the repeats and the richer methods by default.
SUBSET = 10


class Sweep(NamedTuple):
    """One multirun of a study: ``methods`` x ``repeats`` x its data seeds.

    Attributes
    ----------
    methods : tuple of str
        Backends (``backend=a,b``).
    repeats : tuple of int
        ``repeat`` values (0: the first fit; 1: the repeat, another chain or optimiser seed).
    seeds : int or None
        At most this many of the study's seeds (the first ones); None: all of them.

    Other overrides belong to the study (:attr:`Study.overrides`): a runs dir's configuration
    check (:mod:`evaluation.study.runs`) knows a study's overrides, not its sweeps'.
    """

    methods: tuple[str, ...]
    repeats: tuple[int, ...] = (0,)
    seeds: int | None = None


class Study(NamedTuple):
    """One sweep dir of the findings: a world, filled by its :class:`Sweep` multiruns.

    Attributes
    ----------
    key : str
        Directory name under the findings run dir, and the document's anchor.
    title : str
    experiment : str
        ``conf/experiment/<experiment>.yaml``: the world and the settings of every sweep.
    sweeps : tuple of Sweep
        Its multiruns, the first one the main one (empty: the experiment's own sweep, as is).
    overrides : tuple of str
        Overrides of every command of the study.
    replicated : bool
        Whether ``--seeds`` sets its data seeds (``data.seed=range(0,N)``).
    world : str
        What the study's data are, in one sentence for the document.
    seeds : int
        Its data seeds by default (``--seeds`` overrides every replicated study's).
    default : bool
        Whether ``make findings`` runs it; one that is not runs only when ``--only`` names it.
    """

    key: str
    title: str
    experiment: str
    sweeps: tuple[Sweep, ...] = ()
    overrides: tuple[str, ...] = ()
    replicated: bool = True
    world: str = ""
    seeds: int = DEFAULT_SEEDS
    default: bool = True


def subset_sweeps(methods: Sequence[str] = HEADLINE, richer: Sequence[str] = (
        "pyro_lowrank", "pyro_fullrank"), repeat: Sequence[str] = HEADLINE,
        subset: int = SUBSET) -> tuple[Sweep, ...]:  # fmt: skip
    """A world's sweeps: ``methods`` once in every seed; their repeats (``repeat``) and the
    ``richer`` methods (fitted once) in the first ``subset`` seeds."""
    out = [Sweep(tuple(methods))]
    if repeat:
        out.append(Sweep(tuple(repeat), (1,), subset))
    if richer:
        out.append(Sweep(tuple(richer), (0,), subset))
    return tuple(out)


#: The repeats of NUTS and pyro_meanfield (the NUTS-vs-NUTS and VI-vs-VI floors) on 5 seeds.
FLOORS_ON_5 = Sweep(("pymc_nuts", "pyro_meanfield"), (1,), 5)

# The default study and its budget (issue 30: make findings <= 120 min of wall time on 2 cores,
# 2 jobs at a time, i.e. <= 14,400 job-seconds with both slots busy).
#
# Per-job costs (job-s: a job's wall seconds with one other job beside it):
#  * quarter twin / Thornton-sized job, mean over the 5 headline methods: 17 job-s. Source: a
#    study seed (13 jobs: 6 methods x 2 + full-rank) cost ~300 job-s before issue 31 (measured
#    on main, issue 31's table: NUTS 26%, pyro_lowrank 21%, pyro_fullrank 18%, DADVI-LR 13%,
#    pyro_meanfield 11%, pymc_meanfield 8%, stan_meanfield 3%), i.e. 23 job-s per job without
#    full-rank; issue 31 then halved NUTS's CPU (warm-up 200: 52e8012; gradient 1.75x: 8506078),
#    DADVI's Hessian-vector products 2.6x (274e392) and Pyro's CPU per fit at 2 replicates
#    (16ca1b3): 0.75 x 23 = 17 is a conservative figure. Cross-check: issue 30's 12 jobs of
#    NUTS + pyro_meanfield on the quarter twin ran in 174 s of wall, 2 at a time = 29 job-s
#    per job, as 0.5 x (39 + 16) before issue 31. Measured at this branch (experiment=
#    evidence_null, seed 0, the 5 headline methods one job at a time, machine loaded to ~4 on
#    2 cores; python benchmarks/study_cost.py): NUTS 26, pyro_meanfield 15, DADVI-LR 14,
#    pymc_meanfield 12, stan_meanfield 5 = 72 job-s, 14.4 per job; 17 keeps a margin for two
#    jobs sharing 2 cores (NUTS's 4 chains are threads); one seed only: a clean run decides.
#  * pyro_fullrank, quarter twin: 54 job-s (18% of 300: not lowered by issue 31's measures).
#  * paper scale (120 worksites x 16,553 workers): measured at this branch (experiment=
#    evidence_paper, seed 0, one job at a time on the loaded machine): NUTS 70 job-s (fit 42 s:
#    27,043 + 18,000 gradients; judging 22 s), pyro_meanfield 37 (5,200 steps), DADVI-LR 59;
#    the source posterior (4 x (1,000 + 1,000), once, cached) 179 s, paid by the first job. The
#    estimate before it (NUTS 4 x (200 + 300) x ~31 gradients x 0.57 ms + compile + judging =
#    75, pyro_meanfield 50, DADVI-LR 60, source 245) was 10% higher.
#  * Thornton's source posterior (2,825 rows, once, cached): ~60 job-s.
#  * paper forensics, 9 runs on the paper-sized twin (Pyro VI, 18k steps): 572 s of wall
#    for these 9 runs, 2 at a time (measured, conf/experiment/paper_forensics.yaml) = 1,144 job-s.
#
# Jobs and job-s at the default seeds:
#   null      30 seeds x 5 headline + 10 x 5 repeats = 200 x 17 = 3,400; 10 x pyro_lowrank
#             x 17 = 170; 10 x pyro_fullrank x 54 = 540                    -> 4,110 (220 jobs)
#   paper     10 x (70 + 37 + 59) = 1,660; repeats of NUTS and pyro_meanfield on 5 seeds
#             5 x (70 + 37) = 535; source fit 179                          -> 2,374 (40 jobs)
#   thornton  20 x 5 + 10 x 5 = 150 x 17 = 2,550; lowrank 170; full-rank 540; source 60
#                                                                          -> 3,320 (170 jobs)
#   right     10 x 5 = 50 x 17 = 850; repeats of NUTS and pyro_meanfield on 5 seeds 10 x 17
#                                                                          -> 1,020 (60 jobs)
#   forensics 9 runs                                                       -> 1,144 (9 jobs)
#   total 11,968 job-s (499 jobs) / 2 slots = 100 min; + 10% for idle slots at each sweep's
#   end and the reports = 110 min <= 120. The TV16 scale case (experiment=evidence_scale, ~500
#   job-s) left the default: the paper world now shows the cost at the paper's own size. If a
#   clean run measures more (the CLI prints each study's jobs done, elapsed and remaining;
#   benchmarks/study_cost.py the job-s per cell), cut first the right world's repeats, then
#   full-rank (the dearest per job), then the subsets to 5 seeds.
#   Measured: a clean `make findings` at 9078f28 (one call, nothing else on the machine) took
#   99.6 min of wall time: null 34.4 (estimate 34), paper 18.5 (20), thornton 35.5 (28: its
#   low-rank and full-rank ran 17.6-21k and 44-46k steps, more than the quarter twin's), right
#   8.0 (8.5), forensics 3.2 (9.5; 9 runs of ~33 s).
#
# The paper-right world: the paper's table x 0.3 and two planted clusters as before, at true
# sigma_worker 0.06 (not 0.25, where sigma_worker_small, "sigma_worker < 0.1", was false in
# every seed): the claim's truth is its statement at the generating sigma_worker (claims/
# scale_kinds.py), so it is true in every seed; and NUTS cannot decide it from 40 worksites
# x 4,000 workers, so it is contestable through "NUTS undecided in some seed": measured at
# 0.06, P 0.54, 0.37, 0.27 on seeds 0-2 (ppl-compare experiment=evidence_right
# backend=pymc_nuts repeat=0 data.seed=0,1,2 evaluation.reference=null).
STUDIES: tuple[Study, ...] = (
    Study("null", "Paper wrong: near-null worksite effects, no clusters", "evidence_null",
          subset_sweeps(), seeds=30,
          world="β_site is redrawn per seed ~ Normal(0, 0.1), true σ_worker 0.12 (just above "
          "the ledger's 0.1), no clusters, on a quarter-sized twin (40 worksites, 4,000 "
          "workers): the paper's claims are false or near-null and most are left open by "
          "NUTS. Repeats and the richer methods (low-rank, full-rank) on the first 10 seeds."),
    Study("paper", "The paper's design at the paper's scale: worlds from the twin's posterior",
          "evidence_paper",
          (Sweep(("pymc_nuts", "pyro_meanfield", "pymc_dadvi_lr")), FLOORS_ON_5), seeds=10,
          world="The calibrated twin at the paper's scale (120 worksites, 16,553 workers, "
          "oracle AUC ≈ 0.77) is the real data; each seed draws one parameter set from its "
          "NUTS posterior and new outcomes on its design. NUTS, pyro_meanfield and DADVI-LR "
          "on every seed; the repeats of NUTS and pyro_meanfield on the first 5."),
    Study("thornton", "Thornton's HIV experiment: worlds from its posterior", "evidence_world",
          subset_sweeps(), seeds=20,
          world="causaldata/thornton_hiv (Thornton 2008, 2,825 people in 119 villages): each "
          "seed draws one parameter set from the NUTS posterior of the real data and "
          "simulates who collects their result on the real design. Repeats and the richer "
          "methods on the first 10 seeds."),
    Study("right", "Paper right: the paper's worksite effects, two planted clusters",
          "evidence_right", (Sweep(HEADLINE), FLOORS_ON_5),
          world="β_site is the paper's table × 0.3 and two worksite clusters are planted, true "
          "σ_worker 0.06, on the quarter-sized twin: the paper's conclusions hold where its own "
          "table says so. Repeats of NUTS and pyro_meanfield on the first 5 seeds."),
    Study("forensics", "Paper forensics: the printed σ_worker 0.0063 and σ_site 2.141",
          "paper_forensics", (Sweep(("pyro_meanfield", "pyro_clipped", "pyro_typeii")),),
          overrides=("data.sigma_worker=0.006294", "backend.init_sigma=0.01,0.1,1.0"),
          replicated=False,
          world="The paper-sized twin (centred model, as the paper's) at true σ_worker 0.006294, "
          "the printed number at face value, one seed: Pyro mean-field with Adam, with the "
          "paper's ClippedAdam and with point-estimated scales, each with the guide of both "
          "scales started at 0.01, 0.1 and 1 (9 runs); which reading of the fit matches both "
          "printed scales."),
    # Not in the default: the old paper-wrong world and the TV16 scale case (the findings of
    # earlier versions; --only wrong, --only scale), and a reviewer's own data ("on data like
    # mine, how often does mean-field mislead?"): --only yours with the data's overrides
    # (docs/user-guide.md).
    Study("wrong", "Paper wrong (earlier findings): worksite effects around zero", "evidence",
          subset_sweeps(richer=("pyro_fullrank",)), ("data.sigma_site=1.0", "data.n_clusters=0"),
          default=False,
          world="β_site is redrawn per seed ~ Normal(0, 1) × 0.3 and no clusters are planted, "
          "true σ_worker 0.25: each sign claim is false in about half the seeds, every "
          "cluster claim is false."),
    Study("scale", "Scale: TV16, 2.6× the paper's units", "evidence_scale",
          (Sweep(("pymc_nuts", "pyro_meanfield", "pymc_meanfield", "pymc_dadvi_lr")),),
          replicated=False, default=False,
          world="stevedata/TV16 (CCES 2016): 43,009 respondents with a vote in 51 states "
          "(2.6× the paper's 16,553 workers), one split; what a fit costs at this size."),
    Study("yours", "Your data: worlds drawn from its posterior", "evidence_world",
          subset_sweeps(), overrides=("data=posterior_world",), seeds=20, default=False,
          world="Your data (data=posterior_world: your tables and ledger) as the real data: "
          "each seed draws one parameter set from the NUTS posterior of your data and new "
          "outcomes on your design. Repeats and the richer methods on the first 10 seeds."),
)  # fmt: skip


def seed_overrides(study: Study, n_seeds: int | None = None, at_most: int | None = None
                   ) -> tuple[str, ...]:  # fmt: skip
    """``data.seed=range(0,N)`` of a replicated study: N is ``n_seeds`` (``--seeds``), else
    the study's own, and at most ``at_most`` (a sweep on a subset); nothing for a study that
    is not replicated."""
    if not study.replicated:
        return ()
    n = study.seeds if n_seeds is None else int(n_seeds)
    if n < MIN_SEEDS:
        raise ValueError(f"--seeds {n}: a replicated study needs at least {MIN_SEEDS}")
    if n > MAX_SEEDS:
        raise ValueError(f"--seeds {n}: at most {MAX_SEEDS} (a seed is about 13 fits; "
                         f"{MAX_SEEDS} seeds are weeks on 2 cores)")  # fmt: skip
    return (f"data.seed=range(0,{n if at_most is None else min(n, at_most)})",)


def sweep_overrides(sweep: Sweep) -> tuple[str, ...]:
    """A sweep's methods and repeats as overrides (they replace the experiment's own)."""
    return (f"backend={','.join(sweep.methods)}",
            f"repeat={','.join(str(r) for r in sweep.repeats)}")  # fmt: skip


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
    """The ``ppl-compare`` command lines of ``study``, one per sweep (the main one first): its
    experiment, the study's overrides, the sweep's methods, repeats and seeds
    (:func:`seed_overrides`), then ``overrides`` (so a user's override wins)."""
    app = [sys.executable, "-m", "evaluation.app"]
    base = [f"experiment={study.experiment}", f"hydra.sweep.dir={sweep_dir}", *study.overrides]
    out = []  # run dirs are named by backend, seed and repeat (the experiment's subdir)
    for sweep in study.sweeps or (None,):
        own = () if sweep is None else sweep_overrides(sweep)
        seeds = seed_overrides(study, n_seeds, None if sweep is None else sweep.seeds)
        out.append([*app, *base, *own, *seeds, *overrides])
    for cmd in out[:-1]:  # one sweep report, by the last command, covers every run of the dir
        cmd.append("hydra.callbacks.sweep_report.enabled=false")
    return out


def planned_jobs(cmd: Sequence[str]) -> int:
    """How many jobs the multirun ``cmd`` (a :func:`commands` line) launches, as Hydra's basic
    sweeper counts them: the experiment's sweeper params, then the line's overrides (the last
    value of a key wins), the product of the swept values."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    line = [a for a in cmd[3:] if "=" in a and not runs.is_hydra(a)]
    own = [f"{k}={v}" for k, v in sweep_params(cmd[3:]).items()]
    parsed = OverridesParser.create().parse_overrides([*own, *line])
    return len(BasicSweeper.split_arguments(parsed, None)[0])


def run_study(
    study: Study, sweep_dir: Path, overrides: Sequence[str] = (), n_seeds: int | None = None
) -> StudyRun:
    """Run every command of ``study`` into ``sweep_dir``; a failing job does not stop it.

    Its progress (jobs done of planned, elapsed, time left: :class:`~evaluation.study.
    progress.Progress`) is logged before, every :data:`~evaluation.study.progress.EVERY_S`
    seconds while a command runs and after each command.  Each command runs in its own
    process group (:func:`~evaluation.study.processes.
    run_command`); when the CLI is stopped (SIGINT, SIGTERM) the running command's group is
    stopped and the StudyRun says so (``stopped``: the signal; its wall time counts).
    """
    sweep_dir.mkdir(parents=True, exist_ok=True)
    start, codes = time.perf_counter(), []
    cmds = commands(study, sweep_dir, overrides, n_seeds)
    progress = Progress(study.key, sweep_dir, sum(planned_jobs(c) for c in cmds))
    log.info("%s", progress.line())
    for cmd in cmds:
        log.info("running: %s", " ".join(cmd[2:]))
        try:
            codes.append(run_command(cmd, lambda: log.info("%s", progress.line()), EVERY_S))
            log.info("%s", progress.line())
        except Interrupted as exc:
            codes.append(128 + exc.signum)
            return StudyRun(study, sweep_dir, time.perf_counter() - start, codes, exc.signum)
    return StudyRun(study, sweep_dir, time.perf_counter() - start, codes)
