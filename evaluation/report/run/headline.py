"""The headline of the per-run report: what separates inference methods first (interval
coverage against the truth, on identified quantities; width against a reference; the variance
components), then the rest; the coverage verdict with its (dependence-aware) band is the
headline engine's (:func:`evaluation.report.headline.coverage_verdict`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evaluation.metrics.posterior import COLLAPSE_SCALES
from evaluation.report.format import DASH, fmt
from evaluation.report.headline import coverage_verdict


def get_path(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, Mapping):
            return None
        d = d.get(k)
    return d


def n_eff(m: Mapping[str, Any], block: str) -> float | None:
    """The effective n of a block's coverage count (``posterior.coverage_dependence``)."""
    return get_path(m, "posterior", "coverage_dependence", block, "n_eff")


def _headline_truth(m: Mapping[str, Any]) -> list[str]:
    out = []
    rec = get_path(m, "posterior", "recovery") or {}
    for block in ("beta_worker", "beta_site"):
        r = None if block == "beta_site" and identified_section(m) else rec.get(block)
        if r:
            out.append(f"- **Coverage of the truth, {block}:** the 90% intervals contain "
                       f"{fmt(100 * r['coverage90'], 3)}% of the {r['n']} true values, the 50% "
                       f"intervals {fmt(100 * r['coverage50'], 3)}% — "
                       f"{coverage_verdict(r['coverage90'], 0.9, r['n'], n_eff(m, block))}"
                       ".")  # fmt: skip
    return out


def _headline_reference(m: Mapping[str, Any]) -> list[str]:
    out = []
    blocks = get_path(m, "reference", "blocks") or {}
    for block in ("beta_worker", "beta_site", "sigma_worker"):
        b = blocks.get(block)
        if b:
            out.append(f"- **Interval width vs the reference, {block}:** median sd ratio "
                       f"{fmt(b['sd_ratio_median'])} (1 = as wide as the reference; range "
                       f"{fmt(b['sd_ratio_min'])}–{fmt(b['sd_ratio_max'])}).")  # fmt: skip
    if get_path(m, "reference", "reference_flag"):
        out.append(f"- ⚠ The reference posterior {m['reference']['reference_flag']}.")
    return out


def _headline_scales(m: Mapping[str, Any]) -> list[str]:
    out = []
    for scale in COLLAPSE_SCALES:
        s = get_path(m, "posterior", "sigma_collapse", scale)
        if s:
            extra = [f"truth {fmt(s.get('truth'))}" if s.get("truth") is not None else None,
                     f"reference {fmt(get_path(s, 'reference', 'median'))}"
                     if s.get("reference") else None]  # fmt: skip
            extra = ", ".join(e for e in extra if e)
            out.append(f"- **{scale}:** posterior median {fmt(s['method']['median'])}"
                       f"{' (' + extra + ')' if extra else ''}; P({scale} < {s['eps']}) = "
                       f"{fmt(s['method']['p_below_eps'])}.")  # fmt: skip
    return out


def _headline_rest(m: Mapping[str, Any]) -> list[str]:
    """Clusters, prediction (shown beside, not before, the lines above) and diagnostics."""
    out = []
    c = m.get("clustering")
    if isinstance(c, Mapping):
        out.append(f"- **Clusters:** K = {fmt(c.get('k'))}; stability "
                   f"{get_path(c, 'stability', 'verdict') or DASH} (ARI across Gibbs seeds "
                   f"{fmt(get_path(c, 'ari_seeds', 'mean'))}, across posterior draws "
                   f"{fmt(get_path(c, 'ari_draws', 'mean'))}, against planted clusters "
                   f"{fmt(c.get('ari_truth'))}).")  # fmt: skip
    p = m.get("predictive")
    if isinstance(p, Mapping):
        where = "in-sample, no held-out rows" if p.get("in_sample") else "held-out"
        out.append(f"- **Prediction ({where}):** AUC {fmt(p.get('auc'))}, accuracy "
                   f"{fmt(p.get('accuracy'))} (majority baseline "
                   f"{fmt(p.get('baseline_accuracy'))}). These barely separate inference "
                   "methods on this model; the lines above do.")  # fmt: skip
    d = m.get("diagnostics")
    if isinstance(d, Mapping):
        ok = d.get("ok")
        text = ("no warnings" if ok else "see the warnings below" if ok is False
                else "not checked (see below)")  # fmt: skip
        out.append(f"- **Diagnostics:** {text}.")
    return out


