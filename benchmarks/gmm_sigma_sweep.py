"""The paper's Fig. 6 sweep: the Gibbs GMM's log joint over 400 iterations per sigma.

The paper (K = 2, alpha0 = 1, eta = 0.1, 400 iterations) tried sigma = 0.01, 0.001, 0.0001,
0.00001 on its posterior-mean worksite coefficients and kept 0.0001.  This replays the sweep on
a posterior-mean-like matrix: by default the TRUE ``beta_worker`` of the paper twin at the
paper's scale (sigma_worker 0.006294, two planted clusters), or the posterior mean of
``beta_worker`` in a run's ``posterior.nc``::

    python benchmarks/gmm_sigma_sweep.py /tmp/fig6.png
    python benchmarks/gmm_sigma_sweep.py /tmp/fig6.png --sigma-is variance
    python benchmarks/gmm_sigma_sweep.py /tmp/fig6.png --posterior outputs/<run>/posterior.nc

Prints per sigma: the final log joint, the iteration from which the curve stayed on its plateau
(``evaluation.clustering.sigma_sweep.convergence_iter``), the plateau's sd, the cluster sizes
and, on the twin, the ARI against the planted clusters; writes the figure to the given path.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.clustering.coefficients import coefficients
from evaluation.clustering.sigma_sweep import PAPER_SIGMAS, sigma_sweep
from evaluation.clustering.stability import ari
from evaluation.data.twin import make_paper_twin
from evaluation.io import save_figure
from evaluation.report.run import cluster_figures as figures


def _matrix(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray | None, str]:
    """(coefficient matrix, planted labels or None, description)."""
    if args.posterior is not None:
        import xarray as xr

        with xr.open_dataset(args.posterior) as post:
            coef = coefficients(post.load())
        return coef.mean, None, f"posterior mean of beta_worker in {args.posterior}"
    data = make_paper_twin(
        sigma_worker=args.sigma_worker, n_clusters=2,
        cluster_separation=args.cluster_separation, seed=args.seed,
    )  # fmt: skip
    what = (f"true beta_worker of the paper twin (sigma_worker {args.sigma_worker}, 2 planted "
            f"clusters, separation {args.cluster_separation}, seed {args.seed})")  # fmt: skip
    return np.asarray(data.truth["beta_worker"]), data.cluster_labels, what


def main(argv: list[str] | None = None) -> int:
    """Run the sweep, print one line per sigma, write the figure."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("figure", type=Path, help="where the PNG goes")
    p.add_argument("--sigmas", type=float, nargs="+", default=list(PAPER_SIGMAS))
    p.add_argument("--sigma-is", choices=("sd", "variance"), default="sd")
    p.add_argument("--posterior", type=Path, default=None, help="a run's posterior.nc")
    p.add_argument("--sigma-worker", type=float, default=0.006294)
    p.add_argument("--cluster-separation", type=float, default=4.0)
    p.add_argument("--n-iter", type=int, default=400)
    p.add_argument("--standardize", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    x, planted, what = _matrix(args)
    sweep = sigma_sweep(x, args.sigmas, n_iter=args.n_iter, seed=args.seed,
                        sigma_is=args.sigma_is, standardize=args.standardize)  # fmt: skip
    print(f"input: {what}; {x.shape[0]} x {x.shape[1]}, coefficient sd {x.std():.3g}")
    print(f"K=2 alpha0=1 eta=0.1 {args.n_iter} iterations; sigma read as {args.sigma_is}")
    print(f"{'sigma':>10} {'final log joint':>16} {'settled at':>10} {'plateau sd':>10} "
          f"{'sizes':>10} {'ARI planted':>11}")  # fmt: skip
    for i, sigma in enumerate(sweep.sigmas):
        sizes = np.bincount(sweep.labels[i], minlength=2).tolist()
        score = "-" if planted is None else f"{ari(sweep.labels[i], planted):.2f}"
        print(f"{sigma:>10g} {sweep.final[i]:>16.6g} {sweep.converged_iter[i] + 1:>10d} "
              f"{sweep.plateau_sd[i]:>10.3g} {sizes!s:>10} {score:>11}")  # fmt: skip
    path = save_figure(figures.sigma_sweep_figure(sweep), args.figure)
    print(f"figure: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
