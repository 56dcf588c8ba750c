"""Cost of the linear-response Hessian of ``pymc_dadvi_lr`` at paper scale (prints numbers).

The DADVI objective's Hessian over the 2 x 861 variational parameters of the paper twin
(120 worksites x 16,553 workers, 80% fitted), built from Hessian-vector products grouped by the
model's sparsity (:func:`backends.linear_response.structured_hessian`), against the dense build
(one product per parameter: its time is the measured time of ``--sample`` products scaled to
2n + 1, unless ``--dense`` builds it and checks that both Hessians agree)::

    python benchmarks/lr_hessian.py                 # grouped build + a dense estimate
    python benchmarks/lr_hessian.py --dense         # also the full dense build (minutes)
    python benchmarks/lr_hessian.py --n-worksites 20 --n-workers 2000 --dense
    python benchmarks/lr_hessian.py --library       # against pymc-extras' compiled functions
    python benchmarks/lr_hessian.py --n-worksites 40 --n-workers 4000 --library   # the study's size

The Hessian is taken at the mean-field start of the optimiser (the optimum is not needed for
the cost; the backend takes it at the optimum).  Columns: products, seconds, seconds per product.
Then the CPU milliseconds per call of the objective with its gradient and of one
Hessian-vector product (what the optimiser calls), for this backend's build
(:func:`backends.pymc.dadvi.compile_objective`) and, with ``--library``, for the one it
replaced (pymc-extras' ``scipy_optimize_funcs_from_loss``), with their largest difference.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np


def main(argv: list[str] | None = None) -> None:
    """Build the grouped Hessian, time the dense alternative, print a table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-worksites", type=int, default=120)
    p.add_argument("--n-workers", type=int, default=16553)
    p.add_argument("--sample", type=int, default=20, help="products timed for the estimate")
    p.add_argument("--dense", action="store_true", help="build the dense Hessian too")
    p.add_argument("--library", action="store_true", help="time pymc-extras' build too")
    args = p.parse_args(argv)

    from backends import linear_response as lr
    from backends.pymc.dadvi import compile_objective, draw_streams, sparsity
    from backends.pymc.model import build_model, quiet_pytensor
    from backends.spec import ModelSpec
    from evaluation.data.split import split_data
    from evaluation.data.twin import make_paper_twin

    data = make_paper_twin(n_worksites=args.n_worksites, n_workers=args.n_workers,
                           sigma_worker=1.0, n_clusters=2, site_scale=0.3, seed=0)  # fmt: skip
    train, _ = split_data(data, 0.2, "workers", seed=0)
    spec = ModelSpec("noncentered")
    with quiet_pytensor():
        model = build_model(train, spec)
        sp = sparsity(model, spec)
        fixed, _ = draw_streams(0, 30, 1, sp.n)
        (_, hessp), timing = compile_objective(model, fixed)
        x = np.concatenate([np.zeros(sp.n), np.full(sp.n, -2.0)])
        t0 = time.perf_counter()
        grouped, n_grouped = lr.structured_hessian(hessp, x, sp)
        grouped_s = time.perf_counter() - t0
        rng = np.random.default_rng(1)
        t0 = time.perf_counter()
        for _ in range(args.sample):
            hessp(x, rng.standard_normal(2 * sp.n))
        per = (time.perf_counter() - t0) / args.sample
        rows = [("grouped (sparsity)", n_grouped, grouped_s),
                ("dense, estimated", 2 * sp.n + 1, per * (2 * sp.n + 1))]  # fmt: skip
        if args.dense:
            t0 = time.perf_counter()
            dense, n_dense = lr.structured_hessian(hessp, x, lr.dense_sparsity(sp.n))
            rows.append(("dense, built", n_dense, time.perf_counter() - t0))
            scale = np.abs(dense).max()
            print(
                f"max |grouped - dense| / max |dense| = {np.abs(grouped - dense).max() / scale:.2e}"
            )
    print(
        f"{train.n_workers} workers x {train.n_worksites} worksites; n = {sp.n} latent "
        f"coordinates, Hessian {2 * sp.n} x {2 * sp.n}; compile {timing['compile_s']:.1f} s"
    )
    print(f"{'build':<22}{'products':>10}{'seconds':>10}{'s / product':>13}")
    for name, n, sec in rows:
        print(f"{name:<22}{n:>10}{sec:>10.1f}{sec / n:>13.3f}")
    builds = {"this backend": compile_objective}
    if args.library:
        builds["pymc-extras (before)"] = library_objective
    with quiet_pytensor():
        per_call(model, fixed, x, builds)


def library_objective(model, fixed):
    """The objective compiled as the backend did before issue 31: pymc-extras'
    ``scipy_optimize_funcs_from_loss`` on the same graph."""
    import pytensor
    import pytensor.tensor as pt
    from pymc.pytensorf import join_nonshared_inputs
    from pymc_extras.inference.laplace_approx.scipy_interface import (
        scipy_optimize_funcs_from_loss,
    )

    n = fixed.shape[1]
    [logp], flat = join_nonshared_inputs(point=model.initial_point(), outputs=[model.logp()],
                                         inputs=model.continuous_value_vars)  # fmt: skip
    eta = pt.vector(name="eta", shape=(2 * n,))
    draws = eta[:n] + pt.exp(eta[n:]) * pt.constant(fixed)
    logp_draws = pytensor.graph.vectorize_graph(logp, replace={flat: draws})
    objective = -pt.mean(logp_draws) - pt.sum(eta[n:])
    funcs = scipy_optimize_funcs_from_loss(
        loss=objective, inputs=[eta], initial_point_dict=None, use_grad=True,
        use_hessp=True, use_hess=False, gradient_backend="pytensor", inputs_are_flat=True,
    )  # fmt: skip
    return tuple(funcs), {}


def per_call(model, fixed, x, builds, repeat: int = 10) -> None:
    """CPU ms per call of each build's objective+gradient and Hessian-vector product."""
    v = np.random.default_rng(2).standard_normal(x.size)
    print(f"\n{'compiled by':<22}{'objective+grad ms':>18}{'HVP ms':>9}  (CPU per call)")
    first = None
    for name, build in builds.items():
        (fused, hessp), _ = build(model, fixed)
        times = []
        for f, a in ((fused, (x,)), (hessp, (x, v))):
            f(*a)
            c0 = time.process_time()
            for _ in range(repeat):
                f(*a)
            times.append(1e3 * (time.process_time() - c0) / repeat)
        out = np.concatenate([[fused(x)[0]], fused(x)[1], hessp(x, v)])
        first = out if first is None else first
        diff = np.abs(out - first).max() / np.abs(first).max()
        print(f"{name:<22}{times[0]:>18.1f}{times[1]:>9.1f}  max rel. difference {diff:.1e}")


if __name__ == "__main__":
    main()
