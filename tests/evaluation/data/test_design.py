"""The design check: rank, condition number and readable null space of the two design matrices."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backends.spec import HierData
from evaluation.data.design import (
    INTERCEPT,
    design_check,
    explain_not_estimable,
    expression,
    is_estimable,
    loading_directions,
    null_directions,
    site_design,
)
from evaluation.data.features import PAPER_SITE_FEATURES
from evaluation.data.twin import make_paper_twin, paper_twin_tables

QUINTILES = [f"campaign_length_q{q}" for q in range(1, 6)]
TWIN = {"n_worksites": 30, "n_workers": 600, "sigma_worker": 0.5, "seed": 0}


@pytest.fixture(scope="module")
def twin() -> HierData:
    return make_paper_twin(**TWIN)


def hier(x_site, x_worker=None, site=None, site_names=None, worker_names=None) -> HierData:
    """A HierData around the given design matrices (outcomes irrelevant here)."""
    x_site = np.asarray(x_site, float)
    j = x_site.shape[0]
    if x_worker is None:
        x_worker = np.random.default_rng(0).normal(size=(4 * j, 2))
    x_worker = np.asarray(x_worker, float)
    n = x_worker.shape[0]
    site = np.arange(n) % j if site is None else np.asarray(site)
    return HierData(
        y=np.arange(n) % 2,
        site=site,
        X_site=x_site,
        X_worker=x_worker,
        site_features=site_names or [f"s{k}" for k in range(x_site.shape[1])],
        worker_features=worker_names or [f"w{k}" for k in range(x_worker.shape[1])],
        worksite_ids=[f"ws{i}" for i in range(j)],
    )


def unit(names, **weights) -> np.ndarray:
    c = np.zeros(len(names))
    for name, w in weights.items():
        c[list(names).index(name)] = w
    return c


def test_twin_site_design_has_rank_17_and_both_null_directions(twin):
    check = design_check(twin)
    site = check["site"]
    assert (site["n_columns"], site["rank"], site["rank_deficiency"]) == (19, 17, 2)
    assert site["columns"] == [INTERCEPT, *PAPER_SITE_FEATURES]
    assert not site["identified"] and not check["identified"]
    assert site["condition_number"] is None  # rank deficient: infinite
    assert 1.0 <= site["condition_number_row_space"] < 1e4
    coefs = site["null_coefficients"]
    assert len(coefs) == 2
    quint = next(c for c in coefs if INTERCEPT in c)
    assert quint == {INTERCEPT: -1.0, **dict.fromkeys(QUINTILES, 1.0)}
    expr = next(e for e in site["null_directions"] if INTERCEPT in e)
    assert expr == " + ".join(QUINTILES) + " - (intercept)"
    assert len(check["messages"]) == 1 and "rank 17 for 19 columns" in check["messages"][0]


def test_twin_log_degree_direction_matches_the_generator(twin):
    """s_md z_md - s_e z_e + s_d z_d = 0 exactly (log md = log 2 + log e - log d; means cancel)."""
    groups = paper_twin_tables(**TWIN).groups
    sd = {c: np.log(groups[c]).std() for c in ("n_discovered", "n_edges", "mean_degree")}
    expected = {
        "log_n_discovered": sd["n_discovered"],
        "log_n_edges": -sd["n_edges"],
        "log_mean_degree": sd["mean_degree"],
    }
    top = max(abs(v) for v in expected.values())
    got = next(c for c in design_check(twin)["site"]["null_coefficients"] if INTERCEPT not in c)
    assert set(got) == set(expected)
    sign = np.sign(got["log_n_edges"] / expected["log_n_edges"])
    for name, value in expected.items():
        assert got[name] == pytest.approx(sign * value / top, abs=1e-5)


def test_twin_worker_design_is_identified_with_a_finite_condition_number(twin):
    worker = design_check(twin)["worker"]
    assert worker["identified"] and worker["rank"] == worker["n_columns"] == 7
    cond = np.linalg.cond(twin.X_worker)
    assert worker["condition_number"] == pytest.approx(cond, rel=1e-10)
    assert worker["null_directions"] == []
    assert set(worker["per_site"]) == {"sites_rank_deficient", "examples"}


def test_full_rank_random_design_is_identified_and_condition_number_is_numpys():
    rng = np.random.default_rng(3)
    data = hier(rng.normal(size=(40, 5)), rng.normal(size=(200, 3)))
    check = design_check(data)
    assert check["identified"] and check["messages"] == []
    matrix, _ = site_design(data)
    for block, mat in (("site", matrix), ("worker", data.X_worker)):
        assert check[block]["rank"] == check[block]["n_columns"]
        assert check[block]["condition_number"] == pytest.approx(np.linalg.cond(mat), rel=1e-10)
        assert check[block]["condition_number_row_space"] == check[block]["condition_number"]
    json.dumps(check, allow_nan=False)  # JSON-ready


def test_condition_number_of_orthogonal_columns_is_the_ratio_of_their_norms():
    x = np.array([[3.0, 0.5], [-3.0, 0.5], [3.0, -0.5], [-3.0, -0.5]])  # norms 6, 1; ones: 2
    assert design_check(hier(x))["site"]["condition_number"] == pytest.approx(6.0)


def test_duplicate_column_gives_the_difference_direction_and_worker_block_is_checked():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(10, 2))
    xw = rng.normal(size=(50, 2))
    data = hier(np.column_stack([x, x[:, 1]]), np.column_stack([xw, 2 * xw[:, 0]]))
    check = design_check(data)
    assert check["site"]["null_directions"] == ["s1 - s2"]
    assert check["worker"]["null_directions"] == ["w0 - 0.5 w2"]
    assert not check["worker"]["identified"] and len(check["messages"]) == 2


def test_fewer_rows_than_columns():
    x = np.random.default_rng(2).normal(size=(3, 4))
    site = design_check(hier(x))["site"]
    assert (site["rank"], site["rank_deficiency"], len(site["null_directions"])) == (3, 2, 2)


def test_a_large_null_space_still_gets_a_basis_of_it():
    """Nullity 5 over 31 columns: too many pivot sets to try, the greedy reduction is used."""
    design = np.random.default_rng(6).normal(size=(26, 31))
    names = [f"c{k}" for k in range(31)]
    dirs = null_directions(design, names)
    vectors = np.array([d["vector"] for d in dirs]).T
    assert vectors.shape == (31, 5) and np.linalg.matrix_rank(vectors) == 5
    np.testing.assert_allclose(design @ vectors, 0.0, atol=1e-10)


def test_near_collinear_but_full_rank_is_identified_with_a_large_condition_number():
    rng = np.random.default_rng(4)
    a = rng.normal(size=30)
    x = np.column_stack([a, a + 1e-4 * rng.normal(size=30), rng.normal(size=30)])
    site = design_check(hier(x))["site"]
    assert site["identified"] and site["condition_number"] > 1e3
    assert not design_check(hier(x), tol=1e-3)["site"]["identified"]


def test_per_site_worker_rank_counts_sites_with_too_few_workers():
    rng = np.random.default_rng(5)
    site = np.array([0] * 10 + [1] * 2 + [2] * 10)  # site 1 has 2 workers for 3 features
    data = hier(rng.normal(size=(3, 1)), rng.normal(size=(22, 3)), site=site)
    per_site = design_check(data)["worker"]["per_site"]
    assert per_site == {"sites_rank_deficient": 1, "examples": ["ws1"]}


def test_estimability_on_the_twin(twin):
    matrix, names = site_design(twin)
    contrast = unit(names, campaign_length_q3=1.0, **dict.fromkeys(
        ["campaign_length_q1", "campaign_length_q2", "campaign_length_q4", "campaign_length_q5"],
        -0.25,
    ))  # fmt: skip
    assert is_estimable(contrast, matrix)
    assert is_estimable(unit(names, campaign_length_q1=1, campaign_length_q2=-1), matrix)
    assert is_estimable(unit(names, ndo=1), matrix)
    assert is_estimable(np.zeros(len(names)), matrix)
    assert not is_estimable(unit(names, campaign_length_q1=1), matrix)
    assert not is_estimable(unit(names, log_n_discovered=1), matrix)
    assert not is_estimable(unit(names, **{INTERCEPT: 1}), matrix)
    # the intercept plus every quintile is the null direction itself: not estimable either
    assert not is_estimable(unit(names, **dict.fromkeys(QUINTILES, 1.0)), matrix)


def test_explain_not_estimable_names_the_collinear_columns(twin):
    matrix, names = site_design(twin)
    why = explain_not_estimable(unit(names, campaign_length_q1=1), matrix, names)
    assert all(q in why for q in QUINTILES) and INTERCEPT in why
    assert "log_n_edges" not in why  # q1 does not load on the log-degree relation
    why = explain_not_estimable(unit(names, log_n_discovered=1), matrix, names)
    assert "log_mean_degree" in why and "log_n_edges" in why and "campaign" not in why
    assert explain_not_estimable(unit(names, ndo=1), matrix, names) is None
    both = unit(names, campaign_length_q1=1, log_n_edges=1)
    assert len(loading_directions(both, matrix, names)) == 2


def test_null_directions_validate_names_and_expression_format():
    with pytest.raises(ValueError, match="3 names for 2 design columns"):
        null_directions(np.ones((3, 2)), ["a", "b", "c"])
    assert expression(np.array([1.0, -0.5, 0.0, 0.25]), ["a", "b", "c", "d"]) == (
        "a + 0.25 d - 0.5 b"
    )
    assert expression(np.array([-1.0, 0.0]), ["a", "b"]) == "- a"
    with pytest.raises(ValueError, match="c has shape"):
        is_estimable([1.0, 2.0], np.ones((3, 3)))
