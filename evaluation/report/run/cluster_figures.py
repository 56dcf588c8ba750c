"""Figures of the worksite clustering (matplotlib Agg; files ``cluster_*.png``).

* ``cluster_fig6_coefficients.png`` - the paper's Fig. 6: posterior-mean coefficients coloured by
  cluster, as a PCA projection of the matrix and as a scatter of the two worker
  features whose coefficients vary most across worksites.
* ``cluster_fig7_site_features.png`` - the paper's Fig. 7: every worksite feature by cluster
  (box plots side by side, Kruskal-Wallis p next to each feature name).
* ``cluster_coclustering.png`` - co-clustering across posterior draws, ordered by cluster.
* ``cluster_log_joint.png`` - log-joint traces of the Gibbs seeds and the K-selection curve.

:func:`sigma_sweep_figure` draws the paper's Fig. 6 sweep (log joint over Gibbs iterations per
sigma, :mod:`evaluation.clustering.sigma_sweep`) for ``benchmarks/gmm_sigma_sweep.py``.

Drawn from the :class:`~evaluation.clustering.pipeline.Clustering` bundle that the clustering
judge returns (:func:`~evaluation.clustering.pipeline.run_clustering`: numbers only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from backends.spec import HierData
from evaluation.clustering.cluster import ClusteringResult
from evaluation.clustering.coefficients import Coefficients
from evaluation.clustering.pipeline import Clustering
from evaluation.clustering.sigma_sweep import SigmaSweep
from evaluation.clustering.site_features import FeatureTable
from evaluation.clustering.stability import coclustering
from evaluation.io import pyplot, save_figure


def _colours(labels: np.ndarray) -> list[str]:
    return [f"C{int(c) % 10}" for c in labels]


def fig6_coefficients(coef: Coefficients, labels: np.ndarray) -> Any:
    """PCA projection and top-2-variance scatter of the posterior-mean coefficients."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    z = coef.mean - coef.mean.mean(axis=0)
    u, sv, _ = np.linalg.svd(z, full_matrices=False)
    total = float((sv**2).sum())
    pcs = u[:, :2] * sv[:2] if sv.size >= 2 else np.column_stack([z[:, 0], np.zeros(len(z))])
    share = (sv[:2] ** 2 / total) if total > 0 else np.zeros(2)
    axes[0].scatter(pcs[:, 0], pcs[:, 1], c=_colours(labels), s=22, edgecolor="k", lw=0.3)
    axes[0].set(
        xlabel=f"PC1 ({share[0]:.0%})",
        ylabel=f"PC2 ({share[-1]:.0%})",
        title="PCA of the coefficients",
    )
    order = np.argsort(-coef.mean.std(axis=0))
    a, b = order[0], order[min(1, len(order) - 1)]
    axes[1].scatter(
        coef.mean[:, a], coef.mean[:, b], c=_colours(labels), s=22, edgecolor="k", lw=0.3
    )
    axes[1].set(
        xlabel=f"beta_worker[{coef.features[a]}]",
        ylabel=f"beta_worker[{coef.features[b]}]",
        title="two most variable features",
    )
    for c in np.unique(labels):
        axes[1].scatter([], [], c=f"C{int(c) % 10}", label=f"cluster {c} (n={np.sum(labels == c)})")
    axes[1].legend(fontsize=8)
    fig.suptitle("Worksite coefficients by cluster (posterior mean)")
    fig.tight_layout()
    return fig


def fig7_site_features(x_site: np.ndarray, labels: np.ndarray, table: FeatureTable) -> Any:
    """Box plots of every worksite feature by cluster, side by side on one axis."""
    from matplotlib.patches import Patch

    plt = pyplot()
    n, clusters = len(table.features), table.clusters
    width = 0.8 / len(clusters)
    fig, ax = plt.subplots(figsize=(8, 0.42 * n + 1.2))
    for i, c in enumerate(clusters):
        pos = np.arange(n) - 0.4 + width * (i + 0.5)
        ax.boxplot(
            [x_site[labels == c, f] for f in range(n)],
            positions=pos,
            widths=width * 0.9,
            orientation="horizontal",
            patch_artist=True,
            manage_ticks=False,
            showfliers=False,
            boxprops={"facecolor": f"C{int(c) % 10}", "alpha": 0.6},
            medianprops={"color": "k"},
        )
    handles = [
        Patch(
            facecolor=f"C{int(c) % 10}", alpha=0.6, label=f"cluster {c} (n={np.sum(labels == c)})"
        )
        for c in clusters
    ]
    names = [
        f"{f}  (p={p:.2g})" if np.isfinite(p) else f
        for f, p in zip(table.features, table.kruskal_p, strict=True)
    ]
    ax.set_yticks(np.arange(n), names, fontsize=8)
    ax.invert_yaxis()
    ax.set(
        xlabel="worksite feature value (as fed to the model)",
        title="Worksite features by cluster (Kruskal-Wallis p, unadjusted)",
    )
    ax.legend(handles=handles, fontsize=8, loc="lower right")
    return fig


