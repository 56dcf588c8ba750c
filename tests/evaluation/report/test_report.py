"""The per-run report renders with every section, with none, and with broken ones."""

from __future__ import annotations

import numpy as np
from evalhelpers import make_data, make_idata, normal_draws, point

from backends.spec import ModelSpec
from evaluation.io import to_jsonable
from evaluation.metrics.diagnostics import diagnostics_section
from evaluation.metrics.draws import extract
from evaluation.metrics.posterior import compare_to_reference, posterior_section, sigma_collapse
from evaluation.metrics.predictive import predictive_metrics
from evaluation.metrics.reference import check_reference
from evaluation.report.headline import coverage_verdict
from evaluation.report.run.report import write_run_report


def _full_metrics():
    data0 = make_data(n_sites=6, n_workers=300, kw=2)
    truth = point(data0, seed=4)
    data = make_data(n_sites=6, n_workers=300, kw=2, truth=truth)
    div = {"diverging": np.zeros((4, 200), bool)}
    ref = make_idata(normal_draws(data, truth, 0.3, 4, 200, seed=1), data, div, "ref_nuts")
    fit = make_idata(normal_draws(data, truth, 0.15, 4, 200, seed=2), data, div, "x_nuts")
    post = posterior_section(extract(fit, data), data)
    post["sigma_collapse"] = sigma_collapse(extract(fit), reference=extract(ref), truth=data.truth)
    reference = compare_to_reference(
        extract(fit), extract(ref), check=check_reference(extract(ref))
    )
    return to_jsonable(
        {
            "status": "complete",
            "backend": "x_nuts",
            "method": "nuts",
            "language": "x",
            "seed": 0,
            "parameterization": "noncentered",
            "data": {
                "name": "hand",
                "n_worksites": 6,
                "n_workers": 300,
                "n_train": 300,
                "n_test": 0,
                "prevalence": data.prevalence,
                "split": "workers",
                "sigma_worker_truth": 0.5,
            },
            "timing": {"fit_s": 1.5, "total_s": 2.0},
            "predictive": predictive_metrics(extract(fit, data), data, in_sample=True),
            "posterior": post,
            "reference": reference,
            "diagnostics": diagnostics_section(
                extract(fit, data), data, ModelSpec(), {}, None, {"fit_s": 1.5}
            ),
            "clustering": {
                "k": 2,
                "chosen_k": 2,
                "ari_seeds": {"mean": 0.9},
                "ari_draws": {"mean": 0.4},
                "ari_truth": None,
                "stability": {"verdict": "unstable", "reason": "draws disagree"},
                "n_per_cluster": [3, 3],
                "separating_site_features": ["s0"],
            },
        }
    )


def test_full_report_leads_with_coverage_and_embeds_figures(tmp_path):
    (tmp_path / "figures").mkdir()
    fig = tmp_path / "figures" / "roc.png"
    fig.write_bytes(b"png")
    text = write_run_report(_full_metrics(), tmp_path, [fig]).read_text()
    head = text.index("## Headline")
    assert head < text.index("Coverage of the truth, beta_worker") < text.index("AUC")
    for needle in (
        "## What ran",
        "## Variance components",
        "## Against the reference",
        "## Clusters",
        "## Diagnostics",
        "## Prediction",
        "in-sample",
        "![roc](figures/roc.png)",
        "median sd ratio",
        "R-hat",
        "mean \\|z\\|",  # pipes inside a table cell are escaped
    ):
        assert needle in text, needle
    # the too narrow method (sd 0.15 vs 0.3): sd ratio ~0.5, shown in the reference table
    assert "0.5" in text[text.index("## Against the reference") :]


def test_report_without_optional_sections(tmp_path):
    text = write_run_report({}, tmp_path, []).read_text()
    assert text.startswith("# Run report")
    metrics = _full_metrics()
    for key in ("reference", "clustering"):
        metrics.pop(key)
    metrics["posterior"]["recovery"] = None  # real data: no truth
    metrics["posterior"]["sigma_collapse"]["sigma_worker"]["truth"] = None
    text = write_run_report(metrics, tmp_path, []).read_text()
    assert "## Against the reference" not in text and "## Clusters" not in text
    assert "## Variance components" in text and "## Figures" not in text


def test_malformed_section_is_noted_not_fatal(tmp_path):
    metrics = {
        "backend": "b",
        "posterior": {"recovery": {"beta_worker": {"n": 3}}},
        "reference": {"blocks": {"alpha": {"n": 1}}},
    }
    text = write_run_report(metrics, tmp_path, []).read_text()
    assert "could not be rendered" in text


def test_coverage_verdict_uses_binomial_band():
    assert coverage_verdict(0.9, 0.9, 100) == "consistent with nominal"
    assert "narrow" in coverage_verdict(0.7, 0.9, 1000)  # 2 sd band is +-0.019
    assert "wide" in coverage_verdict(0.99, 0.9, 1000)


def test_failed_approximation_and_untrustworthy_psis_lead_the_headline(tmp_path):
    """Issue 20: the psis section had no renderer, and a failed method read like any other."""
    from evaluation.report.run.report import render_run_report

    m = {
        "backend": "pyro_meanfield",
        "approximation": {"failed": True, "reasons": ["k-hat 2.8 > 0.7 and beta_site sd 0.31"]},
        "psis": {"applied": True, "khat": 2.84, "ess": 1.02, "n_draws": 1000, "n_unique": 3,
                 "trustworthy": False, "scored": "resampled posterior",
                 "verdict": "k-hat 2.84 > 0.7: the PSIS correction is NOT trustworthy"},
        "predictive": {"auc": 0.89, "accuracy": 0.88, "baseline_accuracy": 0.83},
    }  # fmt: skip
    text = render_run_report(m, tmp_path)
    head = text[text.index("## Headline") :]
    lines = [ln for ln in head.splitlines() if ln.startswith("- ")]
    assert lines[0].startswith("- **Approximation: FAILED** — k-hat 2.8 > 0.7 and beta_site")
    assert lines[1].startswith("- **PSIS-resampled posterior: NOT TRUSTWORTHY**")
    assert "effective sample size 1.02 of 1000 draws" in lines[1]
    section = text[text.index("## PSIS importance resampling") :]
    assert "| 2.84 | 1.02 | 1000 | 3 | NO |" in section
    m["approximation"] = {"failed": None, "reasons": ["not checked: no NUTS posterior"]}
    assert "- **Approximation:** not checked: no NUTS posterior." in render_run_report(m, tmp_path)
