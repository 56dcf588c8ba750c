"""Sweep tables: scenario / method labels, the headline metrics and their spread across seeds.

Metric columns are named by :func:`evaluation.sweep.records.flatten`
(``posterior.recovery.beta_worker.coverage90`` ...).  Each headline metric is a :class:`Metric`
with candidate column names and a regex fallback, so a report still renders when a section is
missing or a key was renamed.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from evaluation.metrics.verdict import approximation_verdict
from evaluation.report.format import spread

log = logging.getLogger("ppl_compare.sweep")

#: (label, candidate columns): what makes two runs the same data scenario (the seed excluded).
SCENARIO_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("data", ("data.name", "config.data.name")),
    ("J", ("data.n_worksites", "config.data.n_worksites")),
    ("N", ("data.n_workers", "config.data.n_workers")),
    ("σw", ("data.sigma_worker_truth", "config.data.sigma_worker")),
    ("σs", ("data.meta.knobs.sigma_site", "config.data.sigma_site")),
    ("clusters", ("data.meta.knobs.n_clusters", "config.data.n_clusters")),
    ("prev", ("data.meta.knobs.prevalence", "config.data.prevalence")),
    ("split", ("data.split", "config.data.split")),
    ("test", ("data.test_fraction", "config.data.test_fraction")),
)
REPLICATE_KEYS: tuple[str, ...] = ("data.seed", "config.data.seed", "seed")
#: Override keys that never label a method (data and seeds label scenarios and replicates).
_NOT_METHOD = re.compile(r"^(\+*)(backend|seed|force|data(\..*)?|hydra\..*|experiment|debug)$")


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


# ----------------------------------------------------------------------------- columns
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


def first_of(df: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """Row-wise first non-null value among ``columns`` (NaN when none is present)."""
    out = pd.Series([None] * len(df), index=df.index, dtype=object)
    for col in columns:
        if col in df.columns:
            out = out.where(out.notna(), df[col])
    return out


def numeric(df: pd.DataFrame, col: str | None) -> pd.Series:
    """``df[col]`` as floats (NaN where missing or non-numeric)."""
    if col is None or col not in df.columns:
        return pd.Series(np.nan, index=df.index, dtype=float)
    return pd.to_numeric(df[col], errors="coerce").astype(float)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# ----------------------------------------------------------------------------- labels
def _override_map(overrides: str) -> dict[str, str]:
    pairs = (o.split("=", 1) for o in str(overrides or "").split() if "=" in o)
    return {k: v for k, v in pairs}


def _n_distinct(values: pd.Series) -> int:
    return values[values != "-"].nunique()


def _method_labels(df: pd.DataFrame) -> list[str]:
    ovr = [_override_map(o) for o in df.get("overrides", [""] * len(df))]
    base = first_of(df, ["backend", "config.backend.name"]).map(_text)
    base = [b if b != "-" else o.get("backend", "-") for b, o in zip(base, ovr, strict=True)]
    param = first_of(df, ["parameterization", "config.model.parameterization"]).map(_text)
    keys = sorted({k for o in ovr for k in o if not _NOT_METHOD.match(k)})
    varying = [k for k in keys if len({o.get(k) for o in ovr}) > 1]
    labels = []
    for b, p, o in zip(base, param, ovr, strict=True):
        extra = [p] if _n_distinct(param) > 1 and p != "-" else []
        extra += [f"{k.split('.')[-1]}={o[k]}" for k in varying if k in o]
        labels.append(f"{b} [{', '.join(extra)}]" if extra else b)
    return labels


def add_labels(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``scenario``, ``method_label`` and ``replicate`` columns.

    The scenario is the data config without its seed; only the keys that differ between the
    sweep's runs name it (``sigma_worker=0.5, J=20``), else the data set's name.
    """
    df = df.copy()
    values = {label: first_of(df, cols).map(_text) for label, cols in SCENARIO_KEYS}
    varying = [k for k, v in values.items() if _n_distinct(v) > 1]
    if varying:
        df["scenario"] = [", ".join(f"{k}={values[k][i]}" for k in varying) for i in df.index]
    else:
        names = values["data"][values["data"] != "-"]
        df["scenario"] = names.mode().iloc[0] if len(names) else "all runs"
    df["method_label"] = _method_labels(df)
    df["replicate"] = first_of(df, REPLICATE_KEYS).map(_text)
    return df


# ----------------------------------------------------------------------------- derived columns
def _steps(df: pd.DataFrame) -> pd.Series:
    return (
        numeric(df, "cost.steps")
        .fillna(numeric(df, "diagnostics.vi.n_steps"))
        .fillna(numeric(df, "fit.n_steps_run"))  # fewer than the cap when stopped at convergence
        .fillna(numeric(df, "fit.num_steps"))
        .fillna(numeric(df, "fit.n_steps"))
        .fillna(numeric(df, "config.backend.num_steps"))
    )


