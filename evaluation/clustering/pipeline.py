"""The paper's Gaussian-mixture clustering of worksite coefficients, and its stability.

:func:`run_clustering` is the app's one entry point: it clusters the posterior-mean
``beta_worker`` matrix (worksite x worker feature) with the Gibbs sampler of
:mod:`evaluation.clustering.gmm` (the paper's K = 2, sigma = 1e-4, alpha0 = 1, eta = 0.1,
400 sweeps), picks
K by the elbow of the log joint over ``k_range`` (with scikit-learn's BIC alongside), and
measures stability by the adjusted Rand index (ARI):

* across ``n_seeds`` Gibbs seeds on the same input (all pairs: mean, sd, min);
* across ``n_draws`` posterior draws, each clustered on its own (best of ``draw_restarts``
  chains, so that a chain stuck in a local optimum is not mistaken for posterior uncertainty),
  against the posterior-mean clustering (mean, sd, min), plus the worksite x worksite
  co-clustering matrix (fraction of draws in which two worksites share a cluster;
  label-switching invariant);
* against the planted labels (``HierData.cluster_labels``) when the data have them;
* across runs (backends) with :func:`cross_run_ari` / :func:`cross_run_ari_files`, which match
  worksites by label.

The verdict is "stable" when the mean ARI across draws and the minimum ARI across seeds both
reach ``stability_threshold`` (default 0.8), else "unstable"; "trivial" for K = 1;
"degenerate" when every worksite has the same posterior-mean coefficients (nothing to cluster;
no sampler is run) or when all worksites land in one cluster.

Outputs: ``clusters.nc`` (written atomically), the ``clustering`` section of metrics.json (the
return value) and figures ``cluster_*.png`` (:mod:`evaluation.clustering.figures`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from backends.spec import HierData
from evaluation.clustering import gmm
from evaluation.clustering import select as gmm_select
from evaluation.clustering.coefficients import (
    DEFAULTS,
    AriSummary,
    Coefficients,
    FeatureTable,
    ari,
    cluster_means,
    coclustering,
    coefficients,
    cross_run_ari,
    cross_run_ari_files,
    feature_table,
    load_clusters,
    pairwise_ari,
    settings,
    standardize,
    summarise,
)

FILENAME = "clusters.nc"


class ClusteringResult(NamedTuple):
    """Everything computed by :func:`cluster_posterior` (arrays in the data's worksite order).

    Attributes
    ----------
    k : int
        Number of components used.
    labels : ndarray of int64, shape (J,)
        Posterior-mean clustering (the best-log-joint seed; 0 = largest cluster).
    seeds : GibbsResult or None
        The ``n_seeds`` chains on the posterior mean (None when degenerate).
    draw_index : ndarray of int64, shape (M,)
        Which flattened posterior draws were clustered.
    draws : GibbsResult or None
        One chain per clustered draw (None when ``n_draws`` is 0 or degenerate).
    k_selection : KSelection or None
    constant_features : tuple of str
        Features constant across worksites in the posterior mean.
    degenerate_reason : str or None
    """

    k: int
    labels: np.ndarray
    seeds: gmm.GibbsResult | None
    draw_index: np.ndarray
    draws: gmm.GibbsResult | None
    k_selection: gmm_select.KSelection | None
    constant_features: tuple[str, ...]
    degenerate_reason: str | None


def _prepare(x: np.ndarray, s: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    z, constant = standardize(x)
    return (z if s["standardize"] else np.asarray(x, dtype=float)), constant


def _gibbs_kw(s: Mapping[str, Any]) -> dict[str, Any]:
    return {key: s[key] for key in ("sigma", "alpha0", "eta", "n_iter", "burn_in")}


def cluster_posterior(coef: Coefficients, s: Mapping[str, Any]) -> ClusteringResult:
    """Cluster the posterior mean (several seeds) and ``n_draws`` single draws.

    Parameters
    ----------
    coef : Coefficients
        From :func:`evaluation.clustering.coefficients.coefficients`.
    s : mapping
        Validated settings (:func:`evaluation.clustering.coefficients.settings`).
    """
    j = coef.mean.shape[0]
    if s["k"] != "auto" and s["k"] > j:
        raise ValueError(f"clustering: K = {s['k']} exceeds the number of worksites J = {j}")
    x, constant = _prepare(coef.mean, s)
    const_names = tuple(f for f, c in zip(coef.features, constant, strict=True) if c)
    if constant.all():
        reason = "every worksite has the same posterior-mean coefficients: nothing to cluster"
        k = 1 if s["k"] == "auto" else s["k"]
        return ClusteringResult(
            k, np.zeros(j, np.int64), None, np.zeros(0, np.int64), None, None, const_names, reason
        )
    kw, seed = _gibbs_kw(s), s["seed"]
    ksel = None
    if s["k_range"] is not None:
        ksel = gmm_select.select_k(
            x, s["k_range"], n_chains=s["k_chains"], seed=seed, bic=s["bic"], **kw
        )
    k = ksel.chosen_k if s["k"] == "auto" else s["k"]
    seeds = gmm.gibbs_gmm(np.repeat(x[None], s["n_seeds"], 0), k, seed=seed, stream=0, **kw)
    best = int(np.argmax(seeds.log_joint[:, s["burn_in"] :].max(axis=1)))
    labels = gmm.canonical_labels(seeds.labels[best])
    n_avail = coef.draws.shape[0] if coef.draws.shape[0] > 1 else 0  # one matrix: no draws
    pick = np.random.default_rng([seed, 1_000]).choice(
        n_avail, size=min(s["n_draws"], n_avail), replace=False
    )
    pick = np.sort(pick)
    draws = None
    if pick.size:
        xd = np.repeat(_prepare(coef.draws[pick], s)[0], s["draw_restarts"], axis=0)
        draws = gmm.gibbs_gmm(xd, k, seed=seed, stream=1, **kw)
        draws = gmm.best_of(draws, s["draw_restarts"])
    return ClusteringResult(k, labels, seeds, pick, draws, ksel, const_names, None)


def _verdict(seeds: AriSummary, draws: AriSummary, thr: float) -> tuple[str, str]:
    """Stability verdict and its reason in words."""
    parts, ok = [], True
    for name, value in (
        ("min ARI across Gibbs seeds", seeds.min),
        ("mean ARI of posterior draws to the posterior-mean clustering", draws.mean),
    ):
        if value is None:
            parts.append(f"{name}: not measured")
            continue
        ok &= value >= thr
        parts.append(f"{name} {value:.3f} {'>=' if value >= thr else '<'} {thr}")
    return ("stable" if ok else "unstable"), "; ".join(parts)


def _num(v: Any) -> float | None:
    return float(v) if v is not None and np.isfinite(v) else None


def _sigma_over_spread(coef: Coefficients, s: Mapping[str, Any]) -> float | None:
    """``sigma`` over the median sd across worksites of the non-constant clustered features.

    Much below 1 (the paper's regime): assignments are the nearest-mean rule.  Near or above 1
    (e.g. a collapsed ``sigma_worker`` shrinking every coefficient to ~0): the likelihood no
    longer separates worksites and the clusters are mostly noise.
    """
    x, constant = _prepare(coef.mean, s)
    sd = x.std(axis=0)[~constant]
    return float(s["sigma"] / np.median(sd)) if sd.size else None


def _k_section(ks: gmm_select.KSelection | None) -> dict[str, Any]:
    if ks is None:
        return dict.fromkeys(("chosen_k", "chosen_k_rule", "k_scores", "bic", "chosen_k_bic"))
    keys = [str(k) for k in ks.ks]
    return {
        "chosen_k": ks.chosen_k,
        "chosen_k_rule": ks.rule,
        "k_scores": dict(zip(keys, map(_num, ks.score), strict=True)),
        "bic": None if ks.bic is None else dict(zip(keys, map(_num, ks.bic), strict=True)),
        "chosen_k_bic": ks.chosen_k_bic,
    }


def stability_verdict(
    res: ClusteringResult,
    coef: Coefficients,
    s: Mapping[str, Any],
    seeds: AriSummary,
    draws: AriSummary,
) -> dict[str, Any]:
    """``{"verdict", "threshold", "reason"}`` (see the module docstring for the rule)."""
    verdict, reason = _verdict(seeds, draws, s["stability_threshold"])
    if res.degenerate_reason:
        verdict, reason = "degenerate", res.degenerate_reason
    elif res.k == 1:
        verdict, reason = "trivial", "K = 1: a single cluster, nothing to compare"
    elif np.unique(res.labels).size < 2:
        verdict = "degenerate"
        reason = (
            f"every worksite fell into one of the K = {res.k} clusters (sigma / spread = "
            f"{_sigma_over_spread(coef, s):.3g}; sigma may be too large for this scale)"
        )
    return {"verdict": verdict, "threshold": s["stability_threshold"], "reason": reason}


def _uncertain_pairs(res: ClusteringResult) -> float | None:
    """Fraction of worksite pairs together in more than 10% but less than 90% of the draws."""
    if res.draws is None or len(res.labels) < 2:
        return None
    cc = coclustering(res.draws.labels)[np.triu_indices(len(res.labels), 1)]
    return float(((cc > 0.1) & (cc < 0.9)).mean())


def metrics_section(
    res: ClusteringResult,
    coef: Coefficients,
    data: HierData,
    table: FeatureTable | None,
    s: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON-serialisable ``clustering`` section of metrics.json."""
    truth = None if res.degenerate_reason else data.cluster_labels
    seeds = summarise(pairwise_ari(res.seeds.labels) if res.seeds is not None else [])
    draw_labels = res.draws.labels if res.draws is not None else []
    draws = summarise([ari(lab, res.labels) for lab in draw_labels])
    return {
        "k": res.k,
        **_k_section(res.k_selection),
        "ari_seeds": seeds.as_dict(),
        "ari_draws": draws.as_dict(),
        "ari_truth": None if truth is None else ari(res.labels, truth),
        "ari_truth_draws": None
        if truth is None or not len(draw_labels)
        else summarise([ari(lab, truth) for lab in draw_labels]).as_dict(),
        "n_per_cluster": np.bincount(res.labels, minlength=res.k).tolist(),
        "stability": stability_verdict(res, coef, s, seeds, draws),
        "coclustering_uncertain_pairs": _uncertain_pairs(res),
        "degenerate": res.degenerate_reason is not None,
        "degenerate_reason": res.degenerate_reason,
        "empty_clusters": int(res.k - np.unique(res.labels).size),
        "constant_features": list(res.constant_features),
        "feature_table": None if table is None else table.as_dict(),
        "separating_site_features": []
        if table is None
        else [f for f, p in zip(table.features, table.kruskal_p, strict=True) if p < 0.05],
        "sigma_over_spread": _sigma_over_spread(coef, s),
        "settings": dict(s),
    }


def to_dataset(
    res: ClusteringResult,
    coef: Coefficients,
    data: HierData,
    table: FeatureTable | None,
    s: Mapping[str, Any],
) -> Any:
    """``clusters.nc`` as an xarray Dataset.

    Variables (present when computed): ``labels`` (worksite; posterior-mean clustering),
    ``truth_labels``, ``labels_seed`` (gibbs_seed, worksite), ``labels_draw`` (draw_sample,
    worksite) with ``draw_chain``/``draw_draw`` (which posterior draw), ``coclustering``
    (worksite, worksite_other), ``log_joint_seed``/``log_joint_draw`` (.., iteration),
    ``log_joint_k`` (k_candidate, k_chain, iteration), ``k_score``, ``bic``, ``cluster_means``
    (cluster, worker_feature; input units), ``n_per_cluster``, ``site_feature_mean``
    (site_feature, cluster_present), ``welch_t``, ``welch_p``, ``kruskal_p``.  Attributes:
    ``k``, ``chosen_k`` (-1 if not selected), ``degenerate``, ``degenerate_reason`` and every
    setting as ``setting_<key>``.  All label arrays are canonical (0 = largest cluster).
    """
    import xarray as xr

    ws = list(coef.worksites)
    v: dict[str, Any] = {
        "labels": (("worksite",), res.labels),
        "cluster_means": (
            ("cluster", "worker_feature"),
            cluster_means(coef.mean, res.labels, res.k),
        ),
        "n_per_cluster": (("cluster",), np.bincount(res.labels, minlength=res.k)),
    }
    if data.cluster_labels is not None:
        v["truth_labels"] = (("worksite",), np.asarray(data.cluster_labels, np.int64))
    if res.seeds is not None:
        v["labels_seed"] = (("gibbs_seed", "worksite"), gmm.canonical_labels(res.seeds.labels))
        v["log_joint_seed"] = (("gibbs_seed", "iteration"), res.seeds.log_joint)
    if res.draws is not None:
        v["labels_draw"] = (("draw_sample", "worksite"), gmm.canonical_labels(res.draws.labels))
        v["log_joint_draw"] = (("draw_sample", "iteration"), res.draws.log_joint)
        v["draw_chain"] = (("draw_sample",), coef.chain_draw[res.draw_index, 0])
        v["draw_draw"] = (("draw_sample",), coef.chain_draw[res.draw_index, 1])
        v["coclustering"] = (("worksite", "worksite_other"), coclustering(res.draws.labels))
    v.update(_selection_vars(res.k_selection, table))
    ks = res.k_selection
    coords = {
        "worksite": ws,
        "worksite_other": ws,
        "worker_feature": list(coef.features),
        "cluster": np.arange(res.k),
        "site_feature": list(data.site_features),
    }
    if table is not None:
        coords["cluster_present"] = table.clusters
    if ks is not None:
        coords["k_candidate"] = ks.ks
    ds = xr.Dataset(
        v, coords={c: val for c, val in coords.items() if any(c in dims for dims, _ in v.values())}
    )
    ds.attrs.update(_attrs(res, s))
    return ds


def _selection_vars(ks: gmm_select.KSelection | None, table: FeatureTable | None) -> dict[str, Any]:
    """Dataset variables of the K selection and of the Fig. 7 table."""
    v: dict[str, Any] = {}
    if ks is not None:
        v["k_score"] = (("k_candidate",), ks.score)
        v["log_joint_k"] = (("k_candidate", "k_chain", "iteration"), ks.traces)
        if ks.bic is not None:
            v["bic"] = (("k_candidate",), ks.bic)
    if table is not None:
        v["site_feature_mean"] = (("site_feature", "cluster_present"), table.means)
        for name in ("welch_t", "welch_p", "kruskal_p"):
            v[name] = (("site_feature",), getattr(table, name))
    return v


def _attrs(res: ClusteringResult, s: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "k": res.k,
        "degenerate": int(res.degenerate_reason is not None),
        "degenerate_reason": res.degenerate_reason or "",
        "chosen_k": -1 if res.k_selection is None else res.k_selection.chosen_k,
    }
    for key, value in s.items():
        if value is None:
            continue
        out[f"setting_{key}"] = int(value) if isinstance(value, bool) else value
    return out


def write_dataset(ds: Any, path: Path) -> Path:
    """Write ``ds`` to ``path`` atomically (temporary name in the same dir, then os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        ds.to_netcdf(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def run_clustering(
    posterior: Any,
    data: HierData,
    cfg: Mapping[str, Any] | None,
    out_dir: Path,
    fig_dir: Path | None = None,
) -> dict[str, Any]:
    """Cluster, measure stability, write ``clusters.nc`` and figures; return the metrics section.

    Parameters
    ----------
    posterior : InferenceData, xarray.Dataset/DataArray or array_like
        Holds ``beta_worker`` (chain, draw, worksite, worker_feature); aligned to ``data`` by
        label.  A plain (J, D) array is a single matrix (then no draw stability).
    data : HierData
        Worksite ids, worksite features (Fig. 7) and planted labels if any.
    cfg : mapping
        Keys of :data:`evaluation.clustering.coefficients.DEFAULTS`; missing keys take the defaults.
    out_dir : Path
        Where ``clusters.nc`` goes.
    fig_dir : Path, optional
        Where the ``cluster_*.png`` figures go; None writes no figures.

    Returns
    -------
    dict
        The ``clustering`` section of metrics.json.

    Raises
    ------
    ValueError
        K larger than the number of worksites, NaN/inf coefficients, misaligned labels or bad
        settings.
    """
    start = time.perf_counter()
    s = settings(cfg)
    coef = coefficients(posterior, data)
    res = cluster_posterior(coef, s)
    table = None
    if res.degenerate_reason is None and data.X_site.shape[1]:
        table = feature_table(data.X_site, res.labels, data.site_features)
    section = metrics_section(res, coef, data, table, s)
    write_dataset(to_dataset(res, coef, data, table, s), Path(out_dir) / FILENAME)
    section["figures"] = []
    if fig_dir is not None:
        from evaluation.clustering.figures import write_figures

        paths = write_figures(res, coef, data, table, Path(fig_dir))
        section["figures"] = [p.name for p in paths]
    section["runtime_s"] = time.perf_counter() - start
    return section


__all__ = [
    "DEFAULTS",
    "FILENAME",
    "ClusteringResult",
    "cluster_posterior",
    "cross_run_ari",
    "cross_run_ari_files",
    "load_clusters",
    "metrics_section",
    "run_clustering",
    "to_dataset",
    "write_dataset",
]
