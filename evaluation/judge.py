"""Judge one fit: every metrics section of a run, from the posterior alone (numbers only).

The same code scores every backend.  Called by :mod:`evaluation.app` after the fit, with the
reference posterior the app fetched (:mod:`evaluation.fitting`); calls the judges
(:mod:`evaluation.metrics`, :mod:`evaluation.clustering`, :mod:`evaluation.claims`) and returns
their sections together with what the run's figures are drawn from (:class:`Judged`).  It
never fits, writes or draws: the app writes the files and
:func:`evaluation.report.run.figures.draw_run_figures` draws.
"""

from __future__ import annotations

import logging
import time
from typing import Any, NamedTuple

import numpy as np
from omegaconf import DictConfig

from backends.base import FitResult
from backends.spec import HierData, ModelSpec
from evaluation.claims.load import Ledger
from evaluation.claims.section import CLUSTERING_OFF, claims_section, cluster_draws, oracle_draws
from evaluation.claims.section import ledger_from_config as claims_ledger
from evaluation.clustering.pipeline import Clustering, run_clustering
from evaluation.config import plain
from evaluation.data.design import design_check
from evaluation.metrics import diagnostics, floors, posterior, predictive, psis, verdict
from evaluation.metrics import identified as ident_metrics
from evaluation.metrics import oracle as oracle_metrics
from evaluation.metrics.draws import Draws, data_labels, extract
from evaluation.metrics.reference import check_reference

log = logging.getLogger("ppl_compare")


class Judged(NamedTuple):
    """One run's judgement: the metrics sections and what its figures are drawn from.

    Attributes
    ----------
    sections : dict
        The judged sections of metrics.json (predictive, posterior, diagnostics, psis,
        reference, approximation, clustering, claims).
    fit : FitResult
        The scored fit (PSIS-resampled with ``evaluation.psis_resample``).
    raw_fit : FitResult
        The fit as the backend returned it (its loss trace and info).
    train : HierData
        The fitted rows (the clustering's worksite features).
    scored : (HierData, PredictivePass)
        The scored workers (held out, or the training rows) and the predictive pass on them.
    reference : Draws or None
        The reference posterior's draws, aligned to ``train``.
    clustered : Clustering or None
        The clustering judge's bundle (None when clustering is off).
    draws : Draws
        The scored draws (PSIS-resampled with ``evaluation.psis_resample``), aligned to
        ``train``: the one extraction every judge took.
    """

    sections: dict[str, Any]
    fit: FitResult
    raw_fit: FitResult
    train: HierData
    scored: tuple[HierData, predictive.PredictivePass]
    reference: Draws | None
    clustered: Clustering | None
    draws: Draws


