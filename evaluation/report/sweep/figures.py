"""Figures of the sweep report; each function returns a matplotlib Figure, or None when the
sweep lacks the metrics it needs.  Drawn through :func:`evaluation.io.pyplot` (the one Agg
set-up); saving (atomically) is :func:`evaluation.report.sweep.sections.save`.

Every figure shows each run (one point per seed) rather than only a mean, so the spread across
seeds is visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from backends.spec import VAR_NAMES
from evaluation import io
from evaluation.report.sweep.themes import THEMES, resolve
from evaluation.sweep.columns import first_of, numeric

_COL = "posterior.sigma_collapse"


def _done(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"] == "complete"]


def _jitter(n: int, width: float = 0.25) -> np.ndarray:
    return np.linspace(-width, width, n) if n > 1 else np.zeros(n)


def _cols(df: pd.DataFrame, scale: str, stat: str) -> pd.Series:
    return numeric(df, f"{_COL}.{scale}.method.{stat}").fillna(
        numeric(df, f"posterior.summary.{scale}.{stat}")
    )


def sigma_intervals(df: pd.DataFrame) -> Any:
    """σ_worker and σ_site: each run's 90% interval and median, by method, per scenario.

    The dashed line is the truth; the grey band the reference posterior's 90% interval.
    """
    done = _done(df)
    if done.empty or _cols(done, "sigma_worker", "median").isna().all():
        return None
    plt = io.pyplot()
    scenarios = list(dict.fromkeys(done["scenario"]))
    fig, axes = plt.subplots(len(scenarios), 2, squeeze=False,
                             figsize=(10, 0.5 + 0.45 * done["method_label"].nunique()
                                      * len(scenarios) + 0.8))  # fmt: skip
    for row, scenario in zip(axes, scenarios, strict=True):
        sdf = done[done["scenario"] == scenario]
        methods = list(dict.fromkeys(sdf["method_label"]))
        for ax, scale in zip(row, ("sigma_worker", "sigma_site"), strict=True):
            _interval_panel(ax, sdf, methods, scale)
            ax.set_title(f"{scale} — {scenario}" if len(scenarios) > 1 else scale, fontsize=9)
    fig.tight_layout()
    return fig


def _interval_panel(ax: Any, sdf: pd.DataFrame, methods: Sequence[str], scale: str) -> None:
    med, lo, hi = (_cols(sdf, scale, s) for s in ("median", "q05", "q95"))
    for y, method in enumerate(methods):
        idx = np.flatnonzero((sdf["method_label"] == method).to_numpy())
        for off, i in zip(_jitter(idx.size), idx, strict=True):
            ax.errorbar(med.iloc[i], y + off, xerr=[[med.iloc[i] - lo.iloc[i]],
                                                    [hi.iloc[i] - med.iloc[i]]],
                        fmt="o", ms=4, color=f"C{y % 10}", capsize=2)  # fmt: skip
    ref_lo = numeric(sdf, f"{_COL}.{scale}.reference.q05").median()
    ref_hi = numeric(sdf, f"{_COL}.{scale}.reference.q95").median()
    if np.isfinite(ref_lo) and np.isfinite(ref_hi):
        ax.axvspan(ref_lo, ref_hi, color="0.85", zorder=0, label="reference 90%")
    truth = first_of(sdf, [f"posterior.summary.{scale}.truth", f"{_COL}.{scale}.truth"])
    truth = np.asarray([t for t in truth if t is not None and np.isfinite(t)], float)
    for t in np.unique(truth):
        ax.axvline(t, color="k", ls="--", lw=1, label="truth")
    positive = np.concatenate([lo.to_numpy(), hi.to_numpy(), truth])
    positive = positive[np.isfinite(positive) & (positive > 0)]
    if positive.size and positive.max() / positive.min() > 30:
        ax.set_xscale("log")
    ax.set_yticks(range(len(methods)), methods, fontsize=8)
    ax.set_xlabel(f"{scale} (median, 90% interval)")
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        uniq = dict(zip(labels, handles, strict=True))
        ax.legend(uniq.values(), uniq.keys(), fontsize=7, loc="best")


def _strip(
    ax: Any,
    groups: Sequence[tuple[str, np.ndarray]],
    color: str = "C0",
    marker: str = "o",
    label: str | None = None,
    offset: float = 0.0,
) -> None:
    for x, (_, values) in enumerate(groups):
        v = values[np.isfinite(values)]
        if v.size:
            ax.plot(
                x + offset + _jitter(v.size, 0.12),
                v,
                marker,
                color=color,
                ms=4,
                alpha=0.8,
                ls="none",
                label=label if x == 0 else None,
            )
            ax.hlines(v.mean(), x + offset - 0.2, x + offset + 0.2, color=color, lw=2)


def _category_groups(done: pd.DataFrame, col: str | None) -> list[tuple[str, np.ndarray]]:
    out = []
    one = done["scenario"].nunique() == 1
    for (scenario, method), g in done.groupby(["scenario", "method_label"], sort=False):
        out.append((method if one else f"{method}\n{scenario}", numeric(g, col).to_numpy()))
    return out


def coverage_plot(df: pd.DataFrame) -> Any:
    """Empirical 90% and 50% coverage of β_worker and β_site by method (one point per run)."""
    done = _done(df)
    metrics = {mt.label: mt for mt in THEMES[next(iter(THEMES))]}
    panels = [("β_worker", metrics["β_worker cov90"], metrics["β_worker cov50"]),
              ("β_site", metrics["β_site cov90"], metrics["β_site cov50"])]  # fmt: skip
    panels = [(n, resolve(done, a), resolve(done, b)) for n, a, b in panels]
    panels = [p for p in panels if p[1] or p[2]]
    if done.empty or not panels:
        return None
    plt = io.pyplot()
    n_cat = done.groupby(["scenario", "method_label"]).ngroups
    fig, axes = plt.subplots(
        len(panels), 1, squeeze=False, figsize=(max(6, 0.7 * n_cat + 2), 3.2 * len(panels))
    )
    for ax, (name, c90, c50) in zip(axes[:, 0], panels, strict=True):
        g90, g50 = _category_groups(done, c90), _category_groups(done, c50)
        _strip(ax, g90, "C0", "o", "90% interval", -0.15)
        _strip(ax, g50, "C1", "s", "50% interval", 0.15)
        ax.axhline(0.9, color="C0", ls="--", lw=1)
        ax.axhline(0.5, color="C1", ls="--", lw=1)
        ax.set_xticks(range(len(g90)), [k for k, _ in g90], fontsize=7, rotation=30, ha="right")
        ax.set(ylim=(-0.02, 1.02), ylabel="coverage", title=f"{name}: truth inside the interval")
        ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def ref_stat(df: pd.DataFrame, block: str, stat: str) -> pd.Series:
    """A block statistic against the configured reference, else against the sweep's MCMC run of
    the same data (:mod:`evaluation.sweep.cross`)."""
    return numeric(df, f"reference.blocks.{block}.{stat}").fillna(
        numeric(df, f"vs_nuts.blocks.{block}.{stat}")
    )


def _box_panel(ax: Any, done: pd.DataFrame, values: pd.Series, methods: list[str]) -> None:
    data = [values[done.method_label == mth].dropna().to_numpy() for mth in methods]
    ax.boxplot([d if d.size else [np.nan] for d in data], widths=0.5, showfliers=False)
    for s, scenario in enumerate(dict.fromkeys(done["scenario"])):
        for x, mth in enumerate(methods):
            v = values[(done.method_label == mth) & (done.scenario == scenario)].dropna()
            ax.plot(x + 1 + _jitter(v.size, 0.15), v.to_numpy(), "o", ms=3,
                    color=f"C{s % 10}", label=scenario if x == 0 else None)  # fmt: skip
    ax.set_xticks(range(1, len(methods) + 1), methods, rotation=35, ha="right", fontsize=7)


def _floor_marks(ax: Any, done: pd.DataFrame, floors: pd.Series, methods: list[str]) -> None:
    """Each run's noise floor (the same number for two chain halves of the exact posterior,
    :mod:`evaluation.metrics.floors`) as a grey cross beside its method's box."""
    label = "floor (exact vs exact)"
    for x, mth in enumerate(methods):
        v = floors[done.method_label == mth].dropna().to_numpy()
        if v.size:
            ax.plot(x + 1.3 + _jitter(v.size, 0.05), v, "x", ms=5, color="0.45", label=label)
            label = None


