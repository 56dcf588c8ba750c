"""The findings' own glue: phase tables, the cost reconstruction, the answer's wording.

These tests feed hand-made comparison tables (the numbers are inputs, not results of a
fit); the end-to-end run of real sweeps is in test_findings_cli.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.report import phase
from evaluation.report import study_answer as answer
from evaluation.sweep.cost import cost_summary, summary_rows

SIGMAS = (0.05, 1.0)


def table(rows: list[dict]) -> pd.DataFrame:
    base = {"status": "complete", "scenario": "s", "replicate": "0", "run": "r"}
    return pd.DataFrame([{**base, **r} for r in rows])


def study_df() -> pd.DataFrame:
    """Mean-field at half NUTS's sd and low coverage; NUTS on target; two sigma_worker."""
    rows = []
    for s in SIGMAS:
        rows.append({"method_label": "pymc_nuts", "backend": "pymc_nuts", "family": "mcmc",
                     "data.sigma_worker_truth": s,
                     "posterior.beta_site_identified_coverage90": 0.9,
                     "vs_nuts.blocks.beta_site.sd_ratio_median": 1.0,
                     "vs_nuts.blocks.beta_site.sd_ratio_median_floor": 1.05,
                     "posterior.summary.sigma_worker.median": s, "predictive.auc": 0.8,
                     "timing.fit_s": 100.0})  # fmt: skip
        rows.append({"method_label": "pyro_meanfield", "backend": "pyro_meanfield", "family": "vi",
                     "data.sigma_worker_truth": s,
                     "posterior.beta_site_identified_coverage90": 0.5 if s < 1 else 0.6,
                     "vs_nuts.blocks.beta_site.sd_ratio_median": 0.3,
                     "vs_nuts.blocks.beta_site.sd_ratio_median_floor": 1.05,
                     "posterior.summary.sigma_worker.median": 2 * s, "predictive.auc": 0.79,
                     "timing.fit_s": 10.0})  # fmt: skip
    return phase.add_derived(table(rows), [])


def test_phase_table_is_methods_by_sigma_in_sweep_order():
    cov = next(m for m in phase.PHASE_METRICS if m.key == "coverage")
    t = phase.phase_table(study_df(), cov)
    assert list(t.index) == ["pymc_nuts", "pyro_meanfield"]
    assert list(t.columns) == list(SIGMAS)
    assert t.loc["pyro_meanfield", 0.05] == 0.5 and t.loc["pyro_meanfield", 1.0] == 0.6


def test_sigma_ratio_is_median_over_truth():
    ratio = next(m for m in phase.PHASE_METRICS if m.key == "sigma_ratio")
    t = phase.phase_table(study_df(), ratio)
    assert t.loc["pyro_meanfield"].tolist() == pytest.approx([2.0, 2.0])
    assert t.loc["pymc_nuts"].tolist() == pytest.approx([1.0, 1.0])


def test_markdown_table_shows_the_floor_row_and_dashes_for_missing():
    sd = next(m for m in phase.PHASE_METRICS if m.key == "sd_ratio")
    df = study_df()
    df.loc[3, "vs_nuts.blocks.beta_site.sd_ratio_median"] = np.nan
    text = phase.markdown_table(phase.phase_table(df, sd), phase.floor_table(df, sd), 2)
    assert "| pyro_meanfield | 0.30 | – |" in text
    assert "_noise floor (NUTS vs NUTS)_ | _1.05_ | _1.05_" in text


def test_answer_wording_follows_the_numbers():
    df = study_df()
    text = answer.uncertainty_sentence(df)
    assert "understates" in text and "0.30 × NUTS's (noise floor 1.05)" in text
    assert "cover 0.50–0.60" in text
    df["vs_nuts.blocks.beta_site.sd_ratio_median"] = 2.0  # now wider than NUTS everywhere
    assert "overstates" in answer.uncertainty_sentence(df)


def test_remedy_sentence_picks_the_cheapest_method_close_to_nuts():
    df = study_df()
    text = answer.remedy_sentence(df)
    assert "No approximation run at every σ_worker matches" in text
    assert "of those that did not fail, pyro_meanfield comes nearest in β_site sd" in text
    extra = df[df["method_label"] == "pyro_meanfield"].copy()
    extra["method_label"] = "pyro_fullrank"
    extra["vs_nuts.blocks.beta_site.sd_ratio_median"] = 0.9
    extra["cross.sigma_worker_ratio"] = 1.1
    extra["timing.fit_s"] = 50.0
    text = answer.remedy_sentence(pd.concat([df, extra], ignore_index=True))
    assert "pyro_fullrank matches NUTS's spread" in text and "50 s per fit (NUTS 100 s)" in text
    # a second NUTS matches NUTS too, but it is not an approximation: never named a remedy
    nuts2 = df[df["method_label"] == "pymc_nuts"].assign(
        method_label="stan_nuts", **{"timing.fit_s": 1.0}
    )
    text = answer.remedy_sentence(pd.concat([df, nuts2], ignore_index=True))
    assert "stan_nuts" not in text and "No approximation run at every σ_worker" in text
    # a method run at one sigma_worker only is never said to match "at every sigma_worker"
    one = extra[extra["data.sigma_worker_truth"] == 1.0]
    text = answer.remedy_sentence(pd.concat([df, one], ignore_index=True))
    assert "No approximation run at every σ_worker" in text
    assert "Run at σ_worker 1 only, pyro_fullrank is within the band there (50 s" in text


