"""The headline engine (evaluation/report/headline.py): the words the run report, the sweep
report and the study document share, each built one way."""

from __future__ import annotations

from evaluation.report import headline
from evaluation.report.format import DASH


def summary(n_claims: int, n_not_identified: int, **counts: int) -> dict:
    return {"n_claims": n_claims, "n_not_identified": n_not_identified, **counts}


def test_the_pool_names_the_other_claims_only_when_some_are_not_identified():
    assert headline.pool(summary(14, 2)) == "of the other 12"
    assert headline.pool(summary(14, 0)) == "of the 14"


def test_the_run_and_the_sweep_count_credible_claims_in_the_same_pool():
    s = summary(5, 1, n_credible=3, n_contradicted=0, n_undecided=1)
    assert headline.verdict_counts(s).startswith(f"3 {headline.pool(s)} credible")
    assert headline.verdict_counts(s) == "3 of the other 4 credible, 0 contradicted, 1 undecided"


def test_counts_agree_with_their_words():
    assert headline.plural(1, "verdict is", "verdicts are") == "1 verdict is"
    assert headline.plural(0, "verdict is", "verdicts are") == "0 verdicts are"
    one = {"summary": summary(3, 1, n_weakly_identified=1), "subject": "the {n} claims"}
    assert headline.identified_clause(one) == (
        "Of the 3 claims, 1 is not identified by its design and 1 is weakly identified "
        "(nearly collinear worksite features)"
    )
    two = {"summary": summary(3, 2)}
    assert headline.identified_clause(two) == (
        "Of the ledger's 3 claims, 2 are not identified by its design"
    )


def test_a_probability_carries_its_monte_carlo_error_in_each_documents_dash():
    assert headline.with_mc_error(0.98712, 0.01234) == "0.987 ± 0.012"
    assert headline.with_mc_error(0.98712, None) == "0.987"
    assert headline.with_mc_error(None, 0.01) == DASH  # the run report's ledger table
    assert headline.with_mc_error(None, 0.01, "-") == "-"  # the sweep report's tables


def test_flips_are_listed_with_their_count():
    assert headline.flipped_between("m", []) == "none flips between m and NUTS"
    assert headline.flipped_between("m", ["a"]) == "the 1 that flips between m and NUTS: a"
    assert headline.flipped_between("m", ["a", "b"]) == ("the 2 that flip between m and NUTS: a, b")
    assert headline.FLIP == "a change of verdict beyond Monte Carlo noise"


def test_a_difference_that_rounds_to_zero_has_no_sign():
    from evaluation.study.bootstrap import BootInterval

    iv = BootInterval(estimate=-0.002, lo=-0.004, hi=0.021, se=0.01, n_seeds=30)
    assert headline.signed_text(iv) == "0 points (0 to +2)"  # was "-0 points (-0 to +2)"
    assert headline.signed_text(BootInterval(-0.0004, -0.005, 0.004, 0.003, 30), rate=False) == (
        "0.000 (-0.005 to +0.004)"
    )
    assert headline.signed_text(BootInterval(0.06, 0.03, 0.09, 0.01, 30)) == "+6 points (+3 to +9)"
