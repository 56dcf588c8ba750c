"""The claim kinds added for the paper's full set of conclusions, on inputs with known answers:
top, partial_effect, association, group_dominates, the permutation-calibrated clustering kinds,
coefficient contrasts, and the per-draw K selection they read."""

from __future__ import annotations

import numpy as np
import pytest
from evalhelpers import separated

from backends.spec import HierData
from evaluation.claims.cluster_kinds import separation_pvalues
from evaluation.claims.draws import ClaimDraws, ClusterDraws
from evaluation.claims.kinds import Context
from evaluation.claims.ledger import evaluate_claim, identification
from evaluation.claims.load import load_ledger, parse_claim
from evaluation.claims.site_kinds import association_vector, partial_move
from evaluation.clustering.select import select_k_draws
from evaluation.data.twin import make_paper_twin, paper_twin_tables

J = 40
SITE = ["a", "b", "c", "d", "e", "size"]  # c = a - b exactly; d, e, size free


def make_data(cluster_labels=None) -> HierData:
    """40 worksites: a, b, d, e, size standard normal, c = a - b (an exact relation)."""
    rng = np.random.default_rng(0)
    a, b, d, e, size = rng.normal(size=(5, J))
    n = 5 * J
    return HierData(
        y=np.arange(n) % 2, site=np.arange(n) % J,
        X_site=np.column_stack([a, b, a - b, d, e, size]),
        X_worker=rng.normal(size=(n, 2)), site_features=SITE, worker_features=["w0", "w1"],
        worksite_ids=[f"ws{j}" for j in range(J)], cluster_labels=cluster_labels,
    )  # fmt: skip


@pytest.fixture(scope="module")
def data() -> HierData:
    return make_data()


def evaluate(data, entry, draws=None, clusters=None) -> dict:
    claim = parse_claim({"name": "c", **entry})
    return evaluate_claim(claim, Context(data, draws, clusters))


def draws_of(rows: list[list[float]], reps: int = 100) -> ClaimDraws:
    """ClaimDraws of beta_site (columns in SITE order), repeated so verdicts are not borderline."""
    return ClaimDraws(beta_site=np.tile(np.asarray(rows, float), (reps, 1)))


# ------------------------------------------------------------------------------------------
# beta_site kinds
# ------------------------------------------------------------------------------------------
def test_top_holds_when_the_named_features_are_the_largest(data):
    rows = [[0, 0, 0, 3, 2, 1], [0, 0, 0, 3, 0.5, 1], [0, 0, 0, -3, 2, 1], [0, 0, 0, 3, 2, 1]]
    draws = draws_of(rows)
    entry = {"kind": "top", "features": ["d", "e"], "among": ["d", "e", "size"]}
    r = evaluate(data, entry, draws)
    assert r["identified"] and r["probability"] == 0.5  # draws 1 and 4 only
    assert evaluate(data, {**entry, "by_abs": True}, draws)["probability"] == 0.75
    with_c = evaluate(data, {**entry, "among": ["c", "d", "e"]}, draws)
    assert not with_c["identified"] and "b + c - a = 0" in with_c["not_identified_because"]


def test_partial_effect_moves_what_the_exact_relation_forces(data):
    assert partial_move("a", ["c"], data) == pytest.approx({"a": 1.0, "b": 1.0})
    assert partial_move("a", ["b"], data) == pytest.approx({"a": 1.0, "c": 1.0})
    assert partial_move("a", [], data) is None  # b and c both free: not determined
    assert partial_move("d", [], data) == {"d": 1.0}  # in no relation: its own coefficient
    # beta_a + beta_b < 0 in draws 1 and 3; beta_a alone is negative in all four
    draws = draws_of([[-1, 0.5, 0, 0, 0, 0], [-1, 2, 0, 0, 0, 0], [-2, 1, 0, 0, 0, 0],
                      [-1, 3, 0, 0, 0, 0]])  # fmt: skip
    entry = {"kind": "partial_effect", "feature": "a", "held_fixed": ["c"],
             "direction": "negative"}  # fmt: skip
    r = evaluate(data, entry, draws)
    assert r["identified"] and r["probability"] == 0.5
    assert r["detail"] == "the move on this data: +1 sd a, +1 sd b"
    loose = evaluate(data, {**entry, "held_fixed": []}, draws)
    assert not loose["identified"] and "not determined" in loose["not_identified_because"]
    sign = evaluate(data, {"kind": "sign", "feature": "a", "direction": "negative"}, draws)
    assert not sign["identified"]


