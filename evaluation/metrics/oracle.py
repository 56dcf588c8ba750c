"""How hard is a synthetic data set?  Oracle (true-parameter) prediction and site spread.

Pure functions of a :class:`~backends.spec.HierData` and its truth: no fit.  The oracle
predicts each scored worker with the TRUE parameters, ``p = expit(linear_predictor(truth))``;
its AUC and accuracy are the ceiling a perfect inference method could reach on those rows
(compare them with a run's held-out AUC and accuracy, and with the paper's 0.7688 and 0.9356).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.special import expit

from backends.spec import HierData, linear_predictor

#: The paper's held-out numbers (its posterior predictive check on the real data).
PAPER_HELD_OUT: dict[str, float] = {"accuracy": 0.9356, "baseline_accuracy": 0.8274,
                                    "auc": 0.7688}  # fmt: skip


def auc(score: np.ndarray, y: np.ndarray) -> float | None:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula, ties counted 1/2.

    None when ``y`` has a single class.
    """
    y = np.asarray(y).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(score, kind="mergesort")
    s = np.asarray(score, dtype=float)[order]
    ranks = np.empty(s.size)
    # average ranks over ties
    _, first, counts = np.unique(s, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def oracle_metrics(data: HierData, truth: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """AUC and accuracy of predicting ``data``'s workers with the true parameters.

    Parameters
    ----------
    data : HierData
        The scored workers (e.g. the held-out set); its ``X_site`` / ``site`` index the truth.
    truth : mapping, optional
        ``alpha``, ``beta_site``, ``beta_worker``; defaults to ``data.truth``.

    Returns
    -------
    dict
        ``n``, ``auc`` (None with one class), ``accuracy`` (threshold 0.5),
        ``baseline_accuracy`` (always predicting the majority class), ``mean_p``
        (mean true probability) and ``paper`` (:data:`PAPER_HELD_OUT`).
    """
    truth = data.truth if truth is None else truth
    if truth is None:
        raise ValueError("oracle_metrics needs the true parameters (synthetic data)")
    p = expit(linear_predictor(truth, data))
    y = np.asarray(data.y).astype(int)
    rate = float(y.mean()) if y.size else 0.0
    return {
        "n": int(y.size),
        "auc": auc(p, y),
        "accuracy": float(np.mean((p >= 0.5) == (y == 1))) if y.size else None,
        "baseline_accuracy": max(rate, 1.0 - rate),
        "mean_p": float(p.mean()) if y.size else None,
        "paper": dict(PAPER_HELD_OUT),
    }


def site_logits(data: HierData, truth: Mapping[str, Any] | None = None) -> np.ndarray:
    """The true worksite-level logit ``alpha + X_site[j] . beta_site`` per worksite (J,)."""
    truth = data.truth if truth is None else truth
    beta = np.asarray(truth["beta_site"], dtype=float)
    return float(np.asarray(truth["alpha"])) + np.asarray(data.X_site, float) @ beta


def difficulty(data: HierData) -> dict[str, Any]:
    """Worksites with no / only positive outcomes, and the spread of the true site logits.

    Returns
    -------
    dict
        ``sites_no_positive`` / ``sites_all_positive`` (counts over worksites with at least
        one worker), ``site_logit_sd`` (sd over worksites, ``ddof=0``), ``site_logit_min`` /
        ``site_logit_max`` (None without truth).
    """
    counts = np.bincount(data.site, minlength=data.n_worksites)
    pos = np.bincount(data.site, weights=np.asarray(data.y, float), minlength=data.n_worksites)
    seen = counts > 0
    out: dict[str, Any] = {
        "sites_no_positive": int(np.sum(seen & (pos == 0))),
        "sites_all_positive": int(np.sum(seen & (pos == counts))),
        "site_logit_sd": None, "site_logit_min": None, "site_logit_max": None,
    }  # fmt: skip
    if data.truth is not None:
        eta = site_logits(data)
        out.update(site_logit_sd=float(eta.std()), site_logit_min=float(eta.min()),
                   site_logit_max=float(eta.max()))  # fmt: skip
    return out


__all__ = ["PAPER_HELD_OUT", "auc", "difficulty", "oracle_metrics", "site_logits"]
