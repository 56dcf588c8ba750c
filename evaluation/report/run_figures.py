"""The figure files of one run, drawn from the judges' numbers and saved atomically.

The judges (:mod:`evaluation.metrics`) compute; this module names the files and writes them:
``figures/roc.png``, ``figures/calibration.png``, ``figures/ppc_kde.png`` (from
:class:`~evaluation.metrics.predictive.PredictiveCurves`), ``figures/yao.png`` (from
:class:`~evaluation.metrics.posterior.YaoPoints`) and ``loss.png`` (the VI loss trace).
:func:`evaluation.judge.evaluate` chooses the directories.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluation.io import save_figure
from evaluation.metrics.posterior import YaoPoints
from evaluation.metrics.predictive import PredictiveCurves
from evaluation.report.figures import (
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
