"""The paper's GMM Gibbs sampler and the stability of its clustering (no PPL needed).

Posteriors are faked: ``beta_worker`` draws (chain, draw, worksite, worker_feature) built around
planted per-worksite means, so every assertion is about the clustering code alone.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from hydra import compose, initialize_config_dir

from backends.spec import HierData
from evaluation import io
from evaluation.clustering import gmm
from evaluation.clustering import select as gmm_select
from evaluation.clustering.coefficients import scale_columns
from evaluation.clustering.dataset import FILENAME
from evaluation.clustering.pipeline import run_clustering
from evaluation.clustering.settings import KEYS, settings
from evaluation.clustering.stability import (
    ari,
    coclustering,
    cross_run_ari,
    cross_run_ari_files,
    load_clusters,
)
from evaluation.config import CONF_DIR, plain, schema
from evaluation.metrics.draws import extract
from evaluation.report.run.cluster_figures import write_figures


def composed_block() -> dict:
    """The ``evaluation.clustering`` block of the composed config (the one source of defaults)."""
    schema.register()  # the structured configs the YAML files start from
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return plain(compose(config_name="config").evaluation.clustering)


#: The defaults, then settings small enough for unit tests.
DEFAULTS = composed_block()
FAST = {
    **DEFAULTS,
    "n_iter": 150,
    "burn_in": 50,
    "n_seeds": 3,
    "n_draws": 12,
    "k_range": [1, 4],
    "k_chains": 2,
    "bic": False,
}


def make_data(j: int, d: int = 4, labels: np.ndarray | None = None, seed: int = 0) -> HierData:
    """A tiny hand-built HierData: J worksites, D worker features, 3 site features."""
    rng = np.random.default_rng(seed)
    n = 3 * j
    site = np.repeat(np.arange(j), 3)
    x_site = rng.normal(size=(j, 3))
    if labels is not None:
        x_site[:, 0] += 3.0 * labels  # a site feature that differs between planted clusters
    return HierData(
        y=rng.integers(0, 2, n),
        site=site,
        X_site=x_site,
        X_worker=rng.normal(size=(n, d)),
        site_features=("size", "noise_a", "noise_b"),
        worker_features=tuple(f"w{i}" for i in range(d)),
        worksite_ids=tuple(f"site{i:03d}" for i in range(j)),
        cluster_labels=labels,
    )


def fake_posterior(
    means: np.ndarray, data: HierData, noise: float, seed: int = 1, chains: int = 2, draws: int = 30
) -> xr.Dataset:
    """Draws ``means + noise * N(0, 1)`` labelled like ``data``."""
    rng = np.random.default_rng(seed)
    values = means[None, None] + noise * rng.normal(size=(chains, draws, *means.shape))
    return xr.Dataset(
        {"beta_worker": (("chain", "draw", "worksite", "worker_feature"), values)},
        coords={"worksite": list(data.worksite_ids), "worker_feature": list(data.worker_features)},
    )


def planted(j: int = 40, d: int = 4, sep: float = 3.0, seed: int = 0):
    """Two planted clusters shifted by +-sep/2 in the first two features."""
    rng = np.random.default_rng(seed)
    labels = np.arange(j) % 2
    means = rng.normal(size=(j, d))
    means[:, :2] += (labels[:, None] - 0.5) * sep
    return means, labels


def blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated isotropic blobs in 4-D (centres 10 sd apart)."""
    rng = np.random.default_rng(seed)
    truth = np.repeat([0, 1, 2], 20)
    centres = np.array([[0, 0, 0, 0], [10, 0, 0, 0], [0, 10, 0, 0]], dtype=float)
    return centres[truth] + rng.normal(size=(60, 4)), truth


