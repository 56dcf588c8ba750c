"""Noise floors beside the sweep's cross-run numbers, the NUTS partner's own checks, and the
overconfidence flag of draw-to-mean cluster ARI (issue 13 items 4 and 5), on hand-made sweeps."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from sweepfakes import fake_metrics, write_posterior

from evaluation.commands.sweep_files import build_report
from evaluation.report.sweep.themes import MORE_CERTAIN, THEMES, theme_table
from evaluation.sweep.comparison import comparison_table
from evaluation.sweep.records import collect_runs

GOOD_MCMC = {"max_rhat": 1.003, "min_ess_bulk": 800.0, "min_ess_tail": 700.0, "n_divergent": 0}
_VS = "vs_nuts.blocks.beta_worker"


def write_sweep(root, scales: dict[str, float], mcmc: dict[str, dict] | None = None) -> None:
    """One run per backend on the same data; posterior draws ~ N(0, scale); no configured
    reference (so the sweep compares with the NUTS partner)."""
    root.mkdir(parents=True, exist_ok=True)
    order = np.arange(12)
    for job, (backend, scale) in enumerate(scales.items()):
        d = root / f"{job}_{backend}"
        d.mkdir()
        metrics = fake_metrics(backend, 0)
        metrics.pop("reference")
        if backend.endswith("nuts"):
            metrics["diagnostics"]["mcmc"] = dict((mcmc or {}).get(backend, GOOD_MCMC))
        (d / "metrics.json").write_text(json.dumps(metrics))
        write_posterior(d, scale, order, seed=10 + job)


def table(root) -> pd.DataFrame:
    return comparison_table(collect_runs(root)).set_index("backend")


def test_vs_nuts_numbers_carry_the_partners_chain_half_floor(tmp_path):
    write_sweep(tmp_path / "s", {"pyro_meanfield": 0.5, "pymc_nuts": 1.0, "stan_nuts": 1.0})
    df = table(tmp_path / "s")
    mf, nuts = df.loc["pyro_meanfield"], df.loc["pymc_nuts"]  # pymc_nuts vs stan_nuts
    assert abs(mf[f"{_VS}.sd_ratio_median"] - 0.5) < 0.05
    assert abs(np.log(mf[f"{_VS}.sd_ratio_median_floor"])) < 0.1  # the partner's halves
    assert bool(mf[f"{_VS}.sd_ratio_median_beyond_floor"])
    assert bool(mf[f"{_VS}.beyond_floor"])
    # NUTS against an independent NUTS run: within its floor
    assert not bool(nuts[f"{_VS}.sd_ratio_median_beyond_floor"])
    assert not bool(nuts[f"{_VS}.beyond_floor"])
    assert mf["vs_nuts.floor.method"] == "chains 0-0 vs 1-1 of the exact posterior"
    # the table shows the value with its floor and the verdict
    flat = comparison_table(collect_runs(tmp_path / "s"))
    width = theme_table(flat, THEMES[list(THEMES)[1]]).set_index("method")
    cell = width.at["pyro_meanfield", "sd ratio β_worker"]
    assert "(floor " in cell and "beyond 1/1" in cell
    assert "within" in width.at["pymc_nuts", "sd ratio β_worker"]
    md = build_report(tmp_path / "s").markdown.read_text()
    assert "(floor " in md


def test_a_partner_that_fails_its_checks_is_flagged(tmp_path):
    bad = {"max_rhat": 1.2, "min_ess_bulk": 50.0, "min_ess_tail": 700.0, "n_divergent": 3}
    write_sweep(tmp_path / "s", {"pyro_meanfield": 0.5, "pymc_nuts": 1.0},
                mcmc={"pymc_nuts": bad})  # fmt: skip
    df = table(tmp_path / "s")
    failed = df.at["pyro_meanfield", "cross.partner_checks_failed"]
    assert failed == "max_rhat, min_ess_bulk, n_divergent"
    md = build_report(tmp_path / "s").markdown.read_text()
    assert "failed its checks: max_rhat, min_ess_bulk, n_divergent (1/1)" in md


def test_a_partner_that_passes_is_not_flagged(tmp_path):
    write_sweep(tmp_path / "s", {"pyro_meanfield": 0.5, "pymc_nuts": 1.0})
    df = table(tmp_path / "s")
    assert df.at["pyro_meanfield", "cross.partner_checks_failed"] == ""
    missing = dict(GOOD_MCMC)
    missing.pop("min_ess_tail")  # a check that cannot be made fails
    write_sweep(tmp_path / "t", {"pyro_meanfield": 0.5, "pymc_nuts": 1.0},
                mcmc={"pymc_nuts": missing})  # fmt: skip
    assert table(tmp_path / "t").at["pyro_meanfield", "cross.partner_checks_failed"] == (
        "min_ess_tail"
    )


def test_vi_stabler_than_nuts_is_flagged_more_certain_not_more_stable(tmp_path):
    # fake_metrics: draw-to-mean ARI 0.95 for VI, 0.5 for NUTS on the same data
    write_sweep(tmp_path / "s", {"pyro_meanfield": 0.5, "pymc_nuts": 1.0, "stan_nuts": 1.0})
    df = table(tmp_path / "s")
    assert df.at["pyro_meanfield", "cross.more_certain_than_nuts"] == True  # noqa: E712
    assert np.isclose(df.at["pyro_meanfield", "cross.ari_draws_vs_nuts"], 0.45)
    assert df.at["stan_nuts", "cross.more_certain_than_nuts"] == False  # noqa: E712 (NUTS)
    md = build_report(tmp_path / "s").markdown.read_text()
    row = next(line for line in md.splitlines() if line.startswith("| paper | pyro_meanfield")
               and MORE_CERTAIN in line)  # fmt: skip
    assert f"{MORE_CERTAIN} (1/1)" in row


def test_vi_less_stable_than_nuts_is_not_flagged(tmp_path):
    write_sweep(tmp_path / "s", {"pyro_meanfield": 0.5, "pymc_nuts": 1.0})
    path = tmp_path / "s" / "0_pyro_meanfield" / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["clustering"]["ari_draws"]["mean"] = 0.3
    path.write_text(json.dumps(metrics))
    df = table(tmp_path / "s")
    assert df.at["pyro_meanfield", "cross.more_certain_than_nuts"] == False  # noqa: E712
    assert MORE_CERTAIN not in build_report(tmp_path / "s").markdown.read_text()


def test_ari_vs_nuts_carries_the_ari_of_the_partners_chain_halves(tmp_path):
    from omegaconf import OmegaConf
    from sweepfakes import write_clusters

    from evaluation.config import CONF_DIR

    clustering = OmegaConf.to_container(
        OmegaConf.load(CONF_DIR / "evaluation" / "default.yaml")["clustering"]
    )
    clustering.update(n_iter=40, burn_in=20, n_seeds=1)  # cheap, same code path
    write_sweep(tmp_path / "s", {"pyro_meanfield": 0.5, "pymc_nuts": 1.0})
    for run in ("0_pyro_meanfield", "1_pymc_nuts"):
        path = tmp_path / "s" / run / "metrics.json"
        metrics = json.loads(path.read_text())
        metrics["clustering"]["settings"] = clustering
        path.write_text(json.dumps(metrics))
        write_clusters(path.parent, np.array([0] * 6 + [1] * 6), np.arange(12))
    df = table(tmp_path / "s")
    floor = df.at["pyro_meanfield", "cross.ari_vs_nuts_floor"]
    assert -1.0 <= floor <= 1.0
    assert df.at["pyro_meanfield", "cross.ari_vs_nuts"] == 1.0  # identical labels
    assert df.at["pyro_meanfield", "cross.ari_vs_nuts_beyond_floor"] == False  # noqa: E712
    flat = comparison_table(collect_runs(tmp_path / "s"))
    ari = theme_table(flat, THEMES[list(THEMES)[3]]).set_index("method")
    cell = ari.at["pyro_meanfield", "ARI vs NUTS (same data)"]
    assert cell.startswith("1 (floor ") and cell.endswith("; within)")
