"""``docs/findings.md`` and ``docs/figures/``: the study's findings, generated from its sweeps.

Every number comes from the sweeps' runs; each is a mean over data seeds with its 90%
interval, or a rate with its interval, beside NUTS's own repeat on the same seeds
(:mod:`evaluation.study.summary`, tables in :mod:`evaluation.report.study_evidence`).  The text
around them is chosen by the numbers (:mod:`evaluation.report.study_headline`).  The document
opens with the command, the commit and the wall time, then the plain-language answer.
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
from evaluation.report import study_evidence as tables
from evaluation.report import study_headline as headline
from evaluation.study.summary import MethodEvidence, flip_directions, method_evidence
from evaluation.study.table import claims_table
from evaluation.sweep.comparison import comparison_table
from evaluation.sweep.cost import cost_summary, summary_rows
from evaluation.sweep.records import collect_runs

if TYPE_CHECKING:  # pragma: no cover
    from evaluation.study.plan import Study

DOC_NAME = "findings.md"
FIG_DIR = "figures"
FIGURE = "evidence.png"
#: The credible threshold when no run says (the paper's ledger's).
CREDIBLE = 0.95


class StudyResult(NamedTuple):
    """A study's comparison table, its long claims table, the ledger's credible threshold,
    its sweep dir and wall seconds."""

    study: Study
    sweep_dir: Path
    df: pd.DataFrame
    wall_s: float | None
    claims: pd.DataFrame = pd.DataFrame()
    credible: float = CREDIBLE


def _credible(records: Sequence[Any]) -> float:
    for rec in records:
        th = ((rec.metrics or {}).get("claims") or {}).get("thresholds") or {}
        if "credible" in th:
            return float(th["credible"])
    return CREDIBLE


def load_study(study: Study, sweep_dir: Path, wall_s: float | None) -> StudyResult:
    """Read a study's sweep dir into a :class:`StudyResult` (empty tables without runs)."""
    records = collect_runs(sweep_dir) if Path(sweep_dir).is_dir() else []
    df = comparison_table(records)
    claims = claims_table(df, records) if not df.empty else pd.DataFrame()
    return StudyResult(study, Path(sweep_dir), df, wall_s, claims, _credible(records))


def evidence(result: StudyResult) -> list[MethodEvidence]:
    """The per-method evidence of one study (empty without complete runs or claims)."""
    done = result.df[result.df["status"] == "complete"] if not result.df.empty else result.df
    if done.empty or result.claims.empty:
        return []
    return method_evidence(result.claims, done, result.credible)


def _minutes(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f} min"


def elapsed_minutes(timings: Sequence[Mapping[str, Any]]) -> float | None:
    """Minutes from the earliest ``started`` to the latest ``ended`` of the studies' timings
    (None when one lacks them): less than their summed wall time when calls overlapped."""
    try:
        starts = [dt.datetime.fromisoformat(t["started"]) for t in timings]
        ends = [dt.datetime.fromisoformat(t["ended"]) for t in timings]
    except (KeyError, TypeError, ValueError):
        return None
    return (max(ends) - min(starts)).total_seconds() / 60 if starts else None


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
    span = elapsed_minutes([t for _, t in ran])
    overlap = (
        f"; elapsed {span:.1f} min from the first start to the last end (calls ran at "
        "the same time)"
        if span is not None and span < total / 60 - 1
        else ""
    )
    per_study = ", ".join(
        f"{k} {_minutes(t.get('wall_s'))}" + (f" over {calls[k]} calls" if calls[k] > 1 else "")
        for k, t in ran
    )
    runs_by = sorted({f"`{t.get('command', '?')}` at commit `{t.get('commit', '?')}`"
                      for _, t in ran})  # fmt: skip
    lines = [
        "# Findings: when does mean-field VI change the conclusions?", "",
        f"_Runs: {'; '.join(runs_by) or '–'}; wall time {_minutes(total)} on "
        f"{os.cpu_count()} cores ({per_study or 'no timings'}{overlap}); {n} complete runs"
        + (f", {bad} failed or incomplete (listed below)" if bad else "") + ". "
        f"Document: `{command}` at commit `{commit}` on {day}. Generated; do not edit by hand "
        "(`make findings` runs or resumes the sweeps and rewrites it)._",
    ]  # fmt: skip
    return "\n".join(lines)