def block_distributions(df: pd.DataFrame) -> Any:
    """Per block: sd ratio (log scale) and |standardised mean error| vs the reference, by method.

    Boxes pool the sweep's runs per method; points are runs, coloured by scenario; grey crosses
    are the runs' noise floors (where known), so a box level with its crosses is noise.
    """
    done = _done(df)
    stats = [("sd_ratio_median", "sd ratio (median over elements)", True),
             ("sme_mean_abs", "|standardised mean error| (mean)", False)]  # fmt: skip
    blocks = [b for b in VAR_NAMES if ref_stat(done, b, "sd_ratio_median").notna().any()]
    if done.empty or not blocks:
        return None
    plt = io.pyplot()
    methods = list(dict.fromkeys(done["method_label"]))
    fig, axes = plt.subplots(
        2, len(blocks), squeeze=False, figsize=(2.2 + 0.55 * len(methods) * len(blocks), 7)
    )
    for row, (stat, ylabel, log) in zip(axes, stats, strict=True):
        for k, (ax, block) in enumerate(zip(row, blocks, strict=True)):
            _box_panel(ax, done, ref_stat(done, block, stat), methods)
            _floor_marks(ax, done, ref_stat(done, block, f"{stat}_floor"), methods)
            if log:
                ax.set_yscale("log")
                ax.axhline(1.0, color="k", ls="--", lw=1)
            else:
                ax.set_ylim(bottom=0)
            ax.set_title(block, fontsize=9)
            ax.set_ylabel(ylabel if k == 0 else "", fontsize=8)
    if done["scenario"].nunique() > 1 or axes[0, -1].get_legend_handles_labels()[0]:
        axes[0, -1].legend(fontsize=6, loc="best")
    fig.tight_layout()
    return fig


