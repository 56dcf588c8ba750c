"""The paper's Fig. 6 sweep: log-joint curves of the Gibbs sampler for several sigmas.

The paper ran its sampler (K = 2, alpha0 = 1, eta = 0.1, 400 iterations) for
sigma = 0.01, 0.001, 0.0001, 0.00001 on the posterior-mean worksite coefficients and kept
0.0001 because "only smaller sigmas were able to effectively converge".  :func:`sigma_sweep`
replays that: one chain per sigma from the same k-means++ start (the start does not depend on
sigma), on one coefficient matrix, and returns the curves and when each settled
(:func:`convergence_iter`).  ``sigma_is`` says how sigma is read (sd or variance,
:func:`evaluation.clustering.gmm.likelihood_sd`).  Numbers only; the figure is
:func:`evaluation.report.run.cluster_figures.sigma_sweep_figure`, the script
``benchmarks/gmm_sigma_sweep.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from evaluation.clustering import gmm
from evaluation.clustering.coefficients import scale_columns

#: The sigmas of the paper's Fig. 6.
PAPER_SIGMAS: tuple[float, ...] = (1e-2, 1e-3, 1e-4, 1e-5)


class SigmaSweep(NamedTuple):
    """Result of :func:`sigma_sweep` (S sigmas, ``n_iter`` Gibbs sweeps, J worksites).

    Attributes
    ----------
    sigmas : ndarray, shape (S,)
        The configured sigmas (read per ``sigma_is``).
    sigma_is : str
        ``"sd"`` or ``"variance"``.
    log_joint : ndarray, shape (S, n_iter)
        ``log p(x, z, pi, mu)`` after every sweep, one curve per sigma.
    converged_iter : ndarray of int64, shape (S,)
        :func:`convergence_iter` of each curve (0-based).
    final : ndarray, shape (S,)
        Last log joint of each curve.
    plateau_sd : ndarray, shape (S,)
        Sd of the log joint over the final window (how much the plateau still moves).
    labels : ndarray of int64, shape (S, J)
        Canonical assignments at the last sweep.
    """

    sigmas: np.ndarray
    sigma_is: str
    log_joint: np.ndarray
    converged_iter: np.ndarray
    final: np.ndarray
    plateau_sd: np.ndarray
    labels: np.ndarray


def convergence_iter(trace: np.ndarray, window: int = 50, rtol: float = 0.01) -> int:
    """First sweep at which the log joint reaches its final plateau.

    The plateau is the last ``window`` sweeps; it is reached when the log joint first comes
    within two plateau sds plus ``rtol`` times the total rise (plateau mean minus first value)
    of the plateau mean, so a chain that keeps moving at equilibrium counts as settled once it
    gets there.

    Parameters
    ----------
    trace : ndarray, shape (n_iter,)
    window : int
        Length of the final window (clipped to the trace).
    rtol : float

    Returns
    -------
    int
        0-based sweep index.
    """
    trace = np.asarray(trace, dtype=float)
    tail = trace[-min(window, trace.size) :]
    floor = tail.mean() - 2.0 * tail.std() - rtol * abs(tail.mean() - trace[0])
    return int(np.argmax(trace >= floor))


def sigma_sweep(
    x: np.ndarray,
    sigmas: Sequence[float] = PAPER_SIGMAS,
    *,
    k: int = 2,
    alpha0: float = 1.0,
    eta: float = 0.1,
    n_iter: int = 400,
    seed: int = 0,
    sigma_is: str = "sd",
    standardize: bool = False,
    window: int = 50,
) -> SigmaSweep:
    """Run one Gibbs chain per sigma on the matrix ``x`` (the paper's Fig. 6).

    Parameters
    ----------
    x : array_like, shape (J, D)
        Posterior-mean-like coefficients (worksite x worker feature).
    sigmas : sequence of float
        Paper: 0.01, 0.001, 0.0001, 0.00001.
    k, alpha0, eta, n_iter, seed
        Sampler settings (paper: 2, 1, 0.1, 400); every sigma uses chain 0 of ``seed``.
    sigma_is : {"sd", "variance"}
        How each sigma is read.
    standardize : bool
        Scale each feature over worksites first (the clustering's ``standardize``).
    window : int
        Final window for :func:`convergence_iter` and ``plateau_sd``.

    Returns
    -------
    SigmaSweep
    """
    x = gmm.check_matrix(x, k)[0]
    if standardize:
        x = scale_columns(x)[0]
    runs = [
        gmm.gibbs_gmm(
            x, k, sigma=float(s), alpha0=alpha0, eta=eta, n_iter=n_iter, burn_in=0,
            seed=seed, sigma_is=sigma_is,
        )
        for s in sigmas
    ]  # fmt: skip
    traces = np.stack([r.log_joint[0] for r in runs])
    tail = traces[:, -min(window, n_iter) :]
    return SigmaSweep(
        sigmas=np.asarray(sigmas, dtype=float),
        sigma_is=sigma_is,
        log_joint=traces,
        converged_iter=np.array([convergence_iter(t, window) for t in traces], dtype=np.int64),
        final=traces[:, -1].copy(),
        plateau_sd=tail.std(axis=1),
        labels=gmm.canonical_labels(np.stack([r.final_labels[0] for r in runs])),
    )


__all__ = ["PAPER_SIGMAS", "SigmaSweep", "convergence_iter", "sigma_sweep"]
