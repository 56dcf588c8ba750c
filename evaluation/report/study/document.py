"""``docs/findings.md`` and ``docs/figures/``: the study's findings, generated from its sweeps
(read into tables by :func:`evaluation.study.results.load_study`).

Every number comes from the sweeps' runs; each is a mean over data seeds with its 90%
interval, or a rate with an interval that treats the seed as the unit, beside NUTS's own repeat
on the same seeds or paired with NUTS (:mod:`evaluation.study.summary`; tables in
:mod:`evaluation.report.study.evidence` and :mod:`evaluation.report.study.errors`, the
reliability figure in :mod:`evaluation.report.study.reliability`).  The text around them is
chosen by the numbers (:mod:`evaluation.report.study.answer`), and every fact about the runs
(sizes, settings, seeds, failures) is read from them (:mod:`evaluation.report.study.facts`).
The document opens with the command, the commit and the wall time (paths relative to the
repository), then the answer in short (a line per world), then the answer in full.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from evaluation import io
from evaluation.metrics.verdict import RULE
from evaluation.report.forensics import (
    forensic_runs,
    intro,
    is_forensic_sweep,
    readings_table,
    verdict,
)
from evaluation.report.format import markdown
from evaluation.report.headline import FLIP, interval_text
from evaluation.report.study import answer, errors, facts
from evaluation.report.study import evidence as tables
from evaluation.report.study.reliability import reliability_figure
from evaluation.study.evidence import Interval
from evaluation.study.facts import coarse_claims
from evaluation.study.results import StudyResult
from evaluation.study.summary import NUTS, WorldEvidence, flip_directions, world_evidence
from evaluation.sweep.cost import method_costs

DOC_NAME = "findings.md"
FIG_DIR = "figures"
FIGURE = "evidence.png"


def reliability_name(key: str) -> str:
    """The reliability figure of world ``key``."""
    return f"reliability_{key}.png"


def evidence(result: StudyResult) -> WorldEvidence:
    """The evidence of one study (no methods without complete runs or claims)."""
    return world_evidence(result.claims, result.df, result.thresholds)


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
    runs_by = sorted({f"`{facts.relative_command(str(t.get('command', '?')))}` at commit "
                      f"`{t.get('commit', '?')}`" for _, t in ran})  # fmt: skip
    lines = [
        "# Findings: when does mean-field VI change the conclusions?", "",
        f"_Runs: {'; '.join(runs_by) or '–'}; wall time {_minutes(total)} on "
        f"{os.cpu_count()} cores ({per_study or 'no timings'}{overlap}); {n} complete runs"
        + (f", {bad} failed or incomplete (listed below)" if bad else "") + ". "
        f"Document: `{facts.relative_command(command)}` at commit `{commit}` on {day}. "
        "Generated; do not edit by hand "
        "(`make findings` runs or resumes the sweeps and rewrites it)._",
    ]  # fmt: skip
    return "\n".join(lines)


def world_section(result: StudyResult, w: WorldEvidence, figure: str | None = None) -> str:
    """One world: what its data are, the method table, its errors against the truth paired
    with NUTS, calibration (``figure``: its reliability figure's relative path), the run
    metrics, and mean-field's claims one by one."""
    study, df = result.study, result.df
    lines = [f"## {study.title}", "", study.world, ""]
    if df.empty or not w.methods:
        return "\n".join([*lines, "_No complete runs with claims._", ""])
    done = df[df["status"] == "complete"]
    lines += [
        f"{len(done)} complete runs over {done['replicate'].nunique()} data seeds "
        f"(`{study.experiment}`; {facts.size_text(w.facts)}). Per seed, each method is "
        "compared with the NUTS run of the same data; NUTS's second run (another chain seed) "
        "and each method's own second fit (another optimiser seed) are the floors. A flip is "
        f"{FLIP}. Means over seeds with 90% intervals. "
        "Failure rule: " + RULE + ".", "",
        tables.method_table(w.methods, w.facts), "",
    ]  # fmt: skip
    scored = [e.errors for e in w.methods if e.errors is not None]
    if scored:
        lines += _truth_part(w, scored, figure)
    lines += [
        "**The fits themselves** (first fits; mean over seeds, 90% interval):", "",
        tables.metric_table(done, [e.method for e in w.methods]), "",
        f"**{tables.MEANFIELD}'s claims, one by one** (over the seeds):", "",
        tables.claim_table(result.claims, thresholds=result.thresholds), "",
    ]  # fmt: skip
    return "\n".join(lines)


def _truth_part(w: WorldEvidence, scored: list, figure: str | None) -> list[str]:
    """The errors, paired tests, failed runs, kinds and calibration of one world."""
    nuts = next((e for e in scored if e.method == NUTS), None)
    changes = {e.method: e.verdict_changes for e in w.methods}
    out = [
        "**Errors against the truth** (first fits; (seed, claim) pairs whose truth is true or "
        "false; rates pooled over the pairs with k/n; 90% intervals with the seed as the unit: "
        "for a rate Wilson's at the effective sample size of a cluster bootstrap over seeds, "
        "else the bootstrap's expanded percentile interval). "
        + errors.contestable_text(w.contestable, nuts), "",
        errors.errors_table(scored, "contestable", w.facts), "",
        "**Paired with NUTS** (method − NUTS on the same seeds and claims, contestable claims; "
        "\"no difference detected\" comes with the smallest difference detectable at 80% "
        "power):", "",
        errors.paired_table(scored, changes), "",
        "Without the seeds where either first fit failed the approximation rule:", "",
        errors.paired_table(scored, changes, ok=True), "",
        "**Runs failing the approximation rule, apart** (confident errors):", "",
        errors.failed_apart_table(scored, w.facts), "",
        "**Every claim with a known truth** (contestable or not):", "",
        errors.errors_table(scored, "every_claim", w.facts), "",
        "**Confident errors per claim kind** (errors/confident verdicts (pairs), every claim "
        "with a known truth):", "",
        errors.kind_table(scored), "",
        "**Calibration** (contestable claims): mean P in each bin → the fraction true.", "",
    ]  # fmt: skip
    if figure:
        out += [f"![reliability]({figure})", ""]
    return [*out, errors.calibration_table(scored), "", errors.prior_text(w.facts), ""]


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
             interval_text(Interval(float(r.get('predictive.auc', float('nan'))),
                                                  float('nan'), float('nan'), 1), 3)]
            for _, r in done.iterrows()]  # fmt: skip
    return "\n".join(
        [
            *lines,
            size + f"{len(done)} complete runs over {done['replicate'].nunique()} seed(s):",
            "",
            markdown(["method", "fit s", "job s", "held-out AUC"], rows),
            "",
        ]
    )


