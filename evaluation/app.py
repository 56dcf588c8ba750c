"""The Hydra app: one (data, backend, seed) fit and its evaluation.

    ppl-compare                                   # one run, default config
    ppl-compare backend=pymc_nuts data.sigma_worker=0.5 data.seed=3
    ppl-compare -m backend=pyro_meanfield,stan_nuts data.seed=0,1,2

A run builds the data (seeded), splits held-out workers, fits, scores, and writes into the
Hydra run dir: ``posterior.nc``, ``clusters.nc``, ``figures/``, ``report.md`` and, last,
``metrics.json`` (so a ``metrics.json`` with ``"status": "complete"`` marks a finished run).
A failure is one line in the log; in a single run the exit code is 1, in a multirun the
failure is recorded in ``failed.json`` and the sweep goes on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from backends.base import BackendError, FitResult, check_inference_data, split_name
from backends.spec import HierData, ModelSpec
from evaluation import io
from evaluation.clustering.pipeline import run_clustering
from evaluation.config import (
    CONF_DIR,
    apply_backend_overrides,
    compose_backend,
    instantiate_backend,
    model_spec,
    plain,
)
from evaluation.data.load import load_data
from evaluation.data.recipes import DataValidationError
from evaluation.data.split import split_from_config
from evaluation.metrics import diagnostics, posterior, predictive, reference
from evaluation.report.run_report import write_run_report

log = logging.getLogger("ppl_compare")


class RunFailed(RuntimeError):
    """A run could not complete; the message is the one line shown to the user."""


# ----------------------------------------------------------------------------- configuration
def backend_config(cfg: DictConfig) -> DictConfig:
    """``cfg.backend`` with ``cfg.backend_overrides`` applied to the keys the backend has."""
    backend = apply_backend_overrides(plain(cfg.backend), plain(cfg.get("backend_overrides")))
    return OmegaConf.create(backend)


def config_hash(cfg: DictConfig) -> str:
    """A hash of the resolved job config (what makes two runs the same run)."""
    container = OmegaConf.to_container(cfg, resolve=True)
    container.pop("hydra", None)
    text = json.dumps(container, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def is_complete(run_dir: Path, digest: str) -> bool:
    """True when ``run_dir`` already holds a complete run of the same config."""
    path = Path(run_dir) / "metrics.json"
    if not path.exists():
        return False
    try:
        metrics = io.read_json(path)
    except (OSError, ValueError):
        return False
    return metrics.get("status") == "complete" and metrics.get("config_hash") == digest


# ----------------------------------------------------------------------------- the stages
def build_data(cfg_data: DictConfig) -> tuple[HierData, HierData, HierData | None]:
    """Full data set, training part and held-out part (None when test_fraction is 0)."""
    data = load_data(cfg_data)
    train, test = split_from_config(data, cfg_data)
    return data, train, test


def fit_backend(cfg: DictConfig, train: HierData, spec: ModelSpec) -> tuple[Any, FitResult]:
    """Instantiate the configured backend and fit it; contract-check the result."""
    backend = instantiate_backend(backend_config(cfg), spec)
    log.info(
        "fitting %s on %d workers x %d worksites (seed %d)",
        backend.name,
        train.n_workers,
        train.n_worksites,
        cfg.seed,
    )
    fit = backend.fit(train, seed=int(cfg.seed))
    check_inference_data(fit.idata, train)
    return backend, fit


def reference_posterior(cfg: DictConfig, train: HierData, spec: ModelSpec):
    """Load or compute the reference posterior named by ``evaluation.reference`` (or None)."""
    ref = cfg.evaluation.get("reference")
    if not ref:
        return None, None
    if str(ref).endswith(".nc"):
        return reference.load_reference(Path(str(ref)))
    try:
        bcfg = compose_backend(str(ref), plain(cfg.evaluation.get("reference_overrides")))
    except ValueError as exc:
        raise RunFailed(str(exc)) from None
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


def run(cfg: DictConfig, run_dir: Path, *, force: bool = False) -> dict[str, Any]:
    """One complete run into ``run_dir``; returns the metrics written to metrics.json."""
    run_dir = Path(run_dir)
    digest = config_hash(cfg)
    if not force and is_complete(run_dir, digest):
        log.info("skipping: %s already holds a complete run of this config", run_dir)
        return io.read_json(run_dir / "metrics.json")
    start = time.perf_counter()
    data, train, test = build_data(cfg.data)
    spec = model_spec(cfg.model)
    backend, fit = fit_backend(cfg, train, spec)
    io.write_netcdf(run_dir / "posterior.nc", fit.idata)
    sections, figures = evaluate(cfg, fit, train, test, spec, run_dir)
    language, method = split_name(backend.name)
    metrics: dict[str, Any] = {
        "status": "complete",
        "config_hash": digest,
        "backend": backend.name,
        "language": language,
        "method": method,
        "seed": int(cfg.seed),
        "parameterization": spec.parameterization,
        "data": data_section(cfg, data, train, test),
        "timing": {**fit.timing, "total_s": time.perf_counter() - start},
        "fit": fit.info,
        **sections,
    }
    write_run_report(metrics, run_dir, figures)
    io.write_json(run_dir / "metrics.json", metrics)
    log.info("wrote %s", run_dir)
    return metrics


#: Errors that are the user's to fix: shown as one line, never a traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (
    BackendError,
    RunFailed,
    ValueError,
    FileNotFoundError,
    DataValidationError,
)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Entry point of ``ppl-compare``; returns held-out AUC (for Hydra sweepers)."""
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    try:
        metrics = run(cfg, run_dir, force=bool(cfg.get("force", False)))
    except USER_ERRORS as exc:
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        log.debug("run failed", exc_info=True)
        log.error("run failed: %s", message)
        if hc.mode == RunMode.MULTIRUN:
            io.write_json(
                run_dir / "failed.json",
                {"status": "failed", "error": message, "overrides": list(hc.overrides.task)},
            )
            return None
        print(f"ppl-compare: error: {message}", file=sys.stderr)
        raise SystemExit(1) from None
    return (metrics.get("predictive") or {}).get("auc")


if __name__ == "__main__":  # pragma: no cover
    main()
