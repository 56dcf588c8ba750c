"""The failure rule of an approximation (issue 20), at its edges."""

from __future__ import annotations

import pytest

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
