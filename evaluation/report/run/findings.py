"""The findings headline of a run report and its claims ledger table.

The headline is generated from the ``claims`` section of metrics.json
(:func:`evaluation.claims.ledger.evaluate_ledger`), e.g. "Of the paper's 14 conclusions, 2 are
not identified by its design; this posterior (pyro_meanfield) finds 8 of the other 12
credible, 1 contradicted, 3 undecided; on this synthetic twin 2 verdicts are confidently
wrong."  Without a claims section (``claims=none``) it says the ledger is off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evaluation.claims.truth import FALSE, NOT_APPLICABLE, TRUE, truth_status
from evaluation.report.format import DASH, fmt, table

DEFAULT_SUBJECT = "the ledger's {n} claims"
#: Longest "not identified" reason shown in the ledger table (the whole one: metrics.json).
REASON_CHARS = 240


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def subject(section: Mapping[str, Any], n: int | None = None) -> str:
    """How the headline names the claims ("the paper's 14 conclusions")."""
    n = section["summary"]["n_claims"] if n is None else n
    return str(section.get("subject") or DEFAULT_SUBJECT).replace("{n}", str(n))


def identified_clause(section: Mapping[str, Any]) -> str:
    """ "Of the paper's 19 conclusions, 1 is not identified by its design and 7 are weakly
    identified (nearly collinear features)" (or "all are identified by the design")."""
    s = section["summary"]
    head = f"Of {subject(section)}"
    k, weak = s["n_not_identified"], s.get("n_weakly_identified") or 0
    weak_text = ""
    if weak:
        verb = "is" if weak == 1 else "are"
        weak_text = f"{weak} {verb} weakly identified (nearly collinear worksite features)"
    if not k:
        return f"{head}, all are identified by the design" + (f" ({weak_text})" if weak else "")
    verb = "is" if k == 1 else "are"
    return f"{head}, {k} {verb} not identified by its design" + (
        f" and {weak_text}" if weak else ""
    )


def verdict_counts(s: Mapping[str, Any]) -> str:
    """ "8 of the other 12 credible, 1 contradicted, 3 undecided" (and not evaluated)."""
    other = s["n_claims"] - s["n_not_identified"]
    pool = f"of the other {other}" if s["n_not_identified"] else f"of the {other}"
    close = s.get("n_borderline") or 0
    within = f" ({close} within Monte Carlo error of a threshold)" if close else ""
    parts = [f"{s['n_credible']} {pool} credible", f"{s['n_contradicted']} contradicted",
             f"{s['n_undecided']} undecided{within}"]  # fmt: skip
    if s.get("n_not_evaluated"):
        parts.append(f"{s['n_not_evaluated']} not evaluated")
    return ", ".join(parts)


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
        text += (f"; on this synthetic data {_plural(wrong, 'verdict is', 'verdicts are')} "
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


def probability_cell(c: Mapping[str, Any]) -> str:
    """ "0.987 ± 0.012" (the Monte Carlo error), or the bare P when it has none."""
    p, err = c.get("probability"), c.get("mc_error")
    return fmt(p, 3) if p is None or err is None else f"{fmt(p, 3)} ± {fmt(err, 2)}"


def ledger_rows(claims: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """Rows of the ledger table: claim, statement, P ± MC error, verdict, truth, identified."""
    return [[c["name"], c.get("statement"), probability_cell(c), c.get("verdict"),
             _truth(c), _identified(c)] for c in claims]  # fmt: skip


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


__all__ = [
    "findings_section",
    "identified_clause",
    "ledger_rows",
    "probability_cell",
    "run_headline",
    "subject",
    "verdict_counts",
]
