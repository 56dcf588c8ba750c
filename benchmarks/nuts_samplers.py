"""Side-by-side NUTS samplers for the PyMC model on the paper-scale twin (prints numbers).

Paths, one after the other on the same data, seed and chain settings:

* ``default``: :class:`backends.pymc.PyMCNUTS` with its class defaults (what
  ``ppl-compare backend=pymc_nuts`` runs: nutpie, low-rank-modified mass matrix);
* ``nutpie_raw_lowrank``: nutpie itself, outside the backend (``compile_pymc_model`` with
  nutpie's defaults on the same PyMC model, ``nutpie.sample`` with the low-rank mass matrix and
  no progress bar): the floor the default must reach;
* ``nutpie_lowrank`` / ``nutpie_diag``: the backend with the low-rank / nutpie's diagonal mass
  matrix, progress bar off; ``pymc``: PyMC's own NUTS::

    python benchmarks/nuts_samplers.py                          # 4 x (1000 + 1000)
    python benchmarks/nuts_samplers.py --tune 400 --draws 400   # quicker
    python benchmarks/nuts_samplers.py --paths default nutpie_raw_lowrank --repeat 2

Given the seed, ``default`` and ``nutpie_raw_lowrank`` run the same chains (the same
gradients and ESS): their ratio is the backend's own cost; each ``--repeat`` round starts one
path later, so a drift of the machine's load falls on every path.  Columns: compile and
sampling wall time (s), CPU seconds of the sampler call (every thread), gradient evaluations
(leapfrog steps, warm-up + draws), min bulk ESS over every element of every parameter (the run
diagnostics'), min ESS per second of sampling wall time (warm-up + draws, compilation
excluded), per CPU second and per 1,000 gradients, ``sigma_worker``'s ESS per second, leapfrog
steps per kept draw, divergences, max R-hat.  Last, each path's min ESS/s and min ESS per CPU
second relative to ``nutpie_raw_lowrank`` (the issue-31 target: ``default`` >= 1.0x).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PATHS: dict[str, dict[str, Any] | None] = {
    "default": {},
    "nutpie_raw_lowrank": None,  # nutpie itself: see raw_nutpie
    "nutpie_lowrank": {"nutpie": {"low_rank_modified_mass_matrix": True}, "progress": False},
    "nutpie_diag": {"nutpie": {"low_rank_modified_mass_matrix": False}, "progress": False},
    "pymc": {"sampler": "pymc", "progress": False},
}


class Row(NamedTuple):
    """One sampler path's measurements."""

    path: str
    compile_s: float
    sampling_s: float
    cpu_s: float
    n_grad: int
    leapfrog_per_draw: float
    min_ess_bulk: float
    sigma_worker_ess: float
    max_rhat: float
    n_divergent: int

    @property
    def ess_per_s(self) -> float:
        """Min bulk ESS per second of sampling wall time."""
        return self.min_ess_bulk / self.sampling_s

    @property
    def ess_per_cpu_s(self) -> float:
        """Min bulk ESS per CPU second of the sampler."""
        return self.min_ess_bulk / self.cpu_s


def quality(idata: Any) -> tuple[float, float, float, int]:
    """Min bulk ESS over every element of every parameter (the run diagnostics' own,
    :func:`~evaluation.metrics.diagnostics.mcmc_diagnostics`), sigma_worker's bulk ESS, the
    max R-hat and the divergences."""
    import arviz as az

    from evaluation.metrics.diagnostics import mcmc_diagnostics
    from evaluation.metrics.draws import extract

    diag = mcmc_diagnostics(extract(idata))
    sigma_worker = float(az.ess(idata.posterior[["sigma_worker"]], method="bulk")["sigma_worker"])
    return diag["min_ess_bulk"], sigma_worker, diag["max_rhat"], diag["n_divergent"]


def backend_row(path: str, data: Any, args: argparse.Namespace) -> Row:
    """Fit ``data`` through :class:`~backends.pymc.PyMCNUTS` with the path's settings."""
    from backends.pymc import PyMCNUTS
    from backends.spec import ModelSpec

    backend = PyMCNUTS(model=ModelSpec(parameterization="noncentered"), chains=args.chains,
                       tune=args.tune, draws=args.draws, cores=args.cores,
                       **PATHS[path])  # fmt: skip
    fit = backend.fit(data, seed=args.seed)
    return Row(path, fit.timing["compile_s"], fit.timing["warmup_s"] + fit.timing["sampling_s"],
               fit.info["sampling_cpu_s"], fit.info["n_grad_warmup"] + fit.info["n_grad_draws"],
               fit.info["mean_n_steps"], *quality(fit.idata))  # fmt: skip


