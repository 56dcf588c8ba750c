"""Linear-response covariances (issue 20): where the answer is known.

1. A Gaussian target ``N(m, P^{-1})`` with the model's coupling structure (global coordinates
   plus groups that never couple with each other): the DADVI objective, its gradient and its
   Hessian are written out by hand (NumPy), so the sparsity-grouped Hessian is checked against
   an independent derivation, and at the optimum the LR covariance must equal ``P^{-1}``
   (exactly, whatever the fixed draws; module docstring of ``backends.linear_response``).
2. The same identity through PyMC: the DADVI objective compiled by the backend on a PyMC model
   whose posterior is Gaussian.
3. On the real model (a tiny twin, both parameterisations) the grouped Hessian equals the
   dense one built from every Hessian-vector product, and a wrong structure is refused.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from backends import linear_response as lr
from backends.spec import ModelSpec

NONCENTERED = ModelSpec("noncentered")

G, J, K = 3, 5, 2  # globals, groups, coefficients per group
N = G + J * K
SPARSITY = lr.Sparsity(np.arange(G), G + np.arange(J * K).reshape(J, K))


def structured_precision(seed: int = 0) -> np.ndarray:
    """A positive-definite precision with no entries between different groups."""
    rng = np.random.default_rng(seed)
    b = rng.normal(scale=0.5, size=(N, N))
    group = np.full(N, -1)
    group[SPARSITY.group_index] = np.arange(J)[:, None]
    cross = (group[:, None] >= 0) & (group[None, :] >= 0) & (group[:, None] != group[None, :])
    b[cross] = 0.0
    b = 0.5 * (b + b.T)
    return b + (0.1 - np.linalg.eigvalsh(b).min()) * np.eye(N)  # strongly correlated


class GaussianObjective:
    """DADVI objective of ``N(m, P^{-1})`` on fixed draws ``z`` (M, N), by hand."""

    def __init__(self, prec: np.ndarray, m: np.ndarray, z: np.ndarray) -> None:
        self.p, self.m, self.z = prec, m, z

    def _parts(self, x):
        mu, omega = np.split(x, 2)
        s = np.exp(omega)
        r = mu + s * self.z - self.m  # (M, N)
        return mu, omega, s, r

    def value_grad(self, x):
        _, omega, s, r = self._parts(x)
        pr = r @ self.p
        value = 0.5 * np.mean(np.sum(r * pr, axis=1)) - omega.sum()
        grad = np.concatenate([pr.mean(0), np.mean(pr * s * self.z, axis=0) - 1.0])
        return value, grad

    def hessian(self, x):
        _, _, s, r = self._parts(x)
        zbar, cz = self.z.mean(0), self.z.T @ self.z / len(self.z)
        h_mo = self.p * (s * zbar)[None, :]
        h_oo = self.p * np.outer(s, s) * cz
        h_oo += np.diag(np.mean((r @ self.p) * s * self.z, axis=0))
        return np.block([[self.p, h_mo], [h_mo.T, h_oo]])

    def hessp(self, x, v):
        return self.hessian(x) @ v


@pytest.fixture(scope="module")
def gaussian():
    prec = structured_precision()
    rng = np.random.default_rng(1)
    obj = GaussianObjective(prec, rng.normal(size=N), rng.standard_normal((30, N)))
    res = minimize(obj.value_grad, np.zeros(2 * N), jac=True, hess=obj.hessian,
                   method="trust-exact")  # fmt: skip
    x = res.x
    for _ in range(5):  # Newton polish: quadratic convergence from ~1e-8 to round-off
        x = x - np.linalg.solve(obj.hessian(x), obj.value_grad(x)[1])
    assert res.success and np.abs(obj.value_grad(x)[1]).max() < 1e-12, res.message
    return obj, x


def test_grouped_hessian_equals_the_hand_derived_one_with_fewer_products(gaussian):
    obj, x = gaussian
    hess, n_products = lr.structured_hessian(obj.hessp, x, SPARSITY)
    np.testing.assert_allclose(hess, obj.hessian(x), rtol=1e-12, atol=1e-12)
    assert n_products == 2 * (G + K) + 1 < 2 * N  # + 1: the random-vector check


def test_lr_covariance_of_a_gaussian_posterior_is_its_covariance(gaussian):
    """Exact up to round-off (gradient < 1e-12 at the optimum), although the 30 fixed draws'
    mean is far from 0 and the mean-field variances are far from the marginal ones."""
    obj, x = gaussian
    hess, _ = lr.structured_hessian(obj.hessp, x, SPARSITY)
    out = lr.lr_covariance(hess, x, obj.z)
    exact = np.linalg.inv(obj.p)
    np.testing.assert_allclose(out.cov, exact, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(out.mean, obj.m, rtol=1e-9, atol=1e-11)
    mean_field_var = np.exp(2 * np.split(x, 2)[1])
    assert np.max(np.diag(exact) / mean_field_var) > 1.5  # the correction had work to do


def test_lr_draws_have_the_covariance_and_their_log_density():
    """Draws from N(mean, cov) through the Cholesky factor; log q against scipy's MVN."""
    from scipy.stats import multivariate_normal

    cov = np.linalg.inv(structured_precision(3))
    g = lr.LinearResponse(np.arange(N, dtype=float), cov, np.linalg.cholesky(cov))
    eps = np.random.default_rng(2).standard_normal((40_000, N))
    flat, log_q = lr.gaussian_draws(g, eps)
    # 40,000 draws: the sample covariance's sd is about sqrt(2 / 40,000) = 0.007 x the scale.
    np.testing.assert_allclose(np.cov(flat.T), cov, atol=0.04 * np.abs(cov).max())
    ref = multivariate_normal(g.mean, cov).logpdf(flat[:50])
    np.testing.assert_allclose(log_q[:50], ref, rtol=1e-10)


