"""Claims in a run: the config group, the run's claims section, a user's ledger end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from evalhelpers import make_data, make_idata, normal_draws, point
from hydra import compose, initialize_config_dir

from evaluation.claims.draws import ClusterDraws
from evaluation.claims.load import load_ledger
from evaluation.claims.section import (
    CLUSTERING_OFF,
    check_run_claims,
    claims_section,
    cluster_draws,
    ledger_from_config,
)
from evaluation.config import CONF_DIR, plain, schema
from evaluation.data.export import write_example_tables
from evaluation.metrics.draws import extract

APP = str(Path(sys.executable).parent / "ppl-compare")

#: A user's ledger: two claims on the user's own column names (data=tables below).
USER_CLAIMS = """\
subject: "my {n} hypotheses"
thresholds: {credible: 0.9, contradicted: 0.1}
claims:
  - name: ndo_helps
    kind: sign
    feature: FEATURE
    direction: positive
  - name: ndo_beats_pct_male
    kind: contrast
    weights: {ndo: 1.0, pct_male: -1.0}
    direction: positive
"""


def composed(*overrides: str):
    schema.register()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=list(overrides))


@pytest.mark.parametrize(
    ("overrides", "n_claims"),
    [((), 19), (("claims=none",), 0), (("data=tables",), 0), (("data=paper_tables",), 19),
     (("data=tables", "claims=paper"), 19), (("experiment=main",), 19),
     (("data=paper_calibrated",), 19)],
)  # fmt: skip
def test_the_claims_group_follows_the_data_and_claims_none_turns_it_off(overrides, n_claims):
    ledger = ledger_from_config(composed(*overrides).get("claims"))
    assert (0 if ledger is None else len(ledger.claims)) == n_claims


def test_the_paper_ledger_names_its_subject_and_an_empty_one_is_off():
    ledger = ledger_from_config(composed().claims)
    assert ledger.subject == "the paper's {n} conclusions"
    assert ledger_from_config(None) is None
    assert ledger_from_config({"claims": []}) is None


def test_a_wrong_feature_is_caught_before_the_fit_naming_claim_and_feature():
    data = make_data()  # features s0, s1 / w0, w1
    node = {"claims": [{"name": "mine", "kind": "sign", "feature": "s9", "direction": "positive"}]}
    with pytest.raises(ValueError, match=r"claim 'mine': unknown site feature 's9'") as err:
        check_run_claims(node, data)
    assert "\n" not in str(err.value)
    node["claims"][0]["feature"] = "s1"
    assert check_run_claims(node, data) is not None


def test_claims_section_adds_intervals_truth_and_the_clustering_off_note():
    truth = point(make_data(), scale=1.0)
    data = make_data(truth=truth)
    centre = {**truth, "beta_site": np.array([2.0, -2.0])}
    idata = make_idata(normal_draws(data, centre, 0.1), data)
    ledger = load_ledger({"claims": [
        {"name": "up", "kind": "sign", "feature": "s0", "direction": "positive"},
        {"name": "two", "kind": "cluster_separates", "features": ["s0"]},
    ]})  # fmt: skip
    out = claims_section(ledger, data, extract(idata, data), None, CLUSTERING_OFF)
    up, two = out["claims"]
    assert up["verdict"] == "credible" and up["probability"] == 1.0
    assert two["verdict"] == "not evaluated" and two["note"] == CLUSTERING_OFF
    row = out["beta_site"]["s0"]
    assert row["q05"] < row["q25"] < row["median"] < row["q75"] < row["q95"]
    assert row["truth"] == pytest.approx(truth["beta_site"][0])
    labels = np.array([[0, 0, 1, 1]] * 3)
    clustered = claims_section(ledger, data, extract(idata, data), ClusterDraws(labels))
    assert clustered["claims"][1]["probability"] == 1.0


def test_cluster_draws_takes_the_clustered_draws_and_their_coefficients():
    class Gibbs:
        labels = np.array([[0, 1, 1, 0], [1, 1, 0, 0]])

    class Result:
        draws = Gibbs()
        draw_index = np.array([3, 1])

    class Coef:
        draws = np.arange(5 * 4 * 2, dtype=float).reshape(5, 4, 2)

    out = cluster_draws(Result(), Coef())
    assert out.labels.shape == (2, 4)
    np.testing.assert_array_equal(out.beta_worker, Coef.draws[[3, 1]])
    Result.draws = None
    assert cluster_draws(Result(), Coef()) is None


# ----------------------------------------------------------------------------- end to end
def _user_run(tmp_path: Path, feature: str) -> tuple[subprocess.CompletedProcess, Path]:
    tables = write_example_tables(tmp_path / "tables", n_groups=6, n_units=240, seed=0)
    conf = tmp_path / "myconf" / "claims"
    conf.mkdir(parents=True)
    (conf / "my_claims.yaml").write_text(USER_CLAIMS.replace("FEATURE", feature))
    out = tmp_path / "run"
    proc = subprocess.run(
        [APP, "data=tables", f"data.units_path={tables.units}",
         f"data.groups_path={tables.groups}", "data.outcome=signed",
         "data.group_id=worksite_id", "data.unit_features=[is_male,n_notes]",
         "data.group_features={pct_male:standardize,ndo:standardize}",
         f"hydra.searchpath=[file://{tmp_path / 'myconf'}]", "claims=my_claims",
         "backend=pyro_meanfield", "backend.num_steps=50", "evaluation.figures=false",
         "evaluation.clustering.enabled=false", f"hydra.run.dir={out}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "PPL_COMPARE_CACHE": str(tmp_path / "cache")},
    )  # fmt: skip
    return proc, out


def test_a_user_claims_file_on_data_tables_runs_end_to_end(tmp_path):
    proc, out = _user_run(tmp_path, "ndo")
    assert proc.returncode == 0, proc.stderr[-3000:]
    section = json.loads((out / "metrics.json").read_text())["claims"]
    assert [c["name"] for c in section["claims"]] == ["ndo_helps", "ndo_beats_pct_male"]
    assert all(c["identified"] and c["probability"] is not None for c in section["claims"])
    assert section["thresholds"] == {"credible": 0.9, "contradicted": 0.1}
    assert section["summary"]["n_with_truth"] == 0  # real tables: no truth
    report = (out / "report.md").read_text()
    assert report.index("## Findings") < report.index("## What ran")
    assert "Of my 2 hypotheses, all are identified by the design" in report


def test_a_wrong_feature_name_in_a_user_claims_file_exits_1_with_one_line(tmp_path):
    proc, out = _user_run(tmp_path, "nod")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr[-2000:]
    assert lines[0].startswith("ppl-compare: error: ")
    assert "claim 'ndo_helps'" in lines[0] and "'nod'" in lines[0]
    assert not (out / "posterior.nc").exists()  # failed before the fit


def test_claims_on_columns_the_design_dropped_are_not_evaluated():
    from evaluation.claims.ledger import evaluate_ledger
    from evaluation.claims.load import load_ledger
    from evaluation.config import CONF_DIR
    from evaluation.data.twin import make_paper_twin

    data = make_paper_twin(n_worksites=30, n_workers=1500, sigma_worker=0.5, design="identified")
    assert "campaign_length_q1" in data.meta["dropped_site_features"]
    ledger = load_ledger(CONF_DIR / "claims" / "paper.yaml")
    truth = {k: np.asarray(v, dtype=float)[None, None] for k, v in data.truth.items()}
    section = evaluate_ledger(ledger, data, truth)
    by_name = {c["name"]: c for c in section["claims"]}
    dropped = [c for c in section["claims"] if "design dropped" in (c["note"] or "")]
    assert dropped, "a paper claim names campaign_length_q1"
    assert all(c["verdict"] == "not evaluated" and c["probability"] is None for c in dropped)
    assert all("campaign_length_q1" in c["note"] or "log_mean_degree" in c["note"] for c in dropped)
    assert all(c["truth_status"] == "not applicable" and "lacks" in c["truth_note"]
               for c in dropped)  # fmt: skip
    assert section["summary"]["n_not_applicable"] == len(dropped)
    assert by_name["ndo_positive"]["verdict"] != "not evaluated"
    assert len(section["claims"]) == len(ledger.claims)


def test_the_judge_reads_the_clustering_claims_truth_on_the_oracle_clustering():
    """The judge's path (the app's and api.judge's): the clustering judge runs the paper's
    procedure on the true beta_worker, the claims read it; the same truths as evaluating the
    claims on that oracle clustering directly, none of them "unknown"."""
    from evaluation.claims.ledger import evaluate_ledger
    from evaluation.claims.section import oracle_draws
    from evaluation.clustering.oracle import oracle_clustering
    from evaluation.clustering.pipeline import run_clustering
    from evaluation.clustering.settings import settings
    from evaluation.data.twin import make_paper_twin
    from evaluation.judge import claims_for

    twin = make_paper_twin(n_worksites=20, n_workers=1000, sigma_worker=0.5, n_clusters=0)
    conf = {**plain(composed().evaluation.clustering), "n_draws": 4, "n_iter": 60,
            "burn_in": 30, "n_seeds": 2}  # fmt: skip
    draws = {k: np.asarray(v, float)[None, None].repeat(4, 1) for k, v in twin.truth.items()}
    idata = make_idata(draws, twin)
    ledger = load_ledger(CONF_DIR / "claims" / "paper.yaml")
    section = claims_for(
        ledger, twin, extract(idata, twin), run_clustering(idata.posterior, twin, conf)
    )
    oracle = oracle_draws(oracle_clustering(twin, settings(conf)))
    direct = evaluate_ledger(ledger, twin, draws, oracle=oracle)["claims"]
    assert [c["truth_status"] for c in section["claims"]] == [c["truth_status"] for c in direct]
    assert "unknown" not in {c["truth_status"] for c in section["claims"]}
