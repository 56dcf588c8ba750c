"""Cross-run comparisons inside a sweep: each run against the NUTS run of the same data.

Runs are paired within (scenario, replicate) — same data config, same seed — with an MCMC
(NUTS) run of that data: a run whose backend declares the ``mcmc`` family (``metrics.json`` key
``family``), never guessed from the backend's name.  With several MCMC runs of the same data the
partner is the first by backend name (``pymc_nuts`` before ``stan_nuts``); a run without a
declared family (an older metrics.json) is never a partner.  Added columns of comparison.csv
(names kept from when every MCMC backend was NUTS):

``cross.nuts_partner``          the partner's backend;
``cross.ari_vs_nuts``           ARI of the two posterior-mean clusterings (``clusters.nc``),
                                worksites matched by id (:mod:`evaluation.clustering.stability`);
``cross.sigma_worker_ratio``    posterior median of sigma_worker over the partner's;
``vs_nuts.*``                   :func:`evaluation.metrics.posterior.compare_to_reference` of the two
                                posteriors (sd ratios, standardised mean errors, W1), computed
                                only for runs without a configured reference posterior
                                (``evaluation.reference``), whose ``reference.*`` is better.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from evaluation.clustering.stability import cross_run_ari_files
from evaluation.metrics.posterior import compare_to_reference
from evaluation.sweep.records import RunRecord, flatten
from evaluation.sweep.tables import family, numeric

log = logging.getLogger("ppl_compare.sweep")

#: The declared inference family of a same-data partner.
PARTNER_FAMILY = "mcmc"
_HAS_REFERENCE = "reference.blocks.beta_worker.sd_ratio_median"
_SIGMA_MEDIAN = "posterior.summary.sigma_worker.median"


def _run_file(rec: RunRecord | None, name: str) -> Path | None:
    if rec is None or rec.status != "complete":
        return None
    path = rec.path / name
    return path if path.exists() else None


def cross_ari(path_a: Path, path_b: Path) -> float | None:
    """ARI of two runs' posterior-mean clusterings, worksites matched by label (or None)."""
    try:
        return float(cross_run_ari_files(path_a, path_b))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("cross-run ARI %s vs %s: %s", path_a.parent.name, path_b.parent.name, exc)
        return None


def load_posterior(path: Path) -> Any:
    """The posterior group of a ``posterior.nc``, loaded, wrapped like an InferenceData."""
    with xr.open_dataset(path, group="posterior") as post:
        return SimpleNamespace(posterior=post.load())


def compare_posteriors(path_a: Path, path_b: Path) -> dict[str, Any] | None:
    """``compare_to_reference`` of run a's posterior against run b's (None on failure)."""
    try:
        return compare_to_reference(load_posterior(path_a), load_posterior(path_b))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("posterior %s vs %s: %s", path_a.parent.name, path_b.parent.name, exc)
        return None


def mcmc_partner(group: pd.DataFrame, idx: Any) -> Any:
    """Index of the MCMC run in ``group`` (same data and seed) to compare run ``idx`` with.

    Candidates are the other runs whose declared family is ``"mcmc"``; among several, the
    first by backend name (then the first in job order).
    None when there is no candidate.
    """
    others = group.drop(index=idx)
    if "backend" not in others or others.empty:
        return None
    mcmc = others[(family(others) == PARTNER_FAMILY).to_numpy()]
    if mcmc.empty:
        return None
    return min(mcmc.index, key=lambda i: (str(mcmc.at[i, "backend"]), i))


def _pair(df: pd.DataFrame, idx: Any, partner: Any, recs: dict[str, RunRecord]) -> dict:
    a, b = recs.get(df.at[idx, "run"]), recs.get(df.at[partner, "run"])
    out: dict[str, Any] = {"cross.nuts_partner": str(df.at[partner, "backend"])}
    ca, cb = _run_file(a, "clusters.nc"), _run_file(b, "clusters.nc")
    if ca and cb:
        out["cross.ari_vs_nuts"] = cross_ari(ca, cb)
    sig = numeric(df, _SIGMA_MEDIAN)
    if sig[partner] > 0:
        out["cross.sigma_worker_ratio"] = sig[idx] / sig[partner]
    has_ref = _HAS_REFERENCE in df.columns and np.isfinite(numeric(df, _HAS_REFERENCE)[idx])
    pa, pb = _run_file(a, "posterior.nc"), _run_file(b, "posterior.nc")
    if not has_ref and pa and pb:
        out.update(flatten(compare_posteriors(pa, pb) or {}, "vs_nuts."))
    return out


def add_cross_run(df: pd.DataFrame, records: Sequence[RunRecord]) -> pd.DataFrame:
    """Add the ``cross.*`` and ``vs_nuts.*`` columns (see the module docstring)."""
    recs = {r.name: r for r in records}
    rows: dict[Any, dict] = {}
    done = df[df["status"] == "complete"]
    if "backend" in done:
        for _, group in done.groupby(["scenario", "replicate"], sort=False):
            for idx in group.index:
                partner = mcmc_partner(group, idx)
                if partner is not None:
                    rows[idx] = _pair(df, idx, partner, recs)
    extra = pd.DataFrame.from_dict(rows, orient="index")
    for col in ("cross.nuts_partner", "cross.ari_vs_nuts", "cross.sigma_worker_ratio"):
        if col not in extra:
            extra[col] = np.nan if col != "cross.nuts_partner" else ""
    return df.join(extra.reindex(df.index))


def pairwise_method_ari(df: pd.DataFrame, records: Sequence[RunRecord]) -> dict[str, Any]:
    """Per scenario: (methods, matrix of mean ARI over the shared seeds) of every method pair."""
    recs = {r.name: r for r in records}
    out: dict[str, Any] = {}
    done = df[df["status"] == "complete"]
    for scenario, sdf in done.groupby("scenario", sort=False):
        methods = list(dict.fromkeys(sdf["method_label"]))
        if len(methods) < 2:
            continue
        sums = np.zeros((len(methods), len(methods)))
        counts = np.zeros_like(sums)
        for _, rep in sdf.groupby("replicate"):
            files = {m: _run_file(recs.get(r), "clusters.nc")
                     for m, r in zip(rep["method_label"], rep["run"], strict=True)}  # fmt: skip
            for i, a in enumerate(methods):
                for j in range(i + 1, len(methods)):
                    fa, fb = files.get(a), files.get(methods[j])
                    v = cross_ari(fa, fb) if fa and fb else None
                    if v is not None:
                        sums[i, j] += v
                        counts[i, j] += 1
        with np.errstate(invalid="ignore"):
            mat = sums / counts
        mat = np.where(np.isfinite(mat), mat, mat.T)
        np.fill_diagonal(mat, 1.0)
        if counts.sum():
            out[str(scenario)] = (methods, mat)
    return out
