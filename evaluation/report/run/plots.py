"""Figure builders of one run, drawn from numbers the judges computed (Agg backend, no display).

Every function returns a Figure; :mod:`evaluation.report.run.figures` names and saves them
(atomically, through :func:`evaluation.io.save_figure`).  Matplotlib comes from
:func:`evaluation.io.pyplot`, the one Agg set-up.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evaluation.io import pyplot


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


def roc_figure(fpr: np.ndarray, tpr: np.ndarray, auc: float) -> Any:
    """ROC curve with its AUC and the chance diagonal."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(fpr, tpr, label=f"AUC = {auc:.3f}")
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (held out)")
    ax.legend(loc="lower right")
    return fig


def calibration_figure(cal: dict) -> Any:
    """Reliability diagram from :func:`evaluation.metrics.predictive.calibration` output."""
    plt = pyplot()
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
    plt = pyplot()
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
    plt = pyplot()
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


def loss_figure(
    loss: np.ndarray, *, title: str, converged_step: int | None, steps: np.ndarray | None = None
) -> Any:
    """The VI loss trace (negative ELBO), with the convergence step marked.

    ``steps`` are the iteration numbers of the recorded losses (CmdStan records one every
    ``eval_elbo`` iterations); by default one loss per step, numbered from 1.
    """
    plt = pyplot()
    loss = np.asarray(loss, dtype=float)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    x = np.arange(1, loss.size + 1) if steps is None else np.asarray(steps, dtype=float)
    ax.plot(x, loss, lw=0.6, color="tab:blue", marker="." if loss.size < 200 else None)
    if loss.size and np.isfinite(loss).all():
        lo, hi = np.percentile(loss, [0.5, 99.5]) if loss.size > 200 else (loss.min(), loss.max())
        pad = 0.05 * max(hi - lo, 1e-9)
        ax.set_ylim(lo - pad, hi + pad)
    if converged_step is not None:
        ax.axvline(
            converged_step,
            color="tab:red",
            ls="--",
            lw=1,
            label=f"converged at step {converged_step}",
        )
        ax.legend(loc="upper right")
    ax.set(xlabel="step", ylabel="loss (negative ELBO)", title=title)
    return fig
