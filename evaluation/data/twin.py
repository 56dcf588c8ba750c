"""The paper's synthetic twin: raw tables, features and a known truth.

The twin is built in three separable steps so a tabular loader can reproduce it exactly:

1. **Raw tables** (:func:`paper_twin_tables`, generated in :mod:`evaluation.data.twin_raw`):
   a ``groups`` table (one row per worksite, raw untransformed quantities such as
   ``n_discovered`` or ``campaign_length_days``) and a ``units`` table (one row per worker,
   with the outcome ``signed``).
2. **Feature engineering** (:func:`paper_site_features`, :func:`paper_worker_features`, built
   from :func:`standardize`, :func:`one_hot` and :func:`quantile_bins`): ``log_`` columns are
   ``log`` of the raw column; every continuous column is then standardised (mean 0, sd 1,
   ``ddof=0``; site columns over worksites, worker columns over workers).  One-hot columns
   (``campaign_length_q1..q5``, ``first_convo_q1..q4``) stay 0/1: standardising an indicator
   only reshuffles the intercept and makes the coefficients harder to read.
3. **Truth and outcome**: the paper's coefficient table (:data:`PAPER_TRUTH`), with the
   intercept recalibrated to the target prevalence, and ``y ~ Bernoulli(logit eta)``.

Every random block has its own child stream of ``np.random.SeedSequence(seed)``, so e.g.
changing ``sigma_worker`` changes ``beta_worker`` (by a scale) and ``y`` but not the features.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

from backends.spec import HierData
from evaluation.data.design import fold_columns
from evaluation.data.features import (
    CLUSTER_FEATURES,
    PAPER_SITE_FEATURES,
    PAPER_WORKER_FEATURES,
    paper_site_features,
    paper_worker_features,
    quantile_bins,
)
from evaluation.data.twin_raw import PaperTwinTables, raw_tables

_PAPER_BETA_SITE = (
    0.293133, -1.890090, -0.598283, -0.462811, 2.782533, 0.907776, 0.221247, -0.047250,
    -1.972645, -0.261196, 0.847465, 1.604383, -0.060864, -1.711616, -0.215173, -0.783317,
    0.918744, 1.153290,
)  # fmt: skip
#: The paper's fitted values (its regression table); ``beta_site`` in PAPER_SITE_FEATURES order.
PAPER_TRUTH: dict[str, Any] = {
    "alpha": -1.831840,
    "beta_site": np.array(_PAPER_BETA_SITE),
    "sigma_site": 2.141032,
    "sigma_worker": 0.006294,
}
#: Columns dropped by ``design="identified"``: the reference quintile (the five quintile
#: dummies sum to the intercept) and ``log_mean_degree`` (= log 2 + log_n_edges -
#: log_n_discovered, an exact linear relation after standardisation too).
IDENTIFIED_DROP: tuple[str, ...] = ("campaign_length_q1", "log_mean_degree")
DESIGNS: tuple[str, ...] = ("paper", "identified")
_STREAMS = ("sizes", "sites", "workers", "beta_site", "beta_worker", "y")


# ------------------------------------------------------------------------------------------
# Truth, outcome and the public generator
# ------------------------------------------------------------------------------------------
def _check_knobs(k: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming the first invalid generator knob."""

    def bad(knob: str, need: str) -> ValueError:
        return ValueError(f"data.{knob} must be {need}, got {k[knob]!r}")

    for knob in ("n_worksites", "n_workers", "n_clusters", "seed"):
        if isinstance(k[knob], bool) or not isinstance(k[knob], (int, np.integer)):
            raise bad(knob, "an integer")
    if k["n_worksites"] < 2:
        raise bad("n_worksites", "at least 2")
    if k["n_workers"] < 2 * k["n_worksites"]:
        raise bad("n_workers", f"at least 2 per worksite (>= {2 * k['n_worksites']})")
    if not 0 < k["prevalence"] < 1:
        raise bad("prevalence", "strictly between 0 and 1")
    for knob in ("sigma_worker", "sigma_site", "cluster_separation"):
        if k[knob] is not None and not (np.isfinite(k[knob]) and k[knob] >= 0):
            raise bad(knob, "a finite number >= 0")
    if not 0 <= k["n_clusters"] <= k["n_worksites"]:
        raise bad("n_clusters", "between 0 and n_worksites")
    if k["seed"] < 0:
        raise bad("seed", ">= 0")
    if not (np.isfinite(k["site_scale"]) and k["site_scale"] >= 0):
        raise bad("site_scale", "a finite number >= 0")
    if k["design"] not in DESIGNS:
        raise bad("design", f"one of {DESIGNS}")


