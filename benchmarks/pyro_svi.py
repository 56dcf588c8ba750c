"""Pyro SVI cost per step: the mean-field step against a NumPy log-joint gradient on the study's
quarter twin and at paper scale, and per guide at paper scale.

The default run prints, in one run, the overhead table: for the study's data (the train rows of
``conf/experiment/evidence.yaml``'s quarter twin, 40 worksites x 4,000 workers) and the paper
twin (120 x 16,553), the CPU milliseconds of one NumPy evaluation of the log joint and its
gradient (:class:`NumpyLogJoint`, the arithmetic floor of a step), and of one mean-field step
(real :class:`backends.pyro.PyroSVI` fits, ``info["ms_per_step_cpu"]``): as configured
(float32, 1 torch thread, 1 particle), with 2 and 4 particles, in float64, on 2 torch threads,
and several fits in one vectorised loop (``fit_replicates``; the cost per fit): 2 and 4
repeats of one data set, 4 data seeds of the design, and 4 data seeds x 2 repeats.  Each row
is fitted ``--repeats`` times, round-robin, and the table shows the minimum and the median
(the minimum is the steadier figure on a shared machine)::

    python benchmarks/pyro_svi.py                          # the overhead table (~6 min)
    python benchmarks/pyro_svi.py --steps 2000 --repeats 5
    python benchmarks/pyro_svi.py --no-overhead --guides meanfield lowrank fullrank flow
    python benchmarks/pyro_svi.py --no-overhead --guides fullrank --pyro-guides --dtype float64
    python benchmarks/pyro_svi.py --no-overhead --full     # + the paper run, 18,000 steps
    python benchmarks/pyro_svi.py --no-overhead --naive    # + a straightforward Pyro model

Per-guide table (``--guides``: every row a real fit on ``make_paper_twin()``, same seed, built
from the guide's own backend config ``conf/backend/pyro_<guide>.yaml``, ``--steps`` steps):
guide, JIT, dtype, wall ms/step and process-CPU ms/step of the optimisation loop, the
target ms/step (:data:`TARGET_MS`, issue 20: full-rank <= 5, flow <= 30; "ok" when the CPU
figure meets it), JIT compile (warm-up) seconds, seconds to draw 1,000 posterior draws with
log_q and lp, and the mean loss of the last 50 steps.  ``--pyro-guides`` adds rows for Pyro's
``AutoMultivariateNormal`` and ``AutoIAFNormal`` (what ``backends/pyro/guides.py`` replaces:
the same family and loss) under the same settings.  ``--naive`` adds the textbook version (row
gather ``X_site[site] @ beta_site``, ``beta_worker[site]``, ``SVI`` + ``pyro.optim.ExponentialLR``
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

#: Performance targets in ms per step at paper scale (issue 20 item 6), by guide.
TARGET_MS: dict[str, float] = {"fullrank": 5.0, "flow": 30.0}
#: Pyro's own guides that backends/pyro/guides.py replaces (``--pyro-guides`` rows).
PYRO_GUIDES: dict[str, str] = {"fullrank": "AutoMultivariateNormal", "flow": "AutoIAFNormal"}


#: Pyro rows of the overhead table: label -> (PyroSVI settings, fits in one loop, data sets
#: they are spread over: data seeds 0, 1, ... of the design, each fitted by as many seeds).
OVERHEAD_ROWS: dict[str, tuple[dict, int, int]] = {
    "mean-field": ({}, 1, 1),
    "2 particles": ({"num_particles": 2}, 1, 1),
    "4 particles": ({"num_particles": 4}, 1, 1),
    "float64": ({"dtype": "float64"}, 1, 1),
    "2 threads": ({"num_threads": 2}, 1, 1),
    "2 repeats": ({}, 2, 1),
    "4 repeats": ({}, 4, 1),
    "4 data seeds": ({}, 4, 4),
    "4 seeds x 2 rep": ({}, 8, 4),
}


# ----------------------------------------------------------------------------------------------
# The NumPy log joint and its gradient: the arithmetic floor of a step
# ----------------------------------------------------------------------------------------------
class NumpyLogJoint:
    """``backends.spec.log_joint`` of one data set and its gradient, in NumPy.

    The rows are sorted by worksite once (with a column of ones appended to ``X_worker``), so
    the gradient's sums by worksite are one ``np.add.reduceat``, and the logits one row gather.

    Parameters
    ----------
    data : HierData
    spec : ModelSpec
    """

    def __init__(self, data, spec: ModelSpec) -> None:
        order = np.argsort(data.site, kind="stable")
        self.spec, self.X_site, self.n_sites = spec, data.X_site, data.n_worksites
        self.site, self.y = data.site[order], data.y[order].astype(float)
        self.x1 = np.column_stack([data.X_worker[order], np.ones(data.n_workers)])
        self.starts = np.flatnonzero(np.r_[True, np.diff(self.site) != 0])
        self.present = self.site[self.starts]  # the worksites with rows

    def __call__(self, params: dict) -> tuple[float, dict[str, np.ndarray]]:
        """The log joint at ``params`` and its gradient.

        Parameters
        ----------
        params : dict
            ``alpha``, ``sigma_site``, ``sigma_worker``, ``beta_site`` and ``z_worker``
            (non-centred) or ``beta_worker`` (centred), unbatched.

        Returns
        -------
        value : float
        grad : dict
            The gradient with respect to each of ``params``' latents (constrained space).
        """
        from scipy.special import expit

        from backends.spec import log_prior

        p, centred = self.spec.priors, self.spec.parameterization == "centered"
        a, ss, sw = (float(params[k]) for k in ("alpha", "sigma_site", "sigma_worker"))
        bs = np.asarray(params["beta_site"], dtype=float)
        z = np.asarray(params["beta_worker" if centred else "z_worker"], dtype=float)
        bw = z if centred else sw * z
        coef = np.column_stack([bw, self.X_site @ bs])  # (J, K_w + 1): worker | site part
        eta = a + np.einsum("nk,nk->n", coef[self.site], self.x1)
        resid = self.y - expit(eta)
        sums = np.zeros_like(coef)  # sum by worksite of resid * [X_worker | 1]
        sums[self.present] = np.add.reduceat(resid[:, None] * self.x1, self.starts)
        g_bw, by_site = sums[:, :-1], sums[:, -1]
        loglik = float((self.y * eta).sum() - np.logaddexp(0.0, eta).sum())  # no BLAS threads
        value = float(log_prior({**params, "beta_worker": bw}, self.spec)) + loglik
        grad = {
            "alpha": resid.sum() - a / p.alpha_scale**2,
            "sigma_site": ((bs**2).sum() / ss**2 - bs.size) / ss
            + _dlog_halfcauchy(ss, p.sigma_site_scale),
            "sigma_worker": _dlog_halfcauchy(sw, p.sigma_worker_scale),
            "beta_site": self.X_site.T @ by_site - bs / ss**2,
        }
        if centred:
            grad["sigma_worker"] += -z.size / sw + (z**2).sum() / sw**3
            grad["beta_worker"] = g_bw - z / sw**2
        else:
            grad["sigma_worker"] += (z * g_bw).sum()
            grad["z_worker"] = sw * g_bw - z
        return value, grad


def _dlog_halfcauchy(x: float, scale: float) -> float:
    """d/dx of the HalfCauchy(scale) log density."""
    return -2 * x / (scale**2 + x**2)


def numpy_ms(data, spec: ModelSpec, repeats: int, calls: int = 500) -> list[float]:
    """CPU milliseconds per :class:`NumpyLogJoint` call at a random point, ``repeats`` times."""
    from backends.spec import random_params

    own = "beta_worker" if spec.parameterization == "centered" else "z_worker"
    point = random_params(data, np.random.default_rng(0))
    point = {k: point[k] for k in ("alpha", "sigma_site", "sigma_worker", "beta_site", own)}
    log_joint = NumpyLogJoint(data, spec)
    out = []
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(calls):
            log_joint(point)
        out.append(1e3 * (time.process_time() - t0) / calls)
    return out


def designs(n: int) -> dict[str, list]:
    """``n`` data sets per scale, data seeds 0, 1, ...: the study's quarter twin (the train
    rows of ``conf/experiment/evidence.yaml``'s data) and the paper twin (every row)."""
    from evaluation import api
    from evaluation.config import plain
    from evaluation.config.compose import compose_choice
    from evaluation.data.twin import make_paper_twin

    quarter = plain(compose_choice("experiment", "evidence").data)
    return {
        "quarter": [api.data_from_config({**quarter, "seed": k}).train for k in range(n)],
        "paper": [make_paper_twin(seed=k) for k in range(n)],
    }


