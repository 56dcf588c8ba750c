"""Cross-run pairing from the backend's declared family (never its name), the cost columns that
depend on it, the one interval-coverage definition shared with the per-run metrics, and the
backend settings read through evaluation.config (issue 11)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xarray as xr
from sweepfakes import fake_metrics, make_fake_sweep

from backends.spec import VAR_NAMES
from evaluation import io
from evaluation.commands.sweep_files import build_report
from evaluation.data.load import load_data
from evaluation.data.truth import TRUTH_NC, truth_dataset
from evaluation.metrics.posterior import interval_coverage, recovery
from evaluation.report.sweep.calibration import BlockCheck, coverage_rows, run_checks
from evaluation.sweep.comparison import comparison_table
from evaluation.sweep.records import RunRecord, backend_settings, collect_runs


def write_runs(root, runs: list[tuple[str, dict]]) -> None:
    """Run dirs ``<job>_<backend>`` holding the given metrics."""
    root.mkdir(parents=True, exist_ok=True)
    for job, (backend, metrics) in enumerate(runs):
        d = root / f"{job}_{backend}"
        d.mkdir()
        (d / "metrics.json").write_text(json.dumps(metrics))


def renamed(backend: str, family: str | None, like: str = "pymc_nuts") -> dict:
    """Metrics of ``like`` under another backend name and declared family (None: no key)."""
    metrics = fake_metrics(like, 0)
    metrics["backend"] = backend
    metrics.pop("family")
    if family is not None:
        metrics["family"] = family
    return metrics


def table(root) -> pd.DataFrame:
    return comparison_table(collect_runs(root)).set_index("backend")


# ----------------------------------------------------------------------------- family
def test_partner_and_cost_come_from_the_declared_family_not_the_name(tmp_path):
    write_runs(tmp_path / "s", [
        ("pyro_meanfield", fake_metrics("pyro_meanfield", 0)),
        ("custom_sampler", renamed("custom_sampler", "mcmc")),  # MCMC without "nuts" in it
        ("odd_nuts", renamed("odd_nuts", "vi", like="pyro_meanfield")),  # VI named *nuts
    ])  # fmt: skip
    df = table(tmp_path / "s")
    assert df.at["pyro_meanfield", "cross.nuts_partner"] == "custom_sampler"
    assert df.at["odd_nuts", "cross.nuts_partner"] == "custom_sampler"
    alone = df.at["custom_sampler", "cross.nuts_partner"]
    assert pd.isna(alone) or alone == ""  # the only MCMC run has no partner
    assert np.isclose(df.at["odd_nuts", "cost.ms_per_step"], 0.5)  # VI: 0.5 s / 1000 steps
    assert np.isnan(df.at["custom_sampler", "cost.ms_per_step"])
    assert np.isnan(df.at["odd_nuts", "cost.ess_per_s"])
    assert df.at["custom_sampler", "cost.ess_per_s"] > 0


def test_a_run_without_a_family_is_neither_a_partner_nor_vi(tmp_path):
    write_runs(tmp_path / "s", [
        ("pyro_meanfield", renamed("pyro_meanfield", None, like="pyro_meanfield")),
        ("pymc_nuts", renamed("pymc_nuts", None)),  # an older metrics.json
    ])  # fmt: skip
    df = table(tmp_path / "s")
    assert not df["cross.nuts_partner"].fillna("").astype(bool).any()
    assert df["cross.ari_vs_nuts"].isna().all()
    assert df["cost.ms_per_step"].isna().all()  # not flagged as VI


def test_with_several_mcmc_runs_the_partner_is_the_first_by_backend_name(tmp_path):
    write_runs(tmp_path / "s", [
        ("stan_nuts", fake_metrics("stan_nuts", 0)),  # first in job order
        ("pyro_meanfield", fake_metrics("pyro_meanfield", 0)),
        ("pymc_nuts", fake_metrics("pymc_nuts", 0)),
    ])  # fmt: skip
    df = table(tmp_path / "s")
    assert df.at["pyro_meanfield", "cross.nuts_partner"] == "pymc_nuts"
    assert df.at["pymc_nuts", "cross.nuts_partner"] == "stan_nuts"  # NUTS-vs-NUTS baseline
    assert df.at["stan_nuts", "cross.nuts_partner"] == "pymc_nuts"
    md = build_report(tmp_path / "s").markdown.read_text()
    assert "the first by backend name when there are several" in md
    assert "cross.nuts_partner" in md


def test_fake_sweep_pairs_meanfield_with_nuts_by_family(tmp_path):
    df = comparison_table(collect_runs(make_fake_sweep(tmp_path / "sweep")))
    mf = df[df.backend == "pyro_meanfield"]
    assert (mf["cross.nuts_partner"] == "pymc_nuts").all()
    assert mf["cross.ari_vs_nuts"].notna().all()


# ----------------------------------------------------------------------------- coverage
TWIN = {"kind": "paper", "n_worksites": 6, "n_workers": 240, "sigma_worker": 0.5,
        "sigma_site": 1.0, "seed": 3}  # fmt: skip


def write_twin_posterior(run_dir, data, rng) -> dict[str, np.ndarray]:
    """A posterior.nc around the twin's truth, worksites stored in reverse order; returns the
    draws (S, ...) in the data's order."""
    coords = {"site_feature": list(data.site_features),
              "worker_feature": list(data.worker_features),
              "worksite": list(data.worksite_ids)}  # fmt: skip
    dims = {"alpha": (), "beta_site": ("site_feature",), "sigma_site": (), "sigma_worker": (),
            "beta_worker": ("worksite", "worker_feature")}  # fmt: skip
    draws, ds = {}, {}
    for name in VAR_NAMES:
        truth = np.asarray(data.truth[name], float)
        shift = 0.8 * rng.standard_normal(truth.shape)  # some truths fall outside the intervals
        d = truth + shift + rng.standard_normal((2, 400, *truth.shape))
        draws[name] = d.reshape(800, *truth.shape)
        ds[name] = (("chain", "draw", *dims[name]), d)
    post = xr.Dataset(ds, coords=coords).isel(worksite=slice(None, None, -1))
    post.to_netcdf(run_dir / "posterior.nc", group="posterior")
    return draws


