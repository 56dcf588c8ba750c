"""Convergence and reliability diagnostics: MCMC (R-hat, ESS, divergences, tree depth, E-BFMI)
and VI (loss convergence, PSIS k-hat of the approximation).

The one place a run's divergences are counted and its VI loss is judged converged: backends
return the sampler stats, the loss trace and raw facts (e.g. the convergence window and
tolerance they were given), and the rules of :mod:`backends.convergence` are applied here.
Each section carries ``verdicts``: plain-language sentences for the run report.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from backends.convergence import CONVERGENCE_RULE, converged_step, count_divergent
from backends.spec import VAR_NAMES, HierData, ModelSpec, log_joint
from evaluation.metrics.draws import Draws

RHAT_MAX = 1.01
ESS_MIN = 400
BFMI_MIN = 0.3
KHAT_GOOD, KHAT_BAD = 0.5, 0.7
DEFAULT_MAX_TREE_DEPTH = 10  # Stan, PyMC and nutpie default
#: Default of ``evaluation.divergence_warn_fraction``: above this fraction of divergent draws
#: the MCMC verdict fails (the PyMC backend's own warning uses the same default).
DIVERGENCE_WARN_FRACTION = 0.01
CHUNK_ELEMENTS = 4_000_000


def _var_names(draws: Draws) -> list[str]:
    return [v for v in (*VAR_NAMES, "z_worker") if v in draws.params]


def _extreme(ds: Any, worst: str) -> tuple[float | None, str | None]:
    """Max (``worst="max"``) or min over every element of a Dataset, and where it is."""
    best_val, best_where = None, None
    for name, da in ds.data_vars.items():
        values = np.asarray(da.values, float)
        if not np.isfinite(values).any():
            continue
        idx = np.nanargmax(values) if worst == "max" else np.nanargmin(values)
        val = float(values.ravel()[idx])
        if best_val is None or (val > best_val if worst == "max" else val < best_val):
            coords = np.unravel_index(idx, values.shape)
            labels = [str(da[d].values[i]) for d, i in zip(da.dims, coords, strict=True)]
            best_val, best_where = val, f"{name}[{', '.join(labels)}]" if labels else name
    return best_val, best_where


def _max_tree_depth(draws: Draws, given: int | None) -> tuple[int, str]:
    if given is not None:
        return int(given), "given"
    for key in ("max_tree_depth", "max_treedepth"):
        for group, attrs in (("sample_stats", draws.stats_attrs), ("posterior", draws.attrs)):
            if key in attrs:
                return int(attrs[key]), f"{group}.attrs[{key}]"
    return DEFAULT_MAX_TREE_DEPTH, "assumed default 10"


def _tree_depth_stats(draws: Draws, max_tree_depth: int | None) -> dict[str, Any]:
    stats = draws.stats
    if "reached_max_treedepth" in stats:
        frac = float(np.mean(np.asarray(stats["reached_max_treedepth"], bool)))
        return {"frac_max_tree_depth": frac, "max_tree_depth_source": "reached_max_treedepth"}
    if "tree_depth" not in stats:
        return {"frac_max_tree_depth": None, "max_tree_depth_source": None}
    depth, source = _max_tree_depth(draws, max_tree_depth)
    frac = float(np.mean(np.asarray(stats["tree_depth"]) >= depth))
    return {"frac_max_tree_depth": frac, "max_tree_depth": depth, "max_tree_depth_source": source}


def mcmc_diagnostics(
    draws: Draws,
    wall_s: float | None = None,
    max_tree_depth: int | None = None,
    divergence_warn_fraction: float = DIVERGENCE_WARN_FRACTION,
) -> dict:
    """R-hat, ESS, divergences, tree depth and E-BFMI of an MCMC posterior.

    Parameters
    ----------
    draws : Draws
        The posterior (:func:`evaluation.metrics.draws.extract`).
    wall_s : float, optional
        Sampling wall time (warm-up + sampling) for ``ess_bulk_per_s``.
    max_tree_depth : int, optional
        The sampler's maximum tree depth; else read from attrs, else assumed 10.
    divergence_warn_fraction : float
        ``evaluation.divergence_warn_fraction``: a larger fraction of divergent draws fails
        the verdict; fewer (but some) are reported without failing it.

    Returns
    -------
    dict
        ``max_rhat`` (rank-normalised, ArviZ) and where it is, ``min_ess_bulk``,
        ``min_ess_tail`` over every element of every parameter, ``n_divergent``,
        ``frac_max_tree_depth``, ``min_ebfmi`` (over chains), ``ess_bulk_per_s``, ``verdicts``
        and ``ok``.
    """
    import arviz as az

    post = draws.dataset(_var_names(draws))
    n_chains = draws.n_chains
    out: dict[str, Any] = {"kind": "mcmc", "n_chains": n_chains,
                           "n_draws": draws.n_draws}  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ArviZ warns on short chains; the numbers say it all
        rhat = az.rhat(post) if n_chains > 1 else None
        bulk, tail = az.ess(post, method="bulk"), az.ess(post, method="tail")
    out["max_rhat"], out["max_rhat_at"] = _extreme(rhat, "max") if rhat else (None, None)
    out["min_ess_bulk"], out["min_ess_bulk_at"] = _extreme(bulk, "min")
    out["min_ess_tail"], out["min_ess_tail_at"] = _extreme(tail, "min")
    stats = draws.stats
    out["n_divergent"] = count_divergent(stats["diverging"]) if "diverging" in stats else None
    out.update(_tree_depth_stats(draws, max_tree_depth) if len(stats) else {})
    out["min_ebfmi"] = None
    if "energy" in stats:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out["min_ebfmi"] = float(np.min(az.bfmi(stats["energy"])))
    ok_ess = out["min_ess_bulk"]
    out["ess_bulk_per_s"] = ok_ess / wall_s if wall_s and ok_ess is not None else None
    out["verdicts"], out["ok"] = _mcmc_verdicts(out, divergence_warn_fraction)
    return out


def _mcmc_verdicts(d: Mapping[str, Any], max_div_fraction: float) -> tuple[list[str], bool]:
    v, ok = [], True
    if d["max_rhat"] is None:
        v.append("R-hat not computed (one chain): convergence across chains is unchecked.")
        ok = False
    elif d["max_rhat"] >= RHAT_MAX:
        v.append(f"Chains disagree: max R-hat {d['max_rhat']:.3f} >= {RHAT_MAX} "
                 f"(at {d['max_rhat_at']}); do not trust these draws yet.")  # fmt: skip
        ok = False
    else:
        v.append(f"Chains agree (max R-hat {d['max_rhat']:.3f} < {RHAT_MAX}).")
    ess = min(x for x in (d["min_ess_bulk"], d["min_ess_tail"]) if x is not None)
    if ess < ESS_MIN:
        v.append(f"Too few effective draws: min ESS {ess:.0f} < {ESS_MIN}; run longer.")
        ok = False
    else:
        v.append(f"Enough effective draws (min bulk/tail ESS {ess:.0f} >= {ESS_MIN}).")
    n_div = d.get("n_divergent")
    frac = n_div / (d["n_chains"] * d["n_draws"]) if n_div else 0.0
    if n_div and frac > max_div_fraction:
        v.append(f"{n_div} divergent transitions ({100 * frac:.2f}% of draws > "
                 f"{100 * max_div_fraction:g}%): the sampler missed part of the "
                 "posterior (try noncentered or a higher target_accept).")  # fmt: skip
        ok = False
    elif n_div:
        v.append(f"{n_div} divergent transitions ({100 * frac:.2f}% of draws <= "
                 f"{100 * max_div_fraction:g}%): tolerated; check where they occur.")  # fmt: skip
    elif d.get("n_divergent") == 0:
        v.append("No divergent transitions.")
    if d.get("frac_max_tree_depth"):
        v.append(f"{100 * d['frac_max_tree_depth']:.1f}% of draws hit the maximum tree depth "
                 "(sampling was inefficient, not necessarily wrong).")  # fmt: skip
    if d.get("min_ebfmi") is not None and d["min_ebfmi"] < BFMI_MIN:
        v.append(f"Low E-BFMI {d['min_ebfmi']:.2f} < {BFMI_MIN}: poor exploration of the tails.")
        ok = False
    return v, ok


def psis_khat(log_p: np.ndarray, log_q: np.ndarray) -> float | None:
    """Pareto k-hat of the importance ratios p/q (PSIS, Vehtari et al.; Yao et al. 2018).

    Parameters
    ----------
    log_p : ndarray (S,)
        Unnormalised log target density of each draw.
    log_q : ndarray (S,)
        Log density of the approximation at each draw (same space, no Jacobian mismatch).

    Returns
    -------
    float or None
        k-hat (< 0.5 good, 0.5-0.7 marginal, > 0.7 the approximation is not reliable); None
        when a weight is NaN or +inf.  Constant log weights (q proportional to p; ArviZ would
        return inf because there is no tail to fit) give 0.0.
    """
    import arviz as az

    lw = np.asarray(log_p, float).ravel() - np.asarray(log_q, float).ravel()
    if np.isnan(lw).any() or np.isposinf(lw).any() or not np.isfinite(lw).any():
        return None
    finite = lw[np.isfinite(lw)]
    if np.ptp(finite) <= 1e-9 * max(1.0, float(np.max(np.abs(finite)))):
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # psislw warns about k-hat > 0.7; we report it
        _, khat = az.psislw(lw - lw.max(), reff=1.0)
    return float(khat)


def khat_verdict(khat: float | None, reason: str | None = None) -> str:
    """Plain-language reading of a PSIS k-hat (``reason``: why there is none)."""
    if khat is None:
        return f"k-hat not diagnosable: {reason or 'not computed'}"
    if khat > KHAT_BAD:
        return f"k-hat {khat:.2f} > {KHAT_BAD}: the approximation is not reliable"
    if khat > KHAT_GOOD:
        return f"k-hat {khat:.2f} in ({KHAT_GOOD}, {KHAT_BAD}]: marginal"
    return f"k-hat {khat:.2f} <= {KHAT_GOOD}: the approximation is good"


def draw_log_joint(draws: Draws, data: HierData, spec: ModelSpec) -> np.ndarray:
    """``spec.log_joint`` of every posterior draw, shape (chain * draw,), chunked over draws;
    ``draws`` aligned to ``data``."""
    params = draws.flat()
    if spec.parameterization == "noncentered" and "z_worker" in draws.params:
        params["z_worker"] = draws.stacked("z_worker")
    n = params["alpha"].shape[0]
    chunk = max(1, CHUNK_ELEMENTS // max(1, data.n_workers * max(1, len(data.worker_features))))
    parts = [log_joint({k: v[i:i + chunk] for k, v in params.items()}, data, spec)
             for i in range(0, n, chunk)]  # fmt: skip
    return np.concatenate(parts)


#: ``info`` keys of a backend that leaves the convergence verdict to the shared rule.
RULE_SETTINGS: tuple[str, str] = ("convergence_window", "convergence_rtol")
#: The convergence verdict's keys.
CONVERGENCE_KEYS: tuple[str, ...] = ("converged", "converged_step", "convergence_rule")


def loss_convergence(loss: np.ndarray | None, info: Mapping[str, Any]) -> dict[str, Any]:
    """Whether and when a VI loss converged: ``converged``, ``converged_step``,
    ``convergence_rule``.

    A backend that records ``convergence_window`` and ``convergence_rtol`` in ``info`` is judged
    by :func:`backends.convergence.converged_step` with those settings; otherwise the verdict
    its inference library reported (e.g. CmdStan ADVI's ``tol_rel_obj`` check) is taken from
    ``info`` as it is (None where absent).
    """
    if not all(k in info for k in RULE_SETTINGS):
        return {k: info.get(k) for k in CONVERGENCE_KEYS}
    trace = np.empty(0) if loss is None else np.asarray(loss, dtype=np.float64)
    step = converged_step(trace, int(info["convergence_window"]), float(info["convergence_rtol"]))
    return {"converged": step is not None, "converged_step": step,
            "convergence_rule": CONVERGENCE_RULE}  # fmt: skip


def _loss_section(loss: np.ndarray | None, info: Mapping[str, Any]) -> dict[str, Any]:
    """The convergence verdict plus the loss summaries (``final_loss_mean``: last 1%)."""
    out = loss_convergence(loss, info)
    if loss is None or len(loss) == 0:
        return {**out, "n_steps": None, "final_loss": None, "final_loss_mean": None,
                "relative_change_last_10pct": None}  # fmt: skip
    loss = np.asarray(loss, float)
    w = max(1, len(loss) // 10)
    last, prev = (
        np.nanmean(loss[-w:]),
        np.nanmean(loss[-2 * w : -w]) if len(loss) >= 2 * w else None,
    )
    rel = None if prev is None else float(abs(last - prev) / max(abs(prev), 1e-12))
    return {**out, "n_steps": len(loss), "final_loss": float(loss[-1]),
            "final_loss_mean": float(np.nanmean(loss[-max(1, len(loss) // 100):])),
            "relative_change_last_10pct": rel}  # fmt: skip


def vi_diagnostics(
    draws: Draws,
    data: HierData,
    model_spec: ModelSpec,
    loss: np.ndarray | None = None,
    info: Mapping[str, Any] | None = None,
) -> dict:
    """Loss convergence (:func:`loss_convergence`) and the PSIS k-hat of the approximation.

    The k-hat comes from the approximation's own proposal: log weights
    ``spec.log_joint(draw, data, model_spec) - sample_stats.log_q`` of the draws, or, for a
    backend that resampled its draws (Pathfinder with PSIS: the kept draws are no longer
    distributed as the proposal), the k-hat the backend computed on the proposal's draws
    before resampling (``info["pareto_k"]``).  Neither: "not diagnosable", and ``ok`` is None
    (not checked), never True.

    Returns
    -------
    dict
        ``converged``, ``converged_step``, ``convergence_rule`` (:func:`loss_convergence`),
        ``n_steps``,
        ``final_loss`` (last step), ``final_loss_mean`` (mean of the last 1%),
        ``relative_change_last_10pct``, ``khat``, ``khat_source``, ``khat_verdict``,
        ``verdicts``, ``ok`` (True, False, or None when no k-hat could be computed).
    """
    info = info or {}
    out: dict[str, Any] = {"kind": "vi", **_loss_section(loss, info)}
    out["khat"], out["khat_source"], reason = _vi_khat(draws, data, model_spec, info)
    out["khat_verdict"] = khat_verdict(out["khat"], reason)
    verdicts = [out["khat_verdict"][0].upper() + out["khat_verdict"][1:] + "."]
    if out["converged"] is False:
        verdicts.append("The optimiser did not meet its convergence rule.")
    elif out["converged_step"] is not None:
        verdicts.append(f"The loss converged at step {out['converged_step']}.")
    out["verdicts"] = verdicts
    if out["converged"] is False or (out["khat"] is not None and out["khat"] > KHAT_BAD):
        out["ok"] = False
    else:
        out["ok"] = None if out["khat"] is None else True
    return out


#: ``khat_source`` of a k-hat computed from the draws' own ``log_q``.
KHAT_FROM_DRAWS = "the draws' own log q"
#: ``khat_source`` of a k-hat a resampling backend computed before resampling.
KHAT_FROM_PROPOSAL = "the proposal's draws before PSIS resampling (the backend's info.pareto_k)"


def _vi_khat(
    draws: Draws, data: HierData, spec: ModelSpec, info: Mapping[str, Any]
) -> tuple[float | None, str | None, str | None]:
    """(k-hat, where it comes from, why there is none)."""
    if "log_q" in draws.stats:
        log_q = np.asarray(draws.stats["log_q"], float).ravel()
        khat = psis_khat(draw_log_joint(draws, data, spec), log_q)
        why = None if khat is not None else "the log weights are NaN or +inf"
        return khat, KHAT_FROM_DRAWS, why
    proposal = info.get("pareto_k")
    if isinstance(proposal, (int, float)) and np.isfinite(proposal) and proposal >= 0:
        return float(proposal), KHAT_FROM_PROPOSAL, None
    return None, None, "the draws carry no log density of the approximation (log_q)"


def diagnostics_section(
    draws: Draws,
    data: HierData,
    model_spec: ModelSpec,
    fit_info: Mapping[str, Any] | None,
    loss: np.ndarray | None,
    timing: Mapping[str, float] | None,
    divergence_warn_fraction: float = DIVERGENCE_WARN_FRACTION,
) -> dict:
    """The ``diagnostics`` section: MCMC diagnostics when the draws come from a sampler (a
    ``diverging`` stat, or several chains without ``log_q``), VI diagnostics when
    ``sample_stats.log_q`` exists or the backend declares the ``vi`` family; both when both
    apply.  ``ok`` is None (not checked) when no check could run.  ``divergence_warn_fraction`` is
    ``evaluation.divergence_warn_fraction`` (see :func:`mcmc_diagnostics`)."""
    stats = draws.stats
    timing = timing or {}
    out: dict[str, Any] = {}
    is_vi = "log_q" in stats or draws.attrs.get("inference_family") == "vi"
    if "diverging" in stats or (draws.n_chains > 1 and not is_vi):
        wall = (timing.get("warmup_s") or 0.0) + (timing.get("sampling_s") or 0.0)
        info = fit_info or {}
        depth = next((info[k] for k in ("max_tree_depth", "max_treedepth") if k in info), None)
        out["mcmc"] = mcmc_diagnostics(
            draws,
            wall_s=wall or timing.get("fit_s"),
            max_tree_depth=depth,
            divergence_warn_fraction=divergence_warn_fraction,
        )
    if is_vi:
        out["vi"] = vi_diagnostics(draws, data, model_spec, loss, fit_info)
    if not out:
        out["note"] = "not checked: single-chain draws of no declared family, without log_q"
    out["ok"] = combine_ok(s["ok"] for s in out.values() if isinstance(s, dict))
    return out


def combine_ok(oks: Any) -> bool | None:
    """False if any check failed, True if every check ran and passed, None (not checked)
    when none ran or one could not run."""
    oks = list(oks)
    if any(ok is False for ok in oks):
        return False
    return True if oks and all(ok is True for ok in oks) else None