# ----------------------------------------------------------------------------- the sampler
def test_gibbs_matches_sklearn_on_separated_points():
    from sklearn.metrics import adjusted_rand_score
    from sklearn.mixture import GaussianMixture

    x, truth = blobs()
    res = gmm.gibbs_gmm(x, 3, n_iter=100, burn_in=20, seed=3)
    sk = GaussianMixture(3, covariance_type="spherical", random_state=0).fit_predict(x)
    # Exact agreement: the blobs are 10 sd apart, so any correct partition is the truth.
    assert adjusted_rand_score(res.labels[0], sk) == 1.0
    assert adjusted_rand_score(res.labels[0], truth) == 1.0


def test_sampler_invariants_and_determinism():
    x = scale_columns(planted()[0])[0]
    for sigma in (1e-4, 0.5):  # the paper's tiny sigma and one where assignments can move
        kw = {"sigma": sigma, "n_iter": 200, "burn_in": 100, "seed": 7}
        a = gmm.gibbs_gmm(np.repeat(x[None], 3, 0), 3, **kw)
        b = gmm.gibbs_gmm(np.repeat(x[None], 3, 0), 3, **kw)
        assert np.isfinite(a.log_joint).all()
        assert a.labels.min() >= 0 and a.labels.max() <= 2
        assert a.labels.dtype == np.int64 and a.labels.shape == (3, len(x))
        np.testing.assert_array_equal(a.log_joint, b.log_joint)  # same seed -> same chain
        np.testing.assert_array_equal(a.labels, b.labels)
        other = gmm.gibbs_gmm(x, 3, **{**kw, "seed": 8})
        assert not np.array_equal(other.log_joint[0], a.log_joint[0])
        post = a.log_joint[:, 100:]
        # "Non-decreasing on average after burn-in", exactly: (1) the post-burn-in mean is
        # above the starting value (the chain climbed out of its k-means++ start), and (2) the
        # mean of the last 50 post-burn-in sweeps is not below the mean of the first 50 by
        # more than one sd of the post-burn-in trace (for a stationary chain the two means
        # differ by ~sd * sqrt(2 tau / 50), far below one sd for the short autocorrelation
        # time tau of these chains).
        assert (post.mean(axis=1) >= a.log_joint[:, 0]).all()
        sd = post.std(axis=1)
        assert (post[:, 50:].mean(axis=1) >= post[:, :50].mean(axis=1) - sd).all()


def test_chain_does_not_depend_on_batch():
    x = scale_columns(planted()[0])[0]
    one = gmm.gibbs_gmm(x, 2, n_iter=60, burn_in=10, seed=4)
    many = gmm.gibbs_gmm(np.repeat(x[None], 4, 0), 2, n_iter=60, burn_in=10, seed=4)
    np.testing.assert_array_equal(one.log_joint[0], many.log_joint[0])


def test_the_z_step_noise_is_standard_gumbel_per_chain():
    """The Gumbel-max z-step's variates (drawn as -log E, E ~ Exp(1)): mean Euler's gamma
    0.5772 and variance pi^2 / 6 over 100,000 of them (standard errors 0.004 and 0.01; the
    tolerances are 5 of them), and each chain's from its own generator."""
    rngs = [np.random.default_rng([0, 0, c]) for c in range(2)]
    noise = gmm._Noise(rngs, j=40, k=5, d=3, alpha0=1.0, block=250)
    gumbel = np.stack([noise.next()[0] for _ in range(250)])  # (iter, chain, J, K)
    assert gumbel.mean() == pytest.approx(np.euler_gamma, abs=0.02)
    assert gumbel.var() == pytest.approx(np.pi**2 / 6, abs=0.05)
    alone = gmm._Noise([np.random.default_rng([0, 0, 1])], j=40, k=5, d=3, alpha0=1.0)
    np.testing.assert_array_equal(alone.next()[0][0], gumbel[0, 1])  # chain 1 on its own


def test_ari_is_sklearns_adjusted_rand_index():
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 40, 120):
        for _ in range(20):
            a, b = rng.integers(0, rng.integers(1, 6), n), rng.integers(0, rng.integers(1, 6), n)
            assert ari(a, b) == adjusted_rand_score(a, b)
            assert ari(a, 3 * a + 7) == 1.0 == ari(b, b)
    with pytest.raises(ValueError, match="different lengths"):
        ari([0, 1], [0, 1, 1])


