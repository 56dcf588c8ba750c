"""The Hydra app: one (data, backend, seed) fit and its evaluation.

    ppl-compare                                   # one run, default config
    ppl-compare backend=pymc_nuts data.sigma_worker=0.5 data.seed=3
    ppl-compare -m backend=pyro_meanfield,stan_nuts data.seed=0,1,2

A run checks its config at start-up (unknown keys, backend settings and their ranges, a
writable run dir), then runs the stages of the Python API (:mod:`evaluation.api`: data with
held-out workers, fit, reference, judge; the one path from config to numbers) and writes
into the Hydra run dir: ``posterior.nc``, ``clusters.nc``, ``figures/``, ``report.md`` and, last,
``metrics.json`` (so a ``metrics.json`` with ``"status": "complete"`` marks a finished run).
A run owns its directory's outputs (:mod:`evaluation.rundir`): it clears them before the fit
(unless the directory already holds a complete run of the same config, which is skipped; a
complete run of another config is replaced with a warning naming it) and removes them again
when it fails or is interrupted, so nothing of a failed run looks like a result.

A failure is one line on stderr (``ppl-compare: error: ...``), Hydra's own config errors
included (a ``claims=NAME`` naming no ledger, a YAML file that cannot be read); in a single
run the exit code is 1 and a run dir holding only Hydra's files of the attempt is removed, in a
multirun the failure is recorded in ``failed.json`` and the sweep goes on.  SIGTERM/SIGINT end
the run with one line and exit code 128 + the signal number.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from backends.base import BackendError, FitResult, split_name
from backends.spec import ModelSpec
from evaluation import api, fitting, io, judge
from evaluation.claims.section import check_run_claims
from evaluation.clustering.dataset import FILENAME as CLUSTERS_NC
from evaluation.config import (
    CONF_DIR,
    ConfigError,
    backend_config,
    check_claims_choice,
    check_config,
    compose_error,
    error_line,
    first_line,
    model_spec,
    plain,
    reference_cache,
    reference_config,
    schema,
    typed_backend_keys,
)
from evaluation.data.recipes import DataValidationError
from evaluation.data.truth import TRUTH_NC, truth_dataset
from evaluation.report.run.figures import draw_run_figures
from evaluation.report.run.report import write_run_report
from evaluation.rundir import (
    RunFailed,
    check_writable,
    clear_outputs,
    is_complete,
    remove_if_empty,
    saved_posterior,
    warn_replacing,
)
from evaluation.signals import Interrupted, interrupts_raise

schema.register()  # before @hydra.main composes: the YAML files start from these schemas
log = logging.getLogger("ppl_compare")


# ----------------------------------------------------------------------------- configuration
def config_hash(cfg: DictConfig) -> str:
    """A hash of the resolved job config (what makes two runs the same run)."""
    container = OmegaConf.to_container(cfg, resolve=True)
    container.pop("hydra", None)
    text = json.dumps(container, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- the stages
# Each stage is a call of the Python API (evaluation.api), the one path from data to judgement;
# the app adds the config, the run dir, the files and the error handling.
def fit_stage(
    cfg: DictConfig, data: api.Data, spec: ModelSpec, backend_cfg: Mapping[str, Any] | None = None
) -> FitResult:
    """Fit the run's backend (``backend_cfg``, default :func:`evaluation.config.backend_config`).

    A backend whose settings equal the reference's (``evaluation.reference`` with its
    ``reference_overrides``) is not fitted twice: its fit is the cached reference fit of the
    same data and seed (computed here if missing; ``fit.info["from_cache"]`` says which).
    """
    bcfg = backend_config(cfg) if backend_cfg is None else backend_cfg
    ref_cfg, repeat = reference_config(cfg), int(cfg.get("repeat", 0))
    if ref_cfg is not None and repeat == 0 and fitting.same_settings(ref_cfg, bcfg):
        log.info("%s has the reference's settings: one fit serves as both", bcfg["name"])
        return api.fit(data, ref_cfg, int(cfg.seed), model=spec, cache_dir=reference_cache(cfg))
    seed = fitting.fit_seed(int(cfg.seed), repeat)
    if repeat:
        log.info("repeat %d of this fit: seed %d", repeat, seed)
    return api.fit(data, bcfg, seed, model=spec)


def reference_stage(cfg: DictConfig, data: api.Data, spec: ModelSpec) -> api.Reference | None:
    """The reference posterior named by ``evaluation.reference`` (None when off): a
    ``posterior.nc``, or a backend fitted once and cached (:func:`evaluation.api.reference`)."""
    ref = cfg.evaluation.get("reference")
    if not ref:
        return None
    if not str(ref).endswith(".nc"):
        log.info("reference posterior: %s (cache %s)", ref, reference_cache(cfg))
    overrides = plain(cfg.evaluation.get("reference_overrides"))
    try:
        return api.reference(data, str(ref), int(cfg.seed), model=spec,
                             cache_dir=reference_cache(cfg), **overrides)  # fmt: skip
    except fitting.OtherData as exc:
        raise RunFailed(
            f"evaluation.reference={ref}: fitted to other data than this run's "
            f"(the reference's against this run's: {exc.problem})"
        ) from None


def run(
    cfg: DictConfig,
    run_dir: Path,
    *,
    force: bool = False,
    backend_cfg: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One complete run into ``run_dir``; returns the metrics written to metrics.json.

    ``backend_cfg`` is the backend config to instantiate (default:
    :func:`evaluation.config.backend_config`).
    """
    run_dir = Path(run_dir)
    digest = config_hash(cfg)
    if not force and is_complete(run_dir, digest):
        log.info("skipping: %s already holds a complete run of this config", run_dir)
        return io.read_json(run_dir / "metrics.json")
    check_writable(run_dir)
    if cfg.evaluation.get("figures", False):
        check_writable(run_dir / "figures")
    warn_replacing(run_dir, digest)
    clear_outputs(run_dir)
    try:
        return _fit_and_judge(cfg, run_dir, digest, backend_cfg)
    except BaseException:
        with contextlib.suppress(OSError):
            clear_outputs(run_dir)  # nothing of a failed run may look like a result
        raise


