"""The sweep report's "Paper forensics" section: which sigma reading could the paper's table
have printed?  Shown only in a sweep that ran forensic variants (``experiment=paper_forensics``;
:func:`~evaluation.report.forensics.is_forensic_sweep`); the table and the verdict are the
report's shared :mod:`evaluation.report.forensics`, which the findings use too.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from evaluation.report.forensics import forensic_runs, intro, readings_table, verdict
from evaluation.report.sweep.sections import Section
from evaluation.sweep.records import RunRecord


def forensics_section(df: pd.DataFrame, records: Sequence[RunRecord] = ()) -> Section | None:
    """The section, or None unless the sweep ran forensic variants with sigma readings."""
    runs = forensic_runs(df)
    if runs.empty:
        return None
    return Section(
        "Paper forensics",
        [("p", intro()), ("table", readings_table(runs)), ("p", verdict(runs))],
    )


__all__ = ["forensics_section"]
