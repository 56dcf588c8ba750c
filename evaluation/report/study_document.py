"""``docs/findings.md`` and ``docs/figures/``: the study's findings, generated from its sweeps.

Every number comes from the sweeps' runs (the same tables as the sweep reports); the text
around them is chosen by the numbers (:mod:`evaluation.report.study_answer`).  The document opens
with the command, the commit and the wall time, then the plain-language answer.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pandas as pd

from evaluation import io
from evaluation.metrics.verdict import RULE
from evaluation.report import phase
from evaluation.report import study_answer as answer
from evaluation.sweep.claims import claim_pairs
from evaluation.sweep.columns import truthy
from evaluation.sweep.comparison import comparison_table
from evaluation.sweep.cost import cost_summary, summary_rows
from evaluation.sweep.records import collect_runs

if TYPE_CHECKING:  # pragma: no cover
    from evaluation.study.plan import Study

DOC_NAME = "findings.md"
FIG_DIR = "figures"
#: Resolution of the committed figures (docs/ stays a few hundred KB).
FIG_DPI = 80
#: The data set and the methods of the remedies table (issue 14): sigma_worker of the main twin.
MAIN_SIGMA = 1.0


class StudyResult(NamedTuple):
    """A study's comparison table (with derived columns), its sweep dir and wall seconds."""

    study: Study
    sweep_dir: Path
    df: pd.DataFrame
    wall_s: float | None


def load_study(study: Study, sweep_dir: Path, wall_s: float | None) -> StudyResult:
    """Read a study's sweep dir into a :class:`StudyResult` (an empty table without runs)."""
    records = collect_runs(sweep_dir) if Path(sweep_dir).is_dir() else []
    df = comparison_table(records)
    if not df.empty:
        df = phase.add_derived(df, claim_pairs(df, records))
    return StudyResult(study, Path(sweep_dir), df, wall_s)


def _minutes(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f} min"


def header(
    results: Sequence[StudyResult], timings: Mapping[str, Any], command: str, commit: str
) -> str:
    """Title; how the runs were made (command, commit, wall time per study); the runs counted.

    ``timings`` is ``<runs dir>/timings.json`` (per study: wall_s, command, commit), written by
    the command that ran the sweeps; ``command`` and ``commit`` are the document writer's.
    """
    n = sum(int((r.df.get("status", pd.Series(dtype=str)) == "complete").sum()) for r in results)
    bad = sum(len(r.df) for r in results) - n
    day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    ran = [(k, t) for k, t in timings.items() if isinstance(t, Mapping)]
    total = sum(float(t.get("wall_s") or 0.0) for _, t in ran)
    calls = {k: int(t.get("calls") or 1) for k, t in ran}
    per_study = ", ".join(
        f"{k} {_minutes(t.get('wall_s'))}" + (f" over {calls[k]} calls" if calls[k] > 1 else "")
        for k, t in ran
    )
    runs_by = sorted({f"`{t.get('command', '?')}` at commit `{t.get('commit', '?')}`"
                      for _, t in ran})  # fmt: skip
    lines = [
        "# Findings: when does mean-field VI change the conclusions?", "",
        f"_Runs: {'; '.join(runs_by) or '–'}; wall time {_minutes(total)} on "
        f"{os.cpu_count()} cores ({per_study or 'no timings'}); {n} complete runs"
        + (f", {bad} failed or incomplete (listed below)" if bad else "") + ". "
        f"Document: `{command}` at commit `{commit}` on {day}. Generated; do not edit by hand "
        "(`make findings` runs or resumes the sweeps and rewrites it)._",
    ]  # fmt: skip
    return "\n".join(lines)


