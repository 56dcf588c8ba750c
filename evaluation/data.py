"""Data for the evaluator: the paper's synthetic twin, the data dispatcher and held-out splits.

The twin is built in three separable steps so a tabular loader can reproduce it exactly:

1. **Raw tables** (:func:`paper_twin_tables`): a ``groups`` table (one row per worksite, raw
   untransformed quantities such as ``n_discovered`` or ``campaign_length_days``) and a
   ``units`` table (one row per worker, with the outcome ``signed``).
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

import dataclasses
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit

from backends.spec import HierData

PAPER_SITE_FEATURES: tuple[str, ...] = (
    "pct_black_zip", "pct_latino_zip", "pct_male", "log_mean_agi_zip", "ndo", "mobilizing",
    "campaign_length_q1", "campaign_length_q2", "campaign_length_q3", "campaign_length_q4",
    "campaign_length_q5", "log_n_conversations", "log_n_contacted", "log_n_discovered",
    "log_n_edges", "log_mean_degree", "log_centrality_var", "log_centrality_mean",
)  # fmt: skip
PAPER_WORKER_FEATURES: tuple[str, ...] = (
    "is_male", "first_convo_q1", "first_convo_q2", "first_convo_q3", "first_convo_q4",
    "log_eigen_centrality", "n_notes",
)  # fmt: skip
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
#: Raw columns of the groups (worksite) and units (worker) tables.
GROUP_COLUMNS: tuple[str, ...] = (
    "worksite_id", "pct_black_zip", "pct_latino_zip", "pct_male", "mean_agi_zip", "ndo",
    "mobilizing", "campaign_length_days", "n_conversations", "n_contacted", "n_discovered",
    "n_edges", "mean_degree", "centrality_var", "centrality_mean",
)  # fmt: skip
UNIT_COLUMNS: tuple[str, ...] = (
    "worker_id", "worksite_id", "signed", "is_male", "first_convo_quartile", "eigen_centrality",
    "n_notes",
)  # fmt: skip
#: Worker features whose per-worksite effect is shifted between planted clusters.
CLUSTER_FEATURES: tuple[str, ...] = ("first_convo_q1", "n_notes")
DATA_KINDS: tuple[str, ...] = ("paper", "tables", "paper_tables")
SPLITS: tuple[str, ...] = ("workers", "worksites")
#: Data-config keys that are split settings or Hydra bookkeeping, not generator knobs.
NON_KNOB_KEYS: frozenset[str] = frozenset({"name", "kind", "test_fraction", "split"})
_STREAMS = ("sizes", "sites", "workers", "beta_site", "beta_worker", "y")
_MIN_SITE_SIZE = 5


class PaperTwinTables(NamedTuple):
    """The twin's raw tables.

    Attributes
    ----------
    units : pandas.DataFrame
        One row per worker, columns :data:`UNIT_COLUMNS`; ``first_convo_quartile`` is 1..4,
        or 0 for a worker never contacted (then all ``first_convo_q*`` indicators are 0).
    groups : pandas.DataFrame
        One row per worksite, columns :data:`GROUP_COLUMNS`, in ``worksite_id`` order.
    """

    units: pd.DataFrame
    groups: pd.DataFrame


class SplitRows(NamedTuple):
    """Row indices (into the full data) of the training and held-out parts."""

    train: np.ndarray
    test: np.ndarray


# ------------------------------------------------------------------------------------------
# Feature engineering (reusable by the tabular loader)
# ------------------------------------------------------------------------------------------
def standardize(x: np.ndarray) -> np.ndarray:
    """``(x - mean) / sd`` with ``ddof=0``; a constant column becomes all zeros."""
    x = np.asarray(x, dtype=float)
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


def one_hot(codes: np.ndarray, n_levels: int) -> np.ndarray:
    """Indicator matrix (n, n_levels) of integer codes 1..n_levels; code 0 gives a zero row."""
    codes = np.asarray(codes, dtype=np.int64)
    if codes.size and (codes.min() < 0 or codes.max() > n_levels):
        raise ValueError(f"one_hot: codes must lie in 0..{n_levels}")
    return (codes[:, None] == np.arange(1, n_levels + 1)[None, :]).astype(float)


def quantile_bins(x: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-count bins 1..n_bins of ``x`` by rank (ties broken by position)."""
    x = np.asarray(x, dtype=float)
    rank = np.empty(x.size, dtype=np.int64)
    rank[np.argsort(x, kind="stable")] = np.arange(x.size)
    return 1 + (rank * n_bins) // max(x.size, 1)


