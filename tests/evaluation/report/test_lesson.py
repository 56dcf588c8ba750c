"""The tutorial's figures (evaluation/report/lesson/figures.py) on hand-built posteriors (no
PPL): they pick the right coefficient, label what they show and mark what they say they mark."""

from __future__ import annotations

import dataclasses

import numpy as np
from evalhelpers import make_data, make_idata, normal_draws, point

from evaluation.report import lesson


def posteriors(data):
    """Two posteriors of ``data``: "exact" with one wide worker coefficient, and "narrow"."""
    centre = point(data)
    sds = {name: 0.1 for name in centre}
    exact = normal_draws(data, centre, sds, chains=2, draws=100, seed=1)
    exact["beta_worker"][:, :, 2, 1] *= 40  # ws2, w1: the data say least about it
    narrow = normal_draws(data, centre, 0.02, chains=1, draws=200, seed=2)
    return {"exact": make_idata(exact, data), "narrow": make_idata(narrow, data)}


def test_the_figures_show_what_they_name():
    data = make_data(n_sites=4, n_workers=200, ks=2, kw=2, seed=0)
    data = dataclasses.replace(data, truth=point(data, seed=3))
    post = posteriors(data)

    assert lesson.weakest_worker_coefficient(post["exact"]) == ("ws2", "w1")
    funnel = lesson.funnel_figure(post, "ws2", "w1", truth=0.5)
    assert [ax.get_title() for ax in funnel.axes] == ["exact", "narrow"]
    assert funnel.axes[0].get_xlabel() == "β_worker[ws2, w1]"
    assert funnel.axes[0].get_yscale() == "log"

    ridge = lesson.ridge_figure(post, "s0", "s1", truth=(0.0, 0.0))
    assert ridge.axes[0].get_title().startswith("exact: correlation ")

    intervals = lesson.site_predictor_figure(post, data, {"exact": 0.9, "narrow": 0.25})
    legend = [t.get_text() for t in intervals.axes[0].get_legend().get_texts()]
    assert legend == ["exact: 90% of truths inside", "narrow: 25% of truths inside", "truth"]


def test_the_trade_off_and_the_claims_figures():
    numbers = {
        "NUTS": {"auc": 0.9, "coverage90": 0.9, "sd_ratio": 1.0, "sd_ratio_floor": 0.98},
        "mean-field VI": {"auc": 0.9, "coverage90": 0.6, "sd_ratio": 0.3},
    }
    trade = lesson.tradeoff_figure(numbers)
    assert len(trade.axes) == 3
    assert "NUTS vs NUTS: 0.98" in [t.get_text() for t in trade.axes[2].get_legend().get_texts()]

    rows = [{"name": "a", "probability": 0.97, "verdict": "credible"},
            {"name": "b", "probability": None, "verdict": "not identified"}]  # fmt: skip
    other = [{"name": "a", "probability": 0.5, "verdict": "undecided"}, rows[1]]
    heat = lesson.claims_figure({"NUTS": rows, "mean-field VI": other}, flips=["a"])
    ax = heat.axes[0]
    colours = {t.get_text(): t.get_color() for t in ax.get_yticklabels()}
    assert colours["a"] == "#d62728" and colours["b"] != "#d62728"
    cells = {t.get_text() for t in ax.texts}
    assert {"0.97 ✔", "0.50 ?", "not identified"} <= cells
    assert np.isclose(heat.axes[1].get_ylim()[1], 1.0)  # the colour bar spans P in [0, 1]