def test_sweep_coverage_is_the_per_run_interval_coverage(tmp_path):
    """The calibration table's coverage of a run is interval_coverage of its draws, the same
    number as the run's own posterior.recovery coverage (no second definition from ranks)."""
    rec = RunRecord("0_x", tmp_path, "complete", {}, None, [], {"data": TWIN})
    data = load_data(TWIN)
    io.write_netcdf(tmp_path / TRUTH_NC, truth_dataset(data))  # what the run records
    draws = write_twin_posterior(tmp_path, data, np.random.default_rng(0))
    checks = run_checks(rec)
    for name in VAR_NAMES:
        truth = np.asarray(data.truth[name], float)
        flat = draws[name].reshape(800, -1)
        assert checks[name].coverage[0.9] == interval_coverage(draws[name], truth, 0.9)
        assert checks[name].coverage[0.5] == recovery(flat, truth.ravel())["coverage50"]
        assert checks[name].ranks.shape == (truth.size,)
    bw = checks["beta_worker"].coverage
    assert 0.0 < bw[0.5] < bw[0.9] < 1.0  # a discriminating case, not all-in or all-out


def test_coverage_rows_show_the_spread_of_per_run_coverage():
    u = np.linspace(0.01, 0.99, 60)
    reps = [{"beta_worker": BlockCheck(u, {0.5: c50, 0.9: c90})}
            for c50, c90 in ((0.4, 0.8), (0.6, 1.0))]  # fmt: skip
    rows = coverage_rows({("scen", "meth"): reps})
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (row["block"], row["replications"], row["ranks"]) == ("beta_worker", 2, 120)
    assert row["coverage50"].startswith("0.5 ± 0.14 (0.4–0.6)")
    assert row["coverage90"].startswith("0.9 ± 0.14 (0.8–1)")
    assert row["uniformity χ² p"] != "-"


# ----------------------------------------------------------------------------- settings
def test_backend_settings_apply_overrides_the_backend_has():
    config = {"backend": {"_target_": "x.Y", "name": "pyro_meanfield", "num_steps": 400},
              "backend_overrides": {"num_steps": 50, "chains": 2}}  # fmt: skip
    assert backend_settings(config) == {"name": "pyro_meanfield", "num_steps": 50}
    # what the user typed won over the override in the app, so it does in the table too
    config["backend"]["num_steps"] = 80
    typed = ["backend=pyro_meanfield", "backend.num_steps=80"]
    assert backend_settings(config, typed) == {"name": "pyro_meanfield", "num_steps": 80}


def test_a_run_without_a_recorded_truth_has_no_calibration_check(tmp_path):
    """Issue 23: the report reads the truth the run recorded; it never rebuilds the data."""
    rec = RunRecord("0_x", tmp_path, "complete", {}, None, [], {"data": TWIN})
    write_twin_posterior(tmp_path, load_data(TWIN), np.random.default_rng(0))
    assert run_checks(rec) is None