def evaluate(
    cfg: DictConfig,
    fit: FitResult,
    train: HierData,
    test: HierData | None,
    spec: ModelSpec,
    reference: tuple[Any, Any] = (None, None),
    timing: dict[str, float] | None = None,
) -> Judged:
    """Every metrics section, computed from the posterior alone.

    ``reference`` is ``(InferenceData, ReferenceCheck)`` of ``evaluation.reference`` (or
    ``(None, None)``; a check of None is made here, on the extracted draws).  ``timing``, when
    given, receives the seconds of each part of the judgement: ``psis_s``, ``scoring_s``
    (predictive, posterior, diagnostics), ``reference_s`` (truth, identified quantities,
    reference comparison and noise floors), ``clustering_s``, ``claims_s``.

    With ``evaluation.psis_resample`` a VI posterior (one with ``log_q``) is PSIS-resampled
    first (section ``psis``: k-hat, ESS, whether it is trustworthy) and every section but
    ``diagnostics`` (which judges the approximation itself) scores the resampled draws.

    The fit's draws are extracted once (:func:`evaluation.metrics.draws.extract`, aligned to
    ``train``), the reference's once; every judge takes those arrays.
    """
    ecfg = cfg.evaluation
    clock = _Clock(timing)
    raw_fit, psis_section = fit, None
    raw_draws = draws = extract(fit.idata, train)  # the one extraction of the fit
    if ecfg.get("psis_resample", False):
        fit, draws, psis_section = psis_resampled_fit(fit, raw_draws, train, spec, int(cfg.seed))
        clock.lap("psis_s")
    scored = test if test is not None else train
    scored_draws = scored_aligned(draws, scored)
    scored_pass = predictive.predictive_pass(scored_draws, scored)  # once: metrics and figures
    sections: dict[str, Any] = {
        "predictive": predictive.predictive_metrics(
            scored_draws,
            scored,
            in_sample=test is None,
            n_bins=int(ecfg.calibration_bins),
            res=scored_pass,
        ),
        "posterior": posterior.posterior_section(draws, train),
        "diagnostics": diagnostics.diagnostics_section(
            raw_draws,  # the approximation itself, not its PSIS correction
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
    ref_draws, ref_check = reference_draws(reference, train)
    posterior_vs_truth_and_reference(cfg, draws, train, (ref_draws, ref_check), sections)
    approximation = verdict.run_verdict(sections)
    if approximation is not None:
        sections["approximation"] = approximation
    clock.lap("reference_s")
    clustered = None
    if ecfg.clustering.get("enabled", True):
        clustered = run_clustering(draws, train, plain(ecfg.clustering))
        sections["clustering"] = clustered.section
    clock.lap("clustering_s")
    add_claims(cfg, draws, train, clustered, sections)
    clock.lap("claims_s")
    return Judged(sections, fit, raw_fit, train, (scored, scored_pass), ref_draws, clustered,
                  draws)  # fmt: skip


def reference_draws(reference: tuple[Any, Any], train: HierData) -> tuple[Draws | None, Any]:
    """``(Draws, ReferenceCheck)`` of ``reference`` = ``(InferenceData, check or None)``: its
    draws extracted once per job, aligned to ``train``, and checked when no check came with
    them; ``(None, None)`` without a reference."""
    ref_idata, check = reference
    if ref_idata is None:
        return None, None
    draws = extract(ref_idata, train)
    return draws, check if check is not None else check_reference(draws)


def scored_aligned(draws: Draws, scored: HierData) -> Draws:
    """``draws`` (aligned to the training rows) in the order of the scored rows' coordinates
    (the same ones for a split of workers: :meth:`backends.spec.HierData.subset`)."""
    return draws.reordered(data_labels(scored), "posterior")


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
    cfg: DictConfig,
    draws: Draws,
    train: HierData,
    reference: tuple[Draws | None, Any],
    sections: dict[str, Any],
) -> None:
    """Add the identified-quantity, dependence and sigma-collapse numbers to ``posterior`` and
    the ``reference`` section (with its noise floors) against ``reference`` =
    ``(Draws, ReferenceCheck)`` or ``(None, None)``; all draws aligned to ``train``."""
    ref_draws, ref_check = reference
    post = sections["posterior"]
    ident = ident_metrics.identified_truth(draws, train)  # alpha, beta_site: identified part
    post["identified"] = ident
    post["beta_site_identified_coverage90"] = (
        None if ident is None else ident["site_predictor"]["coverage90"]
    )
    post["coverage_dependence"] = floors.coverage_dependence_section(draws, train)
    post["sigma_collapse"] = posterior.sigma_collapse(
        draws, reference=ref_draws, truth=train.truth, eps=float(cfg.evaluation.sigma_eps)
    )
    if ref_draws is not None:
        sections["reference"] = floors.compare_with_floor(
            posterior.compare_to_reference, draws, ref_draws, check=ref_check
        )
        sections["reference"]["criteria"] = ref_check._asdict()
        sections["reference"]["identified"] = ident_metrics.identified_reference(
            draws, ref_draws, train
        )


def add_claims(
    cfg: DictConfig,
    draws: Draws,
    train: HierData,
    clustered: Clustering | None,
    sections: dict[str, Any],
) -> None:
    """Add the ``claims`` section (unless ``claims=none``).

    The clustering claims are evaluated on the per-draw clusterings of ``clustered`` (None
    when clustering is disabled: those claims are "not evaluated" with a note).
    """
    ledger = claims_ledger(cfg.get("claims"))
    if ledger is not None:
        sections["claims"] = claims_for(ledger, train, draws, clustered)


def claims_for(
    ledger: Ledger, train: HierData, posterior: Draws, clustered: Clustering | None
) -> dict[str, Any]:
    """The ``claims`` section of ``ledger`` on ``posterior``, with the per-draw clusterings
    of ``clustered`` and its oracle clustering of the true coefficients (the clustering
    claims' truth); None: clustering disabled, those claims "not evaluated" with a note."""
    if clustered is None:
        return claims_section(ledger, train, posterior, None, CLUSTERING_OFF)
    per_draw = cluster_draws(clustered.result, clustered.coef)
    return claims_section(ledger, train, posterior, per_draw, None, oracle_draws(clustered.oracle))


def psis_resampled_fit(
    fit: FitResult, draws: Draws, train: HierData, spec: ModelSpec, seed: int
) -> tuple[FitResult, Draws, dict[str, Any]]:
    """``fit`` and its ``draws`` PSIS-resampled (unchanged without ``log_q``), the section."""
    resampled, res, section = psis.resample_draws(draws, train, spec, seed)
    if resampled is None or res is None:
        log.info("psis_resample: %s", section["verdict"])
        return fit, draws, section
    section["scored"] = "resampled posterior"
    say = log.info if section["trustworthy"] else log.warning
    say("psis_resample: scoring the PSIS-resampled posterior (ESS %.0f of %d); %s",
        section["ess"], section["n_draws"], section["verdict"])  # fmt: skip
    return fit._replace(idata=resampled_idata(fit.idata, res.index, res.khat)), resampled, section


def resampled_idata(idata: Any, index: np.ndarray, khat: float) -> Any:
    """The InferenceData of the PSIS-resampled draws ``index`` (flat over chain x draw) of
    the posterior and sample_stats, one chain (``log_q`` renamed ``log_q_proposal``), for
    the caller (:class:`evaluation.api.Judgement`): the judges score the resampled
    :class:`~evaluation.metrics.draws.Draws`."""
    import arviz as az

    groups = {}
    for group in ("posterior", "sample_stats"):
        if group not in idata.groups():
            continue
        ds = idata[group].stack(__sample__=("chain", "draw")).isel(__sample__=index)
        ds = ds.drop_vars(["chain", "draw", "__sample__"]).rename({"__sample__": "draw"})
        ds = ds.assign_coords(draw=np.arange(len(index))).expand_dims("chain", 0)
        ds = ds.assign_coords(chain=[0]).transpose("chain", "draw", ...)
        if group == "sample_stats" and "log_q" in ds:
            ds = ds.rename({"log_q": "log_q_proposal"})
        ds.attrs = {**idata[group].attrs, "psis_resampled": 1, "psis_khat": khat}
        groups[group] = ds
    rest = {g: idata[g] for g in idata.groups() if g not in groups}
    return az.InferenceData(**groups, **rest)


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
