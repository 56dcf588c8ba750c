"""Claim kinds: for each, the per-draw truth of the statement, its wording and what it rests on.

A claim's probability is the fraction of posterior draws in which its statement holds; its
truth value is the statement at the generating parameters.  The kinds (parameters in brackets;
``site`` = a name of ``data.site_features``, ``worker`` = one of ``data.worker_features``):

``sign`` [feature: site, direction: positive | negative]
    ``beta_site[feature] > 0`` (or ``< 0``).
``strongest`` [feature: site, among: list of site (default: all), by_abs: bool (default false)]
    ``feature`` has the largest ``beta_site`` (largest ``|beta_site|`` with ``by_abs``) in
    ``among``.
``contrast`` [weights: {site: number}, direction: positive | negative]
    ``sum_f weights[f] * beta_site[f] > 0`` (or ``< 0``).
``scale_below`` / ``scale_above`` [threshold: number > 0, parameter: sigma_worker | sigma_site]
    ``parameter < threshold`` (or ``>``).
``variance_share`` [share: number in (0, 1), default 0.5]
    Over the data's workers, the variance of the worksite-level part ``X_site[j] . beta_site``
    of the linear predictor is more than ``share`` of the sum of it and the variance of the
    worker-level part ``X_worker[i] . beta_worker[j]`` (share 0.5: the site part varies more).
``n_clusters`` [k: int]
    The draw's clustering of the worksites has exactly ``k`` non-empty clusters.
``cluster_separates`` [features: list of site, threshold: number >= 0 (default 0),
require: all | any]
    The largest minus the smallest cluster mean of the feature exceeds ``threshold`` (in the
    feature's units; standardised features: sd units), for all (any) of ``features``.
``cluster_effect_order`` [coefficients: list of worker, size_feature: site,
direction: larger | smaller (default larger), require: all | any]
    The cluster with the largest mean ``size_feature`` has a larger (smaller) mean
    ``beta_worker[:, coefficient]`` than the cluster with the smallest mean.

Clustering kinds are false in a draw whose clustering has fewer than two non-empty clusters.

Identification (what the design must identify for the claim to mean something): a claim on
``beta_site`` rests on linear functionals of ``(alpha, beta_site)``
(``Kind.site_functionals``) that must be estimable from ``[1 | X_site]``; clustering claims
rest on the whole ``beta_worker[j]`` vector (``X_worker`` of full column rank);
``variance_share`` and the scale claims are invariant along every null direction and always
identified.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from backends.spec import HierData
from evaluation.claims.draws import ClusterDraws, Draws
from evaluation.data.design import expression

#: Marks a required parameter in :attr:`Kind.defaults`.
REQUIRED = object()
#: Allowed values of the enumerated parameters, per kind where they differ.
SIGN_DIRECTIONS = ("positive", "negative")
ORDER_DIRECTIONS = ("larger", "smaller")
REQUIRE = ("all", "any")
SCALE_PARAMETERS = ("sigma_worker", "sigma_site")

#: A list of (label, {feature: weight}) linear functionals a claim rests on.
Functionals = list[tuple[str, dict[str, float]]]


@dataclass(frozen=True)
class Context:
    """What a claim is evaluated on.

    Attributes
    ----------
    data : HierData
        Gives X_site, X_worker, the worksite of each worker and the feature names.
    draws : Draws or None
    clusters : ClusterDraws or None
    """

    data: HierData
    draws: Draws | None = None
    clusters: ClusterDraws | None = None


@dataclass(frozen=True)
class Kind:
    """One claim kind.

    Attributes
    ----------
    name : str
    defaults : mapping
        Every parameter with its default (:data:`REQUIRED` for a required one).
    site_params, worker_params : tuple of str
        Parameters naming site / worker features (a name, a list of names or a mapping keyed
        by names).
    indicator : callable (params, Context) -> ndarray of bool (S,) or None
        Whether the statement holds in each draw; None when an input is missing.
    statement : callable (params) -> str
    site_functionals : callable (params, HierData) -> Functionals, optional
        The linear functionals of ``(alpha, beta_site)`` the statement depends on (each must
        be estimable from ``[1 | X_site]``); None when it rests on none.
    whole_worker_design : bool
        The claim rests on the clustering of the whole ``beta_worker[j]`` vector, so
        ``X_worker`` must have full column rank.
    """

    name: str
    defaults: Mapping[str, Any]
    indicator: Callable[[dict[str, Any], Context], np.ndarray | None]
    statement: Callable[[dict[str, Any]], str]
    site_params: tuple[str, ...] = ()
    worker_params: tuple[str, ...] = ()
    site_functionals: Callable[[dict[str, Any], HierData], Functionals] | None = None
    whole_worker_design: bool = False


# ------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------
def _col(names: Sequence[str], name: str) -> int:
    return list(names).index(name)


def _names(items: Sequence[str], limit: int = 4) -> str:
    items = list(items)
    if len(items) > limit:
        return ", ".join(items[:limit]) + f" and {len(items) - limit} more"
    return " and ".join(items) if len(items) == 2 else ", ".join(items)


def _among(p: dict[str, Any], data: HierData) -> list[str]:
    return list(p["among"]) if p["among"] else list(data.site_features)


# ------------------------------------------------------------------------------------------
# beta_site kinds
# ------------------------------------------------------------------------------------------
def _sign(p: dict[str, Any], ctx: Context) -> np.ndarray | None:
    if ctx.draws is None or ctx.draws.beta_site is None:
        return None
    b = ctx.draws.beta_site[:, _col(ctx.data.site_features, p["feature"])]
    return b > 0 if p["direction"] == "positive" else b < 0


def _sign_text(p: dict[str, Any]) -> str:
    way = "higher" if p["direction"] == "positive" else "lower"
    op = ">" if p["direction"] == "positive" else "<"
    return (
        f"beta_site[{p['feature']}] {op} 0: higher {p['feature']} goes with {way} odds of signing"
    )


def _strongest(p: dict[str, Any], ctx: Context) -> np.ndarray | None:
    if ctx.draws is None or ctx.draws.beta_site is None:
        return None
    among = _among(p, ctx.data)
    cols = [_col(ctx.data.site_features, f) for f in among]
    b = ctx.draws.beta_site[:, cols]
    b = np.abs(b) if p["by_abs"] else b
    return np.argmax(b, axis=1) == among.index(p["feature"])


def _strongest_text(p: dict[str, Any]) -> str:
    value = "|beta_site|" if p["by_abs"] else "beta_site"
    pool = "all site features" if not p["among"] else _names(p["among"])
    return f"{p['feature']} has the largest {value} among {pool}"


def _strongest_functionals(p: dict[str, Any], data: HierData) -> Functionals:
    f, among = p["feature"], _among(p, data)
    if p["by_abs"]:  # |b_f| > |b_g| depends on every b_g on its own
        return [(f"beta_site[{g}]", {g: 1.0}) for g in among]
    return [(f"beta_site[{f}] - beta_site[{g}]", {f: 1.0, g: -1.0}) for g in among if g != f]


def _contrast(p: dict[str, Any], ctx: Context) -> np.ndarray | None:
    if ctx.draws is None or ctx.draws.beta_site is None:
        return None
    w = np.zeros(len(ctx.data.site_features))
    for name, weight in p["weights"].items():
        w[_col(ctx.data.site_features, name)] += weight
    value = ctx.draws.beta_site @ w
    return value > 0 if p["direction"] == "positive" else value < 0


def _contrast_text(p: dict[str, Any]) -> str:
    names = list(p["weights"])
    expr = expression(np.array([p["weights"][n] for n in names], float), names)
    op = ">" if p["direction"] == "positive" else "<"
    return f"the contrast {expr} of beta_site is {op} 0"


# ------------------------------------------------------------------------------------------
# Variance components
# ------------------------------------------------------------------------------------------
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


# ------------------------------------------------------------------------------------------
# Clustering kinds
# ------------------------------------------------------------------------------------------
def _cluster_means(labels: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mean of ``values`` (J,) or (J, D) in each non-empty cluster, in sorted label order."""
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    values = values.reshape(labels.size, -1)
    sums = np.zeros((counts.size, values.shape[1]))
    np.add.at(sums, inverse, values)
    return sums / counts[:, None]


