"""The sweep report's claims section: which of the claims flip between each method and NUTS.

It leads the report with a headline generated from the pairs of
:func:`evaluation.sweep.claims.claim_pairs` (each flipped claim named, or with many pairs their
counts), the flips per method and data set beside NUTS vs NUTS (:func:`flip_counts`), a table
of the flips per scenario, seed and method, the differing claims one by one, a heat map of the
probabilities (claims x methods; not-identified claims greyed) and the forest plot of
``beta_site`` for one data set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaluation.io import pyplot
from evaluation.report import forest
from evaluation.report.headline import flipped_between, identified_clause, pool, with_mc_error
from evaluation.report.sweep.sections import Section, figure_block
from evaluation.sweep.claims import Pair, claim_label, claim_pairs, flips_table, n_flips
from evaluation.sweep.records import RunRecord

TITLE = "Findings: the study's conclusions, method by method"


def _counted(r: Mapping[str, Any]) -> str:
    if not r["differs"]:
        return "no: within Monte Carlo noise"
    return f"with {r['counted_with']}" if r.get("counted_with") else "yes"


def flipped_claims(pairs: Sequence[Pair]) -> pd.DataFrame:
    """Every differing verdict: claim, scenario, seed, method, P ± Monte Carlo error and verdict
    of the method and of NUTS, whether it is counted as a flip (no: the verdicts differ
    within Monte Carlo noise), weak identification."""
    rows = [{"claim": r["name"], "scenario": p.scenario, "seed": p.replicate,
             "method": p.method,
             "P (method)": with_mc_error(r["probability_other"], r.get("mc_error_other"), "-"),
             "verdict (method)": r["verdict_other"],
             "P (NUTS)": with_mc_error(r["probability_reference"], r.get("mc_error_reference"),
                                       "-"),
             "verdict (NUTS)": r["verdict_reference"],
             "counted": _counted(r),
             "weakly identified": "yes" if r.get("weakly_identified") else "no"}
            for p in pairs for r in p.rows if r["verdicts_differ"]]  # fmt: skip
    return pd.DataFrame(rows)


def _floor_clause(baseline: Sequence[Pair]) -> str:
    """The flips of NUTS against the other NUTS run of the same data: the noise floor."""
    if not baseline:
        return ""
    return f" (noise floor: NUTS vs NUTS flips {_floor(baseline)})"


def _group_sentence(group: Sequence[Pair], baseline: Sequence[Pair] = ()) -> str:
    """The headline of one data set (scenario, seed), with the NUTS-vs-NUTS flips beside it."""
    ref = group[0].reference
    counts = [f"{p.method} finds {p.own['summary']['n_credible']} {pool(ref['summary'])} credible"
              if i == 0 else f"{p.method} {p.own['summary']['n_credible']}"
              for i, p in enumerate(group)]  # fmt: skip
    counts.append(f"NUTS ({group[0].partner}) {ref['summary']['n_credible']}")
    flips = [flipped_between(p.method, [claim_label(r) for r in p.rows if r["changed"]])
             for p in group]  # fmt: skip
    floor = _floor_clause(baseline)
    return f"{identified_clause(ref)}; {', '.join(counts)}; {'; '.join(flips)}{floor}."


#: More method-vs-NUTS pairs than this: the headline gives counts (the method x data set table
#: of :func:`flip_counts` and the lists below name the claims), not every claim in a sentence.
SPELLED_OUT_PAIRS = 4

Groups = dict[tuple[str, str], list[Pair]]


def _grouped(pairs: Sequence[Pair]) -> tuple[Groups, Groups]:
    """``(methods, floors)``: the pairs by (scenario, seed), method-vs-NUTS and NUTS-vs-NUTS."""
    groups: Groups = {}
    floors: Groups = {}
    for p in pairs:
        (floors if p.baseline else groups).setdefault((p.scenario, p.replicate), []).append(p)
    return groups, floors


def _floor(baseline: Sequence[Pair]) -> int:
    """The NUTS-vs-NUTS flips of one data set (the most, if it has several NUTS pairs)."""
    return max(map(n_flips, baseline))


def flip_counts(pairs: Sequence[Pair]) -> pd.DataFrame:
    """Method x data set: how many claims flip against the NUTS run of the same data (columns
    "scenario, seed N"), with NUTS vs NUTS (the noise floor) as the last row ("–": not run)."""
    groups, floors = _grouped(pairs)
    methods = list(dict.fromkeys(p.method for g in groups.values() for p in g))
    columns: dict[str, list[Any]] = {}
    for (scen, rep), group in groups.items():
        flips = {p.method: n_flips(p) for p in group}
        floor = floors.get((scen, rep))
        columns[f"{scen}, seed {rep}"] = [*(flips.get(m, "–") for m in methods),
                                          _floor(floor) if floor else "–"]  # fmt: skip
    return pd.DataFrame({"method": [*methods, "NUTS vs NUTS (floor)"], **columns})


def _compact(groups: Groups, floors: Groups) -> str:
    """The headline of a sweep with many pairs: the ledger once, then the range of flips."""
    ref = next(iter(groups.values()))[0].reference
    counts = [n_flips(p) for g in groups.values() for p in g]
    floor = [_floor(f) for f in floors.values()]
    floor_text = (f"two NUTS runs of the same data disagree on {min(floor)}–{max(floor)} "
                  f"({len(floor)} of {len(groups)} data sets have a second NUTS run)"
                  if floor else "no data set has a second NUTS run, so no noise floor")  # fmt: skip
    return (f"{identified_clause(ref)}. Over {len(groups)} data sets (scenario and seed), the "
            f"methods flip {min(counts)}–{max(counts)} of them against the NUTS run of the same "
            f"data; {floor_text}. The table below counts the flips per method and data set; the "
            f"lists after it name each flipped claim.")  # fmt: skip


def headline(pairs: Sequence[Pair]) -> str:
    """The findings headline of the sweep: per scenario and seed, the flips against NUTS."""
    if not pairs:
        return ("No run of this sweep has both a claims section and a NUTS run of the same "
                "data, so no conclusion was compared (claims=none, or no MCMC run).")  # fmt: skip
    groups, floors = _grouped(pairs)
    if not groups:
        return "Every run with claims is an MCMC run; see the table for NUTS against NUTS."
    if sum(map(len, groups.values())) > SPELLED_OUT_PAIRS:
        return _compact(groups, floors)
    many = len({s for s, _ in groups}) > 1 or len({r for _, r in groups}) > 1
    text = []
    for (scen, rep), group in groups.items():
        lead = f"[{scen}, seed {rep}] " if many else ""
        text.append(lead + _group_sentence(group, floors.get((scen, rep), [])))
    return " ".join(text)


def _probability_matrix(pairs: Sequence[Pair]) -> tuple[list[str], list[str], np.ndarray]:
    """Claims x columns (methods, or scenario | method), mean P over seeds (NaN: not
    identified)."""
    cols: dict[str, list[Mapping[str, Any]]] = {}
    many = len({p.scenario for p in pairs}) > 1
    for p in pairs:
        for label, section in ((p.method, p.own), (p.partner, p.reference)):
            key = f"{p.scenario} | {label}" if many else label
            cols.setdefault(key, [])
            if all(section is not s for s in cols[key]):
                cols[key].append(section)
    claims = list(dict.fromkeys(c["name"] for p in pairs for c in p.reference["claims"]))
    mat = np.full((len(claims), len(cols)), np.nan)
    for j, sections in enumerate(cols.values()):
        for i, name in enumerate(claims):
            vals = [c["probability"] for s in sections for c in s["claims"]
                    if c["name"] == name and c["probability"] is not None]  # fmt: skip
            mat[i, j] = np.mean(vals) if vals else np.nan
    return claims, list(cols), mat


def heatmap_figure(pairs: Sequence[Pair]) -> Any:
    """Claims x methods, colour = posterior probability (grey: not identified / evaluated)."""
    if not pairs:
        return None
    claims, cols, mat = _probability_matrix(pairs)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * len(cols), 1.0 + 0.32 * len(claims)))
    cmap = plt.get_cmap("RdBu").with_extremes(bad="lightgrey")
    im = ax.imshow(np.ma.masked_invalid(mat), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for i in range(len(claims)):
        for j in range(len(cols)):
            text = "n/i" if np.isnan(mat[i, j]) else f"{mat[i, j]:.2f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(claims)), claims, fontsize=8)
    fig.colorbar(im, ax=ax, label="P(claim)", shrink=0.8)
    ax.set_title("Posterior probability of each claim (grey: not identified)", fontsize=9)
    fig.tight_layout()
    return fig


def forest_by_method(df: pd.DataFrame, records: Sequence[RunRecord]) -> Any:
    """Forest plot of ``beta_site``: every method of the first data set side by side."""
    recs = {r.name: r for r in records}
    done = df[df["status"] == "complete"] if len(df) else df
    if done.empty:
        return None
    (scen, rep), group = next(iter(done.groupby(["scenario", "replicate"], sort=False)))
    intervals = {str(m): forest.run_intervals(recs[r].metrics)
                 for m, r in zip(group["method_label"], group["run"], strict=True)
                 if r in recs}  # fmt: skip
    return forest.forest_figure(intervals, f"beta_site by method ({scen}, seed {rep})")


def findings_section(df: pd.DataFrame, records: Sequence[RunRecord], sweep_dir: Path) -> Section:
    """The sweep report's first section (see the module docstring)."""
    pairs = claim_pairs(df, records)
    blocks: list[tuple[str, Any]] = [("p", headline(pairs))]
    if any(not p.baseline for p in pairs):
        blocks.append(("table", flip_counts(pairs)))
    if pairs:
        blocks += [
            ("p", "A claim flips when both runs give it a verdict (credible: P ≥ the "
                  "ledger's credible threshold; contradicted: P ≤ its contradicted threshold; "
                  "else undecided, and undecided within 2 Monte Carlo errors of a threshold), "
                  "the verdicts differ from the NUTS run of the same data and seed, and they "
                  "differ beyond Monte Carlo noise: a threshold lies between the two P and "
                  "they differ by more than twice their joint Monte Carlo error. Verdicts "
                  "that differ within that noise are listed, not counted. A claim not "
                  "identified or not evaluated in either run never flips, and near-duplicate "
                  "claims count once. 'Weakly identified': the claim rests on nearly collinear "
                  "worksite features. NUTS rows compare the other NUTS run (the baseline)."),
            ("table", flips_table(pairs)),
        ]  # fmt: skip
        flipped = flipped_claims(pairs)
        if len(flipped):
            blocks.append(("table", flipped))
        blocks += figure_block(
            lambda: heatmap_figure(pairs),
            sweep_dir,
            "claims_heatmap",
            "P(claim) by method; grey: not identified by the design.",
        )
    blocks += figure_block(lambda: forest_by_method(df, records), sweep_dir, "forest",
                           "beta_site by method: 90% (thin) and 50% (thick) intervals, "
                           "truth (x), zero line.")  # fmt: skip
    return Section(TITLE, blocks)


__all__ = [
    "findings_section",
    "flip_counts",
    "flipped_claims",
    "forest_by_method",
    "headline",
    "heatmap_figure",
]
