"""Claim kinds on the per-draw clusterings of the worksites (the paper's Gaussian mixture).

A clustering claim's probability is the fraction of clustered posterior draws in which its
statement holds.  Whether the clusters "differ" on a worksite feature is calibrated by
permutation: the spread of the cluster means (largest minus smallest) is compared with its
distribution when the same cluster sizes are dealt to the worksites at random
(:func:`separation_pvalues`), because a random unbalanced split of ~100 worksites already
spreads a standardised feature's cluster means by 0.2-0.35 sd.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from evaluation.claims.context import REQUIRED, Context, Kind, col, names_text
from evaluation.data.design import expression

#: Random relabellings per clustered draw (p-values in steps of 1 / 200).
N_PERMUTATIONS = 199
#: Seed of the relabellings (fixed: a claim's probability is a function of the draws).
PERMUTATION_SEED = 20231221


def cluster_means(labels: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mean of ``values`` (J,) or (J, D) in each non-empty cluster, in sorted label order."""
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    values = values.reshape(labels.size, -1)
    sums = np.zeros((counts.size, values.shape[1]))
    np.add.at(sums, inverse, values)
    return sums / counts[:, None]


def separation_pvalues(
    labels: np.ndarray, x: np.ndarray, n_perm: int = N_PERMUTATIONS, seed: int = PERMUTATION_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Spread of the cluster means of each feature, and its permutation p-value, per draw.

    Parameters
    ----------
    labels : ndarray of int, shape (M, J)
    x : ndarray, shape (J, F)
        The worksite features.
    n_perm, seed : int
        Relabellings (the same for every draw) and their seed.

    Returns
    -------
    (spread, pvalue) : ndarrays, shape (M, F)
        ``spread``: largest minus smallest cluster mean; ``pvalue``: ``(1 + #{relabellings
        with a spread >= the observed}) / (n_perm + 1)``, relabellings keeping the draw's
        cluster sizes.  A draw with one cluster has spread 0 and p-value 1.
    """
    x = np.asarray(x, dtype=float).reshape(labels.shape[1], -1)
    perms = np.argsort(np.random.default_rng(seed).random((n_perm, labels.shape[1])), axis=1)
    spread = np.zeros((labels.shape[0], x.shape[1]))
    pvalue = np.ones_like(spread)
    for m, row in enumerate(labels):
        _, inverse = np.unique(row, return_inverse=True)
        k = int(inverse.max()) + 1
        if k < 2:
            continue
        onehot = np.eye(k)[inverse]  # (J, K)
        counts = onehot.sum(axis=0)[:, None]
        means = onehot.T @ x / counts
        spread[m] = means.max(axis=0) - means.min(axis=0)
        null = np.matmul(onehot[perms].transpose(0, 2, 1), x) / counts[None]  # (B, K, F)
        null_spread = null.max(axis=1) - null.min(axis=1)  # (B, F)
        pvalue[m] = (1 + (null_spread >= spread[m] - 1e-12).sum(axis=0)) / (n_perm + 1)
    return spread, pvalue


def _site_columns(ctx: Context, features: list[str]) -> np.ndarray:
    return ctx.data.X_site[:, [col(ctx.data.site_features, f) for f in features]]


# ------------------------------------------------------------------------------------------
# k_selected
# ------------------------------------------------------------------------------------------
def _k_selected(p: dict[str, Any], ctx: Context) -> np.ndarray | None:
    if ctx.clusters is None or ctx.clusters.chosen_k is None:
        return None
    return ctx.clusters.chosen_k == p["k"]


def _k_selected_text(p: dict[str, Any]) -> str:
    return (f"the paper's criterion (the elbow of the Gibbs log joint over K) selects "
            f"K = {p['k']} for the worksite coefficients")  # fmt: skip


def _k_detail(p: dict[str, Any], ctx: Context) -> str | None:
    if ctx.clusters is None or ctx.clusters.chosen_k is None:
        return None
    counts = Counter(int(k) for k in ctx.clusters.chosen_k)
    parts = ", ".join(f"K = {k} in {n}" for k, n in sorted(counts.items()))
    return f"K chosen per draw: {parts} of {ctx.clusters.chosen_k.size}"


# ------------------------------------------------------------------------------------------
# cluster_separates, cluster_even
# ------------------------------------------------------------------------------------------
def _differs(p: dict[str, Any], ctx: Context) -> np.ndarray | None:
    """(M, F) whether the clusters of each draw differ on each feature (None: no clusters)."""
    if ctx.clusters is None:
        return None
    level = p["permutation_level"]
    x = _site_columns(ctx, p["features"])
    if level is None:  # a fixed cut only: no relabelling needed
        spread = np.array([_spread(row, x) for row in ctx.clusters.labels])
        return spread > p.get("threshold", 0.0)
    spread, pvalue = separation_pvalues(ctx.clusters.labels, x)
    return (spread > p.get("threshold", 0.0)) & (pvalue <= level)


def _spread(row: np.ndarray, x: np.ndarray) -> np.ndarray:
    means = cluster_means(row, x)
    return means.max(axis=0) - means.min(axis=0) if means.shape[0] >= 2 else np.zeros(x.shape[1])


def _separates(p: dict[str, Any], ctx: Context) -> np.ndarray | None:
    hits = _differs(p, ctx)
    if hits is None:
        return None
    return hits.all(axis=1) if p["require"] == "all" else hits.any(axis=1)


def _cut_text(p: dict[str, Any]) -> str:
    cut = [f"> {p['threshold']:g}"] if p.get("threshold") else []
    if p["permutation_level"] is not None:
        cut.append(f"beyond random relabellings of the same sizes (permutation p <= "
                   f"{p['permutation_level']:g})")  # fmt: skip
    return " and ".join(cut) or "> 0"


def _separates_text(p: dict[str, Any]) -> str:
    which = "each" if p["require"] == "all" or len(p["features"]) == 1 else "at least one"
    return (f"the worksite clusters differ in {which} of {names_text(p['features'])}: largest "
            f"minus smallest cluster mean {_cut_text(p)}")  # fmt: skip


def _even(p: dict[str, Any], ctx: Context) -> np.ndarray | None:
    hits = _differs(p, ctx)
    return None if hits is None else (~hits).mean(axis=1) > p["share"]


def _even_text(p: dict[str, Any]) -> str:
    return (f"more than {100 * p['share']:g}% of {names_text(p['features'])} are evenly "
            f"distributed across the worksite clusters: their cluster means are not apart "
            f"{_cut_text(p)}")  # fmt: skip


# ------------------------------------------------------------------------------------------
# cluster_effect_order
# ------------------------------------------------------------------------------------------
def coefficient_items(items: list[Any]) -> list[tuple[str, dict[str, float]]]:
    """(label, {worker feature: weight}) for each item: a name, or a contrast mapping."""
    out = []
    for item in items:
        if isinstance(item, str):
            out.append((item, {item: 1.0}))
        else:
            names = list(item)
            out.append((expression(np.array([item[n] for n in names], float), names),
                        dict(item)))  # fmt: skip
    return out


def _cluster_coefs(ctx: Context) -> np.ndarray | None:
    """(M, J, K_w) coefficients of the clustered draws, or the posterior mean repeated."""
    assert ctx.clusters is not None
    if ctx.clusters.beta_worker is not None:
        return ctx.clusters.beta_worker
    if ctx.draws is None or ctx.draws.beta_worker is None:
        return None
    mean = ctx.draws.beta_worker.mean(axis=0)
    return np.broadcast_to(mean, (ctx.clusters.labels.shape[0], *mean.shape))


def _effect_order(p: dict[str, Any], ctx: Context) -> np.ndarray | None:
    coefs = None if ctx.clusters is None else _cluster_coefs(ctx)
    if coefs is None:
        return None
    size = _site_columns(ctx, [p["size_feature"]])[:, 0]
    weights = np.zeros((len(p["coefficients"]), len(ctx.data.worker_features)))
    for i, (_, item) in enumerate(coefficient_items(p["coefficients"])):
        for name, w in item.items():
            weights[i, col(ctx.data.worker_features, name)] += w
    out = []
    for row, beta in zip(ctx.clusters.labels, coefs, strict=True):  # type: ignore[union-attr]
        size_means = cluster_means(row, size)[:, 0]
        if size_means.size < 2:
            out.append(False)
            continue
        coef_means = cluster_means(row, beta @ weights.T)
        diff = coef_means[int(np.argmax(size_means))] - coef_means[int(np.argmin(size_means))]
        hits = diff > 0 if p["direction"] == "larger" else diff < 0
        out.append(bool(hits.all() if p["require"] == "all" else hits.any()))
    return np.array(out, dtype=bool)


def _effect_order_text(p: dict[str, Any]) -> str:
    more = "larger" if p["direction"] == "larger" else "smaller"
    labels = [label for label, _ in coefficient_items(p["coefficients"])]
    which = "" if p["require"] == "all" or len(labels) == 1 else "at least one of "
    return (f"the cluster of larger worksites (higher mean {p['size_feature']}) has a {more} "
            f"mean beta_worker for {which}{names_text(labels)} than the cluster of smaller "
            "ones")  # fmt: skip


KINDS: tuple[Kind, ...] = (
    Kind("k_selected", {"k": REQUIRED}, _k_selected, _k_selected_text,
         whole_worker_design=True, detail=_k_detail),
    Kind("cluster_separates",
         {"features": REQUIRED, "threshold": 0.0, "require": "all", "permutation_level": None},
         _separates, _separates_text, site_params=("features",), whole_worker_design=True),
    Kind("cluster_even", {"features": REQUIRED, "share": 0.5, "permutation_level": 0.05},
         _even, _even_text, site_params=("features",), whole_worker_design=True),
    Kind("cluster_effect_order",
         {"coefficients": REQUIRED, "size_feature": REQUIRED, "direction": "larger",
          "require": "all"},
         _effect_order, _effect_order_text, site_params=("size_feature",),
         worker_params=("coefficients",), whole_worker_design=True),
)  # fmt: skip

__all__ = [
    "KINDS",
    "N_PERMUTATIONS",
    "PERMUTATION_SEED",
    "cluster_means",
    "coefficient_items",
    "separation_pvalues",
]
