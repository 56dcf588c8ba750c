"""CPU seconds of a run's clustering and claims judges, per number of clustered draws (prints).

    python benchmarks/clustering_cost.py outputs/<run dir>                 # the run's settings
    python benchmarks/clustering_cost.py outputs/<run dir> --n-draws 50 150 --repeats 3

Rebuilds the run's training data from its ``.hydra/config.yaml`` (the same seed and split),
reads its ``posterior.nc`` and, for each ``--n-draws``, times with ``time.process_time`` (CPU
seconds of this process, all threads; the least of ``--repeats`` after one warm-up) what the
judge does after the fit:

* ``clustering``: :func:`evaluation.clustering.pipeline.run_clustering` (the posterior mean, its
  seeds and K selection, the oracle on the true coefficients, the clustered draws and their K);
* ``claims``: :func:`evaluation.claims.section.claims_section` on those clusterings (the
  permutation tests of the separation claims are most of it).

It prints the seconds of each, the largest Monte Carlo error of a clustering claim near a
verdict threshold (P = 0.95: ``sqrt(0.95 * 0.05 / n_draws)``) and at P = 0.5, and the
probabilities of the clustering claims (so that two settings can be compared claim by claim).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import arviz as az
from omegaconf import OmegaConf

from evaluation import judge
from evaluation.api import data_from_config
from evaluation.claims.kinds import CLUSTERING_KINDS
from evaluation.claims.section import ledger_from_config
from evaluation.clustering.pipeline import run_clustering
from evaluation.config import plain
from evaluation.metrics.draws import extract


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--n-draws", type=int, nargs="*", default=None,
                        help="clustered draws to time (default: the run's setting)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3)
    return parser.parse_args(argv)


def _cpu(fn, repeats: int):
    """(least CPU seconds of ``repeats`` calls, the last result)."""
    best, out = float("inf"), None
    for _ in range(max(repeats, 1)):
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    return best, out


def main(argv: list[str] | None = None) -> None:
    args = _args(argv)
    cfg = OmegaConf.load(args.run_dir / ".hydra" / "config.yaml")
    train = data_from_config(cfg.data).train
    idata = az.from_netcdf(args.run_dir / "posterior.nc")
    posterior = extract(idata, train)  # what the judge hands to clustering and claims
    ledger = ledger_from_config(cfg.get("claims"))
    base = plain(cfg.evaluation.clustering)
    print(f"{args.run_dir}: {train.n_worksites} worksites, {posterior.n_chains} x "
          f"{posterior.n_draws} draws")  # fmt: skip
    print(f"{'n_draws':>8} {'clustering CPU s':>17} {'claims CPU s':>13} {'MC err @0.95':>13} "
          f"{'@0.5':>6}  clustering claims: P")  # fmt: skip
    run_clustering(posterior, train, {**base, "n_draws": 2})  # warm-up (imports, caches)
    for n in args.n_draws or [int(base["n_draws"])]:
        cost, clustered = _cpu(lambda n=n: run_clustering(posterior, train, {**base, "n_draws": n}),
                               args.repeats)  # fmt: skip
        claims_cost, section = _cpu(
            lambda c=clustered: judge.claims_for(ledger, train, posterior, c) if ledger else None,
            args.repeats,
        )
        rows = [c for c in (section or {}).get("claims", []) if c["kind"] in CLUSTERING_KINDS]
        probs = ", ".join(f"{c['name']} {c['probability']:.3f}" for c in rows
                          if c["probability"] is not None)  # fmt: skip
        err95, err50 = math.sqrt(0.95 * 0.05 / max(n, 1)), math.sqrt(0.25 / max(n, 1))
        print(f"{n:>8} {cost:>17.2f} {claims_cost:>13.2f} {err95:>13.3f} {err50:>6.3f}  {probs}")


if __name__ == "__main__":
    main()
