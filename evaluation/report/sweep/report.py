"""The sweep's comparison report, rendered once as Markdown and once as self-contained HTML.

Sections lead with what separates inference methods on this model — interval coverage, sd
ratios against the reference, the variance components and the stability of the clusters —
and show held-out AUC / accuracy beside them (they barely differ between methods).
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from evaluation.metrics.verdict import RULE
from evaluation.report.format import md_table, no_html
from evaluation.report.sweep import figures as figs
from evaluation.report.sweep.calibration import calibration_section
from evaluation.report.sweep.findings import findings_section
from evaluation.report.sweep.forensics import forensics_section
from evaluation.report.sweep.paper import paper_section
from evaluation.report.sweep.sections import Section, figure_block, optional
from evaluation.report.sweep.themes import THEMES, theme_table
from evaluation.sweep.columns import failed_methods, failures_table, status_table
from evaluation.sweep.cross import pairwise_method_ari
from evaluation.sweep.records import RunRecord

log = logging.getLogger("ppl_compare.sweep")
#: Second line of every report.md / report.html this module renders: what lets
#: ``ppl-compare-report`` replace a report it wrote and refuse to replace anything else.
MARKER = "<!-- written by ppl-compare-report -->"


class Rendered(NamedTuple):
    """The rendered report."""

    markdown: str
    html: str
    figures: list[Path]


# ----------------------------------------------------------------------------- sections
def _theme(df: pd.DataFrame, key: str, title: str, intro: str) -> Section:
    table = theme_table(df, THEMES[key])
    blocks: list[tuple[str, Any]] = [("p", intro)]
    blocks.append(("table", table) if table is not None
                  else ("p", "No run of this sweep reports these metrics."))  # fmt: skip
    return Section(title, blocks)


def overview(df: pd.DataFrame, sweep_dir: Path) -> Section:
    """Counts of runs, scenarios and methods, and how to read the spreads."""
    n = len(df)
    n_ok = int((df["status"] == "complete").sum()) if n else 0
    scen = list(dict.fromkeys(df["scenario"])) if n else []
    meth = list(dict.fromkeys(df["method_label"])) if n else []
    text = (f"Sweep dir `{sweep_dir}`: {n} runs, {n_ok} complete, {n - n_ok} failed or "
            f"incomplete. Scenarios (data settings without the seed): "
            f"{', '.join(f'`{s}`' for s in scen) or '-'}. Methods: "
            f"{', '.join(f'`{x}`' for x in meth) or '-'}.")  # fmt: skip
    how = ("Cells show the spread across seeds: `mean ± sd (min–max)` over the runs of a "
           "scenario and method, or the value itself for a single run. Held-out AUC and "
           "accuracy barely separate inference methods on this model; interval coverage, sd "
           "ratios, the variance components and cluster stability do, so they come first. "
           "Every number is also in `comparison.csv` (one row per run).")  # fmt: skip
    failed = failed_methods(df) if n else {}
    blocks: list[tuple[str, Any]] = [("p", text)]
    if failed:
        blocks.append(("p", "**Failed approximations** (" + RULE + "): "
                       + ", ".join(f"`{k}` ({v})" for k, v in failed.items())
                       + ". Their numbers describe a wrong posterior: they are reported, "
                       "never offered as a remedy."))  # fmt: skip
    return Section("Overview", [*blocks, ("p", how)])


def runs_section(df: pd.DataFrame) -> Section:
    """Status counts, failed runs with their errors, and links to each run's own report."""
    blocks: list[tuple[str, Any]] = [("table", status_table(df))]
    bad = failures_table(df) if len(df) else None
    if bad is not None and len(bad):
        blocks += [("p", f"{len(bad)} run(s) did not complete; they did not stop the sweep."),
                   ("table", bad)]  # fmt: skip
    else:
        blocks.append(("p", "Every run completed."))
    done = df[df["status"] == "complete"] if len(df) else df
    noted = done[done["error"].fillna("").astype(str) != ""] if "error" in done else done[:0]
    if len(noted):
        blocks.append(
            (
                "p",
                f"{len(noted)} complete run(s) lack a file: "
                + "; ".join(
                    f"`{r}`: {e}" for r, e in zip(noted["run"], noted["error"], strict=True)
                )
                + ".",
            )
        )
    links = [f"[{r}]({r}/report.md)" for r in done.get("run", [])]
    if links:
        blocks.append(("p", "Run reports: " + " · ".join(links)))
    return Section("Runs", blocks)


