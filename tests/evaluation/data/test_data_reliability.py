"""Issue 16 items for the data layer: extreme values, thin splits and non-comma CSVs; issue 25
items 3, 5 and 8: what ppl-compare-export refuses, and a table path that is a directory."""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_tables import preset, small, write

from evaluation.data.export import main as export_main
from evaluation.data.export import write_example_tables
from evaluation.data.recipes import MAX_ABS_FEATURE
from evaluation.data.split import split_data
from evaluation.data.tables import DataValidationError, load_tables
from evaluation.data.twin import make_paper_twin

APP = str(Path(sys.executable).parent / "ppl-compare")


def load_strict(cfg: dict):
    """``load_tables`` with every warning (numpy overflow included) an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_tables(cfg)


def one_line_error(cfg: dict, pattern: str) -> str:
    with pytest.raises(DataValidationError, match=pattern) as info:
        load_strict(cfg)
    assert "\n" not in str(info.value)
    return str(info.value)


# ------------------------------------------------------------------------------ extreme values
@pytest.mark.parametrize("value", [1e300, -1e300, 1.7e308])
def test_huge_value_in_a_standardized_column_is_out_of_range(tmp_path, value):
    units, groups = small()
    units.loc[4, "x"] = value
    pattern = r"^units\.csv: column 'x': has out-of-range values for standardize"
    message = one_line_error(write(tmp_path, units, groups), pattern)
    assert f"{abs(value):g}" in message and "constant" not in message
    assert "put log before standardize" in message


def test_huge_value_taken_as_is_is_out_of_range_before_any_fit(tmp_path):
    units, groups = small()
    groups.loc[1, "size"] = 1e300
    one_line_error(write(tmp_path, units, groups),
                   r"^groups\.csv: column 'size': 1 row\(s\) have non-finite or out-of-range "
                   r"values after as_is \(e\.g\. 1e\+300; features must lie within \+-1e\+06 "
                   r"after the recipe\); add log or standardize to the recipe")  # fmt: skip


def test_the_documented_bound(tmp_path):
    units, groups = small()
    assert MAX_ABS_FEATURE == 1e6
    ok = load_strict(write(tmp_path, units, groups.assign(size=[1.0, -1e6, 1e6])))
    assert np.abs(ok.X_site).max() == 1e6
    one_line_error(write(tmp_path, units, groups.assign(size=[1.0, 2.0, 1.5e6])),
                   r"groups\.csv: column 'size': 1 row\(s\) .* \(e\.g\. 1500000\.0;")  # fmt: skip
    # the same values are fine once standardized or logged
    for recipe in ("standardize", ["log", "standardize"], "log1p"):
        cfg = write(tmp_path, units, groups.assign(size=[1.0, 2.0, 1e300]),
                    group_features={"size": recipe})  # fmt: skip
        if recipe == "standardize":
            one_line_error(cfg, "out-of-range values for standardize")
        else:
            assert np.isfinite(load_strict(cfg).X_site).all()


@pytest.mark.parametrize(("table", "column"), [("units", "n_notes"), ("groups", "pct_male")])
def test_paper_tables_name_the_extreme_column(tmp_path, table, column):
    paths = write_example_tables(tmp_path, n_groups=6, n_units=200)
    path = getattr(paths, table)
    frame = pd.read_csv(path)
    frame[column] = frame[column].astype(float)
    frame.loc[2, column] = 1e300
    frame.to_csv(path, index=False)
    cfg = preset("paper_tables", units_path=str(paths.units), groups_path=str(paths.groups))
    one_line_error(cfg, rf"^{table}\.csv: column '{column}': has out-of-range values")


def test_app_stops_with_one_line_and_writes_nothing(tmp_path):
    paths = write_example_tables(tmp_path / "tables", n_groups=6, n_units=200)
    units = pd.read_csv(paths.units)
    units["n_notes"] = units["n_notes"].astype(float)
    units.loc[0, "n_notes"] = 1e300
    units.to_csv(paths.units, index=False)
    out = tmp_path / "run"
    proc = subprocess.run(
        [APP, "debug=fast", "data=paper_tables", f"data.units_path={paths.units}",
         f"data.groups_path={paths.groups}", f"hydra.run.dir={out}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "units.csv: column 'n_notes': has out-of-range values" in proc.stderr
    assert "Traceback" not in proc.stderr and "RuntimeWarning" not in proc.stderr
    assert "lr" not in proc.stderr.split("error:")[-1]  # no advice to lower the learning rate
    assert not (out / "posterior.nc").exists() and not (out / "metrics.json").exists()


# ------------------------------------------------------------------------------ thin splits
def test_a_split_leaving_one_training_worker_per_worksite_warns(caplog):
    data = make_paper_twin()
    with caplog.at_level(logging.WARNING, logger="evaluation.data.split"):
        split_data(data, test_fraction=0.2, seed=0)
    assert caplog.records == []
    with caplog.at_level(logging.WARNING, logger="evaluation.data.split"):
        train, _ = split_data(data, test_fraction=0.99, seed=0)
    (record,) = caplog.records
    thin = int(np.sum(np.bincount(train.site, minlength=120) < 2))
    assert thin > 30
    assert record.getMessage() == (
        f"data.test_fraction=0.99 leaves fewer than 2 training workers in {thin} of 120 "
        f"worksites ({train.n_workers} training workers in all); their worker effects rest on "
        "one worker each — lower data.test_fraction"
    )


def test_worksite_sizes_below_two_do_not_count_as_thin(caplog):
    data = make_paper_twin(n_worksites=5, n_workers=10, seed=0, prevalence=0.5)  # 2 per site
    with caplog.at_level(logging.WARNING, logger="evaluation.data.split"):
        split_data(data, test_fraction=0.5, seed=0)
    # every worksite keeps 1 of its 2 workers: thin, and more than a quarter of them
    assert "leaves fewer than 2 training workers in 5 of 5 worksites" in caplog.text


def test_a_worksite_split_leaving_one_worksite_warns(caplog):
    data = make_paper_twin(n_worksites=10, n_workers=2000, seed=0, prevalence=0.5)
    with caplog.at_level(logging.WARNING, logger="evaluation.data.split"):
        split_data(data, test_fraction=0.5, by="worksites", seed=0)
        assert caplog.records == []
        split_data(data, test_fraction=0.9, by="worksites", seed=0)
    assert [r.getMessage() for r in caplog.records] == [
        "data.test_fraction=0.9 (data.split=worksites) leaves 1 of 10 worksites for training; "
        "sigma_site cannot be learned from it — lower data.test_fraction"
    ]


# ------------------------------------------------------------------------------ delimiters
@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_a_non_comma_csv_is_read_with_its_delimiter(tmp_path, sep, caplog):
    units, groups = small()
    cfg = write(tmp_path, units, groups)
    want = load_strict(cfg)
    units.to_csv(tmp_path / "units.csv", index=False, sep=sep)
    groups.to_csv(tmp_path / "groups.csv", index=False, sep=sep)
    with caplog.at_level(logging.INFO, logger="evaluation.data.tables"):
        got = load_strict(cfg)
    np.testing.assert_array_equal(got.X_worker, want.X_worker)
    np.testing.assert_array_equal(got.X_site, want.X_site)
    assert got.worksite_ids == want.worksite_ids == ("00", "01", "02")
    assert f"units.csv: the header line has no comma; reading it with delimiter {sep!r}" in (
        caplog.text
    )


def test_an_unknown_delimiter_is_named_in_the_error(tmp_path):
    units, groups = small()
    cfg = write(tmp_path, units, groups)
    units.to_csv(tmp_path / "units.csv", index=False, sep=":")
    message = one_line_error(cfg, r"^units\.csv: column\(s\) \['y', 'g'\] not found \(columns: "
                             r"'y:g:x:k:colour'\)")  # fmt: skip
    assert message.endswith(
        "the file has a single column: is it delimited by something other than comma, "
        "semicolon, tab or |? save it comma-separated"
    )


# ------------------------------------------------- issue 25 items 3, 5: ppl-compare-export
TINY_EXPORT = ["--n-worksites", "4", "--n-workers", "60"]


def test_export_never_replaces_tables_without_force(tmp_path, capsys):
    assert export_main([str(tmp_path), *TINY_EXPORT]) == 0
    (tmp_path / "units.csv").write_text("my edited table\n")
    groups = (tmp_path / "groups.csv").read_bytes()
    capsys.readouterr()
    assert export_main([str(tmp_path), *TINY_EXPORT, "--seed", "1"]) == 2
    out = capsys.readouterr()
    assert out.err == (f"ppl-compare-export: error: units.csv and groups.csv already exist in "
                       f"{tmp_path}; nothing written (--force replaces them)\n")  # fmt: skip
    assert out.out == ""
    assert (tmp_path / "units.csv").read_text() == "my edited table\n"
    assert (tmp_path / "groups.csv").read_bytes() == groups
    assert export_main([str(tmp_path), *TINY_EXPORT, "--seed", "1", "--force"]) == 0
    assert (tmp_path / "units.csv").read_text().startswith("worker_id,worksite_id,signed")
    assert (tmp_path / "groups.csv").read_bytes() != groups
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("where", ["a file", "a read-only dir"])
def test_export_where_it_cannot_write_is_one_line(tmp_path, capsys, monkeypatch, where):
    target = tmp_path / "out"
    if where == "a file":
        target.write_text("x")
        reason = f"{target} (it is a file, not a directory)"
    else:  # as root a chmod does not stop the write: the file system refuses it here

        def refuse(path, *args, **kwargs):
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr("evaluation.data.export.io.write_text", refuse)
        reason = f"{target / 'units.csv'} (Permission denied)"
    assert export_main([str(target), *TINY_EXPORT]) == 2
    out = capsys.readouterr()
    assert out.err == (
        f"ppl-compare-export: error: cannot write to {reason}; choose another OUT_DIR\n"
    )
    assert out.out == "" and not (target.is_dir() and list(target.iterdir()))


def test_a_table_path_that_is_a_directory_is_named_as_one(tmp_path):
    units, groups = small()
    cfg = write(tmp_path, units, groups)
    cfg["units_path"] = str(tmp_path)
    one_line_error(cfg, rf"^{tmp_path}: a directory, not a file; set data\.units_path=PATH")