def phase_section(result: StudyResult, fig_dir: Path) -> tuple[str, list[Path]]:
    """The phase diagram (figure) and one table per metric of one twin study."""
    key, title = result.study.key, result.study.title
    lines = [f"## {title}", ""]
    if result.df.empty:
        return "\n".join([*lines, "_No runs._"]), []
    figs = []
    fig = phase.phase_figure(result.df, phase.PHASE_METRICS, title)
    if fig is not None:
        path = io.save_figure(fig, fig_dir / f"phase_{key}.png", dpi=FIG_DPI)
        figs.append(path)
        lines += [f"![phase diagram, {key}]({FIG_DIR}/{path.name})", ""]
    for metric in phase.PHASE_METRICS:
        table = phase.phase_table(result.df, metric)
        if table.empty:
            continue
        floor = phase.floor_table(result.df, metric)
        lines += [f"**{metric.label}**", "", phase.markdown_table(table, floor, metric.digits), ""]
    return "\n".join(lines), figs


#: Columns of the remedies and real-data tables: (header, column(s), digits).
METHOD_COLUMNS: tuple[tuple[str, str | tuple[str, ...], int], ...] = (
    ("β_site cov90 (identified)", "posterior.beta_site_identified_coverage90", 2),
    ("β_site sd / NUTS", phase.SD_RATIO, 2),
    ("(floor)", tuple(f"{c}_floor" for c in phase.SD_RATIO), 2),
    ("σ_worker median", "posterior.summary.sigma_worker.median", 3),
    ("σ_worker / truth", "derived.sigma_worker_over_truth", 2),
    ("σ_worker / NUTS", "cross.sigma_worker_ratio", 2),
    ("k̂", "diagnostics.vi.khat", 2),
    ("PSIS ESS (resampled)", "psis.ess", 0),
    ("AUC", "predictive.auc", 3),
    ("accuracy", "predictive.accuracy", 3),
    ("ARI vs NUTS", "cross.ari_vs_nuts", 2),
    ("steps run", "fit.n_steps_run", 0),
    ("fit s", "timing.fit_s", 0),
)


def method_table(df: pd.DataFrame, drop_empty: bool = True) -> str:
    """One row per complete run (method label), the :data:`METHOD_COLUMNS`, as Markdown."""
    done = df[df["status"] == "complete"]
    cols = [(h, c, d) for h, c, d in METHOD_COLUMNS
            if not drop_empty or phase.values(done, c).notna().any()]  # fmt: skip
    lines = ["| method | " + " | ".join(h for h, _, _ in cols) + " |",
             "|" + "---|" * (len(cols) + 1)]  # fmt: skip
    notes = []
    for idx in done.index:
        cells = [phase.cell_text(phase.values(done, c)[idx], d) for _, c, d in cols]
        is_ref = "fit.cache_file" in done and truthy(done.at[idx, "fit.cache_file"])
        label = str(done.at[idx, "method_label"]) + (" (the reference fit)" if is_ref else "")
        marks, why = verdict_marks(done.loc[idx])
        lines.append(f"| {label}{marks} | " + " | ".join(cells) + " |")
        notes += [f"- {label}: {w}" for w in why]
    if notes:
        lines += ["", f"Marked rows (failure rule: {RULE}):", "", *notes]
    return "\n".join(lines)


def verdict_marks(row: pd.Series) -> tuple[str, list[str]]:
    """`` — **FAILED**`` / `` — **PSIS NOT TRUSTWORTHY**`` for a row, and the reasons."""
    marks, why = "", []
    failed = row.get("verdict.failed")
    if truthy(failed):
        marks += " — **FAILED**"
        why.append(f"FAILED: {failed}" if isinstance(failed, str) else "FAILED")
    psis = row.get("verdict.psis_untrustworthy")
    if truthy(psis):
        marks += " — **PSIS NOT TRUSTWORTHY**"
        ess = row.get("psis.ess")
        why.append(f"PSIS-resampled posterior not trustworthy: {psis} (ESS {ess:.0f})"
                   if isinstance(ess, (int, float)) else f"not trustworthy: {psis}")  # fmt: skip
    return marks, why