def approximation_lines(m: Mapping[str, Any]) -> list[str]:
    """The approximation's verdict against NUTS (``approximation``) and, when the scored
    posterior was PSIS-resampled, whether that can be trusted (``psis``): first in the
    headline, because a failed approximation's other numbers describe a wrong posterior."""
    out = []
    a = m.get("approximation")
    if isinstance(a, Mapping) and a.get("failed") is not None:
        if a["failed"]:
            why = "; ".join(a.get("reasons") or [])
            out.append(f"- **Approximation: FAILED** — {why}. Its intervals and conclusions "
                       "below describe a wrong posterior.")  # fmt: skip
        else:
            out.append("- **Approximation:** within the failure rule's bounds against NUTS.")
    elif isinstance(a, Mapping):
        out.append(f"- **Approximation:** {'; '.join(a.get('reasons') or ['not checked'])}.")
    p = m.get("psis")
    if isinstance(p, Mapping) and p.get("applied") and p.get("trustworthy") is False:
        out.append(f"- **PSIS-resampled posterior: NOT TRUSTWORTHY** — {p.get('verdict')}; "
                   f"effective sample size {fmt(p.get('ess'))} of {fmt(p.get('n_draws'))} "
                   "draws.")  # fmt: skip
    return out


def identified_section(m: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """``posterior.identified`` (alpha and beta_site on identified quantities), or None."""
    ident = get_path(m, "posterior", "identified")
    return ident if isinstance(ident, Mapping) and ident.get("site_predictor") else None


def _headline_identified(m: Mapping[str, Any]) -> list[str]:
    """beta_site coverage on the identified worksite linear predictor (not the coefficients)."""
    ident = identified_section(m)
    if ident is None:
        return []
    r, rank = ident["site_predictor"], ident.get("rank")
    line = (f"- **Coverage of the truth, beta_site (identified: worksite linear predictor "
            f"alpha + X_site·beta_site):** the 90% intervals contain "
            f"{fmt(100 * r['coverage90'], 3)}% of the {r['n']} worksites' true values, the 50% "
            f"intervals {fmt(100 * r['coverage50'], 3)}% — "
            f"{coverage_verdict(r['coverage90'], 0.9, min(r['n'], rank or r['n']))}")  # fmt: skip
    if rank and rank < r["n"]:
        line += (f" (band for {rank} trials: the {r['n']} worksite predictors span only {rank} "
                 "dimensions)")  # fmt: skip
    flags = ident.get("coefficients") or {}
    not_ident = [n for n, ok in flags.items() if not ok]
    if not_ident:
        line += (f". Not identified by the data (prior only; per-coefficient numbers not "
                 f"judged): {', '.join(not_ident)}")  # fmt: skip
    out = [line + "."]
    b = get_path(m, "reference", "identified", "site_predictor")
    if isinstance(b, Mapping):
        out.append(f"- **Interval width vs the reference, worksite linear predictor "
                   f"(identified):** median sd ratio {fmt(b['sd_ratio_median'])} (range "
                   f"{fmt(b['sd_ratio_min'])}–{fmt(b['sd_ratio_max'])}), mean |SME| "
                   f"{fmt(b['sme_mean_abs'])}.")  # fmt: skip
    return out


def headline_section(m: Mapping[str, Any]) -> list[str]:
    """What separates inference methods first (coverage, width, scales), then the rest."""
    parts = (approximation_lines, _headline_truth, _headline_identified, _headline_reference,
             _headline_scales, _headline_rest)  # fmt: skip
    out = [line for part in parts for line in part(m)]
    return ["## Headline", "", *out, ""] if out else []
