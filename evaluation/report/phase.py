"""Phase tables: one metric over (true sigma_worker x method) from a sweep's comparison table.

The numbers are those of the sweep report (``comparison.csv`` columns, see
:mod:`evaluation.sweep.cross`); here they are only re-shaped into one table per metric, rows =
methods, columns = true sigma_worker, with the NUTS-vs-NUTS noise floor beside the numbers that
have one, and drawn as a grid of heat maps (the phase diagram).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from evaluation.io import pyplot
from evaluation.sweep.claims import Pair
from evaluation.sweep.columns import first_of, numeric, truthy

#: beta_site's sd ratio against the run's reference, else against the sweep's NUTS run.
SD_RATIO = (
    "reference.blocks.beta_site.sd_ratio_median",
    "vs_nuts.blocks.beta_site.sd_ratio_median",
)
#: Column holding each run's true sigma_worker.
SIGMA_COLUMNS: tuple[str, ...] = ("data.sigma_worker_truth", "config.data.sigma_worker")


class PhaseMetric(NamedTuple):
    """One panel of the phase diagram.

    Attributes
    ----------
    key : str
        Short name (file names, dict keys).
    label : str
        Panel title / table caption.
    column : str or tuple of str
        ``comparison.csv`` column (or a derived one, see :func:`add_derived`); a tuple: the
        first column that has a value, row by row (e.g. the run's own reference section, else
        the sweep's comparison with the NUTS run of the same data).
    target : float or None
        The value of a perfect method (the colour map is centred there).
    floor : str, tuple of str or None
        Column(s) of the value's Monte Carlo noise floor, shown beside it.
    digits : int
    ratio : bool
        A ratio (coloured by |log(value / target)|, so 0.5 and 2 are equally far off).
    """

    key: str
    label: str
    column: str | tuple[str, ...]
    target: float | None
    floor: str | tuple[str, ...] | None = None
    digits: int = 2
    ratio: bool = False


PHASE_METRICS: tuple[PhaseMetric, ...] = (
    PhaseMetric("coverage", "β_site 90% coverage, identified quantities (target 0.90)",
                "posterior.beta_site_identified_coverage90", 0.9),
    PhaseMetric("sd_ratio", "β_site posterior sd / NUTS sd, median (target 1)",
                SD_RATIO, 1.0, tuple(f"{c}_floor" for c in SD_RATIO), ratio=True),
    PhaseMetric("sigma_ratio", "σ_worker posterior median / truth (target 1)",
                "derived.sigma_worker_over_truth", 1.0, ratio=True),
    PhaseMetric("sigma_vs_nuts", "σ_worker median / NUTS median (target 1)",
                "cross.sigma_worker_ratio", 1.0, ratio=True),
    PhaseMetric("khat", "PSIS k̂ of the approximation (≤ 0.7 trustworthy)",
                "diagnostics.vi.khat", None, digits=1),
    PhaseMetric("flips", "paper conclusions that flip vs NUTS", "derived.flips", 0.0,
                "derived.flips_floor", digits=0),
    PhaseMetric("ari_nuts", "cluster ARI vs NUTS's clustering (target 1)",
                "cross.ari_vs_nuts", 1.0, "cross.ari_vs_nuts_floor"),
    PhaseMetric("ari_planted", "cluster ARI vs the planted clusters", "clustering.ari_truth",
                1.0),
    PhaseMetric("failed", "approximation failed the rule (share of runs; 1 = failed)",
                "derived.failed", 0.0, digits=0),
    PhaseMetric("fit_s", "fit seconds (cached reference: its one fit)", "timing.fit_s", None,
                digits=0),
)  # fmt: skip


def values(df: pd.DataFrame, columns: str | tuple[str, ...] | None) -> pd.Series:
    """Numbers of ``columns`` (the first with a value, row by row); NaN where none has one."""
    cols = (columns,) if isinstance(columns, str) else tuple(columns or ())
    return pd.to_numeric(first_of(df, cols), errors="coerce").astype(float)


def sigma_column(df: pd.DataFrame) -> pd.Series:
    """Each run's true sigma_worker (NaN where unknown, e.g. real data)."""
    for col in SIGMA_COLUMNS:
        if col in df:
            return numeric(df, col)
    return pd.Series(np.nan, index=df.index)


def add_derived(df: pd.DataFrame, pairs: Sequence[Pair]) -> pd.DataFrame:
    """Add ``derived.sigma_worker_over_truth``, ``derived.flips``, ``derived.flips_floor`` and
    ``derived.failed`` (:func:`failed_share`).

    ``flips`` is the number of identified claims whose verdict differs from the NUTS run of
    the same data (:mod:`evaluation.sweep.claims`); ``flips_floor`` is the same count for the
    other NUTS run of those data (NUTS vs NUTS), where the sweep has one.
    """
    df = df.copy()
    median = numeric(df, "posterior.summary.sigma_worker.median")
    df["derived.sigma_worker_over_truth"] = median / sigma_column(df).replace(0.0, np.nan)
    flips = {(p.scenario, p.replicate, p.method): sum(r["changed"] for r in p.rows)
             for p in pairs}  # fmt: skip
    floor: dict[tuple[str, str], float] = {}
    for p in pairs:
        if p.baseline:
            floor[(p.scenario, p.replicate)] = sum(r["changed"] for r in p.rows)
    keys = list(zip(df["scenario"], df["replicate"], df["method_label"], strict=True))
    df["derived.flips"] = [flips.get(k, np.nan) for k in keys]
    df["derived.flips_floor"] = [floor.get(k[:2], np.nan) for k in keys]
    df["derived.failed"] = failed_share(df)
    return df


def failed_share(df: pd.DataFrame) -> pd.Series:
    """1.0 where an approximation failed (``verdict.failed``, :mod:`evaluation.metrics.verdict`),
    0.0 where it passed, NaN where not checked or not an approximation."""
    if "verdict.failed" not in df:
        return pd.Series(np.nan, index=df.index)
    col = df["verdict.failed"]
    return pd.Series([np.nan if v is None or (isinstance(v, float) and np.isnan(v))
                      else float(truthy(v)) for v in col], index=df.index)  # fmt: skip


def phase_table(df: pd.DataFrame, metric: PhaseMetric) -> pd.DataFrame:
    """Rows = methods (sweep order), columns = true sigma_worker; mean over seeds."""
    done = df[df["status"] == "complete"]
    vals = values(done, metric.column)
    if done.empty or vals.isna().all():
        return pd.DataFrame()
    frame = pd.DataFrame({
        "method": done["method_label"], "sigma": sigma_column(done), "value": vals,
    })  # fmt: skip
    methods = list(dict.fromkeys(frame["method"]))
    out = frame.pivot_table(index="method", columns="sigma", values="value", aggfunc="mean",
                            dropna=False)  # fmt: skip
    return out.reindex([m for m in methods if m in out.index])


def floor_table(df: pd.DataFrame, metric: PhaseMetric) -> pd.DataFrame:
    """The noise floor of ``metric`` per sigma_worker (median over the runs that carry one)."""
    done = df[df["status"] == "complete"]
    floor = values(done, metric.floor)
    if floor.isna().all():
        return pd.DataFrame()
    frame = pd.DataFrame({"sigma": sigma_column(done), "floor": floor})
    return frame.groupby("sigma")["floor"].median().to_frame().T


def cell_text(value: Any, digits: int) -> str:
    """A table cell: the number, or "–" (not applicable / not computed)."""
    if value is None or not np.isfinite(value):
        return "–"
    return f"{value:.{digits}f}"


def markdown_table(table: pd.DataFrame, floor: pd.DataFrame, digits: int) -> str:
    """``table`` (and its floor row) as a Markdown table; columns labelled σ_worker = x."""
    if table.empty:
        return "_(no runs)_"
    cols = list(table.columns)
    head = "| method | " + " | ".join(f"σw = {c:g}" for c in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 1)]
    for method, row in table.iterrows():
        lines.append(f"| {method} | " + " | ".join(cell_text(v, digits) for v in row) + " |")
    if not floor.empty:
        vals = [floor.iloc[0].get(c, np.nan) for c in cols]
        lines.append("| _noise floor (NUTS vs NUTS)_ | "
                     + " | ".join(f"_{cell_text(v, digits)}_" for v in vals) + " |")  # fmt: skip
    return "\n".join(lines)


