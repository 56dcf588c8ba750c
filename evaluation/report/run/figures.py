"""The figure files of one run, drawn from the judges' numbers and saved atomically.

The judges (:mod:`evaluation.metrics`, :mod:`evaluation.clustering`) compute; this module names
the files and writes them: ``figures/yao.png`` (from
:class:`~evaluation.metrics.posterior.YaoPoints`), ``figures/roc.png``,
``figures/calibration.png``, ``figures/ppc_kde.png`` (from
:class:`~evaluation.metrics.predictive.PredictiveCurves`), ``loss.png`` (the VI loss trace),
the ``figures/cluster_*.png`` of :mod:`evaluation.report.run.cluster_figures` and
``figures/forest.png`` (:mod:`evaluation.report.forest`).  :func:`draw_run_figures` draws them
all from a :class:`~evaluation.judge.Judged`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from evaluation.io import save_figure
from evaluation.metrics.diagnostics import loss_convergence
from evaluation.metrics.posterior import YaoPoints, yao_points
from evaluation.metrics.predictive import PredictiveCurves, predictive_curves
from evaluation.report import forest
from evaluation.report.run import cluster_figures
from evaluation.report.run.plots import (
    calibration_figure,
    loss_figure,
    ppc_kde_figure,
    roc_figure,
    yao_figure,
)

ROC_PNG = "roc.png"
CALIBRATION_PNG = "calibration.png"
PPC_KDE_PNG = "ppc_kde.png"


def predictive_figures(curves: PredictiveCurves, fig_dir: Path) -> list[Path]:
    """ROC curve, calibration curve and the posterior predictive KDE plot (PNG).

    The posterior predictive plot follows the paper's Fig 5 (kernel density estimates on the
    posterior predictive): left, the KDE over draws of the replicated positive rate with the
    observed rate as a vertical line; right, the KDE of the observed per-worksite positive rate
    against the KDEs of 50 replicated per-worksite rates (one thin line per draw), as in
    ``az.plot_ppc``.

    Parameters
    ----------
    curves : PredictiveCurves
        :func:`evaluation.metrics.predictive.predictive_curves` of the run.
    fig_dir : Path
        Directory of the files (created when missing).

    Returns
    -------
    list of Path
        ``roc.png`` (only when both outcomes occur), ``calibration.png``, ``ppc_kde.png``.
    """
    fig_dir = Path(fig_dir)
    paths = []
    if curves.roc is not None:
        paths.append(save_figure(roc_figure(*curves.roc), fig_dir / ROC_PNG))
    paths.append(save_figure(calibration_figure(curves.calibration), fig_dir / CALIBRATION_PNG))
    fig = ppc_kde_figure(
        curves.rep_rate, curves.obs_rate, curves.rep_site_rate, curves.obs_site_rate
    )
    paths.append(save_figure(fig, fig_dir / PPC_KDE_PNG))
    return paths


def yao_scatter(points: YaoPoints, path: Path) -> Path:
    """Yao et al. (2018) picture: standardised mean bias (x) vs log(sd / ref sd) (y) per element.

    Every scalar parameter is one point, coloured by block.  Points left of / right of 0 are
    biased; points below 0 are too narrow (the mean-field signature).

    Parameters
    ----------
    points : YaoPoints
        :func:`evaluation.metrics.posterior.yao_points` of the method against the reference.
    path : Path
        The PNG to write (``figures/yao.png`` in a run).
    """
    title = f"{points.method} vs reference {points.reference}"
    fig = yao_figure(points.sme, points.log_sd_ratio, points.blocks, title)
    return save_figure(fig, Path(path))


def plot_loss(
    loss: np.ndarray,
    path: Path,
    *,
    title: str,
    converged_step: int | None,
    steps: np.ndarray | None = None,
) -> Path:
    """Write the VI loss trace with its convergence step (:func:`~.figures.loss_figure`).

    Parameters
    ----------
    loss : ndarray
        The recorded losses (negative ELBO).
    path : Path
        The PNG to write (``loss.png`` in a run).
    title : str
    converged_step : int or None
        Marked with a dashed line when given.
    steps : ndarray, optional
        Iteration numbers of the recorded losses; by default 1, 2, ...
    """
    fig = loss_figure(loss, title=title, converged_step=converged_step, steps=steps)
    return save_figure(fig, Path(path))


def draw_run_figures(judged: Any, backend_name: str, run_dir: Path) -> list[Path]:
    """Every figure of one run, in the order the run report embeds them.

    Parameters
    ----------
    judged : evaluation.judge.Judged
        The judgement (sections, scored fit, scored rows, reference, clustering bundle).
    backend_name : str
        Titles the loss trace and the forest plot's row.
    run_dir : Path
        The run directory (``loss.png`` there, the rest in ``figures/``).

    Returns
    -------
    list of Path
        The files written; the clustering section's ``figures`` lists the cluster figures.
    """
    fig_dir = Path(run_dir) / "figures"
    fit = judged.fit
    data, scored_pass = judged.scored
    paths: list[Path] = []
    if judged.reference is not None:
        paths.append(yao_scatter(yao_points(judged.draws, judged.reference), fig_dir / "yao.png"))
    paths += predictive_figures(predictive_curves(scored_pass, data), fig_dir)
    if fit.loss is not None and len(fit.loss):
        converged = loss_convergence(fit.loss, fit.info)["converged_step"]
        path = Path(run_dir) / "loss.png"
        steps = fit.info.get("loss_steps")
        paths.append(plot_loss(fit.loss, path, title=backend_name, converged_step=converged,
                               steps=steps))  # fmt: skip
    if judged.clustered is not None:
        drawn = cluster_figures.write_figures(judged.clustered, judged.train, fig_dir)
        judged.sections["clustering"]["figures"] = [p.name for p in drawn]
        paths += sorted(drawn)
    intervals = {backend_name: forest.run_intervals(judged.sections)}
    path = forest.write_forest(intervals, fig_dir / forest.FOREST_PNG)
    return paths if path is None else [*paths, path]
