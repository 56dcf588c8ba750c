"""Fabricated sweep dirs for the sweep tests: metrics.json in the app's layout, clusters.nc and
posterior.nc files, and a runner of the real app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

APP = str(Path(sys.executable).parent / "ppl-compare")
REPORT = str(Path(sys.executable).parent / "ppl-compare-report")
WORKSITES = [f"ws{j:03d}" for j in range(12)]


def quick_render(df, records, sweep_dir, *, title):
    """The sweep report without its sections and figures: for tests of the report's own glue
    (seconds per build), in place of ``evaluation.commands.sweep_files.render_report``."""
    from evaluation.report.sweep.report import MARKER, Rendered

    body = f"{len(df)} runs: " + ", ".join(f"{r.name} {r.status}" for r in records)
    return Rendered(f"# {title}\n{MARKER}\n\n{body}\n",
                    f"<!DOCTYPE html>\n{MARKER}\n<p>{body}</p>\n", [])  # fmt: skip


# ----------------------------------------------------------------------------- fabricated runs
def fake_metrics(backend: str, seed: int, sigma_worker: float = 0.5) -> dict:
    """A metrics.json in the layout evaluation.app writes (values made up, seed-dependent);
    ``family`` is what a backend declares: ``mcmc`` for ``*_nuts``, else ``vi``."""
    rng = np.random.default_rng([seed, len(backend)])
    nuts = backend.endswith("nuts")
    shrink = 1.0 if nuts else 0.4  # a mean-field fit that shrinks sigma_worker

    def scale(truth: float, factor: float) -> dict:
        med = truth * factor * (1 + 0.05 * rng.standard_normal())
        return {
            "mean": med,
            "sd": 0.1 * med,
            "median": med,
            "q05": 0.7 * med,
            "q95": 1.3 * med,
            "truth": truth,
        }

    def cov(nominal: float) -> float:
        return nominal - (0 if nuts else 0.3) + 0.02 * rng.standard_normal()

    block = {
        "sme_mean_abs": 0.1 if nuts else 0.6,
        "sd_ratio_median": 1.0 if nuts else 0.35,
        "sd_ratio_min": 0.2,
        "sd_ratio_max": 1.2,
        "wasserstein_mean": 0.1,
        "wasserstein_std_mean": 0.2,
    }
    language, method = backend.split("_", 1)
    return {
        "status": "complete", "config_hash": f"h{seed}{backend}", "backend": backend,
        "language": language, "method": method, "family": "mcmc" if nuts else "vi",
        "seed": seed, "parameterization": "noncentered",
        "data": {"name": "paper", "kind": "paper", "seed": seed, "n_worksites": 12,
                 "n_workers": 600, "n_train": 480, "n_test": 120, "prevalence": 0.17,
                 "split": "workers", "test_fraction": 0.2, "sigma_worker_truth": sigma_worker,
                 "planted_clusters": True, "site_features": ["a"], "worker_features": ["b"],
                 "meta": {"knobs": {"n_worksites": 12, "sigma_site": None, "n_clusters": 2}}},
        "timing": {"fit_s": 2.0 if nuts else 0.5, "sampling_s": 1.5 if nuts else None,
                   "optimisation_s": None if nuts else 0.5, "total_s": 3.0},
        "fit": {"num_steps": None if nuts else 1000, "n_divergent": 0 if nuts else None},
        "predictive": {"accuracy": 0.85, "baseline_accuracy": 0.83, "auc": 0.7 + 0.01 * seed,
                       "lpd": -0.4, "brier": 0.12, "ece": 0.02, "in_sample": False,
                       "calibration": {"count": [1, 2, 3]}},
        "posterior": {
            "summary": {"alpha": scale(-1.8, 1.0), "sigma_site": scale(2.14, 1.0),
                        "sigma_worker": scale(sigma_worker, shrink)},
            "beta_site": {"a": {"mean": 0.3, "truth": 0.29}},
            "recovery": {"beta_worker": {"coverage50": cov(0.5), "coverage90": cov(0.9),
                                         "mean_abs_z": 0.8},
                         "beta_site": {"coverage50": cov(0.5), "coverage90": cov(0.9)}},
            "beta_site_coverage90": cov(0.9), "beta_worker_coverage90": cov(0.9),
            "sigma_collapse": {"sigma_worker": {
                "method": {"median": sigma_worker * shrink, "q05": 0.5 * sigma_worker * shrink,
                           "q95": 1.5 * sigma_worker * shrink, "p_below_eps": 0.0},
                "reference": {"median": sigma_worker, "q05": 0.6 * sigma_worker,
                              "q95": 1.4 * sigma_worker, "p_below_eps": 0.0},
                "ratio_median": shrink, "truth": sigma_worker, "eps": 0.01}},
        },
        "reference": {"blocks": {"beta_worker": block, "beta_site": block},
                      "all": block, "criteria": {"passed": True}},
        "diagnostics": {"vi": {"khat": 0.9 + 0.05 * seed, "n_steps": 1000}} if not nuts
        else {"mcmc": {"max_rhat": 1.003, "min_ess_bulk": 400.0 + seed, "n_divergent": 0}},
        "clustering": {"k": 2, "chosen_k": 2, "ari_seeds": {"mean": 0.9, "sd": 0.1, "min": 0.7,
                       "n": 10}, "ari_draws": {"mean": 0.5 if nuts else 0.95},
                       "ari_truth": 0.6 if nuts else 0.2},
    }  # fmt: skip


def write_clusters(run_dir: Path, labels: np.ndarray, order: np.ndarray) -> None:
    """A clusters.nc with labels over worksite ids, stored in the given worksite order."""
    import xarray as xr

    ws = [WORKSITES[i] for i in order]
    ds = xr.Dataset({"labels": (("worksite",), np.asarray(labels)[order])}, coords={"worksite": ws})
    ds.to_netcdf(run_dir / "clusters.nc")


def make_fake_sweep(root: Path) -> Path:
    """4 complete runs (2 methods x 2 seeds, each with a posterior.nc), one failed run, one
    interrupted run."""
    root.mkdir(parents=True, exist_ok=True)
    truth_labels = np.array([0] * 6 + [1] * 6)
    job = 0
    for seed in (0, 1):
        for backend in ("pyro_meanfield", "pymc_nuts"):
            d = root / f"{job}_{backend}_s{seed}"
            d.mkdir()
            (d / "metrics.json").write_text(json.dumps(fake_metrics(backend, seed)))
            # the NUTS run clusters like the truth; mean-field swaps two worksites; the files
            # store worksites in different orders, so only label alignment gives these ARIs
            labels = truth_labels.copy()
            if backend == "pyro_meanfield":
                labels[[0, 11]] = labels[[11, 0]]
            order = np.arange(12) if seed == 0 else np.arange(12)[::-1]
            write_clusters(d, labels, order if backend == "pymc_nuts" else np.roll(order, 5))
            write_posterior(d, 1.0 if backend == "pymc_nuts" else 0.4, order, seed)  # a result
            job += 1
    bad = root / f"{job}_stan_nuts_s0"
    bad.mkdir()
    (bad / "failed.json").write_text(json.dumps({
        "status": "failed", "error": "BackendError: CmdStan not found; run make stan",
        "overrides": ["backend=stan_nuts", "seed=0"]}))  # fmt: skip
    (root / f"{job + 1}_stan_nuts_s1" / ".hydra").mkdir(parents=True)
    return root


def write_posterior(run_dir: Path, scale: float, order: np.ndarray, seed: int) -> None:
    """A posterior.nc with the canonical variables; every element's draws ~ Normal(0, scale)."""
    import xarray as xr

    rng = np.random.default_rng(seed)
    shape = (2, 500)
    dims = {"alpha": (), "beta_site": ("site_feature",), "sigma_site": (),
            "sigma_worker": (), "beta_worker": ("worksite", "worker_feature")}  # fmt: skip
    coords = {"site_feature": ["a", "b"], "worker_feature": ["c", "d"],
              "worksite": [WORKSITES[i] for i in order]}  # fmt: skip
    data = {}
    for name, d in dims.items():
        size = tuple(len(coords[k]) for k in d)
        draws = scale * rng.standard_normal(shape + size) + (1.0 if "sigma" in name else 0.0)
        data[name] = (("chain", "draw", *d), draws)
    xr.Dataset(data, coords=coords).to_netcdf(run_dir / "posterior.nc", group="posterior")


def run_app(*overrides: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PPL_COMPARE_CACHE": str(cwd / "cache"), **(env or {})}
    return subprocess.run([APP, *overrides], cwd=cwd, capture_output=True, text=True,
                          timeout=900, check=False, env=full_env)  # fmt: skip
