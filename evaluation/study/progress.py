"""A study's progress while it runs: which study, jobs done of the planned jobs, the elapsed
time and an estimate of the time left, as one line (printed by ``ppl-compare-findings`` every
:data:`EVERY_S` seconds and at the end of each of the study's commands).

Jobs done are the complete runs in the study's sweep dir (``metrics.json`` says complete,
:func:`evaluation.study.runs.complete_runs`); the planned jobs are the sum over the study's
command lines (:func:`evaluation.study.plan.planned_jobs`).  The time left is the elapsed time
per job completed by this call times the jobs still to do; a resumed study's earlier runs count
as done but not as this call's pace.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from evaluation.study import runs

#: Seconds between two progress lines while a command runs.
EVERY_S = 30.0


def clock(seconds: float) -> str:
    """``1h02m``, ``12m05s`` or ``42s``."""
    s = max(round(seconds), 0)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{sec:02d}s" if m else f"{sec}s")


class Progress:
    """The progress of one study's call.

    Parameters
    ----------
    key : str
        The study's key (its sweep dir's name).
    sweep_dir : Path
    planned : int
        The jobs the study's commands launch.
    count : callable, optional
        The jobs done now (default: the complete runs in ``sweep_dir``).
    now : callable, optional
        A monotonic clock in seconds (default :func:`time.monotonic`).
    """

    def __init__(
        self,
        key: str,
        sweep_dir: Path,
        planned: int,
        count: Callable[[], int] | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.key, self.planned, self.now = key, int(planned), now
        self.count = count or (lambda: len(runs.complete_runs(sweep_dir)))
        self.start = now()
        self.before = min(self.count(), self.planned)

    def line(self) -> str:
        """``findings: study null: 37/220 jobs done (5 before this call), 12m30s elapsed,
        about 1h02m left``."""
        done = min(self.count(), self.planned)
        elapsed = self.now() - self.start
        new = done - self.before
        if done >= self.planned:
            left = "none left"
        elif new > 0:
            left = f"about {clock(elapsed / new * (self.planned - done))} left"
        else:
            left = "time left unknown until a job ends"
        earlier = f" ({self.before} before this call)" if self.before else ""
        return (f"findings: study {self.key}: {done}/{self.planned} jobs done{earlier}, "
                f"{clock(elapsed)} elapsed, {left}")  # fmt: skip


__all__ = ["EVERY_S", "Progress", "clock"]
