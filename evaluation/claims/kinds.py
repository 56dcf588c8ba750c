"""Claim kinds: the registry, and what each kind states.

A claim's probability is the fraction of posterior draws in which its statement holds; its
truth value is the statement at the generating parameters.  The kinds (parameters in brackets;
``site`` = a name of ``data.site_features``, ``worker`` = one of ``data.worker_features``):

On ``beta_site`` (:mod:`evaluation.claims.site_kinds`):

``sign`` [feature: site, direction: positive | negative]
    ``beta_site[feature] > 0`` (or ``< 0``).
``strongest`` [feature: site, among: list of site (default: all), by_abs: bool (default false)]
    ``feature`` has the largest ``beta_site`` (largest ``|beta_site|`` with ``by_abs``) in
    ``among``.
``top`` [features: list of site, among: list of site (default: all), by_abs: bool]
    ``features`` hold the ``len(features)`` largest values in ``among``.
``contrast`` [weights: {site: number}, direction: positive | negative]
    ``sum_f weights[f] * beta_site[f] > 0`` (or ``< 0``).
``partial_effect`` [feature: site, held_fixed: list of site (default none), direction]
    Raising ``feature`` by one sd with ``held_fixed`` unchanged raises (lowers) the log-odds;
    the features tied to ``feature`` by an exact relation of the design move as it forces
    (:func:`~evaluation.claims.site_kinds.partial_move`), so the move is identified.
``association`` [feature: site, direction]
    The slope of the worksite linear predictor ``X_site . beta_site`` on ``feature`` across
    the worksites is positive (negative): the total association, other features as they come.
``group_dominates`` [larger: list of site, smaller: list of site]
    The sd over worksites of ``X_site[larger] . beta_site[larger]`` exceeds that of the
    ``smaller`` group.

On the variance components (:mod:`evaluation.claims.scale_kinds`):

``scale_below`` / ``scale_above`` [threshold: number > 0, parameter: sigma_worker | sigma_site]
    ``parameter < threshold`` (or ``>``).
``variance_share`` [share: number in (0, 1), default 0.5]
    Over the data's workers, the variance of the worksite-level part ``X_site[j] . beta_site``
    of the linear predictor is more than ``share`` of the sum of it and the variance of the
    worker-level part ``X_worker[i] . beta_worker[j]`` (share 0.5: the site part varies more).

On the per-worksite slopes ``beta_worker`` (:mod:`evaluation.claims.worker_kinds`):

``mean_slope`` [feature: worker, direction: positive | negative, weighted: bool (default false)]
    The mean over worksites of ``beta_worker[:, feature]`` is ``> 0`` (or ``< 0``); with
    ``weighted`` each worksite counts by its number of workers in the data.  The model has no
    worker-level fixed effect, so this is how "the worker feature raises the odds" is stated.

On the per-draw clusterings (:mod:`evaluation.claims.cluster_kinds`):

``k_selected`` [k: int]
    The paper's criterion (elbow of the Gibbs log joint over K, run on the draw) selects
    ``k`` clusters.
``cluster_separates`` [features: list of site, threshold: number >= 0 (default 0),
require: all | any, permutation_level: number in (0, 1) or null (default)]
    The largest minus the smallest cluster mean of the feature exceeds ``threshold`` and,
    with ``permutation_level``, lies beyond that level of random relabellings with the same
    cluster sizes, for all (any) of ``features``.
``cluster_even`` [features: list of site, share (default 0.5), permutation_level (0.05)]
    More than ``share`` of ``features`` show no such difference.
``cluster_effect_order`` [coefficients: list of worker names or {worker: weight} contrasts,
size_feature: site, direction: larger | smaller (default larger), require: all | any]
    The cluster with the largest mean ``size_feature`` has a larger (smaller) mean
    ``beta_worker`` coefficient (or contrast) than the cluster with the smallest mean.

Clustering kinds are false in a draw whose clustering has fewer than two non-empty clusters
(``cluster_even``: true).

Identification (what the design must identify for the claim to mean something): a claim on
``beta_site`` rests on linear functionals of ``(alpha, beta_site)``
(``Kind.site_functionals``) that must be estimable from ``[1 | X_site]``; clustering claims
rest on the whole ``beta_worker[j]`` vector (``X_worker`` of full column rank), and so, by
the same check, does ``mean_slope``; ``variance_share`` and the scale claims are invariant
along every null direction and always identified.
"""

from __future__ import annotations

from evaluation.claims import cluster_kinds, scale_kinds, site_kinds, worker_kinds
from evaluation.claims.context import (
    ORDER_DIRECTIONS,
    REQUIRE,
    REQUIRED,
    SCALE_PARAMETERS,
    SIGN_DIRECTIONS,
    Context,
    Functionals,
    Kind,
)
from evaluation.claims.scale_kinds import linear_predictor_variances

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (*site_kinds.KINDS, *scale_kinds.KINDS, *worker_kinds.KINDS, *cluster_kinds.KINDS)
}
#: Kinds evaluated on per-draw clusterings (not evaluated when the run did not cluster).
CLUSTERING_KINDS: tuple[str, ...] = tuple(k.name for k in cluster_kinds.KINDS)

__all__ = [
    "CLUSTERING_KINDS",
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
