"""The paper's Gaussian-mixture Gibbs sampler, vectorised over independent chains.

Model (``x_j`` is row ``j`` of a (J, D) matrix, here worksite ``j``'s worker-level coefficients)::

    pi            ~ Dirichlet(alpha0 * 1_K)
    mu_k          ~ Normal(0, eta^2 I_D)            k = 0 .. K-1
    z_j | pi      ~ Categorical(pi)                 j = 0 .. J-1
    x_j | z_j, mu ~ Normal(mu_{z_j}, sigma^2 I_D)

``sigma`` and ``eta`` are read as STANDARD DEVIATIONS by default: ``sigma`` is the fixed
isotropic likelihood sd of a point around its cluster mean (the sweep divides squared distances
by ``sigma**2``), ``eta`` the prior sd of every coordinate of a cluster mean. The paper writes
"sigma = 0.0001" without saying which it is; ``sigma_is="variance"`` (config
``clustering.sigma_is``) reads it as the variance instead, i.e. runs the sampler with the sd
``sqrt(sigma)`` (0.0001 -> 0.01), see :func:`likelihood_sd`. ``eta`` is always an sd. The
paper's settings: K = 2, sigma = 0.0001, alpha0 = 1, eta = 0.1, 400 iterations. With sigma this
small relative to the spread of the points (the paper's raw coefficients had sd ~0.005;
standardised inputs have sd 1) the likelihood dominates: ``z`` given the means is (almost
surely) the nearest mean and each mean given ``z`` is its cluster's centroid up to noise of sd
``sigma / sqrt(n_k)``, so the chain behaves like a stochastic k-means. That is why the paper
found only small sigmas "converged": larger ones let assignments keep flipping. The flip side:
such a chain never leaves the basin it starts in, i.e. it is a local optimiser, so the result
depends on the seed (hence best-of-restarts and the ARI across seeds).

One Gibbs sweep updates ``z | pi, mu`` (Gumbel-max over the K log posteriors), then ``pi | z ~
Dirichlet(alpha0 + n)``, then ``mu_k | z ~ Normal(m_k, s_k^2 I)`` with ``s_k^2 = 1 / (n_k /
sigma^2 + 1 / eta^2)`` and ``m_k = s_k^2 * sum_{z_j = k} x_j / sigma^2`` (an empty cluster's
mean is a draw from its prior). The means are initialised by k-means++ seeding (D^2 sampling
from the points) and ``pi`` at 1/K; the log joint ``log p(x, z, pi, mu)`` (all normalising
constants) is recorded after every sweep. The reported clustering of a chain is its
highest-log-joint state after burn-in, which is immune to label switching within the chain.

Every chain has its own generator ``default_rng([seed, stream, c])``, so chain ``c``'s result does
not depend on how many chains are run alongside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy.special import gammaln

_LOG_2PI = float(np.log(2.0 * np.pi))
_TINY = float(np.finfo(float).tiny)


class GibbsResult(NamedTuple):
    """Output of :func:`gibbs_gmm` for C chains.

    Attributes
    ----------
    labels : ndarray of int64, shape (C, J)
        Assignments at each chain's highest-log-joint iteration after burn-in (0 .. K-1).
    final_labels : ndarray of int64, shape (C, J)
        Assignments at the last iteration.
    means : ndarray, shape (C, K, D)
        Cluster means at the highest-log-joint iteration.
    weights : ndarray, shape (C, K)
        Mixture weights at that iteration.
    log_joint : ndarray, shape (C, n_iter)
        ``log p(x, z, pi, mu)`` after every sweep.
    best_iter : ndarray of int64, shape (C,)
        Iteration whose state is reported in ``labels``.
    """

    labels: np.ndarray
    final_labels: np.ndarray
    means: np.ndarray
    weights: np.ndarray
    log_joint: np.ndarray
    best_iter: np.ndarray


def check_settings(
    k: int, sigma: float, alpha0: float, eta: float, n_iter: int, burn_in: int
) -> None:
    """Raise ``ValueError`` on settings the sampler cannot run with."""
    rules = [
        (int(k) == k and k >= 1, f"k must be a positive integer, got {k!r}"),
        (np.isfinite(sigma) and sigma > 0, f"sigma must be positive and finite, got {sigma!r}"),
        (np.isfinite(eta) and eta > 0, f"eta must be positive and finite, got {eta!r}"),
        (np.isfinite(alpha0) and alpha0 > 0, f"alpha0 must be positive, got {alpha0!r}"),
        (int(n_iter) == n_iter and n_iter >= 1, f"n_iter must be >= 1, got {n_iter!r}"),
        (0 <= burn_in < n_iter, f"burn_in must lie in 0..n_iter-1, got {burn_in!r}"),
    ]
    for ok, message in rules:
        if not ok:
            raise ValueError(f"clustering: {message}")


#: How ``sigma`` is read: as the likelihood standard deviation or as its variance.
SIGMA_READINGS: tuple[str, ...] = ("sd", "variance")


def likelihood_sd(sigma: float, sigma_is: str = "sd") -> float:
    """The likelihood standard deviation the sampler uses for a configured ``sigma``.

    Parameters
    ----------
    sigma : float
        The configured value (paper: 0.0001).
    sigma_is : {"sd", "variance"}
        ``"sd"`` (the default, this sampler's reading): ``sigma`` is the sd.  ``"variance"``:
        ``sigma`` is the variance, so the sd is ``sqrt(sigma)``.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        An unknown reading or a non-positive ``sigma``.
    """
    if sigma_is not in SIGMA_READINGS:
        raise ValueError(f"clustering: sigma_is must be one of {SIGMA_READINGS}, got {sigma_is!r}")
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"clustering: sigma must be positive and finite, got {sigma!r}")
    return float(np.sqrt(sigma)) if sigma_is == "variance" else float(sigma)


def check_matrix(x: np.ndarray, k: int) -> np.ndarray:
    """``x`` as float (C, J, D) (a (J, D) matrix gets C = 1); ``ValueError`` if unusable."""
    x = np.asarray(x, dtype=float)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError(f"clustering: expected a (J, D) or (C, J, D) matrix, got {x.shape}")
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).sum())
        raise ValueError(f"clustering: the coefficient matrix has {bad} NaN/inf entries")
    if k > x.shape[1]:
        raise ValueError(f"clustering: K = {k} exceeds the number of worksites J = {x.shape[1]}")
    return x


def _rngs(seed: int, stream: int, n: int) -> list[np.random.Generator]:
    return [np.random.default_rng([int(seed), int(stream), c]) for c in range(n)]


def _sq_dist(x: np.ndarray, mu: np.ndarray, xx: np.ndarray | None = None) -> np.ndarray:
    """Squared distances, (C, J, D) x (C, K, D) -> (C, J, K) (expanded form, clipped at 0);
    ``xx`` is ``(x**2).sum(axis=2)[:, :, None]`` when the caller has it (a chain's points
    never change)."""
    cross = np.matmul(x, mu.transpose(0, 2, 1))
    xx = (x**2).sum(axis=2)[:, :, None] if xx is None else xx
    d2 = xx - 2.0 * cross + (mu**2).sum(axis=2)[:, None, :]
    return np.maximum(d2, 0.0, out=d2)


class _Noise:
    """Per-chain random numbers, generated in blocks of iterations (few generator calls).

    ``pi | z ~ Dirichlet(alpha0 + n)`` is drawn as normalised ``Gamma(alpha0 + n_k)`` variates,
    each built as ``Gamma(alpha0) + sum_{z_j = k} E_j`` with ``E_j ~ Exp(1)`` (a sum of ``n``
    unit exponentials is ``Gamma(n)``), so the shapes need not be known in advance.
    """

    def __init__(
        self,
        rngs: Sequence[np.random.Generator],
        j: int,
        k: int,
        d: int,
        alpha0: float,
        block: int = 25,
    ) -> None:
        self.rngs, self.shape, self.alpha0, self.block = rngs, (j, k, d), alpha0, block
        self.pos = block

    def _refill(self) -> None:
        """The next ``block`` iterations' variates of every chain, each chain's drawn in
        place from its own generator (Gumbel(0, 1) as ``-log E``, ``E ~ Exp(1)``)."""
        j, k, d, b = *self.shape, self.block
        c = len(self.rngs)
        self.gumbel = np.empty((c, b, j, k))
        self.expo, self.gamma = np.empty((c, b, j)), np.empty((c, b, k))
        self.normal = np.empty((c, b, k, d))
        for ci, r in enumerate(self.rngs):
            r.standard_exponential(out=self.gumbel[ci])
            r.standard_exponential(out=self.expo[ci])
            r.standard_gamma(self.alpha0, out=self.gamma[ci])
            r.standard_normal(out=self.normal[ci])
        np.negative(np.log(self.gumbel, out=self.gumbel), out=self.gumbel)
        self.pos = 0

    def next(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Gumbel (C, J, K), Exp(1) (C, J), Gamma(alpha0) (C, K), Normal (C, K, D)."""
        if self.pos == self.block:
            self._refill()
        i, self.pos = self.pos, self.pos + 1
        return self.gumbel[:, i], self.expo[:, i], self.gamma[:, i], self.normal[:, i]


def _kmeanspp(x: np.ndarray, k: int, rngs: Sequence[np.random.Generator]) -> np.ndarray:
    """k-means++ seeding per chain: (C, J, D) -> initial means (C, K, D)."""
    c, j, _ = x.shape
    idx = np.empty((c, k), dtype=np.int64)
    idx[:, 0] = [r.integers(j) for r in rngs]
    for m in range(1, k):
        chosen = x[np.arange(c)[:, None], idx[:, :m]]  # (C, m, D)
        d2 = _sq_dist(x, chosen).min(axis=2)  # (C, J)
        for ci, r in enumerate(rngs):
            total = d2[ci].sum()
            p = d2[ci] / total if total > 0 else np.full(j, 1.0 / j)
            idx[ci, m] = r.choice(j, p=p)
    return x[np.arange(c)[:, None], idx].copy()


def _log_joint(
    d2z: np.ndarray,
    counts: np.ndarray,
    log_pi: np.ndarray,
    mu: np.ndarray,
    shape: tuple[int, int, int],
    sigma: float,
    alpha0: float,
    eta: float,
) -> np.ndarray:
    """``log p(x, z, pi, mu)`` per chain from the sufficient pieces."""
    _, j, d = shape
    k = counts.shape[1]
    lik = -0.5 * d2z / sigma**2 - j * d * (np.log(sigma) + 0.5 * _LOG_2PI)
    lz = (counts * log_pi).sum(axis=1)
    lpi = gammaln(k * alpha0) - k * gammaln(alpha0) + (alpha0 - 1.0) * log_pi.sum(axis=1)
    lmu = -0.5 * (mu**2).sum(axis=(1, 2)) / eta**2 - k * d * (np.log(eta) + 0.5 * _LOG_2PI)
    return lik + lz + lpi + lmu


def _sweep(
    x: np.ndarray,
    log_pi: np.ndarray,
    d2: np.ndarray,
    draws: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    sigma: float,
    alpha0: float,
    eta: float,
    xx: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One Gibbs sweep z | pi, mu -> pi | z -> mu | z of C chains at once.

    ``draws`` are this sweep's (gumbel, exponential, gamma, normal) variates from
    :class:`_Noise`; ``xx`` the points' squared norms (:func:`_sq_dist`).  Returns ``(z,
    log_pi, mu, d2, log_joint)`` after the sweep.
    """
    gumbel, expo, gam, noise = draws
    c, j, _ = x.shape
    k = log_pi.shape[1]
    z = np.argmax(log_pi[:, None, :] - 0.5 * d2 / sigma**2 + gumbel, axis=2)
    onehot = (z[:, :, None] == np.arange(k)).astype(float)  # (C, J, K)
    counts = onehot.sum(axis=1)
    pi = gam + np.matmul(expo[:, None, :], onehot)[:, 0]  # Gamma(alpha0 + n_k)
    pi = pi / pi.sum(axis=1, keepdims=True)
    log_pi = np.log(np.maximum(pi, _TINY))
    var = 1.0 / (counts / sigma**2 + 1.0 / eta**2)  # (C, K)
    centre = var[:, :, None] * np.matmul(onehot.transpose(0, 2, 1), x) / sigma**2
    mu = centre + np.sqrt(var)[:, :, None] * noise
    d2 = _sq_dist(x, mu, xx)
    d2z = d2[np.arange(c)[:, None], np.arange(j), z].sum(axis=1)
    log_joint = _log_joint(d2z, counts, log_pi, mu, x.shape, sigma, alpha0, eta)
    return z, log_pi, mu, d2, log_joint


def gibbs_gmm(
    x: np.ndarray,
    k: int = 2,
    *,
    sigma: float = 1e-4,
    alpha0: float = 1.0,
    eta: float = 0.1,
    n_iter: int = 400,
    burn_in: int = 200,
    seed: int = 0,
    stream: int = 0,
    sigma_is: str = "sd",
) -> GibbsResult:
    """Run the Gibbs sampler of the module docstring on C independent inputs at once.

    Parameters
    ----------
    x : array_like, shape (J, D) or (C, J, D)
        Points to cluster; C inputs get one chain each (repeat one matrix for several seeds).
    k : int
        Number of mixture components K (``1 <= K <= J``).
    sigma, eta : float
        Likelihood scale and prior sd of the component means; ``sigma`` is read per
        ``sigma_is``.
    alpha0 : float
        Symmetric Dirichlet concentration of the mixture weights.
    n_iter, burn_in : int
        Gibbs sweeps; the reported state is chosen among iterations ``>= burn_in``.
    seed, stream : int
        Chain ``c`` uses ``numpy.random.default_rng([seed, stream, c])``.
    sigma_is : {"sd", "variance"}
        Whether ``sigma`` is the likelihood sd (default) or its variance (:func:`likelihood_sd`).

    Returns
    -------
    GibbsResult
    """
    check_settings(k, sigma, alpha0, eta, n_iter, burn_in)
    sigma = likelihood_sd(sigma, sigma_is)
    x = check_matrix(x, k)
    c, j, d = x.shape
    rngs = _rngs(seed, stream, c)
    mu = _kmeanspp(x, k, rngs)
    log_pi = np.full((c, k), -np.log(k))
    xx = (x**2).sum(axis=2)[:, :, None]
    d2 = _sq_dist(x, mu, xx)
    trace = np.empty((c, n_iter))
    best = np.full(c, -np.inf)
    best_iter = np.zeros(c, dtype=np.int64)
    labels = np.zeros((c, j), dtype=np.int64)
    best_mu, best_log_pi = mu.copy(), log_pi.copy()
    noise_src = _Noise(rngs, j, k, d, alpha0)
    for it in range(n_iter):
        z, log_pi, mu, d2, trace[:, it] = _sweep(
            x, log_pi, d2, noise_src.next(), sigma, alpha0, eta, xx
        )
        if it >= burn_in:
            better = trace[:, it] > best
            best = np.where(better, trace[:, it], best)
            best_iter = np.where(better, it, best_iter)
            labels[better] = z[better]
            best_mu[better], best_log_pi[better] = mu[better], log_pi[better]
    return GibbsResult(labels, z.astype(np.int64), best_mu, np.exp(best_log_pi), trace, best_iter)


def best_of(res: GibbsResult, restarts: int) -> GibbsResult:
    """Keep, of each consecutive group of ``restarts`` chains, the one with the best log joint.

    Chains ``g * restarts .. (g + 1) * restarts - 1`` must be restarts on the same input; the
    score of a chain is the log joint of its reported (best post-burn-in) state.
    """
    c = res.labels.shape[0]
    if restarts < 1 or c % restarts:
        raise ValueError(f"best_of: {c} chains are not groups of {restarts} restarts")
    score = res.log_joint[np.arange(c), res.best_iter].reshape(-1, restarts)
    pick = np.arange(score.shape[0]) * restarts + score.argmax(axis=1)
    return GibbsResult(*(np.asarray(a)[pick] for a in res))


def _relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Canonical labels: 0 = largest cluster (ties by first appearance), per row."""
    labels = np.atleast_2d(labels)
    out = np.empty_like(labels)
    for i, row in enumerate(labels):
        values, first, counts = np.unique(row, return_index=True, return_counts=True)
        order = np.lexsort((first, -counts))
        mapping = np.empty(values.max() + 1, dtype=np.int64)
        mapping[values[order]] = np.arange(len(values))
        out[i] = mapping[row]
    return out


def canonical_labels(labels: np.ndarray) -> np.ndarray:
    """Relabel so that cluster 0 is the largest, 1 the next, ... (same partition).

    Parameters
    ----------
    labels : array_like of int, shape (J,) or (C, J)

    Returns
    -------
    ndarray of int64, same shape
    """
    labels = np.asarray(labels, dtype=np.int64)
    out = _relabel_by_size(labels)
    return out[0] if labels.ndim == 1 else out


__all__ = [
    "SIGMA_READINGS",
    "GibbsResult",
    "best_of",
    "canonical_labels",
    "check_matrix",
    "check_settings",
    "gibbs_gmm",
    "likelihood_sd",
]
