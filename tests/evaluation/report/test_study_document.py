"""The findings' own glue: the evidence per method, its tables, the answer's wording, and the
cost reconstruction.

These tests feed hand-made claims and comparison tables (the numbers are inputs, not results
of a fit); the end-to-end run of real sweeps is in tests/evaluation/study/test_study_cli.py.
"""

from __future__ import annotations

import pandas as pd
import pytest

from evaluation.report import study_evidence as tables
from evaluation.report import study_headline as headline
from evaluation.study.evidence import Interval, rate_interval
from evaluation.study.summary import method_evidence
from evaluation.sweep.cost import cost_summary, summary_rows

SEEDS = ("0", "1", "2", "3")
METHODS = ("pymc_nuts", "pyro_meanfield", "pyro_fullrank")


def claim_rows(label, base, seed, p_true, p_false):
    """Two claims per run: ``t`` (true by design) and ``f`` (false by design)."""
    out = []
    for name, p, truth in (("t", p_true, True), ("f", p_false, False)):
        verdict = "credible" if p >= 0.95 else ("contradicted" if p <= 0.05 else "undecided")
        out.append({"scenario": "s", "replicate": seed, "method_label": label,
                    "method_base": base, "fit_repeat": int(label != base), "family": "vi",
                    "failed": False, "name": name, "probability": p, "mc_error": 0.005,
                    "verdict": verdict, "counted_with": None, "truth_value": truth})  # fmt: skip
    return out


def world():
    """NUTS (and its repeat) undecided on the false claim; mean-field calls it credible in
    every seed; full-rank agrees with NUTS, but one of its runs failed the rule."""
    claims, runs = [], []
    p_false = {"pymc_nuts": 0.6, "pyro_meanfield": 0.99, "pyro_fullrank": 0.62}
    for seed in SEEDS:
        for base in METHODS:
            for label in (base, f"{base} (repeat 1)"):
                claims += claim_rows(label, base, seed, 0.99, p_false[base])
                failed = base == "pyro_fullrank" and seed == "0" and label == base
                auc = 0.7 if base == "pyro_meanfield" else 0.8
                runs.append({"run": f"{label}-{seed}", "status": "complete", "replicate": seed,
                             "method_label": label, "method_base": base,
                             "family": "mcmc" if base == "pymc_nuts" else "vi",
                             "verdict.failed": failed, "timing.fit_s": 10.0 + int(seed),
                             "predictive.auc": auc})  # fmt: skip
    return pd.DataFrame(claims), pd.DataFrame(runs)


def test_method_evidence_counts_flips_beside_both_floors_and_scores_the_truth():
    claims, runs = world()
    ev = {e.method: e for e in method_evidence(claims, runs, 0.95)}
    assert list(ev) == list(METHODS)  # NUTS first, then sweep order
    mf = ev["pyro_meanfield"]
    assert mf.flips.flips.mean == 1.0 and mf.flips.flips.n == 4  # f: undecided -> credible
    assert mf.flips.floor_flips.mean == 0.0 and mf.flips.excess.mean == 1.0
    assert mf.repeat_flips.mean == 0.0  # its two fits agree with each other
    assert (mf.truth.false_credible.k, mf.truth.false_credible.n) == (4, 4)
    assert (ev["pymc_nuts"].truth.false_credible.k, mf.truth.power.k) == (0, 4)
    assert mf.abs_delta.mean == pytest.approx((0.0 + 0.39) / 2)
    assert ev["pymc_nuts"].abs_delta_floor.mean == pytest.approx(0.0)
    full = ev["pyro_fullrank"]
    assert full.flips.excess.mean == 0.0 and (full.failed.k, full.failed.n) == (1, 8)
    assert full.fit_s.n == 8 and full.fit_s.mean == pytest.approx(11.5)


def test_headline_wording_follows_the_intervals():
    claims, runs = world()
    ev = method_evidence(claims, runs, 0.95)
    text = headline.false_credible_sentence("paper-wrong", ev)
    assert "pyro_meanfield 100% (" in text and "4/4" in text
    assert "pyro_meanfield does so more often than NUTS" in text
    remedy = headline.remedy_sentence(ev)  # full-rank is within the floor but one run failed
    assert "Beyond the floor or failed: pyro_fullrank" in remedy
    flips = headline.flips_sentence("paper-wrong", ev)
    assert "pyro_meanfield flips 1.0 (" in flips and "over 4 seeds" in flips
    same = rate_interval(3, 10)
    assert headline.compare(same, rate_interval(4, 10)).startswith("not distinguishably")
    assert headline.compare(rate_interval(9, 10), rate_interval(1, 10)) == "more often than"


def test_tables_say_how_many_seeds_and_mark_the_floor():
    claims, runs = world()
    ev = method_evidence(claims, runs, 0.95)
    text = tables.method_table(ev)
    assert "| pymc_nuts (reference) |" in text and "| pyro_fullrank | 4 | 1/8 |" in text
    metric = tables.metric_table(runs, [e.method for e in ev])
    assert "| pymc_nuts (repeat 1): the floor |" in metric
    assert "| pyro_meanfield | 0.700 (0.700 to 0.700) |" in metric
    per_claim = tables.claim_table(claims)
    assert "| f | 0.39 (0.39 to 0.39) |" in per_claim and "100% of 4" in per_claim
    assert tables.interval_text(Interval(0.5, float("nan"), float("nan"), 1)) == "0.50 (1 seed)"
    assert tables.rate_text(rate_interval(0, 0)) == "–"


def table(rows: list[dict]) -> pd.DataFrame:
    base = {"status": "complete", "scenario": "s", "replicate": "0", "run": "r"}
    return pd.DataFrame([{**base, **r} for r in rows])


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


def test_flip_directions_say_whether_a_sharper_verdict_is_right():
    from evaluation.study.summary import flip_directions

    claims, _ = world()
    # mean-field: claim f (false) undecided under NUTS, credible under mean-field: sharper, wrong
    d = flip_directions(claims, "pyro_meanfield")
    assert (d.sharper_right, d.sharper_wrong, d.softer, d.reversed, d.seeds) == (0, 4, 0, 0, 4)
    flipped = claims.assign(truth_value=claims["truth_value"].astype(object))
    flipped.loc[flipped["method_label"] == "pyro_meanfield", "truth_value"] = None
    flipped.loc[flipped["method_label"] == "pymc_nuts", "truth_value"] = None
    assert flip_directions(flipped, "pyro_meanfield").unknown == 4
    text = headline.direction_sentence("pyro_meanfield", d)
    assert "4 flips with a known truth (4 seeds), 0 turn" in text and "4 into the wrong one" in text
