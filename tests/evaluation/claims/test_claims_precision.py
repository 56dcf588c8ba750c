"""How sure a claim's verdict is: Monte Carlo error, the 'undecided within 2 errors' rule,
weak identification (variance inflation), and what counts as a flip between two runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backends.spec import HierData
from evaluation.claims.compare import compare_ledgers, summarise
from evaluation.claims.draws import ClaimDraws
from evaluation.claims.ledger import evaluate_ledger, verdict
from evaluation.claims.load import Thresholds, load_ledger, parse_claim
from evaluation.claims.precision import indicator_ess, precision, within_margin
from evaluation.claims.weak import (
    VIF_LIMIT,
    functional_vif,
    site_information,
    weak_identification,
)
from evaluation.config import CONF_DIR
from evaluation.data.twin import make_paper_twin
from evaluation.report.run.findings import ledger_rows, run_headline


# ------------------------------------------------------------------------------------------
# Monte Carlo error and verdicts
# ------------------------------------------------------------------------------------------
def test_the_mc_error_of_50_clustered_draws_and_the_verdicts_it_allows():
    """50 of 50: add-one p~ = 51/52, error sqrt(p~(1 - p~)/50) = 0.0193, so P = 1 is 0.05 >
    2 errors above 0.95: credible.  49 of 50: P = 0.98, error 0.0272, within 2 errors of
    0.95: undecided (the same P from 5,000 independent draws is credible)."""
    all_hits = precision(np.ones(50, bool), independent=True)
    assert all_hits.mc_error == pytest.approx(math.sqrt(51 / 52 * 1 / 52 / 50))
    assert verdict(1.0, Thresholds(), all_hits.mc_error) == "credible"
    one_miss = precision(np.r_[np.ones(49, bool), False], independent=True)
    assert one_miss.mc_error == pytest.approx(math.sqrt(50 / 52 * 2 / 52 / 50))
    assert verdict(0.98, Thresholds(), one_miss.mc_error) == "undecided"
    many = precision(np.r_[np.ones(4900, bool), np.zeros(100, bool)], independent=True)
    assert verdict(0.98, Thresholds(), many.mc_error) == "credible"
    assert verdict(0.03, Thresholds(), 0.02) == "undecided"  # 0.05 - 0.03 < 2 x 0.02


def test_autocorrelated_chains_have_fewer_effective_draws():
    """Four chains of 500 that hold each value for 50 draws: the ESS of the mean is near
    4 x 500 / 50 = 40 (well below 200); the same values shuffled are near-independent."""
    rng = np.random.default_rng(0)
    sticky = np.repeat(rng.random(40) < 0.7, 50)
    assert indicator_ess(sticky, n_chains=4) < 200
    shuffled = rng.permutation(sticky)
    assert indicator_ess(shuffled, n_chains=4) > 1000
    assert indicator_ess(sticky, n_chains=1) == indicator_ess(sticky, 1)  # deterministic
    assert precision(sticky, 4).mc_error > 3 * precision(shuffled, 4).mc_error


def test_a_borderline_probability_is_undecided_and_says_why():
    twin = make_paper_twin(n_worksites=20, n_workers=600, sigma_worker=0.5, seed=0)
    ledger = load_ledger({"claims": [{"name": "small", "kind": "scale_below", "threshold": 1.0}]})
    sigma = np.r_[np.full(48, 0.5), 2.0, 2.0]  # P = 0.96 from 50 independent draws
    entry = evaluate_ledger(ledger, twin, ClaimDraws(sigma_worker=sigma))["claims"][0]
    assert (entry["probability"], entry["verdict"], entry["borderline"]) == (0.96, "undecided",
                                                                              True)  # fmt: skip
    assert "Monte Carlo" in entry["note"]


def test_the_ess_of_an_indicator_reads_the_draws_chain_by_chain():
    """Four AR(1) chains (phi 0.9) of 5,000 draws, one after the other; the indicator x > 0
    has lag-k autocorrelation (2/pi) arcsin(phi^k), so its integrated autocorrelation time
    is tau = 1 + 2 sum_k (2/pi) arcsin(0.9^k) = 13.3 and its ESS 20,000 / tau = 1,506.  The
    estimate's sampling error at this ESS is ~6%: within 25% of the analytic value.  Read
    with the chains transposed (consecutive draws taken 4 apart) the ESS is 3-4 times too
    large and the Monte Carlo error about halved."""
    phi, chains, length = 0.9, 4, 5000
    rng = np.random.default_rng(0)
    x = np.empty((chains, length))
    x[:, 0] = rng.normal(size=chains)
    noise = rng.normal(scale=math.sqrt(1 - phi**2), size=(chains, length))
    for t in range(1, length):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    hits = (x > 0).reshape(-1)
    lags = np.arange(1, 2000)
    tau = 1 + 2 * np.sum(2 / np.pi * np.arcsin(phi**lags))
    ess = chains * length / tau
    assert indicator_ess(hits, n_chains=chains) == pytest.approx(ess, rel=0.25)
    p = (hits.sum() + 1) / (hits.size + 2)
    mc = precision(hits, chains).mc_error
    assert mc == pytest.approx(math.sqrt(p * (1 - p) / ess), rel=0.15)


def test_a_probability_exactly_two_errors_from_a_threshold_is_decided():
    """The margin is strict: |P - threshold| < 2 errors is undecided, exactly 2 is not
    (binary-exact numbers: |1.0 - 0.75| = 0.25 = 2 x 0.125)."""
    th = Thresholds(credible=0.75, contradicted=0.25)
    assert not within_margin(1.0, 0.75, 0.125) and within_margin(0.999, 0.75, 0.125)
    assert verdict(1.0, th, 0.125) == "credible"
    assert verdict(0.0, th, 0.125) == "contradicted"
    assert verdict(0.9921875, th, 0.125) == "undecided"  # 0.2421875 < 0.25


# ------------------------------------------------------------------------------------------
# Weak identification
# ------------------------------------------------------------------------------------------
def test_the_variance_inflation_of_one_coefficient_is_the_classical_vif():
    """VIF_j = 1 / (1 - R_j^2), R_j^2 of the worker-weighted regression of column j on the
    intercept and the other columns (here a twin design without the exact relations)."""
    twin = make_paper_twin(n_worksites=60, n_workers=3000, sigma_worker=0.5, seed=1,
                           design="identified")  # fmt: skip
    info = site_information(twin)
    w = np.bincount(twin.site).astype(float)
    x = twin.X_site
    for name in ("ndo", "log_centrality_mean"):
        j = twin.site_features.index(name)
        others = np.column_stack([np.ones(len(w)), np.delete(x, j, axis=1)])
        coef = np.linalg.lstsq(others * np.sqrt(w)[:, None], x[:, j] * np.sqrt(w), rcond=None)[0]
        resid, mean = x[:, j] - others @ coef, w @ x[:, j] / w.sum()
        r2 = 1 - (w @ resid**2) / (w @ (x[:, j] - mean) ** 2)
        assert functional_vif({name: 1.0}, info) == pytest.approx(1 / (1 - r2), rel=1e-6)


def correlated_pair(r: float, j: int = 30) -> HierData:
    """j worksites x 4 workers with two site columns of equal spread and correlation exactly
    r (centred, so the intercept is orthogonal to both) and a third orthogonal to both."""
    rng = np.random.default_rng(2)
    q, _ = np.linalg.qr(np.column_stack([np.ones(j), rng.normal(size=(j, 3))]))
    u, v, w = q[:, 1] * math.sqrt(j), q[:, 2] * math.sqrt(j), q[:, 3] * math.sqrt(j)
    x_site = np.column_stack([u, r * u + math.sqrt(1 - r**2) * v, w])
    n = 4 * j
    return HierData(y=np.arange(n) % 2, site=np.arange(n) % j, X_site=x_site,
                    X_worker=rng.normal(size=(n, 1)), site_features=("a", "b", "c"),
                    worker_features=("w",), worksite_ids=[f"s{i}" for i in range(j)])  # fmt: skip


@pytest.mark.parametrize("r", [0.0, 0.6, -0.8])
def test_the_variance_inflation_of_contrasts_and_groups(r):
    """For two columns of equal spread and correlation r, the least-squares variance of
    c1 b_a + c2 b_b is (c1^2 + c2^2 - 2 r c1 c2) / (ss (1 - r^2)); uncorrelated columns would
    give (c1^2 + c2^2) / ss, so VIF = (c1^2 + c2^2 - 2 r c1 c2) / ((1 - r^2)(c1^2 + c2^2)):
    1 / (1 + r) for a sum, 1 / (1 - r) for a difference, at any weights; an orthogonal
    third column leaves a group's VIF as the pair's share of it."""
    info = site_information(correlated_pair(r))
    for c1, c2 in ((0.5, 0.5), (2.0, -2.0), (0.25, -1.5), (3.0, 0.0)):
        expected = (c1**2 + c2**2 - 2 * r * c1 * c2) / ((1 - r**2) * (c1**2 + c2**2))
        assert functional_vif({"a": c1, "b": c2}, info) == pytest.approx(expected, rel=1e-9)
    group = {"a": 0.5, "b": 0.5, "c": 0.5}  # the orthogonal c adds the same to both parts
    assert functional_vif(group, info) == pytest.approx((0.5 / (1 + r) + 0.25) / 0.75, rel=1e-9)
    contrast = parse_claim({"name": "ab", "kind": "contrast", "weights": {"a": 2.0, "b": -2.0},
                            "direction": "positive"})  # fmt: skip
    vif = weak_identification(contrast, correlated_pair(r))["variance_inflation"]
    assert vif == pytest.approx(1 / (1 - r), abs=1e-3)


def test_the_paper_ledger_marks_claims_on_nearly_collinear_features_in_every_report():
    """On the twin, mean centrality falls as 1/sqrt(size): its claims are weakly identified;
    NDO's sign is not.  The mark reaches the summary, the headline and the ledger table."""
    twin = make_paper_twin(n_worksites=60, n_workers=3000, sigma_worker=0.5, seed=1)
    ledger = load_ledger(CONF_DIR / "claims" / "paper.yaml")
    t = twin.truth
    draws = ClaimDraws(beta_site=np.tile(t["beta_site"], (200, 1)),
                  sigma_worker=np.full(200, t["sigma_worker"]),
                  beta_worker=np.tile(t["beta_worker"], (200, 1, 1)))  # fmt: skip
    section = evaluate_ledger(ledger, twin, draws)
    res = {r["name"]: r for r in section["claims"]}
    cmean = res["centrality_mean_positive"]
    assert cmean["weakly_identified"] and cmean["variance_inflation"] > VIF_LIMIT
    assert "log_centrality_mean" in cmean["weakly_identified_because"]
    assert res["ndo_positive"]["weakly_identified"] is False
    assert res["sigma_worker_small"]["weakly_identified"] is None  # not a beta_site claim
    n_weak = section["summary"]["n_weakly_identified"]
    assert n_weak == sum(r["weakly_identified"] is True for r in section["claims"]) >= 1
    headline = run_headline({"claims": section, "backend": "x"})
    assert f"{n_weak} are weakly identified" in headline
    row = next(r for r in ledger_rows(section["claims"]) if r[0] == "centrality_mean_positive")
    assert row[-1].startswith("weakly: ") and " ± " in row[2]


