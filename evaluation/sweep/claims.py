"""The sweep report's findings: which of the claims flip between each method and NUTS.

Every run with a ``claims`` section (:mod:`evaluation.claims`) is compared, claim by claim
(:func:`evaluation.claims.ledger.compare_ledgers`), with the MCMC run of the same data and seed
(:func:`evaluation.sweep.cross.mcmc_partner`: the declared ``family``, never the name).  A claim
*flips* when both runs give it a verdict (credible, contradicted, undecided; never "not
identified" or "not evaluated") and the verdicts differ; near-duplicate claims (the ledger's
``counted_with``) count once.  Flips of weakly identified claims (nearly collinear features)
are marked.  The section leads the report with a headline generated from these numbers, then
a table of the flips per scenario, seed and method, the differing claims one by one, a heat
map of the probabilities (claims x methods; not-identified claims greyed) and the forest plot
of ``beta_site`` for one data set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from evaluation.claims.ledger import compare_ledgers
from evaluation.io import pyplot
from evaluation.report import forest
from evaluation.report.findings import identified_clause
from evaluation.report.format import fmt_number
from evaluation.sweep.cross import PARTNER_FAMILY, mcmc_partner
from evaluation.sweep.records import RunRecord
from evaluation.sweep.sections import Section, figure_block
from evaluation.sweep.tables import family

TITLE = "Findings: the study's conclusions, method by method"


class Pair(NamedTuple):
    """One run against the MCMC run of the same data."""

    scenario: str
    replicate: str
    method: str
    partner: str
    baseline: bool  # the run is itself MCMC (NUTS vs NUTS)
    own: Mapping[str, Any]
    reference: Mapping[str, Any]
    rows: list[dict[str, Any]]


def _claims(rec: RunRecord | None) -> Mapping[str, Any] | None:
    section = None if rec is None else (rec.metrics or {}).get("claims")
    return section if section and section.get("claims") else None


def claim_pairs(df: pd.DataFrame, records: Sequence[RunRecord]) -> list[Pair]:
    """Every complete run with claims, against the MCMC run of its scenario and seed."""
    recs = {r.name: r for r in records}
    done = df[df["status"] == "complete"] if len(df) else df
    if done.empty or "backend" not in done:
        return []
    fam = family(done)
    pairs = []
    for (scen, rep), group in done.groupby(["scenario", "replicate"], sort=False):
        for idx in group.index:
            partner = mcmc_partner(group, idx)
            own, ref = _claims(recs.get(df.at[idx, "run"])), None
            if partner is not None:
                ref = _claims(recs.get(df.at[partner, "run"]))
            if own is None or ref is None:
                continue
            pairs.append(Pair(str(scen), str(rep), str(df.at[idx, "method_label"]),
                              str(df.at[partner, "method_label"]),
                              fam[idx] == PARTNER_FAMILY, own, ref,
                              compare_ledgers(ref, own)))  # fmt: skip
    return pairs


def claim_label(row: Mapping[str, Any]) -> str:
    """A compared claim's name, marked "(weakly identified)" when it rests on nearly
    collinear features in either run."""
    return f"{row['name']} (weakly identified)" if row.get("weakly_identified") else row["name"]


def _flip_text(r: Mapping[str, Any]) -> str:
    tail = f"; counted with {r['counted_with']}" if r.get("counted_with") else ""
    return f"{claim_label(r)} ({r['verdict_reference']} → {r['verdict_other']}{tail})"


def flips_table(pairs: Sequence[Pair]) -> pd.DataFrame:
    """One row per run: credible counts of it and its NUTS partner, and the flipped claims."""
    rows = []
    for p in pairs:
        differ = [r for r in p.rows if r.get("differs", r["changed"])]
        rows.append({
            "scenario": p.scenario, "seed": p.replicate, "method": p.method,
            "vs": p.partner, "identified": sum(r["identified"] for r in p.rows),
            "credible (method)": p.own["summary"]["n_credible"],
            "credible (NUTS)": p.reference["summary"]["n_credible"],
            "flips": sum(r["changed"] for r in p.rows),
            "flipped claims (NUTS → method)": "; ".join(map(_flip_text, differ)) or "-",
        })  # fmt: skip
    return pd.DataFrame(rows)


def _mc(p: Any, err: Any) -> str:
    return fmt_number(p) if err is None or p is None else f"{fmt_number(p)} ± {fmt_number(err, 2)}"


def flipped_claims(pairs: Sequence[Pair]) -> pd.DataFrame:
    """Every differing verdict: claim, scenario, seed, method, P ± Monte Carlo error and verdict
    of the method and of NUTS, whether it is counted as a flip, weak identification."""
    rows = [{"claim": r["name"], "scenario": p.scenario, "seed": p.replicate,
             "method": p.method, "P (method)": _mc(r["probability_other"], r.get("mc_error_other")),
             "verdict (method)": r["verdict_other"],
             "P (NUTS)": _mc(r["probability_reference"], r.get("mc_error_reference")),
             "verdict (NUTS)": r["verdict_reference"],
             "counted": f"with {r['counted_with']}" if r.get("counted_with") else "yes",
             "weakly identified": "yes" if r.get("weakly_identified") else "no"}
            for p in pairs for r in p.rows if r.get("differs", r["changed"])]  # fmt: skip
    return pd.DataFrame(rows)


def _floor_clause(baseline: Sequence[Pair]) -> str:
    """The flips of NUTS against the other NUTS run of the same data: the noise floor."""
    if not baseline:
        return ""
    n = max(sum(r["changed"] for r in p.rows) for p in baseline)
    return f" (noise floor: NUTS vs NUTS flips {n})"


def _group_sentence(group: Sequence[Pair], baseline: Sequence[Pair] = ()) -> str:
    """The headline of one data set (scenario, seed), with the NUTS-vs-NUTS flips beside it."""
    ref = group[0].reference
    other = ref["summary"]["n_claims"] - ref["summary"]["n_not_identified"]
    pool = f"of the other {other}" if ref["summary"]["n_not_identified"] else f"of the {other}"
    counts = [f"{p.method} finds {p.own['summary']['n_credible']} {pool} credible"
              if i == 0 else f"{p.method} {p.own['summary']['n_credible']}"
              for i, p in enumerate(group)]  # fmt: skip
    counts.append(f"NUTS ({group[0].partner}) {ref['summary']['n_credible']}")
    flips = []
    for p in group:
        names = [claim_label(r) for r in p.rows if r["changed"]]
        if not names:
            flips.append(f"none flips between {p.method} and NUTS")
            continue
        verb = "that flips" if len(names) == 1 else "that flip"
        flips.append(f"the {len(names)} {verb} between {p.method} and NUTS: {', '.join(names)}")
    floor = _floor_clause(baseline)
    return f"{identified_clause(ref)}; {', '.join(counts)}; {'; '.join(flips)}{floor}."


def headline(pairs: Sequence[Pair]) -> str:
    """The findings headline of the sweep: per scenario and seed, the flips against NUTS."""
    if not pairs:
        return ("No run of this sweep has both a claims section and a NUTS run of the same "
                "data, so no conclusion was compared (claims=none, or no MCMC run).")  # fmt: skip
    groups: dict[tuple[str, str], list[Pair]] = {}
    floors: dict[tuple[str, str], list[Pair]] = {}
    for p in pairs:
        (floors if p.baseline else groups).setdefault((p.scenario, p.replicate), []).append(p)
    if not groups:
        return "Every run with claims is an MCMC run; see the table for NUTS against NUTS."
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
    if pairs:
        blocks += [
            ("p", "A claim flips when both runs give it a verdict (credible: P ≥ the "
                  "ledger's credible threshold; contradicted: P ≤ its contradicted threshold; "
                  "else undecided, and undecided within 2 Monte Carlo errors of a threshold) "
                  "and it differs from the NUTS run of the same data and seed; a claim not "
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
    "Pair",
    "claim_label",
    "claim_pairs",
    "findings_section",
    "flipped_claims",
    "flips_table",
    "forest_by_method",
    "headline",
    "heatmap_figure",
]
