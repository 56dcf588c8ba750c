"""Small matplotlib helpers shared by the evaluator's figures (Agg backend, no display).

Every function returns a Figure; saving (atomically) is :func:`evaluation.io.save_figure`.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def kde_line(ax: Any, values: np.ndarray, grid: np.ndarray, **kw: Any) -> None:
    """Gaussian KDE of ``values`` on ``grid``; a vertical line when the values are constant."""
    from scipy.stats import gaussian_kde

    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return
    if values.size < 2 or np.ptp(values) < 1e-12:
        ax.axvline(values[0], **kw)
        return
    ax.plot(grid, gaussian_kde(values)(grid), **kw)


def roc_figure(p: np.ndarray, y: np.ndarray) -> Any:
    """ROC curve with its AUC and the chance diagonal."""
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _plt()
    fpr, tpr, _ = roc_curve(y, p)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(fpr, tpr, label=f"AUC = {roc_auc_score(y, p):.3f}")
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (held out)")
    ax.legend(loc="lower right")
    return fig


def calibration_figure(cal: dict) -> Any:
    """Reliability diagram from :func:`evaluation.metrics.predictive.calibration` output."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="perfect calibration")
    sizes = 20 + 200 * np.asarray(cal["count"]) / max(1, sum(cal["count"]))
    ax.plot(cal["mean_predicted"], cal["observed_frequency"], "-", color="C0")
    ax.scatter(
        cal["mean_predicted"],
        cal["observed_frequency"],
        s=sizes,
        color="C0",
        label="bins (area ~ count)",
    )
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="mean predicted probability",
        ylabel="observed frequency",
        title="Calibration",
    )
    ax.legend(loc="upper left")
    return fig


def ppc_kde_figure(
    rep_rate: np.ndarray,
    obs_rate: float,
    rep_site: np.ndarray,
    obs_site: np.ndarray,
    n_lines: int = 50,
) -> Any:
    """Posterior predictive KDEs: overall positive rate and per-worksite positive rate."""
    plt = _plt()
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
    lo, hi = min(rep_rate.min(), obs_rate), max(rep_rate.max(), obs_rate)
    pad = 0.1 * (hi - lo) + 1e-3
    kde_line(
        ax0,
        rep_rate,
        np.linspace(lo - pad, hi + pad, 200),
        color="C0",
        label="replicated (one per draw)",
    )
    ax0.axvline(obs_rate, color="k", lw=2, label="observed")
    ax0.set(
        xlabel="positive rate of the evaluated workers",
        ylabel="density",
        title="Posterior predictive: positive rate",
    )
    ax0.legend()
    grid = np.linspace(0, 1, 200)
    rng = np.random.default_rng(0)
    rows = rng.choice(rep_site.shape[0], size=min(n_lines, rep_site.shape[0]), replace=False)
    for i, r in enumerate(rows):
        kde_line(
            ax1,
            rep_site[r],
            grid,
            color="C0",
            alpha=0.15,
            lw=1,
            label="replicated draws" if i == 0 else None,
        )
    kde_line(ax1, obs_site, grid, color="k", lw=2, label="observed")
    ax1.set(
        xlabel="positive rate per worksite",
        ylabel="density",
        title="Posterior predictive: worksite rates",
    )
    ax1.legend()
    fig.tight_layout()
    return fig


def yao_figure(x: np.ndarray, y: np.ndarray, blocks: list[str], title: str) -> Any:
    """Scatter of standardised mean bias (x) against log sd ratio (y), coloured by block."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    blocks_arr = np.asarray(blocks)
    for i, b in enumerate(dict.fromkeys(blocks)):
        m = blocks_arr == b
        ax.scatter(x[m], y[m], s=14, alpha=0.7, color=f"C{i}", label=f"{b} ({m.sum()})")
    ax.axhline(0, color="k", lw=0.8)
    ax.axvline(0, color="k", lw=0.8)
    ax.set(
        xlabel="(mean - reference mean) / reference sd",
        ylabel="log(sd / reference sd)",
        title=title,
    )
    ax.legend(fontsize=8)
    return fig
