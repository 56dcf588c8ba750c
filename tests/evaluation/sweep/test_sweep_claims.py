"""The sweep's findings: claims flipping between each method and the NUTS run of the same data."""

from __future__ import annotations

import json

from sweepfakes import make_fake_sweep

from evaluation.claims.ledger import summarise
from evaluation.commands.sweep_files import build_report
from evaluation.report.sweep.findings import flip_counts, flipped_claims, headline
from evaluation.sweep.claims import claim_pairs, flips_table
from evaluation.sweep.comparison import comparison_table
from evaluation.sweep.records import collect_runs


def claim(name, p, verdict, identified=True):
    return {"name": name, "kind": "sign", "statement": name, "source": None, "params": {},
            "identified": identified, "not_identified_because": None if identified else "x",
            "probability": p, "verdict": verdict, "n_draws": 10, "truth_value": None,
            "note": None}  # fmt: skip


def section(nuts: bool) -> dict:
    """4 claims: 'q3' not identified; NUTS finds 1 credible, mean-field 3 (2 flips)."""
    claims = [
        claim("ndo", 0.99, "credible"),
        claim("latino", 0.99 if not nuts else 0.80, "credible" if not nuts else "undecided"),
        claim("sigma", 0.97 if not nuts else 0.03, "credible" if not nuts else "contradicted"),
        claim("q3", None, "not identified", identified=False),
    ]
    return {"thresholds": {"credible": 0.95, "contradicted": 0.05},
            "subject": "the paper's {n} conclusions", "summary": summarise(claims),
            "claims": claims,
            "beta_site": {"a": {"q05": -1.0, "q25": -0.5, "median": 0.0, "q75": 0.5,
                                "q95": 1.0, "truth": 0.2}}}  # fmt: skip


def sweep_with_claims(tmp_path):
    root = make_fake_sweep(tmp_path / "sweep")
    for path in root.glob("*/metrics.json"):
        metrics = json.loads(path.read_text())
        metrics["claims"] = section(metrics["family"] == "mcmc")
        path.write_text(json.dumps(metrics))
    return root


def test_flips_table_counts_the_claims_that_change_verdict_against_nuts(tmp_path):
    root = sweep_with_claims(tmp_path)
    records = collect_runs(root)
    pairs = claim_pairs(comparison_table(records), records)
    assert [(p.method, p.replicate) for p in pairs] == [("pyro_meanfield", "0"),
                                                        ("pyro_meanfield", "1")]  # fmt: skip
    table = flips_table(pairs)
    assert list(table["flips"]) == [2, 2] and list(table["identified"]) == [3, 3]
    assert list(table["credible (method)"]) == [3, 3] and list(table["credible (NUTS)"]) == [1, 1]
    assert "sigma (contradicted → credible)" in table["flipped claims (NUTS → method)"][0]
    assert set(flipped_claims(pairs)["claim"]) == {"latino", "sigma"}
    text = headline(pairs)
    assert text.startswith("[paper, seed 0] Of the paper's 4 conclusions, 1 is not identified "
                           "by its design; pyro_meanfield finds 3 of the other 3 credible, "
                           "NUTS (pymc_nuts) 1; the 2 that flip between pyro_meanfield and "
                           "NUTS: latino, sigma.")  # fmt: skip


def test_the_sweep_report_leads_with_the_findings_and_draws_the_heat_map(tmp_path):
    root = sweep_with_claims(tmp_path)
    build_report(root)
    md = (root / "report.md").read_text()
    assert md.index("## Findings") < md.index("## Overview")
    assert "the 2 that flip between pyro_meanfield and NUTS: latino, sigma" in md
    html = (root / "report.html").read_text()
    assert "the 2 that flip between pyro_meanfield and NUTS" in html
    assert (root / "figures" / "claims_heatmap.png").exists()
    assert (root / "figures" / "forest.png").exists()


def test_without_claims_the_sweep_headline_says_nothing_was_compared(tmp_path):
    root = make_fake_sweep(tmp_path / "sweep")
    records = collect_runs(root)
    pairs = claim_pairs(comparison_table(records), records)
    assert pairs == [] and "no conclusion was compared" in headline(pairs)


def test_the_headline_shows_the_nuts_vs_nuts_flips_as_its_noise_floor(tmp_path):
    root = sweep_with_claims(tmp_path)
    records = collect_runs(root)
    pairs = claim_pairs(comparison_table(records), records)
    assert "noise floor" not in headline(pairs)  # one NUTS run per data set: no floor to show
    nuts = section(nuts=True)
    floor = pairs[0]._replace(method="stan_nuts", baseline=True, own=nuts,
                              rows=[{"name": "latino", "changed": True},
                                    {"name": "ndo", "changed": False}])  # fmt: skip
    text = headline([*pairs, floor])
    assert "the 2 that flip between pyro_meanfield and NUTS: latino, sigma " in text
    assert "(noise floor: NUTS vs NUTS flips 1)." in text