def _beta_worker(
    rng: np.random.Generator, sizes: np.ndarray, k: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    """Per-worksite worker coefficients, planted labels (larger sites -> higher label), meta.

    Every feature's coefficients have population (mixture) sd ``sigma_worker`` over the
    worksites: a shifted feature's within-cluster sd ``w`` solves
    ``w**2 * (1 + separation**2 * var(c - (K - 1) / 2)) = sigma_worker**2`` (``var`` over the
    realised labels, ``ddof=0``), its cluster means sit ``separation * w`` apart.
    """
    sigma = k["sigma_worker"]
    z = rng.normal(size=(sizes.size, len(PAPER_WORKER_FEATURES)))
    within = {f: sigma for f in PAPER_WORKER_FEATURES}
    if k["n_clusters"] < 2:
        return sigma * z, None, {"within_cluster_sd": within}
    labels = quantile_bins(sizes, k["n_clusters"]) - 1
    centred = labels - (k["n_clusters"] - 1) / 2
    sep = k["cluster_separation"]
    w = sigma / np.sqrt(1.0 + sep**2 * centred.var())
    scale = np.full(len(PAPER_WORKER_FEATURES), sigma)
    cols = [PAPER_WORKER_FEATURES.index(f) for f in CLUSTER_FEATURES]
    scale[cols] = w
    beta = scale * z
    beta[:, cols] += (centred * sep * w)[:, None]
    within.update({f: float(w) for f in CLUSTER_FEATURES})
    info = {"within_cluster_sd": within, "cluster_mean_gap": float(sep * w),
            "cluster_shift_sd": float(sep * w * centred.std())}  # fmt: skip
    return beta, labels, info


def calibrate_alpha(offset: np.ndarray, prevalence: float) -> float:
    """Intercept ``a`` with ``mean(expit(a + offset)) == prevalence`` (root-finding)."""
    return float(brentq(lambda a: expit(a + offset).mean() - prevalence, -200.0, 200.0))


def _meta(
    k: Mapping[str, Any],
    alpha: float,
    y: np.ndarray,
    sizes: np.ndarray,
    labels: np.ndarray | None,
    beta_worker: np.ndarray,
) -> dict[str, Any]:
    """The twin's JSON-ready provenance (knobs, alphas, sizes, clusters)."""
    return {
        "generator": "evaluation.data.twin.make_paper_twin",
        "knobs": {key: (None if v is None else v) for key, v in k.items()},
        "alpha_paper": PAPER_TRUTH["alpha"], "alpha_calibrated": alpha,
        "target_prevalence": float(k["prevalence"]), "realised_prevalence": float(y.mean()),
        "site_size_min": int(sizes.min()), "site_size_max": int(sizes.max()),
        "site_size_median": float(np.median(sizes)),
        "beta_site_source": "paper" if k["sigma_site"] is None else "drawn",
        "site_scale": float(k["site_scale"]),
        "feature_scaling": "log_ columns logged; continuous columns standardised (ddof=0); "
                           "one-hot columns kept 0/1",
        "cluster_features": list(CLUSTER_FEATURES) if labels is not None else [],
        "cluster_labels": None if labels is None else labels.tolist(),
        "cluster_separation": float(k["cluster_separation"]) if labels is not None else None,
        "beta_worker_empirical_sd": float(beta_worker.std()),
        "beta_worker_empirical_sd_per_feature": dict(
            zip(PAPER_WORKER_FEATURES, beta_worker.std(axis=0).tolist(), strict=True)),
    }  # fmt: skip


def _simulate(k: Mapping[str, Any]) -> tuple[PaperTwinTables, HierData]:
    """Raw tables (with ``signed``) and the HierData of the twin with knobs ``k``."""
    _check_knobs(k)
    seqs = np.random.SeedSequence(int(k["seed"])).spawn(len(_STREAMS))
    streams = {s: np.random.default_rng(q) for s, q in zip(_STREAMS, seqs, strict=True)}
    tables = raw_tables(streams, int(k["n_worksites"]), int(k["n_workers"]))
    x_site = paper_site_features(tables.groups)
    x_worker = paper_worker_features(tables.units)
    sizes = tables.groups["n_discovered"].to_numpy()
    site = np.repeat(np.arange(sizes.size), sizes)
    if k["sigma_site"] is None:
        beta_site, sigma_site = PAPER_TRUTH["beta_site"].copy(), PAPER_TRUTH["sigma_site"]
    else:
        sigma_site = float(k["sigma_site"])
        beta_site = sigma_site * streams["beta_site"].normal(size=len(PAPER_SITE_FEATURES))
    beta_site = float(k["site_scale"]) * beta_site
    names = PAPER_SITE_FEATURES
    if k["design"] == "identified":
        x_site, beta_site, names, _ = fold_columns(x_site, beta_site, names, IDENTIFIED_DROP)
    beta_worker, labels, worker_info = _beta_worker(streams["beta_worker"], sizes, k)
    offset = (x_site @ beta_site)[site] + np.einsum("nk,nk->n", x_worker, beta_worker[site])
    alpha = calibrate_alpha(offset, float(k["prevalence"]))
    y = (streams["y"].random(site.size) < expit(alpha + offset)).astype(np.int8)
    units = tables.units.assign(signed=y)
    truth = {"alpha": alpha, "beta_site": beta_site, "sigma_site": sigma_site,
             "sigma_worker": float(k["sigma_worker"]), "beta_worker": beta_worker}  # fmt: skip
    meta = _meta(k, alpha, y, sizes, labels, beta_worker)
    meta.update(worker_info)
    meta["design"] = k["design"]
    meta["dropped_site_features"] = list(IDENTIFIED_DROP) if k["design"] == "identified" else []
    data = HierData(
        y=y,
        site=site,
        X_site=x_site,
        X_worker=x_worker,
        site_features=names,
        worker_features=PAPER_WORKER_FEATURES,
        worksite_ids=tuple(tables.groups["worksite_id"]),
        truth=truth,
        cluster_labels=labels,
        name="paper",
        meta=meta,
    )
    return PaperTwinTables(units=units, groups=tables.groups), data


def _knobs(**kwargs: Any) -> dict[str, Any]:
    """The knobs with the real-valued ones as floats (``ValueError`` naming a bad one)."""
    out = dict(kwargs)
    out["design"] = str(out["design"])
    for key in ("sigma_worker", "sigma_site", "prevalence", "cluster_separation", "site_scale"):
        if key == "sigma_site" and out[key] is None:
            continue
        try:
            out[key] = float(out[key])
        except (TypeError, ValueError):
            raise ValueError(f"data.{key} must be a number, got {out[key]!r}") from None
    return out


def make_paper_twin(
    n_worksites: int = 120,
    n_workers: int = 16553,
    sigma_worker: float = PAPER_TRUTH["sigma_worker"],
    sigma_site: float | None = None,
    n_clusters: int = 0,
    prevalence: float = 0.17,
    seed: int = 0,
    cluster_separation: float = 4.0,
    site_scale: float = 1.0,
    design: str = "paper",
) -> HierData:
    """Synthetic twin of the paper's data, with known truth.

    Parameters
    ----------
    n_worksites, n_workers : int
        Sizes (paper: 120 and 16,553).  Worksite sizes are uneven (lognormal weights, each at
        least ``min(5, n_workers // n_worksites)``); ``n_workers >= 2 * n_worksites``.
    sigma_worker : float
        The sd of every feature's ``beta_worker[:, k]`` over worksites (paper: 0.006294):
        ``Normal(0, sigma_worker)``, or with planted clusters the population sd of the
        mixture (see ``n_clusters``).
    sigma_site : float or None
        ``None`` uses the paper's ``beta_site`` (truth ``sigma_site`` = 2.141032); a number
        redraws ``beta_site ~ Normal(0, sigma_site)`` from the seed.
    n_clusters : int
        ``>= 2`` plants that many worksite clusters by size: cluster ``c`` (0 = smallest
        sites) shifts the ``first_convo_q1`` and ``n_notes`` effects by
        ``(c - (n_clusters - 1) / 2) * cluster_separation * w`` (larger sites, more positive
        effects, as the paper found), where the within-cluster sd ``w`` of those two features
        is scaled down so that the mixture's sd is ``sigma_worker`` (``meta`` records ``w``
        and the separation).  0 or 1: no clusters.  With clusters the ``beta_worker`` are a
        mixture (the fitted model is then misspecified on purpose) and
        ``truth["sigma_worker"]`` is the realised marginal sd, as for the other features.
    prevalence : float
        Target positive rate; ``alpha`` is recalibrated so that the expected prevalence given
        the features and coefficients equals it (``truth["alpha"]`` is that value).
    seed : int
    cluster_separation : float
        Distance between adjacent cluster means, in units of the within-cluster sd ``w``
        (the clusters' shape relative to their spread; the scale is set by ``sigma_worker``).
    site_scale : float
        Multiplies ``beta_site`` (1: the paper's; < 1 makes worksites less different and the
        data harder, see ``conf/data/paper_calibrated.yaml``).
    design : {"paper", "identified"}
        ``"identified"`` drops :data:`IDENTIFIED_DROP` from ``X_site`` (then ``[1 | X_site]``
        has full column rank); their effects are folded into the kept coefficients and the
        intercept, so every worker's linear predictor, and ``y``, are unchanged.

    Returns
    -------
    HierData
        Named ``"paper"``; features in :data:`PAPER_SITE_FEATURES` /
        :data:`PAPER_WORKER_FEATURES` order (``log_`` columns logged, continuous columns
        standardised, one-hot columns 0/1); ``truth`` has alpha, beta_site, sigma_site,
        sigma_worker, beta_worker (J x 7); ``meta`` records knobs, both alphas and sizes.

    Raises
    ------
    ValueError
        A knob out of range (the message names it).
    """
    return _simulate(_knobs(**locals()))[1]


def paper_twin_tables(
    n_worksites: int = 120,
    n_workers: int = 16553,
    sigma_worker: float = PAPER_TRUTH["sigma_worker"],
    sigma_site: float | None = None,
    n_clusters: int = 0,
    prevalence: float = 0.17,
    seed: int = 0,
    cluster_separation: float = 4.0,
    site_scale: float = 1.0,
    design: str = "paper",
) -> PaperTwinTables:
    """The raw ``units`` and ``groups`` tables behind :func:`make_paper_twin` (same knobs).

    ``paper_site_features(groups)`` and ``paper_worker_features(units)`` reproduce the twin's
    ``X_site`` and ``X_worker`` exactly; ``units["signed"]`` is its ``y``.
    """
    return _simulate(_knobs(**locals()))[0]
