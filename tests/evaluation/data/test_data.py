"""Tests of evaluation.data: the paper twin, its raw tables, the split and the dispatcher."""

from __future__ import annotations

import dataclasses
import inspect
import json
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from scipy.special import expit
from scipy.stats import spearmanr

from backends.spec import linear_predictor
from evaluation.config import schema
from evaluation.data.features import (
    PAPER_SITE_FEATURES,
    PAPER_WORKER_FEATURES,
    one_hot,
    paper_site_features,
    paper_worker_features,
    quantile_bins,
    standardize,
)
from evaluation.data.load import DATA_KINDS, load_data
from evaluation.data.split import split_data, split_from_config, split_rows
from evaluation.data.twin import PAPER_TRUTH, make_paper_twin, paper_twin_tables

CONF = Path(__file__).resolve().parents[3] / "conf" / "data" / "paper.yaml"
SITE_ONE_HOT = [f"campaign_length_q{i}" for i in range(1, 6)]
WORKER_ONE_HOT = [f"first_convo_q{i}" for i in range(1, 5)]


@pytest.fixture(scope="module")
def paper():
    """The paper-scale twin (about 0.1 s to build)."""
    return make_paper_twin()


@pytest.fixture(scope="module")
def tables():
    return paper_twin_tables()


def test_shapes_names_and_ids(paper):
    assert paper.name == "paper"
    assert (paper.n_worksites, paper.n_workers) == (120, 16553)
    assert paper.site_features == PAPER_SITE_FEATURES and len(PAPER_SITE_FEATURES) == 18
    assert paper.worker_features == PAPER_WORKER_FEATURES and len(PAPER_WORKER_FEATURES) == 7
    assert paper.X_site.shape == (120, 18) and paper.X_worker.shape == (16553, 7)
    assert paper.worksite_ids[:2] == ("WS001", "WS002") and paper.worksite_ids[-1] == "WS120"
    sizes = np.bincount(paper.site, minlength=120)
    assert sizes.min() >= 5 and sizes.max() > 3 * np.median(sizes)  # uneven, floor of 5


def test_one_hot_columns(paper, tables):
    site_oh = paper.X_site[:, [PAPER_SITE_FEATURES.index(c) for c in SITE_ONE_HOT]]
    assert set(np.unique(site_oh)) == {0.0, 1.0}
    assert (site_oh.sum(1) == 1).all()  # exactly one campaign-length quintile per site
    assert (site_oh.sum(0) == 24).all()  # 120 sites in 5 equal-count bins
    worker_oh = paper.X_worker[:, [PAPER_WORKER_FEATURES.index(c) for c in WORKER_ONE_HOT]]
    assert set(np.unique(worker_oh)) == {0.0, 1.0} and (worker_oh.sum(1) <= 1).all()
    # a worker has a first-conversation quartile iff contacted: counts match n_contacted
    contacted = np.bincount(paper.site, weights=worker_oh.sum(1), minlength=120)
    np.testing.assert_array_equal(contacted, tables.groups["n_contacted"])
    # campaign quintiles follow the latent campaign length
    q = site_oh.argmax(1)
    length = tables.groups["campaign_length_days"].to_numpy()
    assert all(length[q == i].max() <= length[q == i + 1].min() for i in range(4))


def test_raw_tables_are_consistent(paper, tables):
    g, u = tables.groups, tables.units
    assert list(g["worksite_id"]) == list(paper.worksite_ids)
    assert (g["n_discovered"] >= g["n_contacted"]).all() and (g["n_contacted"] >= 1).all()
    assert (g["n_conversations"] >= g["n_contacted"]).all()
    np.testing.assert_allclose(g["mean_degree"], 2 * g["n_edges"] / g["n_discovered"])
    np.testing.assert_array_equal(u.groupby("worksite_id").size(), g["n_discovered"])
    size = g["n_discovered"]
    # Directions "as in reality"; rank correlations over 120 sites, sd about 0.09.
    assert spearmanr(size, g["n_contacted"])[0] > 0.6
    assert spearmanr(size, g["n_edges"])[0] > 0.6
    assert spearmanr(g["n_contacted"], g["n_conversations"])[0] > 0.6
    assert spearmanr(size, g["centrality_mean"])[0] < -0.6
    # eigenvector centralities have unit L2 norm within each site
    norms = u.assign(c2=u["eigen_centrality"] ** 2).groupby("worksite_id")["c2"].sum()
    np.testing.assert_allclose(norms, 1.0)


def test_recipes_reproduce_the_arrays(paper, tables):
    np.testing.assert_array_equal(paper_site_features(tables.groups), paper.X_site)
    np.testing.assert_array_equal(paper_worker_features(tables.units), paper.X_worker)
    np.testing.assert_array_equal(tables.units["signed"], paper.y)


