"""How big a run's posterior.nc is, and what ``evaluation.posterior_dtype`` /
``evaluation.posterior_draws`` save (prints).

    python benchmarks/posterior_size.py                          # 300,000 units, 2,000 groups
    python benchmarks/posterior_size.py --units 16553 --groups 120 --features 7 --draws 1000

Builds a data set of the given size (random features), a posterior in the canonical layout as
a mean-field VI fit stores it (one chain of ``--draws`` draws; ``beta_worker`` and the
non-centred ``z_worker``, each groups x features per draw; ``log_q`` and ``lp`` per draw) and
writes it the way a run does (:func:`evaluation.rundir.saved_posterior`, then
:func:`evaluation.io.write_netcdf`) with each option; prints the file's size and the seconds
the write took.  The numbers are sizes of the layout: random draws compress no worse than
real ones (netCDF is written uncompressed).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backends.base import build_inference_data
from backends.spec import HierData, ModelSpec
from evaluation.io import write_netcdf
from evaluation.rundir import saved_posterior

#: (label, evaluation settings) written for each run of the script.
OPTIONS = (
    ("as fitted (float64, every draw)", {}),
    ("posterior_dtype=float32", {"posterior_dtype": "float32"}),
    ("posterior_draws=200", {"posterior_draws": 200}),
    ("both", {"posterior_dtype": "float32", "posterior_draws": 200}),
)


def fabricated(units: int, groups: int, features: int, draws: int) -> object:
    """A mean-field-shaped InferenceData of a random data set of this size."""
    rng = np.random.default_rng(0)
    data = HierData(
        y=rng.integers(0, 2, units).astype(np.int8), site=np.arange(units) % groups,
        X_site=rng.normal(size=(groups, features)), X_worker=rng.normal(size=(units, features)),
        site_features=[f"s{k}" for k in range(features)],
        worker_features=[f"w{k}" for k in range(features)],
        worksite_ids=[f"g{j}" for j in range(groups)], name="size",
    )  # fmt: skip
    shape = (1, draws)
    post = {"alpha": rng.normal(size=shape), "sigma_site": rng.random(shape),
            "sigma_worker": rng.random(shape),
            "beta_site": rng.normal(size=(*shape, features)),
            "beta_worker": rng.normal(size=(*shape, groups, features)),
            "z_worker": rng.normal(size=(*shape, groups, features))}  # fmt: skip
    stats = {"log_q": rng.normal(size=shape), "lp": rng.normal(size=shape)}
    return build_inference_data(post, data, backend="pyro_meanfield", family="vi",
                                library="none", library_version="0", seed=0,
                                model=ModelSpec(), sample_stats=stats)  # fmt: skip


def main() -> None:
    """Print posterior.nc's size under each option."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--units", type=int, default=300_000)
    p.add_argument("--groups", type=int, default=2_000)
    p.add_argument("--features", type=int, default=10, help="unit and group features each")
    p.add_argument("--draws", type=int, default=1000, help="draws of the fit (VI: num_draws)")
    args = p.parse_args()
    idata = fabricated(args.units, args.groups, args.features, args.draws)
    print(f"{args.units:,} units x {args.features} features in {args.groups:,} groups, "
          f"{args.draws} draws")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for label, settings in OPTIONS:
            path = Path(tmp) / "posterior.nc"
            start = time.perf_counter()
            write_netcdf(path, saved_posterior(idata, settings))
            seconds = time.perf_counter() - start
            print(f"  {label:34s} {path.stat().st_size / 1e6:8.1f} MB   write {seconds:5.2f} s")


if __name__ == "__main__":
    main()
