"""Per method of a world against the truth and paired with NUTS (evaluation.study.errors), on a
hand-made claims table whose P lie far from the thresholds (so every verdict change is a flip
under either of the claims judge's rules)."""

from __future__ import annotations

import pandas as pd
import pytest

from evaluation.claims.load import Thresholds
from evaluation.study.errors import error_evidence, verdict_changes

TH = Thresholds(0.95, 0.05)


def row(seed, label, name, p, status, kind, failed=False, mc=0.004):
    verdict = "credible" if p >= 0.95 else ("contradicted" if p <= 0.05 else "undecided")
    return {"replicate": str(seed), "method_label": label, "name": name, "kind": kind,
            "probability": p, "mc_error": mc, "verdict": verdict, "truth_status": status,
            "failed": failed, "counted_with": None}  # fmt: skip


def world() -> pd.DataFrame:
    """Four seeds, three claims.

    s  (sign)  false in seeds 0, 1 and true in 2, 3: contestable (truth varies).  NUTS
       undecided (0.6); NUTS's repeat too (0.62); vi credible (0.99) everywhere: wrong in
       seeds 0, 1, sharpened in all four.
    c  (scale) true everywhere, NUTS credible (0.99): not contestable.  vi contradicted
       (0.01) in seed 3: a confident error outside the headline.
    z  (sign)  false everywhere, NUTS undecided (0.3) in seed 0, contradicted (0.01) else:
       contestable.  vi contradicted everywhere; NUTS's repeat 0.01 everywhere.
    vi's runs of seeds 2 and 3 fail the approximation rule.  The repeat of NUTS carries
    another label and must never enter a rate.
    """
    rows = []
    for seed in range(4):
        truth_s = "false" if seed < 2 else "true"
        failed = seed >= 2
        rows += [
            row(seed, "nuts", "s", 0.6, truth_s, "sign"),
            row(seed, "nuts2", "s", 0.62, truth_s, "sign"),
            row(seed, "vi", "s", 0.99, truth_s, "sign", failed),
            row(seed, "nuts", "c", 0.99, "true", "scale"),
            row(seed, "nuts2", "c", 0.99, "true", "scale"),
            row(seed, "vi", "c", 0.01 if seed == 3 else 0.99, "true", "scale", failed),
            row(seed, "nuts", "z", 0.3 if seed == 0 else 0.01, "false", "sign"),
            row(seed, "nuts2", "z", 0.01, "false", "sign"),
            row(seed, "vi", "z", 0.01, "false", "sign", failed),
        ]  # fmt: skip
    return pd.DataFrame(rows)


def test_error_evidence_counts_errors_over_the_contestable_claims_and_every_claim():
    rule, ev = error_evidence(world(), ["vi"], "nuts", TH, n_boot=500)
    assert rule.claims == ("s", "z") and rule.excluded == ("c",)
    nuts, vi = ev
    assert [e.method for e in ev] == ["nuts", "vi"]
    # NUTS: its confident verdicts are z contradicted in seeds 1-3 (right): 0 of 3
    assert (nuts.contestable.confident_error.k, nuts.contestable.confident_error.n) == (0, 3)
    # vi, contestable: s credible x4 (2 wrong), z contradicted x4 (right) -> 2 of 8
    assert (vi.contestable.confident_error.k, vi.contestable.confident_error.n) == (2, 8)
    assert (vi.contestable.sharpened_error.k, vi.contestable.sharpened_error.n) == (2, 5)
    # every claim adds c: 4 confident, 1 wrong (contradicted though true, seed 3)
    assert (vi.every_claim.confident_error.k, vi.every_claim.confident_error.n) == (3, 12)
    assert vi.every_claim.n_contradicted_true == 1 and vi.every_claim.n_credible_false == 2
    assert vi.contestable.n_pairs == 8 and nuts.every_claim.n_pairs == 12


def test_failed_runs_are_shown_apart():
    _, (nuts, vi) = error_evidence(world(), ["vi"], "nuts", TH, n_boot=500)
    assert vi.n_failed_runs == 2 and nuts.n_failed_runs == 0
    # without seeds 2, 3: s credible and false twice, z right twice -> 2 of 4
    ok = vi.contestable_ok.confident_error
    assert (ok.k, ok.n, ok.n_seeds) == (2, 4, 2)
    assert (vi.every_claim_ok.confident_error.k, vi.every_claim_ok.confident_error.n) == (2, 6)
    # paired without failed runs: only seeds 0, 1 remain for both methods
    assert vi.vs_nuts_ok["confident_error"].difference.n_seeds == 2
    assert vi.vs_nuts["confident_error"].difference.n_seeds == 4


def test_rates_per_claim_kind():
    _, (_, vi) = error_evidence(world(), ["vi"], "nuts", TH, n_boot=500)
    assert set(vi.by_kind) == {"sign", "scale"}
    scale = vi.by_kind["scale"].confident_error
    assert (scale.k, scale.n) == (1, 4)
    assert (vi.by_kind["sign"].confident_error.k, vi.by_kind["sign"].confident_error.n) == (2, 8)


def test_paired_with_nuts_on_the_same_seeds_and_claims():
    _, (_, vi) = error_evidence(world(), ["vi"], "nuts", TH, n_boot=500)
    d = vi.vs_nuts["confident_error"]
    # pooled over the pairs both scored: vi 2/8, NUTS 0/3
    assert d.difference.estimate == pytest.approx(2 / 8 - 0 / 3)
    # McNemar: vi wrong and NUTS not in (seed 0, s), (seed 1, s); never the reverse
    assert (d.test.only_a, d.test.only_b, d.test.n_pairs) == (2, 0, 8)
    assert d.test.p_value == pytest.approx(0.5)
    assert d.detectable > 0  # every "no difference" can state what it could have seen
    brier = vi.vs_nuts["brier"].difference.estimate
    vi_sq = (2 * 0.99**2 + 2 * 0.01**2 + 4 * 0.01**2) / 8
    nuts_sq = (2 * 0.6**2 + 2 * 0.4**2 + 0.3**2 + 3 * 0.01**2) / 8
    assert brier == pytest.approx(vi_sq - nuts_sq)
    assert vi.vs_nuts["brier"].test is None


def test_verdict_changes_against_the_floor_of_nuts_repeat():
    # per (seed, claim): vi flips s in every seed (undecided -> credible), c in seed 3
    # (credible -> contradicted) and z in seed 0 (undecided -> contradicted); NUTS's repeat
    # flips z in seed 0 only
    got = verdict_changes(world(), "vi", "nuts", "nuts2", TH, n_boot=500)
    assert (got.test.only_a, got.test.only_b, got.test.n_pairs) == (5, 0, 12)
    assert got.difference.estimate == pytest.approx((6 - 1) / 12)
    assert got.difference.n_seeds == 4
