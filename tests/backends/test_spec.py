"""The reference density and the data container: the definition every backend is tested against."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from backends.spec import (
    VAR_DIMS,
    HierData,
    ModelSpec,
    Priors,
    halfcauchy_logpdf,
    linear_predictor,
    log_jacobian_unconstrained,
    log_joint,
    random_params,
)


def tiny_data() -> HierData:
    return HierData(
        y=[1, 0, 1],
        site=[0, 1, 1],
        X_site=[[0.5, -1.0], [2.0, 0.0]],
        X_worker=[[1.0], [-0.5], [0.25]],
        site_features=["s1", "s2"],
        worker_features=["w1"],
        worksite_ids=["A", "B"],
    )


POINT = {
    "alpha": 0.3,
    "beta_site": np.array([0.7, -0.2]),
    "sigma_site": 1.5,
    "sigma_worker": 0.4,
    "beta_worker": np.array([[0.1], [-0.3]]),
}


def hand_log_joint(point: dict, data: HierData, priors: Priors, centered: bool) -> float:
    """The model written out term by term with scipy.stats, one worker at a time."""
    total = stats.norm(0, priors.alpha_scale).logpdf(point["alpha"])
    total += stats.halfcauchy(scale=priors.sigma_site_scale).logpdf(point["sigma_site"])
    total += stats.halfcauchy(scale=priors.sigma_worker_scale).logpdf(point["sigma_worker"])
    total += stats.norm(0, point["sigma_site"]).logpdf(point["beta_site"]).sum()
    if centered:
        total += stats.norm(0, point["sigma_worker"]).logpdf(point["beta_worker"]).sum()
    else:
        total += stats.norm(0, 1).logpdf(point["beta_worker"] / point["sigma_worker"]).sum()
    for i in range(data.n_workers):
        j = data.site[i]
        eta = (
            point["alpha"]
            + data.X_site[j] @ point["beta_site"]
            + data.X_worker[i] @ point["beta_worker"][j]
        )
        total += stats.bernoulli(1 / (1 + math.exp(-eta))).logpmf(data.y[i])
    return float(total)


@pytest.mark.parametrize("parameterization", ["centered", "noncentered"])
def test_log_joint_matches_hand_computation(parameterization):
    data = tiny_data()
    priors = Priors(alpha_scale=2.0, sigma_site_scale=3.0, sigma_worker_scale=0.5)
    spec = ModelSpec(parameterization=parameterization, priors=priors)
    expected = hand_log_joint(POINT, data, priors, centered=parameterization == "centered")
    assert float(log_joint(POINT, data, spec)) == pytest.approx(expected, rel=1e-12)


def test_noncentered_accepts_z_worker_and_differs_by_the_jacobian():
    data = tiny_data()
    z_point = {k: v for k, v in POINT.items() if k != "beta_worker"}
    z_point["z_worker"] = POINT["beta_worker"] / POINT["sigma_worker"]
    nc = float(log_joint(z_point, data, ModelSpec("noncentered")))
    c = float(log_joint(POINT, data, ModelSpec("centered")))
    # p_nc(z) = p_c(beta) |d beta / d z| = p_c(beta) * sigma_worker^(J * K_w)
    assert nc - c == pytest.approx(2 * math.log(POINT["sigma_worker"]), rel=1e-12)


def test_log_joint_is_vectorised_over_draws():
    data = tiny_data()
    rng = np.random.default_rng(0)
    batch = random_params(data, rng, batch=(3, 4))
    values = log_joint(batch, data, ModelSpec("centered"))
    assert values.shape == (3, 4)
    one = {k: v[2, 1] for k, v in batch.items()}
    assert values[2, 1] == pytest.approx(float(log_joint(one, data, ModelSpec("centered"))))


def test_halfcauchy_density_is_normalised_and_zero_below_zero():
    mass, _ = integrate.quad(lambda s: math.exp(halfcauchy_logpdf(s, 5.0)), 0, np.inf)
    assert mass == pytest.approx(1.0, abs=1e-8)
    assert halfcauchy_logpdf(-0.1, 5.0) == -np.inf


def test_linear_predictor_by_hand():
    data = tiny_data()
    eta = linear_predictor(POINT, data)
    assert eta[0] == pytest.approx(0.3 + (0.5 * 0.7 + 1.0 * 0.2) + 1.0 * 0.1)
    assert eta[2] == pytest.approx(0.3 + 2.0 * 0.7 + 0.25 * -0.3)


def test_jacobian_term():
    assert float(log_jacobian_unconstrained(POINT)) == pytest.approx(math.log(1.5 * 0.4))


def test_hierdata_is_immutable_and_validated():
    data = tiny_data()
    with pytest.raises(ValueError):
        data.y[0] = 0
    with pytest.raises(AttributeError):
        data.name = "other"
    with pytest.raises(ValueError, match="only 0 and 1"):
        HierData(
            y=[2],
            site=[0],
            X_site=[[1.0]],
            X_worker=[[1.0]],
            site_features=["a"],
            worker_features=["b"],
            worksite_ids=["A"],
        )
    with pytest.raises(ValueError, match="site indices"):
        HierData(
            y=[1],
            site=[3],
            X_site=[[1.0]],
            X_worker=[[1.0]],
            site_features=["a"],
            worker_features=["b"],
            worksite_ids=["A"],
        )
    with pytest.raises(ValueError, match="finite"):
        HierData(
            y=[1],
            site=[0],
            X_site=[[np.nan]],
            X_worker=[[1.0]],
            site_features=["a"],
            worker_features=["b"],
            worksite_ids=["A"],
        )


def test_subset_keeps_every_worksite():
    data = tiny_data()
    part = data.subset([2])
    assert part.n_workers == 1 and part.worksite_ids == data.worksite_ids
    assert part.coords()["worksite"] == ["A", "B"]


def test_model_spec_rejects_unknown_parameterization_and_bad_priors():
    with pytest.raises(ValueError, match="parameterization"):
        ModelSpec(parameterization="sideways")
    with pytest.raises(ValueError, match="sigma_site_scale"):
        Priors(sigma_site_scale=-1.0)


def test_canonical_names_and_dims():
    assert VAR_DIMS == {
        "alpha": (),
        "beta_site": ("site_feature",),
        "sigma_site": (),
        "sigma_worker": (),
        "beta_worker": ("worksite", "worker_feature"),
    }