def cost_section(results: Sequence[StudyResult]) -> str:
    """Measured cost only: per study its wall time and jobs, and per method (a cell) the job
    seconds per data seed (first fit and repeat together) with the fit's share; the cost
    before the savings is reconstructed by ``benchmarks/study_cost.py``, not here."""
    lines = ["## Cost", "", "Measured seconds per cell (a method in a world: its jobs of one "
             "data seed summed, mean over seeds) and each world's wall time; "
             "`python benchmarks/study_cost.py outputs/findings/<world>` gives the parts "
             "and the savings.", ""]  # fmt: skip
    for r in results:
        if r.df.empty:
            continue
        cells = method_costs(r.df)
        done = int((r.df["status"] == "complete").sum())
        lines += [f"**{r.study.title}**: {done} complete jobs, wall time {_minutes(r.wall_s)}.",
                  "", markdown(["method", "seeds", "jobs per seed", "job s per seed",
                                "fit s per seed"],
                               [[str(c["method"]), f"{int(c['seeds'])}", f"{c['jobs']:.1f}",
                                 _seconds(c["job_s"]), _seconds(c["fit_s"])]
                                for _, c in cells.iterrows()]), ""]  # fmt: skip
    return "\n".join(lines)


def _seconds(x: float) -> str:
    return f"{x:,.0f}" if math.isfinite(float(x)) else "–"


def forensics_part(result: StudyResult) -> str:
    """The paper forensics from the study's runs: the readings of each variant beside the
    printed scales, and which reading matches both (or the closest)."""
    lines = [f"## {result.study.title}", "", result.study.world, ""]
    runs = forensic_runs(result.df) if not result.df.empty else result.df
    if runs.empty:
        return "\n".join([*lines, "_No complete forensic runs._", ""])
    table = readings_table(runs)
    return "\n".join([
        *lines, intro(), "",
        markdown(list(table.columns), table.astype(str).to_numpy().tolist()), "",
        f"**{verdict(runs)}** ({len(runs)} runs, `{result.study.experiment}` with "
        f"{' '.join(f'`{o}`' for o in result.study.overrides) or 'no overrides'}.)", "",
    ])  # fmt: skip


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
    replicated = [r for r in results if r.study.replicated]
    worlds = {r.study.key: (r.study.title, evidence(r)) for r in replicated}
    directions = {r.study.key: flip_directions(r.claims, tables.MEANFIELD,
                                               thresholds=r.thresholds)
                  for r in replicated if not r.claims.empty}  # fmt: skip
    th = replicated[0].thresholds if replicated else None
    answered = {k: v for k, v in worlds.items() if v[1].methods}
    said = answer.answer_section(answered, directions, th)
    forensic = next((verdict(forensic_runs(r.df)) for r in results
                     if not r.study.replicated and is_forensic_sweep(r.df)), None)  # fmt: skip
    total = sum(float(t.get("wall_s") or 0.0) for t in timings.values() if isinstance(t, Mapping))
    wall = f"{_minutes(total)} on {os.cpu_count()} cores" if total else "not recorded"
    # a reader (a teacher) reads the top first: the short answer, then the answer in full
    short = answer.closing_note(answered, th, wall, forensic)
    parts: list[str] = [header(results, timings, command, commit), "", short, said]
    stale = [p for p in fig_dir.glob("*.png")] if fig_dir.is_dir() else []
    drawn = [(k, w.methods) for k, (_, w) in worlds.items() if w.methods]
    kept = {FIGURE}
    if drawn:
        path = tables.evidence_figure(drawn, fig_dir / FIGURE)
        parts += [f"![intervals per method]({FIG_DIR}/{path.name})", ""]
    for r in replicated:
        title, w = worlds[r.study.key]
        scored = [e.errors for e in w.methods if e.errors is not None]
        figure = None
        if scored:
            name = reliability_name(r.study.key)
            reliability_figure(title, scored, fig_dir / name)
            kept.add(name)
            figure = f"{FIG_DIR}/{name}"
        parts.append(world_section(r, w, figure))
    parts += [forensics_part(r) if is_forensic_sweep(r.df) else scale_section(r)
              for r in results if not r.study.replicated]  # fmt: skip
    coarse = {r.study.key: coarse_claims(r.claims) for r in replicated}
    world_facts = {k: w.facts for k, (_, w) in worlds.items() if w.facts.methods}
    thornton = any(r.study.key == "thornton" and not r.df.empty for r in results)
    parts += [cost_section(results), failures_section(results),
              facts.caveats(world_facts, coarse, NUTS, thornton)]  # fmt: skip
    for old in stale:
        if old.name not in kept:
            old.unlink()
    text = "\n".join(p for p in parts if p is not None).rstrip() + "\n"
    path = Path(docs_dir) / DOC_NAME
    io.write_text(path, text)
    return path
