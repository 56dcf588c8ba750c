"""The study's claims table (evaluation.study.table), from hand-made run records: every column
the statistics read is carried, per run and claim, and the truth status of old runs is
derived from their truth value."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from evaluation.study.table import TABLE_COLUMNS, claims_table, truth_status
from evaluation.sweep.records import RunRecord


def entry(name, p, mc, n_draws, verdict, **extra):
    return {"name": name, "kind": "sign", "probability": p, "mc_error": mc,
            "n_draws": n_draws, "verdict": verdict, "counted_with": None, **extra}  # fmt: skip


def record(run, claims):
    return RunRecord(run, Path(run), "complete", {"claims": {"claims": claims}}, None, [], {})


def runs_table(rows):
    return pd.DataFrame([{"status": "complete", "scenario": "s", "family": "vi",
                          "verdict.failed": False, **r} for r in rows])  # fmt: skip


def test_claims_table_keeps_p_its_monte_carlo_error_and_draws_per_run_and_claim():
    records = [
        record("a", [entry("x", 0.96, 0.011, 50, "undecided", truth_status="false",
                           truth_value=False),
                     entry("y", 0.2, 0.004, 1200, "undecided", truth_status="not applicable",
                           truth_value=None, truth_note="one cluster")]),
        record("b", [entry("x", 0.99, 0.002, 1200, "credible", truth_value=True)]),  # an old run
    ]  # fmt: skip
    df = runs_table([
        {"run": "a", "replicate": "0", "method_label": "vi", "method_base": "vi",
         "fit_repeat": 0, "verdict.failed": True},
        {"run": "b", "replicate": "1", "method_label": "nuts", "method_base": "nuts",
         "fit_repeat": 0},
    ])  # fmt: skip
    got = claims_table(df, records)
    assert list(got.columns) == list(TABLE_COLUMNS)
    x = got.set_index(["method_label", "name"])
    assert x.loc[("vi", "x"), "mc_error"] == pytest.approx(0.011)
    assert x.loc[("vi", "y"), "mc_error"] == pytest.approx(0.004)
    assert x.loc[("nuts", "x"), "mc_error"] == pytest.approx(0.002)
    assert x.loc[("vi", "x"), "n_draws"] == 50 and x.loc[("nuts", "x"), "n_draws"] == 1200
    assert x.loc[("vi", "x"), "probability"] == pytest.approx(0.96)
    assert x.loc[("vi", "x"), "failed"] and not x.loc[("nuts", "x"), "failed"]
    assert x.loc[("vi", "y"), "truth_status"] == "not applicable"
    assert x.loc[("vi", "y"), "truth_value"] is None
    assert x.loc[("nuts", "x"), "truth_status"] == "true"  # derived: no truth_status key
    assert x.loc[("vi", "x"), "kind"] == "sign"


def test_truth_status_of_old_runs_comes_from_the_truth_value():
    assert truth_status({"truth_value": True}) == "true"
    assert truth_status({"truth_value": False}) == "false"
    assert truth_status({"truth_value": None}) == "unknown"
    assert truth_status({}) == "unknown"
    assert truth_status({"truth_status": "not applicable", "truth_value": None}) == (
        "not applicable"
    )


def test_claims_table_without_claims_or_complete_runs_is_empty_with_its_columns():
    df = runs_table([{"run": "a", "replicate": "0", "method_label": "vi", "method_base": "vi",
                      "status": "failed"}])  # fmt: skip
    got = claims_table(df, [record("a", [entry("x", 0.5, 0.01, 10, "undecided")])])
    assert got.empty and list(got.columns) == list(TABLE_COLUMNS)
    none = claims_table(df.assign(status="complete"), [])
    assert none.empty