def test_select_k_finds_planted_two():
    means, _ = planted(j=60, sep=6.0)
    sel = gmm_select.select_k(scale_columns(means)[0], (1, 5), n_chains=2, n_iter=150, burn_in=50)
    assert sel.chosen_k == 2 and sel.chosen_k_bic == 2
    assert np.all(np.diff(sel.score) > 0)  # tiny sigma: the log joint always rises with K
    assert sel.traces.shape == (5, 2, 150)


def test_canonical_labels_and_coclustering_are_label_invariant():
    labels = np.array([1, 1, 0, 2, 2, 2])
    np.testing.assert_array_equal(gmm.canonical_labels(labels), [1, 1, 2, 0, 0, 0])
    draws = np.array([[0, 0, 1, 1], [1, 1, 0, 0]])
    cc = coclustering(draws)
    np.testing.assert_array_equal(cc, coclustering(draws[:1]))
    assert cc[0, 1] == 1.0 and cc[0, 2] == 0.0


# ----------------------------------------------------------------------------- stability
def test_recovers_planted_clusters(tmp_path):
    means, labels = planted()
    data = make_data(len(means), labels=labels)
    post = fake_posterior(means, data, noise=0.2)
    clustered = run_clustering(post, data, {**FAST, "k_range": [1, 4]})
    m = clustered.section
    json.dumps(m, allow_nan=False)
    # Clusters 3 sd apart with posterior noise 0.2: recovery should be (near) exact; 0.8 is
    # the bar and leaves room for a couple of borderline worksites.
    assert m["ari_truth"] > 0.8
    assert m["ari_draws"]["mean"] > 0.8 and m["stability"]["verdict"] == "stable"
    assert m["chosen_k"] == 2 and sum(m["n_per_cluster"]) == len(means)
    assert "size" in m["separating_site_features"]  # the planted site-level difference
    assert not m["degenerate"] and m["sigma_over_spread"] < 1e-3  # the paper's tiny-sigma regime
    io.write_netcdf(tmp_path / FILENAME, clustered.dataset)  # as the app writes it
    ds = load_clusters(tmp_path / FILENAME)
    assert ds["labels"].dims == ("worksite",) and ds.attrs["k"] == 2
    assert ds["coclustering"].shape == (len(means), len(means))
    assert ds["labels_draw"].sizes["draw_sample"] == FAST["n_draws"]
    assert ds["log_joint_seed"].shape == (FAST["n_seeds"], FAST["n_iter"])
    assert m["figures"] == []  # the report draws them and the app records their names
    drawn = write_figures(clustered, data, tmp_path / "fig")
    assert sorted(p.name for p in drawn) == sorted(
        p.name for p in (tmp_path / "fig").glob("cluster*.png")
    )
    assert len(drawn) == 4
    assert not list(tmp_path.glob(".*tmp"))  # atomic write leaves no temporary file


def test_pure_noise_is_unstable(tmp_path):
    rng = np.random.default_rng(3)
    means = rng.normal(size=(40, 4))
    data = make_data(40)
    post = fake_posterior(means, data, noise=1.0)
    m = run_clustering(post, data, FAST).section
    # Unstructured means plus posterior noise as large as their spread: each draw's partition
    # is mostly noise.  ARI of unrelated partitions is ~0; 0.5 is a wide margin below 0.8.
    assert m["ari_draws"]["mean"] < 0.5
    assert m["stability"]["verdict"] == "unstable"
    assert "0.8" in m["stability"]["reason"] and m["ari_truth"] is None


