"""A study's runs read back as tables: the builder the study document is written from.

:func:`load_study` reads one study's sweep dir into a :class:`StudyResult`: its comparison
table (:func:`evaluation.sweep.comparison.comparison_table`), the long claims table
(:func:`evaluation.study.table.claims_table`) and the ledger's thresholds as the runs recorded
them.  Numbers only; ``ppl-compare-findings`` hands the results to
:func:`evaluation.report.study.document.write_document`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from evaluation.claims.load import Thresholds
from evaluation.study.plan import Study
from evaluation.study.table import claims_table
from evaluation.sweep.comparison import comparison_table
from evaluation.sweep.records import collect_runs


class StudyResult(NamedTuple):
    """A study's comparison table, its long claims table, the ledger's thresholds, its sweep
    dir and wall seconds."""

    study: Study
    sweep_dir: Path
    df: pd.DataFrame
    wall_s: float | None
    claims: pd.DataFrame = pd.DataFrame()
    thresholds: Thresholds = Thresholds()


def _thresholds(records: Sequence[Any]) -> Thresholds:
    """The ledger's thresholds as the runs recorded them (the judge's default when none)."""
    for rec in records:
        th = ((rec.metrics or {}).get("claims") or {}).get("thresholds") or {}
        if "credible" in th:
            return Thresholds(float(th["credible"]), float(th.get("contradicted", 0.05)))
    return Thresholds()


def load_study(study: Study, sweep_dir: Path, wall_s: float | None) -> StudyResult:
    """Read a study's sweep dir into a :class:`StudyResult` (empty tables without runs)."""
    records = collect_runs(sweep_dir) if Path(sweep_dir).is_dir() else []
    df = comparison_table(records)
    claims = claims_table(df, records) if not df.empty else pd.DataFrame()
    return StudyResult(study, Path(sweep_dir), df, wall_s, claims, _thresholds(records))
