"""What every claim kind shares: the evaluation context, the kind record and small helpers.

:class:`Context` is what a claim is evaluated on (data, posterior draws, per-draw
clusterings); :class:`Kind` describes one claim kind (its parameters, the per-draw truth of its
statement, its wording, what it rests on).  The kinds themselves live in
:mod:`evaluation.claims.site_kinds`, :mod:`evaluation.claims.scale_kinds` and
:mod:`evaluation.claims.cluster_kinds`; :mod:`evaluation.claims.kinds` is the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from backends.spec import HierData
from evaluation.claims.draws import ClaimDraws, ClusterDraws

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
    draws : ClaimDraws or None
    clusters : ClusterDraws or None
    """

    data: HierData
    draws: ClaimDraws | None = None
    clusters: ClusterDraws | None = None


@dataclass(frozen=True)
class Kind:
    """One claim kind.

    Attributes
    ----------
    name : str
    defaults : mapping
        Every parameter with its default (:data:`REQUIRED` for a required one).
    indicator : callable (params, Context) -> ndarray of bool (S,) or None
        Whether the statement holds in each draw; None when an input is missing.
    statement : callable (params) -> str
    site_params, worker_params : tuple of str
        Parameters naming site / worker features (a name, a list of names, a mapping keyed
        by names, or a list of names and such mappings).
    site_functionals : callable (params, HierData) -> Functionals, optional
        The linear functionals of ``(alpha, beta_site)`` the statement depends on (each must
        be estimable from ``[1 | X_site]``); None when it rests on none.
    whole_worker_design : bool
        A clustering claim: it rests on the clustering of the whole ``beta_worker[j]``
        vector, so ``X_worker`` must have full column rank.
    detail : callable (params, Context) -> str or None, optional
        A data-dependent restatement for the ledger entry (e.g. the move a partial effect
        makes, or the K chosen per draw).
    """

    name: str
    defaults: Mapping[str, Any]
    indicator: Callable[[dict[str, Any], Context], np.ndarray | None]
    statement: Callable[[dict[str, Any]], str]
    site_params: tuple[str, ...] = ()
    worker_params: tuple[str, ...] = ()
    site_functionals: Callable[[dict[str, Any], HierData], Functionals] | None = None
    whole_worker_design: bool = False
    detail: Callable[[dict[str, Any], Context], str | None] | None = None


def col(names: Sequence[str], name: str) -> int:
    """Position of ``name`` in ``names``."""
    return list(names).index(name)


def names_text(items: Sequence[str], limit: int = 4) -> str:
    """ "a and b", "a, b, c" or "a, b, c, d and 3 more"."""
    items = list(items)
    if len(items) > limit:
        return ", ".join(items[:limit]) + f" and {len(items) - limit} more"
    return " and ".join(items) if len(items) == 2 else ", ".join(items)


def site_vector(weights: Mapping[str, float], names: Sequence[str]) -> np.ndarray:
    """``weights`` ({feature: weight}) as a vector over ``names``."""
    out = np.zeros(len(names))
    for name, weight in weights.items():
        out[col(names, name)] += weight
    return out


def beta_site_draws(ctx: Context) -> np.ndarray | None:
    """The (S, K_s) ``beta_site`` draws of ``ctx``, or None."""
    return None if ctx.draws is None else ctx.draws.beta_site


__all__ = [
    "ORDER_DIRECTIONS",
    "REQUIRE",
    "REQUIRED",
    "SCALE_PARAMETERS",
    "SIGN_DIRECTIONS",
    "Context",
    "Functionals",
    "Kind",
    "beta_site_draws",
    "col",
    "names_text",
    "site_vector",
]
