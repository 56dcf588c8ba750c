"""Weak identification: claims on ``beta_site`` that rest on nearly collinear directions.

The design check flags exact collinearity only (singular values below 1e-8 of the largest).
Short of that, a functional ``c . beta`` can still be poorly determined: in the paper twin the
mean centrality falls roughly as 1/sqrt(size), so its coefficient trades off against the size
features'.  The measure here is the *variance inflation* of each functional a claim rests on:

    VIF(c) = c' (D' W D)^+ c  /  sum_j c_j^2 / ss_j

with ``D = [1 | X_site]``, ``W`` the number of workers of each worksite (the likelihood sees
each worksite's row once per worker) and ``ss_j`` the weighted sum of squares of column ``j``
about its mean.  It is the ratio of the variance of the least-squares estimate of
``c . beta`` under the actual design to its variance if the columns were uncorrelated; for a
single coefficient it is the classical VIF, ``1 / (1 - R_j^2)``.  A claim is *weakly
identified* when one of its functionals has a VIF above :data:`VIF_LIMIT` (10: the column
shares more than 90% of its variance with the others).

Design-based on purpose: the same flag in every run on the same data.  A posterior-correlation
rule was rejected: a mean-field posterior has no correlations to show, and the coefficients of
an identified move along a null direction (e.g. log workers discovered and log edges) are
correlated near +-1 in every exact posterior while the move itself is well determined.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backends.spec import HierData
from evaluation.claims import kinds as K
from evaluation.claims.load import Claim
from evaluation.data.design import site_design

#: A functional with a variance inflation above this is weakly identified.
VIF_LIMIT = 10.0


def site_information(data: HierData) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Pseudo-inverse of ``D' W D``, the weighted sums of squares, the column names.

    Returns
    -------
    (g, ss, names)
        ``g`` (p, p), ``ss`` (p,) (the intercept's: the total weight), ``names`` of
        ``[1 | X_site]`` (intercept first).
    """
    d, names = site_design(data)
    w = np.bincount(np.asarray(data.site), minlength=data.n_worksites).astype(float)
    if not w.sum():
        w = np.ones(data.n_worksites)
    g = np.linalg.pinv(d.T @ (d * w[:, None]))
    centred = d - (w @ d) / w.sum()
    ss = w @ centred**2
    ss[0] = w.sum()
    return g, ss, names


def functional_vif(weights: dict[str, float], info: tuple[np.ndarray, np.ndarray, Any]) -> float:
    """The variance inflation of ``sum_f weights[f] * beta_site[f]`` (module docstring).

    ``info`` is :func:`site_information` of the data; the functional must be estimable.
    Infinite when it weights a column constant over the workers.
    """
    g, ss, names = info
    c = np.zeros(len(names))
    for f, w in weights.items():
        c[list(names).index(f)] += w
    used = c != 0
    if np.any(ss[used] <= 0):
        return float("inf")
    return float(c @ g @ c / np.sum(c[used] ** 2 / ss[used]))


def weak_identification(claim: Claim, data: HierData) -> dict[str, Any]:
    """Whether an identified claim on ``beta_site`` rests on a weakly identified functional.

    Returns
    -------
    dict
        ``weakly_identified`` (None for claims not on ``beta_site``), ``variance_inflation``
        (the largest VIF of its functionals, or None) and ``weakly_identified_because`` (the
        functional and its VIF, when weak).
    """
    kind = K.KINDS[claim.kind]
    if kind.site_functionals is None:
        return {"weakly_identified": None, "variance_inflation": None,
                "weakly_identified_because": None}  # fmt: skip
    info = site_information(data)
    vifs = [(functional_vif(w, info), label)
            for label, w in kind.site_functionals(claim.params, data)]  # fmt: skip
    worst, label = max(vifs, key=lambda t: t[0]) if vifs else (None, None)
    weak = worst is not None and worst > VIF_LIMIT
    finite = worst is not None and np.isfinite(worst)
    because = None
    if weak:
        n_weak = sum(v > VIF_LIMIT for v, _ in vifs)
        others = f" (and {n_weak - 1} more of its functionals)" if n_weak > 1 else ""
        because = (f"{label} has a variance inflation of {worst:.3g} (> {VIF_LIMIT:g}) from "
                   f"nearly collinear worksite features{others}")  # fmt: skip
    return {"weakly_identified": bool(weak),
            "variance_inflation": round(float(worst), 3) if finite else None,
            "weakly_identified_because": because}  # fmt: skip


__all__ = ["VIF_LIMIT", "functional_vif", "site_information", "weak_identification"]