def raw_nutpie(data: Any, args: argparse.Namespace) -> Row:
    """Fit ``data`` with nutpie directly: the same PyMC model, nutpie's own defaults."""
    import arviz as az
    import nutpie

    from backends.base import cpu_seconds
    from backends.pymc.convert import posterior_arrays
    from backends.pymc.model import build_model, quiet_pytensor
    from backends.spec import ModelSpec

    spec = ModelSpec(parameterization="noncentered")
    with quiet_pytensor():
        t0 = time.perf_counter()
        compiled = nutpie.compile_pymc_model(build_model(data, spec))
        t1, cpu0 = time.perf_counter(), cpu_seconds()
        raw = nutpie.sample(compiled, draws=args.draws, tune=args.tune, chains=args.chains,
                            cores=args.cores, seed=args.seed, progress_bar=False,
                            low_rank_modified_mass_matrix=True)  # fmt: skip
        cpu, t2 = cpu_seconds() - cpu0, time.perf_counter()
    stats = raw.sample_stats
    idata = az.from_dict(posterior=posterior_arrays(raw.posterior, data, spec),
                         sample_stats={"diverging": stats["diverging"].values})  # fmt: skip
    n_grad = int(stats["n_steps"].sum()) + int(raw.warmup_sample_stats["n_steps"].sum())
    return Row("nutpie_raw_lowrank", t1 - t0, t2 - t1, cpu, n_grad,
               float(stats["n_steps"].mean()), *quality(idata))  # fmt: skip


def print_table(rows: list[Row]) -> None:
    """The measurements, then each path relative to nutpie_raw_lowrank (means over repeats)."""
    print(f"{'path':<19}{'compile':>8}{'sample_s':>9}{'cpu_s':>8}{'grads':>8}{'minESS':>7}"
          f"{'ESS/s':>7}{'ESS/cpu':>8}{'ESS/kgrad':>10}{'sigw/s':>7}{'leapfrog':>9}"
          f"{'div':>4}{'Rhat':>6}")  # fmt: skip
    for r in rows:
        print(f"{r.path:<19}{r.compile_s:>8.1f}{r.sampling_s:>9.1f}{r.cpu_s:>8.1f}"
              f"{r.n_grad:>8d}{r.min_ess_bulk:>7.0f}{r.ess_per_s:>7.2f}{r.ess_per_cpu_s:>8.2f}"
              f"{1e3 * r.min_ess_bulk / r.n_grad:>10.2f}{r.sigma_worker_ess / r.sampling_s:>7.2f}"
              f"{r.leapfrog_per_draw:>9.1f}{r.n_divergent:>4d}{r.max_rhat:>6.3f}")  # fmt: skip
    floor = [r for r in rows if r.path == "nutpie_raw_lowrank"]
    if not floor:
        return
    base_s = np.mean([r.ess_per_s for r in floor])
    base_cpu = np.mean([r.ess_per_cpu_s for r in floor])
    for path in dict.fromkeys(r.path for r in rows):
        mine = [r for r in rows if r.path == path]
        print(f"{path:<19} min ESS/s {np.mean([r.ess_per_s for r in mine]) / base_s:.2f}x, "
              f"min ESS per CPU s {np.mean([r.ess_per_cpu_s for r in mine]) / base_cpu:.2f}x "
              f"nutpie_raw_lowrank's")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run each path in turn (``--repeat`` rounds), print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--cores", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-worksites", type=int, default=120)
    parser.add_argument("--n-workers", type=int, default=16553)
    parser.add_argument("--sigma-worker", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=1, help="rounds over the paths")
    parser.add_argument("--paths", nargs="+", choices=list(PATHS), default=list(PATHS))
    args = parser.parse_args(argv)

    from evaluation.data.twin import make_paper_twin

    data = make_paper_twin(n_worksites=args.n_worksites, n_workers=args.n_workers,
                           sigma_worker=args.sigma_worker, seed=args.seed)  # fmt: skip
    print(f"data: {data.n_worksites} worksites x {data.n_workers} workers, sigma_worker "
          f"{args.sigma_worker}, non-centred; {args.chains} chains x ({args.tune} tune + "
          f"{args.draws} draws), seed {args.seed}", flush=True)  # fmt: skip
    rows = []
    for r in range(args.repeat):  # each round starts one path later: load drift hits them all
        for path in args.paths[r % len(args.paths) :] + args.paths[: r % len(args.paths)]:
            row = raw_nutpie(data, args) if PATHS[path] is None else backend_row(path, data, args)
            rows.append(row)
            print(f"done {row}", flush=True)
    print_table(rows)


if __name__ == "__main__":
    main()
