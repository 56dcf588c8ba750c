"""Every claim kind can fail: on small twins where a claim is false by construction, a real
NUTS fit (PyMC/nutpie) does not call it credible.

Two twins of 40 worksites x 2,000 workers (sigma_worker = 1, the main job's scenario at small
size), fitted once each (2 chains x (300 + 300); one nutpie compile serves both: same shapes):

* ``reversed``: no planted clusters, and beta_site = -0.3 x the paper's with NDO set to -0.2,
  so every regression conclusion of the paper is false (signs reversed, NDO neither positive
  nor strongest, the mid-length contrast and the size effects reversed, tactics weaker than
  inherent features); sigma_worker = 1 makes "small scale" and "site features dominate" false;
  without clusters, the paper's procedure on the true coefficients (the oracle clustering,
  the clustering claims' truth) selects K = 3 and finds clusters that neither separate on size
  nor order the attention effects by size.  The paper's ledger is evaluated on it.
* ``clustered``: two planted clusters by size (the main job's), for the kinds the first cannot
  falsify: "most features even" on size features, a reversed effect order, K = 3, a scale
  above its truth, and a negative worker-weighted mean slope of n_notes (+0.53 in truth).

Each claim checked is first asserted false under the generating parameters (the construction
is right), then "not credible" under NUTS (credible would need P >= 0.95 by more than 2 Monte
Carlo errors).  Real fits, so the draws are random: the margins are wide (every probability
observed on these seeds is below 0.7).  At 50 workers per worksite the per-draw clusterings
recover the planted clusters only partly (P(K = 2 selected) was 0.44 on both twins), so the
clustered twin shows that these kinds are not credible when false, not their power; their
answers on clusterings with known structure are in test_claim_kinds.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from omegaconf import OmegaConf
from scipy.special import expit

from backends.spec import ModelSpec
from evaluation.claims.kinds import KINDS
from evaluation.claims.load import load_ledger
from evaluation.clustering.pipeline import run_clustering
from evaluation.config import CONF_DIR
from evaluation.data.features import PAPER_SITE_FEATURES
from evaluation.data.twin import PAPER_TRUTH, calibrate_alpha, make_paper_twin
from evaluation.judge import claims_for
from evaluation.metrics.draws import extract

TWIN = {"n_worksites": 40, "n_workers": 2000, "sigma_worker": 1.0, "site_scale": 0.3,
        "seed": 0}  # fmt: skip
#: Claims on the clustered twin that are false by construction (clusters planted by size,
#: larger sites with larger n_notes / first_convo_q1 effects, K = 2, sigma_worker = 1; the
#: workers-weighted mean over worksites of the true n_notes slopes is +0.53).
CLUSTERED_CLAIMS = {"claims": [
    {"name": "size_features_even", "kind": "cluster_even",
     "features": ["log_n_discovered", "log_n_edges"]},
    {"name": "larger_sites_smaller_notes_effect", "kind": "cluster_effect_order",
     "coefficients": ["n_notes"], "size_feature": "log_n_discovered", "direction": "smaller"},
    {"name": "three_clusters_selected", "kind": "k_selected", "k": 3},
    {"name": "sigma_worker_large", "kind": "scale_above", "threshold": 2.0},
    {"name": "notes_slope_negative", "kind": "mean_slope", "feature": "n_notes",
     "direction": "negative", "weighted": True},
]}  # fmt: skip


def reversed_twin():
    """The twin without clusters, y re-drawn under the reversed beta_site (see the docstring)."""
    twin = make_paper_twin(**TWIN)
    beta = -0.3 * PAPER_TRUTH["beta_site"]
    beta[PAPER_SITE_FEATURES.index("ndo")] = -0.2
    t = twin.truth
    offset = (twin.X_site @ beta)[twin.site] + np.einsum(
        "nk,nk->n", twin.X_worker, t["beta_worker"][twin.site]
    )
    alpha = calibrate_alpha(offset, 0.17)
    y = (np.random.default_rng(11).random(twin.n_workers) < expit(alpha + offset)).astype(np.int8)
    return dataclasses.replace(twin, y=y, truth={**t, "alpha": alpha, "beta_site": beta})


def fit_and_judge(data, ledger):
    """The app's path: NUTS fit, the clustering judge (default settings), the claims section."""
    from backends.pymc import PyMCNUTS

    fit = PyMCNUTS(ModelSpec(), chains=2, tune=300, draws=300, progress=False).fit(data, 0)
    settings = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "evaluation" / "default.yaml"))
    clustered = run_clustering(fit.idata.posterior, data, settings["clustering"])
    return claims_for(ledger, data, extract(fit.idata, data), clustered)


@pytest.fixture(scope="module")
def reversed_section():
    ledger = load_ledger(CONF_DIR / "claims" / "paper.yaml")
    return fit_and_judge(reversed_twin(), ledger)


@pytest.fixture(scope="module")
def clustered_section():
    twin = make_paper_twin(**TWIN, n_clusters=2, cluster_separation=6.0)
    ledger = load_ledger(CLUSTERED_CLAIMS)
    return fit_and_judge(twin, ledger)


def false_claims(section):
    """The identified claims that are false under the generating parameters."""
    return [c for c in section["claims"] if c["identified"] and c["truth_value"] is False]


def test_nuts_does_not_find_the_papers_conclusions_on_a_twin_where_they_are_false(
    reversed_section,
):
    checked = false_claims(reversed_section)
    names = {c["name"] for c in checked}
    # every identified paper claim except "most features even" (true without clusters)
    expected = {c["name"] for c in reversed_section["claims"] if c["identified"]}
    assert names == expected - {"other_features_even"}, names ^ expected
    credible = [(c["name"], c["probability"]) for c in checked if c["verdict"] == "credible"]
    assert not credible
    assert all(c["probability"] is not None for c in checked)
    by_name = {c["name"]: c for c in checked}
    assert by_name["ndo_positive"]["probability"] < 0.75
    assert by_name["latino_zip_negative"]["verdict"] == "contradicted"


def test_k_selection_is_not_credible_without_clusters(reversed_section):
    k2 = next(c for c in reversed_section["claims"] if c["name"] == "two_clusters_selected")
    assert k2["truth_value"] is False and k2["n_draws"] == 150
    assert k2["verdict"] != "credible" and k2["probability"] < 0.9
    assert k2["detail"].startswith("K chosen per draw:")


def test_the_clustering_kinds_fail_where_the_planted_clusters_say_so(clustered_section):
    checked = false_claims(clustered_section)
    assert {c["name"] for c in checked} == {c["name"] for c in CLUSTERED_CLAIMS["claims"]}
    assert not [(c["name"], c["probability"]) for c in checked if c["verdict"] == "credible"]


def test_every_claim_kind_was_shown_to_fail(reversed_section, clustered_section):
    kinds = {c["kind"] for s in (reversed_section, clustered_section) for c in false_claims(s)}
    assert kinds == set(KINDS)
