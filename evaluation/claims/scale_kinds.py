"""Claim kinds on the variance components: a scale against a threshold, and the share of the
linear predictor's variance over workers that the worksite-level part carries.

Both are invariant along every null direction of the design, so always identified.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from backends.spec import HierData
from evaluation.claims.context import REQUIRED, Context, Kind


def _scale(below: bool) -> Callable[[dict[str, Any], Context], np.ndarray | None]:
    def indicator(p: dict[str, Any], ctx: Context) -> np.ndarray | None:
        value = None if ctx.draws is None else getattr(ctx.draws, p["parameter"])
        if value is None:
            return None
        return value < p["threshold"] if below else value > p["threshold"]

    return indicator


def _scale_text(below: bool) -> Callable[[dict[str, Any]], str]:
    return lambda p: f"{p['parameter']} {'<' if below else '>'} {p['threshold']:g}"


def linear_predictor_variances(
    data: HierData, beta_site: np.ndarray, beta_worker: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-draw variances over the data's workers of the two parts of the linear predictor.

    Parameters
    ----------
    data : HierData
    beta_site : ndarray, shape (S, K_s)
    beta_worker : ndarray, shape (S, J, K_w)

    Returns
    -------
    (site_var, worker_var) : ndarrays, shape (S,)
        Variance over workers of ``X_site[site[i]] . beta_site`` and of
        ``X_worker[i] . beta_worker[site[i]]`` (population variances, ``ddof=0``).
    """
    j, n = data.n_worksites, max(data.n_workers, 1)
    w = np.bincount(data.site, minlength=j) / n  # share of workers per worksite
    site_part = beta_site @ data.X_site.T  # (S, J)
    site_mean = site_part @ w
    site_var = (site_part**2) @ w - site_mean**2
    xw = data.X_worker
    s1 = np.zeros((j, xw.shape[1]))
    np.add.at(s1, data.site, xw)
    m2 = np.zeros((j, xw.shape[1], xw.shape[1]))
    np.add.at(m2, data.site, xw[:, :, None] * xw[:, None, :])
    worker_mean = np.einsum("sjk,jk->s", beta_worker, s1) / n
    worker_sq = np.einsum("sjk,jkl,sjl->s", beta_worker, m2, beta_worker) / n
    return np.maximum(site_var, 0.0), np.maximum(worker_sq - worker_mean**2, 0.0)


def _variance_share(p: dict[str, Any], ctx: Context) -> np.ndarray | None:
    d = ctx.draws
    if d is None or d.beta_site is None or d.beta_worker is None:
        return None
    site_var, worker_var = linear_predictor_variances(ctx.data, d.beta_site, d.beta_worker)
    total = site_var + worker_var
    share = np.divide(site_var, total, out=np.zeros_like(total), where=total > 0)
    return share > p["share"]


def _variance_share_text(p: dict[str, Any]) -> str:
    return (
        "the worksite-level part of the linear predictor (X_site . beta_site) varies more over "
        f"workers than the worker-level part (X_worker . beta_worker): share > {p['share']:g}"
    )


KINDS: tuple[Kind, ...] = (
    Kind("scale_below", {"threshold": REQUIRED, "parameter": "sigma_worker"},
         _scale(True), _scale_text(True)),
    Kind("scale_above", {"threshold": REQUIRED, "parameter": "sigma_worker"},
         _scale(False), _scale_text(False)),
    Kind("variance_share", {"share": 0.5}, _variance_share, _variance_share_text),
)  # fmt: skip

__all__ = ["KINDS", "linear_predictor_variances"]
