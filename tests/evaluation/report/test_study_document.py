"""The findings' own glue: the evidence per method, its tables, the answer's wording, the facts
read from the runs, and the cost reconstruction.

These tests feed hand-made claims and comparison tables (the numbers are inputs, not results
of a fit); the end-to-end run of real sweeps is in tests/evaluation/study/test_study_cli.py.
The hand-made study varies what a real one varies: Monte Carlo errors differ by run and seed,
some P lie within two Monte Carlo errors of a threshold, and every run metric differs by seed
and between a method's first fit and its repeat, so no interval collapses to a point.  Every
flip in it is a change of verdict with P far apart across a threshold (a flip under either of
the claims judge's rules).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from evaluation.claims.load import Thresholds
from evaluation.report import headline
from evaluation.report.study import answer, errors, facts
from evaluation.report.study import evidence as tables
from evaluation.report.study.document import header, world_section
from evaluation.study.bootstrap import BootInterval, McNemar
from evaluation.study.errors import PairedDifference
from evaluation.study.evidence import Interval, rate_interval
from evaluation.study.plan import Study
from evaluation.study.results import StudyResult
from evaluation.study.summary import flip_directions, method_evidence, world_evidence
from evaluation.sweep.cost import cost_summary, summary_rows

SEEDS = ("0", "1", "2", "3")
METHODS = ("pymc_nuts", "pyro_meanfield", "pyro_fullrank")
TH = Thresholds(0.95, 0.05)

#: Per claim: (truth, kind, P by method base (first fit; undecided P rise by 0.02 a seed and by
#: 0.004 in a repeat)).
#: t     true; all credible.
#: f     false; NUTS undecided (0.6), mean-field credible: sharpened and wrong in every seed.
#: edge  false; mean-field at 0.96 with a Monte Carlo error of 0.01 (varying): undecided by
#:       the margin, so not an error; NUTS 0.90.
#: soft  true; NUTS credible, mean-field undecided (0.80): softer in every seed.
#: rev   false; NUTS contradicted, mean-field credible in seeds 0 and 1 (reversed, twice).
#: vary  true in seeds 0, 1 and false in 2, 3; every method credible: NUTS errs too.
CLAIMS = {
    "t": ("true", "sign", {"pymc_nuts": 0.97, "pyro_meanfield": 0.999, "pyro_fullrank": 0.98}),
    "f": ("false", "sign", {"pymc_nuts": 0.6, "pyro_meanfield": 0.99, "pyro_fullrank": 0.62}),
    "edge": ("false", "scale", {"pymc_nuts": 0.9, "pyro_meanfield": 0.96, "pyro_fullrank": 0.9}),
    "soft": ("true", "scale", {"pymc_nuts": 0.99, "pyro_meanfield": 0.8, "pyro_fullrank": 0.99}),
    "rev": ("false", "sign", {"pymc_nuts": 0.01, "pyro_meanfield": 0.99, "pyro_fullrank": 0.01}),
    "vary": (None, "sign", {"pymc_nuts": 0.99, "pyro_meanfield": 0.995, "pyro_fullrank": 0.99}),
}


def verdict(p: float, mc: float) -> str:
    if abs(p - 0.95) <= 2 * mc or abs(p - 0.05) <= 2 * mc:
        return "undecided"
    return "credible" if p >= 0.95 else ("contradicted" if p <= 0.05 else "undecided")


def claim_rows(label: str, base: str, seed: str, failed: bool = False) -> list[dict]:
    out = []
    s, repeat = int(seed), label != base
    for name, (truth, kind, ps) in CLAIMS.items():
        truth = truth or ("true" if s < 2 else "false")
        undecided = 0.1 < ps[base] < 0.85
        p = ps[base] + (0.02 * s + 0.004 * repeat if undecided else 0.0)
        if name == "rev" and base == "pyro_meanfield" and s >= 2:
            p = 0.01
        mc = 0.008 + 0.001 * s if name == "edge" else 0.002 + 0.001 * s + 0.002 * repeat
        out.append({"scenario": "s", "replicate": seed, "method_label": label,
                    "method_base": base, "fit_repeat": int(repeat), "family": "vi",
                    "failed": failed, "name": name, "kind": kind, "probability": p,
                    "mc_error": mc, "n_draws": 1000, "verdict": verdict(p, mc),
                    "counted_with": None, "truth_status": truth,
                    "truth_value": truth == "true"})  # fmt: skip
    return out


def world():
    """NUTS (and its repeat) and three methods over four seeds; full-rank's first fit of
    seed 0 fails the approximation rule; every run metric varies by seed and fit."""
    claims, runs = [], []
    for seed in SEEDS:
        for base in METHODS:
            for label in (base, f"{base} (repeat 1)"):
                repeat = label != base
                failed = base == "pyro_fullrank" and seed == "0" and not repeat
                claims += claim_rows(label, base, seed, failed)
                auc = (0.6 if repeat else 0.7) + 0.01 * int(seed) + 0.1 * (base == "pymc_nuts")
                sd = 1.0 if base == "pymc_nuts" else 0.5 + 0.01 * int(seed)
                runs.append({"run": f"{label}-{seed}", "status": "complete", "replicate": seed,
                             "method_label": label, "method_base": base,
                             "fit_repeat": int(repeat),
                             "family": "mcmc" if base == "pymc_nuts" else "vi",
                             "verdict.failed": failed, "timing.fit_s": 10.0 + int(seed),
                             "timing.total_s": 20.0 + int(seed),
                             "predictive.auc": auc, "data.n_workers": 600,
                             "data.n_worksites": 10, "fit.chains": 2, "fit.tune": 150,
                             "fit.draws": 250, "fit.n_steps_run": 300 + 10 * int(seed),
                             "fit.num_steps": 5000,
                             "cross.sigma_worker_ratio": 1.0 - 0.1 * (base != "pymc_nuts"),
                             "reference.blocks.sigma_worker.sd_ratio_median": sd})  # fmt: skip
    runs_df = pd.DataFrame(runs)
    for col in ("fit.chains", "fit.tune", "fit.draws"):
        runs_df.loc[runs_df["family"] == "vi", col] = float("nan")
    runs_df.loc[runs_df["family"] == "mcmc", ["fit.n_steps_run", "fit.num_steps"]] = float("nan")
    return pd.DataFrame(claims), runs_df


def evidence():
    claims, runs = world()
    return {e.method: e for e in method_evidence(claims, runs, TH)}


def test_method_evidence_counts_flips_beside_both_floors_and_scores_the_truth():
    ev = evidence()
    assert list(ev) == list(METHODS)  # NUTS first, then sweep order
    mf = ev["pyro_meanfield"]
    # per seed: f, soft and (seeds 0, 1) rev flip: 3, 3, 2, 2
    assert mf.flips.flips.mean == 2.5 and mf.flips.flips.n == 4
    assert mf.flips.floor_flips.mean == 0.0 and mf.repeat_flips.mean == 0.0
    assert mf.flips.flips.lo < 2.5 < mf.flips.flips.hi  # a spread, not a point
    e = mf.errors
    # contestable: f and edge (NUTS undecided), vary (truth varies); t, soft and rev are
    # settled.  Mean-field's confident verdicts there: f credible x4 (wrong), vary x4 (2 wrong)
    assert (e.contestable.confident_error.k, e.contestable.confident_error.n) == (6, 8)
    # every claim adds t (4, right) and rev (4: 2 credible though false)
    assert (e.every_claim.confident_error.k, e.every_claim.confident_error.n) == (8, 16)
    assert e.every_claim.n_credible_false == 8 and e.every_claim.n_contradicted_true == 0
    nuts = ev["pymc_nuts"].errors.contestable.confident_error
    assert (nuts.k, nuts.n) == (2, 4)  # vary, credible though false in seeds 2 and 3
    assert e.contestable.brier.lo < e.contestable.brier.estimate < e.contestable.brier.hi
    assert mf.verdict_changes.test.only_a == 10 and mf.verdict_changes.test.only_b == 0
    full = ev["pyro_fullrank"]
    assert full.flips.excess.mean == 0.0 and (full.failed.k, full.failed.n) == (1, 8)
    assert full.errors.n_failed_runs == 1
    assert full.fit_s.n == 8 and full.fit_s.mean == pytest.approx(11.5)


def test_the_truth_scores_use_each_runs_monte_carlo_error():
    # "edge": mean-field's 0.96 is within two Monte Carlo errors (0.008-0.011) of 0.95, so
    # the judge said undecided: no credible call, no error.  The truth scores must agree
    # with the verdicts the runs recorded.
    claims, _ = world()
    mf = evidence()["pyro_meanfield"].errors
    recorded = claims[(claims["method_label"] == "pyro_meanfield")]
    credible_false = (recorded["verdict"] == "credible") & (recorded["truth_status"] == "false")
    assert mf.every_claim.n_credible_false == int(credible_false.sum()) == 8
    assert mf.by_kind["scale"].confident_error.n == 0  # edge and soft are both undecided


def test_where_flips_go_softer_and_reversed_apart():
    claims, _ = world()
    d = flip_directions(claims, "pyro_meanfield", thresholds=TH)
    # f: sharper and wrong x4; soft: softer x4; rev: reversed x2 (seeds 0, 1)
    assert (d.sharper_right, d.sharper_wrong, d.softer, d.reversed, d.seeds) == (0, 4, 4, 2, 4)
    text = answer.direction_sentence("pyro_meanfield", d)
    assert "10 flips with a known truth (4 seeds)" in text
    assert "4 turn a confident NUTS verdict undecided and 2 reverse it" in text
    unknown = claims.assign(truth_status="not applicable")
    assert flip_directions(unknown, "pyro_meanfield", thresholds=TH).unknown == 10


def test_the_metric_table_reads_first_fits_and_the_floor_apart():
    _, runs = world()
    metric = tables.metric_table(runs, list(METHODS))
    # mean-field's first fits: 0.70-0.73 (mean 0.715); its repeats (0.60-0.63) never mix in
    rows = {r.split(" | ")[0]: r for r in metric.splitlines()}
    assert "| 0.715 (" in rows["| pyro_meanfield"] and "| 0.815 (" in rows["| pymc_nuts"]
    assert "| 0.715 (" in rows["| pymc_nuts (repeat 1): the floor"]
    first = re.search(r"\| 0\.715 \((\S+) to (\S+)\) \|$", rows["| pyro_meanfield"])
    assert float(first.group(1)) < 0.715 < float(first.group(2))
    # each scale's sd ratio beside its median ratio: a matched median, a halved spread
    heads = metric.splitlines()[0]
    assert heads.index("σ_worker median / NUTS") < heads.index("σ_worker sd / NUTS")
    row = next(r for r in metric.splitlines() if r.startswith("| pyro_meanfield |"))
    assert "| 0.90 (0.90 to 0.90) | 0.52 (" in row


def test_answer_decides_by_the_paired_tests_and_states_what_it_could_detect():
    claims, runs = world()
    w = world_evidence(claims, runs.assign(status="complete"), TH)
    text = answer.errors_sentence("paper-wrong", w)
    assert "NUTS 50% (" in text and "2/4)" in text
    assert "pyro_meanfield 75% (" in text and "6/8)" in text
    # paired: the same seeds and claims; McNemar on the pairs where exactly one errs
    assert "paired difference +25 points" in text and "McNemar 4 vs 0 discordant" in text
    flips = answer.flips_sentence("paper-wrong", w.methods)
    assert "pyro_meanfield flips 2.5 (" in flips and "over 4 seeds" in flips
    assert "verdict changes are higher than NUTS's repeat's" in flips
    assert "McNemar 10 vs 0 discordant" in flips
    remedy = answer.remedy_sentence(w.methods, w.facts)  # full-rank: a failed run
    assert "or a failed run: pyro_fullrank" in remedy and "detectable ±" in remedy
    calib = answer.calibration_sentence("paper-wrong", w)
    assert calib.startswith("**Calibration** (paper-wrong world")
    assert "pyro_meanfield's is" in calib and "pyro_fullrank's is" in calib  # every method


def test_the_answer_leads_with_sharpened_errors_judged_against_the_promise():
    claims, runs = world()
    w = world_evidence(claims, runs.assign(status="complete"), TH)
    text = answer.answer_section({"wrong": ("Paper wrong", w)}, thresholds=TH)
    bullets = [ln for ln in text.splitlines() if ln.startswith("- ")]
    assert bullets[0].startswith("- **Sharpened verdicts** (wrong world)")
    assert bullets[1].startswith("- **Calibration** (wrong world")
    # claim f: NUTS undecided, mean-field credible and wrong in all 4 seeds
    assert "pyro_meanfield 100% (" in bullets[0] and "4/4)" in bullets[0]
    assert "more than the 5% a calibrated P allows" in bullets[0]
    iv = BootInterval(0.04, 0.01, 0.07, 0.015, 10, 4, 100)
    assert answer.promise_text(iv, 0.05).startswith("not distinguishable from the 5%")
    assert answer.promise_text(iv._replace(hi=0.05), 0.05).startswith("within the 5%")
    assert answer.promise_text(iv._replace(lo=float("nan")), 0.05).startswith("not tested")


def test_compare_says_no_difference_only_with_the_smallest_detectable_difference():

    null = PairedDifference(BootInterval(0.01, -0.02, 0.04, 0.015, 10), 0.041)
    assert headline.compare(null).startswith("not distinguishable from NUTS's")
    assert "detects a difference of ±4 points or more with 80% power" in headline.compare(null)
    up = PairedDifference(BootInterval(0.1, 0.03, 0.17, 0.04, 10), 0.11)
    assert headline.compare(up).startswith("higher than NUTS's (paired difference +10 points")
    # three seeds that each moved by one pair: the bootstrap has no spread, but 3 vs 0
    # discordant pairs is no evidence (exact p = 0.25): no difference is claimed
    flat = PairedDifference(BootInterval(0.14, 0.14, 0.14, 0.0, 3), 0.43, McNemar(3, 0, 0.25, 21))
    assert headline.paired_verdict(flat) == "no difference detected"
    assert headline.paired_verdict(flat._replace(test=McNemar(9, 0, 0.004, 21))) == "higher"


def test_tables_say_how_many_seeds_and_mark_the_floor_and_failed_methods():
    claims, runs = world()
    w = world_evidence(claims, runs, TH)
    text = tables.method_table(w.methods, w.facts)
    assert "| pymc_nuts (reference) |" in text and "| pyro_fullrank | 4 | 1/8 |" in text
    per_claim = tables.claim_table(claims, thresholds=TH)
    f = re.search(r"\| f \| 0\.36 \((\S+) to (\S+)\)", per_claim)  # 0.39 .. 0.33 by seed
    assert float(f.group(1)) < 0.36 < float(f.group(2)) and "0% of 4" in per_claim
    # the Monte Carlo error of ΔP is the mean over seeds of sqrt(mc_mf² + mc_nuts²)
    assert re.search(r"\| t \| [^|]+ \| [^|]+ \| 0\.005 \| 1000 \|", per_claim)
    # per claim over the 4 seeds: mean-field's verdict differs from NUTS's, mean-field and
    # NUTS confident and wrong (the last three columns)
    last3 = {r.split(" | ")[0][2:]: r.rstrip(" |").split(" | ")[-3:]
             for r in per_claim.splitlines()[2:]}  # fmt: skip
    assert last3["f"] == ["4/4", "4/4", "0/4"]  # sharpened and wrong in every seed
    assert last3["soft"] == ["4/4", "0/4", "0/4"]  # undecided is never wrong
    assert last3["rev"] == ["2/4", "2/4", "0/4"]
    assert last3["vary"] == ["0/4", "2/4", "2/4"]  # both wrong where the truth turns
    assert last3["t"] == last3["edge"] == ["0/4", "0/4", "0/4"]
    assert headline.interval_text(Interval(0.5, float("nan"), float("nan"), 1)) == "0.50 (1 seed)"
    assert headline.rate_text(rate_interval(0, 0)) == "–"
    failed_all = runs.assign(**{"verdict.failed": runs["method_base"] == "pyro_fullrank"})
    w2 = world_evidence(claims, failed_all, TH)
    assert "| pyro_fullrank — FAILED | 4 | 8/8 |" in tables.method_table(w2.methods, w2.facts)
    err = errors.errors_table([e.errors for e in w2.methods], "contestable", w2.facts)
    assert "| pyro_fullrank — FAILED |" in err
    said = answer.remedy_sentence(w2.methods, w2.facts)  # prose names it, without a table mark
    assert "pyro_fullrank (every run failed the approximation rule) (" in said
    assert "FAILED" not in said
    mf = claims.assign(failed=claims["method_base"] == "pyro_meanfield")
    said = answer.errors_sentence("wrong", world_evidence(mf, runs, TH))
    assert "without them no confident verdict is left to count." in said
    # NUTS's repeat on 2 of the 4 seeds: the flip columns rest on those 2, and say so
    cut = claims["method_label"].eq("pymc_nuts (repeat 1)") & claims["replicate"].isin(["0", "1"])
    w3 = world_evidence(claims[~cut], runs, TH)
    assert "| pyro_fullrank | 4 (flips: 2) | 1/8 |" in tables.method_table(w3.methods, w3.facts)


def test_world_section_states_facts_from_the_runs_and_the_world_prior():
    claims, runs = world()
    study = Study("wrong", "A hand-made world", "evidence", world="Hand-made.")
    result = StudyResult(study, Path("."), runs, 1.0, claims, TH)
    text = world_section(result, world_evidence(claims, runs, TH), "figures/r.png")
    assert "600 units in 10 groups per data set" in text
    assert "**Errors against the truth**" in text and "![reliability](figures/r.png)" in text
    assert "excluded from the headline rates: `t`, `soft`, `rev`" in text
    assert "only when the world is drawn from the model's prior" in text
    # a posterior world: its drawn sigma_worker per seed is a range, not a list of "fixed" values
    sigma = runs["replicate"].astype(float) / 100 + 0.006
    drawn = runs.assign(**{"data.meta.source.name": "paper_calibrated",
                           "data.sigma_worker_truth": sigma})  # fmt: skip
    prior = errors.prior_text(world_evidence(claims, drawn, TH).facts)
    assert "drawn per seed from the NUTS posterior of `paper_calibrated`" in prior
    assert "(σ_worker 0.006 to 0.036 over the seeds)" in prior and "fixed at" not in prior
    caveat = facts.caveats({"wrong": world_evidence(claims, runs, TH).facts}, {}, "pymc_nuts")
    assert "pymc_nuts: 2 chains × (150 + 250) draws" in caveat
    assert "pyro_meanfield 300–330" in caveat and "(cap 5,000)" in caveat
    assert "4,000" not in caveat and "400 + 300" not in caveat  # nothing written in advance


def test_header_names_no_absolute_machine_path():
    root = facts.REPO
    cmd = f"ppl-compare-findings --runs-dir {root}/outputs/smoke --docs=/tmp/x/docs -- a=1"
    got = facts.relative_command(cmd)
    assert got.startswith("ppl-compare-findings --runs-dir outputs/smoke --docs=")
    assert got.endswith(" -- a=1")
    docs = got.split("--docs=")[1].split(" ")[0]
    assert not docs.startswith("/") and (root / docs).resolve() == Path("/tmp/x/docs")
    study = Study("right", "T", "evidence")
    result = StudyResult(study, Path("."), pd.DataFrame({"status": ["complete"]}), 1.0)
    timings = {"right": {"wall_s": 60.0, "command": cmd, "commit": "abc"}}
    text = header([result], timings, cmd, "abc")
    assert str(root) not in text and not re.search(r"(^|[\s`=])/", text)


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


def test_the_cost_section_is_measured_seconds_per_cell_and_the_wall_time():
    from evaluation.report.study.document import cost_section

    _, runs = world()
    result = StudyResult(Study("null", "Null world", "evidence_null"), Path("x"), runs, 1234.0)
    text = cost_section([result])
    # per method and seed: first fit + repeat, (20 + s) s each: mean over s = 0..3 of 2 (20 + s)
    assert "**Null world**: 24 complete jobs, wall time 20.6 min." in text
    assert "| pyro_meanfield | 4 | 2.0 | 43 | 23 |" in text
    assert "reconstructed" not in text and "before the savings" not in text


def test_the_closing_note_quotes_the_answer_the_seeds_and_the_wall_time():
    claims, runs = world()
    w = world_evidence(claims, runs.assign(status="complete"), TH)
    text = answer.closing_note({"null": ("Null world", w)}, TH, "103.0 min on 2 cores",
                               "Within a factor 1.5 of both printed scales: x.")  # fmt: skip
    line = next(ln for ln in text.splitlines() if ln.startswith("- _Null world_"))
    assert "seeds per method: pymc_nuts 4, pyro_meanfield 4, pyro_fullrank 4" in line
    assert answer.sharpened_sentence("null", w, TH) in line  # the answer's first sentence
    assert "- _Paper forensics._ Within a factor 1.5" in text
    assert text.rstrip().endswith("Measured wall time of the study: 103.0 min on 2 cores.")