def test_partial_effect_on_the_twin_is_the_raw_scale_identity():
    """log mean degree = log 2 + log edges - log discovered: one sd more discovered at a fixed
    mean degree is sd(log discovered) / sd(log edges) sd more edges (raw tables)."""
    kw = {"n_worksites": 60, "n_workers": 3000, "sigma_worker": 0.5, "seed": 2}
    twin, groups = make_paper_twin(**kw), paper_twin_tables(**kw).groups
    ratio = np.log(groups["n_discovered"]).std() / np.log(groups["n_edges"]).std()
    move = partial_move("log_n_discovered", ["log_mean_degree"], twin)
    assert set(move) == {"log_n_discovered", "log_n_edges"}
    assert move["log_n_edges"] == pytest.approx(ratio, rel=1e-6)


def test_association_is_the_slope_of_the_worksite_predictor_on_the_feature(data):
    rng = np.random.default_rng(5)
    beta = rng.normal(size=(300, len(SITE)))
    slope = association_vector("size", data)
    size = data.X_site[:, SITE.index("size")]
    direct = [np.polyfit(size, data.X_site @ b, 1)[0] for b in beta[:5]]
    np.testing.assert_allclose(beta[:5] @ slope, direct, rtol=1e-10)
    r = evaluate(data, {"kind": "association", "feature": "size", "direction": "negative"},
                 ClaimDraws(beta_site=beta))  # fmt: skip
    assert r["identified"] and r["probability"] == pytest.approx(np.mean(beta @ slope < 0))


def test_group_dominates_compares_the_worksite_spread_of_each_group(data):
    rng = np.random.default_rng(6)
    beta = rng.normal(size=(200, len(SITE)))
    x = data.X_site
    spread = {g: (beta[:, idx] @ x[:, idx].T).std(axis=1) for g, idx in
              (("abc", [0, 1, 2]), ("d", [3]))}  # fmt: skip
    entry = {"kind": "group_dominates", "larger": ["a", "b", "c"], "smaller": ["d"]}
    r = evaluate(data, entry, ClaimDraws(beta_site=beta))
    expected = np.mean(spread["abc"] > spread["d"])
    assert r["identified"] and r["probability"] == pytest.approx(expected)
    part = evaluate(data, {**entry, "larger": ["a", "c"]}, ClaimDraws(beta_site=beta))
    assert not part["identified"]  # half of the relation a - b - c = 0: the spread is not


# ------------------------------------------------------------------------------------------
# Clustering kinds
# ------------------------------------------------------------------------------------------
def test_permutation_calibration_keeps_random_unbalanced_splits_at_the_level():
    """Random 10/110 splits of 120 worksites and a pure-noise feature: a fixed 0.5-sd cut calls
    about 13% of them separated (sd of the mean gap sqrt(1/10 + 1/110) = 0.33), the
    permutation cut at level 0.05 about 5%.  400 splits: the binomial sd at 5% is 1.1
    percentage points, so 'below 9%' and 'above 8%' hold with margin."""
    rng = np.random.default_rng(7)
    labels = np.zeros((400, 120), dtype=int)
    for row in labels:
        row[rng.choice(120, size=10, replace=False)] = 1
    x = rng.normal(size=(120, 1))
    x = (x - x.mean()) / x.std()
    spread, pvalue = separation_pvalues(labels, x)
    assert np.mean(spread[:, 0] > 0.5) > 0.08
    assert np.mean(pvalue[:, 0] <= 0.05) < 0.09


