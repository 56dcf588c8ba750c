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
``cross.ari_vs_nuts_floor``     its floor: the ARI of the posterior-mean clusterings of two
                                disjoint chain halves of the partner (:func:`ari_floor`), and
                                ``cross.ari_vs_nuts_beyond_floor`` (1 - ARI more than twice the
                                floor's);
``cross.sigma_worker_ratio``    posterior median of sigma_worker over the partner's;
``vs_nuts.*``                   :func:`evaluation.metrics.posterior.compare_to_reference` of the two
                                posteriors (sd ratios, standardised mean errors, W1), computed
                                only for runs without a configured reference posterior
                                (``evaluation.reference``), whose ``reference.*`` is better;
                                beside each block number its noise floor ``<stat>_floor`` (the
                                same number for two disjoint chain halves of the partner,
                                :mod:`evaluation.metrics.floors`) and ``<stat>_beyond_floor``;
``cross.partner_checks_failed`` the partner's failed checks (R-hat < 1.01, bulk and tail ESS
                                >= 400, no divergences; from its ``diagnostics.mcmc``), ``""``
                                when it passed them: a comparison with a failing partner is
                                flagged, as ``reference.reference_flag`` is;
``cross.ari_draws_vs_nuts``     the run's draw-to-mean ARI (``clustering.ari_draws.mean``) minus
                                the partner's;
``cross.more_certain_than_nuts`` True when a VI run's draw-to-mean ARI exceeds the partner's on
                                the same data: its clusters look stabler than the exact
                                posterior's, i.e. it is more certain than the exact posterior
                                (overconfidence, not stability).
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

from evaluation.clustering.cluster import cluster_posterior
from evaluation.clustering.coefficients import coefficients
from evaluation.clustering.settings import settings as clustering_settings
from evaluation.clustering.stability import ari, cross_run_ari_files
from evaluation.metrics.diagnostics import ESS_MIN, RHAT_MAX
from evaluation.metrics.draws import extract
from evaluation.metrics.floors import beyond_floor, compare_with_floor, split_chains
from evaluation.metrics.posterior import compare_to_reference
from evaluation.sweep.columns import family, numeric
from evaluation.sweep.records import RunRecord, flatten

log = logging.getLogger("ppl_compare.sweep")