def coclustering_figure(draw_labels: np.ndarray, labels: np.ndarray) -> Any:
    """Heat map of the co-clustering matrix, worksites ordered by cluster then cohesion."""
    plt = pyplot()
    cc = coclustering(draw_labels)
    same = labels[:, None] == labels[None, :]
    cohesion = (cc * same).sum(axis=1) / same.sum(axis=1)
    order = np.lexsort((-cohesion, labels))
    fig, ax = plt.subplots(figsize=(5.5, 5))
    im = ax.imshow(
        cc[np.ix_(order, order)], vmin=0, vmax=1, cmap="viridis", interpolation="nearest"
    )
    for edge in np.flatnonzero(np.diff(labels[order])) + 0.5:
        ax.axhline(edge, color="w", lw=0.8)
        ax.axvline(edge, color="w", lw=0.8)
    ax.set(
        xlabel="worksite (ordered by cluster)",
        ylabel="worksite",
        title=f"Co-clustering across {len(draw_labels)} posterior draws",
    )
    fig.colorbar(im, ax=ax, label="fraction of draws in the same cluster")
    return fig


def log_joint_figure(res: ClusteringResult) -> Any:
    """Log-joint traces per Gibbs seed (relative to the best value) and the K curve."""
    plt = pyplot()
    ks = res.k_selection
    fig, axes = plt.subplots(1, 2 if ks is not None else 1, figsize=(10, 3.8), squeeze=False)
    trace = res.seeds.log_joint
    rel = trace.max() - trace
    for c, row in enumerate(rel):
        axes[0, 0].plot(np.arange(1, row.size + 1), row, lw=0.8, label=f"seed {c}")
    axes[0, 0].set_yscale("symlog")
    axes[0, 0].set(
        xlabel="Gibbs iteration",
        ylabel="best log joint - log joint",
        title=f"Gibbs convergence, K = {res.k}",
    )
    axes[0, 0].legend(fontsize=7)
    if ks is not None:
        ax = axes[0, 1]
        ax.plot(ks.ks, ks.score, "o-", label="log joint (best chain, post burn-in mean)")
        ax.axvline(ks.chosen_k, color="k", ls=":", label=f"elbow K = {ks.chosen_k}")
        ax.set(xlabel="K", ylabel="log joint", title="Choosing K", xticks=ks.ks)
        if ks.bic is not None:
            ax2 = ax.twinx()
            ax2.plot(ks.ks, ks.bic, "s--", color="C1", label="sklearn BIC")
            ax2.set_ylabel("BIC (lower is better)", color="C1")
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def sigma_sweep_figure(sweep: SigmaSweep) -> Any:
    """The paper's Fig. 6: one log-joint curve per sigma (own panel, as the scales differ)."""
    plt = pyplot()
    n = len(sweep.sigmas)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.2), squeeze=False)
    for ax, sigma, trace, conv in zip(
        axes[0], sweep.sigmas, sweep.log_joint, sweep.converged_iter, strict=True
    ):
        ax.plot(np.arange(1, trace.size + 1), trace, lw=0.9)
        ax.axvline(conv + 1, color="k", ls=":", lw=0.8, label=f"settled at {conv + 1}")
        ax.set(xlabel="Gibbs iteration", title=f"sigma = {sigma:g} ({sweep.sigma_is})")
        ax.legend(fontsize=7, loc="lower right")
    axes[0, 0].set_ylabel("log joint")
    fig.suptitle("Convergence of the log joint per sigma (paper Fig. 6)", fontsize=10)
    fig.tight_layout()
    return fig


def write_figures(clustered: Clustering, data: HierData, fig_dir: Path) -> list[Path]:
    """Draw every figure that applies to one run's clustering.

    Parameters
    ----------
    clustered : Clustering
        From :func:`evaluation.clustering.pipeline.run_clustering`.
    data : HierData
        The data it was computed on (worksite features for Fig. 7).
    fig_dir : Path

    Returns
    -------
    list of Path
        The files written, in the order fig6, log joint, fig7, co-clustering (none when the
        clustering is degenerate; fig7 needs worksite features, co-clustering needs draws).
    """
    res, coef, table = clustered.result, clustered.coef, clustered.table
    fig_dir = Path(fig_dir)
    if res.degenerate_reason is not None:
        return []
    out = [
        save_figure(fig6_coefficients(coef, res.labels), fig_dir / "cluster_fig6_coefficients.png"),
        save_figure(log_joint_figure(res), fig_dir / "cluster_log_joint.png"),
    ]
    if table is not None:
        out.append(
            save_figure(
                fig7_site_features(data.X_site, res.labels, table),
                fig_dir / "cluster_fig7_site_features.png",
            )
        )
    if res.draws is not None:
        out.append(
            save_figure(
                coclustering_figure(res.draws.labels, res.labels),
                fig_dir / "cluster_coclustering.png",
            )
        )
    return out


__all__ = [
    "coclustering_figure",
    "fig6_coefficients",
    "fig7_site_features",
    "log_joint_figure",
    "sigma_sweep_figure",
    "write_figures",
]
