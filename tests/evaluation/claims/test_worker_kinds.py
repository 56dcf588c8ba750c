"""The claim kind on per-worksite slopes (``mean_slope``, evaluation.claims.worker_kinds) on
hand-made draws whose answer is known exactly, true and false; its truth value on a twin;
identification and parameter checks."""

from __future__ import annotations

import numpy as np
import pytest

from backends.spec import HierData
from evaluation.claims.draws import ClaimDraws
from evaluation.claims.kinds import KINDS, Context
from evaluation.claims.ledger import evaluate_claim, evaluate_ledger, identification
from evaluation.claims.load import check_features, load_ledger, parse_claim
from evaluation.claims.worker_kinds import group_weights, mean_slope_draws
from evaluation.data.twin import make_paper_twin

WORKER = ["w0", "w1"]
#: Workers per worksite: worksite 0 holds most of them, so weighting changes the answer.
SIZES = (70, 10, 10, 10)


def make_data(x_worker=None, truth=None) -> HierData:
    """4 worksites of :data:`SIZES` workers, worker features w0, w1 (standard normal)."""
    rng = np.random.default_rng(0)
    site = np.repeat(np.arange(len(SIZES)), SIZES)
    n = site.size
    return HierData(
        y=np.arange(n) % 2, site=site, X_site=rng.normal(size=(len(SIZES), 1)),
        X_worker=rng.normal(size=(n, 2)) if x_worker is None else x_worker,
        site_features=["s"], worker_features=WORKER,
        worksite_ids=[f"ws{j}" for j in range(len(SIZES))], truth=truth,
    )  # fmt: skip


@pytest.fixture(scope="module")
def data() -> HierData:
    return make_data()


def slopes(rows: list[list[float]], reps: int = 100, feature: int = 0) -> ClaimDraws:
    """beta_worker draws (S, 4, 2): each row gives the 4 worksites' slopes of one feature (the
    other feature's slopes are the opposite, so reading the wrong column flips the answer);
    repeated ``reps`` times so verdicts are not within Monte Carlo error of a threshold."""
    b = np.asarray(rows, float)
    out = np.stack([-b, -b], axis=2)
    out[:, :, feature] = b
    return ClaimDraws(beta_worker=np.tile(out, (reps, 1, 1)))


def evaluate(data, entry, draws=None) -> dict:
    claim = parse_claim({"name": "c", "kind": "mean_slope", **entry})
    return evaluate_claim(claim, Context(data, draws))


# Unweighted means over the 4 worksites: 0.5, 0.25, -0.25, 1.0 -> positive in 3 of 4 draws.
# Weighted (0.7, 0.1, 0.1, 0.1): 0.7*row[0] + 0.1*(rest) -> -0.4, -0.5, 0.2, 1.0.
ROWS = [[-1.0, 1.0, 1.0, 1.0], [-1.0, 0.0, 0.0, 2.0], [0.5, -1.0, -1.0, 0.5],
        [1.0, 1.0, 1.0, 1.0]]  # fmt: skip


def test_mean_slope_is_the_fraction_of_draws_with_a_positive_mean(data):
    r = evaluate(data, {"feature": "w0", "direction": "positive"}, slopes(ROWS))
    assert r["identified"] and r["probability"] == 0.75 and r["verdict"] == "undecided"
    assert "beta_worker[:, w0] > 0" in r["statement"] and "unweighted" in r["statement"]
    negative = evaluate(data, {"feature": "w0", "direction": "negative"}, slopes(ROWS))
    assert negative["probability"] == 0.25
    # the slopes of w1 are the opposite ones: the column is read by name
    assert (
        evaluate(data, {"feature": "w1", "direction": "positive"}, slopes(ROWS))["probability"]
        == 0.25
    )


def test_weighting_by_workers_changes_the_answer(data):
    np.testing.assert_allclose(
        group_weights({"weighted": True}, Context(data)), [0.7, 0.1, 0.1, 0.1]
    )
    np.testing.assert_allclose(group_weights({"weighted": False}, Context(data)), 0.25)
    entry = {"feature": "w0", "direction": "positive", "weighted": True}
    means = mean_slope_draws(parse_claim({"name": "c", "kind": "mean_slope", **entry}).params,
                             Context(data, slopes(ROWS, reps=1)))  # fmt: skip
    np.testing.assert_allclose(means, [-0.4, -0.5, 0.2, 1.0])
    r = evaluate(data, entry, slopes(ROWS))
    assert r["probability"] == 0.5 and "weighted by their workers" in r["statement"]


