"""The "Paper forensics" section: which sigma reading could the paper's table have printed?

Shown when the sweep holds runs with ``fit.sigma_readings`` (every Pyro mean-field or type-II
fit records them; see :mod:`backends.pyro.forensics`): per variant (backend) and true
sigma_worker, the guide's location ``exp(loc)``, the guide's scale parameter, the median of the
draws and the type-II point estimate of sigma_worker and sigma_site, beside the paper's
published 0.006294 / 2.141032, and a sentence -- computed from the numbers -- naming the
readings within a factor :data:`FACTOR` of the paper's sigma_worker.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from evaluation.report.format import fmt_number
from evaluation.sweep.paper import PAPER_PUBLISHED
from evaluation.sweep.records import RunRecord
from evaluation.sweep.sections import Section
from evaluation.sweep.tables import numeric

#: Within this factor of the paper's number a reading counts as matching it (the paper prints
#: 0.006294; a factor 1.5 is far looser than its precision and still tells the readings apart).
FACTOR = 1.5
#: The recorded readings and their column labels.
READINGS: dict[str, str] = {
    "guide_loc": "guide loc exp(loc)",
    "guide_scale": "guide scale",
    "median": "median of draws",
    "point": "point estimate",
}
SITES: tuple[str, ...] = ("sigma_worker", "sigma_site")
_PREFIX = "fit.sigma_readings."
_TRUTH = "data.sigma_worker_truth"


def forensic_runs(df: pd.DataFrame) -> pd.DataFrame:
    """Complete runs that recorded sigma readings, sorted by variant and true sigma_worker."""
    if df.empty or not any(str(c).startswith(_PREFIX) for c in df.columns):
        return df.iloc[0:0]
    done = df[df["status"] == "complete"]
    cols = [c for c in done.columns if str(c).startswith(_PREFIX)]
    done = done[done[cols].notna().any(axis=1)]
    order = done.assign(_truth=numeric(done, _TRUTH)).sort_values(["backend", "_truth"])
    return order.drop(columns="_truth")


def readings_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run: variant, true sigma_worker and every reading of both scales."""
    rows = []
    for _, run in runs.iterrows():
        row = {"variant": run.get("backend"), "true σ_worker": fmt_number(run.get(_TRUTH), 4)}
        for site in SITES:
            for key, label in READINGS.items():
                row[f"{site}: {label}"] = fmt_number(run.get(f"{_PREFIX}{site}.{key}"), 4)
        rows.append(row)
    paper = {"variant": "paper (published)", "true σ_worker": "-"}
    for site in SITES:
        for label in READINGS.values():
            paper[f"{site}: {label}"] = fmt_number(PAPER_PUBLISHED[site], 4)
    return pd.DataFrame([paper, *rows])


def sigma_worker_readings(runs: pd.DataFrame) -> list[tuple[str, float, str, float]]:
    """``(variant, true sigma_worker, reading, value)`` of every positive sigma_worker reading."""
    found = []
    for _, run in runs.iterrows():
        for key in READINGS:
            value = pd.to_numeric(run.get(f"{_PREFIX}sigma_worker.{key}"), errors="coerce")
            if np.isfinite(value) and value > 0:
                found.append((str(run.get("backend")), float(run.get(_TRUTH)), key, float(value)))
    return found


def matches(runs: pd.DataFrame, factor: float = FACTOR) -> list[tuple[str, float, str, float]]:
    """The :func:`sigma_worker_readings` within ``factor`` of the paper's sigma_worker."""
    paper = PAPER_PUBLISHED["sigma_worker"]
    return [m for m in sigma_worker_readings(runs) if 1 / factor <= m[3] / paper <= factor]


def _describe(variant: str, truth: float, key: str, value: float) -> str:
    return (
        f"{variant} {READINGS[key]} = {fmt_number(value, 3)} (true σ_worker {fmt_number(truth, 4)})"
    )


def verdict(runs: pd.DataFrame, factor: float = FACTOR) -> str:
    """The sentence naming the variant(s) / reading(s) that match the paper's sigma_worker."""
    paper = PAPER_PUBLISHED["sigma_worker"]
    found = matches(runs, factor)
    head = f"Within a factor {factor:g} of the paper's sigma_worker {paper:g}: "
    if found:
        return head + "; ".join(_describe(*m) for m in found) + "."
    every = sigma_worker_readings(runs)
    if not every:
        return head + "no variant and no reading of this sweep."
    near = min(every, key=lambda m: abs(np.log(m[3] / paper)))
    ratio = max(near[3] / paper, paper / near[3])
    return (head + "no variant and no reading of this sweep; the closest is "
            f"{_describe(*near)}, a factor {ratio:.1f} away.")  # fmt: skip


def forensics_section(df: pd.DataFrame, records: Sequence[RunRecord] = ()) -> Section | None:
    """The section, or None when no run of the sweep recorded sigma readings."""
    runs = forensic_runs(df)
    if runs.empty:
        return None
    intro = (
        "Which number could the paper's table (Pyro AutoNormal, sigma_worker "
        f"{PAPER_PUBLISHED['sigma_worker']:g}, sigma_site {PAPER_PUBLISHED['sigma_site']:g}) "
        "have printed? For each run: the guide's location exp(loc) of each scale, the guide's "
        "scale parameter (a standard deviation on the log scale), the median of the posterior "
        "draws and, for a type-II guide, the point estimate; the first row repeats the "
        "paper's number under every reading."
    )
    return Section(
        "Paper forensics",
        [("p", intro), ("table", readings_table(runs)), ("p", verdict(runs))],
    )