def test_many_pairs_give_counts_per_data_set_and_method_not_a_wall_of_names(tmp_path):
    """A study sweep (several data sets x many methods): the headline states the ledger once
    and the range of flips; flip_counts gives method x data set with the NUTS-vs-NUTS floor."""
    root = sweep_with_claims(tmp_path)
    records = collect_runs(root)
    pairs = claim_pairs(comparison_table(records), records)  # 2 seeds, 2 flips each
    none = [{"name": "latino", "changed": False}]
    more = [p._replace(method=m, rows=none) for m in ("stan_meanfield", "pymc_dadvi")
            for p in pairs]  # fmt: skip
    floor = pairs[0]._replace(method="stan_nuts", baseline=True,
                              rows=[{"name": "latino", "changed": True}])  # fmt: skip
    every = [*pairs, *more, floor]
    text = headline(every)
    assert text.count("Of the paper's 4 conclusions") == 1 and "latino, sigma" not in text
    assert "Over 2 data sets" in text and "the methods flip 0–2 of them" in text
    assert "disagree on 1–1 (1 of 2 data sets have a second NUTS run)" in text
    counts = flip_counts(every).set_index("method")
    assert list(counts.columns) == ["paper, seed 0", "paper, seed 1"]
    assert list(counts.index) == ["pyro_meanfield", "stan_meanfield", "pymc_dadvi",
                                  "NUTS vs NUTS (floor)"]  # fmt: skip
    assert counts.loc["pyro_meanfield"].tolist() == [2, 2]
    assert counts.loc["stan_meanfield"].tolist() == [0, 0]
    assert counts.loc["NUTS vs NUTS (floor)"].tolist() == [1, "–"]
    assert headline(pairs).startswith("[paper, seed 0] Of the paper's 4")  # few pairs: named


def test_not_evaluated_claims_and_near_duplicates_add_no_flips(tmp_path):
    """Issue 21: a clustering claim not evaluated in one run (it is 'identified' either way)
    is no flip; a near-duplicate (counted_with) flipping with its partner counts once; a
    weakly identified flip is marked in the headline and the tables."""
    root = make_fake_sweep(tmp_path / "sweep")

    def ledger(nuts: bool) -> dict:
        claims = [
            claim("k2", 0.99 if nuts else None, "credible" if nuts else "not evaluated"),
            claim("sigma", 0.01 if nuts else 0.99, "contradicted" if nuts else "credible"),
            {**claim("share", 0.02 if nuts else 0.98, "contradicted" if nuts else "credible"),
             "counted_with": "sigma"},
            {**claim("cvar", 0.80 if nuts else 0.99, "undecided" if nuts else "credible"),
             "weakly_identified": True},
        ]  # fmt: skip
        return {"thresholds": {"credible": 0.95, "contradicted": 0.05},
                "summary": summarise(claims), "claims": claims}  # fmt: skip

    for path in root.glob("*/metrics.json"):
        metrics = json.loads(path.read_text())
        metrics["claims"] = ledger(metrics["family"] == "mcmc")
        path.write_text(json.dumps(metrics))
    records = collect_runs(root)
    pairs = claim_pairs(comparison_table(records), records)
    table = flips_table(pairs)
    assert list(table["flips"]) == [2, 2]  # sigma (with share) and cvar; k2 is no flip
    text = table["flipped claims (NUTS → method)"][0]
    assert "k2" not in text and "share (contradicted → credible; counted with sigma)" in text
    assert "cvar (weakly identified) (undecided → credible)" in text
    assert "the 2 that flip between pyro_meanfield and NUTS: sigma, cvar (weakly identified)" in (
        headline(pairs)
    )
    every = flipped_claims(pairs)
    assert set(every["claim"]) == {"sigma", "share", "cvar"}
    assert set(every.loc[every["claim"] == "share", "counted"]) == {"with sigma"}


def test_a_verdict_change_within_monte_carlo_noise_is_listed_but_never_counted(tmp_path):
    """NUTS 0.955 ± 0.0066 (undecided: within 2 errors of 0.95) against 0.968 ± 0.0056
    (credible): no threshold between them, 1.45 joint errors apart: not a flip."""
    root = make_fake_sweep(tmp_path / "sweep")
    for path in root.glob("*/metrics.json"):
        metrics = json.loads(path.read_text())
        nuts = metrics["family"] == "mcmc"
        cmean = claim("cmean", 0.955 if nuts else 0.968, "undecided" if nuts else "credible")
        metrics["claims"] = section(nuts)
        metrics["claims"]["claims"].append({**cmean, "mc_error": 0.0066 if nuts else 0.0056})
        path.write_text(json.dumps(metrics))
    records = collect_runs(root)
    pairs = claim_pairs(comparison_table(records), records)
    table = flips_table(pairs)
    assert list(table["flips"]) == [2, 2]
    assert "cmean" not in table["flipped claims (NUTS → method)"][0]
    assert table["within noise (not counted)"][0] == "cmean (undecided → credible)"
    listed = flipped_claims(pairs).set_index("claim")
    assert set(listed.loc["cmean", "counted"]) == {"no: within Monte Carlo noise"}
    assert set(listed.loc["latino", "counted"]) == {"yes"}
    assert "cmean" not in headline(pairs)
