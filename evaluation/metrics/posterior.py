"""The posterior judged against the truth (synthetic data) and against a reference posterior.

All alignment is by coordinate label (:mod:`evaluation.metrics.draws`): a truth array is wrapped
in the
data's coordinates, a reference posterior is reordered to the method's coordinates, and a
mismatch is a ``ValueError`` naming what differs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from backends.spec import VAR_DIMS, VAR_NAMES, HierData
from evaluation.metrics.draws import data_labels, element_labels, flat_draws, select_labels, stacked

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az
    import xarray as xr

SUMMARY_VARS: tuple[str, ...] = ("alpha", "sigma_site", "sigma_worker")


def _posterior(obj: Any) -> xr.Dataset:
    """The posterior Dataset of an InferenceData (or the Dataset itself)."""
    return obj.posterior if hasattr(obj, "posterior") else obj


def _summary(x: np.ndarray) -> dict[str, float]:
    q05, q50, q95 = np.quantile(x, [0.05, 0.5, 0.95])
    return {"mean": float(np.mean(x)), "sd": float(np.std(x, ddof=1)) if x.size > 1 else None,
            "median": float(q50), "q05": float(q05), "q95": float(q95)}  # fmt: skip


def _truth_array(data: HierData, name: str) -> np.ndarray | None:
    """Truth of ``name`` as an xarray in the data's coordinates (for label alignment)."""
    import xarray as xr

    if data.truth is None or name not in data.truth:
        return None
    labels = data_labels(data)
    dims = VAR_DIMS[name]
    return xr.DataArray(np.asarray(data.truth[name], float), dims=dims,
                        coords={d: labels[d] for d in dims}, name=name)  # fmt: skip


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
    q = np.quantile(draws, [0.05, 0.25, 0.75, 0.95], axis=0)
    err = mean - truth
    with np.errstate(divide="ignore", invalid="ignore"):
        z = err / sd
    return {
        "n": int(truth.size),
        "bias": float(err.mean()),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mean_abs_z": float(np.mean(np.abs(z))),
        "coverage50": float(np.mean((q[1] <= truth) & (truth <= q[2]))),
        "coverage90": float(np.mean((q[0] <= truth) & (truth <= q[3]))),
    }


def posterior_section(idata: az.InferenceData, data: HierData) -> dict:
    """The ``posterior`` section of metrics.json.

    Returns
    -------
    dict
        ``summary``: for alpha, sigma_site, sigma_worker the mean, sd, median, q05, q95 (and
        ``truth`` when known); ``beta_site``: the same per site feature; ``recovery`` (only with
        truth): per block bias (mean of posterior mean - truth), rmse of posterior means,
        ``mean_abs_z`` (z = (mean - truth) / sd), ``coverage50`` and ``coverage90`` (fraction of
        elements whose truth lies in the central 50% / 90% interval); top-level
        ``beta_site_coverage90`` and ``beta_worker_coverage90``; ``n_draws``.
    """
    post = _posterior(idata)
    labels = data_labels(data)
    das = {v: select_labels(stacked(post, v), labels, "posterior") for v in VAR_NAMES}
    out: dict[str, Any] = {"n_draws": int(das["alpha"].shape[0]),
                           "truth_available": data.truth is not None}  # fmt: skip
    summary = {}
    for v in SUMMARY_VARS:
        summary[v] = _summary(das[v].values)
        truth = _truth_array(data, v)
        if truth is not None:
            summary[v]["truth"] = float(truth.values)
    out["summary"] = summary
    bs = das["beta_site"]
    truth_bs = _truth_array(data, "beta_site")
    out["beta_site"] = {
        f: {**_summary(bs.sel(site_feature=f).values),
            **({"truth": float(truth_bs.sel(site_feature=f))} if truth_bs is not None else {})}
        for f in labels["site_feature"]
    }  # fmt: skip
    if data.truth is None:
        out["recovery"] = None
        out["beta_site_coverage90"] = out["beta_worker_coverage90"] = None
        return out
    rec = {}
    for v in VAR_NAMES:
        truth = _truth_array(data, v)
        if truth is None:
            continue
        truth = truth.transpose(*[d for d in das[v].dims if d != "sample"])
        rec[v] = recovery(flat_draws(das[v]), np.asarray(truth.values).ravel())
    out["recovery"] = rec
    out["beta_site_coverage90"] = rec.get("beta_site", {}).get("coverage90")
    out["beta_worker_coverage90"] = rec.get("beta_worker", {}).get("coverage90")
    return out


