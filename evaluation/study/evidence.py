"""The study's intervals: a mean over data seeds, a rate, and ΔP (issue 22).

Numbers only (no fit, file or figure), as small NamedTuples: :func:`seed_interval` (a mean
over data seeds, Student-t), :func:`rate_interval` (a count, Wilson) and :func:`delta_p` (ΔP =
P(method) − P(NUTS) with its Monte Carlo error).  The other statistics of the study build on
them: :mod:`evaluation.study.floors` (a method against NUTS beside NUTS against NUTS of the
same seeds), :mod:`evaluation.study.truth` (verdicts against the truth: errors both ways,
power, Brier score, calibration), :mod:`evaluation.study.bootstrap` (the cluster bootstrap
over seeds, the exact McNemar test and the smallest detectable difference) and
:mod:`evaluation.study.errors` (all of them per method, paired with NUTS).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats


class Interval(NamedTuple):
    """The ``mean`` of ``n`` finite values (seeds) and its interval ``(lo, hi)``: all NaN when
    ``n == 0``, ``lo`` and ``hi`` NaN when ``n == 1``."""

    mean: float
    lo: float
    hi: float
    n: int


class Rate(NamedTuple):
    """``k`` successes out of ``n`` trials: ``rate = k / n`` and its Wilson interval
    ``(lo, hi)`` (all three NaN when ``n == 0``)."""

    rate: float
    lo: float
    hi: float
    k: int
    n: int


class DeltaP(NamedTuple):
    """ΔP = P(method) − P(reference) and its Monte Carlo error ``sqrt(mc_m² + mc_r²)``."""

    delta: Any
    mc_error: Any


def check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")


def seed_interval(values: ArrayLike, level: float = 0.9) -> Interval:
    """The mean over seeds and its Student-t interval.

    Parameters
    ----------
    values : array_like of float
        One value per seed; NaN and infinite values are left out (and not counted in ``n``).
    level : float
        Coverage of the interval.

    Returns
    -------
    Interval
        ``mean ± t_{(1+level)/2, n-1} · sd / sqrt(n)`` (``sd`` with ``ddof=1``).
    """
    check_level(level)
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1)
    half = float(stats.t.ppf((1.0 + level) / 2.0, n - 1)) * float(x.std(ddof=1)) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or int(value) != value:
        raise ValueError(f"{what} must be a whole number, got {value!r}")
    return int(value)


def rate_interval(successes: int, trials: int, level: float = 0.9) -> Rate:
    """A rate and its Wilson score interval.

    With ``z`` the ``(1 + level) / 2`` normal quantile and ``p = k / n``, the interval is
    ``(p + z²/2n ± z · sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)``: unlike ``p ± z·se`` it stays in
    [0, 1] and is not empty at ``k = 0`` or ``k = n``.

    Parameters
    ----------
    successes, trials : int
        Whole numbers, ``0 <= successes <= trials`` (else ValueError).
    level : float
        Coverage of the interval.

    Returns
    -------
    Rate
        All NaN but the counts when ``trials == 0``.
    """
    check_level(level)
    k, n = _count(successes, "successes"), _count(trials, "trials")
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= successes <= trials, got {k} of {n}")
    if n == 0:
        return Rate(math.nan, math.nan, math.nan, 0, 0)
    lo, hi = wilson_bounds(k / n, n, level)
    return Rate(k / n, lo, hi, k, n)


def wilson_bounds(p: float, n: float, level: float = 0.9) -> tuple[float, float]:
    """Wilson's score interval of a proportion ``p`` observed over ``n`` trials (``n`` may be
    an effective, fractional sample size; :func:`rate_interval` has the formula)."""
    check_level(level)
    z = float(stats.norm.ppf((1.0 + level) / 2.0))
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4 * n * n)) / denom
    # at p = 0 or 1 one end is p itself: rounding must not put it on the wrong side of p
    return min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half))


def delta_p(
    p_method: ArrayLike, p_reference: ArrayLike, mc_method: ArrayLike, mc_reference: ArrayLike
) -> DeltaP:
    """ΔP = P(method) − P(reference) per claim, with its Monte Carlo error.

    The two runs are independent, so their Monte Carlo errors add in quadrature:
    ``sqrt(mc_method² + mc_reference²)``.  Arrays broadcast; None and NaN give NaN.

    Returns
    -------
    DeltaP
        Arrays of the broadcast shape (NumPy scalars for scalars).
    """
    pm, pr, mm, mr = (np.asarray(a, dtype=float) for a in (p_method, p_reference, mc_method,
                                                            mc_reference))  # fmt: skip
    return DeltaP(np.subtract(pm, pr)[()], np.hypot(mm, mr)[()])


__all__ = ["DeltaP", "Interval", "Rate", "check_level", "delta_p", "rate_interval",
           "seed_interval", "wilson_bounds"]  # fmt: skip
