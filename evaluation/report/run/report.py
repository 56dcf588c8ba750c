"""The per-run ``report.md``: what ran, the headline, and every section of metrics.json in plain
language, with the run's figures embedded as relative image links.

The headline leads with what separates inference methods on this model (interval coverage,
interval width against a reference, the variance components, the clusters) and shows held-out
AUC and accuracy beside them.  Every section is optional: a missing or malformed section is
skipped (with a note), never a crash.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation import io
from evaluation.report.format import DASH, fmt, no_html, table
from evaluation.report.run.design import design_section
from evaluation.report.run.findings import findings_section
from evaluation.report.run.headline import get_path, headline_section, identified_section

log = logging.getLogger(__name__)


def _what_ran(m: Mapping[str, Any]) -> list[str]:
    data, timing = m.get("data") or {}, m.get("timing") or {}
    rows = [
        ("backend", m.get("backend")), ("method", m.get("method")),
        ("language", m.get("language")), ("parameterisation", m.get("parameterization")),
        ("seed", m.get("seed")),
        ("data", f"{data.get('name', DASH)} ({fmt(data.get('n_worksites'))} worksites, "
                 f"{fmt(data.get('n_workers'))} workers, prevalence "
                 f"{fmt(data.get('prevalence'))})"),
        ("split", f"{data.get('split', DASH)}: {fmt(data.get('n_train'))} fitted, "
                  f"{fmt(data.get('n_test'))} held out"),
    ]  # fmt: skip
    if data.get("sigma_worker_truth") is not None:
        rows.append(("true sigma_worker", data["sigma_worker_truth"]))
    rows += [(k.replace("_s", " (s)"), v) for k, v in timing.items() if v is not None]
    return ["## What ran", "", *table(["", ""], rows)]


def _sigma_table(m: Mapping[str, Any]) -> list[str]:
    sc = get_path(m, "posterior", "sigma_collapse")
    if not sc:
        return []

    def iv(d: Any) -> str:
        return f"{fmt(d['median'])} [{fmt(d['q05'])}, {fmt(d['q95'])}]" if d else DASH

    rows = [
        (
            k,
            iv(v.get("method")),
            iv(v.get("reference")),
            v.get("truth"),
            v.get("ratio_median"),
            get_path(v, "method", "p_below_eps"),
        )
        for k, v in sc.items()
    ]
    eps = next(iter(sc.values())).get("eps")
    return ["## Variance components (σ-collapse check)", "",
            "Median and central 90% interval. A scale whose posterior piles up near zero has "
            "collapsed: the model then says the worksites do not differ.", "",
            *table(["scale", "this method", "reference", "truth", "median ratio",
                    f"P(σ < {fmt(eps)})"], rows)]  # fmt: skip


def _recovery(m: Mapping[str, Any]) -> list[str]:
    rec = get_path(m, "posterior", "recovery")
    if not rec:
        return []
    rows = [(b, r["n"], r["bias"], r["rmse"], r["mean_abs_z"], r["coverage50"], r["coverage90"])
            for b, r in rec.items()]  # fmt: skip
    return [
        "## Posterior against the truth (synthetic data)",
        "",
        "Coverage = fraction of true values inside the central interval (nominal 0.5 and "
        "0.9). mean |z| ≈ 0.8 for a calibrated posterior; larger means overconfident.",
        "",
        *table(["block", "n", "bias", "RMSE", "mean |z|", "cov50", "cov90"], rows),
        *_recovery_identified(m),
    ]


def _recovery_identified(m: Mapping[str, Any]) -> list[str]:
    """Identified quantities, then alpha and beta_site one by one, marked when not identified."""
    ident = identified_section(m)
    if ident is None:
        return []
    rows = [(f"{k} (identified)", r["n"], r["bias"], r["rmse"], r["mean_abs_z"],
             r["coverage50"], r["coverage90"])
            for k in ("site_predictor", "contrasts") if (r := ident.get(k))]  # fmt: skip
    flags = ident.get("coefficients") or {}
    summary, per_site = (
        get_path(m, "posterior", "summary") or {},
        get_path(m, "posterior", "beta_site"),
    )
    coefs = {"alpha": summary.get("alpha"), **(per_site or {})}
    per = []
    for name, s in coefs.items():
        if not isinstance(s, Mapping) or s.get("truth") is None:
            continue
        z = (s["mean"] - s["truth"]) / s["sd"] if s.get("sd") else None
        per.append((name, s["mean"], s["sd"], s["truth"], z,
                    "yes" if flags.get(name, True) else "not identified"))  # fmt: skip
    return ["", f"Identified quantities ({ident.get('rank')} of {ident.get('n_coefficients')} "
            "directions of (alpha, beta_site) are identified): site_predictor = alpha + "
            "X_site[j]·beta_site per worksite; contrasts = (alpha, beta_site) projected on the "
            "row space of [1 | X_site] (equal to the coefficient where it is identified).", "",
            *table(["quantity", "n", "bias", "RMSE", "mean |z|", "cov50", "cov90"], rows),
            "Per coefficient (a coefficient marked not identified is pinned by its prior: its "
            "z says nothing about the method).", "",
            *table(["coefficient", "mean", "sd", "truth", "z", "identified"], per)]  # fmt: skip


def _with_floor(r: Mapping[str, Any], stat: str) -> str:
    """``value (floor x)``, with ``*`` when the value is beyond its floor."""
    text = fmt(r.get(stat))
    if r.get(f"{stat}_floor") is None:
        return text
    star = "*" if r.get(f"{stat}_beyond_floor") else ""
    return f"{text}{star} (floor {fmt(r[f'{stat}_floor'])})"


def _reference(m: Mapping[str, Any]) -> list[str]:
    ref = m.get("reference")
    if not isinstance(ref, Mapping) or not ref.get("blocks"):
        return []
    stats = ("sme_mean_abs", "sme_max_abs", "sd_ratio_median")
    rows = [(b, r["n"], *[_with_floor(r, s) for s in stats],
             f"{fmt(r['sd_ratio_min'])}–{fmt(r['sd_ratio_max'])}",
             _with_floor(r, "wasserstein_std_mean"), _with_floor(r, "corr_rms"))
            for b, r in [*ref["blocks"].items(), ("all", ref.get("all"))] if r]  # fmt: skip
    out = ["## Against the reference posterior", "",
           f"Reference: {ref.get('reference_backend') or DASH} "
           f"({fmt(ref.get('ref_n_draws'))} draws). SME = (mean − reference mean) / reference "
           "sd; sd ratio = sd / reference sd; W1/sd = marginal Wasserstein distance in "
           "reference sds; corr RMS = root-mean-square difference of posterior correlations "
           "(a mean-field approximation has none).", ""]  # fmt: skip
    floor = ref.get("floor") or {}
    if floor.get("method"):
        out += [f"Floor = the same number for two independent exact samples ({floor['method']}; "
                "the first thinned to this run's draws): Monte Carlo noise alone. * = beyond "
                f"{fmt(floor.get('factor'))} x the floor's distance from the ideal value "
                "(1 for sd ratios, 0 otherwise); only those differences are flagged.",
                ""]  # fmt: skip
    elif floor.get("note"):
        out += [f"No noise floor: {floor['note']}.", ""]
    if ref.get("reference_flag"):
        out += [f"> ⚠ The reference {ref['reference_flag']}: read these numbers with care.", ""]
    return out + table(["block", "n", "mean |SME|", "max |SME|", "sd ratio (median)",
                        "sd ratio range", "W1/sd", "corr RMS"], rows)  # fmt: skip


def _clustering(m: Mapping[str, Any]) -> list[str]:
    c = m.get("clustering")
    if not isinstance(c, Mapping):
        return []
    rows = [("clusters K", c.get("k")), ("chosen K (rule)", f"{fmt(c.get('chosen_k'))} "
             f"({c.get('chosen_k_rule') or DASH})"),
            ("worksites per cluster", c.get("n_per_cluster")),
            ("ARI across Gibbs seeds", get_path(c, "ari_seeds", "mean")),
            ("ARI across posterior draws", get_path(c, "ari_draws", "mean")),
            ("ARI against planted clusters", c.get("ari_truth")),
            ("oracle ARI against planted (same GMM on the true coefficients)",
             get_path(c, "oracle", "ari_vs_planted")),
            ("stability", f"{get_path(c, 'stability', 'verdict') or DASH}: "
             f"{get_path(c, 'stability', 'reason') or ''}"),
            ("separating site features", ", ".join(c.get("separating_site_features") or [])
             or DASH)]  # fmt: skip
    return [
        "## Clusters of worksite coefficients",
        "",
        "The paper's Gaussian-mixture Gibbs sampler on the per-worksite coefficients. ARI 1 "
        "= identical partitions, 0 = chance agreement.",
        "",
        *table(["", ""], rows),
        *([f"Ceiling: {get_path(c, 'oracle', 'verdict')}.", ""] if get_path(c, "oracle", "verdict")
          else []),
    ]  # fmt: skip


def _predictive(m: Mapping[str, Any]) -> list[str]:
    p = m.get("predictive")
    if not isinstance(p, Mapping):
        return []
    rows = [("workers scored", p.get("n")), ("prevalence", p.get("prevalence")),
            ("accuracy (threshold 0.5)", p.get("accuracy")),
            ("baseline accuracy", f"{fmt(p.get('baseline_accuracy'))} "
             f"({p.get('baseline_rule', 'majority class')})"),
            ("AUC", p.get("auc") if p.get("auc") is not None else p.get("auc_note")),
            ("log predictive density per worker", p.get("lpd")), ("Brier score", p.get("brier")),
            ("expected calibration error", p.get("ece"))]  # fmt: skip
    note = (
        "These are **in-sample** scores (the model saw these rows) and are optimistic."
        if p.get("in_sample")
        else "Scored on held-out workers."
    )
    return ["## Prediction", "", note, "", *table(["", ""], rows)]


def _diagnostics(m: Mapping[str, Any]) -> list[str]:
    d = m.get("diagnostics")
    if not isinstance(d, Mapping):
        return []
    out = ["## Diagnostics", ""]
    if d.get("note"):
        out += [d["note"], ""]
    mc = d.get("mcmc")
    if isinstance(mc, Mapping):
        out += ["**Sampler (MCMC)**", "", *[f"- {v}" for v in mc.get("verdicts", [])], ""]
        out += table(["max R-hat", "min bulk ESS", "min tail ESS", "divergences",
                      "at max tree depth", "min E-BFMI", "ESS / s"],
                     [(mc.get("max_rhat"), mc.get("min_ess_bulk"), mc.get("min_ess_tail"),
                       mc.get("n_divergent"), mc.get("frac_max_tree_depth"),
                       mc.get("min_ebfmi"), mc.get("ess_bulk_per_s"))])  # fmt: skip
    vi = d.get("vi")
    if isinstance(vi, Mapping):
        source = [f"- k̂ from {vi['khat_source']}."] if vi.get("khat_source") else []
        out += [
            "**Variational approximation**",
            "",
            *[f"- {v}" for v in vi.get("verdicts", [])],
            *source,
            "- PSIS k̂ measures how far the approximation is from the posterior: below 0.5 "
            "good, 0.5–0.7 marginal, above 0.7 its intervals should not be trusted.",
            "",
        ]
        out += table(["PSIS k̂", "steps", "final loss", "converged at", "rule"],
                     [(vi.get("khat"), vi.get("n_steps"), vi.get("final_loss_mean"),
                       vi.get("converged_step"), vi.get("convergence_rule"))])  # fmt: skip
    return out


def _psis(m: Mapping[str, Any]) -> list[str]:
    """``evaluation.psis_resample``: the k-hat, ESS and verdict of the resampling."""
    p = m.get("psis")
    if not isinstance(p, Mapping):
        return []
    out = ["## PSIS importance resampling", ""]
    if not p.get("applied"):
        return [*out, f"Not applied: {p.get('verdict', DASH)}.", ""]
    out += [f"Every section but Diagnostics scores the {p.get('scored', 'resampled posterior')}. "
            f"{str(p.get('verdict', '')).capitalize()}.", ""]  # fmt: skip
    out += table(["PSIS k̂", "effective sample size", "draws", "distinct draws", "trustworthy"],
                 [(p.get("khat"), p.get("ess"), p.get("n_draws"), p.get("n_unique"),
                   {True: "yes", False: "NO"}.get(p.get("trustworthy"), DASH))])  # fmt: skip
    return out


def _summary(m: Mapping[str, Any]) -> list[str]:
    post = m.get("posterior")
    if not isinstance(post, Mapping) or not post.get("summary"):
        return []
    cols = ["mean", "sd", "median", "q05", "q95", "truth"]
    rows = [(k, *[v.get(c) for c in cols]) for k, v in post["summary"].items()]
    rows += [(f"beta_site[{k}]", *[v.get(c) for c in cols])
             for k, v in (post.get("beta_site") or {}).items()]  # fmt: skip
    return ["## Posterior summary", "", *table(["parameter", *cols], rows)]


def _figures(figures: Sequence[Path], run_dir: Path) -> list[str]:
    if not figures:
        return []
    out = ["## Figures", ""]
    for f in figures:
        rel = os.path.relpath(Path(f), run_dir).replace(os.sep, "/")
        out += [f"![{Path(f).stem}]({rel})", ""]
    return out


SECTIONS: tuple[Callable[[Mapping[str, Any]], list[str]], ...] = (
    findings_section,
    design_section,
    _what_ran,
    headline_section,
    _sigma_table,
    _recovery,
    _reference,
    _clustering,
    _predictive,
    _diagnostics,
    _psis,
    _summary,
)


def render_run_report(metrics: Mapping[str, Any], run_dir: Path,
                      figures: Sequence[Path] = ()) -> str:  # fmt: skip
    """The report as Markdown text (see :func:`write_run_report`)."""
    backend = metrics.get("backend", "unknown backend")
    data_name = get_path(metrics, "data", "name") or "data"
    title = f"# Run report — {backend} on {data_name}, seed {metrics.get('seed', DASH)}"
    lines = [title, ""]
    if metrics.get("status") not in (None, "complete"):
        lines += [f"**Status: {metrics['status']}**", ""]
    for section in SECTIONS:
        try:
            lines += section(metrics)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("report section %s skipped: %s", section.__name__, exc)
            lines += [f"_(section {section.__name__.strip('_')} could not be rendered: "
                      f"{type(exc).__name__}: {exc})_", ""]  # fmt: skip
    lines += _figures(figures, Path(run_dir))
    return no_html("\n".join(lines).rstrip() + "\n")


def write_run_report(metrics: dict, run_dir: Path, figures: list[Path]) -> Path:
    """Write ``run_dir/report.md`` (atomically) and return its path.

    Parameters
    ----------
    metrics : dict
        The run's metrics.json content; any section may be missing.
    run_dir : Path
    figures : list of Path
        Figures to embed, linked relative to ``run_dir``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "report.md"
    io.write_text(path, render_run_report(metrics, run_dir, figures))
    return path
