"""Judge one fit: every metrics section and figure of a run, from the posterior alone.

The same code scores every backend.  Called by :mod:`evaluation.app` after the fit; calls the
judges (:mod:`evaluation.metrics`, :mod:`evaluation.clustering`) for the numbers and the figure
makers (:mod:`evaluation.report.run_figures`) to draw them.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from backends.base import FitResult
from backends.spec import HierData, ModelSpec
from evaluation.claims.section import CLUSTERING_OFF, claims_section, cluster_draws
from evaluation.claims.section import ledger_from_config as claims_ledger
from evaluation.clustering import figures as cluster_figures
from evaluation.clustering.pipeline import run_clustering
from evaluation.config import compose_backend, plain
from evaluation.data.design import design_check
from evaluation.metrics import diagnostics, floors, posterior, predictive, psis, reference, verdict
from evaluation.metrics import identified as ident_metrics
from evaluation.metrics import oracle as oracle_metrics
from evaluation.report import forest, run_figures

log = logging.getLogger("ppl_compare")


def reference_config(cfg: DictConfig) -> Any:
    """The backend config of ``evaluation.reference`` with its overrides (None when the
    reference is off or a ``posterior.nc`` path)."""
    ref = cfg.evaluation.get("reference")
    if not ref or str(ref).endswith(".nc"):
        return None
    return compose_backend(str(ref), plain(cfg.evaluation.get("reference_overrides")))


def reference_cache(cfg: DictConfig) -> Path:
    """Where reference posteriors (and runs that are the reference) are cached."""
    return Path(cfg.paths.cache_dir) / "reference"


def reference_posterior(cfg: DictConfig, train: HierData, spec: ModelSpec):
    """Load or compute the reference posterior named by ``evaluation.reference`` (or None)."""
    ref = cfg.evaluation.get("reference")
    if not ref:
        return None, None
    if str(ref).endswith(".nc"):
        return reference.load_reference(Path(str(ref)))
    log.info("reference posterior: %s (cache %s)", ref, reference_cache(cfg))
    return reference.cached_reference(
        reference_config(cfg), train, spec, int(cfg.seed), reference_cache(cfg)
    )


def evaluate(
    cfg: DictConfig,
    fit: FitResult,
    train: HierData,
    test: HierData | None,
    spec: ModelSpec,
    run_dir: Path,
    timing: dict[str, float] | None = None,
) -> tuple[dict[str, Any], list[Path]]:
    """Every metrics section and figure, computed from the posterior alone.

    ``timing``, when given, receives the seconds of each part of the judgement: ``psis_s``,
    ``scoring_s`` (predictive, posterior, diagnostics), ``reference_s`` (truth, identified
    quantities, reference and noise floors), ``figures_s``, ``clustering_s`` (with its
    figures), ``claims_s`` (with the forest plot).

    With ``evaluation.psis_resample`` a VI posterior (one with ``log_q``) is PSIS-resampled
    first (section ``psis``: k-hat, ESS, whether it is trustworthy) and every section but
    ``diagnostics`` (which judges the approximation itself) scores the resampled draws.
    """
    ecfg = cfg.evaluation
    clock = _Clock(timing)
    raw_fit, psis_section = fit, None
    if ecfg.get("psis_resample", False):
        fit, psis_section = psis_resampled_fit(fit, train, spec, int(cfg.seed))
        clock.lap("psis_s")
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
            raw_fit.idata,  # the approximation itself, not its PSIS correction
            train,
            spec,
            fit.info,
            fit.loss,
            fit.timing,
            divergence_warn_fraction=float(ecfg.divergence_warn_fraction),
        ),
    }
    if psis_section is not None:
        sections["psis"] = psis_section
    clock.lap("scoring_s")
    ref_idata = posterior_vs_truth_and_reference(cfg, fit, train, spec, sections)
    approximation = verdict.run_verdict(sections)
    if approximation is not None:
        sections["approximation"] = approximation
    clock.lap("reference_s")
    figures: list[Path] = []
    if ecfg.figures:
        figures = run_figure_files(cfg, fit, (scored, scored_pass), ref_idata, run_dir)
    clock.lap("figures_s")
    clustered, drawn = clustering_and_figures(cfg, fit, train, run_dir / "figures")
    if clustered is not None:
        sections["clustering"] = clustered.section
    figures += drawn
    clock.lap("clustering_s")
    figures += claims_and_forest(cfg, fit, train, clustered, sections, run_dir / "figures")
    clock.lap("claims_s")
    return sections, figures


class _Clock:
    """Adds the seconds since the previous lap to ``timing[key]`` (no-op without a dict)."""

    def __init__(self, timing: dict[str, float] | None) -> None:
        self.timing, self.last = timing, time.perf_counter()

    def lap(self, key: str) -> None:
        now = time.perf_counter()
        if self.timing is not None:
            self.timing[key] = self.timing.get(key, 0.0) + now - self.last
        self.last = now


def posterior_vs_truth_and_reference(
    cfg: DictConfig, fit: FitResult, train: HierData, spec: ModelSpec, sections: dict[str, Any]
) -> Any:
    """Add the identified-quantity, dependence and sigma-collapse numbers to ``posterior`` and
    the ``reference`` section (with its noise floors); return the reference posterior."""
    ref_idata, ref_check = reference_posterior(cfg, train, spec)
    post = sections["posterior"]
    ident = ident_metrics.identified_truth(fit.idata, train)  # alpha, beta_site: identified part
    post["identified"] = ident
    post["beta_site_identified_coverage90"] = (
        None if ident is None else ident["site_predictor"]["coverage90"]
    )
    post["coverage_dependence"] = floors.coverage_dependence_section(fit.idata, train)
    post["sigma_collapse"] = posterior.sigma_collapse(
        fit.idata, reference=ref_idata, truth=train.truth, eps=float(cfg.evaluation.sigma_eps)
    )
    if ref_idata is not None:
        sections["reference"] = floors.compare_with_floor(
            posterior.compare_to_reference, fit.idata, ref_idata, check=ref_check
        )
        sections["reference"]["criteria"] = ref_check._asdict()
        sections["reference"]["identified"] = ident_metrics.identified_reference(
            fit.idata, ref_idata, train
        )
    return ref_idata


def clustering_and_figures(
    cfg: DictConfig, fit: FitResult, train: HierData, fig_dir: Path
) -> tuple[Any, list[Path]]:
    """The clustering judge's bundle (None when disabled) and its figures, drawn here."""
    ecfg = cfg.evaluation
    if not ecfg.clustering.get("enabled", True):
        return None, []
    clustered = run_clustering(fit.idata.posterior, train, plain(ecfg.clustering), fig_dir.parent)
    if not ecfg.figures:
        return clustered, []
    drawn = cluster_figures.write_figures(clustered, train, fig_dir)
    clustered.section["figures"] = [p.name for p in drawn]
    return clustered, sorted(drawn)