def khat_plot(df: pd.DataFrame) -> Any:
    """PSIS k̂ of each VI run by method; 0.5 and 0.7 marked (above 0.7: unreliable)."""
    done = _done(df)
    col = resolve(done, THEMES["Diagnostics"][0])
    if done.empty or col is None:
        return None
    plt = io.pyplot()
    groups = _category_groups(done, col)
    groups = [g for g in groups if np.isfinite(g[1]).any()]
    fig, ax = plt.subplots(figsize=(max(5, 0.7 * len(groups) + 2), 3.5))
    _strip(ax, groups, "C3")
    for level, style in ((0.5, ":"), (0.7, "--")):
        ax.axhline(level, color="k", ls=style, lw=1)
    ax.set_xticks(range(len(groups)), [k for k, _ in groups], fontsize=7, rotation=30, ha="right")
    ax.set(ylabel="PSIS k̂", title="Pareto k̂ of the importance weights p/q (VI runs)")
    fig.tight_layout()
    return fig


def ari_plot(df: pd.DataFrame, pairwise: dict[str, Any]) -> Any:
    """Cluster ARI by method (vs NUTS on the same data, vs planted, across draws) and, per
    scenario, the method x method matrix of mean cross-run ARI."""
    done = _done(df)
    cols = [("ARI vs NUTS", "cross.ari_vs_nuts"), ("ARI vs planted", "clustering.ari_truth"),
            ("ARI across draws", "clustering.ari_draws.mean")]  # fmt: skip
    cols = [(n, c) for n, c in cols if numeric(done, c).notna().any()]
    if done.empty or (not cols and not pairwise):
        return None
    plt = io.pyplot()
    shown = list(pairwise.items())[:4]
    n_panels = (1 if cols else 0) + len(shown)
    fig, axes = plt.subplots(1, n_panels, squeeze=False, figsize=(5.5 * n_panels, 4.5))
    axes = list(axes[0])
    if cols:
        ax = axes.pop(0)
        groups = _category_groups(done, None)
        for k, (name, col) in enumerate(cols):
            _strip(ax, _category_groups(done, col), f"C{k}", "o", name, (k - 1) * 0.2)
        ax.set_xticks(
            range(len(groups)), [g for g, _ in groups], fontsize=7, rotation=30, ha="right"
        )
        low = min([-0.1] + [float(numeric(done, c).min()) - 0.05 for _, c in cols])
        ax.set(ylim=(low, 1.05), ylabel="adjusted Rand index", title="cluster agreement")
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.legend(fontsize=7, loc="lower left")
    for ax, (scenario, (methods, mat)) in zip(axes, shown, strict=True):
        im = ax.imshow(mat, vmin=0, vmax=1, cmap="viridis")
        ax.set_xticks(range(len(methods)), methods, rotation=40, ha="right", fontsize=7)
        ax.set_yticks(range(len(methods)), methods, fontsize=7)
        for i in range(len(methods)):
            for j in range(len(methods)):
                if np.isfinite(mat[i, j]):
                    ax.text(
                        j,
                        i,
                        f"{mat[i, j]:.2f}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="w" if mat[i, j] < 0.6 else "k",
                    )
        ax.set_title(f"cross-method ARI — {scenario}", fontsize=9)
        fig.colorbar(im, ax=ax, shrink=0.7)
    fig.tight_layout()
    return fig


def cost_plot(df: pd.DataFrame) -> Any:
    """Fit wall time by method (bar = mean over runs, whiskers = min–max), log scale; with
    ms/step (VI) and ESS per second (NUTS) when known."""
    done = _done(df)
    fit = numeric(done, "timing.fit_s")
    if done.empty or fit.isna().all():
        return None
    plt = io.pyplot()
    panels = [("fit wall time (s)", "timing.fit_s"), ("ms per step (VI)", "cost.ms_per_step"),
              ("ESS (min bulk) per s (NUTS)", "cost.ess_per_s")]  # fmt: skip
    panels = [(n, c) for n, c in panels if numeric(done, c).notna().any()]
    methods = list(dict.fromkeys(done["method_label"]))
    fig, axes = plt.subplots(
        1, len(panels), squeeze=False, figsize=(4.5 * len(panels), 0.8 + 0.4 * len(methods))
    )
    for ax, (name, col) in zip(axes[0], panels, strict=True):
        vals = [numeric(done[done.method_label == mth], col).dropna() for mth in methods]
        mean = np.array([v.mean() if len(v) else np.nan for v in vals])
        lo = np.array([v.min() if len(v) else np.nan for v in vals])
        hi = np.array([v.max() if len(v) else np.nan for v in vals])
        y = np.arange(len(methods))
        ax.barh(y, mean, color=[f"C{i % 10}" for i in y], alpha=0.75)
        ax.errorbar(mean, y, xerr=[mean - lo, hi - mean], fmt="none", color="k", capsize=3)
        ax.set_yticks(y, methods, fontsize=8)
        if np.nanmin(lo) > 0 and np.nanmax(hi) / np.nanmin(lo) > 20:
            ax.set_xscale("log")
        ax.set_xlabel(name)
    fig.tight_layout()
    return fig
