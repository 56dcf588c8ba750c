"""The Python API (evaluation.api): data, fits and judgements without Hydra, and the same
numbers as the app, which runs through it."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from evalhelpers import run_app

from evaluation import api
from evaluation.claims.compare import summarise
from evaluation.config import ConfigError
from evaluation.data.twin import paper_twin_tables

#: debug=fast with data=paper (conf/debug/fast.yaml, conf/debug/data/fast_paper.yaml).
FAST_DATA = {"n_worksites": 10, "n_workers": 600}
FAST_VI = {"num_steps": 400, "num_draws": 200, "progress": False}


def test_make_data_takes_the_data_configs_knobs_and_names_a_wrong_one():
    data = api.make_data(n_worksites=6, n_workers=300, sigma_worker=1.0, seed=2)
    assert data.full.n_worksites == 6 and data.full.n_workers == 300
    assert data.full.truth["sigma_worker"] == pytest.approx(1.0, rel=0.5)
    assert data.train.n_workers + data.test.n_workers == 300
    assert data.full.meta["knobs"]["seed"] == 2
    everything = api.make_data(n_worksites=6, n_workers=300, test_fraction=0)
    assert everything.test is None and everything.train.n_workers == 300
    with pytest.raises(ValueError, match="sigma_wroker"):
        api.make_data(sigma_wroker=1.0)


def test_load_data_reads_tables_in_memory_with_recipes():
    tables = paper_twin_tables(n_worksites=5, n_workers=200, seed=1)
    data = api.load_data(
        tables.units, tables.groups, outcome="signed", group_id="worksite_id",
        unit_features={"n_notes": "standardize", "is_male": "as_is"},
        group_features={"n_edges": ["log", "standardize"]}, test_fraction=0.25,
    )  # fmt: skip
    assert data.full.n_workers == 200 and data.full.n_worksites == 5
    assert data.full.site_features == ("log_n_edges",)
    assert data.full.worker_features == ("n_notes", "is_male")
    np.testing.assert_array_equal(data.full.y, tables.units["signed"].to_numpy())
    assert data.test.n_workers == 50


def test_fit_refuses_an_unknown_backend_or_setting():
    data = api.make_data(**FAST_DATA)
    with pytest.raises(ValueError, match="pyro_meanfield"):
        api.fit(data, "pyro_meanfeld")
    with pytest.raises(ConfigError, match="num_step"):
        api.fit(data, "pyro_meanfield", num_step=10)
    with pytest.raises(ConfigError, match="num_steps=-5"):
        api.fit(data, "pyro_meanfield", num_steps=-5)


def test_the_api_gives_the_apps_numbers_and_judges_against_a_reference(tmp_path):
    """The app's debug run and the same fit through the API agree to the last digit (the app
    runs through the API); a judgement against a reference carries its comparison."""
    out = tmp_path / "run"
    proc = run_app("debug=fast", f"hydra.run.dir={out}", "evaluation.figures=false", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    written = json.loads((out / "metrics.json").read_text())

    data = api.make_data(**FAST_DATA)
    fit = api.fit(data, "pyro_meanfield", seed=0, **FAST_VI)
    judged = api.judge(fit, data)
    for section in ("predictive", "posterior", "clustering", "claims"):
        ours = json.loads(json.dumps(judged.metrics[section]))
        if section == "clustering":  # wall time
            ours.pop("runtime_s"), written[section].pop("runtime_s")
        assert ours == written[section], section
    assert [c["verdict"] for c in judged.claims] == [
        c["verdict"] for c in written["claims"]["claims"]
    ]
    assert len(judged.claims) == 19  # the paper's ledger, chosen by the data set's name
    # truths by the same procedure: the clustering claims' on the oracle clustering
    assert "unknown" not in {c["truth_status"] for c in judged.claims}
    assert api.judge(fit, data, claims=None).claims == []

    other = api.fit(data, "pyro_meanfield", seed=1, **FAST_VI)
    against = api.judge(fit, data, reference=other, evaluation={"clustering": {"enabled": False}})
    numbers = api.headline(against)
    assert 0.5 < numbers["sd_ratio"] < 2  # one mean-field fit against another: as wide
    assert numbers["auc"] == judged.metrics["predictive"]["auc"]
    assert "clustering" not in against.metrics and "approximation" in against.metrics
    flips = api.compare_claims(judged, judged)
    assert len(flips) == 19 and not flips["flip"].any() and not flips["within_noise"].any()
    # two different judgements: without clustering the clustering claims are not evaluated
    apart = api.compare_claims(against, judged).set_index("name")
    mine = {c["name"]: c for c in against.claims}
    assert apart.loc["two_clusters_selected", "verdict_method"] == "not evaluated"
    assert apart.loc["two_clusters_selected", "verdict_reference"] != "not evaluated"
    assert all(apart.loc[n, "p_method"] == mine[n]["probability"]
               for n in mine if mine[n]["probability"] is not None)  # fmt: skip


SAME_DATA = api.make_data(n_worksites=4, n_workers=60, seed=0).train


def judgement(claims, blocks=None) -> api.Judgement:
    """A judgement holding given metrics (the API's reading glue, no fit behind it)."""
    section = {"claims": claims, "summary": summarise(claims),
               "thresholds": {"credible": 0.95, "contradicted": 0.05}}  # fmt: skip
    metrics = {"claims": section, "reference": {"blocks": blocks or {}}}
    return api.Judgement(None, metrics, claims, SimpleNamespace(train=SAME_DATA))


def claim(name, p, verdict, mc):
    return {"name": name, "identified": True, "probability": p, "verdict": verdict,
            "mc_error": mc, "counted_with": None, "weakly_identified": False}  # fmt: skip


def test_compare_claims_reads_the_method_against_the_reference_with_the_one_flip_rule():
    nuts = judgement([claim("mf", 0.78, "undecided", 0.02),
                      claim("noise", 0.955, "undecided", 0.0066),
                      claim("same", 0.99, "credible", 0.003)])  # fmt: skip
    meanfield = judgement([claim("mf", 1.0, "credible", 0.0025),
                           claim("noise", 0.968, "credible", 0.0056),
                           claim("same", 0.985, "credible", 0.004)])  # fmt: skip
    rows = api.compare_claims(meanfield, nuts).set_index("name")
    assert list(rows["p_reference"]) == [0.78, 0.955, 0.99]
    assert list(rows["p_method"]) == [1.0, 0.968, 0.985]
    assert list(rows["verdict_reference"]) == ["undecided", "undecided", "credible"]
    assert list(rows["flip"]) == [True, False, False]  # beyond Monte Carlo noise only
    assert list(rows["within_noise"]) == [False, True, False]


def test_headline_reads_the_methods_sd_ratio_beside_the_floors():
    blocks = {"beta_site": {"sd_ratio_median": 0.42, "sd_ratio_median_floor": 0.98}}
    numbers = api.headline(judgement([claim("a", 0.99, "credible", 0.001)], blocks))
    assert (numbers["sd_ratio"], numbers["sd_ratio_floor"]) == (0.42, 0.98)
    assert numbers["credible"] == 1
