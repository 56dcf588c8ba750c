"""Side-by-side NUTS samplers for the PyMC model on the paper-scale twin (prints numbers).

Paths: PyMC's own NUTS (``pymc``), nutpie with its default diagonal mass matrix
(``nutpie_diag``) and nutpie with the low-rank-modified mass matrix (``nutpie_lowrank``, the
``pymc_nuts`` default).  Every path runs through :class:`backends.pymc.PyMCNUTS` on the same
data, seed and chain settings, one after the other (timings need an otherwise idle machine)::

    python benchmarks/nuts_samplers.py                          # 4 x (1000 + 1000)
    python benchmarks/nuts_samplers.py --tune 400 --draws 400   # quicker
    python benchmarks/nuts_samplers.py --paths nutpie_lowrank pymc

Columns: compile and sampling wall time (s), min bulk ESS over every canonical scalar,
min bulk ESS per second of sampling wall time (warm-up + draws, compilation excluded), the
same for ``sigma_worker`` alone, mean leapfrog steps per kept draw, divergences, max R-hat.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PATHS: dict[str, dict[str, Any]] = {
    "pymc": {"sampler": "pymc"},
    "nutpie_diag": {"sampler": "nutpie", "nutpie": {"low_rank_modified_mass_matrix": False}},
    "nutpie_lowrank": {"sampler": "nutpie", "nutpie": {"low_rank_modified_mass_matrix": True}},
}


class Row(NamedTuple):
    """One sampler path's measurements."""

    path: str
    compile_s: float
    sampling_s: float
    min_ess_bulk: float
    min_ess_per_s: float
    sigma_worker_ess_per_s: float
    leapfrog_per_draw: float
    n_divergent: int
    max_rhat: float


def measure(path: str, data: Any, args: argparse.Namespace) -> Row:
    """Fit ``data`` with one sampler path and summarise speed and quality."""
    import arviz as az

    from backends.convergence import count_divergent
    from backends.pymc import PyMCNUTS
    from backends.spec import VAR_NAMES, ModelSpec

    backend = PyMCNUTS(
        model=ModelSpec(parameterization="noncentered"),
        chains=args.chains,
        tune=args.tune,
        draws=args.draws,
        cores=args.cores,
        progress=False,
        **PATHS[path],
    )
    fit = backend.fit(data, seed=args.seed)
    summary = az.summary(fit.idata, var_names=list(VAR_NAMES), kind="diagnostics")
    sampling = fit.timing["warmup_s"] + fit.timing["sampling_s"]
    return Row(
        path=path,
        compile_s=fit.timing["compile_s"],
        sampling_s=sampling,
        min_ess_bulk=float(summary["ess_bulk"].min()),
        min_ess_per_s=float(summary["ess_bulk"].min()) / sampling,
        sigma_worker_ess_per_s=float(summary.loc["sigma_worker", "ess_bulk"]) / sampling,
        leapfrog_per_draw=fit.info["mean_n_steps"],
        n_divergent=count_divergent(fit.idata.sample_stats["diverging"]),
        max_rhat=float(summary["r_hat"].max()),
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run each path in turn, print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--cores", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-worksites", type=int, default=120)
    parser.add_argument("--n-workers", type=int, default=16553)
    parser.add_argument("--sigma-worker", type=float, default=0.5)
    parser.add_argument("--paths", nargs="+", choices=list(PATHS), default=list(PATHS))
    args = parser.parse_args(argv)

    from evaluation.data.twin import make_paper_twin

    data = make_paper_twin(
        n_worksites=args.n_worksites,
        n_workers=args.n_workers,
        sigma_worker=args.sigma_worker,
        seed=args.seed,
    )
    print(
        f"data: {data.n_worksites} worksites x {data.n_workers} workers, sigma_worker "
        f"{args.sigma_worker}, non-centred; {args.chains} chains x ({args.tune} tune + "
        f"{args.draws} draws), seed {args.seed}",
        flush=True,
    )
    header = (
        f"{'path':<15}{'compile_s':>10}{'sample_s':>10}{'minESS':>9}{'minESS/s':>10}"
        f"{'sigw ESS/s':>11}{'leapfrog':>10}{'div':>5}{'maxRhat':>9}"
    )
    rows = []
    for path in args.paths:
        rows.append(measure(path, data, args))
        r = rows[-1]
        print(f"done {path}: {r}", flush=True)
    print(header)
    for r in rows:
        print(
            f"{r.path:<15}{r.compile_s:>10.1f}{r.sampling_s:>10.1f}{r.min_ess_bulk:>9.0f}"
            f"{r.min_ess_per_s:>10.2f}{r.sigma_worker_ess_per_s:>11.2f}"
            f"{r.leapfrog_per_draw:>10.1f}{r.n_divergent:>5d}{r.max_rhat:>9.3f}"
        )


if __name__ == "__main__":
    main()