def _fit_and_judge(
    cfg: DictConfig, run_dir: Path, digest: str, backend_cfg: Mapping[str, Any] | None
) -> dict[str, Any]:
    start = time.perf_counter()
    data = api.data_from_config(cfg.data)
    check_run_claims(cfg.get("claims"), data.train)  # a wrong feature name fails before the fit
    spec = model_spec(cfg.model)
    phases = {"data_s": time.perf_counter() - start}
    mark = time.perf_counter()
    saved = str(cfg.evaluation.get("reference") or "").endswith(".nc")
    reference = reference_stage(cfg, data, spec) if saved else None  # checked before the fit
    phases["reference_s"] = time.perf_counter() - mark
    fit = fit_stage(cfg, data, spec, backend_cfg)
    mark = time.perf_counter()
    io.write_netcdf(run_dir / "posterior.nc", saved_posterior(fit.idata, cfg.evaluation))
    truth = truth_dataset(data.full)
    if truth is not None:  # what a report needs of the data: never rebuilt from the config
        io.write_netcdf(run_dir / TRUTH_NC, truth)
    if not saved:  # a backend's fit, cached: after the run's own fit, which may be it
        reference = reference_stage(cfg, data, spec)
    phases["reference_s"] += time.perf_counter() - mark
    judged = api.judge(fit, data, reference=reference, claims=cfg.get("claims"),
                       seed=int(cfg.seed), evaluation=cfg.evaluation, timing=phases)  # fmt: skip
    attrs = fit.idata.posterior.attrs  # the backend's name and family, as it recorded them
    name, family = str(attrs["backend"]), str(attrs["inference_family"])
    sections, figures = judged.metrics, write_judged(cfg, judged.details, name, run_dir, phases)
    phases["evaluation_s"] = time.perf_counter() - mark
    language, method = split_name(name)
    metrics: dict[str, Any] = {
        "status": "complete",
        "config_hash": digest,
        "backend": name,
        "language": language,
        "method": method,
        "family": family,
        "seed": int(cfg.seed),
        "repeat": int(cfg.get("repeat", 0)),
        "parameterization": spec.parameterization,
        "data": judge.data_section(cfg, *data),
        "timing": {**fit.timing, "total_s": time.perf_counter() - start},
        "phases": phases,
        "fit": fit.info,
        **sections,
    }
    mark = time.perf_counter()
    write_run_report(metrics, run_dir, figures)
    phases["report_s"] = time.perf_counter() - mark
    metrics["timing"]["total_s"] = time.perf_counter() - start
    io.write_json(run_dir / "metrics.json", metrics)
    log.info("wrote %s", run_dir)
    return metrics