def test_a_false_mean_slope_is_contradicted(data):
    """Every worksite's slope negative in every draw: "positive" has P = 0, "negative" P = 1."""
    rows = [[-0.5, -1.0, -0.1, -2.0], [-0.2, -0.3, -0.4, -0.1]]
    false = evaluate(data, {"feature": "w0", "direction": "positive"}, slopes(rows))
    assert false["probability"] == 0.0 and false["verdict"] == "contradicted"
    true = evaluate(data, {"feature": "w0", "direction": "negative"}, slopes(rows))
    assert true["probability"] == 1.0 and true["verdict"] == "credible"
    # one large positive slope outweighs three small negative ones: the mean, not a majority
    mixed = evaluate(data, {"feature": "w0", "direction": "negative"},
                     slopes([[3.0, -0.5, -0.5, -0.5]]))  # fmt: skip
    assert mixed["probability"] == 0.0


def test_without_beta_worker_draws_there_is_no_probability(data):
    r = evaluate(
        data, {"feature": "w0", "direction": "positive"}, ClaimDraws(sigma_worker=np.ones(4))
    )
    assert r["probability"] is None and r["verdict"] == "not evaluated"
    assert "lacks a variable" in r["note"]


def test_truth_value_comes_from_the_generating_slopes():
    twin = make_paper_twin(n_worksites=12, n_workers=600, sigma_worker=0.5, seed=2)
    bw = np.asarray(twin.truth["beta_worker"])
    weights = np.bincount(twin.site, minlength=twin.n_worksites) / twin.n_workers
    entries = []
    for k, name in enumerate(twin.worker_features):
        for weighted, mean in ((False, bw[:, k].mean()), (True, weights @ bw[:, k])):
            direction = "positive" if mean > 0 else "negative"
            entries.append({"name": f"{name}_{weighted}", "kind": "mean_slope", "feature": name,
                            "direction": direction, "weighted": weighted})  # fmt: skip
    flipped = {
        **entries[0],
        "name": "flipped",
        "direction": "negative" if entries[0]["direction"] == "positive" else "positive",
    }
    ledger = load_ledger({"claims": [*entries, flipped]})
    out = evaluate_ledger(ledger, twin, ClaimDraws(beta_worker=bw[None]))["claims"]
    assert [r["truth_value"] for r in out] == [True] * len(entries) + [False]
    assert all(r["probability"] == float(r["truth_value"]) for r in out)


def test_a_rank_deficient_worker_design_is_not_identified(data):
    x = np.random.default_rng(1).normal(size=(sum(SIZES), 1))
    bad = make_data(x_worker=np.column_stack([x, 2 * x]))
    claim = parse_claim({"name": "m", "kind": "mean_slope", "feature": "w0",
                         "direction": "positive"})  # fmt: skip
    ident, why = identification(claim, bad)
    assert not ident and "X_worker" in why
    assert identification(claim, data) == (True, None)
    r = evaluate_claim(claim, Context(bad, slopes(ROWS)))
    assert r["verdict"] == "not identified" and r["probability"] is None


def test_parameters_are_checked_and_the_feature_is_a_worker_feature():
    assert KINDS["mean_slope"].worker_params == ("feature",)
    with pytest.raises(ValueError, match="claim 'a': 'weighted' must be one of True, False"):
        load_ledger({"claims": [{"name": "a", "kind": "mean_slope", "feature": "w0",
                                 "direction": "positive", "weighted": "yes"}]})  # fmt: skip
    with pytest.raises(ValueError, match="claim 'a': kind mean_slope needs 'direction'"):
        load_ledger({"claims": [{"name": "a", "kind": "mean_slope", "feature": "w0"}]})
    site_named = load_ledger({"claims": [{"name": "a", "kind": "mean_slope", "feature": "s",
                                          "direction": "positive"}]})  # fmt: skip
    with pytest.raises(ValueError, match=r"^claim 'a': unknown worker feature 's' \(valid"):
        check_features(site_named, ["s"], WORKER)
