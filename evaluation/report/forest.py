"""Forest plot of ``beta_site`` by method: 90% and 50% intervals, the truth, a zero line.

Drawn from the ``beta_site`` intervals of a run's ``claims`` section
(:func:`evaluation.claims.section.beta_site_intervals`: q05, q25, median, q75, q95, truth) or,
without them, from ``posterior.beta_site`` (q05, median, q95: 90% intervals only).  One run:
``figures/forest.png``; a sweep: every method of one data set side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.io import pyplot, save_figure

FOREST_PNG = "forest.png"

#: {method label: {feature: {q05, q25, median, q75, q95, truth}}}
Intervals = Mapping[str, Mapping[str, Mapping[str, float]]]


def run_intervals(metrics: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """A run's ``beta_site`` intervals from its metrics (claims section, else posterior)."""
    rows = (metrics.get("claims") or {}).get("beta_site")
    if rows:
        return dict(rows)
    return dict((metrics.get("posterior") or {}).get("beta_site") or {})


def _num(row: Mapping[str, Any], key: str) -> float:
    value = row.get(key)
    return float(value) if value is not None else np.nan


def forest_figure(intervals: Intervals, title: str = "beta_site by method") -> Any:
    """Horizontal intervals per site feature, one offset row per method.

    Thick bar: 50% interval (when known), thin bar: 90%, dot: median, black x: the truth.
    Returns None when no method has an interval.
    """
    methods = [m for m, rows in intervals.items() if rows]
    if not methods:
        return None
    features = list(dict.fromkeys(f for m in methods for f in intervals[m]))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(features) * max(1, len(methods)) ** 0.5 + 1.5))
    step = 0.8 / len(methods)
    truth_drawn = False
    for i, method in enumerate(methods):
        y = np.arange(len(features)) + (i - (len(methods) - 1) / 2) * step
        rows = [intervals[method].get(f, {}) for f in features]
        lo90, hi90 = (np.array([_num(r, k) for r in rows]) for k in ("q05", "q95"))
        lo50, hi50 = (np.array([_num(r, k) for r in rows]) for k in ("q25", "q75"))
        med = np.array([_num(r, "median") for r in rows])
        color = f"C{i}"
        ax.hlines(y, lo90, hi90, color=color, lw=1)
        ax.hlines(y, lo50, hi50, color=color, lw=3.5)
        ax.plot(med, y, "o", color=color, ms=3.5, label=method)
        truth = np.array([_num(r, "truth") for r in rows])
        if np.isfinite(truth).any() and not truth_drawn:
            yt = np.arange(len(features))
            ax.plot(truth, yt, "x", color="k", ms=6, mew=1.5, label="truth")
            truth_drawn = True
    ax.axvline(0, color="grey", lw=0.8, ls="--")
    ax.set_yticks(np.arange(len(features)), features, fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="beta_site (logit scale): 90% (thin) and 50% (thick) intervals", title=title)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def write_forest(
    intervals: Intervals, path: Path, title: str = "beta_site by method"
) -> Path | None:
    """Draw :func:`forest_figure` and save it atomically at ``path`` (None: nothing to draw)."""
    fig = forest_figure(intervals, title)
    return None if fig is None else save_figure(fig, Path(path))


__all__ = ["FOREST_PNG", "forest_figure", "run_intervals", "write_forest"]
