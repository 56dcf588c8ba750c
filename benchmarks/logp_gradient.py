"""The compiled log density and gradient NUTS evaluates, against a NumPy gradient (prints).

nutpie's numba function of the PyMC model (:func:`backends.pymc.model.build_model`, compiled as
``pymc_nuts`` compiles it) and a hand-written NumPy log density and gradient of the same
non-centred model on the unconstrained space, CPU microseconds per call, the two interleaved
in rounds (median shown) on the study's quarter twin and at the paper's scale::

    python benchmarks/logp_gradient.py                       # quarter twin and paper scale
    python benchmarks/logp_gradient.py --scales paper
    python benchmarks/logp_gradient.py --against /path/to/other/checkout   # before / after

``--against`` also times the model of another checkout of this repository (its
``backends/pymc/model.py``) in the same rounds.  Every gradient is first checked against the
NumPy one (relative 1e-9).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: The data of each scale: the study's quarter twin (experiment=evidence) and the paper twin.
SCALES: dict[str, dict[str, Any]] = {
    "quarter": {"n_worksites": 40, "n_workers": 4000, "sigma_worker": 0.25, "n_clusters": 2,
                "cluster_separation": 6.0, "site_scale": 0.3, "seed": 0},
    "paper": {"sigma_worker": 0.5, "seed": 0},
}  # fmt: skip


def numpy_logp_grad(data: Any, where: dict[str, slice]) -> Callable[[np.ndarray], tuple]:
    """Log density (up to a constant) and gradient of the non-centred model at a flat
    unconstrained point laid out as ``where`` says (nutpie's order); rows sorted by site."""
    from scipy.special import expit, log_expit

    xs, xw, site, y = data.X_site, data.X_worker, data.site, data.y.astype(float)
    n_sites, n_features = data.n_worksites, xw.shape[1]
    if np.any(np.diff(site) < 0):
        raise ValueError("the NumPy gradient needs the rows sorted by worksite")
    starts = np.searchsorted(site, np.arange(n_sites))

    def f(x: np.ndarray) -> tuple[float, np.ndarray]:
        alpha, beta_site = x[where["alpha"]][0], x[where["beta_site"]]
        s_site, s_worker = np.exp(x[where["sigma_site_log__"]][0]), np.exp(
            x[where["sigma_worker_log__"]][0])  # fmt: skip
        z = x[where["z_worker"]].reshape(n_sites, n_features)
        eta = alpha + (xs @ beta_site)[site] + np.einsum("ik,ik->i", xw, (s_worker * z)[site])
        r = y - expit(eta)
        by_site = np.add.reduceat(r, starts)
        by_cell = np.add.reduceat(xw * r[:, None], starts, axis=0)
        g = np.empty_like(x)
        g[where["alpha"]] = by_site.sum() - alpha / 25.0
        g[where["beta_site"]] = xs.T @ by_site - beta_site / s_site**2
        g[where["z_worker"]] = (s_worker * by_cell - z).ravel()
        g[where["sigma_worker_log__"]] = np.sum(by_cell * s_worker * z) + 1 - 2 * s_worker**2 / (
            25 + s_worker**2)  # fmt: skip
        g[where["sigma_site_log__"]] = (np.sum(beta_site**2) / s_site**2 - beta_site.size + 1
                                        - 2 * s_site**2 / (25 + s_site**2))  # fmt: skip
        return float(np.sum(y * eta + log_expit(-eta))), g

    return f


def compiled(build_model: Callable, data: Any) -> tuple[Callable, list, dict[str, slice]]:
    """nutpie's numba logp+grad of ``build_model(data)``, its data arguments and the layout."""
    import nutpie

    from backends.pymc.model import quiet_pytensor
    from backends.pymc.nuts import COMPILE_OPTIONS
    from backends.spec import ModelSpec

    with quiet_pytensor():
        model = nutpie.compile_pymc_model(build_model(data, ModelSpec()), **COMPILE_OPTIONS)
    fn = model.logp_func
    where, start = {}, 0
    for name, _, shape in zip(*model.shape_info, strict=False):
        if start >= model.n_dim:
            break
        where[name] = slice(start, start + int(np.prod(shape)))
        start += int(np.prod(shape))
    return fn.vm.jit_fn, [model.shared_data[v.name] for v in fn.get_shared()], where


def other_build_model(checkout: Path) -> Callable:
    """``build_model`` of another checkout's ``backends/pymc/model.py``."""
    spec = importlib.util.spec_from_file_location("other_model", checkout / "backends" / "pymc"
                                                  / "model.py")  # fmt: skip
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_model


def cpu_us(f: Callable, args: tuple, n: int) -> float:
    """CPU microseconds per call of ``f(*args)`` over ``n`` calls."""
    t0 = time.process_time()
    for _ in range(n):
        f(*args)
    return 1e6 * (time.process_time() - t0) / n


def measure(scale: str, args: argparse.Namespace) -> None:
    """Print the per-call CPU of every function at one scale."""
    from backends.pymc.model import build_model
    from evaluation import api

    data = api.make_data(**SCALES[scale]).train
    builds = {"compiled (this checkout)": build_model}
    if args.against:
        builds["compiled (--against)"] = other_build_model(args.against)
    funcs: dict[str, tuple] = {}
    for name, build in builds.items():
        jit, shared, where = compiled(build, data)
        funcs[name] = (lambda x, jit=jit, shared=shared: jit(x, *shared),)
    x = 0.1 * np.random.default_rng(1).standard_normal(max(s.stop for s in where.values()))
    funcs["NumPy"] = (numpy_logp_grad(data, where),)
    want = funcs["NumPy"][0](x)[1]
    for name, (f,) in funcs.items():
        np.testing.assert_allclose(f(x)[1], want, rtol=1e-9, atol=1e-9, err_msg=name)
    n = max(50, int(2e5 / data.n_workers))
    times: dict[str, list[float]] = {name: [] for name in funcs}
    for _ in range(args.rounds):  # interleaved, so a change of machine load hits every one
        for name, (f,) in funcs.items():
            times[name].append(cpu_us(f, (x,), n))
    numpy_us = np.median(times["NumPy"])
    print(f"{scale}: {data.n_workers} rows, {data.n_worksites} worksites, {x.size} coordinates")
    for name, values in times.items():
        us = np.median(values)
        print(f"  {name:<26}{us:9.1f} us per call  {us / numpy_us:5.2f}x NumPy")


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and measure each scale."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scales", nargs="+", choices=list(SCALES), default=list(SCALES))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--against", type=Path, default=None, help="another checkout's root")
    args = p.parse_args(argv)
    for scale in args.scales:
        measure(scale, args)


if __name__ == "__main__":
    main()
