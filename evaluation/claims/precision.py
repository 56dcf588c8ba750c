"""How precisely a claim's probability is known, and the verdict that respects it.

A claim's probability is a Monte Carlo estimate: the fraction of S draws in which its
statement holds.  Its standard error is ``sqrt(p~ (1 - p~) / n_eff)`` with the add-one
estimate ``p~ = (hits + 1) / (S + 2)`` (never 0, so "50 of 50 clustered draws" still carries
an error of 0.019) and ``n_eff`` the effective sample size of the indicator (ArviZ's ESS of
the mean, over the chains; independent draws: S).  A probability within two such errors of a
verdict threshold gets the verdict "undecided": the draws cannot tell on which side it lies.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import arviz as az
import numpy as np

#: A probability this many Monte Carlo errors or fewer from a threshold is undecided.
MC_MARGIN = 2.0


class Precision(NamedTuple):
    """Monte Carlo error of a claim's probability.

    Attributes
    ----------
    mc_error : float
        Standard error of the probability.
    n_eff : float
        Effective number of draws behind it.
    """

    mc_error: float
    n_eff: float


def indicator_ess(hits: np.ndarray, n_chains: int = 1) -> float:
    """Effective sample size of the mean of a per-draw indicator.

    Parameters
    ----------
    hits : ndarray of bool, shape (S,)
        ``n_chains`` chains of equal length, one after the other.
    n_chains : int
        1 for independent draws (then ``S`` is returned: no autocorrelation to measure).

    Returns
    -------
    float
        ArviZ's ESS of the mean, capped at ``S``; ``S`` when the indicator is constant, the
        draws are independent or the chains are too short (fewer than 4 draws each).
    """
    n = int(hits.size)
    if n_chains < 1 or n % n_chains or n // n_chains < 4 or hits.all() or not hits.any():
        return float(n)
    ess = float(az.ess(hits.reshape(n_chains, -1).astype(float), method="mean"))
    return float(min(max(ess, 1.0), n)) if math.isfinite(ess) else float(n)


def precision(hits: np.ndarray, n_chains: int = 1, independent: bool = False) -> Precision:
    """The Monte Carlo error of ``hits.mean()`` (see the module docstring).

    Parameters
    ----------
    hits : ndarray of bool, shape (S,)
    n_chains : int
        Chains the draws come from (for their autocorrelation).
    independent : bool
        The draws are independent (e.g. clustered draws picked at random): ``n_eff = S``.
    """
    n = int(hits.size)
    n_eff = float(n) if independent else indicator_ess(hits, n_chains)
    p = (float(hits.sum()) + 1.0) / (n + 2.0)
    return Precision(math.sqrt(p * (1.0 - p) / max(n_eff, 1.0)), n_eff)


def within_margin(probability: float, threshold: float, mc_error: float) -> bool:
    """Whether ``probability`` lies within :data:`MC_MARGIN` errors of ``threshold``."""
    return abs(probability - threshold) < MC_MARGIN * mc_error


__all__ = ["MC_MARGIN", "Precision", "indicator_ess", "precision", "within_margin"]