def test_cost_reconstructs_the_savings_from_measured_rates():
    df = table([
        {"backend": "pyro_meanfield", "timing.total_s": 40.0, "timing.fit_s": 30.0,
         "timing.optimisation_s": 30.0, "fit.stopped_early": True, "fit.n_steps_run": 6000,
         "fit.num_steps": 18000, "phases.data_s": 1.0, "phases.reference_s": 5.0},
        {"backend": "pymc_nuts", "timing.total_s": 12.0, "timing.fit_s": 200.0,
         "timing.compile_s": 20.0, "fit.from_cache": True, "phases.data_s": 1.0,
         "fit.cache_file": "ref-a.nc"},
        {"backend": "pymc_nuts", "timing.total_s": 220.0, "timing.fit_s": 200.0,
         "timing.compile_s": 20.0, "fit.from_cache": False, "fit.compile_cached": False,
         "fit.cache_file": "ref-b.nc"},
        {"backend": "pymc_nuts", "timing.total_s": 190.0, "timing.fit_s": 181.0,
         "timing.compile_s": 1.0, "fit.from_cache": False, "fit.compile_cached": True},
    ])  # fmt: skip
    s = cost_summary(df)
    assert s.jobs_s == pytest.approx(462.0)
    assert s.saved_s["VI stopped at the convergence rule"] == pytest.approx(60.0)  # 12k x 5 ms
    # both reference fits (one read from the cache, one made by its job) were two fits before
    assert s.saved_s["NUTS job is the reference fit"] == pytest.approx(400.0)
    assert s.saved_s["nutpie compiles once per model structure"] == pytest.approx(20.0)
    assert s.before_jobs_s == pytest.approx(462.0 + 480.0)
    assert s.phases["compile"] == pytest.approx(21.0)  # the cached job compiled nothing
    assert s.phases["fit (without compile)"] == pytest.approx(30.0 + 180.0 + 180.0)
    rows = {r[0]: r[1] for r in summary_rows(s, wall_s=231.0)}
    assert rows["wall clock before the savings, at the same parallelism (reconstructed)"] == (
        pytest.approx(942.0 * 0.5)
    )


def test_a_failed_method_is_named_failed_never_a_remedy_or_nearest():
    """Issue 20: Pathfinder (sigma_worker collapsed) was called "closest in beta_site sd"."""
    df = study_df()
    pf = df[df["method_label"] == "pyro_meanfield"].copy()
    pf["method_label"] = "pymc_pathfinder"
    pf["vs_nuts.blocks.beta_site.sd_ratio_median"] = 0.95  # nearest in sd, but collapsed:
    pf["cross.sigma_worker_ratio"] = 1e-9
    pf["timing.fit_s"] = 5.0
    pf["verdict.failed"] = "sigma_worker collapsed to 1e-09 x NUTS's median"
    df["verdict.failed"] = [None if f == "mcmc" else False for f in df["family"]]
    df = phase.add_derived(pd.concat([df, pf], ignore_index=True), [])
    text = answer.remedy_sentence(df)
    assert "pyro_meanfield comes nearest" in text and "pymc_pathfinder comes" not in text
    assert "never a remedy: pymc_pathfinder (at σ_worker 0.05, 1)" in text
    failed = next(m for m in phase.PHASE_METRICS if m.key == "failed")
    t = phase.phase_table(df, failed)
    assert t.loc["pymc_pathfinder"].tolist() == [1.0, 1.0]
    assert t.loc["pyro_meanfield"].tolist() == [0.0, 0.0]
    assert t.loc["pymc_nuts"].isna().all()  # not an approximation: not judged by the rule
    # ... and the remedies table marks the row and says why
    from evaluation.report.study_document import method_table

    md = method_table(df)
    assert "| pymc_pathfinder — **FAILED** |" in md
    assert "- pymc_pathfinder: FAILED: sigma_worker collapsed to 1e-09" in md
    assert "pyro_meanfield — **FAILED**" not in md
