"""The run's figure files: drawn from the judges' numbers, with the same names as ever."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from evalhelpers import make_data, make_idata, normal_draws, point

from evaluation.metrics.draws import extract
from evaluation.metrics.posterior import yao_points
from evaluation.metrics.predictive import predictive_curves, predictive_pass
from evaluation.report.run.figures import (
    draw_run_figures,
    plot_loss,
    predictive_figures,
    yao_scatter,
)


def _fit(data, sd=0.2, seed=2, backend="test_nuts", draws=60):
    return make_idata(normal_draws(data, point(data, seed=2), sd, 1, draws, seed), data, None,
                      backend)  # fmt: skip


def test_predictive_figures_are_written(tmp_path):
    data = make_data(n_workers=200, seed=6)
    idata = _fit(data)
    curves = predictive_curves(predictive_pass(extract(idata, data), data), data)
    paths = predictive_figures(curves, tmp_path / "figures")
    assert [p.name for p in paths] == ["roc.png", "calibration.png", "ppc_kde.png"]
    assert all(p.parent == tmp_path / "figures" for p in paths)
    assert all(p.stat().st_size > 1000 for p in paths)


def test_one_class_has_no_roc_figure(tmp_path):
    data = make_data(n_workers=50, y=np.zeros(50, int))
    idata = _fit(data, sd=0.1, draws=4)
    paths = predictive_figures(
        predictive_curves(predictive_pass(extract(idata, data), data), data), tmp_path
    )
    assert [p.name for p in paths] == ["calibration.png", "ppc_kde.png"]


def test_yao_scatter_writes_a_png(tmp_path):
    data = make_data(n_sites=10, kw=2)
    ref = make_idata(normal_draws(data, point(data), 0.2, 2, 100, seed=1), data)
    narrow = make_idata(normal_draws(data, point(data), 0.1, 2, 100, seed=2), data)
    path = yao_scatter(yao_points(extract(narrow), extract(ref)), tmp_path / "yao.png")
    assert path.exists() and path.stat().st_size > 1000


def test_loss_trace_is_written(tmp_path):
    loss = np.linspace(100.0, 10.0, 300) + np.random.default_rng(0).normal(size=300)
    path = plot_loss(loss, tmp_path / "loss.png", title="x_meanfield", converged_step=250)
    assert path == tmp_path / "loss.png" and path.stat().st_size > 1000
    sparse = plot_loss(loss[:30], tmp_path / "sparse.png", title="x", converged_step=None,
                       steps=np.arange(1, 301, 10))  # fmt: skip
    assert sparse.stat().st_size > 1000


def _judged(fit, data, ref):
    """A Judged with no clustering and empty sections (the figures' inputs only)."""
    from evaluation.judge import Judged

    draws = extract(fit.idata, data)
    ref_draws = None if ref is None else extract(ref, data)
    scored = (data, predictive_pass(draws, data))
    return Judged({}, fit, fit, data, scored, ref_draws, None, draws)


def test_a_run_writes_the_same_figure_files_as_before(tmp_path):
    data = make_data(n_workers=200, seed=6)
    fit_idata, ref = _fit(data, backend="x_meanfield"), _fit(data, sd=0.3, seed=5)
    fit = SimpleNamespace(idata=fit_idata, loss=np.linspace(50.0, 5.0, 120), info={})
    paths = draw_run_figures(_judged(fit, data, ref), "x_meanfield", tmp_path)
    rel = [p.relative_to(tmp_path).as_posix() for p in paths]
    assert rel == ["figures/yao.png", "figures/roc.png", "figures/calibration.png",
                   "figures/ppc_kde.png", "loss.png"]  # fmt: skip
    assert all(p.stat().st_size > 1000 for p in paths)
    mcmc = SimpleNamespace(idata=fit_idata, loss=None, info={})
    without = draw_run_figures(_judged(mcmc, data, None), "x_nuts", tmp_path / "mcmc")
    assert [p.name for p in without] == ["roc.png", "calibration.png", "ppc_kde.png"]