class ThemeSpec(NamedTuple):
    """One theme section: its THEMES key index, title, intro and optional figure."""

    key: int
    title: str
    intro: str
    figure: str | None = None
    caption: str = ""


SPECS: tuple[ThemeSpec, ...] = (
    ThemeSpec(0, "Coverage",
              "Fraction of the true coefficients inside the run's central 90% / 50% "
              "posterior intervals (synthetic data only). α and some β_site are not "
              "identified by the paper's design (collinear columns): judge worksite-level "
              "effects by η_site, the worksite linear predictor α + X_site·β_site, which is.",
              "coverage", "Coverage by method; one point per run, bar = mean."),
    ThemeSpec(1, "Interval width against the reference posterior",
              "sd ratio = posterior sd / reference sd per element (median over the block); "
              "|SME| = |mean − reference mean| / reference sd. The reference is the run's "
              "configured reference posterior (evaluation.reference) or, without one, the "
              "NUTS run of the same data in this sweep: a run whose backend declares the MCMC "
              "family, the first by backend name when there are several (comparison.csv: "
              "cross.nuts_partner names it; vs_nuts.*).",
              "sd_ratio_sme",
              "sd ratio (top, log scale) and |standardised mean error| (bottom) per block."),
    ThemeSpec(2, "Variance components",
              "σ-collapse: a mean-field fit may shrink σ_worker towards 0; the ratio is the "
              "run's posterior median over the reference's. 'Truth' of σ_worker is the realised "
              "sd of each feature's β_worker (with planted clusters too: the within-cluster "
              "spread is scaled down); with the paper's fixed β_site the realised sd of the 18 "
              "values is about 1.2, not σ_site = 2.14 — compare methods with each other and "
              "with the reference first.",
              "sigmas", "σ_worker and σ_site: 90% intervals by method vs truth."),
    ThemeSpec(3, "Cluster stability",
              "The paper's Gaussian-mixture clustering of per-worksite coefficients: ARI "
              "across Gibbs seeds and posterior draws (within a run), against the NUTS run on "
              "the same data (the MCMC-family run named in cross.nuts_partner; worksites "
              "matched by id; a NUTS run is compared with the other NUTS run, the NUTS-vs-NUTS "
              "baseline) and against planted labels.",
              "clusters_ari",
              "Cluster agreement by method, and mean cross-method ARI per scenario."),
    ThemeSpec(4, "Diagnostics",
              "NUTS: R-hat, bulk ESS, divergences; VI: PSIS k̂ of the draws' importance "
              "weights (above 0.7 the approximation is not trustworthy as a proposal).",
              "psis_khat", "PSIS k̂ by method."),
    ThemeSpec(5, "Held-out prediction",
              "Accuracy, majority-class baseline, AUC, mean log predictive density, Brier "
              "score and calibration error on held-out workers."),
    ThemeSpec(6, "Cost",
              "Wall times (s) of the fit; ms per optimisation step for VI, ESS (min bulk) per "
              "second of sampling for NUTS.",
              "cost", "Fit cost by method (mean, min–max)."),
)  # fmt: skip


