"""Pure NumPy rules read off a fit's raw output: when a VI loss trace converged, and how many
transitions of a sampler diverged.

They live at the bottom layer (next to :mod:`backends.base`) so that a backend may one day act
on them (stop early, warn); the numbers reported for a run are computed from them once, in
``evaluation.metrics.diagnostics``.
"""

from __future__ import annotations

import numpy as np

#: Width of the noise floor of the band, in sds of the rolling mean: the range of a rolling
#: mean of pure noise over tens of windows is about 5-6 of its sds.
NOISE_BANDS = 6.0
#: Human-readable statement of :func:`converged_step`'s rule (reported with its result).
CONVERGENCE_RULE = (
    "first step t (0-based, t >= window-1) such that the trailing rolling mean m of the loss over "
    "`window` steps stays, for every step s >= t to the end of the run, within a band "
    "(max - min of m_s over s >= t) of width max(rtol * max(|m_T|, 1), "
    f"{NOISE_BANDS:g} * noise_sd / sqrt(window)), where m_T is the last rolling mean and noise_sd "
    "the loss's Monte Carlo sd over the last window (sd of first differences / sqrt 2); None if "
    "that first holds only within the last `window` steps (no evidence left)"
)


def rolling_mean(loss: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` steps; entry ``i`` averages ``loss[i-window+1 : i+1]``.

    Returns an array of length ``len(loss) - window + 1`` (empty if the run is shorter).
    """
    loss = np.asarray(loss, dtype=np.float64)
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if loss.size < window:
        return np.empty(0)
    csum = np.concatenate([[0.0], np.cumsum(loss)])
    return (csum[window:] - csum[:-window]) / window


def converged_step(loss: np.ndarray, window: int = 1000, rtol: float = 1e-3) -> int | None:
    """Step at which the loss converged, by the rule in :data:`CONVERGENCE_RULE`.

    Parameters
    ----------
    loss : array_like, shape (num_steps,)
        Loss (negative ELBO) at every step.
    window : int
        Length of the trailing rolling mean (averages out the Monte Carlo noise of the
        one-particle ELBO; its sd shrinks by ``sqrt(window)``).
    rtol : float
        Relative tolerance on the band the rolling mean must stay in for the rest of the run.
        The band is never narrower than the rolling mean's own Monte Carlo noise allows
        (:data:`NOISE_BANDS` of its sds), so a noisy but flat loss counts as converged.

    Returns
    -------
    int or None
        0-based step index, or ``None`` when the rolling mean is still moving by more than the
        tolerance within the last ``window`` steps (not converged).
    """
    loss = np.asarray(loss, dtype=np.float64)
    m = rolling_mean(loss, window)
    if m.size == 0 or not np.isfinite(m).all():
        return None
    noise_sd = np.diff(loss[-window:]).std() / np.sqrt(2.0) if window > 2 else 0.0
    tol = max(rtol * max(abs(m[-1]), 1.0), NOISE_BANDS * noise_sd / np.sqrt(window))
    # Range of m over the suffix s >= t, for every t.
    suffix_max = np.maximum.accumulate(m[::-1])[::-1]
    suffix_min = np.minimum.accumulate(m[::-1])[::-1]
    ok = (suffix_max - suffix_min) <= tol
    first = int(np.argmax(ok))  # ok[-1] is always True, so argmax finds the first True
    if first > m.size - 1 - window:
        return None
    return first + window - 1


def check_every(window: int) -> int:
    """Steps between two checks of :func:`converged_step` by a VI backend that stops at
    convergence (``stop_at_convergence``).

    A tenth of the rule's window (100 steps for the default 1,000): the fit stops at most that
    many steps after the rule first holds, and the checks (each O(steps so far) in NumPy) cost
    tens of milliseconds over an 18,000-step fit.
    """
    return max(int(window) // 10, 1)


def count_divergent(diverging: np.ndarray) -> int:
    """Number of divergent transitions in a sampler's ``diverging`` stat (any shape, e.g.
    (chain, draw)); every nonzero entry counts once."""
    return int(np.count_nonzero(np.asarray(diverging)))
