"""A sweep's comparison table (``comparison.csv``): one row per run, with its labels, cost
and verdict columns, and each run against the MCMC run of its data."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from evaluation.sweep.columns import add_cost, add_labels, add_verdicts
from evaluation.sweep.cross import add_cross_run
from evaluation.sweep.records import ID_COLUMNS, RunRecord, run_row


def comparison_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """A pandas DataFrame, one row per run, with scenario / method / replicate labels, the cost
    columns and each run against the MCMC run of its data (:mod:`evaluation.sweep.cross`)."""
    df = pd.DataFrame([run_row(r) for r in records])
    if df.empty:
        return pd.DataFrame(columns=list(ID_COLUMNS))
    df = add_verdicts(add_cross_run(add_cost(add_labels(df)), records))
    first = [c for c in ID_COLUMNS if c in df.columns]
    return df[first + sorted(c for c in df.columns if c not in first)]
