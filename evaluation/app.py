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
from evaluation import io, judge
from evaluation.config import (
    CONF_DIR,
    apply_backend_overrides,
    instantiate_backend,
    model_spec,
    plain,
)
from evaluation.data.load import load_data
from evaluation.data.recipes import DataValidationError
from evaluation.data.split import split_from_config
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
    sections, figures = judge.evaluate(cfg, fit, train, test, spec, run_dir)
    language, method = split_name(backend.name)
    metrics: dict[str, Any] = {
        "status": "complete",
        "config_hash": digest,
        "backend": backend.name,
        "language": language,
        "method": method,
        "seed": int(cfg.seed),
        "parameterization": spec.parameterization,
        "data": judge.data_section(cfg, data, train, test),
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
