"""The run report's design-and-difficulty section and the identified beta_site headline."""

from __future__ import annotations

import pytest

from evaluation.data.design import design_check
from evaluation.data.twin import make_paper_twin
from evaluation.metrics.oracle import difficulty, oracle_metrics
from evaluation.report.run.design import design_section
from evaluation.report.run.report import render_run_report

SMALL = {"n_worksites": 30, "n_workers": 900, "seed": 1}


def _data_section(data, kind="paper"):
    return {"name": data.name, "kind": kind, "meta": dict(data.meta),
            "design": design_check(data), "difficulty": difficulty(data),
            "oracle": oracle_metrics(data)}  # fmt: skip


def test_paper_design_shows_rank_null_directions_and_oracle():
    lines = design_section({"data": _data_section(make_paper_twin(**SMALL))})
    text = "\n".join(lines)
    assert lines[0] == "## Design and difficulty"
    assert "rank 17 / 19 columns" in text and "**not identified**" in text
    assert "campaign_length_q1 + campaign_length_q2" in text and "log_mean_degree" in text
    assert "pinned by their priors" in text
    assert "Oracle (true parameters)" in text and "0.7688" in text
    assert "Worksites with no positive outcome" in text and "site-logit sd" in text
    assert "Your tables" not in text  # a twin: no user warning


def test_identified_twin_is_full_rank_and_says_so():
    text = "\n".join(design_section({"data": _data_section(
        make_paper_twin(design="identified", **SMALL))}))  # fmt: skip
    assert "rank 17 / 17 columns" in text and "**not identified**" not in text
    assert "dropped campaign_length_q1, log_mean_degree" in text


@pytest.mark.parametrize("kind", ["tables", "paper_tables"])
def test_user_tables_that_are_not_identified_get_a_warning(kind):
    sec = _data_section(make_paper_twin(**SMALL), kind=kind)
    lines = design_section({"data": sec})
    assert lines[2].startswith("> ⚠ **Your tables' design is not identified**")


def test_missing_design_renders_nothing():
    assert design_section({}) == [] and design_section({"data": {"name": "x"}}) == []


def test_section_sits_before_what_ran_and_headline_uses_identified_coverage():
    data = make_paper_twin(**SMALL)
    ident = {"basis": "x", "rank": 17, "n_coefficients": 19,
             "coefficients": {"alpha": False, "ndo": True},
             "site_predictor": {"n": 30, "bias": 0.1, "rmse": 0.2, "mean_abs_z": 0.7,
                                "coverage50": 0.5, "coverage90": 0.9, "sd_mean": 0.3},
             "contrasts": {"n": 19, "bias": 0.0, "rmse": 0.1, "mean_abs_z": 0.8,
                           "coverage50": 0.5, "coverage90": 0.9, "sd_mean": 0.2}}  # fmt: skip
    metrics = {
        "backend": "b", "seed": 0, "data": _data_section(data),
        "posterior": {
            "identified": ident,
            "recovery": {"beta_site": {"n": 18, "bias": 1.0, "rmse": 1.0, "mean_abs_z": 24.6,
                                       "coverage50": 0.1, "coverage90": 0.2}},
            "summary": {"alpha": {"mean": 0.0, "sd": 0.1, "truth": 1.0, "identified": False}},
            "beta_site": {"ndo": {"mean": 1.0, "sd": 0.5, "truth": 1.0, "identified": True}},
        },
    }  # fmt: skip
    text = render_run_report(metrics, ".")
    assert text.index("## Design and difficulty") < text.index("## What ran")
    head = text[text.index("## Headline") :]
    head = head[: head.index("\n## ", 1)]
    assert "beta_site (identified: worksite linear predictor" in head
    assert "the 90% intervals contain 90% of the 30 worksites" in head
    assert "Not identified by the data" in head and "alpha" in head
    assert "Coverage of the truth, beta_site:**" not in head  # the coefficient block is not used
    assert "| alpha | 0 | 0.1 | 1 | -10 | not identified |" in text
    assert "site_predictor (identified)" in text
