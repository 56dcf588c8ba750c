"""Pyro SVI cost per step at paper scale (120 worksites x 16,553 workers), per guide.

Every row is a real :class:`backends.pyro.PyroSVI` fit on ``make_paper_twin()`` (the paper's
sizes and defaults), same seed; rows run one after the other, so numbers are comparable only on
an otherwise idle machine (the header prints the load average; on a shared machine the CPU
ms/step column is the steadier one)::

    python benchmarks/pyro_svi.py                       # 300 steps per row, all guides, jit on/off
    python benchmarks/pyro_svi.py --steps 500 --guides meanfield
    python benchmarks/pyro_svi.py --full                # + the paper run: 18,000 steps, meanfield
    python benchmarks/pyro_svi.py --naive               # + a straightforward Pyro model for scale

Columns: guide, JIT, wall ms/step and process-CPU ms/step of the optimisation loop, JIT
compile (warm-up) seconds, seconds to draw 1,000 posterior draws with log_q and lp, and the
mean loss of the last 50 steps.  ``--naive`` adds the textbook version (row gather
``X_site[site] @ beta_site``, ``beta_worker[site]``, ``SVI`` + ``pyro.optim.ExponentialLR``
with one optimiser per parameter, plain ``Trace_ELBO``), at torch's default threads and at 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from backends.spec import ModelSpec


def fit_row(data, guide: str, jit: bool, steps: int, draws: int, spec: ModelSpec) -> str:
    """One PyroSVI fit; a formatted table row."""
    from backends.pyro import PyroSVI

    backend = PyroSVI(model=spec, name=f"pyro_{guide}", guide=guide, num_steps=steps, jit=jit,
                      num_draws=draws, progress=False)  # fmt: skip
    fit = backend.fit(data, seed=0)
    t = fit.timing
    return (f"{guide:<10} {'on' if jit else 'off':<4} {fit.info['ms_per_step']:>9.2f} "
            f"{fit.info['ms_per_step_cpu']:>9.2f} {t.get('compile_s', float('nan')):>9.2f} "
            f"{t['sampling_s']:>9.2f} {fit.loss[-50:].mean():>11.1f}")  # fmt: skip


def naive_row(data, steps: int, spec: ModelSpec, threads: int | None) -> str:
    """The straightforward Pyro version of the same model, for scale (``threads``: torch
    intra-op threads; None leaves torch's default)."""
    import pyro
    import pyro.distributions as dist
    import torch
    from pyro.infer import SVI, Trace_ELBO
    from pyro.infer.autoguide import AutoNormal

    x_site, x_worker = torch.tensor(np.array(data.X_site)), torch.tensor(np.array(data.X_worker))
    site, y = torch.tensor(np.array(data.site)), torch.tensor(np.array(data.y), dtype=torch.float)
    x_site, x_worker = x_site.float(), x_worker.float()

    def model():
        alpha = pyro.sample("alpha", dist.Normal(0.0, spec.priors.alpha_scale))
        s_site = pyro.sample("sigma_site", dist.HalfCauchy(spec.priors.sigma_site_scale))
        s_worker = pyro.sample("sigma_worker", dist.HalfCauchy(spec.priors.sigma_worker_scale))
        with pyro.plate("site_feature", x_site.shape[1]):
            beta_site = pyro.sample("beta_site", dist.Normal(0.0, s_site))
        with pyro.plate("worksite", x_site.shape[0], dim=-2):
            with pyro.plate("worker_feature", x_worker.shape[1], dim=-1):
                beta_worker = pyro.sample("beta_worker", dist.Normal(0.0, s_worker))
        eta = alpha + x_site[site] @ beta_site + (x_worker * beta_worker[site]).sum(-1)
        with pyro.plate("obs", len(y)):
            pyro.sample("y", dist.Bernoulli(logits=eta), obs=y)

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    optim = pyro.optim.ExponentialLR(
        {"optimizer": torch.optim.Adam, "optim_args": {"lr": 0.015}, "gamma": 0.9995}
    )
    svi = SVI(model, AutoNormal(model), optim, Trace_ELBO())
    svi.step()
    t0, c0 = time.perf_counter(), time.process_time()
    losses = []
    for _ in range(steps):
        losses.append(svi.step())
        optim.step()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    torch.set_num_threads(before)
    label = f"naive/{threads or before}t"
    return (f"{label:<10} {'off':<4} {1e3 * wall / steps:>9.2f} {1e3 * cpu / steps:>9.2f} "
            f"{'':>9} {'':>9} {np.mean(losses[-50:]):>11.1f}")  # fmt: skip


def full_run(data, spec: ModelSpec) -> None:
    """The paper's run: meanfield, 18,000 steps, Adam 0.015 x 0.9995 per step, 1,000 draws."""
    from backends.pyro import PyroSVI
    from evaluation.metrics.diagnostics import vi_diagnostics

    fit = PyroSVI(model=spec, progress=True).fit(data, seed=0)
    t, info = fit.timing, fit.info
    vi = vi_diagnostics(fit.idata, data, spec, fit.loss, info)
    print(f"\npaper run (pyro_meanfield, {spec.parameterization}, 18,000 steps, 1,000 draws):")
    print(f"  fit {t['fit_s']:.1f} s = compile {t['compile_s']:.2f} + optimisation "
          f"{t['optimisation_s']:.1f} + draws {t['sampling_s']:.2f} (+ setup); "
          f"{info['ms_per_step']:.2f} ms/step wall, {info['ms_per_step_cpu']:.2f} CPU")  # fmt: skip
    print(f"  converged_step {vi['converged_step']} (window {info['convergence_window']}, "
          f"rtol {info['convergence_rtol']}); final loss {vi['final_loss_mean']:.1f} "
          f"(mean of the last 1%); PSIS k-hat {vi['khat']}")  # fmt: skip
    for k in range(0, 18000, 2000):
        print(f"  steps {k:>5}-{k + 1999:>5}: mean loss {fit.loss[k : k + 2000].mean():.1f}")
    post, truth = fit.idata.posterior, data.truth
    for name in ("sigma_worker", "sigma_site"):
        print(f"  posterior mean {name} {float(post[name].mean()):.4f} "
              f"(truth {float(truth[name]):.4f})")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, build the paper twin and print one row per (guide, jit)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="optimisation steps per row")
    parser.add_argument("--draws", type=int, default=1000, help="posterior draws per row")
    parser.add_argument("--guides", nargs="+", default=["meanfield", "lowrank", "fullrank"])
    parser.add_argument(
        "--parameterization", default="centered", choices=["centered", "noncentered"]
    )
    parser.add_argument("--no-jit-off", action="store_true", help="skip the jit=False rows")
    parser.add_argument("--naive", action="store_true", help="add the straightforward model")
    parser.add_argument("--full", action="store_true", help="also the 18,000-step paper run")
    args = parser.parse_args(argv)

    from evaluation.data.twin import make_paper_twin

    spec = ModelSpec(args.parameterization)
    data = make_paper_twin()
    print(f"paper twin: {data.n_worksites} worksites x {data.n_workers} workers, "
          f"{len(data.site_features)} site / {len(data.worker_features)} worker features; "
          f"{spec.parameterization}; {args.steps} steps per row; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'guide':<10} {'jit':<4} {'ms/step':>9} {'cpu ms':>9} {'compile':>9} "
          f"{'draws s':>9} {'final loss':>11}")  # fmt: skip
    for guide in args.guides:
        for jit in (True,) if args.no_jit_off else (True, False):
            print(fit_row(data, guide, jit, args.steps, args.draws, spec), flush=True)
    if args.naive:
        for threads in (None, 1):
            print(naive_row(data, args.steps, spec, threads), flush=True)
    if args.full:
        full_run(data, spec)


if __name__ == "__main__":
    main()