def world_section(result: StudyResult, ev: Sequence[MethodEvidence]) -> str:
    """One world: what its data are, the method table, the run metrics, and mean-field's
    claims one by one."""
    study, df = result.study, result.df
    lines = [f"## {study.title}", "", study.world, ""]
    if df.empty or not ev:
        return "\n".join([*lines, "_No complete runs with claims._", ""])
    done = df[df["status"] == "complete"]
    n_seeds = done["replicate"].nunique()
    lines += [
        f"{len(done)} complete runs over {n_seeds} data seeds (`{study.experiment}`). Per "
        "seed, each method is compared with the NUTS run of the same data; NUTS's second run "
        "(another chain seed) and each method's own second fit (another optimiser seed) are "
        "the floors. Means over seeds with 90% intervals; rates with 90% Wilson intervals "
        "(k of n (seed, claim) pairs). Failure rule: " + RULE + ".", "",
        tables.method_table(ev), "",
        "**The fits themselves** (first fits; mean over seeds, 90% interval):", "",
        tables.metric_table(done, [e.method for e in ev]), "",
        f"**{tables.MEANFIELD}'s claims, one by one** (over the seeds):", "",
        tables.claim_table(result.claims), "",
    ]  # fmt: skip
    return "\n".join(lines)


def scale_section(result: StudyResult) -> str:
    """The scale case: what each fit cost, beside the data's size."""
    df = result.df
    lines = [f"## {result.study.title}", "", result.study.world, ""]
    if df.empty:
        return "\n".join([*lines, "_No runs._", ""])
    done = df[df["status"] == "complete"]
    size = ""
    if "data.n_workers" in done and len(done):
        row = done.iloc[0]
        size = f"{int(row['data.n_workers']):,} units in {int(row['data.n_worksites'])} groups. "
    rows = [[r["method_label"], f"{float(r.get('timing.fit_s', float('nan'))):.0f}",
             f"{float(r.get('timing.total_s', float('nan'))):.0f}",
             tables.interval_text(tables.Interval(float(r.get('predictive.auc', float('nan'))),
                                                  float('nan'), float('nan'), 1), 3)]
            for _, r in done.iterrows()]  # fmt: skip
    return "\n".join(
        [
            *lines,
            size + "One run per method (1 seed):",
            "",
            tables.markdown(["method", "fit s", "job s", "held-out AUC"], rows),
            "",
        ]
    )


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
    """Write ``docs_dir/findings.md`` and its figure; returns the document's path.

    ``timings``, ``command``, ``commit``: see :func:`header`.
    """
    fig_dir = Path(docs_dir) / FIG_DIR
    replicated = [r for r in results if r.study.replicated]
    worlds = {r.study.key: (r.study.title, evidence(r)) for r in replicated}
    directions = {r.study.key: flip_directions(r.claims, tables.MEANFIELD)
                  for r in replicated if not r.claims.empty}  # fmt: skip
    answer = headline.answer_section({k: v for k, v in worlds.items() if v[1]}, directions)
    parts: list[str] = [header(results, timings, command, commit), "", answer]
    drawn = [(k, ev) for k, (_, ev) in worlds.items() if ev]
    stale = [p for p in fig_dir.glob("*.png")] if fig_dir.is_dir() else []
    if drawn:
        path = tables.evidence_figure(drawn, fig_dir / FIGURE)
        parts += [f"![intervals per method]({FIG_DIR}/{path.name})", ""]
    for r in replicated:
        parts.append(world_section(r, worlds[r.study.key][1]))
    parts += [scale_section(r) for r in results if not r.study.replicated]
    seeds = {r.study.key: int(r.df["replicate"].nunique()) for r in replicated
             if not r.df.empty}  # fmt: skip
    parts += [cost_section(results), failures_section(results), headline.caveats(seeds)]
    for old in stale:
        if old.name != FIGURE:
            old.unlink()
    text = "\n".join(p for p in parts if p is not None).rstrip() + "\n"
    path = Path(docs_dir) / DOC_NAME
    io.write_text(path, text)
    return path