def test_cross_run_ari_aligns_by_label(tmp_path):
    means, labels = planted()
    data = make_data(len(means), labels=labels)
    post = fake_posterior(means, data, noise=0.2)
    perm = np.random.default_rng(0).permutation(len(means))
    shuffled = post.isel(worksite=perm)  # same worksites, another order
    cfg = {**FAST, "k_range": None, "n_draws": 0}
    for name, posterior in (("a", post), ("b", shuffled)):
        io.write_netcdf(tmp_path / name / FILENAME, run_clustering(posterior, data, cfg).dataset)
    assert cross_run_ari_files(
        tmp_path / "a" / "clusters.nc", tmp_path / "b" / "clusters.nc"
    ) == pytest.approx(1.0)
    a = load_clusters(tmp_path / "a" / "clusters.nc")["labels"]
    b = a.isel(worksite=perm).copy()
    b.values = 1 - b.values  # switched labels, shuffled order
    assert cross_run_ari(a, b) == pytest.approx(1.0)
    assert cross_run_ari(a, b.to_series()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="worksite sets differ"):
        cross_run_ari(a, b.isel(worksite=slice(1, None)))
    with pytest.raises(TypeError, match="positions"):
        cross_run_ari(a, np.asarray(b))


# ----------------------------------------------------------------------------- bad input
def test_bad_input_raises(tmp_path):
    means, _ = planted(j=6)
    data = make_data(6)
    post = fake_posterior(means, data, noise=0.1)
    with pytest.raises(ValueError, match="exceeds the number of worksites"):
        run_clustering(post, data, {**FAST, "k": 7})
    bad = post.copy(deep=True)
    bad["beta_worker"][0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        run_clustering(bad, data, FAST)
    with pytest.raises(ValueError, match="unknown config keys"):
        settings({**FAST, "sigmaa": 1.0})
    with pytest.raises(ValueError, match="sigma"):
        settings({**FAST, "sigma": 0})
    other = post.assign_coords(worksite=[f"x{i}" for i in range(6)])
    with pytest.raises(ValueError, match="labels differ"):
        run_clustering(other, data, FAST)
    with pytest.raises(ValueError, match="exceeds"):
        gmm.gibbs_gmm(np.zeros((3, 2)), 4)


def test_all_equal_coefficients_are_degenerate(tmp_path):
    data = make_data(10)
    post = fake_posterior(np.full((10, 4), 0.3), data, noise=0.0)
    clustered = run_clustering(post, data, FAST)  # warnings are errors
    m = clustered.section
    assert m["degenerate"] and "nothing to cluster" in m["degenerate_reason"]
    assert m["stability"]["verdict"] == "degenerate" and m["ari_seeds"]["mean"] is None
    assert write_figures(clustered, data, tmp_path / "fig") == []
    assert m["figures"] == [] and m["n_per_cluster"] == [10, 0]
    assert m["sigma_over_spread"] is None
    assert clustered.dataset.attrs["degenerate"] == 1
    json.dumps(m, allow_nan=False)


def test_constant_feature_is_zeroed_without_warnings():
    x = np.column_stack([np.arange(5.0), np.full(5, 2.0)])
    z, constant = scale_columns(x)
    assert constant.tolist() == [False, True] and np.all(z[:, 1] == 0)


def test_plain_array_input(tmp_path):
    means, labels = planted()
    data = make_data(len(means), labels=labels)
    m = run_clustering(means, data, {**FAST, "k_range": None}).section
    assert m["ari_truth"] > 0.8 and m["ari_draws"]["n"] == 0  # one matrix: no draw stability


def test_config_block_is_the_one_source_of_settings():
    # The composed YAML block holds every key the code reads, and no other (bar "enabled").
    block = dict(DEFAULTS)
    assert block.pop("enabled") is True
    assert list(block) == list(KEYS)
    assert settings(DEFAULTS) == block  # already typed as the code wants them
    assert block["k"] == 2 and block["sigma"] == pytest.approx(1e-4)  # the paper's choices
    # A missing or unknown key fails with one line naming it; no silent default.
    short = {k: v for k, v in DEFAULTS.items() if k != "eta"}
    with pytest.raises(ValueError, match=r"missing config keys \['eta'\]") as err:
        settings(short)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match=r"unknown config keys \['etaa'\]") as err:
        settings({**short, "etaa": 0.1})
    assert "\n" not in str(err.value)


