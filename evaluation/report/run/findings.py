"""The findings headline of a run report and its claims ledger table.

The headline is generated from the ``claims`` section of metrics.json
(:func:`evaluation.claims.ledger.evaluate_ledger`), e.g. "Of the paper's 14 conclusions, 2 are
not identified by its design; this posterior (pyro_meanfield) finds 8 of the other 12
credible, 1 contradicted, 3 undecided; on this synthetic twin 2 verdicts are confidently
wrong."  Without a claims section (``claims=none``) it says the ledger is off.  The counts
and clauses are the headline engine's (:mod:`evaluation.report.headline`), shared with the
sweep report's findings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evaluation.claims.truth import FALSE, NOT_APPLICABLE, TRUE, truth_status
from evaluation.report.format import DASH, fmt, table
from evaluation.report.headline import identified_clause, plural, verdict_counts, with_mc_error

#: Longest "not identified" reason shown in the ledger table (the whole one: metrics.json).
REASON_CHARS = 240


def run_headline(metrics: Mapping[str, Any]) -> str:
    """The one-sentence findings headline of a run (from its ``claims`` section)."""
    section = metrics.get("claims")
    if not section or not section.get("claims"):
        return ("Claims are off for this run: no claims ledger was checked against this "
                "posterior (claims=none, or data without a ledger: docs/user-guide.md, \"Your own "
                "claims\").")  # fmt: skip
    s = section["summary"]
    who = f"this posterior ({metrics.get('backend', 'this run')})"
    text = f"{identified_clause(section)}; {who} finds {verdict_counts(s)}"
    if s.get("n_with_truth"):
        wrong = s["n_confidently_wrong"]
        na = s.get("n_not_applicable") or 0
        apart = f"; {na} not applicable, counted in neither" if na else ""
        text += (f"; on this synthetic data {plural(wrong, 'verdict is', 'verdicts are')} "
                 f"confidently wrong, credible but false or contradicted but true (of "
                 f"{s['n_with_truth']} claims with a known truth, {s['n_true']} hold under the "
                 f"generating parameters{apart})")  # fmt: skip
    return text + "."


def _short(text: Any, limit: int = REASON_CHARS) -> str:
    """``text`` cut at ``limit`` characters (metrics.json keeps the whole reason)."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _truth(c: Mapping[str, Any]) -> str:
    """The ledger table's truth cell: true / false / n/a (presupposition fails) / –."""
    return {TRUE: "true", FALSE: "false", NOT_APPLICABLE: "n/a"}.get(truth_status(c), DASH)


def _identified(c: Mapping[str, Any]) -> str:
    """The ledger table's identified cell: yes / weakly (why) / no (why), note and detail."""
    if not c.get("identified"):
        why = f"no: {_short(c.get('not_identified_because'))}"
    elif c.get("weakly_identified"):
        why = f"weakly: {_short(c.get('weakly_identified_because'))}"
    else:
        why = "yes"
    extras = [c.get(k) for k in ("detail", "note") if c.get(k)]
    if truth_status(c) == NOT_APPLICABLE and c.get("truth_note"):
        extras.append(f"truth n/a: {c['truth_note']}")
    return why + "".join(f" ({e})" for e in extras)


def ledger_rows(claims: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """Rows of the ledger table: claim, statement, P ± MC error, verdict, truth, identified."""
    return [[c["name"], c.get("statement"), with_mc_error(c.get("probability"), c.get("mc_error")),
             c.get("verdict"), _truth(c), _identified(c)] for c in claims]  # fmt: skip


def findings_section(metrics: Mapping[str, Any]) -> list[str]:
    """The run report's first section: the headline and the claims ledger table."""
    out = ["## Findings", "", f"**{run_headline(metrics)}**", ""]
    section = metrics.get("claims")
    if not section or not section.get("claims"):
        return out
    th = section.get("thresholds") or {}
    out += [f"Each claim's P is the posterior probability of its statement (the fraction of "
            f"draws in which it holds; clustering claims: of the per-draw clusterings). "
            f"Credible: P ≥ {fmt(th.get('credible'))}; contradicted: P ≤ "
            f"{fmt(th.get('contradicted'))}; otherwise undecided, and undecided too when P lies "
            f"within 2 Monte Carlo errors (±) of a threshold. A claim resting on a direction "
            f"the design does not identify gets no probability; 'weakly' marks one resting on "
            f"nearly collinear worksite features (variance inflation > 10). 'Truth': the "
            f"statement by its own procedure under the generating parameters (synthetic "
            f"data; clustering claims on the paper's procedure run on the true beta_worker); "
            f"'n/a' where its presupposition fails there (e.g. one cluster), counted in no "
            f"rate.", ""]  # fmt: skip
    header = ["claim", "statement", "P", "verdict", "truth", "identified"]
    return out + table(header, ledger_rows(section["claims"]))


__all__ = ["findings_section", "ledger_rows", "run_headline"]
