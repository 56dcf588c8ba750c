"""The run report's findings headline and ledger table, from hand-made claims sections."""

from __future__ import annotations

from evaluation.claims.ledger import summarise
from evaluation.report.run.findings import findings_section, ledger_rows, run_headline
from evaluation.report.run.report import render_run_report


def claim(name, verdict, p=None, truth=None, identified=True, note=None):
    return {
        "name": name, "kind": "sign", "statement": f"{name} holds", "source": None,
        "params": {}, "identified": identified,
        "not_identified_because": None if identified else "collinear columns ('a - b = 0')",
        "probability": p, "verdict": verdict, "n_draws": 100, "truth_value": truth, "note": note,
    }  # fmt: skip


def section(claims, subject="the paper's {n} conclusions"):
    return {"thresholds": {"credible": 0.95, "contradicted": 0.05}, "subject": subject,
            "summary": summarise(claims), "claims": claims}  # fmt: skip


def paper_like() -> list[dict]:
    """14 claims: 2 not identified; of the 12 others 8 credible, 1 contradicted, 3 undecided;
    2 confidently wrong (a credible one false, the contradicted one true)."""
    out = [claim(f"ni{i}", "not identified", identified=False, truth=True) for i in range(2)]
    out += [claim(f"c{i}", "credible", 0.99, truth=i != 0) for i in range(8)]
    out += [claim("x", "contradicted", 0.01, truth=True)]
    out += [claim(f"u{i}", "undecided", 0.5, truth=False) for i in range(3)]
    return out


def test_headline_numbers_come_from_the_claims_section():
    text = run_headline({"backend": "pyro_meanfield", "claims": section(paper_like())})
    assert text.startswith(
        "Of the paper's 14 conclusions, 2 are not identified by its design; this posterior "
        "(pyro_meanfield) finds 8 of the other 12 credible, 1 contradicted, 3 undecided; on "
        "this synthetic data 2 verdicts are confidently wrong"
    )
    assert "(of 14 claims with a known truth, 10 hold" in text


def test_headline_without_truth_or_non_identified_claims_and_with_a_default_subject():
    claims = [claim("a", "credible", 0.97), claim("b", "undecided", 0.6)]
    text = run_headline({"backend": "stan_nuts", "claims": section(claims, subject=None)})
    assert text == (
        "Of the ledger's 2 claims, all are identified by the design; this posterior "
        "(stan_nuts) finds 1 of the 2 credible, 0 contradicted, 1 undecided."
    )


def test_claims_off_says_so_and_leads_the_report(tmp_path):
    metrics = {"status": "complete", "backend": "pyro_meanfield", "seed": 0}
    assert "Claims are off" in run_headline(metrics)
    report = render_run_report(metrics, tmp_path)
    assert report.index("## Findings") < report.index("## What ran")
    assert "Claims are off for this run: no claims ledger was checked" in report
    assert "| claim |" not in report


def test_ledger_table_shows_p_verdict_truth_and_why_not_identified(tmp_path):
    claims = paper_like()
    claims[-1]["note"] = "clustering disabled"
    rows = ledger_rows(claims)
    assert rows[0][3:] == ["not identified", "true", "no: collinear columns ('a - b = 0')"]
    assert rows[2][2:5] == ["0.99", "credible", "false"]  # c0: credible but false
    assert rows[-1][-1] == "yes (clustering disabled)"
    lines = findings_section({"backend": "b", "claims": section(claims)})
    assert lines[0] == "## Findings" and lines[2].startswith("**Of the paper's 14")
    assert any(line.startswith("| claim | statement | P | verdict | truth |") for line in lines)
