"""PSIS importance resampling of a VI posterior (``evaluation.psis_resample``).

The draws of an approximation ``q`` are reweighted towards the posterior with the
Pareto-smoothed importance weights ``log p - log q`` (Vehtari et al. 2015/2024; Yao et al.
2018), ``log p`` = ``spec.log_joint`` of each draw and ``log q`` = ``sample_stats.log_q`` (both on
the constrained space of the parameterisation's latents), and resampled with replacement.  The
Pareto k-hat of the weights says whether this is trustworthy: above 0.7 the weights' tail is too
heavy and the resampled posterior is not a reliable correction (said in the section, never
hidden).  Numbers only: the judge decides what to score.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np

from backends.spec import HierData, ModelSpec
from evaluation.metrics.diagnostics import KHAT_BAD, draw_log_joint
from evaluation.metrics.draws import Draws


class Resampled(NamedTuple):
    """PSIS weights and resampling of one set of draws.

    Attributes
    ----------
    index : ndarray of int, shape (S,)
        Flat indices of the draws kept (with replacement).
    log_weights : ndarray, shape (S,)
        Normalised Pareto-smoothed log weights of the original draws.
    khat : float
        Pareto k-hat (0.0 when every weight is equal).
    ess : float
        Effective sample size of the weights, ``1 / sum(w^2)``.
    """

    index: np.ndarray
    log_weights: np.ndarray
    khat: float
    ess: float


def psis_weights(log_p: np.ndarray, log_q: np.ndarray) -> tuple[np.ndarray, float]:
    """Normalised Pareto-smoothed log weights of ``log_p - log_q`` and their k-hat.

    Non-finite log weights get weight 0; equal weights (q proportional to p) give k-hat 0.
    """
    import arviz as az
    from scipy.special import logsumexp

    lw = np.asarray(log_p, float).ravel() - np.asarray(log_q, float).ravel()
    if np.isnan(lw).any() or np.isposinf(lw).any() or not np.isfinite(lw).any():
        raise ValueError("PSIS: log weights are NaN, +inf or all -inf")
    finite = np.isfinite(lw)
    out = np.full(lw.shape, -np.inf)
    values = lw[finite]
    if np.ptp(values) <= 1e-9 * max(1.0, float(np.max(np.abs(values)))):
        out[finite] = -np.log(finite.sum())
        return out, 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # psislw warns on k-hat > 0.7; the caller reports it
        smoothed, khat = az.psislw(values - values.max(), reff=1.0)
    out[finite] = smoothed - logsumexp(smoothed)
    return out, float(khat)


def psis_resample(log_p: np.ndarray, log_q: np.ndarray, seed: int, size: int | None = None):
    """Resample draws (with replacement) by Pareto-smoothed importance weights.

    Parameters
    ----------
    log_p, log_q : ndarray, shape (S,)
        Target (unnormalised) and approximation log densities of each draw.
    seed : int
    size : int, optional
        Draws kept; default S.

    Returns
    -------
    Resampled
    """
    log_w, khat = psis_weights(log_p, log_q)
    w = np.exp(log_w)
    w = w / w.sum()
    rng = np.random.default_rng(int(seed))
    n = len(w) if size is None else int(size)
    index = np.sort(rng.choice(len(w), size=n, replace=True, p=w))
    return Resampled(index=index, log_weights=log_w, khat=khat, ess=float(1.0 / np.sum(w**2)))


def resample_draws(
    draws: Draws, data: HierData, spec: ModelSpec, seed: int
) -> tuple[Draws | None, Resampled | None, dict[str, Any]]:
    """The PSIS-resampled draws of a VI fit and the ``psis`` section of metrics.json.

    Returns
    -------
    (Draws or None, Resampled or None, dict)
        The resampled draws (one chain; ``log_q`` renamed ``log_q_proposal``, so no later
        k-hat is computed from resampled draws; attrs ``psis_resampled``, ``psis_khat``) and
        the resampling, or None when the draws have no ``log_q``; the section with
        ``applied``, ``khat``, ``ess``, ``n_draws``, ``n_unique``, ``trustworthy`` and
        ``verdict``.
    """
    if "log_q" not in draws.stats:
        verdict = "no log_q in sample_stats: PSIS resampling does not apply"
        return None, None, {"applied": False, "khat": None, "ess": None, "trustworthy": None,
                            "verdict": verdict}  # fmt: skip
    log_q = np.asarray(draws.stats["log_q"], float).ravel()
    res = psis_resample(draw_log_joint(draws, data, spec), log_q, seed)
    trustworthy = res.khat <= KHAT_BAD
    verdict = (
        f"k-hat {res.khat:.2f} <= {KHAT_BAD}: the PSIS correction is usable"
        if trustworthy
        else f"k-hat {res.khat:.2f} > {KHAT_BAD}: the PSIS correction is NOT trustworthy "
        "(the weights' tail is too heavy; the resampled posterior may be far from the posterior)"
    )
    section = {"applied": True, "khat": res.khat, "ess": res.ess, "n_draws": len(res.index),
               "n_unique": int(np.unique(res.index).size), "trustworthy": trustworthy,
               "verdict": verdict}  # fmt: skip
    resampled = draws.resampled(res.index, psis_resampled=1, psis_khat=res.khat)
    return resampled, res, section