def test_cluster_separates_and_even_on_planted_and_random_clusters(data):
    size = data.X_site[:, SITE.index("size")]
    by_size = (size > np.median(size)).astype(int)
    rng = np.random.default_rng(8)
    random_rows = np.array([rng.permutation(by_size) for _ in range(60)])
    entry = {"kind": "cluster_separates", "features": ["size"], "permutation_level": 0.05}
    planted = evaluate(data, entry, clusters=ClusterDraws(np.tile(by_size, (60, 1))))
    assert planted["probability"] == 1.0 and planted["verdict"] == "credible"
    noise = evaluate(data, entry, clusters=ClusterDraws(random_rows))
    assert noise["probability"] <= 0.2 and noise["verdict"] != "credible"
    even = {"kind": "cluster_even", "features": ["size", "a", "b", "d", "e"], "share": 0.5}
    planted_rows = ClusterDraws(np.tile(by_size, (60, 1)))
    assert evaluate(data, even, clusters=planted_rows)["probability"] == 1.0  # 1 of 5 differs
    only_size = evaluate(data, {**even, "features": ["size"]}, clusters=planted_rows)
    assert only_size["probability"] == 0.0 and only_size["verdict"] == "contradicted"


def test_cluster_effect_order_reads_contrasts_of_worker_coefficients(data):
    big = (data.X_site[:, SITE.index("size")] > 0).astype(int)
    coef = np.zeros((2, J, 2))
    coef[0, :, 0] = np.where(big, 1.0, 0.0)  # w0 up in the large cluster, w1 flat
    coef[1, :, 1] = np.where(big, 2.0, 0.0)  # w1 up: w0 - w1 falls in the large cluster
    clusters = ClusterDraws(np.stack([big, big]), coef)
    entry = {"kind": "cluster_effect_order", "coefficients": [{"w0": 1.0, "w1": -1.0}],
             "size_feature": "size"}  # fmt: skip
    r = evaluate(data, entry, clusters=clusters)
    assert r["probability"] == 0.5 and "w0 - w1" in r["statement"]


def test_select_k_draws_finds_planted_clusters_and_not_on_noise():
    """Two clusters 10 sds apart: every draw gets K = 2.  Pure noise: the elbow has no K = 1
    option and picks 2 or 3 (about equally often on 60 draws: below 0.9 with wide margin)."""
    x, _ = separated(j=60, d=4, sep=10.0)
    rng = np.random.default_rng(9)
    clustered = x[None] + 0.3 * rng.normal(size=(30, *x.shape))
    assert (select_k_draws(clustered, (1, 5), sigma=1e-4) == 2).all()
    noise = rng.normal(size=(60, 60, 4))
    chosen = select_k_draws(noise, (1, 5), sigma=1e-4)
    assert set(np.unique(chosen)) <= {2, 3, 4} and np.mean(chosen == 2) < 0.9


# ------------------------------------------------------------------------------------------
# Validation of the new parameters
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ({"kind": "top", "features": ["a", "z"], "among": ["a", "b"]}, "'z' is not in 'among'"),
        ({"kind": "top", "features": ["a", "b"], "among": ["a", "b"]}, "must leave some"),
        ({"kind": "group_dominates", "larger": ["a"], "smaller": ["a", "b"]}, "share features"),
        ({"kind": "partial_effect", "feature": "a", "held_fixed": ["a"],
          "direction": "positive"}, "cannot also be held fixed"),
        ({"kind": "cluster_even", "features": ["a"], "permutation_level": None}, "must be a "
         "number"),
        ({"kind": "cluster_effect_order", "coefficients": [{"w0": 0}], "size_feature": "a"},
         "all zero"),
    ],
)  # fmt: skip
def test_bad_parameters_of_the_new_kinds_fail_naming_the_claim(entry, match):
    with pytest.raises(ValueError, match=match):
        load_ledger({"claims": [{"name": "bad", **entry}]})


def test_counted_with_must_name_another_claim():
    one = {"name": "a", "kind": "scale_below", "threshold": 0.1}
    with pytest.raises(ValueError, match="claim 'b': counted_with 'zz'"):
        load_ledger({"claims": [one, {**one, "name": "b", "counted_with": "zz"}]})
    ledger = load_ledger({"claims": [one, {**one, "name": "b", "counted_with": "a"}]})
    assert ledger.claims[1].counted_with == "a"


def test_identification_of_a_group_needs_whole_relations(data):
    claim = parse_claim({"name": "g", "kind": "group_dominates", "larger": ["a", "b", "c"],
                         "smaller": ["d", "size"]})  # fmt: skip
    assert identification(claim, data) == (True, None)
