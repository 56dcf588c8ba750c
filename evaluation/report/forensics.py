"""Paper forensics: which sigma reading could the paper's table have printed?  The numbers and
the verdict shared by the sweep report's "Paper forensics" section
(:mod:`evaluation.report.sweep.forensics`) and the findings' (:mod:`evaluation.report.study.
document`).

Shown only for a sweep that ran forensic variants (:func:`is_forensic_sweep`: the paper's
ClippedAdam ``pyro_clipped``, the type-II ``pyro_typeii``, or a fit whose guide started its
scales at a set ``init_sigma``), i.e. ``experiment=paper_forensics``; every other report (the
main job's, a ``data=tables`` sweep's) has no such section, though its Pyro mean-field runs also
record ``fit.sigma_readings`` (see :mod:`backends.pyro.forensics`).

Per run, variant (backend, and the guide's start for the scales) and true sigma_worker, each
*reading* of sigma_worker and sigma_site is a pair (a number of the fit, the paper's number it
is compared with):

* exp(loc), guide scale, median of the draws, type-II point estimate, the variance sigma^2
  (median of the draws of sigma^2) -- each against the printed number ("the Half-Cauchy priors
  parameterize the distributions for the variance", paper-report.md);
* sigma = sqrt(printed) -- the median of the draws against the square root of the printed number
  (sqrt 0.006294 = 0.079, sqrt 2.141 = 1.463).

A reading matches when both scales are within a factor :data:`FACTOR` of their paper numbers;
the section's last sentence, computed from the table, names the matches or the closest pair.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from evaluation.data.twin import PAPER_TRUTH
from evaluation.report.format import fmt_number
from evaluation.sweep.columns import numeric

#: The paper's printed scales (its Pyro mean-field table: 0.006294 and 2.141032).
PRINTED: dict[str, float] = {k: float(PAPER_TRUTH[k]) for k in ("sigma_worker", "sigma_site")}
#: Within this factor of the paper's number a reading counts as matching it (the paper prints
#: 0.006294; a factor 1.5 is far looser than its precision and still tells the readings apart).
FACTOR = 1.5
#: Reading -> (column label, the fit's recorded reading it shows, paper number transform).
READINGS: dict[str, tuple[str, str, str]] = {
    "guide_loc": ("guide loc exp(loc)", "guide_loc", "printed"),
    "guide_scale": ("guide scale", "guide_scale", "printed"),
    "median": ("median of draws", "median", "printed"),
    "point": ("point estimate", "point", "printed"),
    "variance": ("σ² (median of σ² draws)", "variance", "printed"),
    "sqrt_printed": ("σ = √printed (median of draws)", "median", "sqrt"),
}
SITES: tuple[str, ...] = ("sigma_worker", "sigma_site")
#: Backends that exist for the forensics only (conf/backend/pyro_clipped.yaml, pyro_typeii.yaml).
FORENSIC_BACKENDS: tuple[str, ...] = ("pyro_clipped", "pyro_typeii")
_PREFIX = "fit.sigma_readings."
_TRUTH = "data.sigma_worker_truth"
_INIT = "fit.init_sigma"


def target(site: str, reading: str) -> float:
    """The paper's number a reading of ``site`` is compared with (printed, or its root)."""
    printed = float(PRINTED[site])
    return math.sqrt(printed) if READINGS[reading][2] == "sqrt" else printed