def claims_and_forest(
    cfg: DictConfig,
    fit: FitResult,
    train: HierData,
    clustered: Any,
    sections: dict[str, Any],
    fig_dir: Path,
) -> list[Path]:
    """Add the ``claims`` section (unless ``claims=none``); draw ``figures/forest.png``.

    The clustering claims are evaluated on the per-draw clusterings of ``clustered`` (the
    clustering pipeline's bundle; None when clustering is disabled: those claims are "not
    evaluated" with a note).  Returns the forest plot's path (none without figures).
    """
    ledger = claims_ledger(cfg.get("claims"))
    if ledger is not None:
        per_draw = None if clustered is None else cluster_draws(clustered.result, clustered.coef)
        note = CLUSTERING_OFF if clustered is None else None
        sections["claims"] = claims_section(ledger, train, fit.idata, per_draw, note)
    if not cfg.evaluation.figures:
        return []
    intervals = {str(cfg.backend.name): forest.run_intervals(sections)}
    path = forest.write_forest(intervals, fig_dir / forest.FOREST_PNG)
    return [] if path is None else [path]


def psis_resampled_fit(
    fit: FitResult, train: HierData, spec: ModelSpec, seed: int
) -> tuple[FitResult, dict[str, Any]]:
    """``fit`` with its posterior PSIS-resampled (unchanged without ``log_q``), the section."""
    resampled, section = psis.resample_idata(fit.idata, train, spec, seed)
    if resampled is None:
        log.info("psis_resample: %s", section["verdict"])
        return fit, section
    section["scored"] = "resampled posterior"
    say = log.info if section["trustworthy"] else log.warning
    say("psis_resample: scoring the PSIS-resampled posterior (ESS %.0f of %d); %s",
        section["ess"], section["n_draws"], section["verdict"])  # fmt: skip
    return fit._replace(idata=resampled), section


def run_figure_files(
    cfg: DictConfig,
    fit: FitResult,
    scored: tuple[HierData, predictive.PredictivePass],
    ref_idata: Any,
    run_dir: Path,
) -> list[Path]:
    """The run's figures (except the clusters'), drawn from the judges' numbers.

    Parameters
    ----------
    cfg : DictConfig
        The run config (``backend.name`` titles the loss trace).
    fit : FitResult
    scored : (HierData, PredictivePass)
        The scored workers and :func:`~evaluation.metrics.predictive.predictive_pass` on them.
    ref_idata : arviz.InferenceData or None
        The reference posterior (the Yao scatter is drawn only with one).
    run_dir : Path

    Returns
    -------
    list of Path
        ``figures/yao.png`` (with a reference posterior), ``figures/roc.png``,
        ``figures/calibration.png``, ``figures/ppc_kde.png`` and ``loss.png`` (with a loss
        trace), in that order.
    """
    fig_dir = run_dir / "figures"
    data, scored_pass = scored
    paths: list[Path] = []
    if ref_idata is not None:
        points = posterior.yao_points(fit.idata, ref_idata)
        paths.append(run_figures.yao_scatter(points, fig_dir / "yao.png"))
    curves = predictive.predictive_curves(scored_pass, data)
    paths += run_figures.predictive_figures(curves, fig_dir)
    if fit.loss is not None and len(fit.loss):
        paths.append(
            run_figures.plot_loss(
                fit.loss,
                run_dir / "loss.png",
                title=cfg.backend.name,
                converged_step=diagnostics.loss_convergence(fit.loss, fit.info)["converged_step"],
                steps=fit.info.get("loss_steps"),
            )
        )
    return paths


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
        "design": design_check(data),
        **difficulty_numbers(data, test if test is not None else train),
    }


def difficulty_numbers(data: HierData, scored: HierData) -> dict[str, Any]:
    """How hard the data are: ``difficulty`` (worksites with no / only positive outcomes,
    site-logit sd; :func:`evaluation.metrics.oracle.difficulty`) and, with a truth,
    ``oracle`` (true-parameter AUC and accuracy on the scored rows, normally held out)."""
    return {
        "difficulty": oracle_metrics.difficulty(data),
        "oracle": None if scored.truth is None else oracle_metrics.oracle_metrics(scored),
    }
