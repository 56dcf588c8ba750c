"""The twin's raw tables (step 1 of :mod:`evaluation.data.twin`): worksites and workers with
raw, untransformed quantities, before features, truth and outcome.

A site's workers are its discovered workers; the most central of them (with noise) were
contacted; edges grow faster than nodes; eigenvector centralities have unit L2 norm per site.
Each block draws from its own generator (``streams``: ``sizes``, ``sites``, ``workers``), so
the knobs of the truth never change the tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import expit

from evaluation.data.features import GROUP_COLUMNS, UNIT_COLUMNS, rank_within, standardize

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


def _site_sizes(rng: np.random.Generator, n_worksites: int, n_workers: int) -> np.ndarray:
    """Uneven (lognormal-weighted) site sizes summing to ``n_workers``, each >= a floor."""
    floor = min(_MIN_SITE_SIZE, n_workers // n_worksites)
    weights = rng.lognormal(0.0, 0.8, size=n_worksites)
    share = (n_workers - floor * n_worksites) * weights / weights.sum()
    sizes = np.floor(share).astype(np.int64)
    left = n_workers - floor * n_worksites - sizes.sum()
    sizes[np.argsort(sizes - share, kind="stable")[:left]] += 1  # largest remainders
    return sizes + floor


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
    contacted = rank_within(site, latent_c + rng.normal(size=n)) < sites["n_contacted"][site]
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


def raw_tables(
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
