"""Which of the claims flip between each method and NUTS: the pairs and their tables (numbers;
the sweep report's section is :mod:`evaluation.report.sweep.findings`).

Every run with a ``claims`` section (:mod:`evaluation.claims`) is compared, claim by claim
(:func:`evaluation.claims.ledger.compare_ledgers`), with the MCMC run of the same data and seed
(:func:`evaluation.sweep.cross.mcmc_partner`: the declared ``family``, never the name).  A claim
*flips* only beyond Monte Carlo noise (:func:`evaluation.claims.compare.is_flip`): both runs
give it a verdict (credible, contradicted, undecided; never "not identified" or "not
evaluated"), the verdicts differ, a verdict threshold lies between the two P and they differ by
more than twice their joint Monte Carlo error; near-duplicate claims (the ledger's
``counted_with``) count once.  Verdicts that differ within the noise are listed apart, never
counted.  Flips of weakly identified claims (nearly collinear features) are marked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import pandas as pd

from evaluation.claims.ledger import compare_ledgers
from evaluation.sweep.columns import family
from evaluation.sweep.cross import PARTNER_FAMILY, mcmc_partner
from evaluation.sweep.records import RunRecord


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


def n_flips(pair: Pair) -> int:
    """How many claims flip beyond Monte Carlo noise between a run and its NUTS partner (a
    ``counted_with`` group once: :func:`~evaluation.claims.compare.compare_ledgers`'
    ``changed``)."""
    return sum(bool(r["changed"]) for r in pair.rows)


def within_noise(pair: Pair) -> list[dict[str, Any]]:
    """The claims whose verdicts differ between the two runs within Monte Carlo noise (not
    flips)."""
    return [r for r in pair.rows if r.get("within_noise")]


def _flip_text(r: Mapping[str, Any]) -> str:
    tail = f"; counted with {r['counted_with']}" if r.get("counted_with") else ""
    return f"{claim_label(r)} ({r['verdict_reference']} → {r['verdict_other']}{tail})"


def flips_table(pairs: Sequence[Pair]) -> pd.DataFrame:
    """One row per run: credible counts of it and its NUTS partner, the flipped claims and
    the verdicts that differ within Monte Carlo noise (not counted)."""
    rows = []
    for p in pairs:
        flipped = [r for r in p.rows if r["differs"]]
        rows.append({
            "scenario": p.scenario, "seed": p.replicate, "method": p.method,
            "vs": p.partner, "identified": sum(r["identified"] for r in p.rows),
            "credible (method)": p.own["summary"]["n_credible"],
            "credible (NUTS)": p.reference["summary"]["n_credible"],
            "flips": n_flips(p),
            "flipped claims (NUTS → method)": "; ".join(map(_flip_text, flipped)) or "-",
            "within noise (not counted)": "; ".join(map(_flip_text, within_noise(p))) or "-",
        })  # fmt: skip
    return pd.DataFrame(rows)
