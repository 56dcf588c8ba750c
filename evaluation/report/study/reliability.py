"""The study's reliability figure, one per world (issue 29): per method, the mean P(claim) in
each calibration bin against the fraction of those claims that are true, with the
interval with the seed as the unit; the diagonal is perfect calibration.  Drawn from
:class:`evaluation.study.truth.CalibrationBin` (numbers from :mod:`evaluation.study.errors`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from evaluation import io
from evaluation.study.errors import ErrorEvidence
from evaluation.study.truth import CALIBRATION_BINS


def reliability_points(e: ErrorEvidence) -> np.ndarray:
    """Rows (mean P, fraction true, lo, hi, n) of the bins holding a pair."""
    rows = [(b.mean_p, b.fraction_true.estimate, b.fraction_true.lo, b.fraction_true.hi, b.n)
            for b in e.calibration if b.n]  # fmt: skip
    return np.asarray(rows, dtype=float).reshape(-1, 5)


def reliability_figure(title: str, errors: Sequence[ErrorEvidence], path: Path) -> Path:
    """Draw one world's reliability diagram (a panel per method) to ``path``; returns it."""
    plt = io.pyplot()
    n = max(len(errors), 1)
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n + 0.6, 3.2), sharey=True, squeeze=False)
    for ax, e in zip(axes[0], errors, strict=False):
        pts = reliability_points(e)
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        for edge in CALIBRATION_BINS[1:-1]:
            ax.axvline(edge, color="0.9", lw=0.6, zorder=0)
        if len(pts):
            lo = np.clip(np.nan_to_num(pts[:, 1] - pts[:, 2]), 0.0, None)
            hi = np.clip(np.nan_to_num(pts[:, 3] - pts[:, 1]), 0.0, None)
            ax.errorbar(pts[:, 0], pts[:, 1], yerr=np.vstack([lo, hi]), fmt="o", ms=3,
                        capsize=2, color="C0")  # fmt: skip
            for x, y, k in zip(pts[:, 0], pts[:, 1], pts[:, 4], strict=True):
                ax.annotate(f"{k:.0f}", (x, y), textcoords="offset points", xytext=(3, -9),
                            fontsize=6, color="0.35")  # fmt: skip
        ce = e.contestable.calibration_error.estimate
        label = f"calibration error {ce:.2f}" if math.isfinite(ce) else "no pairs"
        ax.set_title(f"{e.method}\n{label}", fontsize=8)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("mean P(claim) in the bin", fontsize=7)
        ax.tick_params(labelsize=7)
    axes[0][0].set_ylabel("fraction true (90% CI)", fontsize=7)
    fig.suptitle(f"{title}: reliability over the contestable claims", fontsize=9)
    fig.tight_layout()
    return io.save_figure(fig, path, dpi=80)


__all__ = ["reliability_figure", "reliability_points"]