def write_judged(
    cfg: DictConfig, judged: judge.Judged, name: str, run_dir: Path, phases: dict[str, float]
) -> list[Path]:
    """Write what the judges computed besides metrics.json: ``clusters.nc`` and (with
    ``evaluation.figures``) the figures; returns the figure paths (``figures_s`` in
    ``phases``)."""
    mark = time.perf_counter()
    if judged.clustered is not None:
        io.write_netcdf(run_dir / CLUSTERS_NC, judged.clustered.dataset)
    figures = draw_run_figures(judged, name, run_dir) if cfg.evaluation.figures else []
    phases["figures_s"] = time.perf_counter() - mark
    return figures


#: Errors that are the user's to fix: shown as one line, never a traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (
    BackendError,
    RunFailed,
    ValueError,
    OSError,
    DataValidationError,
)


def _fail(cfg: DictConfig, run_dir: Path, exc: BaseException) -> None:
    """Report a user error: failed.json in a multirun (replacing the job's earlier outputs),
    one line and exit code 1 otherwise (the run dir's earlier outputs are left alone; a run dir
    holding only Hydra's files of this attempt is removed)."""
    hc = HydraConfig.get()
    shown = exc if isinstance(exc, ConfigError | RunFailed) else f"{type(exc).__name__}: {exc}"
    message = first_line(shown)
    log.debug("run failed", exc_info=True)
    log.error("run failed: %s", message)
    if hc.mode == RunMode.MULTIRUN:
        with contextlib.suppress(OSError):
            clear_outputs(run_dir)  # the job's directory says "failed", nothing else
        io.write_json(
            run_dir / "failed.json",
            {"status": "failed", "error": message, "overrides": list(hc.overrides.task)},
        )
        return
    remove_if_empty(run_dir, f"{hc.job.name}.log")  # "nothing written": not even .hydra/
    print(f"ppl-compare: error: {message}", file=sys.stderr)
    raise SystemExit(1) from None


def task(cfg: DictConfig) -> float | None:
    """The Hydra task: check the config, run; returns held-out AUC (for Hydra sweepers)."""
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    try:
        with interrupts_raise():
            check_claims_choice(cfg, hc)
            backend_cfg = check_config(cfg, typed_backend_keys(hc.overrides.task))
            metrics = run(
                cfg, run_dir, force=bool(cfg.get("force", False)), backend_cfg=backend_cfg
            )
    except Interrupted as exc:
        log.error("interrupted (%s); nothing written", exc)
        print(f"ppl-compare: interrupted ({exc}); nothing written", file=sys.stderr)
        raise SystemExit(128 + exc.signum) from None
    except USER_ERRORS as exc:
        _fail(cfg, run_dir, exc)
        return None
    return (metrics.get("predictive") or {}).get("auc")


hydra_app = hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")(task)


# ----------------------------------------------------------------------------- the CLI
#: Hydra's errors for a sweep value in what it took for a single run: when the config does not
#: compose (a typo), Hydra falls back to a single run and says this instead of naming the typo.
SWEEP_COMPLAINTS = ("Ambiguous value for argument", "Sweep parameters")


def command_overrides(argv: list[str]) -> list[str]:
    """The overrides of a ``ppl-compare`` command line (Hydra's own parser)."""
    from hydra._internal.utils import get_args_parser

    return list(get_args_parser().parse_known_args(argv)[0].overrides)


def main() -> None:
    """Entry point of ``ppl-compare``: the Hydra app, with Hydra's own errors as one line.

    Hydra prints a config error over several lines; here it is asked to raise instead
    (``HYDRA_FULL_ERROR=1``, unless the user set it for a full stack trace) and the error is
    shown as one line, exit code 1.
    """
    if os.environ.get("HYDRA_FULL_ERROR"):
        hydra_app()
        return
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        hydra_app()
    except BrokenPipeError:  # e.g. `ppl-compare --help | head`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None
    except Exception as exc:
        line = error_line(exc)
        if line is None:
            raise
        if line.startswith(SWEEP_COMPLAINTS):  # Hydra's guess; the real error may be a typo
            line = compose_error(command_overrides(sys.argv[1:])) or line
        print(f"ppl-compare: error: {line}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        os.environ.pop("HYDRA_FULL_ERROR", None)


if __name__ == "__main__":  # pragma: no cover
    main()
