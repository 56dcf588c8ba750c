"""Worlds drawn from a real posterior: new outcomes on a real design at one posterior draw.

A *posterior world* keeps everything of a real data set but its outcome: the same units,
groups, features and coordinates (so the same held-out split), and outcomes drawn afresh,
``y ~ Bernoulli(logit^-1(alpha + X_site[site] . beta_site + X_worker . beta_worker[site]))``,
at one draw of the real data's posterior.  Its ``truth`` is that draw, so every claim's truth is
its statement at the drawn parameters: a claim the real data leave open (its posterior P far
from 0 and 1) is true in some worlds and false in others, in the proportion P.

This module only simulates.  The posterior (a NUTS fit of the source data, computed once and
cached) is fetched above the data layer (:func:`evaluation.api.datasets.posterior_world_data`);
here a world is a pure function of the source data, the parameter draws and a seed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.special import expit

from backends.spec import VAR_DIMS, HierData, linear_predictor

#: The generator recorded in a world's ``meta``.
GENERATOR = "evaluation.data.posterior_world.posterior_world"
#: Tags of the random streams (spawned with the seed): the order of the draws, the outcomes.
_ORDER_TAG, _OUTCOME_TAG = 0x0D12A, 0x0B5E
#: Keys of the source's ``meta`` a world keeps as they are (the design its claims are read on).
KEPT_META: tuple[str, ...] = ("design", "dropped_site_features")


def draw_index(n_draws: int, seed: int, order_seed: int = 0) -> int:
    """The posterior draw of world ``seed``.

    Position ``seed mod n_draws`` of one random permutation of the draws (fixed by
    ``order_seed``, e.g. the posterior's own fit seed): seeds ``0 .. n_draws - 1`` pick
    distinct draws, and neighbouring seeds do not pick neighbouring (autocorrelated) draws
    of one chain.

    Parameters
    ----------
    n_draws : int
        Draws of the posterior (chains x draws), at least 1.
    seed : int
        The world's seed, >= 0.
    order_seed : int

    Returns
    -------
    int
        An index into the draws stacked chain by chain.
    """
    if n_draws < 1 or seed < 0:
        raise ValueError(f"draw_index needs n_draws >= 1 and seed >= 0, got {n_draws}, {seed}")
    order = np.random.SeedSequence([int(order_seed), _ORDER_TAG])
    return int(np.random.default_rng(order).permutation(int(n_draws))[int(seed) % n_draws])


def _check_params(source: HierData, params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The parameters as float arrays, shaped for ``source`` (ValueError naming the first that
    is missing, misshapen or not finite)."""
    shapes = {"worksite": source.n_worksites, "site_feature": len(source.site_features),
              "worker_feature": len(source.worker_features)}  # fmt: skip
    out = {}
    for name, dims in VAR_DIMS.items():
        if name not in params:
            raise ValueError(f"posterior world: the parameters lack {name}")
        value = np.asarray(params[name], dtype=float)
        want = tuple(shapes[d] for d in dims)
        if value.shape != want or not np.isfinite(value).all():
            raise ValueError(f"posterior world: {name} must be finite with shape {want} "
                             f"(the source's design), got shape {value.shape}")  # fmt: skip
        out[name] = value
    return out


def posterior_world(
    source: HierData,
    params: Mapping[str, Any],
    seed: int,
    *,
    name: str = "posterior_world",
    meta: Mapping[str, Any] | None = None,
) -> HierData:
    """New outcomes on the design of ``source`` at the parameters ``params``.

    Parameters
    ----------
    source : HierData
        The real data: its units, sites, features and coordinates are kept as they are; its
        outcome (and truth, if it has one) is not used.
    params : mapping
        One parameter set in the canonical names (:data:`backends.spec.VAR_DIMS`):
        ``alpha``, ``beta_site`` (K_s), ``sigma_site``, ``sigma_worker``, ``beta_worker``
        (J x K_w), aligned to ``source``'s coordinates (e.g. one posterior draw).
    seed : int
        Seeds the outcomes (a stream of its own: two seeds at the same draw differ).
    name : str
        The world's name (its data config's).
    meta : mapping, optional
        Provenance to record (source, posterior fit, draw index); ``meta`` also gets the
        generator, the seed, the realised prevalence and the source's design keys
        (:data:`KEPT_META`).

    Returns
    -------
    HierData
        ``y`` simulated, ``truth`` = ``params``, no planted cluster labels.

    Raises
    ------
    ValueError
        A parameter missing, of the wrong shape or not finite.
    """
    truth = _check_params(source, params)
    eta = linear_predictor(truth, source)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _OUTCOME_TAG]))
    y = (rng.random(source.n_workers) < expit(eta)).astype(np.int8)
    kept = {k: source.meta[k] for k in KEPT_META if k in source.meta}
    info = {**kept, "generator": GENERATOR, "seed": int(seed),
            "realised_prevalence": float(y.mean()) if y.size else None,
            "source_prevalence": source.prevalence, **dict(meta or {})}  # fmt: skip
    return dataclasses.replace(source, y=y, truth=truth, cluster_labels=None, name=name,
                               meta=info)  # fmt: skip


def pick_draw(draws: Mapping[str, np.ndarray], index: int) -> dict[str, np.ndarray]:
    """Draw ``index`` of stacked posterior draws (each array shaped (S, ...)) as one
    parameter set (the canonical variables only)."""
    return {v: np.asarray(draws[v][index], dtype=float) for v in VAR_DIMS if v in draws}


__all__ = ["GENERATOR", "KEPT_META", "draw_index", "pick_draw", "posterior_world"]
