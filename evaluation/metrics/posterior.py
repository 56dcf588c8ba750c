"""The posterior judged against the truth (synthetic data) and against a reference posterior.

All alignment is by coordinate label (:mod:`evaluation.metrics.draws`): a truth array is wrapped
in the data's coordinates, a reference posterior is reordered to the method's coordinates, and a
mismatch is a ``ValueError`` naming what differs.  Numbers only: the Yao et al. scatter is drawn
by :mod:`evaluation.report.run.figures` from :func:`yao_points`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from backends.spec import SCALES, VAR_DIMS, VAR_NAMES, HierData
from evaluation.data.design import is_estimable, site_design
from evaluation.metrics.distance import corr_distance, wasserstein_1d
from evaluation.metrics.draws import Draws, Paired, paired_draws

#: The scalar variables, summarised one by one (alpha, sigma_site, sigma_worker).
SUMMARY_VARS: tuple[str, ...] = tuple(v for v, dims in VAR_DIMS.items() if not dims)
#: The variance components checked for collapse, sigma_worker (the study's question) first.
COLLAPSE_SCALES: tuple[str, ...] = SCALES[::-1]


def _summary(x: np.ndarray) -> dict[str, float]:
    q05, q50, q95 = np.quantile(x, [0.05, 0.5, 0.95])
    return {"mean": float(np.mean(x)), "sd": float(np.std(x, ddof=1)) if x.size > 1 else None,
            "median": float(q50), "q05": float(q05), "q95": float(q95)}  # fmt: skip


def _truth_array(data: HierData, name: str) -> np.ndarray | None:
    """Truth of ``name`` in the data's order (that of draws aligned to ``data``)."""
    if data.truth is None or name not in data.truth:
        return None
    return np.asarray(data.truth[name], float)


def interval_coverage(draws: np.ndarray, truth: np.ndarray, level: float) -> float:
    """Fraction of elements whose true value lies in their central ``level`` interval.

    The one definition of interval coverage (per run here, across runs in the sweep report).
    The interval of an element is closed, from the ``(1 - level) / 2`` to the
    ``(1 + level) / 2`` quantile of its draws (``numpy.quantile``, linear interpolation).

    Parameters
    ----------
    draws : ndarray (S, ...)
        Posterior draws, draws first; the other axes are flattened into elements.
    truth : ndarray
        True values, one per element (any shape with as many values, in the same order).
    level : float
        Nominal coverage in (0, 1), e.g. 0.9 for the central 90% interval.

    Returns
    -------
    float
        Covered elements / all elements.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"coverage level must be in (0, 1), got {level}")
    draws = np.asarray(draws, dtype=float)
    draws = draws.reshape(draws.shape[0], -1)
    truth = np.asarray(truth, dtype=float).ravel()
    # rounded so that level 0.9 asks for exactly the 0.05 and 0.95 quantiles
    probs = [round((1.0 - level) / 2.0, 12), round((1.0 + level) / 2.0, 12)]
    lower, upper = np.quantile(draws, probs, axis=0)
    return float(np.mean((lower <= truth) & (truth <= upper)))


def recovery(draws: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Bias, RMSE, mean |z| and 50% / 90% central-interval coverage of a block.

    Parameters
    ----------
    draws : ndarray (S, E)
        Posterior draws of the block's E elements.
    truth : ndarray (E,)
        True values, aligned with the columns of ``draws``.
    """
    mean, sd = draws.mean(axis=0), draws.std(axis=0, ddof=1)
    err = mean - truth
    with np.errstate(divide="ignore", invalid="ignore"):
        z = err / sd
    return {
        "n": int(truth.size),
        "bias": float(err.mean()),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mean_abs_z": float(np.mean(np.abs(z))),
        "coverage50": interval_coverage(draws, truth, 0.5),
        "coverage90": interval_coverage(draws, truth, 0.9),
    }


def estimable_coefficients(data: HierData) -> dict[str, bool]:
    """Per coefficient of ``[1 | X_site]`` (``alpha`` first, then beta_site): estimable?

    False where the design is rank deficient and the coefficient loads on a null direction
    (:func:`evaluation.data.design.is_estimable`): the data do not identify it.
    """
    design, _ = site_design(data)
    eye = np.eye(design.shape[1])
    names = ("alpha", *data.site_features)
    return {n: is_estimable(eye[i], design) for i, n in enumerate(names)}


