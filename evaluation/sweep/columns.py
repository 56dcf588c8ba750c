"""The columns of a sweep's comparison table: scenario / method / replicate labels, reading
columns, the cost and verdict columns derived from a run's own numbers, and run counts.

Metric columns are named by :func:`evaluation.sweep.records.flatten`
(``posterior.recovery.beta_worker.coverage90`` ...).  Numbers only: how they are shown is
:mod:`evaluation.report.sweep.themes`.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from evaluation.metrics.verdict import approximation_verdict

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
#: Which fit of the same data and method a run is (``repeat``: 0 first, 1.. the repeats).
REPEAT_KEYS: tuple[str, ...] = ("repeat", "config.repeat")
#: Override keys that never label a method (data and seeds label scenarios and replicates).
_NOT_METHOD = re.compile(
    r"^(\+*)(backend|seed|repeat|force|data(\..*)?|hydra\..*|experiment|debug)$"
)

_REC = "posterior.recovery"
_REF = "reference.blocks"
_VS = "vs_nuts.blocks"
_COL = "posterior.sigma_collapse"


# ----------------------------------------------------------------------------- columns
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


def truthy(value: Any) -> bool:
    """Whether a ``comparison.csv`` cell says yes: a true bool, a nonzero number, a non-empty
    string other than false / 0 / nan / none (any case); NaN and None say no."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "nan", "none")
    return bool(value) and not (isinstance(value, float) and math.isnan(value))


def _override_map(overrides: str) -> dict[str, str]:
    pairs = (o.split("=", 1) for o in str(overrides or "").split() if "=" in o)
    return {k: v for k, v in pairs}


def _n_distinct(values: pd.Series) -> int:
    return values[values != "-"].nunique()


def _names_scenarios(values: pd.Series, replicate: pd.Series) -> bool:
    """Whether a data key tells scenarios apart: it takes two values within one data seed.  A
    value that differs only between seeds is drawn with the seed (a posterior world's true
    sigma_worker), so it names no scenario."""
    known = values != "-"
    return bool((values[known].groupby(replicate[known]).nunique() > 1).any())


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
    """Add ``scenario``, ``method_label``, ``method_base``, ``fit_repeat`` and ``replicate``.

    ``method_base`` names the method (backend and the overrides that vary between runs);
    ``method_label`` adds `` (repeat k)`` to the k-th repeated fit (config ``repeat``);
    ``fit_repeat`` is k (0 for a first fit and for runs that predate ``repeat``).

    The scenario is the data config without its seed; only the keys that differ between runs
    of one seed name it (``sigma_worker=0.5, J=20``), else the data set's name.
    """
    df = df.copy()
    replicate = first_of(df, REPLICATE_KEYS).map(_text)
    values = {label: first_of(df, cols).map(_text) for label, cols in SCENARIO_KEYS}
    varying = [k for k, v in values.items() if _names_scenarios(v, replicate)]
    if varying:
        df["scenario"] = [", ".join(f"{k}={values[k][i]}" for k in varying) for i in df.index]
    else:
        names = values["data"][values["data"] != "-"]
        df["scenario"] = names.mode().iloc[0] if len(names) else "all runs"
    df["method_base"] = _method_labels(df)
    df["fit_repeat"] = pd.to_numeric(first_of(df, REPEAT_KEYS), errors="coerce").fillna(0)
    df["fit_repeat"] = df["fit_repeat"].astype(int)
    df["method_label"] = [repeat_label(b, k) for b, k in zip(df["method_base"], df["fit_repeat"],
                                                              strict=True)]  # fmt: skip
    df["replicate"] = replicate
    return df


def repeat_label(method: str, repeat: int) -> str:
    """A run's label: its method, then `` (repeat k)`` for the k-th repeated fit (k >= 1)."""
    return f"{method} (repeat {repeat})" if repeat else method


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


# ----------------------------------------------------------------------------- run counts
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