def overhead_table(args: argparse.Namespace, spec: ModelSpec) -> None:
    """The mean-field step against the NumPy gradient, quarter twin and paper scale."""
    from backends.pyro import PyroSVI

    print(f"{'data':<8} {'workers':>7} {'path':<16} {'cpu ms min':>10} {'median':>8} "
          f"{'x numpy':>8}   ({args.steps} steps per fit, {args.repeats} repeats, CPU ms "
          "per step per fit)")  # fmt: skip
    for scale, datas in designs(max(sets for *_, sets in OVERHEAD_ROWS.values())).items():
        n_workers, floor = datas[0].n_workers, min(numpy_ms(datas[0], spec, args.repeats))
        print(f"{scale:<8} {n_workers:>7} {'numpy grad':<16} {floor:>10.3f}", flush=True)
        cpu: dict[str, list[float]] = {row: [] for row in OVERHEAD_ROWS}
        for _ in range(args.repeats):  # round-robin: each row sees the same load
            for row, (settings, fits_per_loop, sets) in OVERHEAD_ROWS.items():
                backend = PyroSVI(model=spec, num_steps=args.steps, num_draws=10, progress=False,
                                  **settings)  # fmt: skip
                spread = [datas[i * sets // fits_per_loop] for i in range(fits_per_loop)]
                fits = backend.fit_replicates(spread if sets > 1 else datas[0],
                                              list(range(fits_per_loop)))  # fmt: skip
                cpu[row].append(fits[0].info["ms_per_step_cpu"])
        for row, values in cpu.items():
            print(f"{scale:<8} {n_workers:>7} {row:<16} {min(values):>10.3f} "
                  f"{np.median(values):>8.3f} {min(values) / floor:>8.2f}", flush=True)  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Per guide, at paper scale
# ----------------------------------------------------------------------------------------------
def _backend(guide: str, steps: int, draws: int, spec: ModelSpec, jit: bool | None,
             dtype: str | None = None):  # fmt: skip
    """The guide's backend as configured (conf/backend/pyro_<guide>.yaml), shortened
    (``dtype``: instead of the configured one)."""
    from hydra.utils import instantiate

    from evaluation.config import compose_backend

    cfg = compose_backend(f"pyro_{guide}")
    overrides = {"num_steps": steps, "num_draws": draws, "progress": False}
    if jit is not None:
        overrides["jit"] = jit
    if dtype is not None:
        overrides["dtype"] = dtype
    return instantiate(cfg, _partial_=True, _convert_="all")(model=spec, **overrides)


def _pyro_guide(model, guide, **kw):
    """Pyro's own ``AutoMultivariateNormal`` / ``AutoIAFNormal`` with the backend's settings."""
    from pyro.infer import autoguide

    if guide == "fullrank":
        return autoguide.AutoMultivariateNormal(
            model, init_loc_fn=autoguide.init_to_feasible, init_scale=kw["init_scale"]
        )
    hidden = kw["hidden_dim"]
    return autoguide.AutoIAFNormal(model, hidden_dim=None if hidden is None else [hidden],
                                   num_transforms=kw["num_transforms"])  # fmt: skip


def fit_row(data, guide: str, jit: bool | None, steps: int, draws: int, spec: ModelSpec,
            pyro_guide: bool = False, dtype: str | None = None) -> str:  # fmt: skip
    """One PyroSVI fit (``pyro_guide``: with Pyro's own guide class); a formatted table row."""
    from unittest import mock

    backend = _backend(guide, steps, draws, spec, jit, dtype)
    label = PYRO_GUIDES[guide] if pyro_guide else guide
    if pyro_guide:
        with mock.patch("backends.pyro.model.make_guide", _pyro_guide):
            fit = backend.fit(data, seed=0)
    else:
        fit = backend.fit(data, seed=0)
    t, info = fit.timing, fit.info
    target = TARGET_MS.get(guide)
    met = target is not None and info["ms_per_step_cpu"] <= target
    verdict = "" if target is None else f"{target:g} {'ok' if met else 'over'}"
    return (f"{label:<22} {'on' if info['jit'] else 'off':<4} {info['dtype']:<8} "
            f"{info['ms_per_step']:>9.2f} {info['ms_per_step_cpu']:>9.2f} {verdict:>9} "
            f"{t.get('compile_s', float('nan')):>9.2f} {t['sampling_s']:>9.2f} "
            f"{fit.loss[-50:].mean():>11.1f}")  # fmt: skip


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
    from evaluation.metrics.draws import extract

    fit = PyroSVI(model=spec, progress=True).fit(data, seed=0)
    t, info = fit.timing, fit.info
    vi = vi_diagnostics(extract(fit.idata, data), data, spec, fit.loss, info)
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
    """Parse arguments; print the overhead table, then one row per (guide, jit) asked for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="optimisation steps per fit")
    parser.add_argument("--repeats", type=int, default=3, help="fits per overhead row")
    parser.add_argument("--no-overhead", action="store_true", help="skip the overhead table")
    parser.add_argument("--draws", type=int, default=1000, help="posterior draws per guide row")
    parser.add_argument("--guides", nargs="*", default=[], help="per-guide rows at paper scale")
    parser.add_argument(
        "--parameterization", default="centered", choices=["centered", "noncentered"]
    )
    parser.add_argument(
        "--jit-both", action="store_true", help="jit on and off (else as configured)"
    )
    parser.add_argument(
        "--pyro-guides", action="store_true", help="add Pyro's own full-rank and IAF guides"
    )
    parser.add_argument("--dtype", choices=["float32", "float64"], help="instead of the config's")
    parser.add_argument("--naive", action="store_true", help="add the straightforward model")
    parser.add_argument("--full", action="store_true", help="also the 18,000-step paper run")
    args = parser.parse_args(argv)

    from evaluation.config import model_spec
    from evaluation.config.compose import compose_choice
    from evaluation.data.twin import make_paper_twin

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    if not args.no_overhead:
        study = model_spec(compose_choice("experiment", "evidence").model)
        print(f"\noverhead: mean-field step against the NumPy log-joint gradient "
              f"({study.parameterization}, the study's model)")  # fmt: skip
        overhead_table(args, study)
    if not (args.guides or args.naive or args.full):
        return
    spec = ModelSpec(args.parameterization)
    data = make_paper_twin()
    print(f"\npaper twin: {data.n_worksites} worksites x {data.n_workers} workers, "
          f"{len(data.site_features)} site / {len(data.worker_features)} worker features; "
          f"{spec.parameterization}; {args.steps} steps per row")  # fmt: skip
    print(f"{'guide':<22} {'jit':<4} {'dtype':<8} {'ms/step':>9} {'cpu ms':>9} {'target':>9} "
          f"{'compile':>9} {'draws s':>9} {'final loss':>11}")  # fmt: skip
    for guide in args.guides:
        jits = (True, False) if args.jit_both and guide != "flow" else (None,)
        for jit in jits:
            print(fit_row(data, guide, jit, args.steps, args.draws, spec, dtype=args.dtype),
                  flush=True)  # fmt: skip
        if args.pyro_guides and guide in PYRO_GUIDES:
            row = fit_row(data, guide, None, args.steps, args.draws, spec, True, args.dtype)
            print(row, flush=True)
    if args.naive:
        for threads in (None, 1):
            print(naive_row(data, args.steps, spec, threads), flush=True)
    if args.full:
        full_run(data, spec)


if __name__ == "__main__":
    main()
