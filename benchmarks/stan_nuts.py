"""CmdStan NUTS (``stan_nuts``) on the paper-scale twin: speed and sampling quality (prints).

Data: ``make_paper_twin(sigma_worker=0.5)`` (120 worksites, 16,553 workers), non-centred::

    python benchmarks/stan_nuts.py                          # 4 x (1000 + 1000)
    python benchmarks/stan_nuts.py --tune 400 --draws 400   # quicker
    python benchmarks/stan_nuts.py --fresh-cache            # also time a cold compile

Reports: compile s (0 when the executable came from the cache; ``--fresh-cache`` compiles
into a temporary cache to time it), fit wall s (warm-up + draws, chains in parallel, compile
excluded), slowest chain's warm-up and sampling s, min bulk ESS over every scalar of the
canonical variables, that ESS per fit-wall second, ``sigma_worker``'s bulk ESS per second,
mean leapfrog steps per kept draw, divergences and max R-hat.  Run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def measure(args: argparse.Namespace) -> dict[str, float]:
    """Fit the paper twin once with the requested settings and summarise it."""
    import arviz as az
    import numpy as np

    from backends.convergence import count_divergent
    from backends.spec import VAR_NAMES, ModelSpec
    from backends.stan import StanNUTS
    from evaluation.data.twin import make_paper_twin

    data = make_paper_twin(sigma_worker=args.sigma_worker, seed=args.data_seed)
    backend = StanNUTS(
        model=ModelSpec(parameterization="noncentered"), chains=args.chains, tune=args.tune,
        draws=args.draws, target_accept=args.target_accept, parallel_chains=args.parallel,
        progress=False,
    )  # fmt: skip
    compile_s = backend.compiled.compile_s
    fit = backend.fit(data, seed=args.seed)
    wall = fit.timing["fit_s"] - fit.timing["compile_s"]
    ess = az.ess(fit.idata, var_names=list(VAR_NAMES), method="bulk")
    rhat = az.rhat(fit.idata, var_names=list(VAR_NAMES))
    min_ess = min(float(ess[v].min()) for v in VAR_NAMES)
    return {
        "compile_s": compile_s,
        "fit_wall_s": wall,
        "warmup_s": fit.timing["warmup_s"],
        "sampling_s": fit.timing["sampling_s"],
        "min_ess_bulk": min_ess,
        "min_ess_per_s": min_ess / wall,
        "sigma_worker_ess_per_s": float(ess["sigma_worker"]) / wall,
        "leapfrog_per_draw": float(np.mean(fit.idata.sample_stats["n_steps"])),
        "n_divergent": count_divergent(fit.idata.sample_stats["diverging"]),
        "max_rhat": max(float(rhat[v].max()) for v in VAR_NAMES),
        "step_size": float(np.mean(fit.idata.sample_stats["step_size"])),
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--target-accept", type=float, default=0.8)
    parser.add_argument("--parallel", type=int, default=None, help="chains run at once")
    parser.add_argument("--sigma-worker", type=float, default=0.5)
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--fresh-cache",
        action="store_true",
        help="compile into a temporary cache (times a cold compile)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="stan-bench-cache-") as tmp:
        if args.fresh_cache:
            os.environ["PPL_COMPARE_STAN_CACHE"] = tmp
        row = measure(args)
    print(f"stan_nuts, paper twin (sigma_worker={args.sigma_worker}), non-centred, "
          f"{args.chains} x ({args.tune} + {args.draws})")  # fmt: skip
    for key, value in row.items():
        print(f"  {key:<24} {value:.4g}" if isinstance(value, float) else f"  {key:<24} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
