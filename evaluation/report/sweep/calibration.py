"""Calibration across replications: empirical interval coverage and rank histograms of the truth.

For each complete run on synthetic data, the truth the run recorded (``truth.nc``) is read and
the normalised rank of every true
value among the run's posterior draws is computed: ``u = P(draw < truth)``.  Under a calibrated
posterior ``u`` is uniform.  Each run's interval coverage (the fraction of its true values
inside their central 50% / 90% posterior interval) is
:func:`evaluation.metrics.posterior.interval_coverage` — the one definition, the same number as
that run's ``posterior.recovery`` — and the table shows its spread over the replications.
The section appears when some scenario x method has at least :data:`MIN_REPLICATIONS` runs
(the ``calibration`` experiment).

Caveat: the twin fixes the variance components (and, unless ``data.sigma_site`` is set, the
site coefficients) across replications instead of drawing them from the prior, so this is
SBC-*style*: for the exchangeable blocks (``beta_worker``, and ``beta_site`` when redrawn) the
ranks are close to uniform under exact inference; for the fixed scalars they are a frequentist
coverage check.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import binom, chisquare

from backends.spec import VAR_NAMES
from evaluation import io
from evaluation.data.truth import truth_arrays, truth_labels
from evaluation.metrics.draws import select_labels, stacked
from evaluation.metrics.posterior import interval_coverage
from evaluation.report.format import fmt_number, spread
from evaluation.report.sweep.sections import Section, save
from evaluation.sweep.records import RunRecord, run_truth

log = logging.getLogger("ppl_compare.sweep")
MIN_REPLICATIONS = 5
MAX_DRAWS = 1000
N_BINS = 10
#: Nominal levels of the coverage columns (``coverage50``, ``coverage90``).
LEVELS: tuple[float, ...] = (0.5, 0.9)


class BlockCheck(NamedTuple):
    """One block of one run: normalised ranks of the truth, and coverage per level."""

    ranks: np.ndarray
    coverage: dict[float, float]


def normalised_ranks(draws: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``P(draw < truth) + P(draw == truth) / 2`` per element: draws (S, E), truth (E,)."""
    draws = np.asarray(draws, float).reshape(draws.shape[0], -1)
    truth = np.asarray(truth, float).ravel()
    below = (draws < truth).mean(axis=0)
    ties = (draws == truth).mean(axis=0)
    return below + 0.5 * ties


def run_checks(rec: RunRecord) -> dict[str, BlockCheck] | None:
    """Ranks (from at most :data:`MAX_DRAWS` draws) and interval coverage (from every draw,
    :func:`~evaluation.metrics.posterior.interval_coverage`) of each canonical block of one
    run; None when the run has no posterior or no recorded truth."""
    path = rec.path / "posterior.nc"
    truth = run_truth(rec)
    if truth is None or not path.exists():
        return None
    labels, values = truth_labels(truth), truth_arrays(truth)
    with xr.open_dataset(path, group="posterior") as post:
        post = post.load()
    draws = {v: np.asarray(select_labels(stacked(post, v), labels, "posterior").values, float)
             for v in values}  # fmt: skip
    step = max(1, next(iter(draws.values())).shape[0] // MAX_DRAWS)
    return {v: BlockCheck(normalised_ranks(draws[v][::step], values[v]),
                          {lv: interval_coverage(draws[v], values[v], lv) for lv in LEVELS})
            for v in VAR_NAMES if v in values}  # fmt: skip


def _eligible(df: pd.DataFrame) -> pd.DataFrame:
    done = df[df["status"] == "complete"]
    if done.empty:
        return done
    sizes = done.groupby(["scenario", "method_label"])["run"].transform("size")
    return done[sizes >= MIN_REPLICATIONS]


def collect_checks(df: pd.DataFrame, records: Sequence[RunRecord]) -> dict[tuple, list[dict]]:
    """(scenario, method) -> list over replications of {block: :class:`BlockCheck`}."""
    by_name = {r.name: r for r in records}
    out: dict[tuple, list[dict]] = {}
    for (scenario, method), g in _eligible(df).groupby(["scenario", "method_label"], sort=False):
        reps = [run_checks(by_name[r]) for r in g["run"] if r in by_name]
        reps = [r for r in reps if r]
        if reps:
            out[(scenario, method)] = reps
    return out


def coverage_rows(checks: dict[tuple, list[dict]]) -> pd.DataFrame:
    """Empirical 50% / 90% coverage per block (mean ± sd over replications) and uniformity."""
    rows = []
    for (scenario, method), reps in checks.items():
        for block in VAR_NAMES:
            runs = [r[block] for r in reps if block in r]
            if not runs:
                continue
            pooled = np.concatenate([c.ranks for c in runs])
            counts = np.histogram(pooled, bins=N_BINS, range=(0, 1))[0]
            p = float(chisquare(counts).pvalue) if pooled.size >= 5 * N_BINS else float("nan")
            row = {"scenario": scenario, "method": method, "block": block,
                   "replications": len(runs), "ranks": int(pooled.size)}  # fmt: skip
            for level in LEVELS:
                row[f"coverage{round(100 * level)}"] = spread([c.coverage[level] for c in runs])
            row["uniformity χ² p"] = fmt_number(p)
            rows.append(row)
    return pd.DataFrame(rows)


def rank_histograms(checks: dict[tuple, list[dict]]) -> Any:
    """Grid of rank histograms: rows = scenario x method, columns = blocks; the band is the
    central 99% range of a bin count under uniformity (binomial)."""
    plt = io.pyplot()
    keys = list(checks)
    fig, axes = plt.subplots(
        len(keys),
        len(VAR_NAMES),
        squeeze=False,
        figsize=(2.6 * len(VAR_NAMES), 1.9 * len(keys) + 0.6),
    )
    for i, (row, key) in enumerate(zip(axes, keys, strict=True)):
        for ax, block in zip(row, VAR_NAMES, strict=True):
            us = [r[block].ranks for r in checks[key] if block in r]
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
    checks = collect_checks(df, records)
    if not checks:
        return None
    blocks: list[tuple[str, Any]] = [
        ("p", f"Normalised rank u = P(draw < truth) of every true value among the run's "
              f"posterior draws, pooled over replications (scenario x method groups with at "
              f"least {MIN_REPLICATIONS} runs). Coverage: the fraction of a run's true values "
              f"inside their central 50% / 90% posterior interval (the run's own "
              f"posterior.recovery coverage), mean ± sd over replications. The twin keeps "
              f"σ_worker and σ_site fixed across replications, so their histograms are a "
              f"frequentist check; β_worker (and β_site when data.sigma_site is set) are "
              f"redrawn per replication. The χ² "
              f"p-value treats the pooled ranks as independent, which they are not within a "
              f"run: read it as a flag, not a test."),
        ("table", coverage_rows(checks)),
    ]  # fmt: skip
    fig = save(
        rank_histograms(checks),
        sweep_dir,
        "rank_histograms",
        "Rank histograms of the truth among the posterior draws (grey: 99% band).",
    )
    if fig is not None:
        blocks.append(("figure", fig))
    return Section("Calibration across replications", blocks)
