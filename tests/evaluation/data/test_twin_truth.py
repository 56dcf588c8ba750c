"""The twin's truth means what its knobs say: sigma_worker with clusters, design, site_scale."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evaluation.data.design import design_check
from evaluation.data.features import CLUSTER_FEATURES, PAPER_WORKER_FEATURES
from evaluation.data.twin import IDENTIFIED_DROP, make_paper_twin
from evaluation.metrics.oracle import difficulty, site_logits
from evaluation.metrics.posterior import estimable_coefficients

SMALL = {"n_worksites": 40, "n_workers": 1200, "seed": 4}


@pytest.mark.parametrize("n_clusters", [0, 2, 3])
def test_sigma_worker_is_the_realised_marginal_sd(n_clusters):
    """Every feature's beta_worker sd over J worksites is sigma_worker within sampling error.

    sd of a sample sd ~ sigma / sqrt(2 J) (normal; a two-point mixture has less); tolerance
    4 of those per feature (J = 400: 0.071 for sigma 0.5), and the mean over the 7 features
    within 4 sigma / sqrt(2 J 7).  Before the fix the shifted features had sd ~ 1.1 here.
    """
    sigma, j = 0.5, 400
    data = make_paper_twin(n_worksites=j, n_workers=4000, sigma_worker=sigma,
                           n_clusters=n_clusters, cluster_separation=4.0, seed=11)  # fmt: skip
    sds = data.truth["beta_worker"].std(axis=0)
    tol = sigma / np.sqrt(2 * j)
    np.testing.assert_allclose(sds, sigma, atol=4 * tol)
    assert abs(sds.mean() - sigma) < 4 * tol / np.sqrt(sds.size)
    assert float(data.truth["sigma_worker"]) == sigma
    json.dumps(data.meta)


def test_within_cluster_sd_and_separation_in_meta():
    sigma, sep = 0.5, 4.0
    data = make_paper_twin(n_worksites=400, n_workers=4000, sigma_worker=sigma, n_clusters=2,
                           cluster_separation=sep, seed=2)  # fmt: skip
    meta, labels = data.meta, data.cluster_labels
    w = meta["within_cluster_sd"]
    centred = labels - 0.5
    # population identity: within^2 + var(shift) = sigma^2 (exactly, by construction)
    for f in CLUSTER_FEATURES:
        assert w[f] ** 2 * (1 + sep**2 * centred.var()) == pytest.approx(sigma**2)
        assert w[f] < sigma
    assert all(w[f] == sigma for f in PAPER_WORKER_FEATURES if f not in CLUSTER_FEATURES)
    assert meta["cluster_separation"] == sep
    assert meta["cluster_mean_gap"] == pytest.approx(sep * w[CLUSTER_FEATURES[0]])
    bw = data.truth["beta_worker"]
    for f in CLUSTER_FEATURES:
        col = bw[:, PAPER_WORKER_FEATURES.index(f)]
        gap = col[labels == 1].mean() - col[labels == 0].mean()
        # each cluster mean has sd w / sqrt(200); the gap sd w / 10; 4 of those
        assert abs(gap - meta["cluster_mean_gap"]) < 4 * w[f] / 10
        within = np.sqrt(np.mean([col[labels == c].var() for c in (0, 1)]))
        assert abs(within - w[f]) < 4 * w[f] / np.sqrt(2 * 400)


def test_design_identified_is_full_rank_with_the_same_linear_predictor():
    paper = make_paper_twin(**SMALL)
    ident = make_paper_twin(design="identified", **SMALL)
    check = design_check(ident)
    assert check["site"]["identified"] and check["site"]["rank"] == check["site"]["n_columns"]
    assert design_check(paper)["site"]["rank_deficiency"] == 2
    assert ident.meta["design"] == "identified" and paper.meta["design"] == "paper"
    assert ident.meta["dropped_site_features"] == list(IDENTIFIED_DROP)
    assert not set(IDENTIFIED_DROP) & set(ident.site_features)
    assert len(ident.site_features) == len(paper.site_features) - 2
    assert ident.truth["beta_site"].shape == (len(ident.site_features),)
    # folded: every worksite's logit unchanged, hence the same outcome
    np.testing.assert_allclose(site_logits(ident), site_logits(paper), atol=1e-9)
    np.testing.assert_array_equal(ident.y, paper.y)
    assert all(estimable_coefficients(ident).values())


def test_estimable_marks_on_the_paper_design():
    flags = estimable_coefficients(make_paper_twin(**SMALL))
    not_identified = {n for n, ok in flags.items() if not ok}
    quintiles = {f"campaign_length_q{i}" for i in range(1, 6)}
    degree = {"log_mean_degree", "log_n_edges", "log_n_discovered"}
    assert not_identified == {"alpha"} | quintiles | degree
    assert flags["pct_black_zip"] and flags["ndo"]


def test_site_scale_scales_the_site_logits():
    base = make_paper_twin(**SMALL)
    half = make_paper_twin(site_scale=0.5, **SMALL)
    np.testing.assert_allclose(half.truth["beta_site"], 0.5 * base.truth["beta_site"])
    assert difficulty(half)["site_logit_sd"] == pytest.approx(
        0.5 * difficulty(base)["site_logit_sd"]
    )
    assert half.meta["site_scale"] == 0.5


@pytest.mark.parametrize(
    ("kw", "knob"), [({"design": "full"}, "design"), ({"site_scale": -1.0}, "site_scale")]
)
def test_bad_knobs(kw, knob):
    with pytest.raises(ValueError, match=knob):
        make_paper_twin(**SMALL, **kw)