def _n_clusters(p: dict[str, Any], ctx: Context) -> np.ndarray | None:
    if ctx.clusters is None:
        return None
    return np.array([np.unique(row).size == p["k"] for row in ctx.clusters.labels])


def _separates(p: dict[str, Any], ctx: Context) -> np.ndarray | None:
    if ctx.clusters is None:
        return None
    cols = [_col(ctx.data.site_features, f) for f in p["features"]]
    x = ctx.data.X_site[:, cols]
    out = []
    for row in ctx.clusters.labels:
        means = _cluster_means(row, x)
        spread = means.max(axis=0) - means.min(axis=0)
        hits = list(spread > p["threshold"]) if means.shape[0] >= 2 else [False] * len(cols)
        out.append(all(hits) if p["require"] == "all" else any(hits))
    return np.array(out, dtype=bool)


def _separates_text(p: dict[str, Any]) -> str:
    which = "each" if p["require"] == "all" or len(p["features"]) == 1 else "at least one"
    return (
        f"the worksite clusters differ in {which} of {_names(p['features'])}: largest minus "
        f"smallest cluster mean > {p['threshold']:g}"
    )


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
    size = ctx.data.X_site[:, _col(ctx.data.site_features, p["size_feature"])]
    cols = [_col(ctx.data.worker_features, g) for g in p["coefficients"]]
    out = []
    for row, beta in zip(ctx.clusters.labels, coefs, strict=True):  # type: ignore[union-attr]
        size_means = _cluster_means(row, size)[:, 0]
        if size_means.size < 2:
            out.append(False)
            continue
        coef_means = _cluster_means(row, beta[:, cols])
        big, small = int(np.argmax(size_means)), int(np.argmin(size_means))
        diff = coef_means[big] - coef_means[small]
        hits = diff > 0 if p["direction"] == "larger" else diff < 0
        out.append(bool(hits.all() if p["require"] == "all" else hits.any()))
    return np.array(out, dtype=bool)


