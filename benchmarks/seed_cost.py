"""What one study seed costs, for one or more checkouts in the same run (prints numbers).

A study seed is what ``make findings`` runs per data seed of one world: the evidence multirun
(every method twice, ``repeat=0,1``) and full-rank once (``conf/experiment/evidence.yaml``,
``evaluation/study/plan.py``). For each data seed, each checkout runs that seed in turn
(checkouts interleaved, so a drift of the machine's load falls on both), each in its own
runs dir, with the study's launcher (2 jobs at a time)::

    git worktree add /tmp/before <commit>
    python benchmarks/seed_cost.py --checkouts /tmp/before . --seeds 0 1 2 --out /tmp/seedcost

Printed per checkout and seed: wall seconds and CPU seconds of the two commands (every
process they started and waited for: ``os.wait4``), the sum of the jobs' seconds
(``timing.total_s``); then per checkout the mean per seed, and the ratio of each checkout's
CPU seconds to the first's. ``python benchmarks/study_cost.py <out>/<checkout>/sweep`` splits a
checkout's runs by method and part.  Each checkout runs with its own code first on
``PYTHONPATH`` and this interpreter (one venv serves both).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

#: The two commands of one study seed (the world of ``experiment=evidence``: paper right).
COMMANDS: tuple[tuple[str, ...], ...] = (
    ("experiment=evidence",),
    ("experiment=evidence", "backend=pyro_fullrank", "repeat=0"),
)


def run(checkout: Path, args: list[str], root: Path) -> tuple[float, float, int]:
    """Run ``ppl-compare -m args`` of ``checkout`` in ``root``: (wall s, CPU s, return code)."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "PPL_COMPARE_ROOT": str(root)}
    cmd = [sys.executable, "-c", "from evaluation.app import main; main()", "-m", *args]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    return wall, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status)


def jobs_seconds(sweep: Path, seed: int) -> tuple[int, float]:
    """Complete runs of data seed ``seed`` under ``sweep`` and their summed ``timing.total_s``."""
    n, total = 0, 0.0
    for path in sweep.glob(f"*_s{seed}_r*/metrics.json"):
        metrics = json.loads(path.read_text())
        if metrics.get("status") == "complete":
            n, total = n + 1, total + float(metrics["timing"]["total_s"])
    return n, total


def main(argv: list[str] | None = None) -> int:
    """Run the study seeds of every checkout and print their costs."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkouts", type=Path, nargs="+", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    rows: dict[int, list[tuple[float, float, float]]] = {i: [] for i in range(len(args.checkouts))}
    print(f"{'checkout':40s} {'seed':>4s} {'wall s':>8s} {'CPU s':>8s} {'jobs':>5s} {'job s':>8s}")
    for seed in args.seeds:
        for i, checkout in enumerate(args.checkouts):
            root = (args.out / f"{i}_{checkout.resolve().name}").resolve()
            sweep = root / "sweep"
            root.mkdir(parents=True, exist_ok=True)
            wall = cpu = 0.0
            for extra in COMMANDS:
                argv = [*extra, f"data.seed={seed}", f"hydra.sweep.dir={sweep}"]
                w, c, code = run(checkout.resolve(), argv, root)
                wall, cpu = wall + w, cpu + c
                if code != 0:
                    print(f"  {checkout} seed {seed}: {' '.join(extra)} exited {code}")
            n, job_s = jobs_seconds(sweep, seed)
            rows[i].append((wall, cpu, job_s))
            print(f"{str(checkout)[:40]:40s} {seed:4d} {wall:8.0f} {cpu:8.0f} {n:5d} {job_s:8.0f}",
                  flush=True)  # fmt: skip
    print("\nmean per seed (and CPU relative to the first checkout):")
    first_cpu = sum(r[1] for r in rows[0]) / len(rows[0])
    for i, checkout in enumerate(args.checkouts):
        wall, cpu, job_s = (sum(r[k] for r in rows[i]) / len(rows[i]) for k in range(3))
        print(f"{str(checkout)[:40]:40s} wall {wall:6.0f} s  CPU {cpu:6.0f} s  job {job_s:6.0f} s"
              f"  CPU x{cpu / first_cpu:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
