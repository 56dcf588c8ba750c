"""Judge one fit: every metrics section and figure of a run, from the posterior alone.

The same code scores every backend.  Called by :mod:`evaluation.app` after the fit; calls the
judges (:mod:`evaluation.metrics`, :mod:`evaluation.clustering`) and the figure makers.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from backends.base import FitResult
from backends.spec import HierData, ModelSpec
from evaluation import io
from evaluation.clustering.pipeline import run_clustering
from evaluation.config import compose_backend, plain
from evaluation.metrics import diagnostics, posterior, predictive, reference

log = logging.getLogger("ppl_compare")


def reference_posterior(cfg: DictConfig, train: HierData, spec: ModelSpec):
    """Load or compute the reference posterior named by ``evaluation.reference`` (or None)."""
    ref = cfg.evaluation.get("reference")
    if not ref:
        return None, None
    if str(ref).endswith(".nc"):
        return reference.load_reference(Path(str(ref)))
    bcfg = compose_backend(str(ref), plain(cfg.evaluation.get("reference_overrides")))
    cache = Path(cfg.paths.cache_dir) / "reference"
    log.info("reference posterior: %s (cache %s)", ref, cache)
    return reference.cached_reference(bcfg, train, spec, int(cfg.seed), cache)


def evaluate(
    cfg: DictConfig,
    fit: FitResult,
    train: HierData,
    test: HierData | None,
    spec: ModelSpec,
    run_dir: Path,
) -> tuple[dict[str, Any], list[Path]]:
    """Every metrics section and figure, computed from the posterior alone."""
    ecfg = cfg.evaluation
    fig_dir = run_dir / "figures"
    figures: list[Path] = []
    scored = test if test is not None else train
    scored_pass = predictive.predictive_pass(fit.idata, scored)  # once: metrics and figures
    sections: dict[str, Any] = {
        "predictive": predictive.predictive_metrics(
            fit.idata,
            scored,
            in_sample=test is None,
            n_bins=int(ecfg.calibration_bins),
            res=scored_pass,
        ),
        "posterior": posterior.posterior_section(fit.idata, train),
        "diagnostics": diagnostics.diagnostics_section(
            fit.idata, train, spec, fit.info, fit.loss, fit.timing
        ),
    }
    ref_idata, ref_check = reference_posterior(cfg, train, spec)
    sections["posterior"]["sigma_collapse"] = posterior.sigma_collapse(
        fit.idata, reference=ref_idata, truth=train.truth, eps=float(ecfg.sigma_eps)
    )
    if ref_idata is not None:
        sections["reference"] = posterior.compare_to_reference(
            fit.idata, ref_idata, check=ref_check
        )
        sections["reference"]["criteria"] = ref_check._asdict()
        if ecfg.figures:
            figures.append(posterior.yao_scatter(fit.idata, ref_idata, fig_dir / "yao.png"))
    if ecfg.figures:
        figures += predictive.predictive_figures(fit.idata, scored, fig_dir, res=scored_pass)
        if fit.loss is not None and len(fit.loss):
            figures.append(
                io.plot_loss(
                    fit.loss,
                    run_dir / "loss.png",
                    title=cfg.backend.name,
                    converged_step=fit.info.get("converged_step"),
                    steps=fit.info.get("loss_steps"),
                )
            )
    if ecfg.clustering.get("enabled", True):
        ccfg = plain(ecfg.clustering)
        sections["clustering"] = run_clustering(
            fit.idata.posterior, train, ccfg, run_dir, fig_dir if ecfg.figures else None
        )
        figures += sorted(fig_dir.glob("cluster*.png")) if ecfg.figures else []
    return sections, figures


def data_section(
    cfg: DictConfig, data: HierData, train: HierData, test: HierData | None
) -> dict[str, Any]:
    """The ``data`` section of metrics.json."""
    return {
        "name": data.name,
        "kind": cfg.data.get("kind", data.name),
        "seed": cfg.data.get("seed"),
        "n_worksites": data.n_worksites,
        "n_workers": data.n_workers,
        "n_train": train.n_workers,
        "n_test": 0 if test is None else test.n_workers,
        "prevalence": data.prevalence,
        "split": cfg.data.get("split", "workers"),
        "test_fraction": cfg.data.get("test_fraction", 0.2),
        "sigma_worker_truth": None if data.truth is None else float(data.truth["sigma_worker"]),
        "planted_clusters": data.cluster_labels is not None,
        "site_features": list(data.site_features),
        "worker_features": list(data.worker_features),
        "meta": dict(data.meta),
    }
