"""The study's long claims table: one row per (run, claim), read from a sweep's runs.

:func:`claims_table` is what :mod:`evaluation.study.evidence` reads (its module docstring
lists the columns): each complete run's ``claims`` section beside the run's labels from the
sweep's comparison table (:func:`evaluation.sweep.comparison.comparison_table`).  Numbers
only; no fit, file or figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from evaluation.sweep.columns import truthy
from evaluation.sweep.records import RunRecord

#: Columns of :func:`claims_table`, in order.
TABLE_COLUMNS = (
    "scenario", "replicate", "method_label", "method_base", "fit_repeat", "family", "failed",
    "name", "probability", "mc_error", "verdict", "counted_with", "truth_value",
)  # fmt: skip


def _entries(rec: RunRecord | None) -> list[dict]:
    section = None if rec is None else (rec.metrics or {}).get("claims")
    return list(section.get("claims") or []) if section else []


def claims_table(df: pd.DataFrame, records: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per (complete run, claim): labels, P(claim), its error, verdict and truth.

    Parameters
    ----------
    df : DataFrame
        The sweep's comparison table (``run``, ``status``, ``scenario``, ``replicate``,
        ``method_label``, ``method_base``, ``fit_repeat``, ``family``, ``verdict.failed``).
    records : sequence of RunRecord
        The same sweep's runs (their ``metrics["claims"]``).

    Returns
    -------
    DataFrame
        Columns :data:`TABLE_COLUMNS`; ``truth_value`` is True / False where the data's truth
        decides the claim, else None; ``failed`` is whether the run failed the approximation
        rule (:mod:`evaluation.metrics.verdict`).  Empty (with the columns) without claims.
    """
    recs = {r.name: r for r in records}
    rows = []
    done = df[df["status"] == "complete"] if "status" in df else df.iloc[0:0]
    for _, run in done.iterrows():
        for c in _entries(recs.get(run["run"])):
            rows.append({
                "scenario": str(run["scenario"]), "replicate": str(run["replicate"]),
                "method_label": str(run["method_label"]),
                "method_base": str(run.get("method_base", run["method_label"])),
                "fit_repeat": int(run.get("fit_repeat", 0) or 0),
                "family": str(run.get("family", "-")),
                "failed": truthy(run.get("verdict.failed")),
                "name": c["name"], "probability": c.get("probability"),
                "mc_error": c.get("mc_error"), "verdict": c.get("verdict"),
                "counted_with": c.get("counted_with"), "truth_value": c.get("truth_value"),
            })  # fmt: skip
    out = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    for col in ("probability", "mc_error"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    return out


__all__ = ["TABLE_COLUMNS", "claims_table"]
