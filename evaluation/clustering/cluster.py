"""Run the paper's Gibbs GMM on the posterior-mean coefficients and on single posterior draws.

:func:`cluster_posterior` clusters the posterior-mean ``beta_worker`` matrix (worksite x worker
feature) with ``n_seeds`` Gibbs chains of :mod:`evaluation.clustering.gmm` (the paper's K = 2,
sigma = 1e-4, alpha0 = 1, eta = 0.1, 400 sweeps), optionally picks K by the elbow of the log
joint over ``k_range`` (:mod:`evaluation.clustering.select`), and clusters ``n_draws`` posterior
draws one by one (best of ``draw_restarts`` chains each, so that a chain stuck in a local
optimum is not mistaken for posterior uncertainty).  Numbers only: the summaries are in
:mod:`evaluation.clustering.stability`, the outputs in :mod:`evaluation.clustering.pipeline`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from evaluation.clustering import gmm
from evaluation.clustering import select as gmm_select
from evaluation.clustering.coefficients import Coefficients, scale_columns


class ClusteringResult(NamedTuple):
    """Everything computed by :func:`cluster_posterior` (arrays in the data's worksite order).

    Attributes
    ----------
    k : int
        Number of components used.
    labels : ndarray of int64, shape (J,)
        Posterior-mean clustering (the best-log-joint seed; 0 = largest cluster).
    seeds : GibbsResult or None
        The ``n_seeds`` chains on the posterior mean (None when degenerate).
    draw_index : ndarray of int64, shape (M,)
        Which flattened posterior draws were clustered.
    draws : GibbsResult or None
        One chain per clustered draw (None when ``n_draws`` is 0 or degenerate).
    k_selection : KSelection or None
    constant_features : tuple of str
        Features constant across worksites in the posterior mean.
    degenerate_reason : str or None
    draw_k : ndarray of int64, shape (M,) or None
        The elbow K of each clustered draw (:func:`~evaluation.clustering.select.select_k_draws`;
        None without ``k_range`` or clustered draws).
    """

    k: int
    labels: np.ndarray
    seeds: gmm.GibbsResult | None
    draw_index: np.ndarray
    draws: gmm.GibbsResult | None
    k_selection: gmm_select.KSelection | None
    constant_features: tuple[str, ...]
    degenerate_reason: str | None
    draw_k: np.ndarray | None = None


def prepare(x: np.ndarray, s: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The matrix (or stack) the sampler sees: ``x`` raw or scaled per ``s["standardize"]``.

    Returns
    -------
    x : ndarray, same shape as the input
    constant : ndarray of bool, shape (..., D)
        Which features are constant across worksites (see
        :func:`evaluation.clustering.coefficients.scale_columns`).
    """
    z, constant = scale_columns(x)
    return (z if s["standardize"] else np.asarray(x, dtype=float)), constant


def _gibbs_kw(s: Mapping[str, Any]) -> dict[str, Any]:
    return {key: s[key] for key in ("sigma", "sigma_is", "alpha0", "eta", "n_iter", "burn_in")}


def _degenerate(coef: Coefficients, s: Mapping[str, Any], names: tuple[str, ...]):
    reason = "every worksite has the same posterior-mean coefficients: nothing to cluster"
    k, j = (1 if s["k"] == "auto" else s["k"]), coef.mean.shape[0]
    empty = np.zeros(0, np.int64)
    return ClusteringResult(k, np.zeros(j, np.int64), None, empty, None, None, names, reason)


def _cluster_draws(coef: Coefficients, k: int, s: Mapping[str, Any]):
    """(index of the clustered draws, best-of-restarts GibbsResult or None)."""
    n_avail = coef.draws.shape[0] if coef.draws.shape[0] > 1 else 0  # one matrix: no draws
    pick = np.random.default_rng([s["seed"], 1_000]).choice(
        n_avail, size=min(s["n_draws"], n_avail), replace=False
    )
    pick = np.sort(pick)
    if not pick.size:
        return pick, None
    xd = np.repeat(prepare(coef.draws[pick], s)[0], s["draw_restarts"], axis=0)
    draws = gmm.gibbs_gmm(xd, k, seed=s["seed"], stream=1, **_gibbs_kw(s))
    return pick, gmm.best_of(draws, s["draw_restarts"])


def cluster_posterior(coef: Coefficients, s: Mapping[str, Any]) -> ClusteringResult:
    """Cluster the posterior mean (several seeds) and ``n_draws`` single draws.

    Parameters
    ----------
    coef : Coefficients
        From :func:`evaluation.clustering.coefficients.coefficients`.
    s : mapping
        Validated settings (:func:`evaluation.clustering.settings.settings`).

    Returns
    -------
    ClusteringResult

    Raises
    ------
    ValueError
        K larger than the number of worksites.
    """
    j = coef.mean.shape[0]
    if s["k"] != "auto" and s["k"] > j:
        raise ValueError(f"clustering: K = {s['k']} exceeds the number of worksites J = {j}")
    x, constant = prepare(coef.mean, s)
    const_names = tuple(f for f, c in zip(coef.features, constant, strict=True) if c)
    if constant.all():
        return _degenerate(coef, s, const_names)
    kw, seed = _gibbs_kw(s), s["seed"]
    ksel = None
    if s["k_range"] is not None:
        ksel = gmm_select.select_k(
            x, s["k_range"], n_chains=s["k_chains"], seed=seed, bic=s["bic"], **kw
        )
    k = ksel.chosen_k if s["k"] == "auto" else s["k"]
    seeds = gmm.gibbs_gmm(np.repeat(x[None], s["n_seeds"], 0), k, seed=seed, stream=0, **kw)
    best = int(np.argmax(seeds.log_joint[:, s["burn_in"] :].max(axis=1)))
    labels = gmm.canonical_labels(seeds.labels[best])
    pick, draws = _cluster_draws(coef, k, s)
    draw_k = None
    if s["k_range"] is not None and pick.size:
        xd = prepare(coef.draws[pick], s)[0]
        draw_k = gmm_select.select_k_draws(
            xd, s["k_range"], seed=seed, n_chains=s["k_chains"], **kw
        )
    return ClusteringResult(k, labels, seeds, pick, draws, ksel, const_names, None, draw_k)


__all__ = ["ClusteringResult", "cluster_posterior", "prepare"]