def test_continuous_columns_are_standardised(paper):
    blocks = [(paper.X_site, PAPER_SITE_FEATURES, SITE_ONE_HOT),
              (paper.X_worker, PAPER_WORKER_FEATURES, WORKER_ONE_HOT)]  # fmt: skip
    for x, names, one_hots in blocks:
        cont = [i for i, n in enumerate(names) if n not in one_hots]
        np.testing.assert_allclose(x[:, cont].mean(0), 0.0, atol=1e-12)
        np.testing.assert_allclose(x[:, cont].std(0), 1.0, rtol=1e-12)


def test_feature_helpers():
    np.testing.assert_array_equal(standardize([3.0, 3.0]), [0.0, 0.0])
    np.testing.assert_array_equal(one_hot([0, 2], 3), [[0, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(quantile_bins([5.0, 1.0, 3.0, 2.0, 4.0], 5), [5, 1, 3, 2, 4])
    with pytest.raises(ValueError, match="codes"):
        one_hot([4], 3)


def test_deterministic_and_seed_sensitive():
    kw = {"n_worksites": 10, "n_workers": 600, "sigma_worker": 0.3}
    a, b = make_paper_twin(seed=3, **kw), make_paper_twin(seed=3, **kw)
    for field in ("y", "site", "X_site", "X_worker"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    for key in a.truth:
        np.testing.assert_array_equal(a.truth[key], b.truth[key])
    c = make_paper_twin(seed=4, **kw)
    assert not np.array_equal(a.X_site, c.X_site) and not np.array_equal(a.y, c.y)
    # sigma_worker only rescales beta_worker: features are untouched (independent streams)
    d = make_paper_twin(seed=3, **{**kw, "sigma_worker": 0.6})
    np.testing.assert_array_equal(a.X_worker, d.X_worker)
    np.testing.assert_allclose(d.truth["beta_worker"], 2 * a.truth["beta_worker"])


@pytest.mark.parametrize("target", [0.17, 0.4])
def test_prevalence_is_calibrated(paper, target):
    data = paper if target == 0.17 else make_paper_twin(prevalence=target)
    p = expit(linear_predictor(data.truth, data))
    assert p.mean() == pytest.approx(target, abs=1e-9)  # alpha solves mean(p) = target
    # y | p is Poisson-binomial, sd <= sqrt(t(1-t)/N) ~ 0.003 at N = 16,553: allow 4 sd.
    assert abs(data.prevalence - target) < 4 * np.sqrt(target * (1 - target) / data.n_workers)
    assert data.meta["alpha_paper"] == PAPER_TRUTH["alpha"]
    assert data.meta["alpha_calibrated"] == data.truth["alpha"]


def test_truth(paper):
    t = paper.truth
    assert set(t) == {"alpha", "beta_site", "sigma_site", "sigma_worker", "beta_worker"}
    np.testing.assert_array_equal(t["beta_site"], PAPER_TRUTH["beta_site"])
    assert float(t["sigma_site"]) == PAPER_TRUTH["sigma_site"]
    # the paper's sigma_worker (0.006294) from its one constant, and the twin's default is it
    assert float(t["sigma_worker"]) == PAPER_TRUTH["sigma_worker"] == 0.006294
    default = inspect.signature(make_paper_twin).parameters["sigma_worker"].default
    assert default == PAPER_TRUTH["sigma_worker"], f"make_paper_twin(sigma_worker={default})"
    assert t["beta_worker"].shape == (120, 7)
    assert paper.cluster_labels is None and paper.meta["cluster_labels"] is None
    json.dumps(paper.meta)  # provenance must be JSON-serialisable
    drawn = make_paper_twin(n_worksites=10, n_workers=500, sigma_site=0.5, seed=2)
    assert float(drawn.truth["sigma_site"]) == 0.5
    assert not np.allclose(drawn.truth["beta_site"], PAPER_TRUTH["beta_site"])


def test_planted_clusters():
    data = make_paper_twin(n_worksites=60, n_workers=6000, sigma_worker=0.5, n_clusters=3,
                           cluster_separation=4.0, seed=5)  # fmt: skip
    labels = data.cluster_labels
    assert labels.shape == (60,) and np.bincount(labels).tolist() == [20, 20, 20]
    assert data.meta["cluster_labels"] == labels.tolist()
    sizes = np.bincount(data.site, minlength=60)
    assert sizes[labels == 0].max() <= sizes[labels == 1].min()  # larger sites, higher label
    bw = data.truth["beta_worker"]
    for name in ("n_notes", "first_convo_q1"):
        col = bw[:, PAPER_WORKER_FEATURES.index(name)]
        gaps = np.diff([col[labels == c].mean() for c in range(3)])
        # separation is in within-cluster sds w (the mixture's sd stays sigma_worker = 0.5):
        # w = 0.5 / sqrt(1 + 16 * 2/3) ~ 0.146; each cluster mean has sd w / sqrt(20), a gap
        # w * sqrt(2 / 20); planted gap 4 w
        w = data.meta["within_cluster_sd"][name]
        assert w == pytest.approx(0.5 / np.sqrt(1 + 16 * 2 / 3))
        np.testing.assert_allclose(gaps, 4.0 * w, atol=4 * w * np.sqrt(2 / 20))
    assert make_paper_twin(n_worksites=10, n_workers=500, n_clusters=1).cluster_labels is None


def test_split_by_workers(paper):
    train, test = split_data(paper, test_fraction=0.2, by="workers", seed=1)
    rows = split_rows(paper, 0.2, "workers", 1)
    assert np.intersect1d(rows.train, rows.test).size == 0
    assert rows.train.size + rows.test.size == paper.n_workers
    assert train.worksite_ids == test.worksite_ids == paper.worksite_ids
    n_site = np.bincount(paper.site, minlength=120)
    n_test = np.bincount(test.site, minlength=120)
    assert (np.bincount(train.site, minlength=120) >= 1).all()  # every site stays in train
    # per site the held-out count is floor or ceil of 0.2 * n_j; the total is exact
    assert (np.abs(n_test - 0.2 * n_site) < 1).all()
    assert test.n_workers == round(0.2 * paper.n_workers)
    assert train.meta["split"]["part"] == "train" and test.name == "paper:test"
    again = split_data(paper, test_fraction=0.2, by="workers", seed=1)[1]
    np.testing.assert_array_equal(again.y, test.y)


def test_split_small_sites():
    data = make_paper_twin(n_worksites=5, n_workers=10, seed=0, prevalence=0.5)
    rows = split_rows(data, 0.9, "workers", 0)
    assert (np.bincount(data.site[rows.train], minlength=5) >= 1).all()
    # 0.1 of 2-worker sites rounds to 0 per site, but the total round(0.1 * 10) = 1 holds
    assert split_rows(data, 0.1, "workers", 0).test.size == 1
    with pytest.raises(ValueError, match="holds out no worker"):
        split_data(data, test_fraction=0.01)


def test_split_by_worksites(paper):
    train, test = split_data(paper, test_fraction=0.2, by="worksites", seed=0)
    held, kept = set(test.site.tolist()), set(train.site.tolist())
    assert not held & kept and len(held) == 24 and len(kept) == 96
    assert train.n_worksites == test.n_worksites == 120  # all coordinates kept


def test_in_sample_split(paper):
    train, test = split_data(paper, test_fraction=0.0)
    assert train is paper and test is None


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"test_fraction": 1.0}, "test_fraction"),
    ({"test_fraction": -0.1}, "test_fraction"),
    ({"by": "rows"}, "data.split"),
])  # fmt: skip
def test_split_errors(paper, kwargs, match):
    with pytest.raises(ValueError, match=match):
        split_data(paper, **kwargs)