def _figure_makers(df: pd.DataFrame, records: Sequence[RunRecord]) -> dict[str, Callable]:
    return {
        "coverage": lambda: figs.coverage_plot(df),
        "sd_ratio_sme": lambda: figs.block_distributions(df),
        "sigmas": lambda: figs.sigma_intervals(df),
        "clusters_ari": lambda: figs.ari_plot(df, pairwise_method_ari(df, records)),
        "psis_khat": lambda: figs.khat_plot(df),
        "cost": lambda: figs.cost_plot(df),
    }


def build_sections(
    df: pd.DataFrame, records: Sequence[RunRecord], sweep_dir: Path
) -> list[Section]:
    """Every section of the report, in reading order."""
    keys, makers = list(THEMES), _figure_makers(df, records)
    sections = optional(lambda: findings_section(df, records, sweep_dir), "Findings")
    sections.append(overview(df, sweep_dir))
    sections += optional(lambda: paper_section(df, records), "Paper replication")
    sections += optional(lambda: forensics_section(df, records), "Paper forensics")
    for spec in SPECS:
        if spec.title == "Diagnostics":  # calibration belongs with the headline themes
            sections += optional(lambda: calibration_section(df, records, sweep_dir), "Calibration")
        section = _theme(df, keys[spec.key], spec.title, spec.intro)
        if spec.figure:
            section.blocks.extend(
                figure_block(makers[spec.figure], sweep_dir, spec.figure, spec.caption)
            )
        sections.append(section)
    sections.append(runs_section(df))
    return sections


# ----------------------------------------------------------------------------- rendering
def to_markdown(title: str, sections: Sequence[Section]) -> str:
    """The report as Markdown (figures linked from ``figures/``)."""
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    out = [no_html(f"# Comparison report — {title}"), MARKER, "",
           f"_Generated {stamp} by ppl-compare-report._"]  # fmt: skip
    body: list[str] = []
    for sec in sections:
        body += ["", f"## {sec.title}", ""]
        for kind, content in sec.blocks:
            if kind == "p":
                body += [content, ""]
            elif kind == "table":
                body += [md_table(content), ""]
            elif kind == "figure":
                body += [f"![{content.caption}]({content.rel})", "", f"*{content.caption}*", ""]
    return "\n".join([*out, no_html("\n".join(body))]).rstrip() + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;
max-width:1200px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.8em 0;font-size:.85em}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f0f0f0} tr:nth-child(even) td{background:#fafafa}
figure{margin:1em 0} img{max-width:100%} figcaption{font-size:.85em;color:#555}
code{background:#f4f4f4;padding:0 3px}
"""


def _inline(text: str) -> str:
    """Escape ``text`` and render Markdown `code` spans and [label](link) as HTML."""
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r'<a href="\2">\1</a>', out)


def to_html(title: str, sections: Sequence[Section]) -> str:
    """The report as one self-contained HTML page (figures as base64 ``data:`` URIs)."""
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    out = ["<!DOCTYPE html>", MARKER, '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>Comparison report — {html.escape(title)}</h1>",
           f"<p><em>Generated {stamp} by ppl-compare-report.</em></p>"]  # fmt: skip
    for sec in sections:
        out.append(f"<h2>{html.escape(sec.title)}</h2>")
        for kind, content in sec.blocks:
            if kind == "p":
                out.append(f"<p>{_inline(content)}</p>")
            elif kind == "table":
                out.append(content.to_html(index=False, na_rep="-", border=0, escape=True))
            elif kind == "figure":
                data = base64.b64encode(content.png).decode("ascii")
                cap = html.escape(content.caption)
                out.append(
                    f'<figure><img alt="{cap}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{cap}</figcaption></figure>"
                )
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def render_report(
    df: pd.DataFrame, records: Sequence[RunRecord], sweep_dir: Path, *, title: str
) -> Rendered:
    """Build every section and render it as Markdown and HTML; figures go to ``figures/``."""
    sections = build_sections(df, records, Path(sweep_dir))
    paths = [c.path for s in sections for k, c in s.blocks if k == "figure"]
    return Rendered(to_markdown(title, sections), to_html(title, sections), paths)
