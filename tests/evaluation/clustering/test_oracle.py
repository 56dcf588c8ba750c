"""The clustering ceiling: the same GMM on the true coefficients, scored against planted labels."""

from __future__ import annotations

import numpy as np
import pytest
from evalhelpers import separated

from backends.spec import HierData
from evaluation.clustering import oracle
from evaluation.clustering.pipeline import run_clustering
from evaluation.clustering.settings import settings
from evaluation.clustering.stability import ari as stability_ari
from evaluation.data.twin import make_paper_twin
from evaluation.report.run.report import _clustering

FAST = {
    "enabled": True, "k": 2, "sigma": 1e-4, "sigma_is": "sd", "alpha0": 1.0, "eta": 0.1,
    "n_iter": 150, "burn_in": 50, "standardize": False, "n_seeds": 3, "n_draws": 0,
    "draw_restarts": 1, "k_range": None, "k_chains": 1, "stability_threshold": 0.8,
    "bic": False, "seed": 0,
}  # fmt: skip


def hier(truth: np.ndarray, labels: np.ndarray | None) -> HierData:
    """J worksites with 3 workers each, true ``beta_worker`` and planted labels."""
    j, d = truth.shape
    rng = np.random.default_rng(0)
    return HierData(
        y=rng.integers(0, 2, 3 * j),
        site=np.repeat(np.arange(j), 3),
        X_site=rng.normal(size=(j, 2)),
        X_worker=rng.normal(size=(3 * j, d)),
        site_features=("a", "b"),
        worker_features=tuple(f"w{i}" for i in range(d)),
        worksite_ids=tuple(f"s{i:02d}" for i in range(j)),
        truth={"beta_worker": truth},
        cluster_labels=labels,
    )


def test_oracle_ari_is_one_on_well_separated_planted_clusters():
    x, labels = separated()
    sec = oracle.oracle_section(hier(x, labels), settings(FAST), method_ari=0.1)
    assert sec["ari_vs_planted"] == pytest.approx(1.0)
    assert sec["k"] == 2 and sorted(sec["n_per_cluster"]) == [20, 20]
    assert sec["limit"] == "estimates"  # oracle high, method low: the estimates lose it
    assert "TRUE coefficients" in sec["verdict"] and "0.10" in sec["verdict"]


def test_oracle_is_low_without_real_clusters_and_says_it_is_the_data():
    rng = np.random.default_rng(1)
    x, labels = rng.normal(size=(40, 4)), rng.integers(0, 2, 40)  # labels unrelated to x
    sec = oracle.oracle_section(hier(x, labels), settings(FAST), method_ari=0.05)
    assert sec["ari_vs_planted"] < 0.3
    assert sec["limit"] == "data"


def test_limit_verdicts():
    assert oracle.limit_verdict(0.95, 0.9)[0] == "recovered"
    assert oracle.limit_verdict(0.95, 0.3)[0] == "estimates"
    assert oracle.limit_verdict(0.5, 0.3)[0] == "data"
    assert oracle.limit_verdict(None, 0.3)[0] == "unknown"


def test_no_oracle_without_truth_or_planted_labels():
    x, labels = separated()
    assert oracle.oracle_section(hier(x, None), settings(FAST), 0.5) is None
    data = hier(x, labels)
    bare = HierData(**{**{f: getattr(data, f) for f in data.__dataclass_fields__}, "truth": None})
    assert oracle.oracle_section(bare, settings(FAST), 0.5) is None


def test_run_clustering_reports_the_oracle_beside_the_method(tmp_path):
    x, labels = separated()
    data = hier(x, labels)
    noisy = x + np.random.default_rng(5).normal(scale=8.0, size=x.shape)  # a poor "posterior"
    sec = run_clustering(noisy, data, FAST).section
    assert sec["oracle"]["ari_vs_planted"] == pytest.approx(1.0)
    assert sec["oracle"]["method_ari_vs_planted"] == sec["ari_truth"]
    assert sec["ari_truth"] < 0.8 and sec["oracle"]["limit"] == "estimates"


def test_oracle_on_the_paper_twin_with_planted_clusters():
    # The twin's true coefficients at a clearly separated setting: the GMM recovers the plant.
    data = make_paper_twin(
        n_worksites=40, n_workers=2000, sigma_worker=1.0, n_clusters=2, cluster_separation=6.0
    )
    sec = oracle.oracle_section(data, settings(FAST), None)
    assert sec["ari_vs_planted"] >= oracle.RECOVERABLE
    assert sec["limit"] == "unknown"


def test_run_report_shows_the_oracle_beside_the_method():
    x, labels = separated()
    sec = oracle.oracle_section(hier(x, labels), settings(FAST), method_ari=0.3)
    text = "\n".join(_clustering({"clustering": {"k": 2, "ari_truth": 0.3, "oracle": sec}}))
    assert "| oracle ARI against planted (same GMM on the true coefficients) | 1 |" in text
    assert "Ceiling: the same GMM on the TRUE coefficients reaches ARI 1.00" in text
    assert "Ceiling" not in "\n".join(_clustering({"clustering": {"k": 2, "oracle": None}}))


def test_the_oracle_clustering_runs_on_any_truth_and_selects_k_on_it():
    """Without planted labels there is no ARI ceiling, but the paper's procedure still runs
    on the true coefficients (the clustering claims' truth), K selected over k_range."""
    x, labels = separated()
    s = settings({**FAST, "k_range": [1, 4], "k_chains": 2})
    bundle = run_clustering(x + 0.01, hier(x, None), s)
    assert bundle.section["oracle"] is None
    assert bundle.oracle.chosen_k == 2 and stability_ari(bundle.oracle.result.labels, labels) == 1
    np.testing.assert_array_equal(bundle.oracle.coef.mean, x)
    sec = oracle.oracle_section(hier(x, labels), s, 0.5, bundle.oracle)
    assert sec["chosen_k"] == 2 and sec["ari_vs_planted"] == pytest.approx(1.0)
    assert oracle.oracle_clustering(hier(x, labels), settings(FAST)).chosen_k is None  # no k_range
    flat = oracle.oracle_clustering(hier(np.ones_like(x), None), s)
    assert flat.chosen_k == 1 and flat.result.degenerate_reason is not None
