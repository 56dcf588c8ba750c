"""Claims: the original kinds on draws whose answer is known exactly, identification, the
paper's ledger (the newer kinds: test_claim_kinds.py; precision and flips:
test_claims_precision.py; real fits where the claims are false: test_claims_can_fail.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from evalhelpers import make_idata, normal_draws
from omegaconf import OmegaConf

from backends.spec import HierData
from evaluation.claims.draws import ClaimDraws, ClusterDraws, posterior_draws
from evaluation.claims.kinds import CLUSTERING_KINDS, KINDS, Context, linear_predictor_variances
from evaluation.claims.ledger import (
    compare_ledgers,
    evaluate_claim,
    evaluate_ledger,
    identification,
    verdict,
)
from evaluation.claims.load import Thresholds, check_features, load_ledger, parse_claim
from evaluation.claims.section import oracle_draws
from evaluation.clustering.oracle import oracle_clustering
from evaluation.clustering.settings import settings
from evaluation.config import CONF_DIR
from evaluation.data.features import PAPER_SITE_FEATURES, PAPER_WORKER_FEATURES
from evaluation.data.twin import PAPER_TRUTH, make_paper_twin
from evaluation.metrics.draws import extract

QUINTILES = [f"campaign_length_q{q}" for q in range(1, 6)]
SITE = ["x", "z", *QUINTILES, "size"]
WORKER = ["w0", "w1"]
J = 20


def make_data(truth=None, cluster_labels=None, x_worker=None) -> HierData:
    """20 worksites: x, z, size standard normal, five quintile dummies (4 sites each)."""
    rng = np.random.default_rng(0)
    quint = np.eye(5)[np.arange(J) % 5]
    x_site = np.column_stack([rng.normal(size=(J, 2)), quint, np.linspace(-2, 2, J)])
    n = 10 * J
    return HierData(
        y=np.arange(n) % 2,
        site=np.arange(n) % J,
        X_site=x_site,
        X_worker=rng.normal(size=(n, 2)) if x_worker is None else x_worker,
        site_features=SITE,
        worker_features=WORKER,
        worksite_ids=[f"ws{j}" for j in range(J)],
        truth=truth,
        cluster_labels=cluster_labels,
    )


@pytest.fixture(scope="module")
def data() -> HierData:
    return make_data()


def beta_site(reps: int = 1, **cols) -> np.ndarray:
    """(S, K_s) draws: the named columns as given (the list repeated ``reps`` times, so that a
    verdict is not within Monte Carlo error of a threshold), every other column 0."""
    s = len(next(iter(cols.values())))
    out = np.zeros((s, len(SITE)))
    for name, values in cols.items():
        out[:, SITE.index(name)] = values
    return np.tile(out, (reps, 1))


def prob(data, entry, draws=None, clusters=None) -> dict:
    claim = parse_claim({"name": "c", **entry})
    return evaluate_claim(claim, Context(data, draws, clusters))


# ------------------------------------------------------------------------------------------
# Each kind, exact answers
# ------------------------------------------------------------------------------------------
def test_sign(data):
    draws = ClaimDraws(beta_site=beta_site(100, x=[1.0, 2.0, 3.0, 4.0], z=[1.0, -1.0, 2.0, -2.0]))
    r = prob(data, {"kind": "sign", "feature": "x", "direction": "positive"}, draws)
    assert (r["probability"], r["verdict"], r["identified"], r["n_draws"]) == (
        1.0,
        "credible",
        True,
        400,
    )
    assert r["not_identified_because"] is None
    assert (
        prob(data, {"kind": "sign", "feature": "x", "direction": "negative"}, draws)["verdict"]
        == "contradicted"
    )
    half = prob(data, {"kind": "sign", "feature": "z", "direction": "negative"}, draws)
    assert (half["probability"], half["verdict"]) == (0.5, "undecided")


def test_strongest_by_value_and_by_abs(data):
    draws = ClaimDraws(beta_site=beta_site(x=[3.0, 3.0, 3.0, 1.0], z=[1.0, 2.0, -5.0, 2.0]))
    entry = {"kind": "strongest", "feature": "x", "among": ["x", "z", "size"]}
    assert prob(data, entry, draws)["probability"] == 0.75
    assert prob(data, {**entry, "by_abs": True}, draws)["probability"] == 0.5


def test_contrast_of_the_quintiles_is_identified_and_exact(data):
    q3 = [-1.0, -1.0, 1.0, -1.0]
    draws = ClaimDraws(
        beta_site=beta_site(campaign_length_q3=q3, campaign_length_q1=[0.0, 0, 0, 0])
    )
    weights = {
        "campaign_length_q3": 1.0,
        **{q: -0.25 for q in QUINTILES if q != "campaign_length_q3"},
    }
    r = prob(data, {"kind": "contrast", "weights": weights, "direction": "negative"}, draws)
    assert r["identified"] and r["probability"] == 0.75
    assert "campaign_length_q3 - 0.25 campaign_length_q1" in r["statement"]


def test_scale_below_and_above(data):
    draws = ClaimDraws(sigma_worker=np.array([0.05, 0.2, 0.3, 0.01]), sigma_site=np.ones(4))
    below = prob(data, {"kind": "scale_below", "threshold": 0.1}, draws)
    above = prob(data, {"kind": "scale_above", "threshold": 0.1}, draws)
    assert below["probability"] == above["probability"] == 0.5 and below["identified"]
    site = prob(data, {"kind": "scale_above", "threshold": 0.5, "parameter": "sigma_site"}, draws)
    assert site["probability"] == 1.0


def test_linear_predictor_variances_match_a_direct_computation(data):
    rng = np.random.default_rng(1)
    bs, bw = rng.normal(size=(3, len(SITE))), rng.normal(size=(3, J, 2))
    site_var, worker_var = linear_predictor_variances(data, bs, bw)
    site_part = (bs @ data.X_site.T)[:, data.site]
    worker_part = np.einsum("snk,nk->sn", bw[:, data.site, :], data.X_worker)
    np.testing.assert_allclose(site_var, site_part.var(axis=1), rtol=1e-10)
    np.testing.assert_allclose(worker_var, worker_part.var(axis=1), rtol=1e-10)


def test_variance_share(data):
    rng = np.random.default_rng(2)
    bs = np.vstack([np.zeros(len(SITE)), rng.normal(size=len(SITE)), rng.normal(size=len(SITE))])
    bw = np.stack([rng.normal(size=(J, 2)), np.zeros((J, 2)), 1e-3 * rng.normal(size=(J, 2))])
    r = prob(data, {"kind": "variance_share"}, ClaimDraws(beta_site=bs, beta_worker=bw))
    assert r["probability"] == pytest.approx(2 / 3) and r["identified"]
    missing = prob(data, {"kind": "variance_share"}, ClaimDraws(beta_site=bs))
    assert (missing["probability"], missing["verdict"]) == (None, "not evaluated")
    assert missing["note"]


def test_k_selected_reads_the_k_chosen_per_draw(data):
    labels = np.zeros((4, J), dtype=int)
    r = prob(data, {"kind": "k_selected", "k": 2},
             clusters=ClusterDraws(labels, chosen_k=np.array([2, 2, 3, 2])))  # fmt: skip
    assert r["probability"] == 0.75
    assert r["detail"] == "K chosen per draw: K = 2 in 3, K = 3 in 1 of 4"
    labels_only = prob(data, {"kind": "k_selected", "k": 2}, clusters=ClusterDraws(labels))
    assert labels_only["verdict"] == "not evaluated" and "k_range" in labels_only["note"]
    assert prob(data, {"kind": "k_selected", "k": 2})["verdict"] == "not evaluated"


def test_cluster_separates(data):
    size_order = np.arange(J)  # "size" grows with the worksite index
    by_size = (size_order >= 10).astype(int)
    mixed = size_order % 2
    labels = np.stack([by_size, mixed, np.zeros(J, int), by_size])
    entry = {"kind": "cluster_separates", "features": "size", "threshold": 0.5}
    assert prob(data, entry, clusters=ClusterDraws(labels))["probability"] == 0.5
    both = {**entry, "features": ["size", "x"], "require": "all", "threshold": 10.0}
    assert prob(data, both, clusters=ClusterDraws(labels))["probability"] == 0.0
    anyof = {**entry, "features": ["size", "x"], "require": "any"}
    assert prob(data, anyof, clusters=ClusterDraws(labels))["probability"] == 0.5


def test_cluster_effect_order(data):
    big = (np.arange(J) >= 10).astype(int)  # cluster 1 holds the larger worksites
    coef = np.zeros((3, J, 2))
    coef[0] = np.where(big, 1.0, -1.0)[:, None]  # larger sites, larger w0 and w1: holds
    coef[1, :, 0] = np.where(big, -1.0, 1.0)  # the reverse
    coef[2, :, 0] = np.where(big, 1.0, -1.0)
    coef[2, :, 1] = np.where(big, -1.0, 1.0)  # w1 reversed
    clusters = ClusterDraws(np.stack([big, big, big]), coef)
    entry = {"kind": "cluster_effect_order", "coefficients": ["w0"], "size_feature": "size"}
    assert prob(data, entry, clusters=clusters)["probability"] == pytest.approx(2 / 3)
    both = {**entry, "coefficients": ["w0", "w1"]}
    assert prob(data, both, clusters=clusters)["probability"] == pytest.approx(1 / 3)
    smaller = {**entry, "direction": "smaller"}
    assert prob(data, smaller, clusters=clusters)["probability"] == pytest.approx(1 / 3)
    # labels only: the coefficients are the posterior mean of beta_worker (w0 rises with size)
    draws = ClaimDraws(beta_worker=coef[:1].repeat(4, axis=0))
    one = ClusterDraws(np.stack([big, np.zeros(J, int)]))
    assert (
        evaluate_claim(parse_claim({"name": "c", **entry}), Context(data, draws, one))[
            "probability"
        ]
        == 0.5
    )  # the one-cluster draw is false


# ------------------------------------------------------------------------------------------
# Identification from the design
# ------------------------------------------------------------------------------------------
def test_one_quintile_alone_is_not_identified_and_names_the_collinear_columns(data):
    draws = ClaimDraws(beta_site=beta_site(campaign_length_q1=[1.0, 2.0]))
    r = prob(
        data, {"kind": "sign", "feature": "campaign_length_q1", "direction": "positive"}, draws
    )
    assert not r["identified"] and r["probability"] is None and r["verdict"] == "not identified"
    why = r["not_identified_because"]
    assert all(q in why for q in QUINTILES) and "(intercept)" in why
    assert "beta_site[campaign_length_q1]" in why


def test_strongest_over_a_set_with_the_quintiles_is_not_identified(data):
    claim = parse_claim({"name": "s", "kind": "strongest", "feature": "x", "by_abs": True})
    ident, why = identification(claim, data)
    assert not ident and "campaign_length_q1" in why
    pair = parse_claim({"name": "s", "kind": "strongest", "feature": "x", "among": ["x", "z"]})
    assert identification(pair, data) == (True, None)


def test_clustering_claims_need_a_full_rank_worker_design():
    xw = np.random.default_rng(3).normal(size=(10 * J, 1))
    bad = make_data(x_worker=np.column_stack([xw, -xw]))
    claim = parse_claim({"name": "k2", "kind": "k_selected", "k": 2})
    ident, why = identification(claim, bad)
    assert not ident and "w0 + w1" in why and "X_worker" in why
    assert identification(claim, make_data()) == (True, None)


# ------------------------------------------------------------------------------------------
# Ledgers: loading, names, the paper's claims, truth values, comparison
# ------------------------------------------------------------------------------------------
def referenced(claim) -> tuple[set[str], set[str]]:
    kind = KINDS[claim.kind]
    names = {"site": set(), "worker": set()}
    for level, keys in (("site", kind.site_params), ("worker", kind.worker_params)):
        for key in keys:
            value = claim.params.get(key)
            items = [] if value is None else [value] if isinstance(value, str) else value
            for item in items:  # a name, or a {name: weight} contrast
                names[level] |= {item} if isinstance(item, str) else set(item)
    return names["site"], names["worker"]


def test_paper_ledger_loads_and_names_real_features():
    ledger = load_ledger(CONF_DIR / "claims" / "paper.yaml")
    assert ledger.thresholds == Thresholds(0.95, 0.05)
    # mean_slope (per-worksite slopes) is used by the Thornton and TV16 ledgers
    assert len(ledger.claims) == 19 and {c.kind for c in ledger.claims} == set(KINDS) - {
        "scale_above",
        "mean_slope",
    }
    for claim in ledger.claims:
        site, worker = referenced(claim)
        assert site <= set(PAPER_SITE_FEATURES), claim.name
        assert worker <= set(PAPER_WORKER_FEATURES), claim.name
        assert claim.source and claim.text
    check_features(ledger, PAPER_SITE_FEATURES, PAPER_WORKER_FEATURES)
    node = OmegaConf.load(CONF_DIR / "claims" / "paper.yaml")
    assert load_ledger(node) == ledger  # the composed config node loads the same
    none = load_ledger(CONF_DIR / "claims" / "none.yaml")
    assert none.claims == () and load_ledger(None).claims == ()


def test_unknown_feature_is_a_one_line_error_naming_claim_and_feature(data):
    mine = {"name": "mine", "kind": "sign", "feature": "ndoo", "direction": "positive"}
    ledger = load_ledger({"claims": [mine]})
    with pytest.raises(ValueError) as err:
        evaluate_ledger(ledger, data, ClaimDraws(beta_site=np.zeros((2, len(SITE)))))
    message = str(err.value)
    assert "\n" not in message
    assert "claim 'mine'" in message and "'ndoo'" in message and "x, z" in message
    entry = {"kind": "cluster_effect_order", "coefficients": ["nope"], "size_feature": "size"}
    worker = load_ledger({"claims": [{"name": "w", **entry}]})
    with pytest.raises(ValueError, match=r"^claim 'w': unknown worker feature 'nope' \(valid"):
        check_features(worker, SITE, WORKER)


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ({"name": "a", "kind": "signs"}, "claim 'a': unknown kind 'signs'"),
        ({"name": "a", "kind": "sign", "feature": "x"}, "claim 'a': kind sign needs 'direction'"),
        ({"name": "a", "kind": "sign", "feature": "x", "direction": "up"}, "'direction' must be"),
        ({"name": "a", "kind": "k_selected", "k": 2, "kk": 1}, "unknown key.*kk"),
        ({"name": "a", "kind": "scale_below", "threshold": -1}, "'threshold' must be"),
        ({"name": "a", "kind": "contrast", "weights": {"x": 0}, "direction": "positive"},
         "all zero"),
        ({"name": "a", "kind": "strongest", "feature": "x", "among": ["z"]}, "not in 'among'"),
        ({"kind": "sign"}, "needs a 'name'"),
    ],
)  # fmt: skip
def test_malformed_claims_fail_naming_the_claim(entry, match):
    with pytest.raises(ValueError, match=match):
        load_ledger({"claims": [entry]})


def test_ledger_level_errors():
    one = {"name": "a", "kind": "k_selected", "k": 2}
    with pytest.raises(ValueError, match="duplicate name"):
        load_ledger({"claims": [one, one]})
    with pytest.raises(ValueError, match="contradicted < credible"):
        load_ledger({"thresholds": {"credible": 0.5, "contradicted": 0.6}, "claims": []})
    with pytest.raises(ValueError, match="unknown top-level"):
        load_ledger({"claim": []})


def test_verdict_thresholds_are_inclusive_and_configurable():
    th = Thresholds()
    assert [verdict(p, th) for p in (0.95, 0.94, 0.05, None)] == [
        "credible", "undecided", "contradicted", "not evaluated",
    ]  # fmt: skip
    assert verdict(0.85, Thresholds(credible=0.8, contradicted=0.2)) == "credible"


def default_clustering() -> dict:
    """The clustering settings of conf/evaluation/default.yaml (validated)."""
    conf = OmegaConf.load(CONF_DIR / "evaluation" / "default.yaml")
    return settings(OmegaConf.to_container(conf)["clustering"])


def test_truth_values_on_the_twin():
    twin = make_paper_twin(n_worksites=30, n_workers=1500, sigma_worker=0.5, n_clusters=2, seed=0)
    ledger = load_ledger(CONF_DIR / "claims" / "paper.yaml")
    t = twin.truth
    names = ("beta_site", "sigma_worker", "beta_worker")
    draws = ClaimDraws(**{k: np.asarray(t[k], float)[None] for k in names})
    oracle = oracle_draws(oracle_clustering(twin, default_clustering()))
    # the posterior is the truth and its one clustered draw the oracle's: each claim's P is
    # then its truth, because the truth is the same indicator on the same inputs
    out = evaluate_ledger(ledger, twin, draws, oracle, oracle=oracle)
    json.dumps(out, allow_nan=False)
    res = {r["name"]: r for r in out["claims"]}
    paper = dict(zip(PAPER_SITE_FEATURES, PAPER_TRUTH["beta_site"], strict=True))
    for r in out["claims"]:
        assert r["truth_status"] in ("true", "false") and r["truth_note"] is None, r["name"]
        if r["kind"] == "sign":
            feature = r["params"]["feature"]
            positive = r["params"]["direction"] == "positive"
            assert r["truth_value"] is bool((paper[feature] > 0) == positive)
        if r["identified"]:
            assert r["probability"] == float(r["truth_value"]), r["name"]
    assert res["ndo_strongest"]["truth_value"] is True
    assert res["midlength_campaign_below_others"]["truth_value"] is True
    assert res["sigma_worker_small"]["truth_value"] is False  # truth 0.5 > 0.1
    assert res["workers_discovered_negative_degree_fixed"]["truth_value"] is True
    assert res["larger_worksites_harder"]["truth_value"] is True
    assert res["top_three_positive"]["truth_value"] is True
    assert not res["workers_discovered_negative"]["identified"]
    assert res["ndo_strongest"]["identified"]  # over the ten standardised, identified features
    s = out["summary"]
    assert (s["n_claims"], s["n_not_identified"], s["n_confidently_wrong"]) == (19, 1, 0)
    assert (s["n_with_truth"], s["n_not_applicable"]) == (19, 0)
    # without an oracle clustering the clustering claims' truth is unknown, the others' not
    bare = {r["name"]: r for r in evaluate_ledger(ledger, twin, draws, oracle)["claims"]}
    for name, r in bare.items():
        known = r["kind"] not in CLUSTERING_KINDS
        assert (r["truth_status"] != "unknown") is known, name
        assert known or "no oracle clustering" in r["truth_note"]


def test_a_claims_truth_is_unknown_on_real_data():
    small = load_ledger({"claims": [{"name": "small", "kind": "scale_below", "threshold": 0.1}]})
    res = evaluate_ledger(small, make_data(), {"sigma_worker": np.array([0.2])})["claims"][0]
    assert (res["truth_status"], res["truth_value"]) == ("unknown", None)
    assert "real data" in res["truth_note"]
    plain = make_paper_twin(n_worksites=30, n_workers=1500, sigma_worker=0.0063, seed=0)
    res = evaluate_ledger(small, plain, {"sigma_worker": np.array([0.2])})["claims"][0]
    assert (res["truth_status"], res["truth_value"], res["probability"]) == ("true", True, 0.0)


def test_posterior_draws_align_by_label(data):
    rng = np.random.default_rng(4)
    bs = rng.normal(size=(2, 3, len(SITE)))
    perm = rng.permutation(len(SITE))
    ds = xr.Dataset(
        {"beta_site": (("chain", "draw", "site_feature"), bs[:, :, perm])},
        coords={"site_feature": [SITE[i] for i in perm]},
    )
    np.testing.assert_array_equal(posterior_draws(ds, data).beta_site, bs.reshape(6, -1))
    np.testing.assert_array_equal(
        posterior_draws({"beta_site": bs}, data).beta_site, bs.reshape(6, -1)
    )
    with pytest.raises(ValueError, match="lacks site_feature"):
        posterior_draws(ds.isel(site_feature=slice(1, None)), data)


def test_compare_ledgers_flags_changed_verdicts(data):
    ledger = load_ledger({"claims": [
        {"name": "x_pos", "kind": "sign", "feature": "x", "direction": "positive"},
        {"name": "z_pos", "kind": "sign", "feature": "z", "direction": "positive"},
        {"name": "q1_pos", "kind": "sign", "feature": "campaign_length_q1",
         "direction": "positive"},
    ]})  # fmt: skip
    exact = ClaimDraws(beta_site=beta_site(100, x=[1.0, -1.0, 1.0, 1.0], z=[1.0, 1.0, 1.0, 1.0]))
    narrow = ClaimDraws(beta_site=beta_site(100, x=[1.0, 1.0, 1.0, 1.0], z=[1.0, 1.0, 1.0, 1.0]))
    rows = compare_ledgers(
        evaluate_ledger(ledger, data, exact), evaluate_ledger(ledger, data, narrow)
    )
    assert [(r["name"], r["changed"]) for r in rows] == [
        ("x_pos", True), ("z_pos", False), ("q1_pos", False),
    ]  # fmt: skip
    assert rows[0]["verdict_reference"] == "undecided" and rows[0]["verdict_other"] == "credible"
    assert rows[2]["identified"] is False


def test_paper_ledger_on_inference_data_of_the_twin():
    """The app's path: the ClaimDraws of an InferenceData in the canonical layout, labels-only
    clusterings; an InferenceData itself is refused (the judge extracts it once)."""
    twin = make_paper_twin(n_worksites=20, n_workers=600, sigma_worker=0.5, n_clusters=2, seed=1)
    centre = {k: np.asarray(v, float) for k, v in twin.truth.items()}
    idata = make_idata(normal_draws(twin, centre, 0.05, chains=2, draws=50), twin)
    labels = ClusterDraws(np.tile(twin.cluster_labels, (5, 1)), chosen_k=np.full(5, 2))
    ledger = load_ledger(CONF_DIR / "claims" / "paper.yaml")
    with pytest.raises(TypeError, match="not an InferenceData"):
        evaluate_ledger(ledger, twin, idata, labels)
    out = evaluate_ledger(ledger, twin, extract(idata, twin), labels)
    res = {r["name"]: r for r in out["claims"]}
    regression = [r for r in out["claims"] if r["kind"] in ("sign", "contrast") and r["identified"]]
    assert len(regression) == 7 and all(r["n_draws"] == 100 for r in regression)
    assert res["ndo_positive"]["verdict"] == "credible"
    k2 = res["two_clusters_selected"]
    assert (k2["probability"], k2["n_draws"], k2["n_eff"]) == (1.0, 5, 5.0)
    assert out["summary"]["n_not_evaluated"] == 0