def _effect_order_text(p: dict[str, Any]) -> str:
    more = "larger" if p["direction"] == "larger" else "smaller"
    which = "" if p["require"] == "all" or len(p["coefficients"]) == 1 else "at least one of "
    return (
        f"the cluster of larger worksites (higher mean {p['size_feature']}) has a {more} mean "
        f"beta_worker for {which}{_names(p['coefficients'])} than the cluster of smaller ones"
    )


# ------------------------------------------------------------------------------------------
# Registry
# ------------------------------------------------------------------------------------------
KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "sign", {"feature": REQUIRED, "direction": REQUIRED}, _sign, _sign_text,
            site_params=("feature",),
            site_functionals=lambda p, d: [(f"beta_site[{p['feature']}]", {p["feature"]: 1.0})],
        ),
        Kind(
            "strongest", {"feature": REQUIRED, "among": None, "by_abs": False},
            _strongest, _strongest_text, site_params=("feature", "among"),
            site_functionals=_strongest_functionals,
        ),
        Kind(
            "contrast", {"weights": REQUIRED, "direction": REQUIRED}, _contrast, _contrast_text,
            site_params=("weights",),
            site_functionals=lambda p, d: [("the contrast", dict(p["weights"]))],
        ),
        Kind(
            "scale_below", {"threshold": REQUIRED, "parameter": "sigma_worker"},
            _scale(True), _scale_text(True),
        ),
        Kind(
            "scale_above", {"threshold": REQUIRED, "parameter": "sigma_worker"},
            _scale(False), _scale_text(False),
        ),
        Kind("variance_share", {"share": 0.5}, _variance_share, _variance_share_text),
        Kind(
            "n_clusters", {"k": REQUIRED}, _n_clusters,
            lambda p: f"the worksites fall into exactly {p['k']} non-empty clusters",
            whole_worker_design=True,
        ),
        Kind(
            "cluster_separates", {"features": REQUIRED, "threshold": 0.0, "require": "all"},
            _separates, _separates_text, site_params=("features",), whole_worker_design=True,
        ),
        Kind(
            "cluster_effect_order",
            {"coefficients": REQUIRED, "size_feature": REQUIRED, "direction": "larger",
             "require": "all"},
            _effect_order, _effect_order_text,
            site_params=("size_feature",), worker_params=("coefficients",),
            whole_worker_design=True,
        ),
    )
}  # fmt: skip

__all__ = [
    "KINDS",
    "ORDER_DIRECTIONS",
    "REQUIRE",
    "REQUIRED",
    "SCALE_PARAMETERS",
    "SIGN_DIRECTIONS",
    "Context",
    "Functionals",
    "Kind",
    "linear_predictor_variances",
]
