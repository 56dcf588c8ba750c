"""The "Paper replication" section: the paper's published tables beside the sweep's estimates.

Shown when the sweep holds runs on the paper twin at the paper's coefficients
(sigma_worker = 0.006294 and the paper's beta_site; any size, so a ``debug=fast`` run shows it
too, though only the 120-worksite twin is comparable with the paper).  The published numbers
are those of ``paper-report.md`` (its regression tables and its held-out accuracy / AUC).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from evaluation.data.features import PAPER_SITE_FEATURES, PAPER_WORKER_FEATURES
from evaluation.data.twin import PAPER_TRUTH
from evaluation.report.format import fmt_number, spread
from evaluation.report.sweep.sections import Section
from evaluation.sweep.columns import numeric
from evaluation.sweep.records import RunRecord, run_truth

log = logging.getLogger("ppl_compare.sweep")

#: The paper's published values (Pyro mean-field SVI, 18,000 steps, lr 0.015, decay 0.9995).
PAPER_PUBLISHED: dict[str, Any] = {
    "sigma_worker": PAPER_TRUTH["sigma_worker"],  # 0.006294
    "sigma_site": PAPER_TRUTH["sigma_site"],  # 2.141032
    "alpha": -1.831840,
    "beta_site": dict(zip(PAPER_SITE_FEATURES, PAPER_TRUTH["beta_site"].tolist(), strict=True)),
    # worksite-specific coefficients: (median, mean, std) over the 120 worksites
    "beta_worker": {
        "is_male": (-0.001070, -0.000121, 0.005464),
        "first_convo_q1": (0.000468, 0.000673, 0.005359),
        "first_convo_q2": (-0.000400, -0.000152, 0.005429),
        "first_convo_q3": (-0.000638, -0.000188, 0.005675),
        "first_convo_q4": (0.001248, 0.000292, 0.005494),
        "log_eigen_centrality": (-0.000908, -0.000569, 0.007155),
        "n_notes": (0.000152, 0.000353, 0.007465),
    },
    "accuracy": 0.9356,
    "baseline_accuracy": 0.8274,
    "auc": 0.7688,
}
#: The paper's row names of its coefficient tables.
PAPER_LABELS: dict[str, str] = {
    "sigma_worker": "β_worker scale", "sigma_site": "β_worksite scale", "alpha": "α mean",
    "pct_black_zip": "Percent Black in ZIP", "pct_latino_zip": "Percent Latino in ZIP",
    "pct_male": "Percent male", "log_mean_agi_zip": "Log(Mean AGI in ZIP)",
    "ndo": "NDO (Eigen., Pearson)", "mobilizing": "Mobilizing (Pearson)",
    **{f"campaign_length_q{i}": f"Campaign length (Quint. {i})" for i in range(1, 6)},
    "log_n_conversations": "Log(No. organizer convers.)",
    "log_n_contacted": "Log(No. workers contacted)",
    "log_n_discovered": "Log(No. workers discovered)", "log_n_edges": "Log(No. edges)",
    "log_mean_degree": "Log(Mean degree)", "log_centrality_var": "Log(Centrality variance)",
    "log_centrality_mean": "Log(Centrality mean)", "is_male": "Is Male",
    **{f"first_convo_q{i}": f"Time To First Convo (Quart. {i})" for i in range(1, 5)},
    "log_eigen_centrality": "Log(Eigen. Centrality)", "n_notes": "No. Notes",
}  # fmt: skip
_TOL = 1e-9


def paper_runs(df: pd.DataFrame) -> pd.DataFrame:
    """Complete runs on the paper twin at the paper's settings."""
    done = df[df["status"] == "complete"]
    if done.empty:
        return done
    sw = numeric(done, "data.sigma_worker_truth")
    drawn = numeric(done, "data.meta.knobs.sigma_site").notna()
    kind = done["data.kind"] if "data.kind" in done else done.get("data.name")
    is_paper = (kind == "paper") if kind is not None else False
    return done[is_paper & ((sw - PAPER_PUBLISHED["sigma_worker"]).abs() < _TOL) & ~drawn]


def _by_method(runs: pd.DataFrame, col: str, digits: int = 4) -> dict[str, str]:
    return {method: spread(numeric(g, col).tolist(), digits)
            for method, g in runs.groupby("method_label", sort=False)}  # fmt: skip


def _first(runs: pd.DataFrame, col: str) -> float:
    v = numeric(runs, col).dropna()
    return float(v.iloc[0]) if len(v) else float("nan")


