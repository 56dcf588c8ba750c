"""The study's long claims table: one row per (run, claim), read from a sweep's runs.

:func:`claims_table` is what the study's statistics read (:mod:`evaluation.study.floors`
lists the columns they need): each complete run's ``claims`` section beside the run's labels
from the sweep's comparison table (:func:`evaluation.sweep.comparison.comparison_table`).
Numbers only; no fit, file or figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from evaluation.sweep.columns import truthy
from evaluation.sweep.records import RunRecord

#: Columns of :func:`claims_table`, in order.
TABLE_COLUMNS = (
    "scenario", "replicate", "method_label", "method_base", "fit_repeat", "family", "failed",
    "name", "kind", "probability", "mc_error", "n_draws", "verdict", "counted_with",
    "truth_status", "truth_value",
)  # fmt: skip


def truth_status(entry: dict) -> str:
    """A claim entry's ``truth_status`` ("true", "false", "not applicable", "unknown"); runs
    made before the key existed: from ``truth_value`` (None: "unknown")."""
    status = entry.get("truth_status")
    if status is not None:
        return str(status)
    value = entry.get("truth_value")
    return "unknown" if value is None else ("true" if value else "false")


def _truth_value(status: str) -> bool | None:
    return {"true": True, "false": False}.get(status)


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
        Columns :data:`TABLE_COLUMNS`; ``truth_status`` is the judge's (:func:`truth_status`),
        ``truth_value`` True / False where it is "true" / "false", else None; ``mc_error`` is
        P's Monte Carlo error and ``n_draws`` the draws P rests on; ``failed`` is whether the
        run failed the approximation rule (:mod:`evaluation.metrics.verdict`).  Empty (with
        the columns) without claims.
    """
    recs = {r.name: r for r in records}
    rows = []
    done = df[df["status"] == "complete"] if "status" in df else df.iloc[0:0]
    for _, run in done.iterrows():
        for c in _entries(recs.get(run["run"])):
            status = truth_status(c)
            rows.append({
                "scenario": str(run["scenario"]), "replicate": str(run["replicate"]),
                "method_label": str(run["method_label"]),
                "method_base": str(run.get("method_base", run["method_label"])),
                "fit_repeat": int(run.get("fit_repeat", 0) or 0),
                "family": str(run.get("family", "-")),
                "failed": truthy(run.get("verdict.failed")),
                "name": c["name"], "kind": c.get("kind", "-"),
                "probability": c.get("probability"), "mc_error": c.get("mc_error"),
                "n_draws": c.get("n_draws"), "verdict": c.get("verdict"),
                "counted_with": c.get("counted_with"), "truth_status": status,
                "truth_value": _truth_value(status),
            })  # fmt: skip
    out = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    for col in ("probability", "mc_error", "n_draws"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    return out


__all__ = ["TABLE_COLUMNS", "claims_table", "truth_status"]