def phase_figure(df: pd.DataFrame, metrics: Sequence[PhaseMetric], title: str) -> Any:
    """A grid of heat maps (methods x sigma_worker), one per metric; None without runs."""
    tables = [(m, phase_table(df, m)) for m in metrics]
    tables = [(m, t) for m, t in tables if not t.empty and np.isfinite(t.to_numpy()).any()]
    if not tables:
        return None
    plt = pyplot()
    n_rows = int(np.ceil(len(tables) / 3))
    n_methods = max(len(t) for _, t in tables)
    fig, axes = plt.subplots(n_rows, 3, figsize=(15, n_rows * (0.9 + 0.32 * n_methods)),
                             squeeze=False)  # fmt: skip
    for ax, (metric, table) in zip(axes.flat, tables, strict=False):
        _panel(ax, table, metric)
    for ax in axes.flat[len(tables) :]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def _panel(ax: Any, table: pd.DataFrame, metric: PhaseMetric) -> None:
    mat = table.to_numpy(dtype=float)
    if metric.target is None:
        shown = np.ma.masked_invalid(mat)
        im_kw = {"cmap": "Greys", "vmin": 0.0, "vmax": _finite_max(mat) * 1.6 or 1.0}
    else:  # distance from the target, on a log scale for ratios
        if metric.ratio:
            positive = np.where(mat > 0, mat, np.nan)
            dist = np.abs(np.log(positive / metric.target))
        else:
            dist = np.abs(mat - metric.target)
        shown = np.ma.masked_invalid(dist)
        im_kw = {"cmap": "Reds", "vmin": 0.0, "vmax": max(_finite_max(dist), 0.2) * 1.3}
    ax.imshow(shown, aspect="auto", **im_kw)
    for i in range(mat.shape[0]):
        for j in range(mat.shape[1]):
            ax.text(j, i, cell_text(mat[i, j], metric.digits), ha="center", va="center",
                    fontsize=7)  # fmt: skip
    ax.set_xticks(range(mat.shape[1]), [f"{c:g}" for c in table.columns], fontsize=7)
    ax.set_yticks(range(mat.shape[0]), list(table.index), fontsize=7)
    ax.set_xlabel("true σ_worker", fontsize=7)
    ax.set_title(metric.label, fontsize=8)


def _finite_max(a: np.ndarray) -> float:
    """Largest finite entry of ``a`` (0 when there is none)."""
    finite = np.asarray(a, dtype=float)[np.isfinite(a)]
    return float(finite.max()) if finite.size else 0.0
