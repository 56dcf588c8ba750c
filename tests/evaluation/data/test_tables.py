"""Tests of the two-table loader (evaluation.data.tables), its recipes and the twin exporter."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hydra import compose, initialize_config_dir

from evaluation.data.export import export_twin, main, write_example_tables
from evaluation.data.features import PAPER_SITE_FEATURES, PAPER_WORKER_FEATURES
from evaluation.data.load import load_data
from evaluation.data.split import split_data
from evaluation.data.tables import DataValidationError, load_tables
from evaluation.data.twin import make_paper_twin

CONF = Path(__file__).resolve().parents[3] / "conf"
TINY = {"n_worksites": 8, "n_workers": 300, "sigma_worker": 0.5, "seed": 1}  # = tiny_twin


def preset(name: str, **overrides) -> dict:
    """A data config file as a plain dict (``${seed}`` replaced), with overrides."""
    cfg = yaml.safe_load((CONF / "data" / f"{name}.yaml").read_text())
    cfg["seed"] = 0
    cfg.update(overrides)
    return cfg


def assert_same_data(got, want) -> None:
    # the loader runs the twin's own feature code on the same raw numbers (CSV floats in
    # shortest round-trip form), so the arrays agree exactly; 1e-12 leaves room for round-off
    for field in ("X_site", "X_worker"):
        np.testing.assert_allclose(getattr(got, field), getattr(want, field), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(got.y, want.y)
    np.testing.assert_array_equal(got.site, want.site)
    assert got.worksite_ids == want.worksite_ids
    assert got.site_features == want.site_features == PAPER_SITE_FEATURES
    assert got.worker_features == want.worker_features == PAPER_WORKER_FEATURES


# ------------------------------------------------------------------------------ round trip
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_round_trip_twin_export_load(tmp_path, tiny_twin, fmt):
    if fmt == "parquet":
        pytest.importorskip("pyarrow", reason="Parquet is the optional [parquet] extra")
    paths = export_twin(tmp_path, fmt=fmt, **TINY)
    data = load_tables(preset("paper_tables", units_path=paths.units, groups_path=paths.groups))
    assert_same_data(data, tiny_twin)
    design = data.meta["design"]
    assert design["site_features"] == list(PAPER_SITE_FEATURES)
    assert design["dropped_groups"] == [] and design["n_groups"] == tiny_twin.n_worksites
    json.dumps(design)  # goes into metrics.json


def test_round_trip_through_hydra_and_load_data(tmp_path):
    paths = write_example_tables(tmp_path, n_groups=6, n_units=200, seed=0)
    overrides = ["+data=paper_tables", "+seed=0", f"data.units_path={paths.units}",
                 f"data.groups_path={paths.groups}"]  # fmt: skip
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose(overrides=overrides)
    data = load_data(cfg.data)
    twin = make_paper_twin(n_worksites=6, n_workers=200, sigma_worker=0.5, prevalence=0.3)
    assert_same_data(data, twin)
    assert data.name == "paper_tables"


def test_exporter_cli(tmp_path, capsys):
    assert main([str(tmp_path / "out"), "--n-worksites", "5", "--n-workers", "60"]) == 0
    units = pd.read_csv(tmp_path / "out" / "units.csv")
    groups = pd.read_csv(tmp_path / "out" / "groups.csv")
    assert len(units) == 60 and len(groups) == 5
    assert {"signed", "worksite_id", "first_convo_quartile"} <= set(units.columns)
    assert "data=paper_tables" in capsys.readouterr().out
    assert main([str(tmp_path / "bad"), "--n-worksites", "1"]) == 2
    assert "--n-worksites must be at least 2" in capsys.readouterr().err


def test_raw_time_column_override_via_hydra(tmp_path):
    """A first-conversation time instead of quartile codes: one command-line override."""
    paths = write_example_tables(tmp_path, n_groups=6, n_units=200)
    units = pd.read_csv(paths.units)
    units["first_convo_time"] = np.random.default_rng(0).uniform(0, 100, len(units))
    units.to_csv(paths.units, index=False)
    override = ("data.unit_features.first_convo_quartile={column: first_convo_time, "
                "recipe: quantile_bin, k: 4, levels: null, other: null}")  # fmt: skip
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose(overrides=["+data=paper_tables", "+seed=0", override,
                                 f"data.units_path={paths.units}",
                                 f"data.groups_path={paths.groups}"])  # fmt: skip
    data = load_data(cfg.data)
    assert data.worker_features == PAPER_WORKER_FEATURES
    q = data.X_worker[:, 1:5]
    assert (q.sum(1) == 1).all() and list(q.sum(0)) == [50, 50, 50, 50]  # equal-count bins


# ------------------------------------------------------------------------------ generic tables
def write(tmp_path, units: pd.DataFrame, groups: pd.DataFrame, **cfg) -> dict:
    """Write a small pair of CSVs; return a data=tables config for them."""
    units.to_csv(tmp_path / "units.csv", index=False)
    groups.to_csv(tmp_path / "groups.csv", index=False)
    base = preset("tables", units_path=str(tmp_path / "units.csv"),
                  groups_path=str(tmp_path / "groups.csv"), outcome="y", group_id="g",
                  unit_features={"x": "standardize"}, group_features={"size": "as_is"})  # fmt: skip
    base.update(cfg)
    return base


def small(n_groups: int = 3, n: int = 30) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    ids = [f"0{j}" for j in range(n_groups)]
    units = pd.DataFrame({"y": np.arange(n) % 2, "g": [ids[i % n_groups] for i in range(n)],
                          "x": rng.normal(size=n), "k": rng.poisson(2.0, n),
                          "colour": rng.choice(["red", "blue"], n)})  # fmt: skip
    groups = pd.DataFrame({"g": ids, "size": np.arange(1, n_groups + 1) * 10.0})
    return units, groups


def test_generic_tables_order_ids_and_recipes(tmp_path):
    units, groups = small()
    groups = groups.iloc[::-1]  # not sorted: the groups table's order is kept
    units.loc[0, "k"] = 0  # log of a column with zeros -> log1p, stated
    cfg = write(tmp_path, units, groups, unit_features={
        "k": ["log", "standardize"],
        "x": None,
        "colour": {"recipe": "onehot", "levels": ["red", "blue"]},
    })  # fmt: skip
    data = load_tables(cfg)
    assert data.worksite_ids == ("02", "01", "00")  # strings, leading zeros kept
    assert data.worker_features == ("log_k", "x", "colour_red", "colour_blue")  # config order
    np.testing.assert_array_equal(data.X_worker[:, 1], units["x"])  # as_is
    assert [data.worksite_ids[s] for s in data.site] == list(units["g"])
    rec = data.meta["design"]["unit_recipes"][0]
    assert rec["notes"] == [f"log1p used instead of log: {(units['k'] == 0).sum()} zero value(s)"]
    expected = np.log1p(units["k"])
    np.testing.assert_allclose(
        data.X_worker[:, 0], (expected - expected.mean()) / expected.std(ddof=0)
    )
    assert any("log1p" in w for w in data.meta["design"]["warnings"])


def test_list_form_and_quantile_bins(tmp_path):
    units, groups = small(n_groups=5, n=40)
    cfg = write(tmp_path, units, groups,
                unit_features=[{"column": "x", "recipe": "quantile_bin", "k": 4}],
                group_features=[{"column": "size", "recipe": ["log", "standardize"],
                                 "name": "log_size"}])  # fmt: skip
    data = load_tables(cfg)
    assert data.worker_features == ("x_q1", "x_q2", "x_q3", "x_q4")
    assert data.X_worker.sum(0).tolist() == [10, 10, 10, 10]
    assert data.site_features == ("log_size",)


@pytest.mark.parametrize("spelling", [("yes", "no"), ("TRUE", "false"), (1.0, 0.0)])
def test_outcome_spellings(tmp_path, spelling):
    units, groups = small()
    units["y"] = [spelling[i % 2] for i in range(len(units))]
    data = load_tables(write(tmp_path, units, groups))
    assert data.y.tolist() == [i % 2 == 0 for i in range(len(units))]


def test_empty_group_warned_and_dropped(tmp_path, caplog):
    units, groups = small()
    groups = pd.concat([groups, pd.DataFrame({"g": ["lonely"], "size": [5.0]})])
    with caplog.at_level(logging.WARNING, logger="evaluation.data.tables"):
        data = load_tables(write(tmp_path, units, groups))
    assert "lonely" not in data.worksite_ids and data.n_worksites == 3
    assert data.meta["design"]["dropped_groups"] == ["lonely"]
    assert "have no units and were dropped" in caplog.text


def test_parquet_without_pyarrow_says_pip_install(tmp_path, monkeypatch):
    units, groups = small()
    cfg = write(tmp_path, units, groups, units_path=str(tmp_path / "units.parquet"))
    (tmp_path / "units.parquet").write_bytes(b"not really parquet")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow -> ImportError
    with pytest.raises(DataValidationError, match=r"units\.parquet.*pip install pyarrow"):
        load_tables(cfg)


# ------------------------------------------------------------------------------ validation
def _missing_file(t, u, g):
    return write(t, u, g, groups_path=str(t / "nope.csv"))


def _dup_column(t, u, g):
    u = u.copy()
    u.insert(3, "x_dup", u["x"])
    u.columns = [*u.columns[:3], "x", *u.columns[4:]]
    return write(t, u, g)


def _dup_group(t, u, g):
    return write(t, u, pd.concat([g, g.iloc[[1]]]))


def _non_binary(t, u, g):
    u = u.assign(y=u["y"].astype(str))
    u.loc[3, "y"] = "maybe"
    return write(t, u, g)


def _nan(t, u, g):
    u = u.assign(x=u["x"].astype(float))
    u.loc[[4, 7], "x"] = np.nan
    return write(t, u, g)


def _inf(t, u, g):
    g = g.assign(size=g["size"].astype(float))
    g.loc[1, "size"] = np.inf
    return write(t, u, g)


def _unknown_group(t, u, g):
    u = u.copy()
    u.loc[[0, 5], "g"] = "zz"
    return write(t, u, g)


def _constant(t, u, g):
    return write(t, u.assign(x=3.0), g)


def _one_group(t, u, g):
    return write(t, u.assign(g="00"), g)


def _one_class(t, u, g):
    return write(t, u.assign(y=1), g)


CASES = {
    "missing file": (_missing_file, r"nope\.csv: file not found; set data\.groups_path="),
    "missing column": (lambda t, u, g: write(t, u, g, unit_features={"tenure": "as_is"}),
                       r"units\.csv: column\(s\) \['tenure'\] not found .*data\.unit_features"),
    "duplicate column": (_dup_column, r"units\.csv: duplicate column name\(s\) \['x'\]; rename"),
    "duplicate group id": (_dup_group, r"groups\.csv: duplicate group id\(s\) \['01'\] in "
                           r"column 'g'; each group must appear once"),
    "outcome not binary": (_non_binary, r"units\.csv: outcome column 'y' has 1 value\(s\) that "
                           r"are not 0/1, true/false or yes/no \(e\.g\. \['maybe'\]\); recode"),
    "nan": (_nan, r"units\.csv: 2 row\(s\) have missing or infinite values in 'x' \(2\) "
            r"\(first at data row 5\); fill or drop"),
    "inf": (_inf, r"groups\.csv: 1 row\(s\) have missing or infinite values in 'size'"),
    "unknown group": (_unknown_group, r"units\.csv: 2 unit\(s\) have group ids not in "
                      r"groups\.csv \(e\.g\. \['zz'\]\) in column 'g'; add those groups"),
    "constant feature": (_constant, r"units\.csv: column 'x': is constant \(3\) before "
                         r"standardize; remove it .* or change its recipe"),
    "constant after transformation": (lambda t, u, g: write(t, u, g, group_features={
                                          "size": {"recipe": "quantile_bin", "k": 4}}),
                                      r"groups\.csv: column 'size': feature 'size_q\d' is "
                                      r"constant \(0\) after quantile_bin; remove it"),
    "fewer than 2 groups": (_one_group, r"groups\.csv: only 1 group\(s\) with units; .* at "
                            r"least 2"),
    "single class": (_one_class, r"units\.csv: outcome column 'y' has only the value 1 "
                     r"\(30 rows\); the model needs both classes"),
    "negative log": (lambda t, u, g: write(t, u, g, unit_features={"x": "log"}),
                     r"units\.csv: column 'x': \d+ row\(s\) violate >= 0 needed by log"),
    "non-numeric": (lambda t, u, g: write(t, u, g, unit_features={"colour": "standardize"}),
                    r"units\.csv: column 'colour': is not numeric .*recipe onehot"),
    "unlisted level": (lambda t, u, g: write(t, u, g, unit_features={
                           "colour": {"recipe": "onehot", "levels": ["red"]}}),
                       r"column 'colour': \d+ row\(s\) have values not in levels \['red'\] "
                       r".*set other: zero"),
    "unknown step": (lambda t, u, g: write(t, u, g, unit_features={"x": "zscore"}),
                     r"data\.unit_features\.x: unknown recipe step\(s\) \['zscore'\]"),
    "expanding not last": (lambda t, u, g: write(t, u, g, unit_features={
                               "x": {"recipe": ["quantile_bin", "standardize"], "k": 3}}),
                           r"step 'quantile_bin' expands the column and must be the last"),
    "bad names": (lambda t, u, g: write(t, u, g, unit_features={
                      "x": {"recipe": "quantile_bin", "k": 3, "names": ["a", "b"]}}),
                  r"data\.unit_features\.x: names has 2 entries but k = 3"),
    "option misplaced": (lambda t, u, g: write(t, u, g, unit_features={
                             "x": {"recipe": "standardize", "k": 3}}),
                         r"option 'k' does not apply to recipe \['standardize'\]; remove it"),
    "outcome as feature": (lambda t, u, g: write(t, u, g, unit_features={"y": "as_is"}),
                           r"column 'y' is the outcome or group id .*remove it"),
    "no features": (lambda t, u, g: write(t, u, g, group_features={}),
                    r"data\.group_features is empty; list at least one group column, e\.g\. "
                    r"'\+data\.group_features\.COLUMN=standardize'"),
    "unset path": (lambda t, u, g: write(t, u, g, units_path="???"),
                   r"data\.units_path not set; pass e\.g\. data\.units_path=VALUE"),
    "paper design changed": (lambda t, u, g: write(t, u, g, kind="paper_tables"),
                             r"data=paper_tables: data\.group_features produce \['size'\], "
                             r"not the paper's .*use data=tables"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_validation_errors_are_one_line_and_actionable(tmp_path, case):
    build, pattern = CASES[case]
    units, groups = small()
    cfg = build(tmp_path, units, groups)
    with pytest.raises(DataValidationError, match=pattern) as info:
        load_tables(cfg)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_split_leaving_a_class_empty_is_a_clear_error(tmp_path):
    units, groups = small(n_groups=3, n=30)
    units["y"] = 0
    units.loc[[0], "y"] = 1  # one positive: a held-out split cannot have it on both sides
    data = load_tables(write(tmp_path, units, groups))
    with pytest.raises(ValueError, match=r"leaves the (train|test) set without class 1"):
        split_data(data, test_fraction=0.5, by="workers", seed=0)


def test_tables_config_from_the_command_line(tmp_path):
    units, groups = small()
    write(tmp_path, units, groups)
    overrides = [
        "+data=tables", "+seed=0", f"data.units_path={tmp_path / 'units.csv'}",
        f"data.groups_path={tmp_path / 'groups.csv'}", "data.outcome=y", "data.group_id=g",
        "+data.unit_features.x=standardize", "+data.unit_features.k=[log1p,standardize]",
        "+data.group_features.size={recipe: [log, standardize], name: log_size}",
    ]  # fmt: skip
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose(overrides=overrides)
    data = load_data(cfg.data)
    assert data.worker_features == ("x", "log1p_k")
    assert data.site_features == ("log_size",)
    assert data.meta["design"]["group_recipes"][0]["recipe"] == ["log", "standardize"]
