"""Calibration across replications: empirical interval coverage and rank histograms of the truth.

For each complete run on synthetic data, the truth is rebuilt from the run's data config (the
generator is deterministic given its knobs and seed) and the normalised rank of every true
value among the run's posterior draws is computed: ``u = P(draw < truth)``.  Under a calibrated
posterior ``u`` is uniform; the truth lies in the central 90% interval iff ``0.05 <= u <= 0.95``.
The section appears when some scenario x method has at least :data:`MIN_REPLICATIONS` runs
(the ``calibration`` experiment).

Caveat: the twin fixes the variance components (and, unless ``data.sigma_site`` is set, the
site coefficients) across replications instead of drawing them from the prior, so this is
SBC-*style*: for the exchangeable blocks (``beta_worker``, and ``beta_site`` when redrawn) the
ranks are close to uniform under exact inference; for the fixed scalars they are a frequentist
coverage check.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from backends.spec import VAR_NAMES

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from backends.spec import HierData
    from evaluation.sweep.collect import RunRecord

log = logging.getLogger("ppl_compare.sweep")
MIN_REPLICATIONS = 5
MAX_DRAWS = 1000
N_BINS = 10


@lru_cache(maxsize=8)
def _data_from_json(cfg_json: str) -> HierData:
    from evaluation.data.load import load_data

    return load_data(json.loads(cfg_json))


def run_data(rec: RunRecord) -> HierData | None:
    """The run's full data set, rebuilt from its data config (None when it cannot be)."""
    cfg = rec.config.get("data")
    if not cfg:
        knobs = ((rec.metrics.get("data") or {}).get("meta") or {}).get("knobs")
        if not knobs:
            return None
        cfg = {"kind": "paper", **knobs}
    try:
        return _data_from_json(json.dumps(cfg, sort_keys=True, default=str))
    except (ValueError, TypeError, OSError, KeyError) as exc:
        log.warning("cannot rebuild the data of %s: %s", rec.name, exc)
        return None


def run_truth(rec: RunRecord) -> dict[str, np.ndarray] | None:
    """The run's true parameters (canonical names), or None for real data."""
    data = run_data(rec)
    return None if data is None or data.truth is None else dict(data.truth)


