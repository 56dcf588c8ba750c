"""Judging for the Python API: one fit against the truth, a reference and the claims ledger,
and the numbers a comparison leads with."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
from omegaconf import OmegaConf

from backends.base import FitResult
from backends.spec import HierData, ModelSpec, Priors
from evaluation import judge as judges
from evaluation.api.arguments import check_seed, reference_posterior, require, require_claims
from evaluation.api.datasets import Data
from evaluation.claims.compare import compare_ledgers
from evaluation.claims.load import load_ledger
from evaluation.config import plain
from evaluation.config.compose import choices, compose_choice
from evaluation.fitting import check_same_data
from evaluation.metrics.reference import ReferenceCheck


class Judgement(NamedTuple):
    """What the judges say of one fit.

    Attributes
    ----------
    idata : arviz.InferenceData
        The scored posterior (PSIS-resampled with ``psis_resample=True``).
    metrics : dict
        The judged sections of ``metrics.json``: ``predictive``, ``posterior``,
        ``diagnostics``, ``reference`` and ``approximation`` (with a reference),
        ``clustering``, ``claims`` (with a ledger), ``psis``.
    claims : list of dict
        One row per claim of the ledger: ``name``, ``statement``, ``probability``,
        ``verdict`` (credible / contradicted / undecided / not identified / not evaluated),
        ``truth_status`` (true / false / not applicable / unknown), ``truth_value``,
        ``truth_note`` and more (empty without a ledger).
    details : evaluation.judge.Judged
        Everything the run's figures are drawn from (the predictive pass, the clustering).
    """

    idata: Any
    metrics: dict[str, Any]
    claims: list[dict[str, Any]]
    details: judges.Judged


def evaluation_settings(settings: Mapping[str, Any] | None = None) -> Any:
    """The judges' settings: ``conf/evaluation/default.yaml`` with ``settings`` merged in.

    Parameters
    ----------
    settings : mapping, optional
        Keys to change; nested keys merge (``{"clustering": {"enabled": False}}`` changes
        that key only).  A complete ``evaluation`` config (the app's) gives itself.

    Returns
    -------
    DictConfig

    Raises
    ------
    ValueError
        A key ``conf/evaluation/default.yaml`` does not have (the message lists its keys).
    """
    base = OmegaConf.create(plain(compose_choice("evaluation", "default").evaluation))
    _check_keys(plain(settings), plain(base), "evaluation")
    return OmegaConf.merge(base, OmegaConf.create(plain(settings)))


def _check_keys(given: Mapping[str, Any], known: Mapping[str, Any], where: str) -> None:
    """ValueError naming the first key of ``given`` (nested) that ``known`` lacks."""
    for key, value in given.items():
        if key not in known:
            raise ValueError(f"{where}: no setting {key!r}; settings: {', '.join(known)}")
        if isinstance(value, Mapping) and isinstance(known[key], Mapping) and known[key]:
            _check_keys(value, known[key], f"{where}.{key}")


def claims_ledger(claims: Any, data: HierData) -> Any:
    """The claims ledger to judge with.

    Parameters
    ----------
    claims : "auto", str, path, mapping or None
        ``"auto"``: the ledger named like the data set, if ``conf/claims/`` has one; a ledger
        name (``"paper"``); a YAML file; a ledger's content (the app's ``cfg.claims``); None:
        no claims.
    data : HierData
        The data set (its ``name`` picks the ``"auto"`` ledger).

    Returns
    -------
    mapping, path or None
        What :func:`evaluation.claims.section.ledger_from_config` reads.

    Raises
    ------
    ValueError
        A name that is no ledger and no file (the message lists the ledgers), or a ledger
        named (or given) that holds no claims (``"none"`` and None turn claims off).
    """
    if isinstance(claims, str) and claims == "auto":
        claims = data.name if data.name in choices("claims") else None
        return plain(compose_choice("claims", claims).claims) if claims else None
    if claims is None or (isinstance(claims, str) and claims == "none"):
        return plain(compose_choice("claims", "none").claims) if claims else None
    if isinstance(claims, str) and claims in choices("claims"):
        ledger = plain(compose_choice("claims", claims).claims)
    elif isinstance(claims, str | Path):
        if not Path(claims).is_file():
            raise ValueError(f"claims={str(claims)!r}: no such ledger or file; ledgers: "
                             f"{', '.join(choices('claims'))} (None turns claims off)")  # fmt: skip
        ledger = claims
    else:  # a ledger's content (the app's cfg.claims: claims=none is an empty one)
        require(claims, Mapping, "claims", '"auto", a ledger name, a YAML file, a mapping or None')
        return claims
    if not load_ledger(ledger).claims:
        raise ValueError(f"claims={str(claims)!r}: the ledger holds no claims (no entries "
                         "under claims:); claims=None turns claims off")  # fmt: skip
    return ledger


def _reference(ref: Any) -> tuple[Any, ReferenceCheck | None]:
    """``(InferenceData, ReferenceCheck or None)`` of a reference given as None, a FitResult,
    an InferenceData or such a pair (None: the judge checks the draws it extracts)."""
    if ref is None:
        return None, None
    if isinstance(ref, tuple) and not isinstance(ref, FitResult):
        return ref[0], ref[1]
    return (ref.idata if isinstance(ref, FitResult) else ref), None


def _fitted_model(result: FitResult) -> ModelSpec:
    """The model a fit was made with (its InferenceData's attrs)."""
    attrs = result.idata.posterior.attrs
    priors = Priors(**{k: float(attrs[f"prior_{k}"]) for k in
                       ("alpha_scale", "sigma_site_scale", "sigma_worker_scale")})  # fmt: skip
    return ModelSpec(parameterization=str(attrs["parameterization"]), priors=priors)


def judge(
    result: FitResult,
    data: Data,
    *,
    reference: Any = None,
    claims: Any = "auto",
    seed: int = 0,
    evaluation: Mapping[str, Any] | None = None,
    timing: dict[str, float] | None = None,
) -> Judgement:
    """Judge a fit: held-out prediction, the posterior against the truth and the reference,
    diagnostics, the clustering of worksite coefficients and the claims.

    Parameters
    ----------
    result : FitResult
        What :func:`fit` returned.
    data : Data
        The data it was fitted to (held-out rows are scored; without them the training rows).
    reference : FitResult, InferenceData or Reference, optional
        The exact posterior to compare with (usually a NUTS fit of the same data): sd ratios,
        standardised errors, the NUTS-vs-NUTS noise floor, the approximation's verdict.
    claims : "auto", str, path, mapping or None
        The claims ledger: ``"auto"`` = the one named like the data set (``conf/claims/
        paper.yaml``, the paper's 19 conclusions, for the twin); None = no claims.
    seed : int
        Seeds PSIS resampling (``evaluation={"psis_resample": True}``).
    evaluation : mapping, optional
        Settings of ``conf/evaluation/default.yaml`` to change, e.g.
        ``{"clustering": {"n_draws": 20}}`` (as ``evaluation.<key>=`` on the command line).
    timing : dict, optional
        Receives the seconds each judge took.

    Returns
    -------
    Judgement
        ``(idata, metrics, claims, details)``.

    Raises
    ------
    TypeError, ValueError
        An argument of the wrong kind or value (one line naming it), or a fit or reference of
        other data than ``data``'s training rows (:class:`evaluation.fitting.OtherData`).
    """
    require(result, FitResult, "result", "a FitResult (what api.fit returned)")
    require(data, Data, "data", "a Data (api.make_data, api.load_data)")
    check_seed(seed)
    check_same_data(result.idata, data.train, "result", "`data`")
    if (ref_idata := reference_posterior(reference)) is not None:
        check_same_data(ref_idata, data.train, "reference", "`data`")
    cfg = OmegaConf.create({
        "evaluation": evaluation_settings(evaluation),
        "seed": int(seed),
        "claims": claims_ledger(claims, data.full),
    })  # fmt: skip
    judged = judges.evaluate(cfg, result, data.train, data.test, _fitted_model(result),
                             _reference(reference), timing=timing)  # fmt: skip
    rows = list((judged.sections.get("claims") or {}).get("claims", []))
    return Judgement(judged.fit.idata, judged.sections, rows, judged)


# ----------------------------------------------------------------------------------- reading
def headline(judgement: Judgement) -> dict[str, Any]:
    """The numbers the comparison leads with, for one fit (None where not computed).

    Parameters
    ----------
    judgement : Judgement

    Returns
    -------
    dict
        ``auc`` and ``accuracy`` (held out); ``coverage90``: the share of the identified
        worksite-level quantities whose true value lies in the 90% interval (target 0.9);
        ``sd_ratio``: median posterior sd of ``beta_site`` over the reference's (1 = as wide)
        and ``sd_ratio_floor``: the same between two halves of the reference (the noise);
        ``sigma_worker``: its posterior median; ``khat``: PSIS k-hat (VI; above 0.7 the
        approximation is unreliable); ``credible``: claims judged credible.
    """
    m = judgement.metrics
    pred, post = m.get("predictive") or {}, m.get("posterior") or {}
    block = ((m.get("reference") or {}).get("blocks") or {}).get("beta_site") or {}
    vi = (m.get("diagnostics") or {}).get("vi") or {}
    return {
        "auc": pred.get("auc"),
        "accuracy": pred.get("accuracy"),
        "coverage90": post.get("beta_site_identified_coverage90"),
        "sd_ratio": block.get("sd_ratio_median"),
        "sd_ratio_floor": block.get("sd_ratio_median_floor"),
        "sigma_worker": ((post.get("summary") or {}).get("sigma_worker") or {}).get("median"),
        "khat": vi.get("khat"),
        "credible": ((m.get("claims") or {}).get("summary") or {}).get("n_credible"),
    }


def headline_table(judgements: Mapping[str, Judgement]) -> pd.DataFrame:
    """:func:`headline` of several fits side by side, as text ready to show.

    Parameters
    ----------
    judgements : mapping
        ``{label: Judgement}``, e.g. ``{"NUTS": ..., "mean-field VI": ...}``.

    Returns
    -------
    DataFrame
        One column per fit, one row per number, 3 decimals ("–" where a number does not
        apply, e.g. k-hat for NUTS).
    """

    def shown(value: Any) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return "–"
        return str(value) if isinstance(value, int) else f"{value:.3f}"

    return pd.DataFrame({name: {key: shown(value) for key, value in headline(j).items()}
                         for name, j in judgements.items()})  # fmt: skip


def compare_claims(judgement: Judgement, reference: Judgement) -> pd.DataFrame:
    """Claim by claim, a method's verdicts against the reference's (e.g. NUTS) on the same data.

    A claim *flips* (``flip`` True) only beyond Monte Carlo noise: both give it a verdict
    (credible, contradicted, undecided), the verdicts differ, a verdict threshold lies between
    the two P and they differ by more than twice their joint Monte Carlo error
    (:func:`evaluation.claims.compare.is_flip`, the rule of every report).  Verdicts that differ
    within that noise are ``within_noise``, not flips.

    Parameters
    ----------
    judgement : Judgement
        The method's judgement (with claims).
    reference : Judgement
        The reference's judgement of the same data (with claims).

    Returns
    -------
    DataFrame
        One row per claim: ``name``, ``p_reference``, ``p_method`` and their Monte Carlo
        errors ``mc_reference``, ``mc_method``, ``verdict_reference``, ``verdict_method``,
        ``flip`` (a counted flip: near-duplicate claims count once) and ``within_noise``.

    Raises
    ------
    TypeError, ValueError
        Not two judgements, one without claims, or judgements of other data.
    """
    for name, value in (("judgement", judgement), ("reference", reference)):
        require(value, Judgement, name, "a Judgement (what api.judge returned)")
        require_claims(value.metrics, name)
    check_same_data(judgement.details.train, reference.details.train, "judgement", "reference")
    rows = compare_ledgers(reference.metrics["claims"], judgement.metrics["claims"])
    return pd.DataFrame([{
        "name": r["name"], "p_reference": r["probability_reference"],
        "p_method": r["probability_other"], "mc_reference": r["mc_error_reference"],
        "mc_method": r["mc_error_other"], "verdict_reference": r["verdict_reference"],
        "verdict_method": r["verdict_other"], "flip": bool(r["changed"]),
        "within_noise": bool(r["within_noise"]),
    } for r in rows])  # fmt: skip