def remedies_section(twin: StudyResult) -> str:
    """Issue 14's table: every method on the main twin (true sigma_worker 1.0)."""
    df = twin.df
    if df.empty:
        return ""
    at_main = df[phase.sigma_column(df) == MAIN_SIGMA]
    return "\n".join([
        f"## Remedies on the main twin (true σ_worker = {MAIN_SIGMA:g})", "",
        "What to run instead of mean-field, at what cost: every method on the same data, "
        "against the NUTS reference (pymc_nuts). `psis_resample=true`: the mean-field draws "
        "PSIS-resampled (trustworthy only if k̂ ≤ 0.7); full-rank `lr_decay=0.9995`: the "
        "paper's decay over 18,000 steps, otherwise the converging one (× 0.9999, stopped by "
        "the convergence rule); `init=advi`: Pathfinder's paths started at a mean-field fit's "
        "mean; pymc_dadvi_lr: DADVI with linear-response covariances. The floor is the sd "
        "ratio of two halves of the NUTS chains; fit seconds were measured with two jobs "
        "sharing the two cores.", "",
        method_table(at_main), "",
    ])  # fmt: skip


def real_section(real: StudyResult) -> str:
    """The real data set: every method against NUTS."""
    if real.df.empty:
        return f"## {real.study.title}\n\n_No runs._\n"
    first = real.df[real.df["status"] == "complete"]
    source = str(first["data.name"].iloc[0]) if "data.name" in first and len(first) else "-"
    return "\n".join([
        f"## {real.study.title}", "",
        f"Data set `{source}` (source, size and design: the header of its "
        "`conf/data/` file and docs/user-guide.md). No truth: NUTS is the reference.", "",
        method_table(real.df), "",
    ])  # fmt: skip


def cost_section(results: Sequence[StudyResult]) -> str:
    """Measured cost of each study by part, and the reconstructed cost before the savings."""
    lines = ["## Cost", ""]
    for r in results:
        if r.df.empty:
            continue
        summary = cost_summary(r.df)
        lines += [f"**{r.study.title}**: {summary.n_jobs} jobs", "",
                  "| part | seconds | share of the measured parts |", "|---|---|---|"]  # fmt: skip
        for part, sec, share in summary_rows(summary, r.wall_s):
            lines.append(f"| {part} | {sec:,.0f} | {'' if share is None else f'{share:.0%}'} |")
        lines.append("")
    return "\n".join(lines)


def failures_section(results: Sequence[StudyResult]) -> str:
    """Every failed or incomplete job, with its one-line error (empty when none)."""
    rows = [(r.study.key, row["run"], row.get("error", "")) for r in results if not r.df.empty
            for _, row in r.df[r.df["status"] != "complete"].iterrows()]  # fmt: skip
    if not rows:
        return ""
    lines = ["## Failed jobs", "", "| study | run | error |", "|---|---|---|"]
    lines += [f"| {k} | {run} | {str(err).replace('|', '/')} |" for k, run, err in rows]
    return "\n".join([*lines, ""])


def write_document(
    results: Sequence[StudyResult],
    docs_dir: Path,
    timings: Mapping[str, Any],
    command: str,
    commit: str,
) -> Path:
    """Write ``docs_dir/findings.md`` and its figures; returns the document's path.

    ``timings``, ``command``, ``commit``: see :func:`header`.
    """
    fig_dir = Path(docs_dir) / FIG_DIR
    parts: list[Any] = [header(results, timings, command, commit), "",
                        answer.answer_section(results), ""]  # fmt: skip
    figures: list[Path] = []
    by_key = {r.study.key: r for r in results}
    for key in ("twin", "calibrated"):
        if key in by_key:
            text, figs = phase_section(by_key[key], fig_dir)
            parts += [text, ""]
            figures += figs
    if "twin" in by_key:
        parts.append(remedies_section(by_key["twin"]))
    if "real" in by_key:
        parts.append(real_section(by_key["real"]))
    parts += [cost_section(results), failures_section(results), answer.caveats()]
    for stale in fig_dir.glob("phase_*.png") if fig_dir.is_dir() else []:
        if stale not in figures:
            stale.unlink()
    text = "\n".join(p for p in parts if p is not None).rstrip() + "\n"
    path = Path(docs_dir) / DOC_NAME
    io.write_text(path, text)
    return path