# ------------------------------------------------------------------------------------------
# What counts as a flip
# ------------------------------------------------------------------------------------------
def entry(name, p, verdict_, counted_with=None, identified=True):
    return {"name": name, "identified": identified, "probability": p, "verdict": verdict_,
            "counted_with": counted_with, "weakly_identified": False, "mc_error": 0.01}  # fmt: skip


def section(*claims):
    return {"claims": list(claims), "summary": summarise(claims)}


def test_a_claim_not_evaluated_in_one_run_never_flips():
    """Clustering claims are 'identified' whether or not the run clustered."""
    nuts = section(entry("k2", 0.99, "credible"), entry("sign", 0.99, "credible"))
    vi = section(entry("k2", None, "not evaluated"), entry("sign", 0.5, "undecided"))
    rows = {r["name"]: r for r in compare_ledgers(nuts, vi)}
    assert not rows["k2"]["changed"] and not rows["k2"]["differs"]
    assert rows["k2"]["evaluated"] is False and rows["sign"]["changed"]


def test_near_duplicates_count_once_in_either_order():
    both = [entry("sigma_small", 0.99, "credible"),
            entry("site_dominate", 0.99, "credible", counted_with="sigma_small")]  # fmt: skip
    flipped = [
        entry("sigma_small", 0.01, "contradicted"),
        entry("site_dominate", 0.01, "contradicted", counted_with="sigma_small"),
    ]
    rows = compare_ledgers(section(*both), section(*flipped))
    assert [r["changed"] for r in rows] == [True, False]
    assert rows[1]["differs"] and rows[1]["counted_with"] == "sigma_small"
    alone = compare_ledgers(section(*both), section(both[0], flipped[1]))
    assert [r["changed"] for r in alone] == [False, True]  # counted when it flips alone
    reversed_rows = compare_ledgers(section(*both[::-1]), section(*flipped[::-1]))
    assert sum(r["changed"] for r in reversed_rows) == 1
