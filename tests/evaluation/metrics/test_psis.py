"""PSIS importance resampling (evaluation/metrics/psis.py) on cases with a known answer, and on
a real VI fit through the judge's option ``evaluation.psis_resample``."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from backends.base import check_inference_data
from backends.spec import ModelSpec
from evaluation.metrics.draws import extract
from evaluation.metrics.psis import psis_resample, psis_weights, resample_draws


def normal_case(n: int, p_loc: float, p_scale: float, seed: int = 0):
    """Draws from q = N(0, 1) with log q and the log density of p = N(p_loc, p_scale)."""
    x = np.random.default_rng(seed).standard_normal(n)
    return x, stats.norm.logpdf(x), stats.norm.logpdf(x, p_loc, p_scale)


def test_q_equal_to_p_gives_khat_zero_and_resampling_leaves_the_distribution():
    x, log_q, log_p = normal_case(4000, 0.0, 1.0)
    res = psis_resample(log_p, log_q, seed=1)
    assert res.khat == 0.0  # equal weights: no tail at all
    assert res.ess == pytest.approx(4000)
    y = x[res.index]
    # Resampling with replacement from equal weights is a bootstrap of N(0, 1): the two samples
    # are the same distribution (KS test at 1%), mean and sd within 4 standard errors.
    assert stats.ks_2samp(x, y).pvalue > 0.01
    assert abs(y.mean()) < 4 / np.sqrt(4000) * np.sqrt(2)
    assert abs(y.std() - 1) < 4 / np.sqrt(2 * 4000) * np.sqrt(2)


def test_q_close_to_p_gives_small_khat_and_moves_draws_to_p():
    x, log_q, log_p = normal_case(4000, 0.3, 0.9)
    res = psis_resample(log_p, log_q, seed=1)
    assert res.khat < 0.5  # q has heavier tails than p: bounded weights
    y = x[res.index]
    assert abs(y.mean() - 0.3) < 0.08 and abs(y.std() - 0.9) < 0.08
    assert 0.3 * 4000 < res.ess < 4000


def test_q_far_from_p_gives_khat_above_0_7():
    # p = N(3, 0.5) is in q = N(0, 1)'s tail: a few draws carry almost all the weight.
    _, log_q, log_p = normal_case(4000, 3.0, 0.5)
    res = psis_resample(log_p, log_q, seed=1)
    assert res.khat > 0.7
    assert res.ess < 0.05 * 4000


def test_weights_are_normalised_and_refuse_nan():
    _, log_q, log_p = normal_case(500, 0.5, 1.0)
    log_w, _ = psis_weights(log_p, log_q)
    assert np.exp(log_w).sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="NaN"):
        psis_weights(np.full(5, np.nan), np.zeros(5))


def test_resample_draws_flags_an_untrustworthy_correction(tiny_twin):
    """A 300-step mean-field fit: the resampled draws are one chain of the original draws,
    carry no log_q (no k-hat from resampled draws), and the section says whether to trust it."""
    from backends.pyro import PyroSVI

    fit = PyroSVI(model=ModelSpec(), num_steps=300, num_draws=200, progress=False).fit(
        tiny_twin, seed=0
    )
    draws = extract(fit.idata, tiny_twin)
    new, res, section = resample_draws(draws, tiny_twin, ModelSpec(), seed=0)
    assert (new.n_chains, new.n_draws) == (1, 200)
    for name, values in new.params.items():  # draw i of the new posterior is draw index[i]
        np.testing.assert_array_equal(values[0], draws.stacked(name)[res.index])
    assert section["applied"] and section["n_draws"] == 200
    assert 1 <= section["n_unique"] <= 200 and 1 <= section["ess"] <= 200
    assert section["trustworthy"] == (section["khat"] <= 0.7)
    if not section["trustworthy"]:
        assert "NOT trustworthy" in section["verdict"]
    assert "log_q" not in new.stats and "log_q_proposal" in new.stats
    assert new.attrs["psis_resampled"] == 1
    # Without log_q (e.g. NUTS draws) nothing is resampled and the section says why.
    no_q = draws._replace(stats={k: v for k, v in draws.stats.items() if k != "log_q"})
    none, no_res, section = resample_draws(no_q, tiny_twin, ModelSpec(), seed=0)
    assert none is None and no_res is None
    assert section["applied"] is False and "log_q" in section["verdict"]


def test_judge_scores_the_resampled_posterior_and_says_so(tiny_twin, caplog):
    from backends.pyro import PyroSVI
    from evaluation.judge import psis_resampled_fit

    fit = PyroSVI(model=ModelSpec(), num_steps=300, num_draws=200, progress=False).fit(
        tiny_twin, seed=0
    )
    with caplog.at_level("INFO", logger="ppl_compare"):
        scored, draws, section = psis_resampled_fit(
            fit, extract(fit.idata, tiny_twin), tiny_twin, ModelSpec(), seed=0
        )
    assert section["scored"] == "resampled posterior"
    assert scored.idata.posterior.attrs["psis_resampled"] == 1
    check_inference_data(scored.idata, tiny_twin)
    assert "log_q" not in scored.idata.sample_stats
    # The caller's resampled InferenceData holds the very draws the judges scored.
    again = extract(scored.idata, tiny_twin)
    for name, values in draws.params.items():
        np.testing.assert_array_equal(values, again.params[name])
    assert scored.info is fit.info and scored.loss is fit.loss  # only the draws change
    assert "PSIS-resampled posterior" in caplog.text
    if not section["trustworthy"]:
        assert any(r.levelname == "WARNING" and "NOT trustworthy" in r.getMessage()
                   for r in caplog.records)  # fmt: skip
