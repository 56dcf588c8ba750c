"""Held-out splits: stratified by worksite (``workers``) or whole worksites (``worksites``)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from backends.spec import HierData
from evaluation.config import plain
from evaluation.data.features import rank_within

log = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("workers", "worksites")
#: A worksite the split leaves with fewer training workers than this (and that had at least
#: this many) is "thin": its worker effects are learned from one worker.
MIN_TRAIN_WORKERS: int = 2
#: Warn when more than this share of the worksites is thin after a ``workers`` split.
MAX_THIN_SHARE: float = 0.25


class SplitRows(NamedTuple):
    """Row indices (into the full data) of the training and held-out parts."""

    train: np.ndarray
    test: np.ndarray


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
        is_test = rank_within(data.site, rng.random(data.n_workers)) < n_test[data.site]
    else:
        j = data.n_worksites
        n_sites = int(min(max(1, round(test_fraction * j)), j - 1))
        held = rng.choice(j, size=n_sites, replace=False)
        is_test = np.isin(data.site, held)
    return SplitRows(train=rows[~is_test], test=rows[is_test])


def _warn_if_thin(data: HierData, idx: SplitRows, test_fraction: float, by: str) -> None:
    """Log one warning when the split leaves too little training data per worksite."""
    train = np.bincount(data.site[idx.train], minlength=data.n_worksites)
    if by == "worksites":
        kept = int(np.sum(train > 0))
        if kept < MIN_TRAIN_WORKERS:
            log.warning("data.test_fraction=%g (data.split=worksites) leaves %d of %d worksites "
                        "for training; sigma_site cannot be learned from it — lower "
                        "data.test_fraction", test_fraction, kept, data.n_worksites)  # fmt: skip
        return
    sizes = np.bincount(data.site, minlength=data.n_worksites)
    thin = int(np.sum((train < MIN_TRAIN_WORKERS) & (sizes >= MIN_TRAIN_WORKERS)))
    if thin > MAX_THIN_SHARE * data.n_worksites:
        log.warning("data.test_fraction=%g leaves fewer than %d training workers in %d of %d "
                    "worksites (%d training workers in all); their worker effects rest on one "
                    "worker each — lower data.test_fraction", test_fraction, MIN_TRAIN_WORKERS,
                    thin, data.n_worksites, idx.train.size)  # fmt: skip


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
        ``meta["split"]`` records by, test_fraction, seed, part and row count.  A logged
        warning (``logging``) says so when more than :data:`MAX_THIN_SHARE` of the worksites
        keep fewer than :data:`MIN_TRAIN_WORKERS` training workers (``workers``), or fewer
        than 2 worksites are left for training (``worksites``).

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
    _warn_if_thin(data, idx, test_fraction, by)
    return parts[0], parts[1]


def split_from_config(data: HierData, cfg: Mapping) -> tuple[HierData, HierData | None]:
    """:func:`split_data` with ``test_fraction``, ``split`` and ``seed`` of a data config."""
    c = plain(cfg)
    return split_data(data, test_fraction=float(c.get("test_fraction", 0.2)),
                      by=str(c.get("split", "workers")), seed=int(c.get("seed", 0)))  # fmt: skip