def posterior_section(draws: Draws, data: HierData) -> dict:
    """The ``posterior`` section of metrics.json, from ``draws`` aligned to ``data``.

    Returns
    -------
    dict
        ``summary``: for alpha, sigma_site, sigma_worker the mean, sd, median, q05, q95 (and
        ``truth`` when known; alpha also ``identified``); ``beta_site``: the same per site
        feature, with ``identified`` (estimable from ``[1 | X_site]``); ``recovery`` (only with
        truth): per block bias (mean of posterior mean - truth), rmse of posterior means,
        ``mean_abs_z`` (z = (mean - truth) / sd), ``coverage50`` and ``coverage90`` (fraction of
        elements whose truth lies in the central 50% / 90% interval); top-level
        ``beta_site_coverage90`` and ``beta_worker_coverage90``; ``n_draws``.
    """
    das = draws.flat()
    out: dict[str, Any] = {"n_draws": int(das["alpha"].shape[0]),
                           "truth_available": data.truth is not None}  # fmt: skip
    summary = {}
    for v in SUMMARY_VARS:
        summary[v] = _summary(das[v])
        truth = _truth_array(data, v)
        if truth is not None:
            summary[v]["truth"] = float(truth)
    flags = estimable_coefficients(data)
    summary["alpha"]["identified"] = flags["alpha"]
    out["summary"] = summary
    bs = das["beta_site"]
    truth_bs = _truth_array(data, "beta_site")
    out["beta_site"] = {
        f: {**_summary(bs[:, k]),
            **({"truth": float(truth_bs[k])} if truth_bs is not None else {}),
            "identified": flags[str(f)]}
        for k, f in enumerate(draws.labels["site_feature"])
    }  # fmt: skip
    rec = None if data.truth is None else _recovery_blocks(das, data)
    out["recovery"] = rec
    out["beta_site_coverage90"] = (rec or {}).get("beta_site", {}).get("coverage90")
    out["beta_worker_coverage90"] = (rec or {}).get("beta_worker", {}).get("coverage90")
    return out


def _recovery_blocks(das: Mapping[str, np.ndarray], data: HierData) -> dict[str, dict]:
    """:func:`recovery` of every block whose truth is known (draws in the data's order)."""
    rec = {}
    for v in VAR_NAMES:
        truth = _truth_array(data, v)
        if truth is None:
            continue
        rec[v] = recovery(das[v].reshape(das[v].shape[0], -1), truth.ravel())
    return rec


def _scale_summary(x: np.ndarray, eps: float) -> dict[str, float]:
    q05, q50, q95 = np.quantile(x, [0.05, 0.5, 0.95])
    return {"median": float(q50), "q05": float(q05), "q95": float(q95),
            "p_below_eps": float(np.mean(x < eps))}  # fmt: skip


def sigma_collapse(
    draws: Draws,
    *,
    reference: Draws | None = None,
    truth: Mapping[str, Any] | None = None,
    eps: float = 0.01,
) -> dict:
    """Has a variance component collapsed towards zero?  Per scale (sigma_worker, sigma_site).

    Returns
    -------
    dict
        Per scale: ``method`` and ``reference`` (None without one) each with median, q05, q95
        (the central 90% interval) and ``p_below_eps`` = P(sigma < eps); ``truth`` (or None);
        ``ratio_median`` = method median / reference median (or None); ``eps``.
    """
    out: dict[str, Any] = {}
    for name in COLLAPSE_SCALES:
        m = draws.stacked(name)
        row: dict[str, Any] = {"eps": float(eps), "method": _scale_summary(m, eps),
                               "reference": None, "ratio_median": None}  # fmt: skip
        if reference is not None:
            r = reference.stacked(name)
            row["reference"] = _scale_summary(r, eps)
            ref_med = row["reference"]["median"]
            row["ratio_median"] = row["method"]["median"] / ref_med if ref_med > 0 else None
        t = None if truth is None else truth.get(name)
        row["truth"] = None if t is None else float(np.asarray(t))
        out[name] = row
    return out


# --------------------------------------------------------------------------------------------
# Against a reference posterior
# --------------------------------------------------------------------------------------------
def wasserstein(data1: Draws, data2: Draws, var_names: Sequence[str] | None = None, *,
                scale: bool = False) -> dict[str, float]:  # fmt: skip
    """Mean marginal 1-D Wasserstein distance per variable (and ``all``).

    Signature in the style of arviz-stats' ``wasserstein(data1, data2, var_names=...)``, but
    marginal: the distance of each scalar element (scipy.stats.wasserstein_distance), averaged
    over the elements of a variable.

    Parameters
    ----------
    data1, data2 : Draws
        Posteriors to compare (``data2`` is the reference); aligned by label.
    var_names : sequence of str, optional
        Defaults to the canonical variables present in ``data1``.
    scale : bool
        Divide each element's distance by its standard deviation in ``data2``.
    """
    per_var = {}
    for v, pair in paired_draws(data1, data2, var_names).items():
        w = wasserstein_1d(pair.method, pair.reference)
        if scale:
            with np.errstate(divide="ignore", invalid="ignore"):
                w = w / pair.reference.std(axis=0, ddof=1)
        per_var[v] = w
    out = {v: float(np.mean(w)) for v, w in per_var.items()}
    out["all"] = float(np.mean(np.concatenate(list(per_var.values()))))
    return out