def test_split_error_when_a_class_is_missing(paper):
    y = np.zeros(paper.n_workers, dtype=np.int8)
    y[0] = 1
    with pytest.raises(ValueError, match="without class 1"):
        split_data(dataclasses.replace(paper, y=y), test_fraction=0.2, seed=0)


@pytest.mark.parametrize(("kwargs", "knob"), [
    ({"n_workers": 100, "n_worksites": 120}, "n_workers"),
    ({"n_worksites": 1}, "n_worksites"),
    ({"n_worksites": 10.0}, "n_worksites"),
    ({"prevalence": 0.0}, "prevalence"),
    ({"prevalence": 1.0}, "prevalence"),
    ({"sigma_worker": -0.1}, "sigma_worker"),
    ({"sigma_site": -1.0}, "sigma_site"),
    ({"n_clusters": 500}, "n_clusters"),
    ({"cluster_separation": float("nan")}, "cluster_separation"),
    ({"seed": -1}, "seed"),
    ({"prevalence": "high"}, "prevalence"),
])  # fmt: skip
def test_knob_errors(kwargs, knob):
    with pytest.raises(ValueError, match=f"data.{knob} "):
        make_paper_twin(**kwargs)


def test_load_data_from_the_yaml_config():
    schema.register()
    with initialize_config_dir(config_dir=str(CONF.parents[1]), version_base="1.3"):
        cfg = compose("config", overrides=["seed=3", "data.n_worksites=12", "data.n_workers=900"])
    data = load_data(cfg.data)
    ref = make_paper_twin(n_worksites=12, n_workers=900, sigma_worker=0.006294, seed=3)
    np.testing.assert_array_equal(data.y, ref.y)
    np.testing.assert_array_equal(data.X_site, ref.X_site)
    train, _ = split_from_config(data, cfg.data)
    assert train.meta["split"] == {"by": "workers", "test_fraction": 0.2, "seed": 3,
                                   "part": "train", "n_rows": train.n_workers}  # fmt: skip


def test_load_data_errors():
    with pytest.raises(ValueError, match=r"data\.kind must be one of") as err:
        load_data({"kind": "csv"})
    assert all(k in str(err.value) for k in DATA_KINDS)
    named = load_data({"kind": "paper", "name": "paper_small", "n_worksites": 4, "n_workers": 80})
    assert named.name == "paper_small"
    with pytest.raises(ValueError, match="unknown keys \\['n_sites'\\]"):
        load_data({"kind": "paper", "n_sites": 3, "_comment": "ignored"})