def test_a_wrong_structure_or_an_indefinite_hessian_is_refused(gaussian):
    obj, x = gaussian
    dense = GaussianObjective(
        np.linalg.inv(np.linalg.inv(structured_precision()) + 0.3), obj.m, obj.z
    )  # fmt: skip  (couples every group with every other)
    with pytest.raises(ValueError, match="structure excludes"):
        lr.structured_hessian(dense.hessp, x, SPARSITY)
    with pytest.raises(ValueError, match="partition"):
        lr.structured_hessian(obj.hessp, x, lr.Sparsity(np.arange(G), SPARSITY.group_index[1:]))
    with pytest.raises(lr.NotPositiveDefinite):
        lr.lr_covariance(-obj.hessian(x), x, obj.z)


def test_through_pymc_the_lr_covariance_of_a_gaussian_model_is_exact():
    """The backend's compiled DADVI objective on a PyMC model with a correlated Gaussian
    posterior: optimise, build the Hessian from its products, and recover the covariance."""
    import pymc as pm
    from scipy.optimize import minimize as scipy_minimize

    from backends.pymc.dadvi import compile_objective, draw_streams
    from backends.pymc.model import quiet_pytensor

    cov = np.array([[1.0, 0.8, 0.2], [0.8, 2.0, -0.5], [0.2, -0.5, 0.7]])
    with pm.Model() as model:
        pm.MvNormal("theta", mu=np.array([1.0, -2.0, 0.5]), cov=cov)
    fixed, _ = draw_streams(0, 30, 1, 3)
    with quiet_pytensor():
        (f_fused, f_hessp), _ = compile_objective(model, fixed)
        res = scipy_minimize(f_fused, np.zeros(6), jac=True, hessp=f_hessp, method="trust-ncg",
                             options={"gtol": 1e-10})  # fmt: skip
        hess, n_products = lr.structured_hessian(f_hessp, res.x, lr.dense_sparsity(3))
    out = lr.lr_covariance(hess, res.x, fixed)
    assert n_products == 7
    np.testing.assert_allclose(out.cov, cov, rtol=1e-6)
    np.testing.assert_allclose(out.mean, [1.0, -2.0, 0.5], atol=1e-7)


@pytest.mark.parametrize("parameterization", ["centered", "noncentered"])
def test_grouped_hessian_of_the_model_equals_the_dense_one(tiny_twin, parameterization):
    """The model's worksite blocks never couple: the grouped Hessian (2 x (21 + 7) + 1
    products) equals the dense one (2 x 77), at a point that is not an optimum."""
    import pymc as pm

    from backends.pymc.dadvi import compile_objective, draw_streams, sparsity
    from backends.pymc.model import build_model, quiet_pytensor
    from backends.spec import ModelSpec

    spec = ModelSpec(parameterization)
    with quiet_pytensor():
        model = build_model(tiny_twin, spec)
        n = pm.blocking.DictToArrayBijection.map(model.initial_point()).data.shape[0]
        fixed, _ = draw_streams(0, 30, 1, n)
        (_, f_hessp), _ = compile_objective(model, fixed)
        x = np.random.default_rng(3).normal(scale=[0.3] * n + [0.2] * n) - np.r_[[0] * n, [1.5] * n]
        grouped, n_grouped = lr.structured_hessian(f_hessp, x, sparsity(model, spec))
        dense, n_dense = lr.structured_hessian(f_hessp, x, lr.dense_sparsity(n))
    assert n == 21 + 8 * 7 and n_grouped == 2 * (21 + 7) + 1 and n_dense == 2 * n + 1
    np.testing.assert_allclose(grouped, dense, rtol=1e-9, atol=1e-9 * np.abs(dense).max())


def test_fixed_and_output_draws_are_independent_streams():
    """Issue 20: the output draws used to BE the fixed draws (one rng(seed) for both)."""
    from backends.pymc.dadvi import draw_streams

    fixed, out = draw_streams(7, 30, 1000, 50)
    assert not any(np.isclose(out, row).all(axis=1).any() for row in fixed)
    assert not np.allclose(fixed, np.random.default_rng(7).standard_normal((30, 50)))
    again = draw_streams(7, 30, 1000, 50)
    assert np.array_equal(again[0], fixed) and np.array_equal(again[1], out)  # reproducible


def test_dadvi_counts_are_the_evaluations_it_made(tiny_twin, monkeypatch):
    """Issue 31: the optimiser's steps and evaluations as counts, checked against the calls
    the compiled objective and Hessian-vector product actually received."""
    from backends.pymc import PyMCDADVI, dadvi

    calls = {"fused": 0, "hessp": 0}
    compile_objective = dadvi.compile_objective

    def counted(model, fixed, **kwargs):
        (f_fused, f_hessp), timing = compile_objective(model, fixed, **kwargs)

        def fused(x):
            calls["fused"] += 1
            return f_fused(x)

        def hessp(x, v):
            calls["hessp"] += 1
            return f_hessp(x, v)

        return (fused, hessp), timing

    monkeypatch.setattr(dadvi, "compile_objective", counted)
    fit = PyMCDADVI(model=NONCENTERED, name="pymc_dadvi_lr", num_draws=50,
                    lr_covariance=True).fit(tiny_twin, seed=0)  # fmt: skip
    info = fit.info
    assert info["n_steps"] == info["optimizer_nit"] > 0
    assert info["n_objective"] == calls["fused"] >= info["n_steps"]
    assert info["n_hvp"] + info["hessian_products"] == calls["hessp"]
    assert info["n_hvp"] > 0 and info["fit_cpu_s"] > 0
