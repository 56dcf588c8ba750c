"""Held-out predictive scores, computed from posterior draws.

Everything is computed from the posterior draws with :func:`backends.spec.linear_predictor`,
chunked over draws so that memory stays bounded at paper scale (4,000 draws x 16,553 workers).
Numbers only: :func:`predictive_curves` holds what the ROC, calibration and posterior
predictive figures show; :mod:`evaluation.report.run.figures` draws them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy.special import expit, logsumexp

from backends.spec import HierData, bernoulli_logit_loglik, linear_predictor
from evaluation.metrics.draws import Draws

#: Upper bound on the elements of one (draws x workers x worker features) chunk.
CHUNK_ELEMENTS = 4_000_000
BASELINE_RULE = "always predict the majority class of the evaluated set"


class PredictivePass(NamedTuple):
    """One chunked pass over the draws.

    Attributes
    ----------
    p : ndarray (N,)
        Posterior predictive probability of y_i = 1 (mean over draws of expit(eta)).
    lpd_i : ndarray (N,)
        log mean_s p(y_i | theta_s) per worker.
    rep_rate : ndarray (S,)
        Per draw, the positive rate of one replicated outcome vector y_rep ~ Bernoulli.
    rep_site_rate : ndarray (S, J)
        Per draw, the replicated positive rate of each worksite (NaN where it has no workers).
    """

    p: np.ndarray
    lpd_i: np.ndarray
    rep_rate: np.ndarray
    rep_site_rate: np.ndarray


def predictive_pass(draws: Draws, data: HierData, seed: int = 0) -> PredictivePass:
    """Posterior predictive quantities of ``data`` from every draw, chunked over draws.

    Parameters
    ----------
    draws : Draws
        The posterior, aligned to ``data`` (:func:`evaluation.metrics.draws.extract`).
    data : HierData
        The evaluated workers.
    seed : int
        Seed of the replicated outcomes (only ``rep_rate`` / ``rep_site_rate`` use it).
    """
    params = draws.flat()
    n_draws, n = params["alpha"].shape[0], data.n_workers
    if n == 0:
        raise ValueError(f"predictive metrics need at least one worker; {data.name} has none")
    chunk = max(1, CHUNK_ELEMENTS // max(1, n * max(1, len(data.worker_features))))
    rng = np.random.default_rng(seed)
    p_sum = np.zeros(n)
    lse = np.full(n, -np.inf)
    rep_rate = np.empty(n_draws)
    counts = np.bincount(data.site, minlength=data.n_worksites).astype(float)
    rep_site = np.empty((n_draws, data.n_worksites))
    for start in range(0, n_draws, chunk):
        sl = slice(start, min(start + chunk, n_draws))
        eta = linear_predictor({k: v[sl] for k, v in params.items()}, data)  # (s, N)
        prob = expit(eta)
        p_sum += prob.sum(axis=0)
        lse = np.logaddexp(lse, logsumexp(bernoulli_logit_loglik(data.y, eta), axis=0))
        y_rep = rng.random(prob.shape) < prob
        rep_rate[sl] = y_rep.mean(axis=1)
        site_pos = np.stack([np.bincount(data.site, w, data.n_worksites) for w in y_rep])
        with np.errstate(invalid="ignore", divide="ignore"):
            rep_site[sl] = site_pos / counts
    return PredictivePass(p_sum / n_draws, lse - np.log(n_draws), rep_rate, rep_site)


def calibration(p: np.ndarray, y: np.ndarray, n_bins: int = 10) -> dict[str, Any]:
    """Equal-width reliability bins on [0, 1] and the expected calibration error.

    ECE = sum over bins of (bin count / n) * |mean predicted - observed frequency|.
    Only non-empty bins are listed.
    """
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1], right=False), 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    pred_sum = np.bincount(idx, p, minlength=n_bins)
    obs_sum = np.bincount(idx, y.astype(float), minlength=n_bins)
    keep = count > 0
    mean_pred = pred_sum[keep] / count[keep]
    obs_freq = obs_sum[keep] / count[keep]
    ece = float(np.sum(count[keep] / len(p) * np.abs(mean_pred - obs_freq)))
    return {
        "ece": ece,
        "n_bins": int(n_bins),
        "bin_lower": edges[:-1][keep].tolist(),
        "bin_upper": edges[1:][keep].tolist(),
        "mean_predicted": mean_pred.tolist(),
        "observed_frequency": obs_freq.tolist(),
        "count": count[keep].astype(int).tolist(),
    }


def scores(p: np.ndarray, y: np.ndarray, lpd_i: np.ndarray, n_bins: int = 10) -> dict[str, Any]:
    """Accuracy, majority baseline, AUC, lpd, Brier and calibration from probabilities.

    Parameters
    ----------
    p : ndarray (N,)
        Posterior predictive probabilities of y = 1.
    y : ndarray (N,)
        Observed outcomes (0/1).
    lpd_i : ndarray (N,)
        Per-worker log predictive density.
    n_bins : int
        Equal-width calibration bins.
    """
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y).astype(int)
    prevalence = float(y.mean())
    out: dict[str, Any] = {
        "n": len(y),
        "prevalence": prevalence,
        "accuracy": float(np.mean((p >= 0.5) == (y == 1))),
        "baseline_accuracy": max(prevalence, 1.0 - prevalence),
        "baseline_rule": BASELINE_RULE,
    }
    if np.unique(y).size < 2:
        out["auc"] = None
        out["auc_note"] = f"AUC undefined: every evaluated outcome is {int(y[0])}"
    else:
        out["auc"] = float(roc_auc_score(y, p))
    out["lpd"] = float(np.mean(lpd_i))
    out["lpd_sum"] = float(np.sum(lpd_i))
    out["brier"] = float(np.mean((p - y) ** 2))
    cal = calibration(p, y, n_bins)
    out["ece"] = cal.pop("ece")
    out["calibration"] = cal
    return out


def predictive_metrics(
    draws: Draws,
    test: HierData,
    *,
    in_sample: bool = False,
    n_bins: int = 10,
    res: PredictivePass | None = None,
) -> dict:
    """Predictive scores of the posterior on ``test``.

    Parameters
    ----------
    draws : Draws
        The posterior, aligned to ``test`` (:func:`evaluation.metrics.draws.extract`).
    test : HierData
        Evaluated workers (held out, or the training rows when ``in_sample``).
    in_sample : bool
        True when ``test`` is the data the model was fitted on (scores are then optimistic).
    n_bins : int
        Equal-width calibration bins for the ECE and the calibration curve.
    res : PredictivePass, optional
        :func:`predictive_pass` of ``draws`` on ``test`` when already computed (it is the
        costly part: every draw times every worker).

    Returns
    -------
    dict
        ``n, prevalence, accuracy`` (threshold 0.5 on the posterior predictive probability
        p_i = mean_s expit(eta_is)), ``baseline_accuracy`` (always predicting the majority class
        of the evaluated set; ``baseline_rule`` says so), ``auc`` (None with ``auc_note`` when
        only one class is present), ``lpd`` (mean over workers of log mean_s p(y_i | theta_s),
        i.e. per worker; ``lpd_sum`` is the total), ``brier``, ``ece``, ``calibration``
        (per non-empty bin: bounds, mean predicted, observed frequency, count), ``n_draws``,
        ``in_sample``.  JSON-serialisable.
    """
    res = res if res is not None else predictive_pass(draws, test)
    out = scores(res.p, test.y, res.lpd_i, n_bins)
    out["n_draws"] = int(res.rep_rate.shape[0])
    out["in_sample"] = bool(in_sample)
    return out


class PredictiveCurves(NamedTuple):
    """The numbers behind the predictive figures of one run.

    Attributes
    ----------
    roc : tuple of ndarray or None
        ``(false positive rate, true positive rate, AUC)`` (None when one class only).
    calibration : dict
        :func:`calibration` of the predictive probabilities (reliability bins).
    rep_rate : ndarray (S,)
        Replicated positive rate of the evaluated workers, one per draw.
    obs_rate : float
        Observed positive rate of the evaluated workers.
    rep_site_rate : ndarray (S, J')
        Replicated positive rate per worksite, for the J' worksites with evaluated workers.
    obs_site_rate : ndarray (J',)
        Observed positive rate of those worksites.
    """

    roc: tuple[np.ndarray, np.ndarray, float] | None
    calibration: dict[str, Any]
    rep_rate: np.ndarray
    obs_rate: float
    rep_site_rate: np.ndarray
    obs_site_rate: np.ndarray


def predictive_curves(res: PredictivePass, test: HierData, n_bins: int = 10) -> PredictiveCurves:
    """ROC curve, reliability bins and posterior predictive rates from a predictive pass.

    The posterior predictive check follows the paper's Fig 5: the replicated positive rate per
    draw (each draw theta_s gives y_rep ~ Bernoulli(expit(eta_s)) and its mean) against the
    observed rate, and the replicated per-worksite rates against the observed ones.

    Parameters
    ----------
    res : PredictivePass
        :func:`predictive_pass` of the posterior on ``test``.
    test : HierData
        The evaluated workers.
    n_bins : int
        Equal-width reliability bins.
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    y = test.y.astype(int)
    roc = None
    if np.unique(y).size == 2:
        fpr, tpr, _ = roc_curve(y, res.p)
        roc = (fpr, tpr, float(roc_auc_score(y, res.p)))
    counts = np.bincount(test.site, minlength=test.n_worksites)
    with np.errstate(invalid="ignore", divide="ignore"):
        obs_site = np.bincount(test.site, y.astype(float), test.n_worksites) / counts
    return PredictiveCurves(
        roc=roc,
        calibration=calibration(res.p, y, n_bins),
        rep_rate=res.rep_rate,
        obs_rate=float(y.mean()),
        rep_site_rate=res.rep_site_rate[:, counts > 0],
        obs_site_rate=obs_site[counts > 0],
    )
