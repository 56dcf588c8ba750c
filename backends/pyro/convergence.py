"""When did a VI loss trace converge?  A pure NumPy rule (the Pyro fit loop reports it)."""

from __future__ import annotations

import numpy as np

#: Human-readable statement of :func:`converged_step`'s rule (stored in FitResult.info).
CONVERGENCE_RULE = (
    "first step t (0-based, t >= window-1) such that the trailing rolling mean of the loss over "
    "`window` steps stays, for every step s >= t to the end of the run, within a band of width "
    "rtol * max(|m_T|, 1) (max(m_s) - min(m_s) over s >= t), where m_T is the rolling mean at the "
    "last step; None if that first holds only within the last `window` steps (no evidence left)"
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

    Returns
    -------
    int or None
        0-based step index, or ``None`` when the rolling mean is still moving by more than the
        tolerance within the last ``window`` steps (not converged).
    """
    m = rolling_mean(loss, window)
    if m.size == 0 or not np.isfinite(m).all():
        return None
    tol = rtol * max(abs(m[-1]), 1.0)
    # Range of m over the suffix s >= t, for every t.
    suffix_max = np.maximum.accumulate(m[::-1])[::-1]
    suffix_min = np.minimum.accumulate(m[::-1])[::-1]
    ok = (suffix_max - suffix_min) <= tol
    first = int(np.argmax(ok))  # ok[-1] is always True, so argmax finds the first True
    if first > m.size - 1 - window:
        return None
    return first + window - 1