def family(df: pd.DataFrame) -> pd.Series:
    """Each run's inference family as its backend declares it (``metrics.json`` key
    ``family``: ``"mcmc"`` or ``"vi"``); ``"-"`` for a run that does not say (an older
    metrics.json, a failed run)."""
    return first_of(df, ["family"]).map(_text)


def add_cost(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``cost.ms_per_step`` (VI runs) and ``cost.ess_per_s`` (every run but VI ones).

    VI is known from the declared :func:`family`, never from the backend's name; a run without
    a family is not VI.
    """
    df = df.copy()
    opt = numeric(df, "timing.optimisation_s").fillna(numeric(df, "timing.fit_s"))
    is_vi = family(df) == "vi"
    df["cost.ms_per_step"] = (1000.0 * opt / _steps(df)).where(is_vi)
    wall = numeric(df, "timing.warmup_s").fillna(0.0) + numeric(df, "timing.sampling_s")
    own = numeric(df, "diagnostics.mcmc.min_ess_bulk") / wall.fillna(numeric(df, "timing.fit_s"))
    df["cost.ess_per_s"] = numeric(df, "diagnostics.mcmc.ess_bulk_per_s").fillna(own).where(~is_vi)
    return df


#: Columns of a run's beta_site sd ratio: its own reference section, else the sweep's NUTS run.
SD_RATIO_COLUMNS: tuple[str, ...] = (f"{_REF}.beta_site.sd_ratio_median",
                                     f"{_VS}.beta_site.sd_ratio_median")  # fmt: skip
#: Columns of a run's sigma ratios to NUTS, per scale (own reference first).
SIGMA_RATIO_COLUMNS: dict[str, tuple[str, ...]] = {
    "sigma_worker": (f"{_COL}.sigma_worker.ratio_median", "cross.sigma_worker_ratio"),
    "sigma_site": (f"{_COL}.sigma_site.ratio_median",),
}


def add_verdicts(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``verdict.failed`` (the reasons when an approximation failed the rule of
    :mod:`evaluation.metrics.verdict`, False when it passed, None when not checked or not an
    approximation) and ``verdict.psis_untrustworthy`` (the PSIS verdict of a resampled
    posterior whose k-hat is above 0.7).  Needs :func:`evaluation.sweep.cross.add_cross_run`
    first (the NUTS ratios of runs without their own reference)."""
    df = df.copy()
    sd = first_of(df, SD_RATIO_COLUMNS)
    sig = {k: first_of(df, cols) for k, cols in SIGMA_RATIO_COLUMNS.items()}
    khat = first_of(df, ["diagnostics.vi.khat"])
    out = []
    for i, fam in zip(df.index, family(df), strict=True):
        v = (approximation_verdict(khat[i], sd[i], {k: s[i] for k, s in sig.items()})
             if fam == "vi" else {"failed": None})  # fmt: skip
        out.append("; ".join(v["reasons"]) if v["failed"] else v["failed"])
    df["verdict.failed"] = pd.Series(out, index=df.index, dtype=object)
    bad = first_of(df, ["psis.trustworthy"]).map(lambda x: x is not None and not truthy(x))
    df["verdict.psis_untrustworthy"] = first_of(df, ["psis.verdict"]).where(bad, None)
    return df


def failed_methods(df: pd.DataFrame) -> dict[str, str]:
    """Method label -> ``"k/n runs"`` for the methods with a failed run (complete runs)."""
    done = df[df["status"] == "complete"]
    if "verdict.failed" not in done:
        return {}
    out = {}
    for label, g in done.groupby("method_label", sort=False):
        k = sum(truthy(x) for x in g["verdict.failed"])
        if k:
            out[str(label)] = f"{k}/{len(g)} runs"
    return out


# ----------------------------------------------------------------------------- summaries
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


def truthy(value: Any) -> bool:
    """Whether a ``comparison.csv`` cell says yes: a true bool, a nonzero number, a non-empty
    string other than false / 0 / nan / none (any case); NaN and None say no."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "nan", "none")
    return bool(value) and not (isinstance(value, float) and math.isnan(value))


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


def status_table(df: pd.DataFrame) -> pd.DataFrame:
    """Scenario x method counts of complete / failed / incomplete runs."""
    if df.empty:
        return pd.DataFrame(columns=["scenario", "method", "complete", "failed", "incomplete"])
    counts = (df.groupby(["scenario", "method_label", "status"], sort=False).size()
              .unstack(fill_value=0))  # fmt: skip
    for status in ("complete", "failed", "incomplete"):
        if status not in counts.columns:
            counts[status] = 0
    counts = counts[["complete", "failed", "incomplete"]].reset_index()
    return counts.rename(columns={"method_label": "method"})


def failures_table(df: pd.DataFrame) -> pd.DataFrame:
    """The runs that did not complete: run dir, overrides and the error message."""
    bad = df[df["status"] != "complete"]
    return bad[["run", "status", "overrides", "error"]].reset_index(drop=True)
