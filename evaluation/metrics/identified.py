"""Alpha and beta_site judged on what the data identify.

When ``[1 | X_site]`` is rank deficient (the paper's design: rank 17 for 19 columns), alpha and
some beta_site are pinned only by their priors, so their per-coefficient bias and coverage say
nothing about the inference method.  The identified quantities are

* the **worksite-level linear predictor** ``eta_j = alpha + X_site[j] . beta_site``, one per
  worksite (what the likelihood sees), and
* the **estimable contrasts** ``P theta``, the projection of ``theta = (alpha, beta_site)`` on the
  row space of ``[1 | X_site]`` (``P = V_r V_r^T`` from its SVD): one per coefficient, equal to
  the coefficient itself when it is estimable, otherwise its identified part.

Per-coefficient estimability comes from :func:`evaluation.data.design.is_estimable`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backends.spec import HierData
from evaluation.data.design import null_basis, site_design
from evaluation.metrics.draws import Draws, Paired
from evaluation.metrics.posterior import element_errors, estimable_coefficients, recovery

#: What "beta_site coverage" is computed on (stated in metrics.json and the report).
IDENTIFIED_BASIS = "worksite linear predictor alpha + X_site[j] . beta_site, one per worksite"


def coefficient_names(data: HierData) -> tuple[str, ...]:
    """``("alpha", *site_features)``: the coefficients of ``[1 | X_site]`` in column order."""
    return ("alpha", *data.site_features)


def row_space_projector(design: np.ndarray) -> np.ndarray:
    """``P`` (p x p): orthogonal projector on the row space of ``design`` (``I - N N^T``)."""
    n = null_basis(design)
    return np.eye(design.shape[1]) - n @ n.T


def theta(alpha: np.ndarray, beta_site: np.ndarray) -> np.ndarray:
    """``(alpha, beta_site)`` stacked, shape (..., 1 + K_s)."""
    alpha = np.asarray(alpha, dtype=float)
    return np.concatenate([alpha[..., None], np.asarray(beta_site, float)], axis=-1)


def site_predictor(alpha: np.ndarray, beta_site: np.ndarray, data: HierData) -> np.ndarray:
    """``alpha + X_site @ beta_site`` per worksite, shape (..., J)."""
    design, _ = site_design(data)
    return theta(alpha, beta_site) @ design.T


def contrasts(alpha: np.ndarray, beta_site: np.ndarray, data: HierData) -> np.ndarray:
    """The estimable contrasts ``P theta``, shape (..., 1 + K_s), coefficient order."""
    design, _ = site_design(data)
    return theta(alpha, beta_site) @ row_space_projector(design)


def _quantities(alpha: np.ndarray, beta_site: np.ndarray, data: HierData) -> dict[str, Any]:
    return {"site_predictor": site_predictor(alpha, beta_site, data),
            "contrasts": contrasts(alpha, beta_site, data)}  # fmt: skip


def identified_truth(draws: Draws, data: HierData) -> dict[str, Any] | None:
    """Recovery of the identified quantities against the truth (synthetic data), from
    ``draws`` aligned to ``data``.

    Returns
    -------
    dict
        ``site_predictor`` and ``contrasts``: :func:`~evaluation.metrics.posterior.recovery`
        (n, bias, rmse, mean_abs_z, coverage50, coverage90) plus ``sd_mean`` (mean posterior
        sd); ``contrasts`` also ``per_coefficient`` ({name: {mean, sd, truth, identified}});
        ``coefficients`` ({name: estimable?}), ``rank``, ``n_coefficients``, ``basis``
        (what ``beta_site_coverage`` is computed on).  None without truth.
    """
    if data.truth is None:
        return None
    got = _quantities(draws.stacked("alpha"), draws.stacked("beta_site"), data)
    true = _quantities(data.truth["alpha"], data.truth["beta_site"], data)
    flags = estimable_coefficients(data)
    design, _ = site_design(data)
    out: dict[str, Any] = {"basis": IDENTIFIED_BASIS, "coefficients": flags,
                           "rank": int(design.shape[1] - null_basis(design).shape[1]),
                           "n_coefficients": len(flags)}  # fmt: skip
    for key in ("site_predictor", "contrasts"):
        rec = recovery(got[key], np.asarray(true[key], float))
        rec["sd_mean"] = float(got[key].std(axis=0, ddof=1).mean())
        out[key] = rec
    c = got["contrasts"]
    out["contrasts"]["per_coefficient"] = {
        n: {"mean": float(c[:, i].mean()), "sd": float(c[:, i].std(ddof=1)),
            "truth": float(true["contrasts"][i]), "identified": flags[n]}
        for i, n in enumerate(coefficient_names(data))
    }  # fmt: skip
    return out


def _compare(method: np.ndarray, ref: np.ndarray) -> dict[str, Any]:
    sme, ratio = element_errors(Paired(method, ref, []))
    return {"n": int(sme.size), "sme_mean_abs": float(np.mean(np.abs(sme))),
            "sme_max_abs": float(np.max(np.abs(sme))),
            "sd_ratio_median": float(np.median(ratio)), "sd_ratio_min": float(np.min(ratio)),
            "sd_ratio_max": float(np.max(ratio))}  # fmt: skip


def identified_reference(draws: Draws, ref_draws: Draws, data: HierData) -> dict[str, Any]:
    """The identified quantities of the method against a reference posterior, both aligned to
    ``data``.

    Returns
    -------
    dict
        ``site_predictor`` and ``contrasts``: n, ``sme_mean_abs`` / ``sme_max_abs`` ((mean -
        ref mean) / ref sd), ``sd_ratio_median/min/max`` (sd / ref sd).  Contrasts of
        coefficients that are not estimable are included through their identified part.
    """
    got = _quantities(draws.stacked("alpha"), draws.stacked("beta_site"), data)
    ref = _quantities(ref_draws.stacked("alpha"), ref_draws.stacked("beta_site"), data)
    return {k: _compare(got[k], ref[k]) for k in got}


__all__ = [
    "IDENTIFIED_BASIS",
    "coefficient_names",
    "contrasts",
    "identified_reference",
    "identified_truth",
    "row_space_projector",
    "site_predictor",
    "theta",
]