def _complete(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty or "status" not in df.columns:
        return df.iloc[0:0]
    return df[df["status"] == "complete"]


def is_forensic_sweep(df: pd.DataFrame) -> bool:
    """Whether a complete run of the sweep is a forensic variant (a forensic backend, or a set
    ``init_sigma``)."""
    done = _complete(df)
    if done.empty:
        return False
    backends = done["backend"] if "backend" in done.columns else pd.Series(dtype=object)
    return bool(backends.isin(FORENSIC_BACKENDS).any() or numeric(done, _INIT).notna().any())


def forensic_runs(df: pd.DataFrame) -> pd.DataFrame:
    """Complete runs that recorded sigma readings in a forensic sweep (else none), sorted by
    variant and true sigma_worker."""
    if not is_forensic_sweep(df) or not any(str(c).startswith(_PREFIX) for c in df.columns):
        return df.iloc[0:0]
    done = _complete(df)
    cols = [c for c in done.columns if str(c).startswith(_PREFIX)]
    done = done[done[cols].notna().any(axis=1)]
    order = done.assign(_variant=[variant(r) for _, r in done.iterrows()],
                        _truth=numeric(done, _TRUTH))  # fmt: skip
    return order.sort_values(["_variant", "_truth"]).drop(columns=["_variant", "_truth"])


def variant(run: pd.Series) -> str:
    """The run's backend, with the guide's start for the scales when one was set."""
    init = pd.to_numeric(run.get(_INIT), errors="coerce")
    name = str(run.get("backend"))
    return name if not np.isfinite(init) else f"{name} (σ start {init:g})"


def reading_value(run: pd.Series, site: str, reading: str) -> float:
    """The fit's number for ``reading`` of ``site`` (NaN where it has none); the variance falls
    back to the squared median for runs recorded before it was."""
    value = pd.to_numeric(run.get(f"{_PREFIX}{site}.{READINGS[reading][1]}"), errors="coerce")
    if reading == "variance" and not np.isfinite(value):
        value = pd.to_numeric(run.get(f"{_PREFIX}{site}.median"), errors="coerce") ** 2
    return float(value) if np.isfinite(value) else float("nan")


def readings_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run and scale (the paper's numbers first): every reading."""
    rows = [{"variant": "paper (published)", "true σ_worker": "-", "scale": site,
             **{label: fmt_number(target(site, key), 4) for key, (label, _, _) in READINGS.items()}}
            for site in SITES]  # fmt: skip
    for _, run in runs.iterrows():
        truth = pd.to_numeric(run.get(_TRUTH), errors="coerce")
        for site in SITES:
            row = {"variant": variant(run), "true σ_worker": fmt_number(truth, 4), "scale": site}
            for key, (label, _, _) in READINGS.items():
                row[label] = fmt_number(reading_value(run, site, key), 4)
            rows.append(row)
    return pd.DataFrame(rows)


def candidates(runs: pd.DataFrame) -> list[tuple[str, float, str, float, float]]:
    """``(variant, true sigma_worker, reading, sigma_worker value, sigma_site value)`` of every
    reading a run has for both scales (positive, finite)."""
    found = []
    for _, run in runs.iterrows():
        truth = float(pd.to_numeric(run.get(_TRUTH), errors="coerce"))
        for key in READINGS:
            w, s = (reading_value(run, site, key) for site in SITES)
            if np.isfinite([w, s]).all() and w > 0 and s > 0:
                found.append((variant(run), truth, key, w, s))
    return found


def _factors(found: tuple[str, float, str, float, float]) -> tuple[float, float]:
    """How far each scale of a candidate is from its paper number (>= 1, a factor)."""
    key = found[2]
    return tuple(
        float(np.exp(abs(np.log(value / target(site, key)))))
        for site, value in zip(SITES, found[3:], strict=True)
    )


def matches(runs: pd.DataFrame, factor: float = FACTOR) -> list[tuple]:
    """The :func:`candidates` whose two scales are both within ``factor`` of the paper's."""
    return [c for c in candidates(runs) if max(_factors(c)) <= factor]


def _describe(found: tuple) -> str:
    name, truth, key, w, s = found
    fw, fs = _factors(found)
    where = "" if not np.isfinite(truth) else f", true σ_worker {fmt_number(truth, 4)}"
    return (f"{name} {READINGS[key][0]}: σ_worker {fmt_number(w, 3)} (×{fw:.2f} from "
            f"{fmt_number(target('sigma_worker', key), 4)}), σ_site {fmt_number(s, 3)} "
            f"(×{fs:.2f} from {fmt_number(target('sigma_site', key), 4)}){where}")  # fmt: skip


def verdict(runs: pd.DataFrame, factor: float = FACTOR) -> str:
    """The sentence naming the variant(s) and reading(s) that match both printed scales, or
    that none does and the closest."""
    w, s = PRINTED["sigma_worker"], PRINTED["sigma_site"]
    head = f"Within a factor {factor:g} of both printed scales (σ_worker {w:g}, σ_site {s:g}): "
    found = matches(runs, factor)
    if found:
        return head + "; ".join(_describe(m) for m in found) + "."
    every = candidates(runs)
    if not every:
        return head + "no variant and no reading of this sweep."
    near = min(every, key=lambda c: max(_factors(c)))
    return head + f"no variant and no reading of this sweep; the closest is {_describe(near)}."


def intro() -> str:
    """What the forensic table shows, in a paragraph (the sweep report's and the findings')."""
    return (
        "Which number could the paper's table (Pyro AutoNormal, sigma_worker "
        f"{PRINTED['sigma_worker']:g}, sigma_site {PRINTED['sigma_site']:g}) "
        "have printed? For each run and scale: the guide's location exp(loc), the guide's "
        "scale parameter (a standard deviation on the log scale), the median of the posterior "
        "draws, for a type-II guide the point estimate, the variance σ² (the paper says its "
        "Half-Cauchy priors are on the variance), and the median against √ of the printed "
        "number. The first rows are the paper's numbers each reading is compared with; a "
        "variant with 'σ start' began its guide for both scales there (the paper's schedule; "
        "without it the guide starts at 1)."
    )
