"""Distances between two sets of draws of the same elements, column by column.

Plain arrays in, numbers out: (n, E) draws of E scalar elements against (m, E) draws of the
same elements (aligned by :func:`evaluation.metrics.posterior.paired_draws`).
"""

from __future__ import annotations

import numpy as np


def wasserstein_1d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact 1-D Wasserstein-1 distance of each column of ``a`` (n, E) and ``b`` (m, E).

    W1 = integral over u in (0, 1) of |F_a^-1(u) - F_b^-1(u)| for the empirical quantile
    functions; both are constant between the breakpoints i/n and j/m, so the integral is an
    exact sum over the merged breakpoints, vectorised over columns (equal to
    ``scipy.stats.wasserstein_distance`` column by column, much faster).
    """
    a, b = np.sort(np.asarray(a, float), axis=0), np.sort(np.asarray(b, float), axis=0)
    n, m = a.shape[0], b.shape[0]
    u = np.union1d(np.arange(1, n + 1) / n, np.arange(1, m + 1) / m)
    lower = np.concatenate([[0.0], u[:-1]])
    mid = 0.5 * (lower + u)
    ia = np.minimum((mid * n).astype(np.int64), n - 1)
    ib = np.minimum((mid * m).astype(np.int64), m - 1)
    return ((u - lower)[:, None] * np.abs(a[ia] - b[ib])).sum(axis=0)


def _corr(x: np.ndarray) -> np.ndarray:
    sd = x.std(axis=0)
    ok = sd > 0
    c = np.zeros((x.shape[1], x.shape[1]))
    if ok.sum() > 0:
        c[np.ix_(ok, ok)] = np.atleast_2d(np.corrcoef(x[:, ok], rowvar=False))
    np.fill_diagonal(c, 1.0)
    return c


def corr_distance(a: np.ndarray, b: np.ndarray) -> dict[str, float | None]:
    """Frobenius norm (and RMS over off-diagonal entries) of corr(a) - corr(b)."""
    p = a.shape[1]
    if p < 2:
        return {"corr_frobenius": None, "corr_rms": None}
    diff = _corr(a) - _corr(b)
    frob = float(np.linalg.norm(diff))
    return {"corr_frobenius": frob, "corr_rms": frob / np.sqrt(p * (p - 1))}