#: The declared inference family of a same-data partner.
PARTNER_FAMILY = "mcmc"
_HAS_REFERENCE = "reference.blocks.beta_worker.sd_ratio_median"
_SIGMA_MEDIAN = "posterior.summary.sigma_worker.median"
_DRAW_ARI = "clustering.ari_draws.mean"
_MCMC = "diagnostics.mcmc"


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
    """``compare_to_reference`` of run a's posterior against run b's, with the floor of each
    number from two disjoint chain halves of run b (None on failure)."""
    try:
        return compare_with_floor(
            compare_to_reference, extract(load_posterior(path_a)), extract(load_posterior(path_b))
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("posterior %s vs %s: %s", path_a.parent.name, path_b.parent.name, exc)
        return None


def ari_floor(rec: RunRecord | None) -> float | None:
    """The floor of ``cross.ari_vs_nuts``: ARI of the posterior-mean clusterings of two disjoint
    chain halves of the partner (:func:`evaluation.metrics.floors.split_chains`), clustered with
    the partner's own settings and K (no K selection, no per-draw clustering); None on failure.
    """
    path = _run_file(rec, "posterior.nc")
    cfg = ((rec.metrics if rec else {}) or {}).get("clustering") or {}
    if path is None or not cfg.get("settings"):
        return None
    try:
        s = {**cfg["settings"], "n_draws": 0, "k_range": None}
        if s.get("k") == "auto":
            s["k"] = cfg.get("k")
        s = clustering_settings(s)
        halves = split_chains(extract(load_posterior(path)))
        a, b = (cluster_posterior(coefficients(h), s).labels for h in halves)
        return ari(a, b)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ARI floor of %s: %s", path.parent.name, exc)
        return None


def _ari_with_floor(value: float | None, floor: float | None) -> dict[str, Any]:
    """The ARI floor and whether the ARI is beyond it: 1 - ARI more than FLOOR_FACTOR times
    the floor's 1 - ARI (None when either is unknown)."""
    out: dict[str, Any] = {"cross.ari_vs_nuts_floor": floor}
    if value is not None and floor is not None:
        out["cross.ari_vs_nuts_beyond_floor"] = beyond_floor("ari_distance", 1 - value, 1 - floor)
    return out


def mcmc_partner(group: pd.DataFrame, idx: Any) -> Any:
    """Index of the MCMC run in ``group`` (same data and seed) to compare run ``idx`` with.

    Candidates are the other runs whose declared family is ``"mcmc"``; among several, a
    first fit (``repeat`` 0) before a repeated one, then the first by backend name, then the
    first in job order (so a NUTS repeat is paired with its NUTS: the noise floor).
    None when there is no candidate.
    """
    others = group.drop(index=idx)
    if "backend" not in others or others.empty:
        return None
    mcmc = others[(family(others) == PARTNER_FAMILY).to_numpy()]
    if mcmc.empty:
        return None
    repeat = numeric(mcmc, "fit_repeat").fillna(0.0)
    return min(mcmc.index, key=lambda i: (repeat[i] != 0, str(mcmc.at[i, "backend"]), i))


def partner_checks_failed(df: pd.DataFrame, partner: Any) -> str:
    """The partner's failed checks, comma-separated (``""`` when it passed all): max R-hat <
    :data:`RHAT_MAX`, min bulk and tail ESS >= :data:`ESS_MIN`, no divergent transitions, read
    from its ``diagnostics.mcmc`` section; a check whose number is missing fails."""

    def value(key: str) -> float:
        return float(numeric(df, f"{_MCMC}.{key}")[partner])

    checks = {
        "max_rhat": value("max_rhat") < RHAT_MAX,
        "min_ess_bulk": value("min_ess_bulk") >= ESS_MIN,
        "min_ess_tail": value("min_ess_tail") >= ESS_MIN,
        "n_divergent": value("n_divergent") == 0,
    }
    return ", ".join(k for k, ok in checks.items() if not ok)


def _certainty(df: pd.DataFrame, idx: Any, partner: Any) -> dict[str, Any]:
    own, theirs = numeric(df, _DRAW_ARI)[idx], numeric(df, _DRAW_ARI)[partner]
    if not (np.isfinite(own) and np.isfinite(theirs)):
        return {}
    is_vi = family(df.loc[[idx]]).iloc[0] == "vi"
    return {"cross.ari_draws_vs_nuts": own - theirs,
            "cross.more_certain_than_nuts": bool(is_vi and own > theirs)}  # fmt: skip


def _pair(
    df: pd.DataFrame, idx: Any, partner: Any, recs: dict[str, RunRecord], ari_floors: dict
) -> dict:
    a, b = recs.get(df.at[idx, "run"]), recs.get(df.at[partner, "run"])
    out: dict[str, Any] = {"cross.nuts_partner": str(df.at[partner, "backend"]),
                           "cross.partner_checks_failed": partner_checks_failed(df, partner),
                           **_certainty(df, idx, partner)}  # fmt: skip
    ca, cb = _run_file(a, "clusters.nc"), _run_file(b, "clusters.nc")
    if ca and cb:
        out["cross.ari_vs_nuts"] = cross_ari(ca, cb)
        if partner not in ari_floors:  # once per partner run
            ari_floors[partner] = ari_floor(b)
        out.update(_ari_with_floor(out["cross.ari_vs_nuts"], ari_floors[partner]))
    sig = numeric(df, _SIGMA_MEDIAN)
    if sig[partner] > 0:
        out["cross.sigma_worker_ratio"] = sig[idx] / sig[partner]
    has_ref = _HAS_REFERENCE in df.columns and np.isfinite(numeric(df, _HAS_REFERENCE)[idx])
    pa, pb = _run_file(a, "posterior.nc"), _run_file(b, "posterior.nc")
    if not has_ref and pa and pb:
        out.update(flatten(compare_posteriors(pa, pb) or {}, "vs_nuts."))
    return out


_TEXT_COLUMNS = ("cross.nuts_partner", "cross.partner_checks_failed")


def add_cross_run(df: pd.DataFrame, records: Sequence[RunRecord]) -> pd.DataFrame:
    """Add the ``cross.*`` and ``vs_nuts.*`` columns (see the module docstring)."""
    recs = {r.name: r for r in records}
    rows: dict[Any, dict] = {}
    ari_floors: dict[Any, float | None] = {}
    done = df[df["status"] == "complete"]
    if "backend" in done:
        for _, group in done.groupby(["scenario", "replicate"], sort=False):
            for idx in group.index:
                partner = mcmc_partner(group, idx)
                if partner is not None:
                    rows[idx] = _pair(df, idx, partner, recs, ari_floors)
    extra = pd.DataFrame.from_dict(rows, orient="index")
    for col in (
        "cross.nuts_partner",
        "cross.ari_vs_nuts",
        "cross.sigma_worker_ratio",
        "cross.partner_checks_failed",
        "cross.more_certain_than_nuts",
    ):
        if col not in extra:
            extra[col] = "" if col in _TEXT_COLUMNS else np.nan
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