def normalised_ranks(draws: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``P(draw < truth) + P(draw == truth) / 2`` per element: draws (S, E), truth (E,)."""
    draws = np.asarray(draws, float).reshape(draws.shape[0], -1)
    truth = np.asarray(truth, float).ravel()
    below = (draws < truth).mean(axis=0)
    ties = (draws == truth).mean(axis=0)
    return below + 0.5 * ties


def run_ranks(rec: RunRecord) -> dict[str, np.ndarray] | None:
    """Normalised ranks of the truth per canonical block for one run (None if unavailable)."""
    import xarray as xr

    from evaluation.metrics.draws import param_draws

    path = rec.path / "posterior.nc"
    data = run_data(rec)
    if data is None or data.truth is None or not path.exists():
        return None
    with xr.open_dataset(path, group="posterior") as post:
        draws = param_draws(SimpleNamespace(posterior=post.load()), data)
    step = max(1, next(iter(draws.values())).shape[0] // MAX_DRAWS)
    return {v: normalised_ranks(draws[v][::step], data.truth[v])
            for v in VAR_NAMES if v in data.truth}  # fmt: skip


def _eligible(df: pd.DataFrame) -> pd.DataFrame:
    done = df[df["status"] == "complete"]
    if done.empty:
        return done
    sizes = done.groupby(["scenario", "method_label"])["run"].transform("size")
    return done[sizes >= MIN_REPLICATIONS]


def collect_ranks(df: pd.DataFrame, records: Sequence[RunRecord]) -> dict[tuple, list[dict]]:
    """(scenario, method) -> list over replications of {block: ranks}."""
    by_name = {r.name: r for r in records}
    out: dict[tuple, list[dict]] = {}
    for (scenario, method), g in _eligible(df).groupby(["scenario", "method_label"], sort=False):
        reps = [run_ranks(by_name[r]) for r in g["run"] if r in by_name]
        reps = [r for r in reps if r]
        if reps:
            out[(scenario, method)] = reps
    return out


def coverage_rows(ranks: dict[tuple, list[dict]]) -> pd.DataFrame:
    """Empirical 50% / 90% coverage per block (mean ± sd over replications) and uniformity."""
    import pandas as pd
    from scipy.stats import chisquare

    from evaluation.report.format import spread

    rows = []
    for (scenario, method), reps in ranks.items():
        for block in VAR_NAMES:
            us = [r[block] for r in reps if block in r]
            if not us:
                continue
            c50 = [float(np.mean((u >= 0.25) & (u <= 0.75))) for u in us]
            c90 = [float(np.mean((u >= 0.05) & (u <= 0.95))) for u in us]
            pooled = np.concatenate(us)
            counts = np.histogram(pooled, bins=N_BINS, range=(0, 1))[0]
            p = float(chisquare(counts).pvalue) if pooled.size >= 5 * N_BINS else float("nan")
            rows.append({"scenario": scenario, "method": method, "block": block,
                         "replications": len(us), "ranks": int(pooled.size),
                         "coverage50": spread(c50), "coverage90": spread(c90),
                         "uniformity χ² p": f"{p:.3g}" if np.isfinite(p) else "-"})  # fmt: skip
    return pd.DataFrame(rows)


def rank_histograms(ranks: dict[tuple, list[dict]]) -> Any:
    """Grid of rank histograms: rows = scenario x method, columns = blocks; the band is the
    central 99% range of a bin count under uniformity (binomial)."""
    from scipy.stats import binom

    from evaluation.sweep.figures import _plt

    plt = _plt()
    keys = list(ranks)
    fig, axes = plt.subplots(
        len(keys),
        len(VAR_NAMES),
        squeeze=False,
        figsize=(2.6 * len(VAR_NAMES), 1.9 * len(keys) + 0.6),
    )
    for i, (row, key) in enumerate(zip(axes, keys, strict=True)):
        for ax, block in zip(row, VAR_NAMES, strict=True):
            us = [r[block] for r in ranks[key] if block in r]
            pooled = np.concatenate(us) if us else np.zeros(0)
            if pooled.size:
                n = pooled.size
                lo, hi = binom.ppf([0.005, 0.995], n, 1 / N_BINS)
                ax.axhspan(lo, hi, color="0.85", zorder=0)
                ax.axhline(n / N_BINS, color="k", lw=0.8)
                ax.hist(pooled, bins=N_BINS, range=(0, 1), color="C0", alpha=0.8)
            ax.set_xticks([0, 0.5, 1])
            ax.tick_params(labelsize=7)
            if i == 0:
                ax.set_title(block, fontsize=9)
        row[0].set_ylabel(f"{key[1]}\n{key[0]}", fontsize=7)
    fig.tight_layout()
    return fig


def calibration_section(df: pd.DataFrame, records: Sequence[RunRecord], sweep_dir: Path) -> Any:
    """The Calibration section, or None when no scenario x method has enough replications."""
    from evaluation.sweep.report import Section, save

    ranks = collect_ranks(df, records)
    if not ranks:
        return None
    blocks: list[tuple[str, Any]] = [
        ("p", f"Normalised rank u = P(draw < truth) of every true value among the run's "
              f"posterior draws, pooled over replications (scenario x method groups with at "
              f"least {MIN_REPLICATIONS} runs). Coverage counts u in [0.25, 0.75] (50%) and "
              f"[0.05, 0.95] (90%). The twin keeps σ_worker and σ_site fixed across "
              f"replications, so their histograms are a frequentist check; β_worker (and "
              f"β_site when data.sigma_site is set) are redrawn per replication. The χ² "
              f"p-value treats the pooled ranks as independent, which they are not within a "
              f"run: read it as a flag, not a test."),
        ("table", coverage_rows(ranks)),
    ]  # fmt: skip
    fig = save(
        rank_histograms(ranks),
        sweep_dir,
        "rank_histograms",
        "Rank histograms of the truth among the posterior draws (grey: 99% band).",
    )
    if fig is not None:
        blocks.append(("figure", fig))
    return Section("Calibration across replications", blocks)