def _scale_summary(x: np.ndarray, eps: float) -> dict[str, float]:
    q05, q50, q95 = np.quantile(x, [0.05, 0.5, 0.95])
    return {"median": float(q50), "q05": float(q05), "q95": float(q95),
            "p_below_eps": float(np.mean(x < eps))}  # fmt: skip


def sigma_collapse(
    idata: az.InferenceData,
    *,
    reference: az.InferenceData | None = None,
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
    for name in ("sigma_worker", "sigma_site"):
        m = np.asarray(stacked(_posterior(idata), name).values, float)
        row: dict[str, Any] = {"eps": float(eps), "method": _scale_summary(m, eps),
                               "reference": None, "ratio_median": None}  # fmt: skip
        if reference is not None:
            r = np.asarray(stacked(_posterior(reference), name).values, float)
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
class Paired(NamedTuple):
    """Method and reference draws of one block, aligned element by element.

    Attributes
    ----------
    method, reference : ndarray (S, E), (S_ref, E)
    labels : list of str
        ``name[coord, ...]`` of each element.
    """

    method: np.ndarray
    reference: np.ndarray
    labels: list[str]


def paired_draws(data1: Any, data2: Any, var_names: Sequence[str] | None = None
                 ) -> dict[str, Paired]:  # fmt: skip
    """Draws of ``data1`` (method) and ``data2`` (reference), aligned by label.

    Raises
    ------
    ValueError
        When variables, dims or coordinates differ; the message names what differs, e.g.
        ``beta_site: coordinate site_feature differs: reference has [...] missing [...]``.
    """
    p1, p2 = _posterior(data1), _posterior(data2)
    names = list(var_names) if var_names is not None else [v for v in VAR_NAMES if v in p1]
    lacks1 = [v for v in names if v not in p1]
    lacks2 = [v for v in names if v not in p2]
    if lacks1 or lacks2:
        raise ValueError(f"variables differ: method lacks {lacks1}, reference lacks {lacks2}")
    out = {}
    for v in names:
        d1 = [d for d in p1[v].dims if d not in ("chain", "draw")]
        d2 = [d for d in p2[v].dims if d not in ("chain", "draw")]
        if sorted(d1) != sorted(d2):
            raise ValueError(f"{v}: dims differ: method {d1}, reference {d2}")
        labels = {}
        for d in d1:
            c1 = [str(x) for x in p1[v][d].values.tolist()]
            c2 = [str(x) for x in p2[v][d].values.tolist()]
            if set(c1) != set(c2):
                extra = [c for c in c2 if c not in set(c1)]
                missing = [c for c in c1 if c not in set(c2)]
                raise ValueError(f"{v}: coordinate {d} differs: reference has {extra} "
                                 f"missing {missing}")  # fmt: skip
            labels[d] = c1
        a = select_labels(stacked(p1, v), labels, "method")
        b = select_labels(stacked(p2, v), labels, "reference").transpose(*a.dims)
        out[v] = Paired(flat_draws(a), flat_draws(b), element_labels(a))
    return out


def wasserstein_1d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact 1-D Wasserstein-1 distance of each column of ``a`` (n, E) and ``b`` (m, E).

    W1 = integral over u in (0, 1) of |F_a^-1(u) - F_b^-1(u)| for the empirical quantile
    functions; both are constant between the breakpoints i/n and j/m, so the integral is an
    exact sum over the merged breakpoints, vectorised over columns (equal to
    ``scipy.stats.wasserstein_distance`` column by column, much faster).
    """
    a, b = np.sort(np.asarray(a, float), axis=0), np.sort(np.asarray(b, float), axis=0)
    n, m = a.shape[0], b.shape[0]
    u = np.union1d(np.arange(1, n + 1) / n, np.arange(1, m + 1) / m)
    lower = np.concatenate([[0.0], u[:-1]])
    mid = 0.5 * (lower + u)
    ia = np.minimum((mid * n).astype(np.int64), n - 1)
    ib = np.minimum((mid * m).astype(np.int64), m - 1)
    return ((u - lower)[:, None] * np.abs(a[ia] - b[ib])).sum(axis=0)


def wasserstein(data1: Any, data2: Any, var_names: Sequence[str] | None = None, *,
                scale: bool = False) -> dict[str, float]:  # fmt: skip
    """Mean marginal 1-D Wasserstein distance per variable (and ``all``).

    Signature in the style of arviz-stats' ``wasserstein(data1, data2, var_names=...)``, but
    marginal: the distance of each scalar element (scipy.stats.wasserstein_distance), averaged
    over the elements of a variable.

    Parameters
    ----------
    data1, data2 : InferenceData or xarray.Dataset
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


def _corr(x: np.ndarray) -> np.ndarray:
    sd = x.std(axis=0)
    ok = sd > 0
    c = np.zeros((x.shape[1], x.shape[1]))
    if ok.sum() > 0:
        c[np.ix_(ok, ok)] = np.atleast_2d(np.corrcoef(x[:, ok], rowvar=False))
    np.fill_diagonal(c, 1.0)
    return c


def corr_distance(a: np.ndarray, b: np.ndarray) -> dict[str, float | None]:
    """Frobenius norm (and RMS over off-diagonal entries) of corr(a) - corr(b)."""
    p = a.shape[1]
    if p < 2:
        return {"corr_frobenius": None, "corr_rms": None}
    diff = _corr(a) - _corr(b)
    frob = float(np.linalg.norm(diff))
    return {"corr_frobenius": frob, "corr_rms": frob / np.sqrt(p * (p - 1))}


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
    idata: az.InferenceData,
    ref_idata: az.InferenceData,
    var_names: Sequence[str] | None = None,
    *,
    check: Any = None,
) -> dict:
    """The method's posterior against a reference posterior, per block and overall.

    Parameters
    ----------
    idata, ref_idata : arviz.InferenceData
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
    pairs = paired_draws(idata, ref_idata, var_names)
    blocks = {v: _block_stats(p) for v, p in pairs.items()}
    everything = Paired(np.hstack([p.method for p in pairs.values()]),
                        np.hstack([p.reference for p in pairs.values()]), [])  # fmt: skip
    first = next(iter(pairs.values()))
    return {
        "blocks": blocks,
        "all": _block_stats(everything),
        "n_draws": int(first.method.shape[0]),
        "ref_n_draws": int(first.reference.shape[0]),
        "reference_backend": _posterior(ref_idata).attrs.get("backend"),
        "reference_flag": reference_flag(check),
    }


def reference_flag(check: Any) -> str | None:
    """``"failed criteria: ..."`` for a failed
    :class:`~evaluation.metrics.reference.ReferenceCheck`."""
    if check is None or check.passed:
        return None
    failed = [k for k, c in check.criteria.items() if not c["passed"]]
    return "failed criteria: " + ", ".join(failed)


def yao_scatter(idata: az.InferenceData, ref_idata: az.InferenceData, path: Path) -> Path:
    """Yao et al. (2018) picture: standardised mean bias (x) vs log(sd / ref sd) (y) per element.

    Every scalar parameter is one point, coloured by block.  Points left of / right of 0 are
    biased; points below 0 are too narrow (the mean-field signature).
    """
    from evaluation.io import save_figure
    from evaluation.report.figures import yao_figure

    xs, ys, blocks = [], [], []
    for v, pair in paired_draws(idata, ref_idata).items():
        sme, ratio = element_errors(pair)
        xs.append(sme)
        with np.errstate(divide="ignore", invalid="ignore"):
            ys.append(np.log(ratio))
        blocks += [v] * sme.size
    title = f"{_posterior(idata).attrs.get('backend', 'method')} vs reference " \
            f"{_posterior(ref_idata).attrs.get('backend', '')}"  # fmt: skip
    fig = yao_figure(np.concatenate(xs), np.concatenate(ys), blocks, title)
    return save_figure(fig, Path(path))