def element_errors(pair: Paired) -> tuple[np.ndarray, np.ndarray]:
    """Standardised mean error (mean - ref mean) / ref sd and sd ratio sd / ref sd."""
    ref_sd = pair.reference.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sme = (pair.method.mean(axis=0) - pair.reference.mean(axis=0)) / ref_sd
        ratio = pair.method.std(axis=0, ddof=1) / ref_sd
    return sme, ratio


def _block_stats(pair: Paired) -> dict[str, Any]:
    sme, ratio = element_errors(pair)
    w = wasserstein_1d(pair.method, pair.reference)
    with np.errstate(divide="ignore", invalid="ignore"):
        w_std = w / pair.reference.std(axis=0, ddof=1)
    return {
        "n": int(sme.size),
        "sme_mean_abs": float(np.mean(np.abs(sme))),
        "sme_max_abs": float(np.max(np.abs(sme))),
        "sd_ratio_median": float(np.median(ratio)),
        "sd_ratio_min": float(np.min(ratio)),
        "sd_ratio_max": float(np.max(ratio)),
        "wasserstein_mean": float(np.mean(w)),
        "wasserstein_std_mean": float(np.mean(w_std)),
        **corr_distance(pair.method, pair.reference),
    }


def compare_to_reference(
    draws: Draws,
    ref_draws: Draws,
    var_names: Sequence[str] | None = None,
    *,
    check: Any = None,
) -> dict:
    """The method's posterior against a reference posterior, per block and overall.

    Parameters
    ----------
    draws, ref_draws : Draws
        The method's and the reference's posterior (:func:`evaluation.metrics.draws.extract`).
    var_names : sequence of str, optional
        Blocks to compare; defaults to the canonical variables.
    check : evaluation.metrics.reference.ReferenceCheck, optional
        When given and failed, ``reference_flag`` says which criteria failed.

    Returns
    -------
    dict
        ``blocks``: per variable ``n``, standardised mean error ``sme_mean_abs`` /
        ``sme_max_abs`` ((mean - ref mean) / ref sd), ``sd_ratio_median/min/max``
        (sd / ref sd), ``wasserstein_mean`` (marginal W1 averaged over elements) and
        ``wasserstein_std_mean`` (each divided by the ref sd), ``corr_frobenius`` / ``corr_rms``
        (norm of the difference of the posterior correlation matrices of the block's elements;
        a mean-field approximation has no correlations by construction, so this measures what it
        misses).  ``all``: the same over the concatenated vector.  ``reference_flag`` (None when
        the reference passed its criteria or none were given), ``n_draws``, ``ref_n_draws``.
    """
    pairs = paired_draws(draws, ref_draws, var_names)
    blocks = {v: _block_stats(p) for v, p in pairs.items()}
    everything = Paired(np.hstack([p.method for p in pairs.values()]),
                        np.hstack([p.reference for p in pairs.values()]), [])  # fmt: skip
    first = next(iter(pairs.values()))
    return {
        "blocks": blocks,
        "all": _block_stats(everything),
        "n_draws": int(first.method.shape[0]),
        "ref_n_draws": int(first.reference.shape[0]),
        "reference_backend": ref_draws.attrs.get("backend"),
        "reference_flag": reference_flag(check),
    }


def reference_flag(check: Any) -> str | None:
    """``"failed criteria: ..."`` for a failed
    :class:`~evaluation.metrics.reference.ReferenceCheck`."""
    if check is None or check.passed:
        return None
    failed = [k for k, c in check.criteria.items() if not c["passed"]]
    return "failed criteria: " + ", ".join(failed)


class YaoPoints(NamedTuple):
    """The numbers of the Yao et al. (2018) picture: one point per scalar parameter.

    Attributes
    ----------
    sme : ndarray (E,)
        Standardised mean error (mean - reference mean) / reference sd.
    log_sd_ratio : ndarray (E,)
        log(sd / reference sd); below 0 the method's interval is too narrow.
    blocks : list of str
        The variable (block) of each point.
    method, reference : str
        Backend names of the two posteriors (``"method"`` / ``""`` when not recorded).
    """

    sme: np.ndarray
    log_sd_ratio: np.ndarray
    blocks: list[str]
    method: str
    reference: str


def yao_points(draws: Draws, ref_draws: Draws) -> YaoPoints:
    """Standardised mean error and log sd ratio of every scalar parameter against a reference.

    Points left or right of 0 are biased; points below 0 are too narrow (the mean-field
    signature).  Drawn by :func:`evaluation.report.run.figures.yao_scatter`.
    """
    xs, ys, blocks = [], [], []
    for v, pair in paired_draws(draws, ref_draws).items():
        sme, ratio = element_errors(pair)
        xs.append(sme)
        with np.errstate(divide="ignore", invalid="ignore"):
            ys.append(np.log(ratio))
        blocks += [v] * sme.size
    return YaoPoints(
        np.concatenate(xs),
        np.concatenate(ys),
        blocks,
        str(draws.attrs.get("backend", "method")),
        str(ref_draws.attrs.get("backend", "")),
    )
