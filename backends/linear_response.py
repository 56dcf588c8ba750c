"""Linear-response (LR) covariances of a mean-field Gaussian fitted to a deterministic objective.

A mean-field Gaussian ``q(theta) = N(mu, diag(s^2))``, ``s = exp(omega)``, on the unconstrained
space, fitted by DADVI (Giordano, Ingram & Broderick 2024) to ``M`` fixed standard-normal
draws ``z_m``, minimises

    F(eta) = -(1/M) sum_m log p(mu + s * z_m) - sum(omega),      eta = (mu, omega).

Its own variances understate the posterior's wherever the posterior is correlated.  The
linear-response covariance (Giordano, Broderick & Jordan 2018, "Covariances, robustness, and
variational Bayes", JMLR 19) is the sensitivity of the fitted mean to a linear tilt of the log
density, ``log p_t = log p + t . theta``:

    Sigma_LR = d E_hat[theta] / dt  =  J H^{-1} J^T,    H = d^2 F / d eta^2 at the optimum,

where ``E_hat[theta] = mu + s * zbar`` (``zbar`` the mean of the fixed draws) is the fixed-draw
estimate of the posterior mean and ``J = d E_hat[theta] / d eta = [I, diag(s * zbar)]``.  For a
Gaussian posterior ``N(m, P^{-1})`` the optimum satisfies ``mu + s * zbar = m + P^{-1} t``
whatever the draws, so ``Sigma_LR = P^{-1}`` exactly: the known answer the tests check.

``H`` is ``2n x 2n`` (``n`` latent dimensions).  Built from ``2n`` Hessian-vector products it
costs as much as a NUTS run at paper scale; :func:`structured_hessian` uses the model's
sparsity instead: the log density couples the per-group coefficients of one group (a worksite)
with each other and with the global parameters, never with another group's, so one product
per global coordinate plus one per *column* of the group block recovers every entry
(``2 * (n_global + K)`` products instead of ``2 * (n_global + J * K)``).

Pure NumPy: the objective's Hessian-vector product is passed in by the backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

#: ``hessp(x, v) -> H(x) v`` of the objective on the ``2n`` variational parameters.
HessP = Callable[[np.ndarray, np.ndarray], np.ndarray]


class Sparsity(NamedTuple):
    """Which latent coordinates can couple in the log density's Hessian.

    Attributes
    ----------
    global_index : ndarray of int, shape (G,)
        Flat indices (into the ``n`` latent coordinates) that may couple with every other.
    group_index : ndarray of int, shape (J, K)
        Flat index of coefficient ``k`` of group ``j``; two coordinates of different groups
        never couple (their Hessian entry is structurally zero).
    """

    global_index: np.ndarray
    group_index: np.ndarray

    @property
    def n(self) -> int:
        """Number of latent coordinates."""
        return int(self.global_index.size + self.group_index.size)


def dense_sparsity(n: int) -> Sparsity:
    """Every coordinate global (no structure): :func:`structured_hessian` then makes ``2n``
    products, the plain dense Hessian."""
    return Sparsity(np.arange(n), np.empty((0, 0), dtype=int))


def check_sparsity(sp: Sparsity) -> None:
    """Raise ValueError unless the global and group indices partition ``range(n)``."""
    every = np.concatenate([sp.global_index.ravel(), sp.group_index.ravel()])
    if not np.array_equal(np.sort(every), np.arange(sp.n)):
        raise ValueError("sparsity: global and group indices must partition range(n)")


def structured_hessian(hessp: HessP, x: np.ndarray, sp: Sparsity) -> tuple[np.ndarray, int]:
    """The ``2n x 2n`` Hessian of a mean-field objective from colour-grouped products.

    Parameters
    ----------
    hessp : callable
        ``hessp(x, v) = H(x) v`` of the objective in ``x = (mu, omega)``.
    x : ndarray, shape (2n,)
        Where the Hessian is taken (the optimum).
    sp : Sparsity
        The log density's coupling structure on the ``n`` latent coordinates; ``mu_a`` and
        ``omega_a`` couple with whatever ``theta_a`` couples with.

    Returns
    -------
    (ndarray, int)
        The symmetric Hessian and the number of Hessian-vector products made.

    Raises
    ------
    ValueError
        When the indices do not partition the coordinates, or the Hessian times a random
        vector differs from ``hessp`` of it (the objective couples what ``sp`` says it
        does not).
    """
    check_sparsity(sp)
    n = sp.n
    x = np.asarray(x, float)
    hess = np.zeros((2 * n, 2 * n))
    n_products = 0
    for half in (0, n):
        for g in sp.global_index:  # full columns (and, by symmetry, rows) of the globals
            v = np.zeros(2 * n)
            v[half + g] = 1.0
            col = np.asarray(hessp(x, v), float)
            hess[:, half + g] = col
            hess[half + g, :] = col
            n_products += 1
    n_groups, n_cols = sp.group_index.shape
    for half in (0, n):
        for k in range(n_cols):  # one product per column of the group block
            v = np.zeros(2 * n)
            v[half + sp.group_index[:, k]] = 1.0
            col = np.asarray(hessp(x, v), float)
            n_products += 1
            for j in range(n_groups):  # a row of group j sees only group j's coordinate
                rows = np.concatenate([sp.group_index[j], n + sp.group_index[j]])
                hess[rows, half + sp.group_index[j, k]] = col[rows]
    hess = 0.5 * (hess + hess.T)
    probe = np.random.default_rng(0).standard_normal(2 * n)  # one more product: a wrong
    want = np.asarray(hessp(x, probe), float)  # sparsity must never pass silently
    if not np.allclose(hess @ probe, want, rtol=1e-6, atol=1e-8 * max(1.0, np.abs(want).max())):
        raise ValueError("sparsity: the Hessian has entries the declared structure excludes")
    return hess, n_products + 1


class LinearResponse(NamedTuple):
    """The LR-corrected Gaussian on the unconstrained space.

    Attributes
    ----------
    mean : ndarray, shape (n,)
        ``mu + s * zbar``: the fixed-draw estimate of the posterior mean.
    cov : ndarray, shape (n, n)
        ``J H^{-1} J^T``.
    chol : ndarray, shape (n, n)
        Lower Cholesky factor of ``cov``.
    """

    mean: np.ndarray
    cov: np.ndarray
    chol: np.ndarray


class NotPositiveDefinite(ValueError):
    """The objective's Hessian (or the LR covariance) is not positive definite: the optimiser
    did not reach a strict local minimum, and no LR covariance exists there."""


def lr_covariance(hess: np.ndarray, x: np.ndarray, fixed_draws: np.ndarray) -> LinearResponse:
    """``Sigma_LR = J H^{-1} J^T`` with ``J = [I, diag(s * zbar)]`` (module docstring).

    Parameters
    ----------
    hess : ndarray, shape (2n, 2n)
        Hessian of the objective at its optimum ``x``.
    x : ndarray, shape (2n,)
        The optimum ``(mu, omega)``.
    fixed_draws : ndarray, shape (M, n)
        The objective's fixed standard-normal draws.

    Raises
    ------
    NotPositiveDefinite
        When ``hess`` or the resulting covariance has no Cholesky factor.
    """
    mu, omega = np.split(np.asarray(x, float), 2)
    shift = np.exp(omega) * np.asarray(fixed_draws, float).mean(axis=0)
    n = mu.size
    jac = np.hstack([np.eye(n), np.diag(shift)])
    try:
        chol_h = np.linalg.cholesky(hess)
    except np.linalg.LinAlgError as exc:
        raise NotPositiveDefinite("the objective's Hessian is not positive definite") from exc
    half = np.linalg.solve(chol_h, jac.T)  # L^{-1} J^T, so cov = half^T half
    cov = half.T @ half
    cov = 0.5 * (cov + cov.T)
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError as exc:
        raise NotPositiveDefinite("the LR covariance is not positive definite") from exc
    return LinearResponse(mean=mu + shift, cov=cov, chol=chol)


def gaussian_draws(lr: LinearResponse, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Draws ``mean + chol @ eps`` and their log density under ``N(mean, cov)``.

    Parameters
    ----------
    lr : LinearResponse
    eps : ndarray, shape (S, n)
        Standard-normal draws (from a stream independent of the fixed draws).

    Returns
    -------
    (ndarray (S, n), ndarray (S,))
    """
    eps = np.asarray(eps, float)
    flat = lr.mean + eps @ lr.chol.T
    log_det = np.sum(np.log(np.diag(lr.chol)))
    log_q = -0.5 * np.sum(eps**2, axis=1) - log_det - 0.5 * eps.shape[1] * np.log(2 * np.pi)
    return flat, log_q
