"""The themes of the sweep report: its headline metrics (each a :class:`Metric` with candidate
columns and a regex fallback, so a report still renders when a section is missing or a key was
renamed), and their cells, the spread of the values across seeds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

import pandas as pd

from evaluation.report.format import spread
from evaluation.sweep.columns import numeric, truthy


class Metric(NamedTuple):
    """A headline metric: label, candidate columns, regex fallback, target line, format, and
    ``flag``: the text shown for the runs where a boolean column is true (None: a number)."""

    label: str
    columns: tuple[str, ...]
    pattern: str | None = None
    target: float | None = None
    digits: int = 3
    flag: str | None = None


def m(
    label: str,
    *columns: str,
    pattern: str | None = None,
    target: float | None = None,
    digits: int = 3,
    flag: str | None = None,
) -> Metric:
    """Shorthand constructor of a :class:`Metric`."""
    return Metric(label, tuple(columns), pattern, target, digits, flag)


#: Flag texts of the sweep tables (see :mod:`evaluation.sweep.cross`).
MORE_CERTAIN = "more certain than the exact posterior"
PARTNER_FAILED = "failed its checks"
FAILED = "FAILED"
UNTRUSTWORTHY = "NOT TRUSTWORTHY"
FLOOR_SUFFIX = "_floor"
BEYOND_SUFFIX = "_beyond_floor"
_REC = "posterior.recovery"
_REF = "reference.blocks"
_VS = "vs_nuts.blocks"
_COL = "posterior.sigma_collapse"
THEMES: dict[str, list[Metric]] = {
    "Interval coverage against the truth (nominal 0.5 / 0.9)": [
        m(
            "β_worker cov90",
            f"{_REC}.beta_worker.coverage90",
            "posterior.beta_worker_coverage90",
            target=0.9,
        ),
        m("β_worker cov50", f"{_REC}.beta_worker.coverage50", target=0.5),
        m(
            "β_site cov90",
            f"{_REC}.beta_site.coverage90",
            "posterior.beta_site_coverage90",
            target=0.9,
        ),
        m("β_site cov50", f"{_REC}.beta_site.coverage50", target=0.5),
        m(
            "η_site cov90 (identified)",
            "posterior.identified.site_predictor.coverage90",
            "posterior.beta_site_identified_coverage90",
            target=0.9,
        ),
        m("β_worker mean|z|", f"{_REC}.beta_worker.mean_abs_z"),
    ],
    "Interval width and error against the reference posterior (sd ratio 1 = same width)": [
        m(
            "sd ratio β_worker",
            f"{_REF}.beta_worker.sd_ratio_median",
            f"{_VS}.beta_worker.sd_ratio_median",
            target=1.0,
        ),
        m(
            "sd ratio β_site",
            f"{_REF}.beta_site.sd_ratio_median",
            f"{_VS}.beta_site.sd_ratio_median",
            target=1.0,
        ),
        m(
            "sd ratio σ_worker",
            f"{_REF}.sigma_worker.sd_ratio_median",
            f"{_VS}.sigma_worker.sd_ratio_median",
            target=1.0,
        ),
        m("|SME| β_worker", f"{_REF}.beta_worker.sme_mean_abs", f"{_VS}.beta_worker.sme_mean_abs"),
        m("|SME| β_site", f"{_REF}.beta_site.sme_mean_abs", f"{_VS}.beta_site.sme_mean_abs"),
        m("W1/sd all", "reference.all.wasserstein_std_mean", "vs_nuts.all.wasserstein_std_mean"),
        m(
            "corr dist. β_worker",
            f"{_REF}.beta_worker.corr_frobenius",
            f"{_VS}.beta_worker.corr_frobenius",
        ),
        m("NUTS partner checks", "cross.partner_checks_failed", flag=PARTNER_FAILED),
    ],
    "Variance components (posterior median; σ-collapse)": [
        m(
            "σ_worker median",
            f"{_COL}.sigma_worker.method.median",
            "posterior.summary.sigma_worker.median",
            digits=4,
        ),
        m(
            "σ_worker truth",
            "posterior.summary.sigma_worker.truth",
            "data.sigma_worker_truth",
            digits=4,
        ),
        m(
            "σ_worker / ref",
            f"{_COL}.sigma_worker.ratio_median",
            "cross.sigma_worker_ratio",
            target=1.0,
        ),
        m("P(σ_worker<ε)", f"{_COL}.sigma_worker.method.p_below_eps"),
        m(
            "σ_site median",
            f"{_COL}.sigma_site.method.median",
            "posterior.summary.sigma_site.median",
        ),
        m("σ_site / ref", f"{_COL}.sigma_site.ratio_median", target=1.0),
    ],
    "Cluster stability (ARI; 1 = identical partitions)": [
        m("ARI Gibbs seeds", "clustering.ari_seeds.mean"),
        m("ARI posterior draws", "clustering.ari_draws.mean"),
        m("ARI vs NUTS (same data)", "cross.ari_vs_nuts"),
        m("draw ARI − NUTS's", "cross.ari_draws_vs_nuts"),
        m("certainty vs NUTS", "cross.more_certain_than_nuts", flag=MORE_CERTAIN),
        m("ARI vs planted", "clustering.ari_truth"),
        m("oracle ARI (true β_worker)", "clustering.oracle.ari_vs_planted"),
        m("chosen K", "clustering.chosen_k", digits=2),
    ],
    "Diagnostics": [
        m("approximation", "verdict.failed", flag=FAILED),
        m("PSIS-resampled posterior", "verdict.psis_untrustworthy", flag=UNTRUSTWORTHY),
        m(
            "PSIS k̂",
            "diagnostics.vi.khat",
            pattern=r"^diagnostics\.(.*\.)?(psis_)?k_?hat$",
            target=0.7,
        ),
        m(
            "max R-hat",
            "diagnostics.mcmc.max_rhat",
            pattern=r"^diagnostics\.(.*\.)?(max_)?r_?hat(_max)?$",
            target=1.01,
        ),
        m("min ESS bulk", "diagnostics.mcmc.min_ess_bulk", digits=4),
        m("min ESS tail", "diagnostics.mcmc.min_ess_tail", digits=4),
        m("divergences", "diagnostics.mcmc.n_divergent", "fit.n_divergent", digits=4),
        m("tree-depth sat.", "diagnostics.mcmc.frac_max_tree_depth"),
        m("min E-BFMI", "diagnostics.mcmc.min_ebfmi"),
    ],
    "Held-out prediction (barely separates methods; shown for completeness)": [
        m("AUC", "predictive.auc"),
        m("accuracy", "predictive.accuracy"),
        m("baseline acc.", "predictive.baseline_accuracy"),
        m("lpd / worker", "predictive.lpd", pattern=r"^predictive\.lpd(_mean)?$"),
        m("Brier", "predictive.brier"),
        m("ECE", "predictive.ece"),
    ],
    "Cost": [
        m("fit s", "timing.fit_s", digits=3),
        m("compile s", "timing.compile_s"),
        m("total s", "timing.total_s"),
        m("ms / step (VI)", "cost.ms_per_step"),
        m(
            "ESS/s (min bulk)",
            "cost.ess_per_s",
        ),
    ],
}


def resolve(df: pd.DataFrame, metric: Metric) -> str | None:
    """The column of ``df`` holding ``metric`` (first candidate present, else regex match)."""
    for col in metric.columns:
        if col in df.columns and df[col].notna().any():
            return col
    if metric.pattern:
        rx = re.compile(metric.pattern)
        hits = sorted(c for c in df.columns if rx.match(c) and df[c].notna().any())
        if hits:
            return hits[0]
    return None


def theme_table(df: pd.DataFrame, metrics: Sequence[Metric]) -> pd.DataFrame | None:
    """Scenario x method rows, one column per resolvable metric (spread across seeds)."""
    done = df[df["status"] == "complete"]
    cols = [(mt, resolve(done, mt)) for mt in metrics]
    cols = [(mt, c) for mt, c in cols if c is not None]
    if done.empty or not cols:
        return None
    rows = []
    for (scenario, method), g in done.groupby(["scenario", "method_label"], sort=False):
        row = {"scenario": scenario, "method": method, "runs": len(g)}
        for mt, c in cols:
            row[mt.label] = cell(g, mt, c)
        rows.append(row)
    return pd.DataFrame(rows)


def flag_cell(values: pd.Series, flag: str) -> str:
    """``flag (k/n runs)`` for the runs whose value is true (a non-empty text names the
    reasons), ``no (n runs)`` when none; ``-`` when no run has a value."""
    v = values.dropna()
    v = v[v.astype(str) != ""] if flag == PARTNER_FAILED else v
    n = int(values.notna().sum())
    hits = [x for x in v if truthy(x)]
    if not n:
        return "-"
    if not hits:
        return f"no ({n} run{'s' * (n > 1)})"
    why = sorted({str(x) for x in hits if isinstance(x, str)})
    return f"{flag}{': ' + '; '.join(why) if why else ''} ({len(hits)}/{n})"


def cell(g: pd.DataFrame, mt: Metric, col: str) -> str:
    """A table cell: the flag text (``mt.flag``), or the spread of the values, followed by
    ``(floor x)`` when ``col`` has a noise floor ``col_floor`` (:mod:`evaluation.metrics.floors`)
    and how many runs are beyond it."""
    if mt.flag:
        return flag_cell(g[col], mt.flag)
    text = spread(numeric(g, col).tolist(), mt.digits)
    floor = numeric(g, col + FLOOR_SUFFIX)
    if floor.notna().any():
        verdict = ""
        if col + BEYOND_SUFFIX in g:
            beyond = g[col + BEYOND_SUFFIX].dropna()
            k = sum(truthy(x) for x in beyond)
            verdict = f"; beyond {k}/{len(beyond)}" if k else "; within"
        text += f" (floor {spread(floor.tolist(), mt.digits)}{verdict})"
    return text