def shared_table(runs: pd.DataFrame) -> pd.DataFrame:
    """σ's, α and the 18 β_site: published, twin truth and each method's estimate."""
    rows = []
    for key, stat in (("sigma_worker", "median"), ("sigma_site", "median"), ("alpha", "mean")):
        row = {
            "coefficient": PAPER_LABELS[key],
            "published": fmt_number(PAPER_PUBLISHED[key], 7),
            "twin truth": fmt_number(_first(runs, f"posterior.summary.{key}.truth"), 7),
        }
        row.update(_by_method(runs, f"posterior.summary.{key}.{stat}"))
        rows.append(row)
    for f in PAPER_SITE_FEATURES:
        row = {
            "coefficient": PAPER_LABELS.get(f, f),
            "published": fmt_number(PAPER_PUBLISHED["beta_site"][f], 7),
            "twin truth": fmt_number(_first(runs, f"posterior.beta_site.{f}.truth"), 7),
        }
        row.update(_by_method(runs, f"posterior.beta_site.{f}.mean"))
        rows.append(row)
    return pd.DataFrame(rows)


def worksite_coefficient_stats(beta: np.ndarray) -> np.ndarray:
    """(median, mean, std) over worksites of a (J, K) coefficient matrix -> (K, 3)."""
    beta = np.asarray(beta, float)
    return np.stack([np.median(beta, 0), beta.mean(0), beta.std(0, ddof=1)], axis=1)


def posterior_mean_beta_worker(rec: RunRecord) -> np.ndarray | None:
    """Posterior mean of beta_worker (worksite x worker_feature in the paper's feature order)."""
    path = rec.path / "posterior.nc"
    if not path.exists():
        return None
    with xr.open_dataset(path, group="posterior") as post:
        da = post["beta_worker"].mean(("chain", "draw"))
        da = da.assign_coords(worker_feature=[str(v) for v in da["worker_feature"].values])
        return np.asarray(da.sel(worker_feature=list(PAPER_WORKER_FEATURES))
                          .transpose("worksite", "worker_feature").values)  # fmt: skip


def worker_table(runs: pd.DataFrame, records: Sequence[RunRecord]) -> pd.DataFrame:
    """Median / mean / std over worksites of each worker coefficient: published, truth, runs."""
    by_name = {r.name: r for r in records}
    columns: dict[str, np.ndarray] = {}
    first = by_name.get(runs["run"].iloc[0])
    truth = run_truth(first) if first is not None else None
    if truth is not None and "beta_worker" in truth:
        true_coef = truth["beta_worker"].sel(worker_feature=list(PAPER_WORKER_FEATURES))
        columns["twin truth"] = worksite_coefficient_stats(
            np.asarray(true_coef.transpose("worksite", "worker_feature").values)
        )
    for method, g in runs.groupby("method_label", sort=False):
        stats = [posterior_mean_beta_worker(by_name[r]) for r in g["run"] if r in by_name]
        stats = [worksite_coefficient_stats(s) for s in stats if s is not None]
        if stats:
            columns[method] = np.mean(stats, axis=0)
    rows = []
    for k, f in enumerate(PAPER_WORKER_FEATURES):
        row = {"coefficient": PAPER_LABELS.get(f, f)}
        for i, stat in enumerate(("median", "mean", "std")):
            row[f"published {stat}"] = fmt_number(PAPER_PUBLISHED["beta_worker"][f][i], 4)
            for name, arr in columns.items():
                row[f"{name} {stat}"] = fmt_number(arr[k, i], 4)
        rows.append(row)
    return pd.DataFrame(rows)


def predictive_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Held-out accuracy, majority baseline and AUC: published vs each method."""
    rows = []
    for key, label in (("accuracy", "accuracy"), ("baseline_accuracy", "baseline (all 0)"),
                       ("auc", "AUC")):  # fmt: skip
        row = {"metric": label, "published": fmt_number(PAPER_PUBLISHED[key], 4)}
        row.update(_by_method(runs, f"predictive.{key}"))
        rows.append(row)
    return pd.DataFrame(rows)


def paper_section(df: pd.DataFrame, records: Sequence[RunRecord]) -> Any:
    """The Paper replication section, or None when no run is at the paper's settings."""
    runs = paper_runs(df)
    if runs.empty:
        return None
    sizes = sorted({int(j) for j in numeric(runs, "data.n_worksites").dropna()})
    caution = [] if sizes in ([], [120]) else [
        ("p", f"Caution: these runs use {', '.join(map(str, sizes))} worksites, not the "
              f"paper's 120 (a debug-size twin): the comparison below is a smoke check only."),
    ]  # fmt: skip
    blocks: list[tuple[str, Any]] = [
        *caution,
        ("p", "The paper's two coefficient tables and its held-out accuracy / AUC beside this "
              "sweep's estimates on the paper twin (whose truth is the paper's table, α "
              "recalibrated to the twin's prevalence). Scales: posterior median; α and β: "
              "posterior mean; spreads over seeds when a method has several runs."),
        ("table", shared_table(runs)),
        ("p", "Worksite-specific (worker-level) coefficients: median, mean and std over the "
              "worksites of each worksite's posterior-mean coefficient (the paper: 120)."),
    ]  # fmt: skip
    try:
        blocks.append(("table", worker_table(runs, records)))
    except (OSError, ValueError, KeyError) as exc:
        blocks.append(("p", f"(worker table unavailable: {type(exc).__name__}: {exc})"))
    blocks += [("p", "Held-out prediction."), ("table", predictive_table(runs))]
    return Section("Paper replication", blocks)