def paper_site_features(groups: pd.DataFrame) -> np.ndarray:
    """The 18 worksite features (:data:`PAPER_SITE_FEATURES` order) from the raw groups table."""
    g = groups
    cols = [standardize(g[c]) for c in ("pct_black_zip", "pct_latino_zip", "pct_male")]
    cols.append(standardize(np.log(g["mean_agi_zip"])))
    cols += [standardize(g["ndo"]), standardize(g["mobilizing"])]
    cols += list(one_hot(quantile_bins(g["campaign_length_days"], 5), 5).T)
    for c in ("n_conversations", "n_contacted", "n_discovered", "n_edges", "mean_degree",
              "centrality_var", "centrality_mean"):  # fmt: skip
        cols.append(standardize(np.log(g[c])))
    return np.column_stack(cols)


def paper_worker_features(units: pd.DataFrame) -> np.ndarray:
    """The 7 worker features (:data:`PAPER_WORKER_FEATURES` order) from the raw units table."""
    u = units
    cols = [standardize(u["is_male"])]
    cols += list(one_hot(u["first_convo_quartile"], 4).T)
    cols += [standardize(np.log(u["eigen_centrality"])), standardize(u["n_notes"])]
    return np.column_stack(cols)


# ------------------------------------------------------------------------------------------
# Raw generation
# ------------------------------------------------------------------------------------------
def _site_sizes(rng: np.random.Generator, n_worksites: int, n_workers: int) -> np.ndarray:
    """Uneven (lognormal-weighted) site sizes summing to ``n_workers``, each >= a floor."""
    floor = min(_MIN_SITE_SIZE, n_workers // n_worksites)
    weights = rng.lognormal(0.0, 0.8, size=n_worksites)
    share = (n_workers - floor * n_worksites) * weights / weights.sum()
    sizes = np.floor(share).astype(np.int64)
    left = n_workers - floor * n_worksites - sizes.sum()
    sizes[np.argsort(sizes - share, kind="stable")[:left]] += 1  # largest remainders
    return sizes + floor


def _rank_within(site: np.ndarray, key: np.ndarray) -> np.ndarray:
    """0-based rank of ``key`` within each site (descending)."""
    order = np.lexsort((-key, site))
    start = np.searchsorted(site[order], site[order], side="left")
    rank = np.empty(site.size, dtype=np.int64)
    rank[order] = np.arange(site.size) - start
    return rank


def _sites_raw(rng: np.random.Generator, sizes: np.ndarray) -> dict[str, np.ndarray]:
    """Worksite-level raw quantities (the worker-derived centrality columns come later)."""
    j = sizes.size
    zsize = standardize(np.log(sizes))
    urban = 0.4 * zsize + np.sqrt(1 - 0.16) * rng.normal(size=j)
    contact_p = expit(0.3 - 0.3 * zsize + 0.6 * rng.normal(size=j))
    n_contacted = np.maximum(1, rng.binomial(sizes, contact_p))
    degree = 3.0 * (sizes / 50.0) ** 0.35 * np.exp(0.3 * rng.normal(size=j))
    n_edges = np.clip(rng.poisson(sizes * degree / 2), 1, sizes * (sizes - 1) // 2)
    return {
        "pct_black_zip": expit(-1.3 + 0.5 * urban + 0.7 * rng.normal(size=j)),
        "pct_latino_zip": expit(-1.5 + 0.4 * urban + 0.9 * rng.normal(size=j)),
        "pct_male": rng.beta(20.0, 25.0, size=j),
        "mean_agi_zip": np.exp(np.log(60_000) + 0.25 * urban + 0.2 * rng.normal(size=j)),
        "ndo": np.tanh(rng.normal(0.2, 0.35, size=j)),
        "mobilizing": np.tanh(rng.normal(0.1, 0.35, size=j)),
        "campaign_length_days": np.exp(np.log(400) + 0.2 * zsize + 0.5 * rng.normal(size=j)),
        "n_conversations": n_contacted + rng.poisson(n_contacted * np.exp(rng.normal(0.3, 0.4, j))),
        "n_contacted": n_contacted,
        "n_discovered": sizes,
        "n_edges": n_edges,
        "mean_degree": 2.0 * n_edges / sizes,
        # Not a column: spread of log centrality (sparser networks are more unequal).
        "centrality_spread": 0.7
        * (n_edges / sizes / 2.0) ** -0.3
        * np.exp(0.25 * rng.normal(size=j)),
    }


def _workers_raw(
    rng: np.random.Generator, site: np.ndarray, sites: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Worker-level raw quantities given each worker's site index and the site table."""
    n = site.size
    latent_c = rng.normal(size=n)  # drives centrality, contact order and notes
    raw_c = np.exp(sites["centrality_spread"][site] * latent_c)
    norm = np.sqrt(np.bincount(site, weights=raw_c**2))
    eigen = raw_c / norm[site]  # unit L2 norm per site, as eigenvector centrality
    contacted = _rank_within(site, latent_c + rng.normal(size=n)) < sites["n_contacted"][site]
    # Early contact is likelier for central workers; mobilizing ties notes to early contact.
    t = expit(-0.5 * latent_c + rng.normal(size=n))
    quartile = np.where(contacted, 1 + np.minimum((4 * t).astype(np.int64), 3), 0)
    early = 0.5 - t
    log_rate = 0.3 + sites["ndo"][site] * latent_c + 2.0 * sites["mobilizing"][site] * early
    rate = np.where(contacted, np.exp(log_rate), 0.2)
    return {
        "is_male": rng.binomial(1, sites["pct_male"][site]).astype(np.int64),
        "first_convo_quartile": quartile,
        "eigen_centrality": eigen,
        "n_notes": rng.poisson(rate),
    }


def _raw_tables(
    streams: Mapping[str, np.random.Generator], n_worksites: int, n_workers: int
) -> PaperTwinTables:
    """Raw groups and units tables (``signed`` still 0).

    A site's workers are its discovered workers (``n_discovered`` = rows in ``units``);
    ``n_contacted`` of them (the most central, with noise) were contacted and have a
    first-conversation quartile; conversations >= contacted; edges grow faster than nodes
    (``mean_degree = 2 * n_edges / n_discovered``); eigenvector centralities have unit L2 norm
    per site, so ``centrality_mean`` and ``centrality_var`` fall with size.
    """
    sizes = _site_sizes(streams["sizes"], n_worksites, n_workers)
    site = np.repeat(np.arange(n_worksites), sizes)
    sites = _sites_raw(streams["sites"], sizes)
    workers = _workers_raw(streams["workers"], site, sites)
    eigen = workers["eigen_centrality"]
    sites["centrality_mean"] = np.bincount(site, weights=eigen) / sizes
    sites["centrality_var"] = (
        np.bincount(site, weights=eigen**2) / sizes - sites["centrality_mean"] ** 2
    )
    sites["centrality_var"] = np.maximum(sites["centrality_var"], 1e-12)
    width = max(3, len(str(n_worksites)))
    ids = np.array([f"WS{i + 1:0{width}d}" for i in range(n_worksites)])
    groups = pd.DataFrame({"worksite_id": ids, **sites})[list(GROUP_COLUMNS)]
    wwidth = max(5, len(str(n_workers)))
    units = pd.DataFrame({
        "worker_id": [f"W{i + 1:0{wwidth}d}" for i in range(n_workers)],
        "worksite_id": ids[site], "signed": 0, **workers,
    })[list(UNIT_COLUMNS)]  # fmt: skip
    return PaperTwinTables(units=units, groups=groups)


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


def _beta_worker(
    rng: np.random.Generator, sizes: np.ndarray, k: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-worksite worker coefficients and planted labels (larger sites -> higher label)."""
    z = rng.normal(size=(sizes.size, len(PAPER_WORKER_FEATURES)))
    beta = k["sigma_worker"] * z
    if k["n_clusters"] < 2:
        return beta, None
    labels = quantile_bins(sizes, k["n_clusters"]) - 1
    shift = (labels - (k["n_clusters"] - 1) / 2) * k["cluster_separation"] * k["sigma_worker"]
    cols = [PAPER_WORKER_FEATURES.index(f) for f in CLUSTER_FEATURES]
    beta[:, cols] += shift[:, None]
    return beta, labels


def calibrate_alpha(offset: np.ndarray, prevalence: float) -> float:
    """Intercept ``a`` with ``mean(expit(a + offset)) == prevalence`` (root-finding)."""
    return float(brentq(lambda a: expit(a + offset).mean() - prevalence, -200.0, 200.0))


def _simulate(k: Mapping[str, Any]) -> tuple[PaperTwinTables, HierData]:
    """Raw tables (with ``signed``) and the HierData of the twin with knobs ``k``."""
    _check_knobs(k)
    seqs = np.random.SeedSequence(int(k["seed"])).spawn(len(_STREAMS))
    streams = {s: np.random.default_rng(q) for s, q in zip(_STREAMS, seqs, strict=True)}
    tables = _raw_tables(streams, int(k["n_worksites"]), int(k["n_workers"]))
    x_site = paper_site_features(tables.groups)
    x_worker = paper_worker_features(tables.units)
    sizes = tables.groups["n_discovered"].to_numpy()
    site = np.repeat(np.arange(sizes.size), sizes)
    if k["sigma_site"] is None:
        beta_site, sigma_site = PAPER_TRUTH["beta_site"].copy(), PAPER_TRUTH["sigma_site"]
    else:
        sigma_site = float(k["sigma_site"])
        beta_site = sigma_site * streams["beta_site"].normal(size=len(PAPER_SITE_FEATURES))
    beta_worker, labels = _beta_worker(streams["beta_worker"], sizes, k)
    offset = (x_site @ beta_site)[site] + np.einsum("nk,nk->n", x_worker, beta_worker[site])
    alpha = calibrate_alpha(offset, float(k["prevalence"]))
    y = (streams["y"].random(site.size) < expit(alpha + offset)).astype(np.int8)
    units = tables.units.assign(signed=y)
    truth = {"alpha": alpha, "beta_site": beta_site, "sigma_site": sigma_site,
             "sigma_worker": float(k["sigma_worker"]), "beta_worker": beta_worker}  # fmt: skip
    meta = {
        "generator": "evaluation.data.make_paper_twin",
        "knobs": {key: (None if v is None else v) for key, v in k.items()},
        "alpha_paper": PAPER_TRUTH["alpha"], "alpha_calibrated": alpha,
        "target_prevalence": float(k["prevalence"]), "realised_prevalence": float(y.mean()),
        "site_size_min": int(sizes.min()), "site_size_max": int(sizes.max()),
        "site_size_median": float(np.median(sizes)),
        "beta_site_source": "paper" if k["sigma_site"] is None else "drawn",
        "feature_scaling": "log_ columns logged; continuous columns standardised (ddof=0); "
                           "one-hot columns kept 0/1",
        "cluster_features": list(CLUSTER_FEATURES) if labels is not None else [],
        "cluster_labels": None if labels is None else labels.tolist(),
        "beta_worker_empirical_sd": float(beta_worker.std()),
    }  # fmt: skip
    data = HierData(
        y=y,
        site=site,
        X_site=x_site,
        X_worker=x_worker,
        site_features=PAPER_SITE_FEATURES,
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
    for key in ("sigma_worker", "sigma_site", "prevalence", "cluster_separation"):
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
    sigma_worker: float = 0.0063,
    sigma_site: float | None = None,
    n_clusters: int = 0,
    prevalence: float = 0.17,
    seed: int = 0,
    cluster_separation: float = 4.0,
) -> HierData:
    """Synthetic twin of the paper's data, with known truth.

    Parameters
    ----------
    n_worksites, n_workers : int
        Sizes (paper: 120 and 16,553).  Worksite sizes are uneven (lognormal weights, each at
        least ``min(5, n_workers // n_worksites)``); ``n_workers >= 2 * n_worksites``.
    sigma_worker : float
        Scale of ``beta_worker[j, k] ~ Normal(0, sigma_worker)`` (paper: 0.006294).
    sigma_site : float or None
        ``None`` uses the paper's ``beta_site`` (truth ``sigma_site`` = 2.141032); a number
        redraws ``beta_site ~ Normal(0, sigma_site)`` from the seed.
    n_clusters : int
        ``>= 2`` plants that many worksite clusters by size: cluster ``c`` (0 = smallest
        sites) shifts the ``first_convo_q1`` and ``n_notes`` effects by
        ``(c - (n_clusters - 1) / 2) * cluster_separation * sigma_worker`` (larger sites, more
        positive effects, as the paper found).  0 or 1: no clusters.  With clusters the
        ``beta_worker`` are a mixture (the fitted model is then misspecified on purpose) and
        ``truth["sigma_worker"]`` is the within-cluster sd.
    prevalence : float
        Target positive rate; ``alpha`` is recalibrated so that the expected prevalence given
        the features and coefficients equals it (``truth["alpha"]`` is that value).
    seed : int
    cluster_separation : float
        Distance between adjacent cluster means, in units of ``sigma_worker``.

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
    sigma_worker: float = 0.0063,
    sigma_site: float | None = None,
    n_clusters: int = 0,
    prevalence: float = 0.17,
    seed: int = 0,
    cluster_separation: float = 4.0,
) -> PaperTwinTables:
    """The raw ``units`` and ``groups`` tables behind :func:`make_paper_twin` (same knobs).

    ``paper_site_features(groups)`` and ``paper_worker_features(units)`` reproduce the twin's
    ``X_site`` and ``X_worker`` exactly; ``units["signed"]`` is its ``y``.
    """
    return _simulate(_knobs(**locals()))[0]


# ------------------------------------------------------------------------------------------
# Held-out split
# ------------------------------------------------------------------------------------------
def _per_site_test_counts(
    sizes: np.ndarray, test_fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Held-out count per site: floor or ceil of ``test_fraction * n_j`` (largest remainders,
    random tie-break) so the total is ``round(test_fraction * N)``; at most ``n_j - 1``."""
    share = test_fraction * sizes
    counts = np.floor(share).astype(np.int64)
    extra = round(float(test_fraction * sizes.sum())) - int(counts.sum())
    order = np.lexsort((rng.random(sizes.size), counts - share))  # largest remainder first
    counts[order[: max(extra, 0)]] += 1
    return np.minimum(counts, sizes - 1)


def split_rows(
    data: HierData, test_fraction: float = 0.2, by: str = "workers", seed: int = 0
) -> SplitRows:
    """Train/test row indices; see :func:`split_data` (``test`` is empty when fraction is 0)."""
    if not 0 <= test_fraction < 1:
        raise ValueError(f"data.test_fraction must be in [0, 1), got {test_fraction!r}")
    if by not in SPLITS:
        raise ValueError(f"data.split must be one of {SPLITS}, got {by!r}")
    rows = np.arange(data.n_workers)
    if test_fraction == 0:
        return SplitRows(train=rows, test=rows[:0])
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5E17]))
    if by == "workers":
        n_test = _per_site_test_counts(np.bincount(data.site, minlength=data.n_worksites),
                                       test_fraction, rng)  # fmt: skip
        is_test = _rank_within(data.site, rng.random(data.n_workers)) < n_test[data.site]
    else:
        j = data.n_worksites
        n_sites = int(min(max(1, round(test_fraction * j)), j - 1))
        held = rng.choice(j, size=n_sites, replace=False)
        is_test = np.isin(data.site, held)
    return SplitRows(train=rows[~is_test], test=rows[is_test])


def split_data(
    data: HierData, test_fraction: float = 0.2, by: str = "workers", seed: int = 0
) -> tuple[HierData, HierData | None]:
    """Split into training and held-out data.

    Parameters
    ----------
    data : HierData
    test_fraction : float
        In [0, 1).  0 returns ``(data, None)``: fit on everything, score in-sample.
    by : {"workers", "worksites"}
        ``"workers"``: stratified by worksite, each worksite holds out the floor or ceiling of
        ``test_fraction * n_j`` of its workers (total ``round(test_fraction * N)``) but keeps
        at least one in train.
        ``"worksites"``: ``round(test_fraction * J)`` whole worksites are held out (at least
        one, never all).  Both parts keep every worksite coordinate (``HierData.subset``), so
        a held-out worksite's ``beta_worker`` comes from its prior — the right predictive.
    seed : int

    Returns
    -------
    (HierData, HierData or None)
        ``meta["split"]`` records by, test_fraction, seed, part and row count.

    Raises
    ------
    ValueError
        ``test_fraction`` outside [0, 1), unknown ``by``, nothing held out, or a part left
        with one class only.
    """
    idx = split_rows(data, test_fraction, by, seed)
    if test_fraction == 0:
        return data, None
    if idx.test.size == 0:
        raise ValueError(
            f"data.test_fraction={test_fraction} holds out no worker of {data.n_workers} "
            "(each worksite keeps one in train); raise it, or use 0 to score in-sample"
        )
    parts = []
    for part, rows in (("train", idx.train), ("test", idx.test)):
        missing = sorted({0, 1} - set(np.unique(data.y[rows]).tolist()))
        if missing:
            raise ValueError(
                f"split (data.split={by}, data.test_fraction={test_fraction}) leaves the {part} "
                f"set without class {missing[0]}; use more data or another test_fraction"
            )
        info = {"by": by, "test_fraction": float(test_fraction), "seed": int(seed),
                "part": part, "n_rows": int(rows.size)}  # fmt: skip
        sub = data.subset(rows, name=f"{data.name}:{part}")
        parts.append(dataclasses.replace(sub, meta={**sub.meta, "split": info}))
    return parts[0], parts[1]


# ------------------------------------------------------------------------------------------
# Dispatcher
# ------------------------------------------------------------------------------------------
def _plain(cfg: Mapping) -> dict[str, Any]:
    """A plain dict of a mapping or an OmegaConf config (interpolations resolved)."""
    try:
        from omegaconf import DictConfig, OmegaConf
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        return dict(cfg)
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    return dict(cfg)


def generator_knobs(cfg: Mapping) -> dict[str, Any]:
    """The generator knobs of a data config: all keys but split settings and ``_`` keys."""
    return {k: v for k, v in _plain(cfg).items()
            if k not in NON_KNOB_KEYS and not str(k).startswith("_")}  # fmt: skip


def load_data(cfg: Mapping) -> HierData:
    """Build the data set a data config describes, dispatching on ``cfg["kind"]``.

    ``"paper"``: :func:`make_paper_twin` with the config's knobs; ``"tables"`` and
    ``"paper_tables"``: :func:`evaluation.tables.load_tables`.  The split is not applied here
    (see :func:`split_from_config`).
    """
    kind = _plain(cfg).get("kind")
    if kind == "paper":
        knobs = generator_knobs(cfg)
        allowed = set(make_paper_twin.__code__.co_varnames[: make_paper_twin.__code__.co_argcount])
        unknown = sorted(set(knobs) - allowed)
        if unknown:
            raise ValueError(f"data: unknown keys {unknown} for kind 'paper'; "
                             f"knobs are {sorted(allowed)}")  # fmt: skip
        data = make_paper_twin(**knobs)
        name = str(_plain(cfg).get("name", data.name))
        return data if name == data.name else dataclasses.replace(data, name=name)
    if kind in ("tables", "paper_tables"):
        from evaluation.tables import load_tables

        return load_tables(cfg)
    raise ValueError(f"data.kind must be one of {DATA_KINDS}, got {kind!r}")


def split_from_config(data: HierData, cfg: Mapping) -> tuple[HierData, HierData | None]:
    """:func:`split_data` with ``test_fraction``, ``split`` and ``seed`` of a data config."""
    c = _plain(cfg)
    return split_data(data, test_fraction=float(c.get("test_fraction", 0.2)),
                      by=str(c.get("split", "workers")), seed=int(c.get("seed", 0)))  # fmt: skip
