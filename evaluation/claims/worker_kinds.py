"""Claim kinds on the per-worksite slopes ``beta_worker`` of one worker-level feature.

The model has no worker-level fixed effect: each worksite has its own slope
``beta_worker[j, k] ~ Normal(0, sigma_worker)``, so "the feature raises the odds" (e.g. a
randomised incentive in a field experiment) is a statement about those slopes together.
``mean_slope`` states it on their mean over the worksites (optionally weighted by each
worksite's number of workers in the data).

The mean of ``beta_worker[:, k]`` is identified when ``X_worker`` has full column rank
(``Kind.whole_worker_design``, the condition the clustering claims use): a null direction of
``X_worker`` that loads on ``k`` would let the slopes of ``k`` trade off against another
feature's in every worksite.  The check is conservative: a null direction not touching ``k``
also fails it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evaluation.claims.context import REQUIRED, Context, Kind, col


def group_weights(p: dict[str, Any], ctx: Context) -> np.ndarray:
    """The weight of each worksite in the mean: equal, or its share of the data's workers.

    Parameters
    ----------
    p : dict
        The claim's parameters (``weighted``).
    ctx : Context

    Returns
    -------
    ndarray, shape (J,)
        Non-negative, summing to 1.
    """
    j = ctx.data.n_worksites
    if not p["weighted"]:
        return np.full(j, 1.0 / j)
    counts = np.bincount(np.asarray(ctx.data.site), minlength=j).astype(float)
    return counts / counts.sum() if counts.sum() else np.full(j, 1.0 / j)


def mean_slope_draws(p: dict[str, Any], ctx: Context) -> np.ndarray | None:
    """Per draw, the (weighted) mean over worksites of ``beta_worker[:, feature]``.

    Returns
    -------
    ndarray, shape (S,) or None
        None when the draws hold no ``beta_worker``.
    """
    bw = None if ctx.draws is None else ctx.draws.beta_worker
    if bw is None:
        return None
    slopes = np.asarray(bw)[:, :, col(ctx.data.worker_features, p["feature"])]
    return slopes @ group_weights(p, ctx)


def _mean_slope(p: dict[str, Any], ctx: Context) -> np.ndarray | None:
    mean = mean_slope_draws(p, ctx)
    if mean is None:
        return None
    return mean > 0 if p["direction"] == "positive" else mean < 0


def _mean_slope_text(p: dict[str, Any]) -> str:
    op, way = (">", "higher") if p["direction"] == "positive" else ("<", "lower")
    weights = "weighted by their workers" if p["weighted"] else "unweighted"
    return (f"the mean over worksites ({weights}) of beta_worker[:, {p['feature']}] {op} 0: "
            f"within a worksite, higher {p['feature']} goes with {way} "
            f"odds of {p.get('outcome') or 'the outcome'} on average")  # fmt: skip


KINDS: tuple[Kind, ...] = (
    Kind("mean_slope", {"feature": REQUIRED, "direction": REQUIRED, "weighted": False},
         _mean_slope, _mean_slope_text, worker_params=("feature",),
         whole_worker_design=True),
)  # fmt: skip

__all__ = ["KINDS", "group_weights", "mean_slope_draws"]
