"""The failure rule of an approximation (issue 20), at its edges."""

from __future__ import annotations

import pytest
from evalhelpers import make_data, make_idata, normal_draws, point

from evaluation.metrics.diagnostics import KHAT_BAD
from evaluation.metrics.draws import extract
from evaluation.metrics.posterior import sigma_collapse
from evaluation.metrics.verdict import BAND, COLLAPSE_RATIO, approximation_verdict, run_verdict


@pytest.mark.parametrize(
    ("khat", "sd", "sigma", "failed", "why"),
    [
        (2.8, 0.31, 0.92, True, "beta_site sd 0.31"),  # mean-field on the main twin
        (None, 0.80, 3e-9, True, "sigma_worker collapsed"),  # Pathfinder: no k-hat, collapsed
        (19.7, 0.80, 3e-9, True, "sigma_worker collapsed"),
        (3.7, 0.66, 0.93, False, None),  # low-rank: k-hat bad, spreads within 0.5-2
        (0.5, 0.3, 0.9, False, None),  # a k-hat within 0.7 vouches for the draws
        (None, 0.3, 0.9, True, "no k-hat and beta_site sd"),
        (1.2, 0.9, 2.5, True, "sigma_worker median 2.5"),
        (1.2, BAND[0], BAND[1], False, None),  # the band's edges are inside
        (0.1, 0.9, COLLAPSE_RATIO * 0.99, True, "collapsed"),  # collapse fails whatever k-hat
    ],
)
def test_rule(khat, sd, sigma, failed, why):
    out = approximation_verdict(khat, sd, {"sigma_worker": sigma, "sigma_site": 1.0})
    assert out["failed"] is failed
    assert (why is None and out["reasons"] == []) or any(why in r for r in out["reasons"])


def test_without_nuts_it_is_not_checked_never_ok():
    out = approximation_verdict(4.0, None, {"sigma_worker": None})
    assert out["failed"] is None and out["reasons"][0].startswith("not checked")
    assert approximation_verdict(float("nan"), float("nan"), {})["failed"] is None


def test_run_verdict_reads_metrics_sections_and_skips_mcmc():
    sections = {
        "diagnostics": {"vi": {"khat": 5.4}},
        "reference": {"blocks": {"beta_site": {"sd_ratio_median": 0.34}}},
        "posterior": {"sigma_collapse": {"sigma_worker": {"ratio_median": 0.93},
                                         "sigma_site": {"ratio_median": 1.0}}},
    }  # fmt: skip
    assert run_verdict(sections)["failed"] is True
    assert run_verdict({"diagnostics": {"mcmc": {}}}) is None


def collapse_sections(method_sigma_worker: float, khat: float, sd_ratio: float) -> dict:
    """A VI run's sections as the judge builds them: the sigma-collapse numbers computed by
    :func:`evaluation.metrics.posterior.sigma_collapse` from draws (not typed in by hand), a
    k-hat and a beta_site sd ratio."""
    data = make_data(n_sites=4, n_workers=80)
    centre = point(data)
    method = make_idata(normal_draws(data, {**centre, "sigma_worker": method_sigma_worker},
                                     {"sigma_worker": 1e-4, "sigma_site": 0.05, "alpha": 0.1,
                                      "beta_site": 0.1, "beta_worker": 0.1}), data)  # fmt: skip
    reference = make_idata(normal_draws(data, centre, 0.05, seed=1), data)
    return {
        "diagnostics": {"vi": {"khat": khat}},
        "reference": {"blocks": {"beta_site": {"sd_ratio_median": sd_ratio}}},
        "posterior": {
            "sigma_collapse": sigma_collapse(extract(method), reference=extract(reference))
        },
    }


def test_run_verdict_sees_a_collapsed_scale_in_the_judges_own_numbers():
    """sigma_worker at 0.002 against NUTS's 0.5 (ratio 0.004) fails the run even with a good
    k-hat and sd ratio; at 0.45 (ratio 0.9) it does not."""
    out = run_verdict(collapse_sections(0.002, khat=0.3, sd_ratio=1.0))
    assert out["failed"] is True
    assert any(r.startswith("sigma_worker collapsed to 0.004") for r in out["reasons"])
    assert run_verdict(collapse_sections(0.45, khat=0.3, sd_ratio=1.0))["failed"] is False


@pytest.mark.parametrize(("khat", "failed"), [(KHAT_BAD, False), (KHAT_BAD + 1e-9, True)])
def test_a_khat_of_exactly_the_limit_still_vouches_for_the_draws(khat, failed):
    """'k-hat above 0.7' is strict: at 0.7 an off sd ratio is vouched for, just above it not."""
    out = run_verdict(collapse_sections(0.45, khat=khat, sd_ratio=0.3))
    assert out["failed"] is failed
    assert approximation_verdict(khat, 0.3, {"sigma_worker": 0.9})["failed"] is failed
