"""The one extraction (evaluation/metrics/draws.py): a posterior becomes one Draws bundle,
aligned to the data by label, and the judge extracts each posterior once."""

from __future__ import annotations

import numpy as np
import pytest
from evalhelpers import IidNormalBackend, make_data, make_idata, normal_draws, point

from backends.spec import VAR_NAMES, ModelSpec
from evaluation.metrics.draws import Draws, extract, paired_draws

DATA = make_data(n_sites=4, ks=2, kw=3)


def _idata(chains=2, draws=30, seed=0, stats=None):
    d = normal_draws(DATA, point(DATA), 0.3, chains=chains, draws=draws, seed=seed)
    return make_idata(d, DATA, sample_stats=stats)


def test_extract_aligns_by_label_whatever_the_stored_order():
    idata = _idata()
    shuffled = idata.copy()
    shuffled.posterior = (
        idata.posterior.isel(worksite=[2, 0, 3, 1], worker_feature=[1, 2, 0])
        .transpose("draw", "chain", "worker_feature", "worksite", ...)
    )  # fmt: skip
    a, b = extract(idata, DATA), extract(shuffled, DATA)
    assert a.labels["worksite"] == b.labels["worksite"] == list(DATA.worksite_ids)
    for name in VAR_NAMES:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    # (chain, draw, *dims): the stored values of chain 1, draw 5, worksite ws2, feature w1
    stored = idata.posterior["beta_worker"].sel(chain=1, draw=5, worksite="ws2",
                                                worker_feature="w1")  # fmt: skip
    assert b.params["beta_worker"][1, 5, 2, 1] == float(stored)


def test_stacked_is_chain_major_and_stats_follow_the_draws():
    log_q = np.arange(60.0).reshape(2, 30)
    draws = extract(_idata(stats={"log_q": log_q}), DATA)
    assert (draws.n_chains, draws.n_draws, draws.n_samples) == (2, 30, 60)
    np.testing.assert_array_equal(draws.stacked("log_q"), np.arange(60.0))
    np.testing.assert_array_equal(draws.stacked("alpha")[30:], draws.params["alpha"][1])
    assert set(draws.flat()) == set(VAR_NAMES)


def test_extract_refuses_a_posterior_missing_a_label_of_the_data():
    other = make_data(n_sites=3, ks=2, kw=3)  # worksites ws0..ws2: ws3 is missing
    idata = make_idata(normal_draws(other, point(other), 0.3, 1, 5), other)
    with pytest.raises(ValueError, match=r"lacks worksite labels \['ws3'\]"):
        extract(idata, DATA)


def test_select_resample_and_reorder_keep_each_draw_with_its_stats():
    draws = extract(_idata(stats={"log_q": np.arange(60.0).reshape(2, 30)}), DATA)
    half = draws.select(chains=slice(1, 2), draws=[0, 2])
    np.testing.assert_array_equal(half.stats["log_q"], [[30.0, 32.0]])
    index = np.array([59, 0, 0, 31])
    res = draws.resampled(index, psis_resampled=1)
    assert (res.n_chains, res.n_draws) == (1, 4) and res.attrs["psis_resampled"] == 1
    np.testing.assert_array_equal(res.stats["log_q_proposal"][0], index.astype(float))
    np.testing.assert_array_equal(res.params["beta_site"][0], draws.stacked("beta_site")[index])
    order = {"worksite": ["ws3", "ws1", "ws0", "ws2"], "worker_feature": ["w2", "w0", "w1"]}
    moved = draws.reordered(order, "test")
    np.testing.assert_array_equal(moved.params["beta_worker"][:, :, 0, 0],
                                  draws.params["beta_worker"][:, :, 3, 2])  # fmt: skip
    assert moved.reordered(order, "test") is moved  # already in that order: no copy
    # pairing aligns a reordered posterior back: identical draws compare as identical
    for pair in paired_draws(draws, moved).values():
        np.testing.assert_array_equal(pair.method, pair.reference)


def test_the_judge_extracts_each_posterior_once(monkeypatch):
    """judge.evaluate extracts the fit and the reference once each, and no judge aligns draws
    again (issue 32: the same arrays used to be re-extracted eight times per fit)."""
    import sys

    from evaluation import api
    from evaluation import judge as judges
    from evaluation.metrics.draws import select_labels

    calls: list[int] = []

    def counted(idata, data=None) -> Draws:
        calls.append(id(idata))
        return extract(idata, data)

    aligned = [0]

    def profile(frame, event, arg):  # every alignment by label, whoever calls it
        if event == "call" and frame.f_code is select_labels.__code__:
            aligned[0] += 1

    monkeypatch.setattr(judges, "extract", counted)
    data = api.make_data(n_worksites=6, n_workers=240, sigma_worker=1.0, seed=1)
    fit = IidNormalBackend(ModelSpec(), chains=2, draws=100).fit(data.train, seed=0)
    ref = IidNormalBackend(ModelSpec(), chains=4, draws=100).fit(data.train, seed=1)
    settings = {"clustering": {"n_draws": 2, "n_seeds": 2}}
    sys.setprofile(profile)
    try:
        judged = api.judge(fit, data, reference=ref, evaluation=settings)
    finally:
        sys.setprofile(None)
    assert calls == [id(fit.idata), id(ref.idata)]
    assert aligned[0] == 2 * len(VAR_NAMES)  # one alignment per variable per extraction
    assert isinstance(judged.details.draws, Draws) and judged.details.reference.n_chains == 4
    assert {"predictive", "posterior", "diagnostics", "reference", "clustering", "claims"} <= set(
        judged.metrics
    )
