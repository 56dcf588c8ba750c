"""Feature engineering shared by the synthetic twin and the tabular loader (a leaf module).

The paper's feature names, and the transforms that build its design from raw columns:
:func:`standardize` (mean 0, sd 1, ``ddof=0``), :func:`one_hot`, :func:`quantile_bins`,
:func:`paper_site_features` and :func:`paper_worker_features`.  Imports nothing of the project.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def rank_within(site: np.ndarray, key: np.ndarray) -> np.ndarray:
    """0-based rank of ``key`` within each site (descending)."""
    order = np.lexsort((-key, site))
    start = np.searchsorted(site[order], site[order], side="left")
    rank = np.empty(site.size, dtype=np.int64)
    rank[order] = np.arange(site.size) - start
    return rank