def test_run_clustering_never_draws_or_writes_and_figures_keep_their_names(tmp_path):
    means, labels = planted(j=20, sep=5.0)
    data = make_data(20, labels=labels)
    post = fake_posterior(means, data, noise=0.1)
    clustered = run_clustering(post, data, {**FAST, "n_draws": 4})
    assert not any(tmp_path.rglob("*"))  # numbers only: no clusters.nc, no PNG
    assert set(clustered.dataset.data_vars) >= {"labels"}
    drawn = write_figures(clustered, data, tmp_path / "fig")
    assert [p.name for p in drawn] == [
        "cluster_fig6_coefficients.png",
        "cluster_log_joint.png",
        "cluster_fig7_site_features.png",
        "cluster_coclustering.png",
    ]
    assert all(p.parent == tmp_path / "fig" and p.stat().st_size > 0 for p in drawn)


def test_collapsed_and_trivial_verdicts(tmp_path):
    means, labels = planted(j=12)
    data = make_data(12, labels=labels)
    post = fake_posterior(means, data, noise=0.1)
    # sigma far above the spread of the coefficients: one cluster takes every worksite.
    m = run_clustering(post, data, {**FAST, "sigma": 100.0}).section
    assert m["stability"]["verdict"] == "degenerate" and m["empty_clusters"] == 1
    assert m["sigma_over_spread"] > 10
    m = run_clustering(post, data, {**FAST, "k": 1}).section
    assert m["stability"]["verdict"] == "trivial"


def test_best_of_keeps_highest_log_joint_restart():
    x = planted()[0]
    res = gmm.gibbs_gmm(np.repeat(x[None], 6, 0), 3, n_iter=40, burn_in=10, seed=2)
    best = gmm.best_of(res, 3)
    score = res.log_joint[np.arange(6), res.best_iter].reshape(2, 3)
    np.testing.assert_array_equal(best.log_joint[np.arange(2), best.best_iter], score.max(1))
    with pytest.raises(ValueError, match="groups"):
        gmm.best_of(res, 4)


def test_accepts_contract_inference_data(tmp_path):
    from backends.base import build_inference_data
    from backends.spec import ModelSpec

    means, labels = planted(j=20, sep=5.0)  # well separated: recovery is about the plumbing
    data = make_data(20, labels=labels)
    rng = np.random.default_rng(5)
    shape = (2, 15)
    post = {
        "alpha": rng.normal(size=shape),
        "beta_site": rng.normal(size=(*shape, 3)),
        "sigma_site": np.ones(shape),
        "sigma_worker": np.ones(shape),
        "beta_worker": means + 0.1 * rng.normal(size=(*shape, *means.shape)),
    }
    idata = build_inference_data(
        post, data, backend="fake_nuts", family="mcmc", library="none", library_version="0", seed=0,
        model=ModelSpec(),
    )  # fmt: skip
    m = run_clustering(extract(idata, data), data, {**FAST, "k_range": None}).section
    m2 = run_clustering(idata.posterior, data, {**FAST, "k_range": None}).section
    assert m["ari_truth"] > 0.8 and m2["ari_draws"] == m["ari_draws"]
    with pytest.raises(TypeError, match="not an InferenceData"):  # the judge extracts it once
        run_clustering(idata, data, FAST)


def test_bic_only_where_identifiable():
    x = planted(j=12)[0]  # D = 4: K = 1 has 8 free parameters (< 12), K = 2 has 17 (>= 12)
    bic = gmm_select.sklearn_bic(x * 1e-5, [1, 2])  # tiny scale: reg_covar is relative to the data
    assert np.isfinite(bic[0]) and np.isnan(bic[1])
    np.testing.assert_allclose(bic[0], gmm_select.sklearn_bic(x, [1])[0])  # scale-free by design
